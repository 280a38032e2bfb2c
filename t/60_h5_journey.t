# The H5 client (www/h5/) in headless Chromium on a 390x844 phone, through
# nginx, against the real API: a demo-school student goes from WeChat login
# to the final photo, clicking (and pressing Enter) as a student does, with
# Chromium's fake camera playing a Y4M made from the test photos: the
# viewfinder with the face guide, the automatic liveness burst, the preview
# before 制作.  Every message in Chinese (codes only in tooltips), the
# cooldown countdown, the last verdict surviving a reload, the drafts box
# with its delete countdown, the confirm-upload page, the payment page with
# the chosen photo, fee in 元 and expiry, the done page with the photo.
# axe-core finds no serious or critical violations; screenshots of every
# page go to build/screenshots/ (h5-*.png); the done page also at 1366x900.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use Tucai::Test;
use Tucai::Chromium;

my $CHROME = '/usr/bin/chromium';
die "missing prerequisite: no chromium (sh tools/deps.sh)\n" unless -x $CHROME;
my $ROOT = $Tucai::Test::ROOT;
my $B = $ENV{TUCAI_BUILD} || "$ROOT/build";
my $TD = "$B/testdata";
die "missing prerequisite: no test data (make testdata)\n" unless -e "$TD/.done";
my $AXE = "$B/npm/node_modules/axe-core/axe.min.js";
die "missing prerequisite: $AXE (make www)\n" unless -e $AXE;

# A short cooldown so the page's countdown runs out within the test; the
# sandbox's pay endpoint is proxied here, in the test only (make run keeps
# the sandbox on its own port: t/29), so the page's click pays (its port
# is only known once the harness runs, so the address is patched in below).
my $t = Tucai::Test->new(worker_children => 2,
    worker_ini_extra => "[pay]\nreconcile = 1\n[outbox]\ninterval = 1\n",
    nginx_extra_server => "        tucai_cooldown 2s;\n"
        . "        location = /sandbox/pay { proxy_pass http://127.0.0.1:9/sandbox/pay; }\n");
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;
my $J = JSON::PP->new->utf8->canonical;
{
    my $conf = $t->dir . '/nginx/nginx.conf';
    open my $fh, '<', $conf or die; my $c = do { local $/; <$fh> }; close $fh;
    my $sb = $t->sandbox_url;
    $c =~ s{proxy_pass http://127\.0\.0\.1:9/}{proxy_pass $sb/} or die 'no sandbox proxy';
    open $fh, '>', $conf or die; print $fh $c; close $fh;
    $t->reload_nginx;
}
binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);
my $SHOTS = "$B/screenshots";
make_path($SHOTS);

# ---- the fake camera's picture: the test burst, 960x1280, 2 frames/s ----
my $y4m = $t->dir . '/camera.y4m';
{
    open my $out, '>:raw', $y4m or die;
    print $out "YUV4MPEG2 W960 H1280 F2:1 Ip A1:1 C420jpeg\n";
    for my $i (0 .. 3) {
        my $yuv = `convert $TD/burst/live_$i.jpg -resize '960x1280!' -sampling-factor 4:2:0 -interlace plane -depth 8 yuv:-`;
        die "convert failed" unless length($yuv) == 960 * 1280 * 3 / 2;
        print $out "FRAME\n", $yuv;
    }
    close $out;
}

# ---- the demo school, as make run seeds it ----
my $demo = $t->dir . '/demo.json';
my ($rc, $out) = $t->admin_cli('demo', $demo, '--base-url', $t->url(''),
                               '--sandbox-url', $t->sandbox_url);
is($rc, 0, 'demo seeded') or diag $out;
my $d = do { open my $fh, '<', $demo or die; local $/; $J->decode(<$fh>) };
my ($no, $code) = @{ $d->{codes}[0] }{qw(student_no code)};
my $sid = $t->sql_one("SELECT id FROM students WHERE school_id=$d->{school_id} AND student_no='$no'");
my ($name, $school) = @{ ($t->sql("SELECT st.name, sc.name FROM students st"
    . " JOIN schools sc ON sc.id = st.school_id WHERE st.id=$sid"))[0] };
utf8::decode($_) for $name, $school;

my $c = Tucai::Chromium->new(chrome => $CHROME, dir => $t->dir, width => 390, height => 844,
    mobile => 1, scale => 2, timeout => 30,
    args => ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
             "--use-file-for-fake-video-capture=$y4m", '--lang=zh-CN']);
sub js { $c->js(@_) }
sub until_js {
    my ($expr, $n) = @_;
    return js('for (let i = 0; i < ' . ($n // 400) . '; i++) { try { const v = (' . $expr . ');'
        . ' if (v) return v; } catch (e) {} await new Promise(r => setTimeout(r, 50)); }'
        . ' return null;');
}
sub visible { until_js("!document.getElementById('v-$_[0]').hidden && '$_[0]'") }
sub shown { js("const e = document.getElementById('$_[0]'); return !!e && getComputedStyle(e).display !== 'none' && e.getClientRects().length > 0;") }
sub click { js("document.getElementById('$_[0]').click(); return 1;") }
sub enter { js("document.getElementById('$_[0]').requestSubmit(); return 1;") }
sub setval { js('document.getElementById(' . $J->encode($_[0]) . ').value = '
                . JSON::PP->new->allow_nonref->encode($_[1]) . '; return 1;') }
sub msg_after {
    my ($re) = @_;
    until_js("(() => { const m = document.getElementById('msg');"
             . " return !m.hidden && /$re/.test(m.textContent) && m.textContent; })()");
}
sub files {
    my ($sel, @paths) = @_;
    my $root = $c->cdp('DOM.getDocument', {})->{root}{nodeId};
    my $node = $c->cdp('DOM.querySelector', { nodeId => $root, selector => $sel })->{nodeId};
    $c->cdp('DOM.setFileInputFiles', { nodeId => $node, files => \@paths });
}
my $shots = 0;
sub shot {
    my ($label) = @_;
    my $p = $c->screenshot(sprintf("%s/h5-%02d-%s.png", $SHOTS, ++$shots, $label), 1);
    ok(-s $p > 1000, "screenshot $label");
}
sub no_codes {
    my ($where) = @_;
    my $txt = js('return document.body.innerText');
    my @bad = $txt =~ /\b([A-Z][A-Z0-9]*_[A-Z0-9_]+|Error|UNPAID|PAID)\b/g;
    is_deeply(\@bad, [], "$where: no machine codes or English on screen");
}
sub axe_ok {
    my $v = $c->axe($AXE);
    is_deeply($v, [], "$_[0]: axe-core finds no serious or critical violations") or diag explain $v;
}

# ---- 1 login ----
$c->cdp('Page.navigate', { url => $t->url('/h5/') });
$c->wait_event('Page.loadEventFired');
is(js('return document.title'), '学历照片采集', 'H5 page loads');
is(visible('login'), 'login', 'login card first');
ok(!shown('progress') && !shown('logout'), 'no step bar and no log-out button before login (hidden works)');
like(js("return document.getElementById('wx-code').value"), qr/^demo-\w+$/, 'demo wx.login code prefilled');
axe_ok('login');
shot('login');
setval('wx-code', 'fail-h5');
enter('login-form');
my $m = msg_after('微信');
like($m, qr/微信登录失败/, 'a refused login in Chinese');
unlike($m, qr/[A-Za-z]{3,}/, 'without English or codes');
is(js("return document.getElementById('msg').title"), '错误代码：WECHAT_CODE_INVALID', 'the code only in the tooltip');
setval('wx-code', 'h5-student-1');
enter('login-form');
is(visible('code'), 'code', 'Enter logs in: collection code step');
ok(shown('progress') && shown('logout'), 'step bar and log-out shown once logged in');

# ---- 3 collection code ----
setval('code-text', 'NO-SUCH-CODE-123');
enter('code-form');
like(msg_after('采集码'), qr/采集码不正确/, 'an unknown code in words');
click('code-upload');
like(msg_after('二维码'), qr/二维码图片/, 'uploading without a picture is caught in the page');
setval('code-text', lc $code);
enter('code-form');
is(visible('phone'), 'phone', 'code accepted (typed in lower case): phone step');
axe_ok('phone');

# ---- 4 phone as people type it, info check, back, confirm ----
setval('phone', '138001');
enter('phone-form');
like(msg_after('手机号'), qr/11 位手机号/, 'a short number is caught');
setval('phone', '+86 138 0013 8000');
enter('phone-form');
is(visible('confirm'), 'confirm', 'info check page');
is_deeply(js(q{return ['ck-name','ck-no','ck-school','ck-phone'].map(i => document.getElementById(i).textContent)}),
          [$name, $no, $school, '13800138000'], '"+86 138 0013 8000" accepted as 13800138000');
like(js("return document.getElementById('ck-warn').textContent"), qr/冒用他人身份/, 'identity warning');
axe_ok('check');
shot('check');
click('back-btn');
is(visible('phone'), 'phone', 'back shows the phone form again');
ok(!defined $t->sql_one("SELECT account_id FROM students WHERE id=$sid"), 'back binds nothing');
enter('phone-form');
is(visible('confirm'), 'confirm', 'check again');
click('confirm-btn');
is(visible('notice'), 'notice', 'confirmed: notice step');
ok($t->sql_one("SELECT account_id FROM students WHERE id=$sid"), 'student bound in the DB');
is($t->sql_one("SELECT phone FROM students WHERE id=$sid"), '13800138000', 'phone stored');

# ---- 5 notice, 6 subscriptions ----
like(until_js("document.getElementById('notice-body').textContent"), qr/后置摄像头/, 'notice text shown');
click('ack-btn');
is(visible('subscribe'), 'subscribe', 'notice acknowledged');
click('sub-btn');
is(visible('video'), 'video', 'subscriptions sent');

# ---- 7 guide video ----
ok(until_js("!document.getElementById('video-start').disabled"), 'play offered once the guide is known');
click('video-start');
ok(until_js("(() => { const g = document.getElementById('guide'); return g && g.complete && g.naturalWidth > 0; })()"),
   'the guide plays');
ok(!shown('video-start'), '"开始播放" gone while it plays (tapping it would restart the guide)');
ok(js("return document.getElementById('video-next').disabled"), 'next disabled while it plays');
like(until_js("document.getElementById('video-left').textContent"), qr/还需观看 \d+ 秒/, 'remaining time shown');
js("const b = document.getElementById('video-next'); b.disabled = false; b.click(); return 1;");
like(msg_after('指引'), qr/请先看完指引视频（还剩 \d+ 秒）/, 'early finish refused, in words');
ok(until_js("!document.getElementById('video-next').disabled"), 'next enabled once the duration elapsed');
click('video-next');
is(visible('shoot'), 'shoot', 'video watched: shooting');

# ---- 8-9 the camera: viewfinder, guide, automatic burst, preview ----
click('cam-open');
ok(until_js("document.getElementById('cam-video').videoWidth > 0"), 'the camera plays in the viewfinder');
is(js("return document.getElementById('cam-video').videoWidth + 'x' + document.getElementById('cam-video').videoHeight"),
   '960x1280', 'from the fake camera');
ok(shown('cam') && js("return !!document.querySelector('.viewfinder svg.guide ellipse')"), 'with the face-position guide');
like(js("return document.getElementById('cam-tip').textContent"), qr/虚线框/, 'and what to do');
axe_ok('viewfinder');
shot('viewfinder');
click('cam-shoot');
like(until_js("!document.getElementById('cam-count').hidden && document.getElementById('cam-count').textContent"), qr/^[123]$/, 'a countdown');
ok(until_js("!document.getElementById('preview').hidden"), 'the preview after the burst');
like(js("return document.getElementById('preview-frames').textContent"), qr/连拍 4 张/, 'four liveness frames taken automatically');
ok(until_js("(() => { const i = document.getElementById('preview-img'); return i.complete && i.naturalWidth === 960; })()"),
   'the photo previewed before 制作');
ok(!js("return !!(document.getElementById('cam-video').srcObject)"), 'camera released');
shot('preview');
click('shoot-btn');
my $v1 = until_js("!document.getElementById('verdict').hidden && document.getElementById('verdict').className");
ok($v1, "the camera photo was checked ($v1)");
is_deeply([$t->sql("SELECT camera, source FROM captures WHERE student_id=$sid")], [['back', 'camera']],
          'capture meta from the camera path');
# The fake camera loops the test burst (a blink); which frame the photo
# catches depends on timing, so the verdict may go either way: either is
# shown in words.
like(js("return document.getElementById('verdict').innerText"), qr/检测通过|未通过/, 'the verdict in words');
diag('camera capture: ' . js("return document.getElementById('verdict').innerText"));
ok(until_js("!document.getElementById('cam-open').disabled"), 'shooting allowed again (after any cooldown)');

# ---- 10 a failing photo (file fallback): reasons, advice, cooldown, reload ----
my @frames = map { "$TD/burst/live_$_.jpg" } 0 .. 3;
js("document.getElementById('fallback').open = true; return 1;");
files('#photo', "$TD/set/noface_sk_coffee.jpg");
click('file-preview');
like(msg_after('连拍'), qr/3–5 张连拍照片/, 'no burst: asked for it before anything is sent');
files('#frames', @frames);
click('file-preview');
ok(until_js("!document.getElementById('preview').hidden"), 'file preview');
click('shoot-btn');
like(msg_after('未通过'), qr/照片未通过检测/, 'failed check in words');
my $reasons = until_js(q{(() => { const l = document.querySelectorAll('#reasons li');
    return l.length && Array.from(l).map(e => [e.dataset.code, e.textContent]); })()});
my ($nf) = grep { $_->[0] eq 'NO_FACE' } @$reasons;
like($nf->[1], qr/没有检测到人脸.*建议：请正对镜头/, 'NO_FACE with its advice');
like(js("return document.getElementById('verdict').textContent"), qr/再有 \d+ 次未通过，账号将被锁定/, 'attempts left');
like(until_js("document.getElementById('cooldown').textContent"), qr/冷静期：\d+ 秒后可以重拍/, 'cooldown countdown');
ok(js("return document.getElementById('cam-open').disabled"), 'shooting disabled while cooling down');
no_codes('verdict');
axe_ok('verdict');
shot('verdict');
js("location.reload(); return 1;");
$c->wait_event('Page.loadEventFired');
like(until_js("!document.getElementById('verdict').hidden && document.getElementById('verdict').textContent"),
     qr/上次拍摄未通过.*没有检测到人脸/s, 'after a reload the last verdict is still shown (GET /me)');
ok(until_js("!document.getElementById('cam-open').disabled"), 'shooting allowed after the cooldown');

# ---- 13 a good photo into the drafts box ----
js("document.getElementById('fallback').open = true; return 1;");
files('#photo', "$TD/set/good.jpg");
files('#frames', @frames);
click('file-preview');
ok(until_js("!document.getElementById('preview').hidden"), 'preview');
click('shoot-btn');
like(msg_after('通过'), qr/检测通过/, 'good photo passed');
# The drafts row exists once the verdict is shown; wait for the list to
# show that many (the old list may still be on screen, all loaded).
my @drafts = map { $_->[0] } $t->sql("SELECT id FROM drafts WHERE student_id=$sid AND status='draft' ORDER BY id DESC");
my $draft = $drafts[0];
my $thumbs_js = sprintf(q{(() => { const i = document.querySelectorAll('#drafts-list img.thumb');
    return i.length === %d && document.querySelector("#drafts-list li[data-id='%d']")
        && Array.from(i).every(x => x.src.startsWith('blob:') && x.complete && x.naturalWidth > 0); })()},
    scalar(@drafts), $draft);
ok(until_js($thumbs_js), 'draft thumbnails loaded with the token');
is(js("return document.getElementById('drafts-count').textContent"), scalar(@drafts) . ' / 3', 'box count');
ok(js('return document.querySelector("#drafts-list li[data-id=\'' . $draft . '\'] button.del").disabled'),
   'delete disabled for 24 h');
like(js('return document.querySelector("#drafts-list li[data-id=\'' . $draft . '\'] .deletable").textContent'),
     qr/\d+ 小时 \d+ 分后可删除/, 'with the time left');
no_codes('drafts');
axe_ok('drafts');
shot('drafts');

# ---- 14 confirm upload, back, again ----
js('document.querySelector("#drafts-list li[data-id=\'' . $draft . '\'] button.pick").click(); return 1;');
is(visible('upload'), 'upload', 'confirm-upload page');
ok(until_js("(() => { const i = document.getElementById('upload-img'); return i.complete && i.naturalWidth > 0; })()"),
   'the chosen photo shown');
ok(!$t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id=$sid"), 'no order yet');
axe_ok('confirm upload');
shot('upload');
click('upload-back');
is(visible('drafts'), 'drafts', 'back to the drafts box');
js('document.querySelector("#drafts-list li[data-id=\'' . $draft . '\'] button.pick").click(); return 1;');
is(visible('upload'), 'upload', 'confirm-upload again');
click('upload-btn');

# ---- 15 payment ----
is(visible('pay'), 'pay', 'uploaded: payment page');
my ($otn, $amount, $odraft) = @{ ($t->sql("SELECT out_trade_no, amount_fen, draft_id FROM orders WHERE student_id=$sid"))[0] };
is($odraft, $draft, 'order on the chosen draft');
is(until_js("document.getElementById('order-no').textContent"), $otn, 'order number shown');
is(js("return document.getElementById('order-amount').textContent"), sprintf('%.2f 元', $amount / 100), 'fee in 元');
is(js("return document.getElementById('order-status').textContent"), '待支付', 'status in words');
like(js("return document.getElementById('order-expiry').textContent"), qr/^\d{4}-\d\d-\d\d \d\d:\d\d 前$/, 'expiry in Beijing time');
like(until_js("document.getElementById('order-left').textContent"), qr/请在 .*内完成支付/, 'expiry countdown');
ok(until_js("(() => { const i = document.getElementById('pay-img'); return i.complete && i.naturalWidth > 0; })()"),
   'the chosen photo on the payment page');
ok(js("return document.getElementById('v-pay').getBoundingClientRect().top < 200"), 'the payment card at the top, not below the drafts');
no_codes('pay');
axe_ok('pay');
shot('pay');
click('pay-btn');

# ---- 16 done: the photo shows by itself ----
is(until_js("!document.getElementById('v-done').hidden && 'done'"), 'done', 'paid and produced: done');
is($t->sql_one("SELECT status FROM orders WHERE student_id=$sid"), 'PAID', 'order PAID in the DB');
is(until_js(q{(() => { const i = document.getElementById('final-img');
    return !i.hidden && i.complete && i.naturalWidth && i.naturalWidth + 'x' + i.naturalHeight; })()}),
   '480x640', 'the final photo (480x640)');
ok(js("return document.getElementById('final-link').href.startsWith('blob:') && !document.getElementById('final-link').hidden"),
   'and its download');
ok(js("return document.documentElement.scrollWidth <= 390"), 'no sideways scrolling on the phone');
no_codes('done');
axe_ok('done');
shot('done');

# ---- the same page on a desktop browser ----
$c->viewport(1366, 900, 0);
js("location.reload(); return 1;");
$c->wait_event('Page.loadEventFired');
ok(until_js("(() => { const i = document.getElementById('final-img'); return !i.hidden && i.naturalWidth > 0; })()"),
   'desktop: done page after a reload');
ok(js("return document.documentElement.scrollWidth <= 1366"), 'desktop: no sideways scrolling');
axe_ok('desktop done');
shot('done-desktop');

$t->check_logs;
done_testing;
