/* tucai H5 demo client: the student journey of the mini-program, in plain JS
 * against /api/v1.  GET /me's "step" decides which card shows; the session
 * token lives in sessionStorage (gone with the tab, like a WeChat session). */
(function () {
  'use strict';
  var API = '/api/v1';
  var STEPS = ['code', 'phone', 'confirm', 'notice', 'subscribe', 'video',
               'shoot', 'submit', 'pay', 'producing', 'done'];
  var LABELS = { code: '采集码', phone: '手机', confirm: '核对', notice: '须知',
                 subscribe: '订阅', video: '指引', shoot: '拍摄', submit: '选择',
                 pay: '支付', producing: '制作', done: '完成' };
  /* which cards each step shows */
  var VIEWS = {
    login: ['login'], code: ['code'], phone: ['phone'], confirm: ['confirm'],
    notice: ['notice'], subscribe: ['subscribe'], video: ['video'],
    shoot: ['shoot', 'drafts'], submit: ['drafts', 'shoot'],
    pay: ['pay', 'drafts'], producing: ['producing'], done: ['done']
  };
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('tucai_h5_token');
  var me = null;          /* last GET /me */
  var goingBack = false;  /* "back" on the info check: show phone/code again */
  var timers = {};        /* countdowns by element id */
  var blobs = [];         /* object URLs to release on re-render */
  var pollTimer = null;

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
    if (isError) window.scrollTo(0, 0);
  }
  function quiet() { $('msg').hidden = true; }

  /* fetch wrapper: JSON or FormData in, JSON/blob out; an API error becomes
   * an Error carrying the answer's body (code, message, extras). */
  function call(method, path, body) {
    var opts = { method: method, headers: {} };
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(path.charAt(0) === '/' && path.indexOf('/sandbox/') !== 0 ? API + path : path, opts)
      .then(function (r) {
        if (r.status === 204) return null;
        var ct = r.headers.get('Content-Type') || '';
        if (!r.ok) {
          return (ct.indexOf('json') >= 0 ? r.json() : Promise.resolve({}))
            .catch(function () { return {}; })
            .then(function (j) {
              var e = new Error(j.message || ('HTTP ' + r.status));
              e.status = r.status; e.body = j;
              if (r.status === 401 && path !== '/login') logout();
              throw e;
            });
        }
        return ct.indexOf('json') >= 0 ? r.json() : r.blob();
      });
  }

  /* an API error in words: its message, code, contact and extra lines */
  function fail(e, extra) {
    var b = e.body || {};
    var t = '错误 / Error: ' + e.message + (b.error ? ' [' + b.error + ']' : '');
    if (b.contact) t += '\n联系 / Contact: ' + b.contact;
    if (extra) t += '\n' + extra;
    say(t, true);
  }

  function setToken(t) {
    token = t;
    if (t) sessionStorage.setItem('tucai_h5_token', t);
    else sessionStorage.removeItem('tucai_h5_token');
  }

  function logout() {
    setToken(null);
    sessionStorage.removeItem('tucai_h5_check');
    me = null;
    render('login');
  }

  function fmtTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' '
      + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function fmtLeft(s) {
    s = Math.max(0, Math.ceil(s));
    var m = Math.floor(s / 60);
    return m ? m + ' 分 ' + (s % 60) + ' 秒 (' + m + 'm ' + (s % 60) + 's)' : s + ' 秒 (' + s + 's)';
  }

  /* A countdown in element id until endMs; text(leftSeconds) gives the
   * words; done() runs once when it reaches zero. */
  function countdown(id, endMs, text, done) {
    stopCountdown(id);
    var e = $(id);
    var tick = function () {
      var left = (endMs - Date.now()) / 1000;
      if (left <= 0) {
        stopCountdown(id);
        e.hidden = true;
        if (done) done();
        return;
      }
      e.textContent = text(left);
      e.hidden = false;
    };
    timers[id] = setInterval(tick, 250);
    tick();
  }
  function stopCountdown(id) {
    if (timers[id]) { clearInterval(timers[id]); delete timers[id]; }
  }

  function stepOf(name) { return STEPS.indexOf(name); }

  function progress(step) {
    var ol = $('progress');
    ol.textContent = '';
    var at = stepOf(step);
    STEPS.forEach(function (s, i) {
      ol.appendChild(el('li', { text: LABELS[s], 'class': i < at ? 'past' : i === at ? 'now' : '' }));
    });
    ol.hidden = step === 'login';
  }

  function render(step) {
    var views = VIEWS[step] || [];
    if (step === 'confirm' && goingBack) views = ['phone', 'code'];
    document.querySelectorAll('main > section').forEach(function (s) {
      s.hidden = views.indexOf(s.id.slice(2)) < 0;
    });
    document.body.dataset.step = step;
    progress(step);
    $('who').hidden = !token;
    if (me && me.student) $('who-name').textContent = me.student.name;
    var loader = {
      login: showLogin, confirm: showCheck, notice: loadNotice, subscribe: loadSubs,
      video: loadVideo, shoot: showShoot, submit: showShoot, pay: showPay,
      producing: waitProduced, done: showDone
    }[step];
    if (['shoot', 'submit', 'pay'].indexOf(step) >= 0) loadDrafts();
    if (loader) loader();
  }

  /* GET /me and show its step. */
  function refresh() {
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (!token) { render('login'); return Promise.resolve(); }
    return call('GET', '/me').then(function (m) {
      me = m;
      render(m.step);
    }).catch(fail);
  }

  /* ---- 1 login ---- */
  function showLogin() {
    if (!$('wx-code').value) {
      $('wx-code').value = 'demo-' + Math.random().toString(36).slice(2, 12);
    }
  }
  $('login-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/login', { code: $('wx-code').value.trim() }).then(function (j) {
      setToken(j.token);
      return refresh();
    }).catch(fail);
  });
  $('logout').addEventListener('click', logout);

  /* ---- 3 collection code ---- */
  function codeDone(j) {
    quiet();
    goingBack = false;
    say('已识别 / Found: ' + j.student.name + ' (' + j.student.student_no + ')');
    return refresh();
  }
  $('code-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/code', { code: $('code-text').value.trim() }).then(codeDone).catch(fail);
  });
  $('code-upload').addEventListener('click', function () {
    quiet();
    var f = $('code-image').files[0];
    if (!f) { say('请选择二维码图片 / Choose a picture of the QR code first', true); return; }
    var fd = new FormData();
    fd.append('image', f);
    call('POST', '/code', fd).then(codeDone).catch(fail);
  });

  /* ---- 4 phone, info check ---- */
  $('phone-btn').addEventListener('click', function () {
    quiet();
    var v = $('phone').value.trim();
    var body = v.indexOf('phone:') === 0 ? { phone_code: v } : { phone: v };
    call('POST', '/phone', body).then(function (j) {
      sessionStorage.setItem('tucai_h5_check', JSON.stringify(j.check));
      goingBack = false;
      return refresh();
    }).catch(fail);
  });
  function showCheck() {
    var c = {};
    try { c = JSON.parse(sessionStorage.getItem('tucai_h5_check') || '{}') || {}; } catch (e) { c = {}; }
    var s = (me && me.student) || {};
    $('ck-name').textContent = c.name || s.name || '';
    $('ck-no').textContent = c.student_no || s.student_no || '';
    $('ck-school').textContent = c.school || s.school || '';
    $('ck-phone').textContent = c.phone || s.phone || '';
  }
  /* "back" changes nothing on the server: the phone (or code) is entered again */
  $('back-btn').addEventListener('click', function () {
    quiet();
    goingBack = true;
    render('confirm');
  });
  $('confirm-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/confirm', {}).then(function (j) {
      if (j.token) setToken(j.token);
      sessionStorage.removeItem('tucai_h5_check');
      return refresh();
    }).catch(fail);
  });

  /* ---- 5 notice ---- */
  var noticeVersion = null;
  function loadNotice() {
    call('GET', '/notice').then(function (n) {
      noticeVersion = n.version;
      $('notice-title').textContent = n.title || '拍摄须知 / Notice';
      $('notice-body').textContent = n.body || '';
    }).catch(fail);
  }
  $('ack-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/notice/ack', { version: noticeVersion }).then(refresh).catch(function (e) {
      fail(e);
      if (e.body && e.body.error === 'NOTICE_OUTDATED') loadNotice();
    });
  });

  /* ---- 6 subscriptions ---- */
  /* the choices start checked; the server only records what is sent */
  function loadSubs() {
    call('GET', '/subscriptions').then(function (s) {
      var t = s.templates || {};
      $('sub-photo').parentNode.title = t.photo_status || '';
      $('sub-pay').parentNode.title = t.payment_result || '';
    }).catch(fail);
  }
  $('sub-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/subscriptions', { photo_status: $('sub-photo').checked,
                                    payment_result: $('sub-pay').checked })
      .then(refresh).catch(fail);
  });

  /* ---- 7 guide video ---- */
  var video = null;
  function player(url) {
    var p = $('player');
    p.textContent = '';
    /* a real video plays in <video>; anything else (the demo's animated
     * SVG guide) is shown as an image */
    if (/\.(mp4|webm|ogv|mov|m4v)(\?|$)/i.test(url)) {
      p.appendChild(el('video', { src: url, controls: '', autoplay: '', playsinline: '', id: 'guide' }));
    } else {
      p.appendChild(el('img', { src: url, alt: '拍摄指引 guide', id: 'guide' }));
    }
  }
  function armVideo(leftS) {
    $('video-next').disabled = true;
    countdown('video-left', Date.now() + leftS * 1000, function (l) {
      return '还需观看 ' + fmtLeft(l) + ' / remaining';
    }, function () { $('video-next').disabled = false; });
  }
  function loadVideo() {
    call('GET', '/video').then(function (v) {
      video = v;
      $('video-next').disabled = true;
      if (v.started_at) {
        /* started before (e.g. page reloaded): keep counting from the server's start */
        player(v.url);
        $('video-start').hidden = true;
        var left = v.duration_s - (Date.now() - Date.parse(v.started_at)) / 1000;
        armVideo(Math.max(left, 0));
      } else {
        $('player').textContent = '';
        $('player').appendChild(el('p', { 'class': 'hint', text: '时长 ' + v.duration_s + ' 秒 / ' + v.duration_s + ' s' }));
        $('video-start').hidden = false;
      }
    }).catch(fail);
  }
  $('video-start').addEventListener('click', function () {
    quiet();
    call('POST', '/video/start', {}).then(function () {
      player(video.url);
      $('video-start').hidden = true;
      armVideo(video.duration_s);
    }).catch(fail);
  });
  $('video-next').addEventListener('click', function () {
    quiet();
    call('POST', '/video/finish', {}).then(function () {
      stopCountdown('video-left');
      return refresh();
    }).catch(function (e) {
      var left = e.body && e.body.remaining_s;
      fail(e, typeof left === 'number' ? '还剩 ' + left + ' 秒 / ' + left + ' s left' : '');
      if (typeof left === 'number') armVideo(left);
    });
  });

  /* ---- 7-12 shooting, verdict, cooldown, locks ---- */
  function lockText(lock, until) {
    if (lock === 'liveness') {
      return '多次活体检测未通过，账号已锁定，请联系学校老师解锁。\n'
        + 'Locked after repeated liveness failures: ask your teacher to unlock it.';
    }
    return '多次检测未通过，账号暂时锁定，' + fmtTime(until) + ' 后自动解锁。\n'
      + 'Locked after repeated failed checks until ' + fmtTime(until) + '.';
  }
  function showLock(lock, until) {
    var b = $('lockbox');
    b.textContent = lockText(lock, until);
    b.hidden = false;
    $('shoot-btn').disabled = true;
    if (lock === 'quality' && until) {
      countdown('cooldown', Date.parse(until), function (l) {
        return '距离解锁 ' + fmtLeft(l) + ' / until unlocked';
      }, function () { $('lockbox').hidden = true; refresh(); });
    }
  }
  function showCooldown(endMs) {
    $('shoot-btn').disabled = true;
    countdown('cooldown', endMs, function (l) {
      return '冷静期，' + fmtLeft(l) + ' 后可重拍 / cooling down: retake then';
    }, function () { $('shoot-btn').disabled = false; });
  }
  function showShoot() {
    $('lockbox').hidden = true;
    $('shoot-btn').disabled = false;
    stopCountdown('cooldown');
    $('cooldown').hidden = true;
    if (!me) return;
    if (me.lock) {
      showLock(me.lock, me.lock_until);
    } else if (me.cooldown_until && Date.parse(me.cooldown_until) > Date.now()) {
      showCooldown(Date.parse(me.cooldown_until));
    }
  }
  function showVerdict(v, title) {
    var box = $('verdict');
    box.textContent = '';
    box.hidden = false;
    box.className = v && v.pass ? 'verdict pass' : 'verdict fail';
    box.appendChild(el('h3', { text: title }));
    if (v && v.reasons && v.reasons.length) {
      var ul = el('ul', { id: 'reasons' });
      v.reasons.forEach(function (r) {
        ul.appendChild(el('li', { 'data-code': r.code, text: r.message || r.code }));
      });
      box.appendChild(ul);
    }
  }
  $('shoot-btn').addEventListener('click', function () {
    quiet();
    var photo = $('photo').files[0];
    if (!photo) { say('请先拍摄或选择照片 / Take a photo first', true); return; }
    var fd = new FormData();
    fd.append('photo', photo);
    Array.prototype.forEach.call($('frames').files, function (f) { fd.append('frames', f); });
    fd.append('meta', JSON.stringify({ camera: 'back', source: 'camera' }));
    $('shoot-btn').disabled = true;
    $('verdict').hidden = true;
    say('正在上传检测… / Uploading and checking…');
    call('POST', '/captures', fd).then(function (j) {
      showVerdict(j.verdict, '检测通过，已存入草稿箱 / Passed: saved to your drafts');
      say('检测通过 / The photo passed');
      $('photo').value = ''; $('frames').value = '';
      return refresh();
    }).catch(function (e) {
      var b = e.body || {};
      $('shoot-btn').disabled = false;
      fail(e, typeof b.attempts_left === 'number'
        ? '再失败 ' + b.attempts_left + ' 次将锁定 / ' + b.attempts_left + ' more failures lock the account'
        : '');
      if (b.verdict) showVerdict(b.verdict, '未通过的原因 / Why it failed');
      if (b.error === 'CHECK_FAILED') {
        showCooldown(b.until ? Date.parse(b.until) : Date.now() + (b.retry_after || 0) * 1000);
      } else if (b.error === 'COOLING_DOWN') {
        showCooldown(Date.now() + (b.retry_after || 0) * 1000);
      } else if (b.error === 'LOCKED') {
        showLock(b.lock, b.until);
      } else if (b.error === 'DRAFTS_FULL') {
        loadDrafts();
      }
    });
  });

  /* ---- 13-14 drafts box, choose one ---- */
  function loadDrafts() {
    blobs.forEach(function (u) { URL.revokeObjectURL(u); });
    blobs = [];
    return call('GET', '/drafts').then(function (d) {
      var ul = $('drafts-list');
      ul.textContent = '';
      var chosen = me && me.order ? chosenDraft : null;
      $('drafts-count').textContent = d.drafts.length + ' / ' + d.capacity;
      var full = d.drafts.length >= d.capacity;
      $('drafts-full').hidden = !full;
      $('drafts-full').textContent = '草稿箱已满，请先删除一张照片再拍摄。\n'
        + 'The drafts box is full: delete one before shooting again.';
      if (!d.drafts.length) {
        ul.appendChild(el('li', { 'class': 'empty', text: '暂无草稿 / No drafts yet' }));
      }
      d.drafts.forEach(function (dr) {
        var img = el('img', { alt: '草稿 draft ' + dr.id, 'class': 'thumb' });
        var del = el('button', { type: 'button', 'class': 'del', text: '删除 Delete',
          onclick: function () { deleteDraft(dr.id); } });
        var pick = el('button', { type: 'button', 'class': 'primary pick',
          text: dr.id === chosen ? '已选 Chosen' : '选这张 Choose',
          onclick: function () { choose(dr.id); } });
        if (me && (me.step === 'producing' || me.step === 'done')) pick.disabled = true;
        ul.appendChild(el('li', { 'data-id': String(dr.id), 'class': dr.id === chosen ? 'chosen' : '' }, [
          img,
          el('div', { 'class': 'meta' }, [
            el('div', { text: '#' + dr.id + ' · ' + fmtTime(dr.created_at) }),
            el('div', { 'class': 'deletable', text: '可删除时间 Deletable from: ' + fmtTime(dr.deletable_at) }),
            el('div', { 'class': 'buttons' }, [pick, del])
          ])
        ]));
        /* drafts need the Bearer token, so an <img src> cannot load them */
        call('GET', dr.photo_url.replace(/^\/api\/v1/, '')).then(function (b) {
          var u = URL.createObjectURL(b);
          blobs.push(u);
          img.src = u;
        }).catch(function () { img.alt = '无法加载 / cannot load'; });
      });
    }).catch(fail);
  }
  function deleteDraft(id) {
    quiet();
    call('DELETE', '/drafts/' + id).then(function () {
      say('已删除草稿 #' + id + ' / Draft deleted');
      return refresh();
    }).catch(function (e) {
      var b = e.body || {};
      fail(e, b.deletable_at ? '可删除时间 / Deletable from: ' + fmtTime(b.deletable_at) : '');
    });
  }
  var chosenDraft = Number(sessionStorage.getItem('tucai_h5_draft')) || null;
  var order = null;
  function choose(id) {
    quiet();
    call('POST', '/submission', { draft_id: id }).then(function (j) {
      chosenDraft = id;
      sessionStorage.setItem('tucai_h5_draft', String(id));
      order = j.order;
      say('已选择草稿 #' + id + ' / Draft chosen');
      return refresh();
    }).catch(fail);
  }

  /* ---- 15 payment ---- */
  function showPay() {
    var o = (me && me.order) || order || {};
    $('order-draft').textContent = chosenDraft ? '#' + chosenDraft : '—';
    $('order-no').textContent = o.out_trade_no || '';
    $('order-amount').textContent = o.amount_fen !== undefined
      ? '¥' + (o.amount_fen / 100).toFixed(2) : '';
    $('order-status').textContent = ({ UNPAID: '待支付 UNPAID', PAID: '已支付 PAID',
      CLOSED: '已关闭 CLOSED', FREE: '免费 FREE' })[o.status] || o.status || '';
    $('pay-btn').disabled = o.status !== 'UNPAID';
  }
  /* The demo pays through the WeChat sandbox (make run proxies /sandbox/pay
   * to it); a real mini-program calls wx.requestPayment with order.pay. */
  $('pay-btn').addEventListener('click', function () {
    quiet();
    var o = (me && me.order) || order;
    if (!o) return;
    $('pay-btn').disabled = true;
    call('POST', '/sandbox/pay', { out_trade_no: o.out_trade_no }).then(function () {
      say('已支付，等待确认… / Paid, waiting for confirmation…');
      poll();
    }).catch(function (e) {
      $('pay-btn').disabled = false;
      fail(e);
      $('pay-cmd').hidden = false;
      $('pay-cmd').textContent = '沙箱未代理，请手动支付 / Pay by hand:\n'
        + 'curl -X POST http://127.0.0.1:8089/sandbox/pay \\\n'
        + "  -H 'Content-Type: application/json' \\\n"
        + '  -d \'{"out_trade_no":"' + o.out_trade_no + '"}\'';
      poll();
    });
  });

  /* ---- 16 production, download ---- */
  function poll() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(function () {
      pollTimer = null;
      call('GET', '/me').then(function (m) {
        var changed = !me || m.step !== me.step || m.photo_ready !== me.photo_ready;
        me = m;
        if (changed) render(m.step);
        if (!m.photo_ready && (m.step === 'pay' || m.step === 'producing')) poll();
      }).catch(fail);
    }, 1500);
  }
  function waitProduced() { poll(); }
  function showDone() {
    if (me && me.photo_ready) say('照片已制作完成，可以下载 / Your photo is ready');
  }
  $('final-btn').addEventListener('click', function () {
    quiet();
    call('GET', '/photo').then(function (b) {
      var u = URL.createObjectURL(b);
      $('final-img').src = u;
      $('final-img').hidden = false;
      var a = $('final-link');
      a.href = u;
      a.hidden = false;
      a.className = 'button';
      say('下载完成，点“保存”存到手机 / Downloaded: tap Save to keep it');
    }).catch(fail);
  });

  refresh();
})();
