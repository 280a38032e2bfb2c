/* tucai back office console: plain JS, talks to /admin/api/v1 with the
 * teacher token kept in sessionStorage (gone when the tab closes). */
(function () {
  'use strict';
  var API = '/admin/api/v1';
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('tucai_admin_token');

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'onclick') e.addEventListener('click', attrs[k]);
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  function say(text, isError) {
    var m = $('msg');
    m.textContent = text;
    m.className = isError ? 'error' : 'ok';
    m.hidden = false;
  }

  /* fetch wrapper: JSON in/out, our error form turned into a message. */
  function call(method, path, body, contentType) {
    var opts = { method: method, headers: {} };
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      opts.headers['Content-Type'] = contentType || 'application/json';
      opts.body = contentType ? body : JSON.stringify(body);
    }
    return fetch(API + path, opts).then(function (r) {
      if (r.status === 204) return null;
      var ct = r.headers.get('Content-Type') || '';
      if (!r.ok) {
        return (ct.indexOf('json') >= 0 ? r.json() : Promise.resolve({}))
          .then(function (j) {
            if (r.status === 401 && path !== '/login') logout();
            var e = new Error(j.message || ('HTTP ' + r.status));
            e.status = r.status; e.body = j;
            throw e;
          });
      }
      return ct.indexOf('json') >= 0 ? r.json() : r.blob();
    });
  }

  function fail(e) { say('错误 / Error: ' + e.message, true); }

  function showApp(schoolName) {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('who').hidden = false;
    $('school-name').textContent = schoolName || sessionStorage.getItem('tucai_admin_school') || '';
    loadStudents();
  }

  function logout() {
    token = null;
    sessionStorage.removeItem('tucai_admin_token');
    $('app-view').hidden = true;
    $('who').hidden = true;
    $('login-view').hidden = false;
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    call('POST', '/login', { username: $('login-user').value, password: $('login-pass').value })
      .then(function (j) {
        token = j.token;
        sessionStorage.setItem('tucai_admin_token', token);
        sessionStorage.setItem('tucai_admin_school', j.school.name);
        $('login-pass').value = '';
        $('msg').hidden = true;
        showApp(j.school.name);
      }).catch(fail);
  });
  $('logout').addEventListener('click', logout);

  /* tabs */
  Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
    b.addEventListener('click', function () {
      Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (x) { x.classList.remove('active'); });
      Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (t) { t.hidden = true; });
      b.classList.add('active');
      $('msg').hidden = true;
      $('tab-' + b.dataset.tab).hidden = false;
      var load = { students: loadStudents, progress: loadProgress, settings: loadSettings, audit: loadAudit }[b.dataset.tab];
      if (load) load();
    });
  });

  /* students */
  var LOCKS = { liveness: '活体失败锁定 liveness', quality: '质量失败锁定 quality' };
  /* Loads can overlap (opening the tab, then filtering at once): only the
   * newest one may fill the table, or an older answer would overwrite it. */
  var studentsSeq = 0;
  function loadStudents() {
    var seq = ++studentsSeq;
    var qs = [];
    if ($('f-q').value) qs.push('q=' + encodeURIComponent($('f-q').value));
    if ($('f-step').value) qs.push('step=' + $('f-step').value);
    if ($('f-locked').value) qs.push('locked=' + $('f-locked').value);
    call('GET', '/students' + (qs.length ? '?' + qs.join('&') : '')).then(function (j) {
      if (seq !== studentsSeq) return;
      var tb = $('students-table').tBodies[0];
      tb.textContent = '';
      $('students-total').textContent = '共 ' + j.total + ' 人 / ' + j.total + ' students';
      j.students.forEach(function (s) {
        var actions = el('td');
        if (s.lock) {
          actions.appendChild(el('button', { 'class': 'unlock', 'data-no': s.student_no, text: '解锁 Unlock',
            onclick: function () { unlock(s.student_no); } }));
        }
        if (s.code === 'active') {
          actions.appendChild(el('button', { 'class': 'revoke', text: '作废采集码 Revoke code',
            onclick: function () { revoke(s.student_no); } }));
        }
        var lockText = s.lock ? LOCKS[s.lock] + (s.lock_until ? ' → ' + s.lock_until : '') : '—';
        tb.appendChild(el('tr', { 'data-no': s.student_no }, [
          el('td', { text: s.student_no }), el('td', { text: s.name }), el('td', { text: s.step }),
          el('td', { text: lockText, 'class': s.lock ? 'locked' : '' }),
          el('td', { text: String(s.attempts) }), el('td', { text: s.code }), actions]));
      });
    }).catch(fail);
  }
  $('students-filter').addEventListener('submit', function (ev) { ev.preventDefault(); loadStudents(); });

  function unlock(no) {
    call('POST', '/students/' + encodeURIComponent(no) + '/unlock').then(function () {
      say('已解锁 ' + no + ' / unlocked');
      loadStudents();
    }).catch(fail);
  }
  function revoke(no) {
    if (!window.confirm('作废 ' + no + ' 的采集码？/ Revoke the code of ' + no + '?')) return;
    call('POST', '/codes/' + encodeURIComponent(no) + '/revoke').then(function () {
      say('已作废 ' + no + ' 的采集码 / code revoked');
      loadStudents();
    }).catch(fail);
  }

  /* roster */
  $('roster-btn').addEventListener('click', function () {
    var f = $('roster-file').files[0];
    var get = f ? f.text() : Promise.resolve($('roster-text').value);
    get.then(function (text) {
      if (!text.trim()) throw new Error('名单为空 / empty roster');
      return call('POST', '/roster', text, 'text/csv; charset=utf-8');
    }).then(function (j) {
      var box = $('roster-report');
      box.textContent = '';
      box.appendChild(el('p', { 'class': 'summary', text: '新增 ' + j.imported + '，更新 ' + j.updated +
        '，未变 ' + j.unchanged + '，拒绝 ' + j.rejected_total +
        ' / imported ' + j.imported + ', updated ' + j.updated + ', rejected ' + j.rejected_total }));
      if (j.rejected.length) {
        var tb = el('tbody');
        j.rejected.forEach(function (r) {
          tb.appendChild(el('tr', {}, [el('td', { text: String(r.line) }), el('td', { text: r.reason })]));
        });
        box.appendChild(el('table', { id: 'rejected-table' }, [
          el('thead', {}, [el('tr', {}, [el('th', { text: '行 Line' }), el('th', { text: '原因 Reason' })])]), tb]));
      }
      say('导入完成 / import done');
    }).catch(fail);
  });

  /* codes */
  function showCodes(j) {
    var box = $('codes-result');
    box.textContent = '';
    box.appendChild(el('p', { text: '生成 ' + j.codes.length + ' 个 / generated ' + j.codes.length +
      (j.unknown.length ? '；未知学号 unknown: ' + j.unknown.join(', ') : '') }));
    if (j.sheet_html) {
      var url = URL.createObjectURL(new Blob([j.sheet_html], { type: 'text/html' }));
      box.appendChild(el('a', { href: url, target: '_blank', id: 'sheet-link', text: '打开打印页（二维码）/ Open the printable QR sheet' }));
    }
    var tb = el('tbody');
    j.codes.forEach(function (c) {
      tb.appendChild(el('tr', {}, [el('td', { text: c.student_no }), el('td', { text: c.name }), el('td', { 'class': 'mono', text: c.code })]));
    });
    box.appendChild(el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', { text: '学号 No.' }), el('th', { text: '姓名 Name' }), el('th', { text: '采集码 Code' })])]), tb]));
  }
  $('codes-some').addEventListener('click', function () {
    var nos = $('codes-nos').value.split(/[\s,]+/).filter(Boolean);
    if (!nos.length) return say('请填写学号 / enter student numbers', true);
    call('POST', '/codes', { student_nos: nos, sheet: true }).then(showCodes).catch(fail);
  });
  $('codes-all').addEventListener('click', function () {
    call('POST', '/codes', { all: true, sheet: true }).then(showCodes).catch(fail);
  });

  /* progress */
  function loadProgress() {
    call('GET', '/progress').then(function (j) {
      var v = $('progress-view');
      v.textContent = '';
      v.appendChild(el('p', { text: '学生 ' + j.total + '，已绑定 ' + j.bound + '，已完成照片 ' + j.photos_ready +
        '，锁定 ' + (j.locked.liveness + j.locked.quality) + ' / students ' + j.total + ', bound ' + j.bound +
        ', photos ready ' + j.photos_ready }));
      var tb = el('tbody');
      Object.keys(j.by_step).forEach(function (k) {
        var pct = j.total ? Math.round(100 * j.by_step[k] / j.total) : 0;
        tb.appendChild(el('tr', {}, [el('td', { text: k }), el('td', { text: String(j.by_step[k]) }),
          el('td', {}, [el('div', { 'class': 'bar', style: 'width:' + pct + '%' })])]));
      });
      v.appendChild(el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', { text: '步骤 Step' }), el('th', { text: '人数 Count' }), el('th', { text: '' })])]), tb]));
      var rb = el('tbody');
      Object.keys(j.failure_reasons).sort(function (a, b) { return j.failure_reasons[b] - j.failure_reasons[a]; })
        .forEach(function (k) { rb.appendChild(el('tr', {}, [el('td', { text: k }), el('td', { text: String(j.failure_reasons[k]) })])); });
      v.appendChild(el('h3', { text: '检测失败原因 / Failure reasons (captures ' + j.captures.failed + '/' + j.captures.total + ')' }));
      v.appendChild(el('table', {}, [rb]));
      /* how the photos were taken (capture meta): album pictures and front
       * camera shots are what a teacher looks for here */
      v.appendChild(el('h3', { text: '拍摄来源 / Captures by source' }));
      v.appendChild(captureTable('progress-by-source', j.captures.by_source || {}));
      v.appendChild(el('h3', { text: '摄像头 / Captures by camera' }));
      v.appendChild(captureTable('progress-by-camera', j.captures.by_camera || {}));
    }).catch(fail);
  }

  var META_LABEL = { album: '相册', camera: '现场拍摄', screenshot: '截图', back: '后置', rear: '后置',
                     front: '前置', unknown: '未知' };

  /* {KEY: {total, passed}} as rows, most captures first */
  function captureTable(id, by) {
    var tb = el('tbody');
    Object.keys(by).sort(function (a, b) { return by[b].total - by[a].total || (a < b ? -1 : 1); })
      .forEach(function (k) {
        var c = by[k];
        tb.appendChild(el('tr', { 'data-key': k }, [
          el('td', { text: k + (META_LABEL[k] ? ' ' + META_LABEL[k] : '') }),
          el('td', { text: String(c.total) }), el('td', { text: String(c.passed) }),
          el('td', { text: String(c.total - c.passed) })]));
      });
    return el('table', { id: id }, [el('thead', {}, [el('tr', {}, [el('th', { text: '' }),
      el('th', { text: '次数 Captures' }), el('th', { text: '通过 Passed' }), el('th', { text: '未通过 Failed' })])]), tb]);
  }
  $('progress-refresh').addEventListener('click', loadProgress);

  /* settings */
  function loadSettings() {
    call('GET', '/settings').then(function (s) {
      $('s-contact').value = s.school.contact; $('s-fee').value = s.fee_fen;
      $('s-ntitle').value = s.notice.title; $('s-nbody').value = s.notice.body;
      $('s-nversion').textContent = 'v' + s.notice.version;
      $('s-vurl').value = s.video.url; $('s-vdur').value = s.video.duration_s;
      $('s-tps').value = s.templates.photo_status; $('s-tpr').value = s.templates.payment_result;
      $('s-spec').value = JSON.stringify(s.spec, null, 1);
    }).catch(fail);
  }
  $('settings-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var spec;
    try { spec = JSON.parse($('s-spec').value); } catch (e) { return say('照片规格不是有效 JSON / spec is not valid JSON', true); }
    call('POST', '/settings', {
      contact: $('s-contact').value, fee_fen: parseInt($('s-fee').value, 10) || 0,
      notice: { title: $('s-ntitle').value, body: $('s-nbody').value },
      video: { url: $('s-vurl').value, duration_s: parseInt($('s-vdur').value, 10) || 1 },
      templates: { photo_status: $('s-tps').value, payment_result: $('s-tpr').value },
      spec: spec
    }).then(function () { say('已保存 / saved'); loadSettings(); }).catch(fail);
  });

  /* export: fetched with the token, then handed to the browser as a file */
  $('export-btn').addEventListener('click', function () {
    $('export-status').textContent = '生成中… / building…';
    call('GET', '/export').then(function (blob) {
      var a = el('a', { href: URL.createObjectURL(blob), download: 'photos.zip', text: '下载 photos.zip / download' });
      $('export-status').textContent = '';
      $('export-status').appendChild(a);
      a.click();
    }).catch(function (e) { $('export-status').textContent = ''; fail(e); });
  });

  /* audit */
  function loadAudit() {
    call('GET', '/audit?limit=200').then(function (j) {
      var tb = $('audit-table').tBodies[0];
      tb.textContent = '';
      j.entries.forEach(function (a) {
        tb.appendChild(el('tr', {}, [el('td', { text: a.at }), el('td', { text: a.teacher || String(a.teacher_id) }),
          el('td', { text: a.action }), el('td', { text: a.target }),
          el('td', { 'class': 'mono', text: a.detail ? JSON.stringify(a.detail) : '' })]));
      });
    }).catch(fail);
  }
  $('audit-refresh').addEventListener('click', loadAudit);

  /* A server without text/css for .css (no mime.types) makes browsers drop
   * the stylesheet; then load it as text and apply it inline. */
  var link = document.querySelector('link[rel=stylesheet]');
  var rules = 0;
  try { rules = link && link.sheet ? link.sheet.cssRules.length : 0; } catch (e) { rules = 1; }
  if (link && rules === 0) {
    fetch(link.href).then(function (r) { return r.text(); }).then(function (css) {
      document.head.appendChild(el('style', { text: css }));
    }).catch(function () {});
  }

  if (token) showApp();
})();
