/* tucai: the words both UIs show (H5 client and the teacher console load
 * this file): journey steps, photo-check reasons with the measured value
 * and advice, API errors, Beijing time and yuan.  Machine codes never reach
 * the screen; callers put them in a title attribute for support. */
(function () {
  'use strict';

  var STEPS = {
    code: '输入采集码', phone: '填写手机号', confirm: '核对信息', notice: '阅读须知',
    subscribe: '订阅通知', video: '观看指引', shoot: '拍摄照片', submit: '选择照片',
    pay: '待支付', producing: '制作中', done: '已完成'
  };
  var STEP_ORDER = ['code', 'phone', 'confirm', 'notice', 'subscribe', 'video',
                    'shoot', 'submit', 'pay', 'producing', 'done'];

  function num(v, digits) {
    if (typeof v !== 'number') return String(v);
    return String(Math.round(v * Math.pow(10, digits || 0)) / Math.pow(10, digits || 0));
  }
  function pct(v) { return typeof v === 'number' ? Math.round(v * 100) + '%' : String(v); }
  var SOURCE_VALUE = { 'source=album': '照片来自相册', 'source=camera': '现场拍摄',
    'screenshot-like PNG': '像是截图', 'camera photo': '相机照片',
    'fewer than 2 usable frames': '连拍中可用的画面不足 2 张' };
  function txt(v) { return SOURCE_VALUE[v] || (typeof v === 'number' ? num(v, 2) : String(v)); }

  /* code -> [title, measured(value, limit) or null, advice] */
  var REASONS = {
    LOW_RESOLUTION: ['照片分辨率太低', function (v, l) { return '短边 ' + v + ' 像素，至少需要 ' + l + ' 像素'; },
      '请用手机后置摄像头拍摄原图，不要截图或压缩'],
    NO_FACE: ['没有检测到人脸', null, '请正对镜头，脸部完整露出，不要遮挡'],
    MULTIPLE_FACES: ['照片中不止一个人', function (v) { return '检测到 ' + v + ' 张人脸'; },
      '只能本人入镜，请其他人离开画面'],
    FACE_TOO_SMALL: ['人脸太小', function (v, l) { return '人脸占画面宽度 ' + pct(v) + '，至少需要 ' + pct(l); },
      '请拍摄者走近一些，让头肩占满取景框'],
    FACE_TOO_LARGE: ['人脸太大', function (v, l) { return '人脸占画面宽度 ' + pct(v) + '，最多 ' + pct(l); },
      '请离镜头远一些，露出双肩'],
    FACE_OFF_CENTER: ['人脸没有居中', function (v, l) { return '偏离中心 ' + pct(v) + '，最多允许 ' + pct(l); },
      '请让脸位于画面正中'],
    HEAD_TILTED: ['头部歪斜', function (v, l) { return '倾斜 ' + num(Math.abs(v), 1) + '°，最多允许 ' + num(l, 1) + '°'; },
      '请保持头部端正，双眼保持水平'],
    EYES_NOT_FOUND: ['没有检测到双眼', null, '请睁开双眼、正对镜头；戴眼镜请避免反光'],
    TOO_DARK: ['照片太暗', function (v, l) { return '亮度 ' + num(v) + '，至少需要 ' + num(l) + '（最亮为 255）'; },
      '请到光线充足的地方拍摄，或打开室内灯光'],
    TOO_BRIGHT: ['照片太亮（曝光过度）', function (v, l) { return '亮度 ' + num(v) + '，最多 ' + num(l) + '（最亮为 255）'; },
      '请避开强光直射，不要使用闪光灯'],
    UNEVEN_LIGHTING: ['脸部光线不均匀', function (v, l) { return '左右两侧亮度相差 ' + num(v, 2) + ' 倍，最多 ' + num(l, 2) + ' 倍'; },
      '请面向光源站立，避免脸的一侧有阴影'],
    BLURRY: ['照片模糊', function (v, l) { return '清晰度 ' + num(v) + '，至少需要 ' + num(l); },
      '请拿稳手机，点击屏幕对焦后再拍'],
    BACKGROUND_NOT_UNIFORM: ['背景不是纯色', function (v, l) { return '背景色差 ' + num(v, 1) + '，最多 ' + num(l, 1); },
      '请站在白色或浅色的纯色墙面前拍摄'],
    RECAPTURE_SUSPECTED: ['疑似翻拍屏幕或照片', function (v) { return typeof v === 'string' ? txt(v) : '翻拍特征 ' + num(v, 2); },
      '请本人现场拍摄，不要拍摄屏幕、打印照片或使用相册图片'],
    PRODUCTION_FAILED: ['无法按规格制作证件照', null, '请重新拍摄：头顶上方和双肩都要留出空间'],
    LIVENESS_FAILED: ['活体检测未通过', function (v, l) { return typeof v === 'string' ? txt(v) : '动作变化 ' + num(v, 2) + '，至少需要 ' + num(l, 2); },
      '请本人面对镜头实时拍摄，连拍时自然眨眼或轻微转头'],
    CORRUPT_IMAGE: ['图片已损坏或不完整', null, '请重新拍摄'],
    UNSUPPORTED_FORMAT: ['不支持的图片格式', null, '请使用 JPEG、PNG、HEIC 或 WebP 格式的照片']
  };

  /* one reason of a verdict in words: {code, title, measured, advice} */
  function reason(r) {
    var d = REASONS[r.code];
    var zhMsg = (r.message || '').split(' / ')[0];
    if (!d) return { code: r.code, title: zhMsg || '未通过检测', measured: '', advice: '' };
    var measured = '';
    if (d[1] && r.value !== null && r.value !== undefined) {
      try { measured = d[1](r.value, r.limit); } catch (e) { measured = ''; }
    }
    return { code: r.code, title: d[0], measured: measured, advice: d[2] };
  }
  function reasonTitle(code) { return REASONS[code] ? REASONS[code][0] : code; }

  function fmtLeft(s) {
    s = Math.max(0, Math.ceil(s));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return h + ' 小时 ' + m + ' 分';
    return m ? m + ' 分 ' + sec + ' 秒' : sec + ' 秒';
  }

  /* API errors: code -> words; f(body) may use the answer's extras */
  var ERRORS = {
    UNAUTHORIZED: '登录已过期，请重新登录',
    RATE_LIMITED: function (b) { return '操作太频繁，请' + (b.retry_after ? ' ' + fmtLeft(b.retry_after) + ' 后' : '稍后') + '再试'; },
    POOL_UNAVAILABLE: function (b) { return '服务器繁忙，请' + (b.retry_after ? ' ' + fmtLeft(b.retry_after) + ' 后' : '稍后') + '重试'; },
    DB_UNAVAILABLE: function (b) { return '服务器暂时不可用，请' + (b.retry_after ? ' ' + fmtLeft(b.retry_after) + ' 后' : '稍后') + '重试'; },
    WECHAT_UNAVAILABLE: '暂时无法连接微信，请稍后重试',
    WECHAT_CODE_INVALID: '微信登录失败，请关闭页面后重新打开',
    CODE_UNKNOWN: '采集码不正确，请核对后重新输入（注意区分数字和字母）',
    CODE_REVOKED: function (b) { return b.reason === 'expired' ? '该采集码已过期，请联系学校老师重新领取' : '该采集码已作废，请联系学校老师重新领取'; },
    COLLECTION_NOT_OPEN: function (b) { return '本校照片采集尚未开始' + (b.window_start ? '，开始时间：' + fmtTime(b.window_start) : '') + '。请在采集时间内再来'; },
    COLLECTION_CLOSED: function (b) { return '本校照片采集已于 ' + (b.window_end ? fmtTime(b.window_end) : '') + ' 结束。如需补拍，请联系学校老师'; },
    CODE_BOUND_ELSEWHERE: '该采集码已被另一个微信账号使用。如果不是你本人操作，请联系学校老师',
    QR_NOT_FOUND: '图片中没有找到二维码，请把二维码拍清楚、拍完整后再试',
    PHONE_INVALID: '手机号格式不正确，请输入 11 位手机号',
    STEP_NOT_ALLOWED: '当前步骤不能进行这个操作，页面已刷新',
    NOTICE_OUTDATED: '学校刚刚更新了须知，请重新阅读',
    VIDEO_NOT_FINISHED: function (b) { return '请先看完指引视频' + (typeof b.remaining_s === 'number' ? '（还剩 ' + fmtLeft(b.remaining_s) + '）' : ''); },
    CHECK_FAILED: '照片未通过检测，请看下方原因后重拍',
    LOCKED: function (b) { return b.lock === 'liveness' ? '账号已锁定，需要学校老师解锁' : '账号暂时锁定' + (b.until ? '，' + fmtTime(b.until) + ' 自动解锁' : ''); },
    COOLING_DOWN: function (b) { return '请稍等' + (b.retry_after ? ' ' + fmtLeft(b.retry_after) : '') + '再拍'; },
    DRAFTS_FULL: '草稿箱已满，请先删除一张草稿再拍摄',
    UPLOAD_IN_PROGRESS: '上一张照片还在检测中，请稍候',
    BODY_TOO_LARGE: '文件太大，请压缩后再上传',
    UNSUPPORTED_FORMAT: '不支持的图片格式，请使用 JPEG、PNG、HEIC 或 WebP',
    CORRUPT_IMAGE: '图片已损坏或不完整，请重新拍摄',
    DRAFT_TOO_NEW: function (b) { return '草稿保存后 24 小时内不能删除' + (b.deletable_at ? '，' + fmtTime(b.deletable_at) + ' 后可删除' : ''); },
    DRAFT_SUBMITTED: '这张照片已提交，不能删除',
    ALREADY_PAID: '已经支付，不能再更换照片',
    PHOTO_NOT_READY: '照片还在制作中，请稍候',
    NOT_FOUND: '没有找到要访问的内容',
    BAD_MULTIPART: '上传的内容不完整，请重试',
    BODY_INCOMPLETE: '上传中断，请重试',
    OFFLINE: '网络连接失败，请检查网络后重试'
  };
  function errorText(code, body) {
    body = body || {};
    var e = ERRORS[code];
    if (typeof e === 'function') return e(body);
    if (e) return e;
    /* our messages are "中文 / English": the Chinese half */
    var zh = (body.message || '').split(' / ')[0];
    return zh || '操作失败，请稍后重试';
  }

  /* Beijing time, whatever the device's zone */
  var fmt = null;
  try {
    fmt = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit',
      day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch (e) { fmt = null; }
  function fmtTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '';
    var t = new Date(d.getTime() + 8 * 3600 * 1000);   /* without Intl: shift by hand */
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    if (fmt && fmt.formatToParts) {
      var o = {};
      fmt.formatToParts(d).forEach(function (x) { o[x.type] = x.value; });
      return o.year + '-' + o.month + '-' + o.day + ' ' + o.hour + ':' + o.minute;
    }
    return t.getUTCFullYear() + '-' + p(t.getUTCMonth() + 1) + '-' + p(t.getUTCDate()) + ' '
      + p(t.getUTCHours()) + ':' + p(t.getUTCMinutes());
  }
  function yuan(fen) {
    if (typeof fen !== 'number') return '';
    return (fen / 100).toFixed(2) + ' 元';
  }

  var ORDER_STATUS = { UNPAID: '待支付', PAID: '已支付', CLOSED: '已关闭', FREE: '免费' };

  window.TucaiZh = {
    STEPS: STEPS, STEP_ORDER: STEP_ORDER, step: function (s) { return STEPS[s] || s; },
    reason: reason, reasonTitle: reasonTitle, REASONS: REASONS,
    errorText: errorText, fmtTime: fmtTime, fmtLeft: fmtLeft, yuan: yuan,
    orderStatus: function (s) { return ORDER_STATUS[s] || s || ''; }
  };
})();
