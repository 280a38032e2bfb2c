# The H5 demo client (www/h5/) in headless Chromium on a phone-sized
# screen, through nginx, against the real API: a demo-school student goes
# from WeChat login to the final photo download, clicking what a student
# clicks.  Asserts what the page shows and the DB rows; screenshots are kept
# (TUCAI_SHOT_DIR=dir) for a human to look at.
#
# Chromium is driven over the DevTools protocol on a pipe by
# t/lib/Tucai/Chromium.pm; file inputs are filled with DOM.setFileInputFiles.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Tucai::Test;
use Tucai::Chromium;

my $CHROME = '/usr/bin/chromium';
die "missing prerequisite: no chromium (sh tools/deps.sh)\n" unless -x $CHROME;
my $TD = "$Tucai::Test::ROOT/build/testdata";
die "missing prerequisite: no test data (make testdata)\n" unless -e "$TD/.done";

# A short cooldown so the page's countdown runs out within the test; the
# sandbox's pay endpoint is proxied the way tools/run.sh does it (its port
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
binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);

# ---- Chromium, a phone: 390 CSS px wide, touch, mobile viewport rules ----
my $c = Tucai::Chromium->new(chrome => $CHROME, dir => $t->dir, width => 390, height => 844,
                             mobile => 1, scale => 2, timeout => 30);
sub js { $c->js(@_) }
# Waits in the page for a JS expression to be truthy (up to 20 s), returns it.
sub until_js {
    my ($expr) = @_;
    return js('for (let i = 0; i < 400; i++) { try { const v = (' . $expr . ');'
        . ' if (v) return v; } catch (e) {} await new Promise(r => setTimeout(r, 50)); }'
        . ' return null;');
}
sub visible { until_js("!document.getElementById('v-$_[0]').hidden && '$_[0]'") }
sub click { js("document.getElementById('$_[0]').click(); return 1;") }
sub setval { js('document.getElementById(' . $J->encode($_[0]) . ').value = '
                . JSON::PP->new->allow_nonref->encode($_[1]) . '; return 1;') }
sub msg_after {
    # the message shown once it contains $re (a JS regexp source)
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
    my $png = decode_base64($c->cdp('Page.captureScreenshot',
        { format => 'png', captureBeyondViewport => JSON::PP::true })->{data});
    is(substr($png, 0, 8), "\x89PNG\r\n\x1a\n", "screenshot $label");
    my $dir = $ENV{TUCAI_SHOT_DIR} || $t->dir;
    my $p = "$dir/h5-" . (++$shots) . "-$label.png";
    open my $fh, '>:raw', $p or die "$p: $!"; print $fh $png; close $fh;
    diag("screenshot: $p") if $ENV{TUCAI_SHOT_DIR};
}

# ---- 1 login ----
$c->cdp('Page.navigate', { url => $t->url('/h5/') });
$c->wait_event('Page.loadEventFired');
is(js('return document.title'), '学历照片采集 · tucai H5', 'H5 page loads');
is(visible('login'), 'login', 'login card first');
like(js("return document.getElementById('wx-code').value"), qr/^demo-\w+$/, 'random wx.login code prefilled');
is(until_js("getComputedStyle(document.querySelector('header')).backgroundColor === 'rgb(7, 193, 96)' && 'ok'"),
   'ok', 'the stylesheet applies');
setval('wx-code', 'fail-h5');
click('login-btn');
like(msg_after('WECHAT_CODE_INVALID'), qr/WECHAT_CODE_INVALID/, 'a refused wx.login code is reported');
setval('wx-code', 'h5-student-1');
click('login-btn');
is(visible('code'), 'code', 'logged in: collection code step');
like(js("return sessionStorage.getItem('tucai_h5_token')"), qr/^t1\./, 'token in sessionStorage');

# ---- 3 collection code ----
setval('code-text', 'NO-SUCH-CODE-123');
click('code-btn');
like(msg_after('CODE_UNKNOWN'), qr/采集码.*CODE_UNKNOWN/s, 'an unknown code shows the API message');
click('code-upload');
like(msg_after('QR'), qr/二维码/, 'uploading without a picture is caught in the page');
setval('code-text', $code);
click('code-btn');
is(visible('phone'), 'phone', 'code accepted: phone step');

# ---- 4 phone (a WeChat phone code), info check, back, confirm ----
setval('phone', 'phone:13912345678');
click('phone-btn');
is(visible('confirm'), 'confirm', 'info check page');
is_deeply(js(q{return ['ck-name','ck-no','ck-school','ck-phone'].map(i => document.getElementById(i).textContent)}),
          [$name, $no, $school, '13912345678'], 'name, student number, school and phone shown')
    or diag(js(q{return document.getElementById('ck-school').textContent}));
like(js("return document.getElementById('ck-warn').textContent"), qr/冒用他人身份/, 'identity warning');
is(js("return getComputedStyle(document.getElementById('ck-warn')).color"), 'rgb(192, 57, 43)', 'in red');
shot('check');
my $tok1 = js("return sessionStorage.getItem('tucai_h5_token')");
click('back-btn');
is(visible('phone'), 'phone', 'back shows the phone form again');
ok(!defined $t->sql_one("SELECT account_id FROM students WHERE id=$sid"), 'back binds nothing');
setval('phone', '13800138000');
click('phone-btn');
is(until_js("document.getElementById('ck-phone').textContent === '13800138000' && 'ok'"), 'ok',
   'typed phone on the check page');
click('confirm-btn');
is(visible('notice'), 'notice', 'confirmed: notice step');
my $tok2 = js("return sessionStorage.getItem('tucai_h5_token')");
isnt($tok2, $tok1, 'the token from /confirm replaced the old one');
ok($t->sql_one("SELECT account_id FROM students WHERE id=$sid"), 'student bound in the DB');
is($t->sql_one("SELECT phone FROM students WHERE id=$sid"), '13800138000', 'phone stored');

# ---- 5 notice, 6 subscriptions ----
like(until_js("document.getElementById('notice-body').textContent"), qr/后置摄像头/, 'notice text shown');
click('ack-btn');
is(visible('subscribe'), 'subscribe', 'notice acknowledged');
js("document.getElementById('sub-pay').checked = false; return 1;");
click('sub-btn');
is(visible('video'), 'video', 'subscriptions sent');
is_deeply([$t->sql("SELECT subs_set, sub_photo_status, sub_payment_result FROM students WHERE id=$sid")],
          [[1, 1, 0]], 'subscriptions recorded as chosen');

# ---- 7 guide video: next stays disabled, the server refuses early ----
click('video-start');
ok(until_js("(() => { const g = document.getElementById('guide');"
            . " return g && g.complete && g.naturalWidth > 0; })()"), 'the guide animation plays');
like(js("return document.getElementById('guide').src"), qr{/h5/guide\.svg$}, 'from the demo school URL');
ok(js("return document.getElementById('video-next').disabled"), 'next disabled while it plays');
like(until_js("document.getElementById('video-left').textContent"), qr/还需观看/, 'remaining time shown');
# a client that skips the wait anyway
js("const b = document.getElementById('video-next'); b.disabled = false; b.click(); return 1;");
like(msg_after('VIDEO_NOT_FINISHED'), qr/VIDEO_NOT_FINISHED.*还剩 \d+ 秒/s, 'early finish refused, remaining_s shown');
ok(until_js("document.getElementById('video-next').disabled"), 'next disabled again');
ok(until_js("!document.getElementById('video-next').disabled"), 'next enabled once the duration elapsed');
click('video-next');
is(visible('shoot'), 'shoot', 'video watched: shooting');
ok($t->sql_one("SELECT video_finished_at FROM students WHERE id=$sid"), 'video finish recorded');
is(js(q{const p = document.getElementById('photo'); return p.accept + ' ' + p.getAttribute('capture')}),
   'image/* environment', 'rear camera file input');

# ---- 10 a failing photo: every reason, then the cooldown ----
my @frames = map { "$TD/burst/live_$_.jpg" } 0 .. 3;
files('#photo', "$TD/set/noface_sk_coffee.jpg");
files('#frames', @frames);
click('shoot-btn');
like(msg_after('CHECK_FAILED'), qr/CHECK_FAILED.*将锁定/s, 'failed check reported, with attempts left');
my $reasons = until_js(q{(() => { const l = document.querySelectorAll('#reasons li');
    return l.length && Array.from(l).map(e => [e.dataset.code, e.textContent]); })()});
ok(grep({ $_->[0] eq 'NO_FACE' } @$reasons), 'NO_FACE listed');
ok(!grep({ $_->[1] !~ /\p{Han}/ } @$reasons), 'every reason in plain (Chinese) words');
my $db_reasons = $t->sql_one("SELECT reasons FROM captures WHERE student_id=$sid ORDER BY id DESC LIMIT 1");
is_deeply([sort map { $_->[0] } @$reasons], [sort split /,/, $db_reasons], 'the same reasons as the DB row');
like(until_js("document.getElementById('cooldown').textContent"), qr/冷静期/, 'cooldown countdown shown');
ok(js("return document.getElementById('shoot-btn').disabled"), 'shooting disabled while cooling down');
shot('verdict');
ok(until_js("!document.getElementById('shoot-btn').disabled"), 'shooting allowed after the cooldown');

# ---- 13 a good photo into the drafts box ----
files('#photo', "$TD/set/good.jpg");
files('#frames', @frames);
click('shoot-btn');
like(msg_after('通过'), qr/passed/, 'good photo passed');
ok(until_js(q{(() => { const i = document.querySelector('#drafts-list img.thumb');
    return i && i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0; })()}),
   'draft thumbnail loaded with the token');
my $draft = $t->sql_one("SELECT id FROM drafts WHERE student_id=$sid AND status='draft'");
is(js('return document.querySelector("#drafts-list li").dataset.id'), $draft, 'the DB draft listed');
like(js('return document.querySelector("#drafts-list .deletable").textContent'), qr/\d{4}-\d\d-\d\d/,
     'deletable time shown');
is(js("return document.getElementById('drafts-count').textContent"), '1 / 3', 'box count');
js('document.querySelector("#drafts-list button.del").click(); return 1;');
like(msg_after('DRAFT_TOO_NEW'), qr/可删除时间/, 'too-new delete refused, with the time');
is($t->sql_one("SELECT status FROM drafts WHERE id=$draft"), 'draft', 'draft kept');
shot('drafts');

# ---- 14-15 choose, pay through the sandbox ----
js('document.querySelector("#drafts-list button.pick").click(); return 1;');
is(visible('pay'), 'pay', 'draft chosen: payment');
is(until_js("document.getElementById('order-status').textContent"), '待支付 UNPAID', 'order unpaid');
my ($otn, $amount, $odraft) = @{ ($t->sql("SELECT out_trade_no, amount_fen, draft_id FROM orders WHERE student_id=$sid"))[0] };
is(js("return document.getElementById('order-no').textContent"), $otn, 'order number shown');
is(js("return document.getElementById('order-amount').textContent"), sprintf('¥%.2f', $amount / 100), 'amount');
is($odraft, $draft, 'order on the chosen draft');
shot('pay');
click('pay-btn');
is(until_js("!document.getElementById('v-done').hidden && 'done'") , 'done', 'paid and produced: done');
is($t->sql_one("SELECT status FROM orders WHERE student_id=$sid"), 'PAID', 'order PAID in the DB');

# ---- 16 download ----
click('final-btn');
is(until_js(q{(() => { const i = document.getElementById('final-img');
    return !i.hidden && i.complete && i.naturalWidth && i.naturalWidth + 'x' + i.naturalHeight; })()}),
   '480x640', 'the final photo downloads (480x640)');
ok(js("return document.getElementById('final-link').href.startsWith('blob:')"), 'save link');
shot('done');

done_testing;
