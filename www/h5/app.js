/* tucai H5 client: the student journey of the mini-program in plain JS
 * against /api/v1 (also what WeChat's in-app browser shows).  GET /me's
 * "step" decides which card shows; the session token lives in
 * sessionStorage.  Every state is on screen: loading, offline, cooldown and
 * lock countdowns, the last verdict (kept by the server, so a reload shows
 * it again).  Words come from zh.js; API codes only in tooltips. */
(function () {
  'use strict';
  var API = '/api/v1';
  var Z = window.TucaiZh;
  var STEPS = Z.STEP_ORDER;
  var LABELS = { code: '采集码', phone: '手机', confirm: '核对', notice: '须知', subscribe: '订阅',
                 video: '指引', shoot: '拍摄', submit: '选择', pay: '缴费', producing: '制作', done: '完成' };
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem('tucai_h5_token');
  var me = null;            /* last GET /me */
  var goingBack = false;    /* "back" on the info check: show phone/code again */
  var picking = null;       /* {id, url}: a draft chosen, confirm-upload page */
  var changing = false;     /* on the payment page: "change photo" */
  var timers = {};
  var blobs = [];
  var pollTimer = null;
  var inflight = 0;

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
  function say(text, kind, code) {
    var m = $('msg');
    m.textContent = text;
    m.className = kind || 'ok';
    m.title = code ? '错误代码：' + code : '';
    m.hidden = false;
    if (kind === 'error') window.scrollTo(0, 0);
  }
  function quiet() { $('msg').hidden = true; }
  function busy(on, text) {
    inflight += on ? 1 : -1;
    if (inflight < 0) inflight = 0;
    $('busy-text').textContent = text || '加载中…';
    $('busy').hidden = inflight === 0;
  }

  /* fetch wrapper: JSON or FormData in, JSON/blob out; an API error becomes
   * an Error carrying the answer (code, extras) and the words for it */
  function call(method, path, body, busyText) {
    var opts = { method: method, headers: {} };
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    if (body instanceof FormData || body instanceof Blob) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    var url = path.indexOf('/sandbox/') === 0 ? path : API + path;
    if (busyText !== false) busy(true, busyText);
    return fetch(url, opts).then(function (r) {
      if (r.status === 204) return null;
      var ct = r.headers.get('Content-Type') || '';
      if (!r.ok) {
        return (ct.indexOf('json') >= 0 ? r.json() : Promise.resolve({}))
          .catch(function () { return {}; })
          .then(function (j) {
            var code = j.error || ('HTTP_' + r.status);
            var e = new Error(Z.errorText(code, j));
            e.status = r.status; e.body = j; e.code = code;
            if (r.status === 401 && path !== '/login') logout();
            throw e;
          });
      }
      return ct.indexOf('json') >= 0 ? r.json() : r.blob();
    }, function () {
      var e = new Error(Z.errorText('OFFLINE')); e.code = 'OFFLINE'; e.body = {};
      throw e;
    }).then(function (v) { if (busyText !== false) busy(false); return v; },
            function (e) { if (busyText !== false) busy(false); throw e; });
  }

  /* an API error in words, with whom to contact where the server says */
  function fail(e, extra) {
    var b = e.body || {};
    var t = e.message;
    if (b.contact) t += '\n如有疑问请联系：' + b.contact;
    if (extra) t += '\n' + extra;
    say(t, 'error', e.code);
  }

  function setToken(t) {
    token = t;
    if (t) sessionStorage.setItem('tucai_h5_token', t);
    else sessionStorage.removeItem('tucai_h5_token');
  }
  function logout() {
    setToken(null);
    sessionStorage.removeItem('tucai_h5_check');
    me = null; picking = null; changing = false;
    closeCam();
    render('login');
  }

  /* a countdown in element id until endMs; done() once it reaches zero */
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

  function progress(step) {
    var ol = $('progress');
    ol.textContent = '';
    var at = STEPS.indexOf(step);
    STEPS.forEach(function (s, i) {
      ol.appendChild(el('li', { text: LABELS[s], 'class': i < at ? 'past' : i === at ? 'now' : '',
        'aria-current': i === at ? 'step' : null }));
    });
    ol.hidden = step === 'login' || at < 0;
  }

  function views(step) {
    switch (step) {
      case 'login': return ['login'];
      case 'confirm': return goingBack ? ['phone', 'code'] : ['confirm'];
      case 'shoot': return picking ? ['upload'] : ['shoot', 'drafts'];
      case 'submit': return picking ? ['upload'] : ['drafts', 'shoot'];
      case 'pay': return picking ? ['upload'] : changing ? ['drafts'] : ['pay'];
      default: return [step];
    }
  }

  function render(step) {
    var v = views(step);
    Array.prototype.forEach.call(document.querySelectorAll('main > section'), function (s) {
      s.hidden = v.indexOf(s.id.slice(2)) < 0;
    });
    /* the first card of a step comes first on the page */
    v.forEach(function (name, i) { $('v-' + name).style.order = String(i); });
    document.body.dataset.step = step;
    progress(step);
    $('who').hidden = !token;
    $('who-name').textContent = me && me.student ? me.student.name : '';
    if (step !== 'shoot' && step !== 'submit') closeCam();
    var loader = {
      login: showLogin, confirm: showCheck, notice: loadNotice, subscribe: loadSubs,
      video: loadVideo, shoot: showShoot, submit: showShoot, pay: showPay,
      producing: waitProduced, done: showDone
    }[step];
    if (v.indexOf('drafts') >= 0) loadDrafts();
    if (v.indexOf('upload') >= 0) showUpload();
    if (loader) loader();
  }

  /* GET /me and show its step. */
  function refresh() {
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (!token) { render('login'); return Promise.resolve(); }
    return call('GET', '/me').then(function (m) {
      me = m;
      if (m.step !== 'pay') changing = false;
      render(m.step);
    }).catch(function (e) { if (token) fail(e); });
  }

  /* offline: say so, and refresh when the network is back */
  function netState() { $('net').hidden = navigator.onLine !== false; }
  window.addEventListener('offline', netState);
  window.addEventListener('online', function () { netState(); quiet(); refresh(); });
  netState();

  /* ---- 1 login ---- */
  function showLogin() {
    if (!$('wx-code').value) $('wx-code').value = 'demo-' + Math.random().toString(36).slice(2, 12);
  }
  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    quiet();
    call('POST', '/login', { code: $('wx-code').value.trim() }, '正在登录…').then(function (j) {
      setToken(j.token);
      return refresh();
    }).catch(fail);
  });
  $('logout').addEventListener('click', logout);

  /* ---- 3 collection code ---- */
  function codeDone(j) {
    goingBack = false;
    say('已找到：' + j.student.name + '（学号 ' + j.student.student_no + '）');
    return refresh();
  }
  $('code-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    quiet();
    var v = $('code-text').value.trim().toUpperCase().replace(/\s+/g, '');
    if (!v) { say('请输入采集码', 'error'); return; }
    call('POST', '/code', { code: v }, '正在核对采集码…').then(codeDone).catch(fail);
  });
  function uploadQr() {
    quiet();
    var f = $('code-image').files[0];
    if (!f) { say('请先拍摄或选择二维码图片', 'error'); return; }
    var fd = new FormData();
    fd.append('image', f);
    call('POST', '/code', fd, '正在识别二维码…').then(codeDone).catch(fail);
  }
  $('code-image').addEventListener('change', uploadQr);
  $('code-upload').addEventListener('click', uploadQr);

  /* ---- 4 phone, info check ---- */
  /* "+86 138 0013 8000", "138-0013-8000", "008613800138000" -> 13800138000 */
  function normalPhone(v) {
    v = v.replace(/[\s\-()（）]/g, '');
    if (/^\+86/.test(v)) v = v.slice(3);
    else if (/^0086/.test(v)) v = v.slice(4);
    return v;
  }
  $('phone-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    quiet();
    var raw = $('phone').value.trim();
    /* the demo's stand-in for WeChat's getPhoneNumber code */
    var body;
    if (raw.indexOf('phone:') === 0) body = { phone_code: raw };
    else {
      var p = normalPhone(raw);
      if (!/^1[3-9]\d{9}$/.test(p)) { say(Z.errorText('PHONE_INVALID'), 'error'); $('phone').focus(); return; }
      body = { phone: p };
    }
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
      $('notice-title').textContent = n.title || '拍摄须知';
      $('notice-body').textContent = n.body || '';
    }).catch(fail);
  }
  $('ack-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/notice/ack', { version: noticeVersion }).then(refresh).catch(function (e) {
      fail(e);
      if (e.code === 'NOTICE_OUTDATED') loadNotice();
    });
  });

  /* ---- 6 subscriptions (the choices start checked; only what is sent counts) ---- */
  function loadSubs() { call('GET', '/subscriptions').catch(fail); }
  $('sub-btn').addEventListener('click', function () {
    quiet();
    call('POST', '/subscriptions', { photo_status: $('sub-photo').checked, payment_result: $('sub-pay').checked })
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
      p.appendChild(el('img', { src: url, alt: '拍摄指引动画', id: 'guide' }));
    }
  }
  function armVideo(left) {
    $('video-next').disabled = true;
    countdown('video-left', Date.now() + left * 1000, function (l) {
      return '还需观看 ' + Z.fmtLeft(l);
    }, function () { $('video-next').disabled = false; });
  }
  function loadVideo() {
    $('video-start').disabled = true;   /* until we know whether it started */
    call('GET', '/video').then(function (v) {
      video = v;
      $('video-start').disabled = false;
      $('video-next').disabled = true;
      if (v.started_at) {
        /* started before (e.g. page reloaded): keep counting from the server's start */
        player(v.url);
        $('video-start').hidden = true;
        var left = v.duration_s - (Date.now() - Date.parse(v.started_at)) / 1000;
        armVideo(Math.max(left, 0));
      } else {
        $('player').textContent = '';
        $('player').appendChild(el('p', { 'class': 'hint', text: '指引时长 ' + Z.fmtLeft(v.duration_s) + '，点击“开始播放”观看' }));
        $('video-start').hidden = false;
      }
    }).catch(fail);
  }
  $('video-start').addEventListener('click', function () {
    quiet();
    $('video-start').hidden = true;   /* once: a second tap would restart it on the server */
    call('POST', '/video/start', {}).then(function () {
      player(video.url);
      armVideo(video.duration_s);
    }).catch(function (e) { $('video-start').hidden = false; fail(e); });
  });
  $('video-next').addEventListener('click', function () {
    quiet();
    call('POST', '/video/finish', {}).then(function () {
      stopCountdown('video-left');
      return refresh();
    }).catch(function (e) {
      fail(e);
      var left = e.body && e.body.remaining_s;
      if (typeof left === 'number') armVideo(left);
    });
  });

  /* ---- 8-12 shooting: camera, preview, verdict, cooldown, locks ---- */
  var stream = null, camName = 'back';
  var shot = null;          /* {photo: Blob, frames: [Blob], source} waiting for 制作 */
  var FRAMES = 4, FRAME_GAP_MS = 300;

  function closeCam() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    $('cam').hidden = true;
    $('cam-video').srcObject = null;
  }
  function shootState(state) {   /* start | cam | preview */
    $('shoot-start').hidden = state !== 'start';
    $('cam').hidden = state !== 'cam';
    $('preview').hidden = state !== 'preview';
  }
  $('cam-open').addEventListener('click', function () {
    quiet();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say('当前浏览器不能直接使用相机，请改为上传照片', 'error');
      $('fallback').open = true;
      return;
    }
    navigator.mediaDevices.getUserMedia({ audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1920 }, height: { ideal: 2560 } } })
      .then(function (s) {
        stream = s;
        var st = s.getVideoTracks()[0].getSettings ? s.getVideoTracks()[0].getSettings() : {};
        camName = st.facingMode === 'user' ? 'front' : 'back';
        $('cam-video').srcObject = s;
        shootState('cam');
        $('cam-tip').textContent = camName === 'front'
          ? '这是前置摄像头：请换用后置摄像头，由他人为你拍摄' : '请将头部放在虚线框内，双肩露出';
      }).catch(function (err) {
        say(err && err.name === 'NotAllowedError' ? '没有相机权限：请在设置中允许使用相机，或改为上传照片'
          : '无法打开相机，请改为上传照片', 'error', err && err.name);
        $('fallback').open = true;
      });
  });
  $('cam-close').addEventListener('click', function () { closeCam(); shootState('start'); });

  function grab() {
    var v = $('cam-video');
    var c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    c.getContext('2d').drawImage(v, 0, 0);
    return new Promise(function (res) { c.toBlob(res, 'image/jpeg', 0.92); });
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  /* 3-2-1 with the guide, the photo (still), then the liveness burst (blink) */
  $('cam-shoot').addEventListener('click', function () {
    var v = $('cam-video');
    if (!v.videoWidth) { say('相机还没有准备好，请稍候', 'error'); return; }
    $('cam-shoot').disabled = true;
    var cnt = $('cam-count');
    var frames = [];
    var step = function (n) {
      cnt.hidden = false; cnt.textContent = String(n);
      return sleep(700);
    };
    var photo = null;
    step(3).then(function () { return step(2); }).then(function () { return step(1); }).then(grab).then(function (p) {
      photo = p;
      cnt.textContent = '请自然眨眼';
      var chain = Promise.resolve();
      for (var i = 0; i < FRAMES; i++) {
        chain = chain.then(function () { return sleep(FRAME_GAP_MS); }).then(grab).then(function (b) { frames.push(b); });
      }
      return chain;
    }).then(function () {
      cnt.hidden = true;
      $('cam-shoot').disabled = false;
      shot = { photo: photo, frames: frames, source: 'camera', camera: camName };
      closeCam();
      showPreview();
    }).catch(function () {
      cnt.hidden = true; $('cam-shoot').disabled = false;
      say('拍摄失败，请重试', 'error');
    });
  });
  $('file-preview').addEventListener('click', function () {
    quiet();
    var photo = $('photo').files[0];
    var frames = Array.prototype.slice.call($('frames').files);
    if (!photo) { say('请先拍摄或选择证件照', 'error'); return; }
    if (frames.length < 2) { say('请同时上传 3–5 张连拍照片，否则活体检测无法通过', 'error'); return; }
    shot = { photo: photo, frames: frames.slice(0, 8), source: 'camera', camera: 'back' };
    showPreview();
  });
  function showPreview() {
    var u = URL.createObjectURL(shot.photo);
    blobs.push(u);
    $('preview-img').src = u;
    $('preview-frames').textContent = '连拍 ' + shot.frames.length + ' 张（用于活体检测）';
    shootState('preview');
    $('preview').scrollIntoView({ block: 'start' });
  }
  $('retake-btn').addEventListener('click', function () { shot = null; quiet(); shootState('start'); });

  function lockText(lock, until) {
    var who = (me && me.student && me.student.contact) || '学校图像采集老师';
    if (lock === 'liveness') {
      return '账号已锁定：连续多次活体检测未通过。\n需要学校老师核实是本人后解锁，请联系：' + who + '。\n解锁后即可重新拍摄。';
    }
    return '账号暂时锁定：连续多次检测未通过。\n' + Z.fmtTime(until) + ' 自动解锁，之后可以重新拍摄；也可以联系 ' + who + '。';
  }
  function showLock(lock, until) {
    var b = $('lockbox');
    b.textContent = lockText(lock, until);
    b.hidden = false;
    $('shoot-start').hidden = true; $('preview').hidden = true; closeCam();
    if (lock === 'quality' && until) {
      countdown('cooldown', Date.parse(until), function (l) { return '距离自动解锁还有 ' + Z.fmtLeft(l); },
        function () { $('lockbox').hidden = true; refresh(); });
    }
  }
  function showCooldown(endMs) {
    $('shoot-btn').disabled = true;
    $('cam-open').disabled = true;
    countdown('cooldown', endMs, function (l) {
      return '冷静期：' + Z.fmtLeft(l) + '后可以重拍。请先看看下面的原因。';
    }, function () { $('shoot-btn').disabled = false; $('cam-open').disabled = false; });
  }
  function showShoot() {
    $('lockbox').hidden = true;
    $('shoot-btn').disabled = false;
    $('cam-open').disabled = false;
    stopCountdown('cooldown');
    $('cooldown').hidden = true;
    if (!shot && !stream) shootState('start');
    if (!me) return;
    var full = me.drafts && me.capacity && me.drafts.length >= me.capacity;
    $('v-shoot').hidden = $('v-shoot').hidden || (full && me.step === 'submit');
    var last = me.last_capture;
    if (last && !last.pass && !$('verdict').dataset.fresh) showVerdict(last.verdict, '上次拍摄未通过（' + Z.fmtTime(last.at) + '）');
    if (me.lock) {
      showLock(me.lock, me.lock_until);
    } else if (me.cooldown_until && Date.parse(me.cooldown_until) > Date.now()) {
      showCooldown(Date.parse(me.cooldown_until));
    } else if (full) {
      $('shoot-start').hidden = true;
    }
  }
  function showVerdict(v, title, attemptsLeft) {
    var box = $('verdict');
    box.textContent = '';
    box.hidden = false;
    box.className = v && v.pass ? 'verdict pass' : 'verdict fail';
    box.appendChild(el('h3', { text: title }));
    if (v && v.reasons && v.reasons.length) {
      var ul = el('ul', { id: 'reasons' });
      v.reasons.forEach(function (r) {
        var w = Z.reason(r);
        ul.appendChild(el('li', { 'data-code': r.code, title: r.code }, [el('b', { text: w.title }),
          w.measured ? el('span', { 'class': 'measured', text: '（' + w.measured + '）' }) : null,
          w.advice ? el('div', { 'class': 'advice', text: '建议：' + w.advice }) : null]));
      });
      box.appendChild(ul);
    }
    if (typeof attemptsLeft === 'number') {
      box.appendChild(el('p', { 'class': 'left', text: '再有 ' + attemptsLeft + ' 次未通过，账号将被锁定。' }));
    }
  }
  $('shoot-btn').addEventListener('click', function () {
    quiet();
    if (!shot) { say('请先拍摄照片', 'error'); return; }
    var fd = new FormData();
    fd.append('photo', shot.photo, 'photo.jpg');
    shot.frames.forEach(function (f, i) { fd.append('frames', f, 'frame' + i + '.jpg'); });
    fd.append('meta', JSON.stringify({ camera: shot.camera, source: shot.source }));
    $('shoot-btn').disabled = true;
    $('verdict').hidden = true;
    call('POST', '/captures', fd, '正在制作并检测照片，请稍候…').then(function (j) {
      shot = null;
      $('verdict').dataset.fresh = '1';
      showVerdict(j.verdict, '检测通过，照片已存入草稿箱');
      say('检测通过！请在草稿箱中选择照片上传');
      $('photo').value = ''; $('frames').value = '';
      return refresh();
    }).catch(function (e) {
      var b = e.body || {};
      $('shoot-btn').disabled = false;
      if (b.verdict) {
        $('verdict').dataset.fresh = '1';
        showVerdict(b.verdict, '照片未通过检测', b.attempts_left);
        shot = null;
        shootState('start');
      }
      fail(e);
      if (e.code === 'CHECK_FAILED') {
        showCooldown(b.until ? Date.parse(b.until) : Date.now() + (b.retry_after || 0) * 1000);
      } else if (e.code === 'COOLING_DOWN') {
        showCooldown(Date.now() + (b.retry_after || 0) * 1000);
      } else if (e.code === 'LOCKED') {
        if (me && b.contact && me.student) me.student.contact = b.contact;
        showLock(b.lock, b.until);
      } else if (e.code === 'DRAFTS_FULL') {
        refresh();
      }
    });
  });

  /* ---- 13 drafts box ---- */
  function draftImg(url, img) {
    /* drafts need the Bearer token, so an <img src> cannot load them */
    return call('GET', url.replace(/^\/api\/v1/, ''), undefined, false).then(function (b) {
      var u = URL.createObjectURL(b);
      blobs.push(u);
      img.src = u;
      return u;
    }).catch(function () { img.alt = '照片暂时无法显示'; });
  }
  function ask(text, yes) {
    return new Promise(function (resolve) {
      var d = $('ask');
      $('ask-text').textContent = text;
      $('ask-yes').textContent = yes || '确定';
      var done = function (v) { $('ask-form').onsubmit = null; $('ask-no').onclick = null; if (d.open) d.close(); resolve(v); };
      $('ask-form').onsubmit = function (ev) { ev.preventDefault(); done(true); };
      $('ask-no').onclick = function () { done(false); };
      d.onclose = function () { if ($('ask-form').onsubmit) done(false); };
      if (d.showModal) d.showModal(); else resolve(window.confirm(text));
    });
  }
  function loadDrafts() {
    blobs.forEach(function (u) { URL.revokeObjectURL(u); });
    blobs = [];
    return call('GET', '/drafts', undefined, false).then(function (d) {
      var ul = $('drafts-list');
      ul.textContent = '';
      var chosen = me && me.order ? me.order.draft_id : null;
      $('drafts-count').textContent = d.drafts.length + ' / ' + d.capacity;
      $('drafts-full').hidden = d.drafts.length < d.capacity;
      if (!d.drafts.length) ul.appendChild(el('li', { 'class': 'empty', text: '还没有通过检测的照片' }));
      d.drafts.forEach(function (dr) {
        var img = el('img', { alt: '草稿照片 ' + Z.fmtTime(dr.created_at), 'class': 'thumb' });
        var deletable = Date.parse(dr.deletable_at) <= Date.now();
        var del = el('button', { type: 'button', 'class': 'del', text: '删除',
          onclick: function () { deleteDraft(dr); } });
        del.disabled = !deletable || dr.id === chosen;
        var pick = el('button', { type: 'button', 'class': 'primary pick', text: dr.id === chosen ? '已选用' : '选这张',
          onclick: function () { picking = { id: dr.id, url: dr.photo_url }; changing = false; render(me.step); } });
        if (me && (me.step === 'producing' || me.step === 'done')) pick.disabled = true;
        var when = el('div', { 'class': 'deletable', id: 'dl-' + dr.id });
        ul.appendChild(el('li', { 'data-id': String(dr.id), 'class': dr.id === chosen ? 'chosen' : '' }, [
          img, el('div', { 'class': 'meta' }, [el('div', { text: Z.fmtTime(dr.created_at) + ' 拍摄' }), when,
            el('div', { 'class': 'buttons' }, [pick, del])])]));
        if (dr.id === chosen) when.textContent = '已选用，不能删除';
        else if (deletable) when.textContent = '可以删除';
        else {
          countdown(when.id, Date.parse(dr.deletable_at), function (l) { return Z.fmtLeft(l) + '后可删除'; },
            function () { when.hidden = false; when.textContent = '可以删除'; del.disabled = false; });
        }
        draftImg(dr.photo_url, img);
      });
      if (me && me.step === 'pay' && changing) {
        ul.appendChild(el('li', { 'class': 'empty' }, [el('button', { type: 'button', text: '不换了，返回缴费',
          onclick: function () { changing = false; render(me.step); } })]));
      }
    }).catch(fail);
  }
  function deleteDraft(dr) {
    quiet();
    ask('删除这张照片？删除后不能恢复。', '删除').then(function (ok) {
      if (!ok) return;
      return call('DELETE', '/drafts/' + dr.id).then(function () {
        say('已删除');
        return refresh();
      });
    }).catch(fail);
  }

  /* ---- 14 confirm upload ---- */
  function showUpload() {
    $('upload-img').removeAttribute('src');
    if (picking) draftImg(picking.url, $('upload-img'));
  }
  $('upload-back').addEventListener('click', function () { picking = null; quiet(); render(me.step); });
  $('upload-btn').addEventListener('click', function () {
    quiet();
    var id = picking.id;
    call('POST', '/submission', { draft_id: id }, '正在提交…').then(function () {
      picking = null; changing = false;
      return refresh();
    }).catch(function (e) { fail(e); if (e.code === 'ALREADY_PAID') { picking = null; refresh(); } });
  });

  /* ---- 15 payment ---- */
  function showPay() {
    var o = (me && me.order) || {};
    $('order-amount').textContent = typeof o.amount_fen === 'number' ? (o.amount_fen ? Z.yuan(o.amount_fen) : '免费') : '';
    $('order-no').textContent = o.out_trade_no || '';
    $('order-status').textContent = Z.orderStatus(o.status);
    $('order-expiry').textContent = o.expires_at ? Z.fmtTime(o.expires_at) + ' 前' : '';
    $('pay-btn').textContent = '微信支付 ' + (o.amount_fen ? Z.yuan(o.amount_fen) : '');
    $('pay-btn').disabled = o.status !== 'UNPAID';
    $('pay-change').hidden = o.status !== 'UNPAID';
    $('pay-img').removeAttribute('src');
    if (o.draft_id) draftImg('/api/v1/drafts/' + o.draft_id + '/photo', $('pay-img'));
    if (o.status === 'UNPAID' && o.expires_at) {
      countdown('order-left', Date.parse(o.expires_at), function (l) { return '请在 ' + Z.fmtLeft(l) + '内完成支付，超时订单将关闭'; },
        function () { refresh(); });
    } else {
      stopCountdown('order-left'); $('order-left').hidden = true;
    }
    if (o.status === 'PAID') poll();
  }
  $('pay-change').addEventListener('click', function () { changing = true; quiet(); render('pay'); });
  /* The demo pays through the WeChat sandbox; the mini-program calls
   * wx.requestPayment with order.pay.  A same-origin /sandbox/pay exists
   * only where a test harness proxies it: make run keeps the sandbox on its
   * own port (a public /sandbox/pay would let anyone mark orders paid), so
   * the page then names the sandbox's own payment page. */
  $('pay-btn').addEventListener('click', function () {
    quiet();
    var o = me && me.order;
    if (!o) return;
    $('pay-btn').disabled = true;
    call('POST', '/sandbox/pay', { out_trade_no: o.out_trade_no }, '正在支付…').then(function () {
      say('支付成功，正在确认…');
      poll();
    }).catch(function (e) {
      $('pay-btn').disabled = false;
      fail(e);
      $('pay-cmd').hidden = false;
      /* 8089: make run's sandbox port (TUCAI_SANDBOX_PORT changes it; the
       * address make run prints is the one to use) */
      var sb = location.protocol + '//' + location.hostname + ':8089/sandbox/pay';
      $('pay-cmd').textContent = '演示环境：请在支付沙箱自己的页面上支付（make run 启动时打印其地址）：\n'
        + sb + '?out_trade_no=' + encodeURIComponent(o.out_trade_no) + '\n'
        + '或 / or: curl -X POST ' + sb + ' -H \'Content-Type: application/json\' '
        + '-d \'{"out_trade_no":"' + o.out_trade_no + '"}\'';
      poll();
    });
  });

  /* ---- 16 production, download ---- */
  function poll() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(function () {
      pollTimer = null;
      call('GET', '/me', undefined, false).then(function (m) {
        var changed = !me || m.step !== me.step || m.photo_ready !== me.photo_ready
          || (m.order && me.order && m.order.status !== me.order.status);
        me = m;
        if (changed) render(m.step);
        if (!m.photo_ready && (m.step === 'pay' || m.step === 'producing')) poll();
      }).catch(function () { poll(); });
    }, 1500);
  }
  function waitProduced() { poll(); }
  function showDone() {
    if (!me || !me.photo_ready) { poll(); return; }
    call('GET', '/photo', undefined, '正在加载照片…').then(function (b) {
      var u = URL.createObjectURL(b);
      $('final-img').src = u;
      $('final-img').hidden = false;
      $('final-link').href = u;
      $('final-link').hidden = false;
    }).catch(fail);
  }

  refresh();
})();
