# The back-office web console (www/admin/) in headless Chromium, through
# nginx: a teacher logs in, imports a roster and sees the rejected-rows
# report, finds a locked student and unlocks them; a screenshot is kept
# (TUCAI_SHOT=path) for a human to look at.
#
# Chromium is driven over the DevTools protocol on a pipe by
# t/lib/Tucai/Chromium.pm, so no WebSocket library or npm package is needed.
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
plan skip_all => 'no chromium (sh tools/deps.sh)' unless -x $CHROME;

my $t = Tucai::Test->new(worker_children => 2);
plan skip_all => 'nginx module not built' unless $t->has_nginx;
my $J = JSON::PP->new->utf8->canonical;

# ---- data: a school, its teacher, one locked student ----
my ($rc, $out) = $t->admin_cli('school-add', '--name', '控制台测试学校', '--fee', '0');
my ($sid) = $out =~ /^(\d+)\s*$/m or BAIL_OUT("school-add: $out");
my $pw = $t->dir . '/pw';
open my $fh, '>', $pw or die; print $fh "console-pass-1\n"; close $fh;
($rc, $out) = $t->admin_cli('teacher-add', '--school', $sid, '--username', 'console', '--password-file', $pw);
is($rc, 0, 'teacher') or diag $out;

# ---- Chromium, a 1280x900 desktop window ----
my $c = Tucai::Chromium->new(chrome => $CHROME, dir => $t->dir, width => 1280, height => 900,
                             mobile => 0, scale => 1, timeout => 20);
# Runs JS in the page; an async function body may await.  Returns its value.
sub js { $c->js(@_) }

# Waits in the page for a condition (JS expression), up to 10 s.
my $WAIT = 'const until = async (f) => { for (let i = 0; i < 200; i++) {'
         . ' try { const v = f(); if (v) return v; } catch (e) {}'
         . ' await new Promise(r => setTimeout(r, 50)); } throw new Error("timeout: " + f); };';

$c->cdp('Page.navigate', { url => $t->url('/admin/') });
$c->wait_event('Page.loadEventFired');
is(js('return document.title'), '图采管理后台 · tucai back office', 'console loads');
ok(js('return !document.getElementById("login-view").hidden'), 'login form shown');
is(js("$WAIT return await until(() => getComputedStyle(document.querySelector('header')).backgroundColor"
      . " === 'rgb(31, 111, 235)' && 'styled');"), 'styled', 'the stylesheet applies');

# ---- wrong password, then login ----
js(q{document.getElementById('login-user').value = 'console';
     document.getElementById('login-pass').value = 'wrong-one';
     document.getElementById('login-btn').click();});
like(js("$WAIT return await until(() => { const m = document.getElementById('msg');"
        . " return !m.hidden && m.textContent; });"),
     qr/用户名或密码错误/, 'a wrong password is reported');

js(q{document.getElementById('login-pass').value = 'console-pass-1';
     document.getElementById('login-btn').click();});
ok(js("$WAIT return await until(() => !document.getElementById('app-view').hidden);"),
   'logged in');
is(js('return document.getElementById("school-name").textContent'), '控制台测试学校',
   'school name shown');

# ---- roster import with a rejected row ----
js(q{document.querySelector('#tabs button[data-tab=roster]').click();
     document.getElementById('roster-text').value =
       'student_no,name,phone\nC001,王小明,13800138000\nC002,李小红,\nC 3,坏学号,\nC004,赵四,999\n';
     document.getElementById('roster-btn').click();});
my $summary = js("$WAIT return await until(() => { const e = document.querySelector('#roster-report .summary');"
                 . " return e && e.textContent; });");
like($summary, qr/新增 2.*拒绝 2/, 'import summary shown');
my $rej = js(q{return Array.from(document.querySelectorAll('#rejected-table tbody tr'))
               .map(tr => Array.from(tr.cells).map(c => c.textContent));});
is(scalar @$rej, 2, 'two rejected rows listed');
is($rej->[0][0], '4', 'with their line numbers');
like($rej->[1][1], qr/手机号/, 'and reasons');
is($t->sql_one("SELECT COUNT(*) FROM students WHERE school_id=$sid"), 2, 'rows in the DB');

# ---- a locked student is found and unlocked ----
$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3, attempts=3"
           . " WHERE school_id=$sid AND student_no='C002'");
js(q{document.querySelector('#tabs button[data-tab=students]').click();
     document.getElementById('f-locked').value = '1';
     document.querySelector('#students-filter button[type=submit]').click();});
my $rows = js("$WAIT return await until(() => { const r = document.querySelectorAll('#students-table tbody tr');"
              . " return r.length === 1 && Array.from(r).map(tr => tr.dataset.no); });");
is_deeply($rows, ['C002'], 'the locked filter shows the locked student');
like(js(q{return document.querySelector('#students-table tbody tr').cells[3].textContent}),
     qr/活体/, 'lock kind shown');

# screenshot while the locked student is on screen
my $shot = $c->cdp('Page.captureScreenshot', { format => 'png' });
my $png = decode_base64($shot->{data});
is(substr($png, 0, 8), "\x89PNG\r\n\x1a\n", 'screenshot is a PNG');
my $shot_path = $ENV{TUCAI_SHOT} || $t->dir . '/console.png';
open my $po, '>:raw', $shot_path or die; print $po $png; close $po;
diag("screenshot: $shot_path") if $ENV{TUCAI_SHOT};

js(q{document.querySelector('#students-table button.unlock').click();});
like(js("$WAIT return await until(() => { const t = document.getElementById('msg').textContent;"
        . " return t.indexOf('已解锁') >= 0 && t; });"),
     qr/已解锁 C002/, 'unlock confirmed');
ok(js("$WAIT return await until(() => document.querySelectorAll('#students-table tbody tr').length === 0);"),
   'no locked student left in the list');
is_deeply([$t->sql("SELECT lock_kind, liveness_fails FROM students WHERE school_id=$sid AND student_no='C002'")],
          [[0, 0]], 'unlocked in the DB');
is($t->sql_one("SELECT COUNT(*) FROM audit_log WHERE school_id=$sid AND action='student.unlock' AND target='C002'"),
   1, 'audited');

# ---- progress: captures by source and by camera (capture meta) ----
my ($c1) = $t->sql_one("SELECT id FROM students WHERE school_id=$sid AND student_no='C001'");
$t->sql_do("INSERT INTO captures (student_id, created_at, pass, reasons, verdict_json, camera, source)"
           . " VALUES ($c1, 1, 0, 'BLURRY', '{}', 'front', 'album'),"
           . " ($c1, 2, 1, '', '{}', 'back', 'camera'), ($c1, 3, 1, '', '{}', 'back', 'camera')");
js(q{document.querySelector('#tabs button[data-tab=progress]').click();});
my $by = js("$WAIT return await until(() => { const t = (id) => Array.from("
            . "document.querySelectorAll('#' + id + ' tbody tr')).map(tr => [tr.dataset.key,"
            . " ...Array.from(tr.cells).slice(1).map(c => c.textContent)]);"
            . " const s = t('progress-by-source'), c = t('progress-by-camera');"
            . " return s.length && c.length && { source: s, camera: c }; });");
is_deeply($by->{source}, [['camera', 2, 2, 0], ['album', 1, 0, 1]],
          'progress shows captures by source (total, passed, failed)');
is_deeply($by->{camera}, [['back', 2, 2, 0], ['front', 1, 0, 1]],
          'progress shows captures by camera');
like(js(q{return document.getElementById('progress-view').textContent}), qr/album 相册.*front 前置/s,
     'source and camera values labelled');

# ---- codes with the printable sheet ----
js(q{document.querySelector('#tabs button[data-tab=codes]').click();
     document.getElementById('codes-all').click();});
ok(js("$WAIT return await until(() => document.getElementById('sheet-link'));"),
   'codes generated with a printable sheet link');
is(js(q{return document.querySelectorAll('#codes-result tbody tr').length}), 2, 'two codes listed');

done_testing;
