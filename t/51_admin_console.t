# The teacher console (www/admin/) in headless Chromium through nginx, as
# a school's photo teacher uses it: login; a GBK roster from Excel/WPS with
# a 班级 column checked (preview with each bad row's content, nothing
# written), then imported, with the honest summary colour; an .xlsx roster
# read in the browser by SheetJS; the student list paged and filtered by
# class and lock on the server; a student's detail page (capture history
# with thumbnails and reasons in words, the lock's cause); unlock with a
# confirmation and a reason (audited); codes for a class with the one-time
# CSV; settings as a form (fee in 元); the audit log with old -> new values.
# At 1366x900 and on a 390x844 phone (no sideways scrolling); axe-core finds
# no serious or critical violations; no machine codes on screen; screenshots
# of every page under build/screenshots/ for a person to look at.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Encode qw(encode decode_utf8);
use File::Path qw(make_path);
use File::Copy qw(copy);
use MIME::Base64 qw(encode_base64);
use Tucai::Test;
use Tucai::Chromium;

my $CHROME = '/usr/bin/chromium';
die "missing prerequisite: no chromium (sh tools/deps.sh)\n" unless -x $CHROME;
my $ROOT = $Tucai::Test::ROOT;
my $B = $ENV{TUCAI_BUILD} || "$ROOT/build";
my $AXE = "$B/npm/node_modules/axe-core/axe.min.js";
# the vendored libraries and axe-core are built by `make www` (make test)
for my $f ("$ROOT/www/admin/vendor/echarts.min.js", "$ROOT/www/admin/vendor/xlsx.full.min.js", $AXE) {
    die "missing prerequisite: $f (make www)\n" unless -e $f;
}
my $TD = "$B/testdata";
die "missing prerequisite: no test data (make testdata)\n" unless -e "$TD/.done";

my $t = Tucai::Test->new(worker_children => 2);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;
binmode(Test::More->builder->$_, ':utf8') for qw(output failure_output todo_output);
my $J = JSON::PP->new->utf8->canonical;
my $SHOTS = "$B/screenshots";
make_path($SHOTS);

# ---- data: a school with a fee, its teacher ----
my ($rc, $out) = $t->admin_cli('school-add', '--name', '控制台测试学校', '--fee', '0');
my ($sid) = $out =~ /^(\d+)\s*$/m or BAIL_OUT("school-add: $out");
my $pw = $t->dir . '/pw';
open my $fh, '>', $pw or die; print $fh "console-pass-1\n"; close $fh;
($rc, $out) = $t->admin_cli('teacher-add', '--school', $sid, '--username', 'console', '--password-file', $pw);
is($rc, 0, 'teacher') or diag $out;
sub rows { map { [map { defined $_ ? decode_utf8($_) : undef } @$_] } $t->sql($_[0]) }
sub one { my @r = rows($_[0]); @r ? $r[0][0] : undef }

my $c = Tucai::Chromium->new(chrome => $CHROME, dir => $t->dir, width => 1366, height => 900,
                             mobile => 0, scale => 1, timeout => 30);
sub js { $c->js(@_) }
sub until_js {
    my ($expr) = @_;
    return js('for (let i = 0; i < 300; i++) { try { const v = (' . $expr . ');'
        . ' if (v) return v; } catch (e) {} await new Promise(r => setTimeout(r, 50)); }'
        . ' return null;');
}
sub click { js("document.querySelector(" . $J->encode($_[0]) . ").click(); return 1;") }
sub setval { js('document.getElementById(' . $J->encode($_[0]) . ').value = '
                . JSON::PP->new->allow_nonref->encode($_[1]) . '; return 1;') }
sub msg { until_js("(() => { const m = document.getElementById('msg'); return !m.hidden && /$_[0]/.test(m.textContent) && m.textContent; })()") }
sub go { js("location.hash = '$_[0]'; return 1;") }
# a file as the teacher would pick it (bytes given), into a file input
sub pick_file {
    my ($id, $name, $bytes) = @_;
    js("const b = Uint8Array.from(atob('" . encode_base64($bytes, '') . "'), c => c.charCodeAt(0));"
       . " const dt = new DataTransfer(); dt.items.add(new File([b], " . $J->encode($name) . "));"
       . " const i = document.getElementById('$id'); i.files = dt.files;"
       . " i.dispatchEvent(new Event('input')); return 1;");
}
my %seen_shot;
sub shot {
    my ($label) = @_;
    my $p = $c->screenshot("$SHOTS/console-$label.png", 1);
    ok(-s $p > 1000, "screenshot $label");
}
# what a teacher reads: no step/status/reason codes, no English words
sub no_codes {
    my ($where) = @_;
    my $txt = js('return document.body.innerText');
    my @bad = $txt =~ /\b([A-Z][A-Z0-9]*_[A-Z0-9_]+|shoot|producing|revoked|liveness|student\.unlock|UNPAID)\b/g;
    is_deeply(\@bad, [], "$where: no machine codes on screen");
}
my $axe_pages = 0;
sub axe_ok {
    my ($where) = @_;
    my $v = $c->axe($AXE);
    is_deeply($v, [], "$where: axe-core finds no serious or critical violations") or diag explain $v;
}

# ---- login ----
$c->cdp('Page.navigate', { url => $t->url('/admin/') });
$c->wait_event('Page.loadEventFired');
is(js('return document.title'), '图像采集管理后台', 'console loads');
ok(js('return !document.getElementById("login-view").hidden'), 'login form shown');
is(until_js("getComputedStyle(document.querySelector('header')).backgroundColor === 'rgb(31, 111, 235)' && 'styled'"),
   'styled', 'the stylesheet applies');
axe_ok('login');
shot('1-login');
setval('login-user', 'console'); setval('login-pass', 'wrong-one');
js("document.getElementById('login-pass').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));"
   . " document.getElementById('login-form').requestSubmit(); return 1;");
like(msg('密码'), qr/用户名或密码错误/, 'a wrong password is reported in Chinese');
unlike(js("return document.getElementById('msg').textContent"), qr/[A-Za-z]{4,}/, 'without English');
setval('login-pass', 'console-pass-1');
js("document.getElementById('login-form').requestSubmit(); return 1;");
ok(until_js("!document.getElementById('app-view').hidden"), 'logged in (Enter submits the form)');
is(js('return document.getElementById("school-name").textContent'), '控制台测试学校', 'school name shown');
ok(until_js("document.getElementById('stat-total')"), 'overview first');

# ---- a GBK roster (Excel/WPS "CSV" on Chinese Windows) with classes ----
go('roster');
my $gbk = encode('gbk', "学号,姓名,性别,班级,手机号\r\n"
    . "C001,王小明,男,高三(1)班,138 0013 8000\r\n"
    . "C002,李小红,女,高三(1)班,\r\n"
    . "C 3,赵坏号,男,高三(2)班,\r\n"
    . "C004,钱四,女,高三(2)班,999\r\n"
    . "C005,孙五,男,高三(2)班,\r\n");
pick_file('roster-file', 'roster-gbk.csv', $gbk);
click('#roster-check');
my $sum = until_js("(() => { const e = document.getElementById('roster-summary'); return e && [e.className, e.textContent]; })()");
like($sum->[1], qr/尚未导入.*将新增 3 人.*有问题 2 行/s, 'preview summary');
like($sum->[1], qr/GBK.*忽略的列：性别/s, 'encoding and ignored column named');
is($sum->[0], 'summary partial', 'some rows bad: not green');
my $rej = js(q{return Array.from(document.querySelectorAll('#rejected-table tbody tr')).map(tr => Array.from(tr.cells).map(c => c.textContent));});
is(scalar @$rej, 2, 'two problem rows');
is_deeply([$rej->[0][0], $rej->[1][0]], [4, 5], 'with their line numbers');
like($rej->[0][1], qr/学号/, 'the problem in words');
like($rej->[1][2], qr/C004 \| 钱四 \| 女 \| 高三\(2\)班 \| 999/, 'and the row content');
ok(js("return !!document.getElementById('rejected-download')"), 'rejected rows can be downloaded');
is(one("SELECT COUNT(*) FROM students WHERE school_id=$sid"), 0, 'the preview wrote nothing');
ok(!js("return document.getElementById('roster-btn').disabled"), 'import enabled after the check');
axe_ok('roster preview');
shot('2-roster-preview');
click('#roster-btn');
like(msg('导入完成'), qr/有 2 行有问题未导入/, 'import done, problems said');
is(js("return document.getElementById('msg').className"), 'partial', 'in the partial colour, not green');
is_deeply([rows("SELECT student_no, name, class FROM students WHERE school_id=$sid ORDER BY student_no")],
          [['C001', '王小明', '高三(1)班'], ['C002', '李小红', '高三(1)班'], ['C005', '孙五', '高三(2)班']],
          'GBK names and classes in the DB, not mojibake');

# all rows bad: red
pick_file('roster-file', 'bad.csv', encode('gbk', "学号,姓名\r\nX 1,坏\r\n"));
click('#roster-check');
is(until_js("(() => { const e = document.getElementById('roster-summary'); return e && e.className; })()"),
   'summary error', 'nothing importable: red');
ok(js("return document.getElementById('roster-btn').disabled"), 'and import disabled');

# ---- an .xlsx roster, read in the browser: 60 students of 高三(3)班 ----
js(q{const aoa = [['学号', '姓名', '班级']];
     for (let i = 1; i <= 60; i++) aoa.push(['X' + String(i).padStart(3, '0'), '学生' + i, '高三(3)班']);
     const ws = XLSX.utils.aoa_to_sheet(aoa); const wb = XLSX.utils.book_new();
     XLSX.utils.book_append_sheet(wb, ws, '名单');
     const buf = XLSX.write(wb, { type: 'array', bookType: 'xlsx' });
     const dt = new DataTransfer(); dt.items.add(new File([buf], 'roster.xlsx'));
     const i = document.getElementById('roster-file'); i.files = dt.files; i.dispatchEvent(new Event('input'));
     document.getElementById('roster-check').click(); return 1;});
like(until_js("(() => { const e = document.getElementById('roster-summary'); return e && /将新增 60/.test(e.textContent) && e.textContent; })()"),
     qr/将新增 60 人/, 'xlsx parsed in the browser');
is(js("return document.getElementById('roster-summary').className"), 'summary ok', 'all good: green');
click('#roster-btn');
ok(until_js("/导入完成[^]*新增 60/.test(document.getElementById('roster-summary').textContent)"), 'xlsx imported');
is(one("SELECT COUNT(*) FROM students WHERE school_id=$sid AND class='高三(3)班'"), 60, '60 in the DB');

# ---- data for the lists: a locked student with failed captures ----
my $c2 = one("SELECT id FROM students WHERE school_id=$sid AND student_no='C002'");
$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3, attempts=4, step='shoot' WHERE id=$c2");
make_path($t->files_dir . "/originals/$c2");
copy("$TD/set/good.jpg", $t->files_dir . "/originals/$c2/1.jpg") or die;
copy("$TD/set/face_small.jpg", $t->files_dir . "/originals/$c2/2.jpg") or die;
my $now = time;
my $v1 = $J->encode({ pass => JSON::PP::false, reasons => [{ code => 'LIVENESS_FAILED', message => 'x', value => 0.012, limit => 0.05 }] });
my $v2 = $J->encode({ pass => JSON::PP::false, reasons => [{ code => 'FACE_TOO_SMALL', message => 'x', value => 0.11, limit => 0.15 },
                                                         { code => 'LIVENESS_FAILED', message => 'x', value => 'fewer than 2 usable frames', limit => 2 }] });
$t->sql_do("INSERT INTO captures (student_id, created_at, pass, reasons, verdict_json, original_path, camera, source) VALUES"
           . " ($c2, " . ($now - 600) . ", 0, 'LIVENESS_FAILED', '$v1', 'originals/$c2/1.jpg', 'back', 'camera'),"
           . " ($c2, " . ($now - 300) . ", 0, 'FACE_TOO_SMALL,LIVENESS_FAILED', '$v2', 'originals/$c2/2.jpg', 'front', 'album')");

# ---- students: paged and filtered by the server ----
go('students');
setval('page-size', '20');
js("document.getElementById('page-size').dispatchEvent(new Event('change')); return 1;");
like(until_js("/共 63 人，第 1–20 人/.test(document.getElementById('students-total').textContent) && document.getElementById('students-total').textContent"),
     qr/共 63 人，第 1–20 人/, 'total and the page shown');
is(js("return document.querySelectorAll('#students-table tbody tr').length"), 20, 'a page of 20');
click('#page-next');
is(until_js("document.getElementById('page-info').textContent.indexOf('第 2 /') === 0 && document.querySelector('#students-table tbody tr').dataset.no"),
   'X018', 'the second page from the server');
ok(until_js("Array.from(document.getElementById('f-class').options).some(o => o.value === '高三(2)班')"), 'classes offered as a filter');
setval('f-class', '高三(1)班');
js("document.getElementById('f-class').dispatchEvent(new Event('change')); return 1;");
is_deeply(until_js("(() => { const r = Array.from(document.querySelectorAll('#students-table tbody tr')).map(t => t.dataset.no);"
                   . " return r.length === 2 && r; })()"), ['C001', 'C002'], 'class filter');
setval('f-class', '');
setval('f-locked', '1');
js("document.getElementById('f-locked').dispatchEvent(new Event('change')); return 1;");
is_deeply(until_js("(() => { const r = Array.from(document.querySelectorAll('#students-table tbody tr')).map(t => t.dataset.no);"
                   . " return r.length === 1 && r; })()"), ['C002'], 'locked filter');
my $cells = js("return Array.from(document.querySelector('#students-table tbody tr').cells).map(c => c.textContent)");
is($cells->[3], '拍摄照片', 'step in words');
like($cells->[4], qr/活体检测锁定，待老师解锁/, 'lock in words');
click('button.sort[data-sort=name]');
ok(until_js("document.querySelector('th[aria-sort=ascending] button[data-sort=name]')"), 'sortable columns');
ok(until_js("/共 1 人/.test(document.getElementById('students-total').textContent) && document.getElementById('msg').hidden"),
   'sorted by name without an error');
no_codes('students');
axe_ok('students');
shot('3-students');

# ---- the student's page ----
click('#students-table tbody tr a.button');
is(until_js("document.getElementById('st-title').textContent.indexOf('C002') >= 0 && location.hash"), '#student/C002', 'detail page');
like(until_js("document.getElementById('st-lock-text') && document.getElementById('st-lock-text').textContent"),
     qr/连续 3 次活体检测未通过.*活体检测未通过 2 次/s, 'the lock and its cause');
my $caps = until_js(q{(() => { const c = document.querySelectorAll('#st-captures .capture');
    return c.length === 2 && Array.from(c).map(e => e.textContent); })()});
like($caps->[0], qr/人脸太小：人脸占画面宽度 11%，至少需要 15%/, 'reasons with the measured value in words');
like($caps->[0], qr/相册选图 · 前置摄像头/, 'source and camera');
like($caps->[1], qr/动作变化 0\.01，至少需要 0\.05/, 'liveness value');
ok(until_js(q{(() => { const i = document.querySelectorAll('#st-captures img.thumb');
    return i.length === 2 && Array.from(i).every(x => x.complete && x.naturalWidth > 0); })()}), 'capture thumbnails load');
no_codes('student detail');
axe_ok('student detail');
shot('4-student');

# ---- unlock: confirmation with a reason, audited ----
click('#st-unlock');
ok(until_js("document.getElementById('confirm-dialog').open"), 'unlock asks first');
like(js("return document.getElementById('cd-text').textContent"), qr/核实是本人/, 'saying what to check');
axe_ok('unlock dialog');
shot('5-unlock-dialog');
click('#cd-ok');
ok(js("return document.getElementById('confirm-dialog').open"), 'no reason: still asking');
setval('cd-reason', '班主任核实为本人');
click('#cd-ok');
like(msg('已解锁'), qr/已解锁 李小红（C002）/, 'unlocked');
is_deeply([$t->sql("SELECT lock_kind, liveness_fails FROM students WHERE id=$c2")], [[0, 0]], 'unlocked in the DB');
like(one("SELECT detail FROM audit_log WHERE school_id=$sid AND action='student.unlock' AND target='C002'"),
     qr/班主任核实为本人/, 'audited with the reason');
ok(until_js("!document.getElementById('st-unlock')"), 'no unlock button once unlocked');

# ---- unbind a bound student (confirmation, reason, audited) ----
$t->sql_do("INSERT INTO accounts (openid, created_at, last_login_at) VALUES ('o-c001', $now, $now)");
my $acc = $t->sql_one("SELECT MAX(id) FROM accounts");
$t->sql_do("UPDATE students SET account_id=$acc, step='notice' WHERE school_id=$sid AND student_no='C001'");
go('student/C001');
ok(until_js("document.getElementById('st-unbind')"), 'a bound student can be unbound');
click('#st-unbind');
ok(until_js("document.getElementById('confirm-dialog').open"), 'unbind asks first');
setval('cd-reason', '学生更换了手机微信');
click('#cd-ok');
like(msg('解除'), qr/已解除绑定/, 'unbound');
ok(!defined one("SELECT account_id FROM students WHERE school_id=$sid AND student_no='C001'"), 'unbound in the DB');
like(one("SELECT detail FROM audit_log WHERE school_id=$sid AND action='student.unbind'"), qr/学生更换了手机微信/,
     'audited with the reason');

# ---- codes per class, the one-time CSV ----
go('codes');
ok(until_js("Array.from(document.getElementById('codes-class').options).some(o => o.value === '高三(2)班')"), 'classes for codes');
setval('codes-class', '高三(2)班');
click('#codes-class-btn');
ok(until_js("document.getElementById('sheet-link') && document.getElementById('codes-csv')"), 'sheet and CSV offered');
is(js("return document.querySelectorAll('#codes-result tbody tr').length"), 1, 'the class student without a code');
setval('codes-nos', "C005\nC001");
click('#codes-some');
ok(until_js("document.getElementById('confirm-dialog').open"), 'reissuing an existing code asks first');
like(js("return document.getElementById('cd-text').textContent"), qr/孙五（C005，已有采集码）/, 'naming who has one');
click('#cd-cancel');
ok(until_js("!document.getElementById('confirm-dialog').open"), 'cancelled');
is(one("SELECT COUNT(*) FROM codes c JOIN students s ON s.id=c.student_id WHERE s.student_no='C005' AND s.school_id=$sid"), 1,
   'nothing reissued');
shot('6-codes');

# ---- settings: the fee in 元 ----
go('settings');
ok(until_js("document.getElementById('spec-width').value"), 'settings loaded');
setval('s-fee', '15');
click('#settings-form button[type=submit]');
like(msg('已保存'), qr/设置已保存/, 'saved');
is(one("SELECT fee_fen FROM schools WHERE id=$sid"), 1500, '15 元 is 1500 fen');
setval('spec-width', '5');
click('#settings-form button[type=submit]');
like(msg('照片宽度'), qr/照片宽度应为 64 到 4000 的整数/, 'spec fields validated');
js("location.reload(); return 1;");
$c->wait_event('Page.loadEventFired');
ok(until_js("document.getElementById('s-fee').value === '15.00'"), 'after a reload: still logged in, fee in 元');
axe_ok('settings');
shot('7-settings');

# ---- audit log: actions in words, old -> new ----
go('audit');
my $audit = until_js(q{(() => { const r = Array.from(document.querySelectorAll('#audit-table tbody tr')).map(tr => tr.textContent);
    return r.length > 2 && r; })()});
ok((grep { /修改设置.*照片费用：0\.00 元 → 15\.00 元/ } @$audit), 'settings change with old and new value');
ok((grep { /解锁学生.*C002.*原因：班主任核实为本人/ } @$audit), 'unlock with its reason');
ok((grep { /导入名单/ } @$audit), 'roster import');
like($audit->[0], qr/\d{4}-\d\d-\d\d \d\d:\d\d/, 'Beijing time');
setval('a-action', 'student.unlock');
js("document.getElementById('a-action').dispatchEvent(new Event('change')); return 1;");
ok(until_js("document.querySelectorAll('#audit-table tbody tr').length === 1"), 'filtered by action');
no_codes('audit');
axe_ok('audit');
shot('8-audit');

# ---- overview with charts ----
go('progress');
ok(until_js("document.querySelector('#chart-days svg') && document.querySelector('#chart-classes svg')"), 'ECharts charts drawn');
my $cls = until_js(q{(() => { const r = Array.from(document.querySelectorAll('#class-table tbody tr')).map(tr => tr.dataset.class); return r.length === 3 && r; })()});
is_deeply($cls, ['高三(1)班', '高三(2)班', '高三(3)班'], 'progress per class');
like(js("return document.getElementById('reasons-table').textContent"), qr/活体检测未通过2.*人脸太小1/s, 'failure reasons in words');
no_codes('overview');
axe_ok('overview');
shot('9-overview');

# ---- a phone: no sideways scrolling anywhere ----
$c->viewport(390, 844, 1);
for my $p (['progress', 'stat-total'], ['students', 'students-total'], ['student/C002', 'st-facts'],
           ['roster', 'roster-check'], ['settings', 'spec-width'], ['audit', 'audit-table']) {
    my ($hash, $id) = @$p;
    go($hash);
    until_js("document.getElementById('$id') && !document.getElementById('$id').closest('.tab').hidden");
    js('await new Promise(r => setTimeout(r, 300)); return 1;');
    my $w = js('return document.documentElement.scrollWidth');
    ok($w <= 390, "phone, $hash: no sideways scrolling (width $w)");
    (my $label = $hash) =~ s{/}{-}g;
    shot("phone-$label");
}
axe_ok('phone students');

$t->check_logs;
done_testing;
