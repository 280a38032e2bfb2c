# The back office at school scale, through nginx: a roster with classes in
# GBK (what Excel/WPS save as "CSV" on Chinese Windows), UTF-8 with a BOM
# and extra columns; the preview (dry_run) that changes nothing and shows
# each rejected row's content; the student list paged, searched, filtered
# (class, step, locked, paid, photo) and sorted; progress per class and per
# day with paid orders and produced photos; the student detail page's API;
# unlock and revoke with a reason, audited, the student told where they
# accepted the message.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Encode qw(encode decode_utf8);
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 2);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

my ($rc, $out) = $t->admin_cli('school-add', '--name', '规模测试学校', '--fee', '1500');
my ($sid) = $out =~ /^(\d+)\s*$/m or BAIL_OUT("school-add: $out");
my $pw = $t->dir . '/pw';
open my $fh, '>', $pw or die; print $fh "school-pass-1\n"; close $fh;
($rc, $out) = $t->admin_cli('teacher-add', '--school', $sid, '--username', 'scale', '--password-file', $pw);
is($rc, 0, 'teacher') or diag $out;
my $tok = $t->post_json('/admin/api/v1/login', { username => 'scale', password => 'school-pass-1' })->{json}{token};
ok($tok, 'logged in');

# the mysql client's output is UTF-8 bytes
sub rows { map { [map { defined $_ ? decode_utf8($_) : undef } @$_] } $t->sql($_[0]) }
sub one { my @r = rows($_[0]); @r ? $r[0][0] : undef }

sub api {
    my ($m, $p, %o) = @_;
    $t->request($m, "/admin/api/v1$p", token => $tok, %o);
}
sub roster {
    my ($bytes, $q) = @_;
    api('POST', '/roster' . ($q // ''), body => $bytes, content_type => 'text/csv');
}

# ---- GBK roster with a class column and an ignored one; preview first ----
my $gbk = encode('gbk', "学号,姓名,性别,班级,手机号\n"
    . "G001,张伟,男,高三(1)班,138 0013 8000\n"
    . "G002,王芳,女,高三(1)班,\n"
    . "G003,李娜,女,高三(2)班,12345\n"
    . "G 04,刘洋,男,高三(2)班,\n"
    . "G005,陈静,女,,\n");
my $r = roster($gbk, '?dry_run=1');
is($r->{status}, 200, 'GBK preview 200') or diag explain $r->{json};
is($r->{json}{encoding}, 'gb18030', 'GBK detected');
ok($r->{json}{dry_run}, 'marked as a preview');
is($r->{json}{imported}, 3, 'preview counts the rows that would be added');
is_deeply($r->{json}{ignored_columns}, ['性别'], 'unknown column named, not fatal');
is_deeply($r->{json}{columns}, [qw(student_no name phone class)], 'columns recognised');
is_deeply([map { $_->{line} } @{ $r->{json}{rejected} }], [4, 5], 'rejected lines');
is_deeply($r->{json}{rejected}[0]{row}, ['G003', '李娜', '女', '高三(2)班', '12345'],
          'a rejected row shows its content, decoded');
is($r->{json}{rejected}[0]{code}, 'PHONE_INVALID', 'with a stable problem code');
like($r->{json}{rejected}[0]{reason_zh}, qr/手机号/, 'and a Chinese reason');
is($t->sql_one("SELECT COUNT(*) FROM students WHERE school_id=$sid"), 0, 'the preview wrote nothing');
is($t->sql_one("SELECT COUNT(*) FROM audit_log WHERE school_id=$sid AND action='roster.import'"), 0,
   'nor audited');

$r = roster($gbk);
is($r->{json}{imported}, 3, 'GBK import');
is_deeply([rows("SELECT student_no, name, class, phone FROM students WHERE school_id=$sid ORDER BY student_no")],
          [['G001', '张伟', '高三(1)班', '13800138000'], ['G002', '王芳', '高三(1)班', undef],
           ['G005', '陈静', undef, undef]], 'names and classes stored as text, not mojibake');

# UTF-8 with BOM, header in English, class updated; a file without the class
# column keeps the class
my $u = "\x{feff}student_no,name,class\nG005,陈静,高三(2)班\n";
utf8::encode($u);
$r = roster($u);
is($r->{json}{encoding}, 'utf-8-bom', 'BOM detected');
is($r->{json}{updated}, 1, 'class change is an update');
$u = "student_no,name\nG005,陈静\n"; utf8::encode($u);
roster($u);
is(one("SELECT class FROM students WHERE school_id=$sid AND student_no='G005'"), '高三(2)班',
   'a roster without 班级 keeps the class');
$r = roster("\xff\xfe\x00\x01garbage\x80\x80");
is($r->{status}, 400, 'undecodable bytes 400');
like($r->{json}{message}, qr/编码/, 'saying the encoding is the problem');

# ---- a bigger class for paging: 120 students, some further along ----
my $big = "学号,姓名,班级\n" . join('', map { sprintf "P%04d,学生%d,高三(3)班\n", $_, $_ } 1 .. 120);
utf8::encode($big);
is(roster($big)->{json}{imported}, 120, '120 more');
$t->sql_do("UPDATE students SET step='done' WHERE school_id=$sid AND student_no IN ('P0001','P0002')");
$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3, attempts=3 WHERE school_id=$sid AND student_no='P0003'");
my %id = map { $_->[0] => $_->[1] } $t->sql("SELECT student_no, id FROM students WHERE school_id=$sid");
my $now = time;
for my $no (qw(P0001 P0002)) {
    $t->sql_do("INSERT INTO drafts (student_id, capture_id, created_at, photo_path, original_path)"
               . " VALUES ($id{$no}, 0, $now, 'x.jpg', 'x.jpg')");
    my $did = $t->sql_one("SELECT MAX(id) FROM drafts");
    $t->sql_do("INSERT INTO orders (student_id, school_id, draft_id, out_trade_no, amount_fen, status,"
               . " paid_at, expires_at, created_at, updated_at) VALUES ($id{$no}, $sid, $did, 'T$no', 1500,"
               . " 'PAID', $now, $now, $now, $now)");
}
$t->sql_do("INSERT INTO photos (student_id, order_id, draft_id, path, produced_at) VALUES ($id{P0001}, 1, 1, 'p.jpg', $now)");
$t->sql_do("INSERT INTO captures (student_id, created_at, pass, reasons, verdict_json, camera, source) VALUES"
           . " ($id{P0003}, $now, 0, 'LIVENESS_FAILED', '{\"pass\":false,\"reasons\":[{\"code\":\"LIVENESS_FAILED\",\"message\":\"x\"}]}', 'back', 'camera')");

$r = api('GET', '/students?limit=50&offset=50&class=' . uri('高三(3)班'));
is($r->{json}{total}, 120, 'class filter total');
is(scalar @{ $r->{json}{students} }, 50, 'a page of 50');
is($r->{json}{students}[0]{student_no}, 'P0051', 'second page starts at 51');
is($r->{json}{students}[0]{class}, '高三(3)班', 'class in the list');
$r = api('GET', '/students?class=-');
is($r->{json}{total}, 0, 'no student without a class');
$r = api('GET', '/students?paid=1');
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], [qw(P0001 P0002)], 'paid filter');
ok($r->{json}{students}[0]{paid}, 'paid flag');
$r = api('GET', '/students?photo=1');
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], ['P0001'], 'photo-ready filter');
$r = api('GET', '/students?photo=0&paid=1');
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], ['P0002'], 'filters combine');
$r = api('GET', '/students?locked=1');
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], ['P0003'], 'locked filter');
$r = api('GET', '/students?sort=step&dir=desc&limit=2');
is_deeply([map { $_->{step} } @{ $r->{json}{students} }], [qw(done done)], 'sorted by journey step');
$r = api('GET', '/students?sort=student_no&dir=desc&limit=1');
is($r->{json}{students}[0]{student_no}, 'P0120', 'sorted descending');
$r = api('GET', '/students?q=' . uri('王芳'));
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], ['G002'], 'search by name');
$r = api('GET', '/students?class=' . uri('高三(1)班') . '&sort=name');
is_deeply([map { $_->{name} } @{ $r->{json}{students} }], ['王芳', '张伟'], 'sorted by name in pinyin order (wang < zhang)');
is(api('GET', '/students?sort=password')->{status}, 400, 'unknown sort 400');
is(api('GET', '/students?paid=maybe')->{status}, 400, 'bad filter 400');

# ---- progress: per class, per day, orders ----
$r = api('GET', '/progress');
my %bc = map { ($_->{class} // '') => $_ } @{ $r->{json}{by_class} };
is($bc{'高三(3)班'}{total}, 120, 'class total');
is($bc{'高三(3)班'}{paid}, 2, 'class paid');
is($bc{'高三(3)班'}{photos_ready}, 1, 'class photos');
is($bc{'高三(3)班'}{locked}, 1, 'class locked');
is($bc{'高三(1)班'}{total}, 2, 'another class');
is_deeply($r->{json}{orders}, { paid => 2, free => 0, unpaid => 0, paid_fen => 3000 }, 'orders counted');
is(scalar @{ $r->{json}{by_day} }, 30, '30 days');
my $today = $r->{json}{by_day}[-1];
my @bj = gmtime($now + 8 * 3600);
is($today->{date}, sprintf('%04d-%02d-%02d', $bj[5] + 1900, $bj[4] + 1, $bj[3]), 'last day is today in Beijing');
is_deeply([@$today{qw(captures passed paid photos)}], [1, 0, 2, 1], "today's counts");

# ---- detail ----
$r = api('GET', '/students/P0003');
is($r->{status}, 200, 'detail 200');
is($r->{json}{student}{lock}, 'liveness', 'lock in detail');
is($r->{json}{captures}[0]{reasons}[0]{code}, 'LIVENESS_FAILED', 'capture reasons');
is($r->{json}{captures}[0]{camera}, 'back', 'capture camera');
is(api('GET', '/students/NOPE')->{status}, 404, 'unknown student 404');
$r = api('GET', '/students/P0001');
ok($r->{json}{photo}{url}, 'final photo in detail');
is($r->{json}{order}{status}, 'PAID', 'order in detail');

# ---- unlock with a reason, the student told (they accepted photo_status) ----
$t->sql_do("UPDATE schools SET tpl_photo_status='TPL_PS' WHERE id=$sid");
$t->sql_do("INSERT INTO accounts (openid, created_at, last_login_at) VALUES ('o-p3', $now, $now)");
my $acc = $t->sql_one("SELECT MAX(id) FROM accounts");
$t->sql_do("UPDATE students SET account_id=$acc, sub_photo_status=1, consents_photo_status=1 WHERE id=$id{P0003}");
$r = $t->post_json("/admin/api/v1/students/P0003/unlock", { reason => '本人到场核验' }, token => $tok);
is($r->{status}, 204, 'unlock with a reason');
like(one("SELECT detail FROM audit_log WHERE school_id=$sid AND action='student.unlock'"),
     qr/本人到场核验/, 'reason audited');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id=$id{P0003}"), 1, 'the student is told');
$r = $t->post_json("/admin/api/v1/students/P0003/unlock", { reason => 'x' x 300 }, token => $tok);
is($r->{status}, 400, 'an over-long reason 400');
$r = $t->post_json("/admin/api/v1/codes/G002/revoke", { reason => '学生转学' }, token => $tok);
is($r->{status}, 204, 'revoke with a reason');
like(one("SELECT detail FROM audit_log WHERE school_id=$sid AND action='code.revoke'"),
     qr/学生转学/, 'revoke reason audited');

# ---- settings: the audit row says old -> new; audit filtered ----
$r = $t->post_json('/admin/api/v1/settings', { fee_fen => 2000, contact => '摄影室 王老师 0571-1' }, token => $tok);
is($r->{status}, 200, 'settings saved');
$r = api('GET', '/audit?action=settings.update');
is(scalar @{ $r->{json}{entries} }, 1, 'audit filtered by action');
is_deeply($r->{json}{entries}[0]{detail}{changes}{fee_fen}, [1500, 2000], 'fee old -> new');
is($r->{json}{entries}[0]{detail}{changes}{'school.contact'}[1], '摄影室 王老师 0571-1', 'contact new value');
$r = api('GET', '/audit?action=code.');
is_deeply([map { $_->{action} } @{ $r->{json}{entries} }], ['code.revoke'], 'action prefix filter');
$r = api('GET', '/audit?target=P0003');
is_deeply([map { $_->{action} } @{ $r->{json}{entries} }], ['student.unlock'], 'target filter');
is(api('GET', '/audit?action=a%25b')->{status}, 400, 'wildcards refused');

# ---- the collection window: set as dates, enforced at the code step ----
require "./t/20_journey_lib.pl";
my ($wsid, $wcode) = seed_student($t, $sid, student_no => 'W001');
my @d = gmtime(time + 8 * 3600 - 86400 * 3);
my $past = sprintf('%04d-%02d-%02d', $d[5] + 1900, $d[4] + 1, $d[3]);
@d = gmtime(time + 8 * 3600 + 86400 * 3);
my $future = sprintf('%04d-%02d-%02d', $d[5] + 1900, $d[4] + 1, $d[3]);
$r = $t->post_json('/admin/api/v1/settings', { window => { start => $past, end => $past } }, token => $tok);
is($r->{status}, 200, 'window saved');
is_deeply($r->{json}{window}, { start => $past, end => $past }, 'as the dates given');
my $stok = login($t, 'window-student');
$r = $t->post_json('/api/v1/code', { code => $wcode }, token => $stok);
is($r->{status}, 403, 'after the window: 403');
is($r->{json}{error}, 'COLLECTION_CLOSED', 'COLLECTION_CLOSED');
ok($r->{json}{window_end}, 'with the end');
$t->post_json('/admin/api/v1/settings', { window => { start => $future, end => undef } }, token => $tok);
$r = $t->post_json('/api/v1/code', { code => $wcode }, token => $stok);
is($r->{json}{error}, 'COLLECTION_NOT_OPEN', 'before the window: COLLECTION_NOT_OPEN');
$t->post_json('/admin/api/v1/settings', { window => { start => $past, end => $future } }, token => $tok);
$r = $t->post_json('/api/v1/code', { code => $wcode }, token => $stok);
is($r->{status}, 200, 'inside the window the code is accepted');
is($t->post_json('/admin/api/v1/settings', { window => { start => $future, end => $past } }, token => $tok)->{status},
   400, 'an end before the start 400');
is($t->post_json('/admin/api/v1/settings', { window => { start => '2026-02-30' } }, token => $tok)->{status},
   400, 'not a date 400');

sub uri { my $s = shift; utf8::encode($s); $s =~ s/([^A-Za-z0-9_.~-])/sprintf '%%%02X', ord $1/ge; $s }

$t->check_logs;
done_testing;
