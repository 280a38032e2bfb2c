/* tucai teacher console: plain JS against /admin/api/v1 with the teacher
 * token in sessionStorage (gone when the tab closes).  Every list is paged,
 * filtered and sorted by the server; the words come from ../h5/zh.js. */
(function () {
  'use strict';
  var API = '/admin/api/v1';
  var Z = window.TucaiZh;
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('tucai_admin_token');

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'onclick') e.addEventListener('click', attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function td(text, attrs) { attrs = attrs || {}; attrs.text = text; return el('td', attrs); }

  function say(text, kind) {
    var m = $('msg');
    m.textContent = text;
    m.className = kind || 'ok';
    m.hidden = false;
  }
  function quiet() { $('msg').hidden = true; }

  /* fetch wrapper: JSON in/out; an API error becomes an Error whose
   * message is in Chinese and whose code stays for the tooltip */
  function call(method, path, body, contentType) {
    var opts = { method: method, headers: {} };
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      opts.headers['Content-Type'] = contentType || 'application/json';
      opts.body = contentType ? body : JSON.stringify(body);
    }
    return fetch(API + path, opts).catch(function () {
      var e = new Error(Z.errorText('OFFLINE')); e.code = 'OFFLINE'; throw e;
    }).then(function (r) {
      if (r.status === 204) return null;
      var ct = r.headers.get('Content-Type') || '';
      if (!r.ok) {
        return (ct.indexOf('json') >= 0 ? r.json() : Promise.resolve({})).catch(function () { return {}; })
          .then(function (j) {
            if (r.status === 401 && path !== '/login') logout();
            var code = j.error || ('HTTP_' + r.status);
            /* a refused login is not an expired session: the server's own words */
            var e = new Error(path === '/login' && j.message ? j.message.split(' / ')[0] : Z.errorText(code, j));
            e.status = r.status; e.body = j; e.code = code;
            throw e;
          });
      }
      return ct.indexOf('json') >= 0 ? r.json() : r.blob();
    });
  }
  function fail(e) {
    say(e.message, 'error');
    $('msg').title = e.code ? '错误代码：' + e.code : '';
  }

  /* ---- login, navigation ---- */
  function showApp(schoolName) {
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('who').hidden = false;
    $('school-name').textContent = schoolName || sessionStorage.getItem('tucai_admin_school') || '';
    route();
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
    call('POST', '/login', { username: $('login-user').value.trim(), password: $('login-pass').value })
      .then(function (j) {
        token = j.token;
        sessionStorage.setItem('tucai_admin_token', token);
        sessionStorage.setItem('tucai_admin_school', j.school.name);
        $('login-pass').value = '';
        quiet();
        showApp(j.school.name);
      }).catch(fail);
  });
  $('logout').addEventListener('click', function () { logout(); location.hash = ''; });

  /* #students, #student/NO, #roster ...: reload and the back button keep the view */
  var LOADERS = {};
  function route() {
    if (!token) return;
    var h = location.hash.replace(/^#/, '');
    var tab = h.split('/')[0] || 'progress';
    if (!$('tab-' + tab)) tab = 'progress';
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (t) { t.hidden = t.id !== 'tab-' + tab; });
    Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
      var on = b.dataset.tab === tab || (tab === 'student' && b.dataset.tab === 'students');
      b.classList.toggle('active', on);
      if (on) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
    });
    if (LOADERS[tab]) LOADERS[tab](decodeURIComponent(h.split('/').slice(1).join('/')));
  }
  window.addEventListener('hashchange', function () { quiet(); route(); });
  Array.prototype.forEach.call(document.querySelectorAll('#tabs button'), function (b) {
    b.addEventListener('click', function () {
      if (location.hash === '#' + b.dataset.tab) route(); else location.hash = b.dataset.tab;
    });
  });

  /* ---- confirmation with a reason (unlock, revoke, reissue) ---- */
  function confirmDialog(title, text, needReason, okText) {
    return new Promise(function (resolve) {
      var d = $('confirm-dialog');
      $('cd-title').textContent = title;
      $('cd-text').textContent = text;
      $('cd-reason').value = '';
      $('cd-reason-label').hidden = !needReason;
      $('cd-reason').required = !!needReason;
      $('cd-ok').textContent = okText || '确定';
      var done = function (ok) {
        $('confirm-form').onsubmit = null; $('cd-cancel').onclick = null;
        if (d.open) d.close();
        resolve(ok ? { reason: $('cd-reason').value.trim() } : null);
      };
      $('confirm-form').onsubmit = function (ev) {
        ev.preventDefault();
        if (needReason && !$('cd-reason').value.trim()) { $('cd-reason').focus(); return; }
        done(true);
      };
      $('cd-cancel').onclick = function () { done(false); };
      d.onclose = function () { if ($('confirm-form').onsubmit) done(false); };
      if (d.showModal) d.showModal(); else d.setAttribute('open', '');
      (needReason ? $('cd-reason') : $('cd-ok')).focus();
    });
  }

  /* ---- overview: progress with charts ---- */
  var charts = {};
  var classes = [];   /* from the last progress answer, for the filters */
  function chart(id) {
    if (!window.echarts) return null;
    if (!charts[id]) charts[id] = window.echarts.init($(id), null, { renderer: 'svg' });
    return charts[id];
  }
  window.addEventListener('resize', function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });

  function stat(label, value, sub, id) {
    return el('div', { 'class': 'stat', id: id }, [el('div', { 'class': 'v', text: String(value) }),
      el('div', { 'class': 'l', text: label }), sub ? el('div', { 'class': 's', text: sub }) : null]);
  }
  var SOURCE = { album: '相册选图', camera: '现场拍摄', screenshot: '截图', unknown: '未知' };
  var CAMERA = { back: '后置摄像头', rear: '后置摄像头', front: '前置摄像头', unknown: '未知' };

  function fillClasses(list) {
    classes = list.map(function (c) { return c.class; });
    [['f-class', '全部班级'], ['codes-class', '请选择班级']].forEach(function (p) {
      var s = $(p[0]), cur = s.value;
      s.textContent = '';
      s.appendChild(el('option', { value: '', text: p[1] }));
      list.forEach(function (c) {
        s.appendChild(el('option', { value: c.class === null ? '-' : c.class, text: c.class === null ? '未分班' : c.class }));
      });
      s.value = cur;
    });
  }

  function loadProgress() {
    return call('GET', '/progress').then(function (j) {
      var st = $('stats');
      st.textContent = '';
      var pctOf = function (n) { return j.total ? Math.round(100 * n / j.total) + '%' : '0%'; };
      var shot = j.total - ['code', 'phone', 'confirm', 'notice', 'subscribe', 'video']
        .reduce(function (a, k) { return a + (j.by_step[k] || 0); }, 0);
      st.appendChild(stat('学生总数', j.total, '', 'stat-total'));
      st.appendChild(stat('已绑定微信', j.bound, pctOf(j.bound), 'stat-bound'));
      st.appendChild(stat('已进入拍摄', shot, pctOf(shot), 'stat-shot'));
      st.appendChild(stat('已支付订单', j.orders.paid, '共 ' + Z.yuan(j.orders.paid_fen) +
        (j.orders.free ? '，免费 ' + j.orders.free + ' 单' : ''), 'stat-paid'));
      st.appendChild(stat('照片已制作', j.photos_ready, pctOf(j.photos_ready), 'stat-photos'));
      st.appendChild(stat('锁定中', j.locked.liveness + j.locked.quality,
        '活体 ' + j.locked.liveness + '，多次未通过 ' + j.locked.quality, 'stat-locked'));

      var steps = Z.STEP_ORDER;
      var c1 = chart('chart-steps');
      if (c1) c1.setOption({
        grid: { left: 80, right: 30, top: 10, bottom: 20 }, tooltip: {},
        xAxis: { type: 'value', minInterval: 1 },
        yAxis: { type: 'category', inverse: true, data: steps.map(Z.step) },
        series: [{ type: 'bar', data: steps.map(function (k) { return j.by_step[k] || 0; }),
          itemStyle: { color: '#1f6feb' }, label: { show: true, position: 'right' } }]
      }, true);
      var days = j.by_day || [];
      var c2 = chart('chart-days');
      if (c2) c2.setOption({
        grid: { left: 40, right: 20, top: 50, bottom: 30 }, tooltip: { trigger: 'axis' },
        legend: { top: 0, data: ['拍摄次数', '通过', '支付', '照片制作'] },
        xAxis: { type: 'category', data: days.map(function (d) { return d.date.slice(5); }) },
        yAxis: { type: 'value', minInterval: 1 },
        series: [['拍摄次数', 'captures', '#8ab4f8'], ['通过', 'passed', '#1e8e3e'],
                 ['支付', 'paid', '#e37400'], ['照片制作', 'photos', '#9334e6']].map(function (s) {
          return { name: s[0], type: 'line', smooth: true, data: days.map(function (d) { return d[s[1]]; }), itemStyle: { color: s[2] } };
        })
      }, true);

      var bc = j.by_class || [];
      fillClasses(bc);
      var names = bc.map(function (c) { return c.class === null ? '未分班' : c.class; });
      var c3 = chart('chart-classes');
      if (c3) {
        $('chart-classes').style.height = Math.max(160, 34 * bc.length + 60) + 'px';
        c3.resize();
        c3.setOption({
          grid: { left: 100, right: 30, top: 40, bottom: 20 }, tooltip: { trigger: 'axis' },
          legend: { top: 0, data: ['照片已完成', '已支付未完成', '未支付'] },
          xAxis: { type: 'value', minInterval: 1 },
          yAxis: { type: 'category', inverse: true, data: names },
          series: [
            { name: '照片已完成', type: 'bar', stack: 'a', itemStyle: { color: '#1e8e3e' }, data: bc.map(function (c) { return c.photos_ready; }) },
            { name: '已支付未完成', type: 'bar', stack: 'a', itemStyle: { color: '#e37400' }, data: bc.map(function (c) { return Math.max(0, c.paid - c.photos_ready); }) },
            { name: '未支付', type: 'bar', stack: 'a', itemStyle: { color: '#c5ced8' }, data: bc.map(function (c) { return Math.max(0, c.total - Math.max(c.paid, c.photos_ready)); }) }]
        }, true);
      }
      var tb = $('class-table').tBodies[0];
      tb.textContent = '';
      bc.forEach(function (c, i) {
        var pct = c.total ? Math.round(100 * c.photos_ready / c.total) : 0;
        var link = el('a', { href: '#students', text: names[i], onclick: function (ev) {
          ev.preventDefault(); resetFilters(); $('f-class').value = c.class === null ? '-' : c.class;
          page = 0; location.hash = 'students'; } });
        tb.appendChild(el('tr', { 'data-class': names[i] }, [el('td', {}, [link]), td(String(c.total)), td(String(c.bound)),
          td(String(c.shot)), td(String(c.paid)), td(String(c.photos_ready)), td(String(c.locked), { 'class': c.locked ? 'locked' : '' }),
          el('td', {}, [el('div', { 'class': 'meter', title: pct + '%' }, [el('div', { style: 'width:' + pct + '%' })]), el('span', { text: pct + '%' })])]));
      });
      if (!bc.length) tb.appendChild(el('tr', {}, [td('还没有学生，请先导入名单', { colspan: '8' })]));

      $('captures-line').textContent = '共拍摄 ' + j.captures.total + ' 次，通过 ' + j.captures.passed +
        ' 次，未通过 ' + j.captures.failed + ' 次';
      var rb = $('reasons-table').tBodies[0];
      rb.textContent = '';
      Object.keys(j.failure_reasons).sort(function (a, b) { return j.failure_reasons[b] - j.failure_reasons[a]; })
        .forEach(function (k) {
          rb.appendChild(el('tr', { 'data-key': k }, [td(Z.reasonTitle(k), { title: k }), td(String(j.failure_reasons[k]))]));
        });
      if (!rb.rows.length) rb.appendChild(el('tr', {}, [td('暂无', { colspan: '2' })]));
      captureTable('progress-by-source', j.captures.by_source || {}, SOURCE);
      captureTable('progress-by-camera', j.captures.by_camera || {}, CAMERA);
    }).catch(fail);
  }
  function captureTable(id, by, names) {
    var tb = $(id).tBodies[0];
    tb.textContent = '';
    Object.keys(by).sort(function (a, b) { return by[b].total - by[a].total || (a < b ? -1 : 1); })
      .forEach(function (k) {
        var c = by[k];
        tb.appendChild(el('tr', { 'data-key': k }, [td(names[k] || k, { title: k }), td(String(c.total)),
          td(String(c.passed)), td(String(c.total - c.passed))]));
      });
    if (!tb.rows.length) tb.appendChild(el('tr', {}, [td('暂无', { colspan: '4' })]));
  }
  LOADERS.progress = loadProgress;
  $('progress-refresh').addEventListener('click', loadProgress);

  /* ---- students: server-side paging, filters, sorting ---- */
  Z.STEP_ORDER.forEach(function (s) { $('f-step').appendChild(el('option', { value: s, text: Z.step(s) })); });
  var page = 0, sort = 'student_no', dir = 'asc', studentsSeq = 0;
  function resetFilters() { ['f-q', 'f-class', 'f-step', 'f-locked', 'f-paid', 'f-photo'].forEach(function (i) { $(i).value = ''; }); }
  function pageSize() { return parseInt($('page-size').value, 10) || 50; }
  function statusText(s) {
    if (s.lock === 'liveness') return '活体检测锁定，待老师解锁';
    if (s.lock === 'quality') return '多次未通过，锁定至 ' + Z.fmtTime(s.lock_until);
    if (s.cooldown_until) return '冷静期至 ' + Z.fmtTime(s.cooldown_until);
    if (s.code === 'none') return '未发采集码';
    if (s.code === 'revoked' && !s.bound) return '采集码已作废';
    return s.bound ? '正常' : '未绑定微信';
  }
  function loadStudents() {
    if (!classes.length) loadProgressQuiet();
    var seq = ++studentsSeq;
    var qs = ['limit=' + pageSize(), 'offset=' + page * pageSize(), 'sort=' + sort, 'dir=' + dir];
    [['q', 'f-q'], ['class', 'f-class'], ['step', 'f-step'], ['locked', 'f-locked'], ['paid', 'f-paid'], ['photo', 'f-photo']]
      .forEach(function (p) { var v = $(p[1]).value.trim(); if (v) qs.push(p[0] + '=' + encodeURIComponent(v)); });
    Array.prototype.forEach.call(document.querySelectorAll('button.sort'), function (b) {
      b.classList.toggle('asc', b.dataset.sort === sort && dir === 'asc');
      b.classList.toggle('desc', b.dataset.sort === sort && dir === 'desc');
      b.parentNode.setAttribute('aria-sort', b.dataset.sort === sort ? (dir === 'asc' ? 'ascending' : 'descending') : 'none');
    });
    return call('GET', '/students?' + qs.join('&')).then(function (j) {
      if (seq !== studentsSeq) return;
      var tb = $('students-table').tBodies[0];
      tb.textContent = '';
      var pages = Math.max(1, Math.ceil(j.total / pageSize()));
      $('students-total').textContent = '共 ' + j.total + ' 人' + (j.total ? '，第 ' + (j.offset + 1) + '–' +
        Math.min(j.offset + j.students.length, j.total) + ' 人' : '');
      $('page-info').textContent = '第 ' + (page + 1) + ' / ' + pages + ' 页';
      $('page-prev').disabled = page === 0;
      $('page-next').disabled = page + 1 >= pages;
      j.students.forEach(function (s) {
        var actions = el('td', { 'data-label': '操作' }, [el('a', { href: '#student/' + encodeURIComponent(s.student_no), 'class': 'button small', text: '详情' })]);
        if (s.lock) {
          actions.appendChild(el('button', { type: 'button', 'class': 'unlock small', 'data-no': s.student_no, text: '解锁',
            onclick: function () { unlock(s.student_no, s.name, s.lock).then(function (ok) { if (ok) loadStudents(); }); } }));
        }
        tb.appendChild(el('tr', { 'data-no': s.student_no }, [
          td(s.student_no, { 'data-label': '学号' }), td(s.name, { 'data-label': '姓名' }),
          td(s.class || '—', { 'data-label': '班级' }), td(Z.step(s.step), { 'data-label': '步骤', title: s.step }),
          td(statusText(s), { 'data-label': '状态', 'class': s.lock ? 'locked' : '' }),
          td(String(s.attempts), { 'data-label': '拍摄次数' }),
          td(s.paid ? Z.orderStatus(s.order_status) : s.order_status ? Z.orderStatus(s.order_status) : '—', { 'data-label': '支付' }),
          td(s.photo_ready ? '已完成' : '—', { 'data-label': '照片' }), actions]));
      });
      if (!j.students.length) tb.appendChild(el('tr', {}, [td('没有符合条件的学生', { colspan: '9' })]));
    }).catch(fail);
  }
  function loadProgressQuiet() {
    call('GET', '/progress').then(function (j) { fillClasses(j.by_class || []); }).catch(function () {});
  }
  LOADERS.students = loadStudents;
  $('students-filter').addEventListener('submit', function (ev) { ev.preventDefault(); page = 0; loadStudents(); });
  ['f-class', 'f-step', 'f-locked', 'f-paid', 'f-photo', 'page-size'].forEach(function (id) {
    $(id).addEventListener('change', function () { page = 0; loadStudents(); });
  });
  $('page-prev').addEventListener('click', function () { if (page > 0) { page--; loadStudents(); } });
  $('page-next').addEventListener('click', function () { page++; loadStudents(); });
  Array.prototype.forEach.call(document.querySelectorAll('button.sort'), function (b) {
    b.addEventListener('click', function () {
      if (sort === b.dataset.sort) dir = dir === 'asc' ? 'desc' : 'asc'; else { sort = b.dataset.sort; dir = 'asc'; }
      page = 0; loadStudents();
    });
  });

  function unlock(no, name, lock) {
    return confirmDialog('解锁 ' + name + '（' + no + '）',
      (lock === 'liveness' ? '该学生因连续活体检测未通过被锁定。请先核实是本人在拍摄，' : '该学生因多次检测未通过被暂时锁定。') +
      '解锁后可立即重新拍摄，失败次数清零；如学生订阅了通知，会收到解锁消息。', true, '确认解锁')
      .then(function (r) {
        if (!r) return false;
        return call('POST', '/students/' + encodeURIComponent(no) + '/unlock', { reason: r.reason }).then(function () {
          say('已解锁 ' + name + '（' + no + '）');
          return true;
        });
      }).catch(function (e) { fail(e); return false; });
  }
  function revoke(no, name, bound) {
    return confirmDialog('作废 ' + name + '（' + no + '）的采集码',
      '作废后该采集码不能再使用。' + (bound ? '该学生已绑定微信，作废不影响其继续拍摄。' : '需要时可重新生成新的采集码。'), true, '确认作废')
      .then(function (r) {
        if (!r) return false;
        return call('POST', '/codes/' + encodeURIComponent(no) + '/revoke', { reason: r.reason }).then(function () {
          say('已作废 ' + name + '（' + no + '）的采集码');
          return true;
        });
      }).catch(function (e) { fail(e); return false; });
  }

  /* ---- one student ---- */
  var AUDIT = { 'login': '登录', 'login.failed': '登录失败', 'roster.import': '导入名单', 'codes.generate': '生成采集码',
    'code.revoke': '作废采集码', 'student.unlock': '解锁学生', 'student.unbind': '解除微信绑定',
    'settings.update': '修改设置', 'export': '导出照片', 'demo.seed': '初始化演示数据' };
  var CODE_STATUS = { active: '有效', revoked: '已作废' };

  function thumb(url, alt) {
    var img = el('img', { alt: alt, 'class': 'thumb', loading: 'lazy' });
    if (url) {
      call('GET', url.replace(/^\/admin\/api\/v1/, '')).then(function (b) { img.src = URL.createObjectURL(b); })
        .catch(function () { img.alt = alt + '（无法显示）'; });
    }
    return img;
  }
  function loadStudent(no) {
    if (!no) { location.hash = 'students'; return; }
    $('st-title').textContent = '学生详情';
    ['st-actions', 'st-facts', 'st-lock', 'st-final', 'st-captures', 'st-drafts', 'st-history'].forEach(function (i) { $(i).textContent = ''; });
    return call('GET', '/students/' + encodeURIComponent(no)).then(function (d) {
      var s = d.student;
      $('st-title').textContent = s.name + '（' + s.student_no + '）';
      var acts = $('st-actions');
      if (s.lock) acts.appendChild(el('button', { type: 'button', 'class': 'unlock', id: 'st-unlock', text: '解锁',
        onclick: function () { unlock(s.student_no, s.name, s.lock).then(function (ok) { if (ok) loadStudent(no); }); } }));
      if (d.codes.some(function (c) { return c.status === 'active'; })) {
        acts.appendChild(el('button', { type: 'button', 'class': 'revoke', id: 'st-revoke', text: '作废采集码',
          onclick: function () { revoke(s.student_no, s.name, s.bound).then(function (ok) { if (ok) loadStudent(no); }); } }));
      }
      if (s.bound) {
        acts.appendChild(el('button', { type: 'button', 'class': 'revoke', id: 'st-unbind', text: '解除微信绑定',
          onclick: function () {
            confirmDialog('解除 ' + s.name + ' 的微信绑定', '解除后该微信账号不能再为此学生拍摄，学生需用新的采集码重新绑定。', true, '确认解除')
              .then(function (r) {
                if (!r) return;
                return call('POST', '/students/' + encodeURIComponent(no) + '/unbind', { reason: r.reason })
                  .then(function () { say('已解除绑定'); loadStudent(no); });
              }).catch(fail);
          } }));
      }
      var subs = [];
      if (s.subscriptions.photo_status) subs.push('照片状态');
      if (s.subscriptions.payment_result) subs.push('支付结果');
      var facts = [['班级', s.class || '未分班'], ['当前步骤', Z.step(s.step)], ['微信绑定', s.bound ? '已绑定' : '未绑定'],
        ['手机号', s.phone || '—'], ['订阅通知', s.subs_set ? (subs.length ? subs.join('、') : '均未订阅') : '未设置'],
        ['指引视频', s.video_finished_at ? '已看完（' + Z.fmtTime(s.video_finished_at) + '）' : s.video_started_at ? '观看中' : '未观看'],
        ['拍摄次数', s.attempts + ' 次'], ['采集码', d.codes.length ? CODE_STATUS[d.codes[0].status] + '（' + Z.fmtTime(d.codes[0].created_at) + ' 生成）' : '未生成'],
        ['名单导入', Z.fmtTime(s.created_at)], ['最近更新', Z.fmtTime(s.updated_at)]];
      facts.forEach(function (f) { $('st-facts').appendChild(el('dt', { text: f[0] })); $('st-facts').appendChild(el('dd', { text: f[1] })); });

      /* the lock and what caused it: the failed captures since the counters last reset */
      var lockBox = $('st-lock');
      if (s.lock || s.cooldown_until) {
        var fails = d.captures.filter(function (c) { return !c.pass; }).slice(0, s.lock === 'liveness' ? Math.max(s.liveness_fails, 3) : Math.max(s.quality_fails, 1));
        var causes = {};
        fails.forEach(function (c) { c.reasons.forEach(function (r) { causes[r.code] = (causes[r.code] || 0) + 1; }); });
        var causeText = Object.keys(causes).map(function (k) { return Z.reasonTitle(k) + ' ' + causes[k] + ' 次'; }).join('，');
        lockBox.appendChild(el('div', { 'class': 'warn', id: 'st-lock-text', text:
          s.lock === 'liveness' ? '已锁定：连续 ' + s.liveness_fails + ' 次活体检测未通过，需要老师核实本人后解锁。' + (causeText ? '最近未通过原因：' + causeText + '。' : '')
          : s.lock === 'quality' ? '暂时锁定：连续 ' + s.quality_fails + ' 次检测未通过，' + Z.fmtTime(s.lock_until) + ' 自动解锁，也可由老师提前解锁。' + (causeText ? '原因：' + causeText + '。' : '')
          : '冷静期：上次检测未通过，' + Z.fmtTime(s.cooldown_until) + ' 后可重拍。' }));
      }

      var fin = $('st-final');
      if (d.photo) {
        fin.appendChild(el('figure', {}, [thumb(d.photo.url, '最终照片'), el('figcaption', { text: '最终照片，' + Z.fmtTime(d.photo.produced_at) + ' 制作' })]));
      } else {
        fin.appendChild(el('p', { 'class': 'hint', text: '照片尚未制作。' }));
      }
      if (d.order) {
        var o = d.order;
        fin.appendChild(el('dl', { 'class': 'facts' }, [el('dt', { text: '订单号' }), el('dd', { text: o.out_trade_no, 'class': 'mono' }),
          el('dt', { text: '金额' }), el('dd', { text: Z.yuan(o.amount_fen) }), el('dt', { text: '状态' }), el('dd', { text: Z.orderStatus(o.status) }),
          el('dt', { text: '下单时间' }), el('dd', { text: Z.fmtTime(o.created_at) }),
          el('dt', { text: o.paid_at ? '支付时间' : '订单有效期至' }), el('dd', { text: Z.fmtTime(o.paid_at || o.expires_at) })]));
      } else {
        fin.appendChild(el('p', { 'class': 'hint', text: '还没有订单。' }));
      }

      var caps = $('st-captures');
      if (!d.captures.length) caps.appendChild(el('p', { 'class': 'hint', text: '还没有拍摄记录。' }));
      d.captures.forEach(function (c) {
        var ul = el('ul', { 'class': 'reasons' });
        c.reasons.forEach(function (r) {
          var w = Z.reason(r);
          ul.appendChild(el('li', { title: r.code }, [el('b', { text: w.title }), w.measured ? '：' + w.measured : '']));
        });
        caps.appendChild(el('div', { 'class': 'capture ' + (c.pass ? 'pass' : 'fail'), 'data-id': String(c.id) }, [
          thumb(c.photo_url, '第 ' + c.id + ' 次拍摄'),
          el('div', {}, [el('div', { 'class': 'verdict-tag', text: c.pass ? '通过' : '未通过' }),
            el('div', { 'class': 'hint', text: Z.fmtTime(c.at) }),
            el('div', { 'class': 'hint', text: (SOURCE[c.source || 'unknown'] || c.source) + ' · ' + (CAMERA[c.camera || 'unknown'] || c.camera) }), ul])]));
      });
      var dr = $('st-drafts');
      if (!d.drafts.length) dr.appendChild(el('p', { 'class': 'hint', text: '草稿箱为空。' }));
      d.drafts.forEach(function (x) {
        dr.appendChild(el('div', { 'class': 'capture' }, [thumb(x.photo_url, '草稿 ' + x.id),
          el('div', {}, [el('div', { text: x.status === 'deleted' ? '已删除' : (d.order && d.order.draft_id === x.id ? '已选用' : '草稿') }),
            el('div', { 'class': 'hint', text: Z.fmtTime(x.created_at) + ' 保存' })])]));
      });
      var h = $('st-history');
      var rows = d.codes.map(function (c) { return [c.created_at, '—', '生成采集码', c.status === 'revoked' ? '已于 ' + Z.fmtTime(c.revoked_at) + ' 作废' : '有效']; })
        .concat(d.audit.map(function (a) { return [a.at, a.teacher || '', AUDIT[a.action] || a.action, auditDetail(a.action, a.detail)]; }))
        .sort(function (a, b) { return a[0] < b[0] ? 1 : -1; });
      var tb = el('tbody');
      rows.forEach(function (r) { tb.appendChild(el('tr', {}, [td(Z.fmtTime(r[0]), { 'data-label': '时间' }), td(r[1], { 'data-label': '教师' }),
        td(r[2], { 'data-label': '事项' }), td(r[3], { 'data-label': '说明' })])); });
      if (!rows.length) tb.appendChild(el('tr', {}, [td('暂无记录', { colspan: '4' })]));
      h.appendChild(el('table', { 'class': 'cards' }, [el('thead', {}, [el('tr', {}, [el('th', { text: '时间' }), el('th', { text: '教师' }), el('th', { text: '事项' }), el('th', { text: '说明' })])]), tb]));
    }).catch(fail);
  }
  LOADERS.student = loadStudent;
  $('st-back').addEventListener('click', function () { location.hash = 'students'; });

  /* ---- roster: preview, then import ---- */
  var rosterCsv = null;
  function rosterText() {
    var f = $('roster-file').files[0];
    if (!f) {
      var t = $('roster-text').value;
      /* pasted from Excel: tab separated */
      if (t.indexOf('\t') >= 0 && t.indexOf(',') < 0) t = t.split('\n').map(function (l) { return l.split('\t').map(csvCell).join(','); }).join('\n');
      return Promise.resolve(new Blob([t], { type: 'text/csv' }));
    }
    if (/\.xlsx?$/i.test(f.name)) {
      if (!window.XLSX) return Promise.reject(new Error('无法读取 Excel 文件，请另存为 CSV 后再导入'));
      return f.arrayBuffer().then(function (buf) {
        var wb = window.XLSX.read(buf, { type: 'array' });
        var ws = wb.Sheets[wb.SheetNames[0]];
        return new Blob([window.XLSX.utils.sheet_to_csv(ws, { blankrows: false })], { type: 'text/csv' });
      });
    }
    return Promise.resolve(f);   /* CSV bytes as they are: the server detects UTF-8 or GBK */
  }
  function csvCell(v) {
    v = v === null || v === undefined ? '' : String(v);
    return /[",\n\r]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
  }
  function download(name, text) {
    /* a BOM so Excel opens the UTF-8 file with the right characters */
    var a = el('a', { href: URL.createObjectURL(new Blob(['\ufeff' + text], { type: 'text/csv;charset=utf-8' })), download: name });
    document.body.appendChild(a); a.click(); a.remove();
  }
  $('template-btn').addEventListener('click', function () {
    download('名单模板.csv', '学号,姓名,班级,手机号\r\n2026001,张三,高三(1)班,13800138000\r\n2026002,李四,高三(1)班,\r\n');
  });
  ['roster-file', 'roster-text'].forEach(function (id) {
    $(id).addEventListener('input', function () {
      var f = $('roster-file').files[0];
      $('roster-file-name').textContent = f ? f.name : '未选择文件';
      rosterCsv = null; $('roster-btn').disabled = true; $('roster-report').textContent = ''; });
  });
  function showRoster(j, committed) {
    var box = $('roster-report');
    box.textContent = '';
    var good = j.imported + j.updated + j.unchanged;
    var kind = j.rejected_total === 0 ? 'ok' : good === 0 ? 'error' : 'partial';
    var head = committed ? (good ? '导入完成' : '没有导入任何学生') : '检查结果（尚未导入）';
    var line = (committed ? '新增 ' : '将新增 ') + j.imported + ' 人，' + (committed ? '更新 ' : '将更新 ') + j.updated +
      ' 人，未变 ' + j.unchanged + ' 人' + (j.rejected_total ? '，有问题 ' + j.rejected_total + ' 行' + (committed ? '未导入' : '（不会导入）') : '');
    var enc = { 'utf-8': 'UTF-8', 'utf-8-bom': 'UTF-8（带 BOM）', 'gb18030': 'GBK/GB18030' }[j.encoding] || j.encoding;
    box.appendChild(el('div', { 'class': 'summary ' + kind, id: 'roster-summary' }, [el('b', { text: head }), el('div', { text: line }),
      el('div', { 'class': 'hint', text: '文件编码：' + enc + (j.columns ? '；识别的列：' + j.columns.map(function (c) {
        return { student_no: '学号', name: '姓名', phone: '手机号', 'class': '班级' }[c]; }).join('、') : '') +
        (j.ignored_columns && j.ignored_columns.length ? '；忽略的列：' + j.ignored_columns.join('、') : '') })]));
    if (j.rejected.length) {
      var tb = el('tbody');
      j.rejected.forEach(function (r) {
        tb.appendChild(el('tr', {}, [td(String(r.line), { 'data-label': '行号' }), td(r.reason_zh || r.reason.split(' / ')[0], { 'data-label': '问题', title: r.code || '' }),
          td((r.row || []).join(' | '), { 'data-label': '该行内容', 'class': 'rowtext' })]));
      });
      box.appendChild(el('div', { 'class': 'scroll' }, [el('table', { id: 'rejected-table', 'class': 'cards' }, [
        el('thead', {}, [el('tr', {}, [el('th', { text: '行号' }), el('th', { text: '问题' }), el('th', { text: '该行内容' })])]), tb])]));
      if (j.rejected_total > j.rejected.length) box.appendChild(el('p', { 'class': 'hint', text: '只列出前 ' + j.rejected.length + ' 行。' }));
      box.appendChild(el('button', { type: 'button', 'class': 'ghost', id: 'rejected-download', text: '下载有问题的行（CSV）', onclick: function () {
        download('有问题的行.csv', '行号,问题,' + '该行内容\r\n' + j.rejected.map(function (r) {
          return [r.line, r.reason_zh || r.reason].concat(r.row || []).map(csvCell).join(',');
        }).join('\r\n') + '\r\n');
      } }));
    }
    $('roster-btn').disabled = committed || good === 0;
  }
  $('roster-check').addEventListener('click', function () {
    quiet();
    rosterText().then(function (blob) {
      if (!blob.size) throw new Error('名单为空：请选择文件或粘贴名单');
      rosterCsv = blob;
      return call('POST', '/roster?dry_run=1', blob, 'text/csv');
    }).then(function (j) { showRoster(j, false); }).catch(function (e) {
      $('roster-report').textContent = '';
      $('roster-report').appendChild(el('div', { 'class': 'summary error', id: 'roster-summary', title: e.code || '' }, [el('b', { text: '无法导入' }), el('div', { text: e.message })]));
    });
  });
  $('roster-btn').addEventListener('click', function () {
    if (!rosterCsv) return;
    $('roster-btn').disabled = true;
    call('POST', '/roster', rosterCsv, 'text/csv').then(function (j) {
      showRoster(j, true);
      classes = [];
      say(j.rejected_total ? '导入完成，但有 ' + j.rejected_total + ' 行有问题未导入，请下载修改后重新导入' : '导入完成', j.rejected_total ? 'partial' : 'ok');
    }).catch(fail);
  });

  /* ---- codes ---- */
  /* A file the API serves with the token: fetched, then handed over */
  function fetchFile(url, name, open) {
    return call('GET', url.replace(/^\/admin\/api\/v1/, '')).then(function (b) {
      var a = el('a', { href: URL.createObjectURL(b) });
      if (open) a.target = '_blank'; else a.download = name;
      document.body.appendChild(a); a.click(); a.remove();
    });
  }
  /* Both answers of POST /codes: the small one with the codes inline, the
   * batch one with a one-time CSV and per-class sheet pages. */
  function showCodes(j) {
    var box = $('codes-result');
    box.textContent = '';
    var n = j.count !== undefined ? j.count : j.codes.length;
    box.appendChild(el('p', { 'class': 'summary ' + (n ? 'ok' : 'partial'), text: (n ? '已生成 ' + n + ' 个采集码' : '没有需要生成采集码的学生') +
      (j.unknown && j.unknown.length ? '；以下学号不在名单中：' + j.unknown.join('、') : '') }));
    var row = el('div', { 'class': 'row' });
    if (j.csv) {
      var b = el('button', { type: 'button', id: 'codes-csv', text: '下载采集码 CSV（只能下载一次）', onclick: function () {
        fetchFile(j.csv, '采集码.csv').then(function () { b.disabled = true; b.textContent = '已下载（不能再次下载）'; }).catch(fail);
      } });
      row.appendChild(b);
    } else if (j.codes && j.codes.length) {
      row.appendChild(el('button', { type: 'button', 'class': 'ghost', id: 'codes-csv', text: '下载采集码 CSV（仅此一次）', onclick: function () {
        download('采集码.csv', '学号,姓名,班级,采集码\r\n' + j.codes.map(function (c) { return [c.student_no, c.name, c['class'] || '', c.code].map(csvCell).join(','); }).join('\r\n') + '\r\n');
      } }));
    }
    if (j.sheet_html) {
      var url = URL.createObjectURL(new Blob([j.sheet_html], { type: 'text/html' }));
      row.appendChild(el('a', { href: url, target: '_blank', id: 'sheet-link', 'class': 'button', text: '打开打印页（含二维码）' }));
    }
    box.appendChild(row);
    if (j.sheets && j.sheets.length) {
      var ul = el('ul', { id: 'sheet-list', 'class': 'sheets' });
      j.sheets.forEach(function (sh) {
        ul.appendChild(el('li', {}, [el('button', { type: 'button', 'class': 'ghost small', text: '打印第 ' + sh.page + ' 页：' + (sh['class'] || '未分班') + '（' + sh.students + ' 人）',
          onclick: function () { fetchFile(sh.url, '', true).catch(fail); } })]));
      });
      box.appendChild(el('h3', { text: '按班级打印的采集码页' }));
      box.appendChild(ul);
    }
    if (j.codes && j.codes.length) {
      var tb = el('tbody');
      j.codes.forEach(function (c) { tb.appendChild(el('tr', {}, [td(c.student_no), td(c.name), td(c['class'] || '—'), td(c.code, { 'class': 'mono' })])); });
      box.appendChild(el('div', { 'class': 'scroll' }, [el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', { text: '学号' }), el('th', { text: '姓名' }),
        el('th', { text: '班级' }), el('th', { text: '采集码' })])]), tb])]));
    }
  }
  /* Reissuing revokes the old code: say so for students already bound or done */
  function checkReissue(nos) {
    var look = nos.slice(0, 200).map(function (no) {
      return call('GET', '/students/' + encodeURIComponent(no)).then(function (d) { return d; }).catch(function () { return null; });
    });
    return Promise.all(look).then(function (list) {
      var risky = list.filter(function (d) { return d && (d.student.bound || d.student.step === 'done' || d.codes.some(function (c) { return c.status === 'active'; })); });
      if (!risky.length) return true;
      return confirmDialog('确认重新生成采集码', '以下学生已有采集码或已绑定微信/已完成，重新生成会使原采集码作废：' +
        risky.slice(0, 20).map(function (d) { return d.student.name + '（' + d.student.student_no + '，' + (d.student.step === 'done' ? '已完成' : d.student.bound ? '已绑定' : '已有采集码') + '）'; }).join('、') +
        (risky.length > 20 ? ' 等 ' + risky.length + ' 人' : ''), false, '仍然生成').then(function (r) { return !!r; });
    });
  }
  $('codes-some').addEventListener('click', function () {
    quiet();
    var nos = $('codes-nos').value.split(/[\s,，、]+/).filter(Boolean);
    if (!nos.length) return say('请填写学号', 'error');
    checkReissue(nos).then(function (ok) {
      if (ok) return call('POST', '/codes', { student_nos: nos, sheet: true }).then(showCodes);
    }).catch(fail);
  });
  $('codes-all').addEventListener('click', function () {
    quiet();
    call('POST', '/codes', { all: true, sheet: true }).then(showCodes).catch(fail);
  });
  $('codes-class-btn').addEventListener('click', function () {
    quiet();
    var c = $('codes-class').value;
    if (!c) return say('请选择班级', 'error');
    /* the class's students without a code, page by page */
    var nos = [];
    var more = function (off) {
      return call('GET', '/students?class=' + encodeURIComponent(c) + '&limit=1000&offset=' + off).then(function (j) {
        j.students.forEach(function (s) { if (s.code === 'none') nos.push(s.student_no); });
        if (off + j.students.length < j.total && j.students.length) return more(off + j.students.length);
      });
    };
    more(0).then(function () {
      if (!nos.length) { say('该班学生都已有采集码', 'partial'); return; }
      return call('POST', '/codes', { student_nos: nos, sheet: true }).then(showCodes);
    }).catch(fail);
  });
  LOADERS.codes = function () { if (!classes.length) loadProgressQuiet(); };

  /* ---- settings as a form ---- */
  var SPEC = [
    ['width', '照片宽度（像素）', 64, 4000], ['height', '照片高度（像素）', 64, 4000], ['dpi', '分辨率（DPI）', 72, 1200],
    ['min_kb', '文件最小（KB）', 1, 10000], ['max_kb', '文件最大（KB）', 1, 10000],
    ['bg_r', '背景色 红（0-255）', 0, 255], ['bg_g', '背景色 绿（0-255）', 0, 255], ['bg_b', '背景色 蓝（0-255）', 0, 255],
    ['normalise_background', '统一替换背景（1 是，0 否）', 0, 1],
    ['hair_top_min', '头顶距上边最小（像素）', 0, 4000], ['hair_top_max', '头顶距上边最大（像素）', 0, 4000],
    ['eye_line_min', '眼睛距上边最小（像素）', 0, 4000], ['eye_line_max', '眼睛距上边最大（像素）', 0, 4000],
    ['face_w_min', '脸宽最小（像素）', 8, 4000], ['face_w_max', '脸宽最大（像素）', 8, 4000]];
  SPEC.forEach(function (f) {
    $('spec-fields').appendChild(el('label', {}, [f[1], el('input', { id: 'spec-' + f[0], type: 'number', min: String(f[2]), max: String(f[3]), step: '1', required: '' })]));
  });
  var settingsLoaded = null;
  function loadSettings() {
    return call('GET', '/settings').then(function (s) {
      settingsLoaded = s;
      $('s-contact').value = s.school.contact; $('s-fee').value = (s.fee_fen / 100).toFixed(2);
      $('s-ntitle').value = s.notice.title; $('s-nbody').value = s.notice.body;
      $('s-nversion').textContent = '（第 ' + s.notice.version + ' 版）';
      $('s-vurl').value = s.video.url; $('s-vdur').value = s.video.duration_s;
      $('s-tps').value = s.templates.photo_status; $('s-tpr').value = s.templates.payment_result;
      $('s-wstart').value = (s.window && s.window.start) || '';
      $('s-wend').value = (s.window && s.window.end) || '';
      $('s-spec-custom').textContent = s.spec_custom ? '（本校自定义）' : '（系统默认）';
      SPEC.forEach(function (f) { $('spec-' + f[0]).value = s.spec[f[0]]; });
    }).catch(fail);
  }
  LOADERS.settings = loadSettings;
  function invalid(input, text) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    say(text, 'error');
    return null;
  }
  $('settings-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    quiet();
    Array.prototype.forEach.call(document.querySelectorAll('#settings-form [aria-invalid]'), function (i) { i.removeAttribute('aria-invalid'); });
    var feeText = $('s-fee').value.trim();
    if (!/^\d+(\.\d{1,2})?$/.test(feeText) || parseFloat(feeText) > 1000) return invalid($('s-fee'), '照片费用应为 0 到 1000 元，最多两位小数');
    var fee = Math.round(parseFloat(feeText) * 100);
    var dur = parseInt($('s-vdur').value, 10);
    if (!(dur >= 1 && dur <= 3600)) return invalid($('s-vdur'), '视频时长应为 1 到 3600 秒');
    var url = $('s-vurl').value.trim();
    if (url && !/^https?:\/\/\S+$/.test(url)) return invalid($('s-vurl'), '视频地址应以 http:// 或 https:// 开头');
    var ws = $('s-wstart').value, we = $('s-wend').value;
    if (ws && we && we < ws) return invalid($('s-wend'), '结束日期不能早于开始日期');
    var spec = {};
    for (var i = 0; i < SPEC.length; i++) {
      var f = SPEC[i], inp = $('spec-' + f[0]), v = Number(inp.value);
      if (inp.value === '' || !Number.isInteger(v) || v < f[2] || v > f[3]) return invalid(inp, f[1].replace(/（.*/, '') + '应为 ' + f[2] + ' 到 ' + f[3] + ' 的整数');
      spec[f[0]] = v;
    }
    if (spec.min_kb > spec.max_kb) return invalid($('spec-min_kb'), '文件最小不能大于文件最大');
    if (spec.face_w_min > spec.face_w_max) return invalid($('spec-face_w_min'), '脸宽最小不能大于脸宽最大');
    if (spec.face_w_max > spec.width) return invalid($('spec-face_w_max'), '脸宽最大不能超过照片宽度');
    if (spec.hair_top_min > spec.hair_top_max) return invalid($('spec-hair_top_min'), '头顶距上边最小不能大于最大');
    if (spec.eye_line_min > spec.eye_line_max || spec.eye_line_max > spec.height) return invalid($('spec-eye_line_min'), '眼睛位置的范围不正确');
    var body = {
      contact: $('s-contact').value.trim(), fee_fen: fee,
      notice: { title: $('s-ntitle').value, body: $('s-nbody').value },
      video: { url: url, duration_s: dur },
      templates: { photo_status: $('s-tps').value.trim(), payment_result: $('s-tpr').value.trim() },
      window: { start: ws || null, end: we || null }
    };
    /* the spec is sent only when changed, so the default stays the default */
    var old = settingsLoaded && settingsLoaded.spec;
    if (!old || SPEC.some(function (f) { return old[f[0]] !== spec[f[0]]; })) body.spec = spec;
    call('POST', '/settings', body).then(function () { say('设置已保存'); loadSettings(); }).catch(function (e) {
      var field = e.body && e.body.field;
      var map = { window: 's-wstart', fee_fen: 's-fee', 'video.url': 's-vurl', 'video.duration_s': 's-vdur', templates: 's-tps', contact: 's-contact', spec: 'spec-width' };
      if (field && map[field]) $(map[field]).setAttribute('aria-invalid', 'true');
      fail(e);
    });
  });

  /* ---- export ---- */
  $('export-btn').addEventListener('click', function () {
    $('export-status').textContent = '正在生成，照片多时需要一些时间…';
    call('GET', '/export').then(function (blob) {
      var a = el('a', { href: URL.createObjectURL(blob), download: '照片.zip', text: '下载 照片.zip' });
      $('export-status').textContent = '';
      $('export-status').appendChild(a);
      a.click();
    }).catch(function (e) { $('export-status').textContent = ''; fail(e); });
  });

  /* ---- audit log ---- */
  Object.keys(AUDIT).forEach(function (k) { $('a-action').appendChild(el('option', { value: k, text: AUDIT[k] })); });
  var SETTING_NAMES = { fee_fen: '照片费用', 'school.contact': '联系方式', 'notice.title': '须知标题', 'notice.body': '须知正文',
    'notice.version': '须知版本', 'video.url': '视频地址', 'video.duration_s': '视频时长', 'templates.photo_status': '照片状态模板',
    'templates.payment_result': '支付结果模板', spec_custom: '自定义规格',
    'window.start': '采集开始日期', 'window.end': '采集结束日期' };
  SPEC.forEach(function (f) { SETTING_NAMES['spec.' + f[0]] = '规格·' + f[1].replace(/（.*/, ''); });
  function settingValue(k, v) {
    if (k === 'fee_fen') return Z.yuan(v);
    if (k === 'video.duration_s') return v + ' 秒';
    if (typeof v === 'boolean') return v ? '是' : '否';
    return v === '' || v === null ? '（空）' : String(v);
  }
  function auditDetail(action, d) {
    if (!d) return '';
    var parts = [];
    if (d.reason) parts.push('原因：' + d.reason);
    switch (action) {
      case 'student.unlock':
        parts.push(d.lock_kind === 1 ? '解除活体检测锁定（连续失败 ' + d.liveness_fails + ' 次）'
          : d.lock_kind === 2 ? '解除暂时锁定（连续失败 ' + d.quality_fails + ' 次）' : '清除失败次数');
        break;
      case 'code.revoke': parts.push('作废 ' + d.revoked + ' 个采集码'); break;
      case 'codes.generate': if (d.count !== undefined) parts.push('生成 ' + d.count + ' 个'); else if (d.generated !== undefined) parts.push('生成 ' + d.generated + ' 个'); break;
      case 'roster.import': parts.push('新增 ' + d.imported + '，更新 ' + d.updated + '，未变 ' + d.unchanged + '，有问题 ' + d.rejected + ' 行'); break;
      case 'settings.update':
        if (d.changes) Object.keys(d.changes).forEach(function (k) {
          parts.push((SETTING_NAMES[k] || k) + '：' + settingValue(k, d.changes[k][0]) + ' → ' + settingValue(k, d.changes[k][1]));
        });
        if (d.changes && !Object.keys(d.changes).length) parts.push('没有变化');
        break;
      case 'export': if (d.photos !== undefined) parts.push(d.photos + ' 张照片'); break;
      default: break;
    }
    if (!parts.length) {
      Object.keys(d).forEach(function (k) { if (typeof d[k] !== 'object') parts.push(k + '：' + d[k]); });
    }
    return parts.join('；');
  }
  var auditBefore = null, auditStack = [];
  function loadAudit(before) {
    var qs = ['limit=50'];
    if (before) qs.push('before=' + before);
    if ($('a-action').value) qs.push('action=' + encodeURIComponent($('a-action').value));
    if ($('a-target').value.trim()) qs.push('target=' + encodeURIComponent($('a-target').value.trim()));
    return call('GET', '/audit?' + qs.join('&')).then(function (j) {
      var tb = $('audit-table').tBodies[0];
      tb.textContent = '';
      j.entries.forEach(function (a) {
        var target = a.target ? el('a', { href: '#student/' + encodeURIComponent(a.target), text: a.target }) : null;
        tb.appendChild(el('tr', {}, [td(Z.fmtTime(a.at), { 'data-label': '时间' }), td(a.teacher || '', { 'data-label': '教师' }),
          td(AUDIT[a.action] || a.action, { 'data-label': '操作', title: a.action }),
          el('td', { 'data-label': '对象' }, [target || '—']), td(auditDetail(a.action, a.detail), { 'data-label': '详情' })]));
      });
      if (!j.entries.length) tb.appendChild(el('tr', {}, [td('没有记录', { colspan: '5' })]));
      auditBefore = j.next_before;
      $('audit-more').disabled = !auditBefore;
      $('audit-first').disabled = !before;
    }).catch(fail);
  }
  LOADERS.audit = function () { auditStack = []; loadAudit(null); };
  $('audit-filter').addEventListener('submit', function (ev) { ev.preventDefault(); auditStack = []; loadAudit(null); });
  $('a-action').addEventListener('change', function () { auditStack = []; loadAudit(null); });
  $('audit-more').addEventListener('click', function () { if (auditBefore) { auditStack.push(auditBefore); loadAudit(auditBefore); } });
  $('audit-first').addEventListener('click', function () { auditStack = []; loadAudit(null); });

  /* Without charts (vendor files not built) the tables still tell it all */
  if (!window.echarts) Array.prototype.forEach.call(document.querySelectorAll('.chart'), function (c) { c.hidden = true; });

  if (token) showApp();
})();
