# The school back office API (/admin/api/v1): login, roster import with
# rejected rows, codes and revocation, students and unlock, school scoping
# (another school's student is 404), settings, progress, export, audit, and
# the `admin` CLI (school-add, teacher-add, demo).
#
# Through nginx when the module is built; otherwise the same requests go
# straight to the pool as frames (so the handlers are tested either way).
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use Tucai::Test;

# Under ASan/UBSan when that build exists (make test builds it): bad input
# must not even touch freed memory.
my $asan = -x (($ENV{TUCAI_BUILD} || 'build') . '/asan/tucai-worker') ? 1 : 0;
my $t = Tucai::Test->new(worker_children => 2, asan => $asan);
my $J = JSON::PP->new->utf8->canonical;

# ---- one request, through nginx or as a frame ----
my %OPS = (
    'POST /login' => 64, 'POST /roster' => 65, 'POST /codes' => 66,
    'POST /codes/*/revoke' => 67, 'GET /students' => 68,
    'POST /students/*/unlock' => 69, 'GET /settings' => 70,
    'POST /settings' => 71, 'GET /progress' => 72, 'GET /export' => 73,
    'GET /audit' => 74, 'GET /codes/sheet' => 75, 'GET /students/*/photo' => 76,
);

sub api {
    my ($method, $path, %o) = @_;
    my $body = ref $o{body} ? $J->encode($o{body}) : $o{body};
    my $ct = $o{content_type} // (defined $body ? 'application/json' : undef);
    if ($t->has_nginx) {
        my $r = $t->request($method, "/admin/api/v1$path", token => $o{token},
                            body => $body, content_type => $ct);
        return { status => $r->{status}, json => $r->{json},
                 content => $r->{content}, headers => $r->{headers} };
    }
    my ($p, $q) = split /\?/, $path, 2;
    my $param;
    (my $pat = $p) =~ s{^(/(?:codes|students))/([^/]+)/(revoke|unlock|photo)$}{$1/*/$3}
        and $param = $2;
    my $op = $OPS{"$method $pat"} or die "no op for $method $path";
    my %f = (op => $op, body => $body // '',
             meta => [ defined $param ? (1 => $param) : (),
                       defined $q ? (2 => $q) : (),
                       defined $ct ? (3 => $ct) : () ]);
    if ($o{token} && $o{token} =~ /^t1\.[^.]+\.t\.(\d+)\.(\d+)\./) {
        @f{qw(role subject school)} = (2, $1, $2);
    }
    my $r = $t->pool_request(%f);
    return { status => $r->{status}, json => $r->{json}, redirect => $r->{redirect},
             content => $r->{body}, meta => $r->{meta} };
}

# ---- CLI: two schools, a teacher each ----
my ($rc, $out) = $t->admin_cli('school-add', '--name', 'Alpha School', '--contact',
                               'Ms A 0571-1', '--fee', '0', '--video-s', '5');
is($rc, 0, 'school-add exits 0') or diag $out;
my ($sa) = $out =~ /^(\d+)\s*$/m;
ok($sa, "school-add prints the id ($out)");
($rc, $out) = $t->admin_cli('school-add', '--name', 'Beta School');
my ($sb) = $out =~ /^(\d+)\s*$/m;
ok($sb && $sb != $sa, 'second school');
($rc, $out) = $t->admin_cli('school-add', '--fee', 'lots');
isnt($rc, 0, 'school-add refuses bad arguments');

my $pwfile = $t->dir . '/pw';
open my $fh, '>', $pwfile or die; print $fh "alpha-secret-1\n"; close $fh;
($rc, $out) = $t->admin_cli('teacher-add', '--school', $sa, '--username', 'alpha',
                            '--password-file', $pwfile);
is($rc, 0, 'teacher-add') or diag $out;
open $fh, '>', $pwfile or die; print $fh "beta-secret-22\n"; close $fh;
($rc, $out) = $t->admin_cli('teacher-add', '--school', $sb, '--username', 'beta',
                            '--password-file', $pwfile);
is($rc, 0, 'teacher-add beta') or diag $out;
like($t->sql_one("SELECT pwd_hash FROM teachers WHERE username='alpha'"),
     qr/^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$/, 'password stored as argon2id');

# ---- login ----
my $r = api('POST', '/login', body => { username => 'alpha', password => 'alpha-secret-1' });
is($r->{status}, 200, 'login ok');
my $ta = $r->{json}{token};
like($ta, qr/^t1\.[A-Za-z0-9_-]+\.t\.\d+\.$sa\.\d+\./, 'teacher token for school A');
is($r->{json}{school}{id}, $sa, 'login answers the school');
is($r->{json}{school}{name}, 'Alpha School', 'school name');
my $tb = api('POST', '/login', body => { username => 'beta', password => 'beta-secret-22' })->{json}{token};
ok($tb, 'teacher B logged in');

$r = api('POST', '/login', body => { username => 'alpha', password => 'wrong' });
is($r->{status}, 401, 'bad password 401');
is($r->{json}{error}, 'UNAUTHORIZED', 'bad password code');
is($t->sql_one("SELECT COUNT(*) FROM audit_log WHERE action='login.failed' AND target='alpha'"),
   1, 'failed login of a real account is audited');
my $unknown = api('POST', '/login', body => { username => 'nobody', password => 'wrong' });
is($unknown->{status}, 401, 'unknown user 401');
is($unknown->{json}{message}, $r->{json}{message}, 'unknown user and bad password look alike');
$r = api('POST', '/login', body => '{"username":');
is($r->{status}, 400, 'malformed JSON 400');
is($r->{json}{error}, 'BAD_JSON', 'BAD_JSON');
$r = api('POST', '/login', body => { username => 'alpha' });
is($r->{status}, 400, 'missing password 400');

$r = api('GET', '/students');
is($r->{status}, 401, 'no token 401');

# ---- roster ----
my $csv = "\x{feff}student_no,name,phone\n"
        . "A001,张三,13800138000\n"
        . "A002,李四,\n"
        . "bad no!,王五,\n"
        . "A003,,\n"
        . "A004,赵六,12345\n"
        . "A001,重复,\n"
        . "\"A005\",\"Quoted, Name\",+86 139-0013-9000\n"
        . "A006,Only,Two,Many\n";
utf8::encode($csv);
$r = api('POST', '/roster', token => $ta, body => $csv, content_type => 'text/csv');
is($r->{status}, 200, 'roster import 200') or diag explain $r->{json};
is($r->{json}{imported}, 3, 'three rows imported');
is($r->{json}{updated}, 0, 'none updated');
is_deeply([map { $_->{line} } @{ $r->{json}{rejected} }], [4, 5, 6, 7, 9],
          'rejected rows by line');
like($r->{json}{rejected}[3]{reason}, qr/line 2/, 'duplicate names the first line');
is($t->sql_one("SELECT COUNT(*) FROM students WHERE school_id=$sa"), 3, 'three rows in DB');
is($t->sql_one("SELECT name FROM students WHERE school_id=$sa AND student_no='A005'"),
   'Quoted, Name', 'quoted field');
is($t->sql_one("SELECT phone FROM students WHERE school_id=$sa AND student_no='A005'"),
   '13900139000', 'phone normalised');

my $csv2 = "student_no,name\nA001,张三丰\nA002,李四\nA007,新生\n";
utf8::encode($csv2);
$r = api('POST', '/roster', token => $ta, body => $csv2, content_type => 'text/csv');
is_deeply([@{ $r->{json} }{qw(imported updated unchanged)}], [1, 1, 1],
          're-import: inserted, updated, unchanged');
is($t->sql_one("SELECT phone FROM students WHERE school_id=$sa AND student_no='A001'"),
   '13800138000', 'a roster without phones keeps known phones');

$r = api('POST', '/roster', token => $ta, body => "foo,bar\n1,2\n", content_type => 'text/csv');
is($r->{status}, 400, 'bad header 400');
is($r->{json}{error}, 'BAD_CSV', 'BAD_CSV');
$r = api('POST', '/roster', token => $ta, body => "student_no,name\nOK1,Fine\nZ1,\"open\n", content_type => 'text/csv');
is($r->{status}, 400, 'unbalanced quote 400');
is($r->{json}{line}, 3, 'names the line');
is($t->sql_one("SELECT COUNT(*) FROM students WHERE student_no IN ('OK1','Z1')"), 0,
   'nothing half-written: the good row before it is rolled back');

my $csvb = "student_no,name\nB001,Beta One\nB002,Beta Two\n";
$r = api('POST', '/roster', token => $tb, body => $csvb, content_type => 'text/csv');
is($r->{json}{imported}, 2, 'school B roster');

# ---- codes ----
$r = api('POST', '/codes', token => $ta, body => { student_nos => ['A001', 'NOPE'], sheet => JSON::PP::true });
is($r->{status}, 200, 'codes generated');
is(scalar @{ $r->{json}{codes} }, 1, 'one code');
is_deeply($r->{json}{unknown}, ['NOPE'], 'unknown numbers reported');
my $code1 = $r->{json}{codes}[0]{code};
like($code1, qr/^$sa-[2-9A-HJ-NP-Z]{16}$/, 'code format');
like($r->{json}{sheet_html}, qr/<svg class="qr".*\Q$code1\E/s, 'printable sheet with QR');
is($t->sql_one("SELECT COUNT(*) FROM codes WHERE status='active' AND code_hash=UNHEX(SHA2('$code1',256))"),
   1, 'only the SHA-256 is stored');
is($t->sql_one("SELECT COUNT(*) FROM codes WHERE code_hash='$code1'"), 0, 'no plain code');

$r = api('POST', '/codes', token => $ta, body => { all => JSON::PP::true });
is(scalar @{ $r->{json}{codes} }, 3, 'all: the three students without a code');
$r = api('POST', '/codes', token => $ta, body => { all => JSON::PP::true });
is(scalar @{ $r->{json}{codes} }, 0, 'all again: nobody left');
$r = api('POST', '/codes', token => $ta, body => { student_nos => ['B001'] });
is_deeply($r->{json}{unknown}, ['B001'], "another school's student is unknown");
$r = api('POST', '/codes', token => $ta, body => { student_nos => 'A001' });
is($r->{status}, 400, 'student_nos must be an array');
$r = api('POST', '/codes', token => $ta, body => { student_nos => ['x y'] });
is($r->{status}, 400, 'bad student number 400');

# reissue revokes the previous code
$r = api('POST', '/codes', token => $ta, body => { student_nos => ['A001'] });
my $code1b = $r->{json}{codes}[0]{code};
isnt($code1b, $code1, 'a new code');
is($t->sql_one("SELECT status FROM codes WHERE code_hash=UNHEX(SHA2('$code1',256))"),
   'revoked', 'the old code is revoked');

$r = api('POST', '/codes/A001/revoke', token => $ta);
is($r->{status}, 204, 'revoke 204');
is($t->sql_one("SELECT COUNT(*) FROM codes c JOIN students s ON s.id=c.student_id"
               . " WHERE s.student_no='A001' AND c.status='active'"), 0, 'no active code left');
$r = api('POST', '/codes/B001/revoke', token => $ta);
is($r->{status}, 404, "revoking another school's code: 404");
$r = api('POST', '/codes/NOPE/revoke', token => $ta);
is($r->{status}, 404, 'unknown student 404');

# a revoked code is refused to students (needs the journey and nginx)
if ($t->has_nginx) {
    my $l = $t->post_json('/api/v1/login', { code => 'admin-test-student' });
    if ($l->{status} == 200) {
        my $c = $t->post_json('/api/v1/code', { code => $code1b }, token => $l->{json}{token});
        is($c->{status}, 410, 'revoked code: 410');
        is($c->{json}{error}, 'CODE_REVOKED', 'CODE_REVOKED');
    }
}

$r = api('GET', '/codes/sheet', token => $ta);
is($r->{status}, 410, 'sheets only at generation');

# ---- students, scoping, unlock ----
$r = api('GET', '/students', token => $ta);
is($r->{status}, 200, 'students 200');
is($r->{json}{total}, 4, 'four students in A');
ok(!(grep { $_->{student_no} =~ /^B/ } @{ $r->{json}{students} }), "B's students never listed");
$r = api('GET', '/students?q=A00', token => $ta);
is($r->{json}{total}, 4, 'search');
$r = api('GET', '/students?q=%E6%96%B0', token => $ta);   # 新
is_deeply([map { $_->{student_no} } @{ $r->{json}{students} }], ['A007'], 'search by name');
$r = api('GET', '/students?q=%25', token => $ta);
is($r->{json}{total}, 0, 'a % is taken literally');
$r = api('GET', '/students?step=nope', token => $ta);
is($r->{status}, 400, 'bad step 400');

$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3, quality_fails=1,"
           . " cooldown_until=UNIX_TIMESTAMP()+60, attempts=4, account_id=777"
           . " WHERE school_id=$sa AND student_no='A002'");
$t->sql_do("UPDATE students SET lock_kind=2, lock_until=UNIX_TIMESTAMP()+1800, quality_fails=5"
           . " WHERE school_id=$sa AND student_no='A005'");
$t->sql_do("UPDATE students SET lock_kind=2, lock_until=UNIX_TIMESTAMP()-10"
           . " WHERE school_id=$sa AND student_no='A007'");
$r = api('GET', '/students?locked=1', token => $ta);
my %lk = map { $_->{student_no} => $_ } @{ $r->{json}{students} };
is_deeply([sort keys %lk], ['A002', 'A005'], 'locked filter (expired lock not counted)');
is($lk{A002}{lock}, 'liveness', 'liveness lock');
is($lk{A002}{attempts}, 4, 'attempts');
is($lk{A005}{lock}, 'quality', 'quality lock');
ok($lk{A005}{lock_until}, 'quality lock has an end');
$r = api('GET', '/students?locked=0', token => $ta);
is($r->{json}{total}, 2, 'not-locked filter');

$r = api('POST', '/students/A002/unlock', token => $tb);
is($r->{status}, 404, "teacher B cannot unlock A's student (404)");
is($t->sql_one("SELECT lock_kind FROM students WHERE school_id=$sa AND student_no='A002'"),
   1, 'still locked');
$r = api('POST', '/students/A002/unlock', token => $ta);
is($r->{status}, 204, 'unlock 204');
is_deeply([$t->sql("SELECT lock_kind, lock_until, liveness_fails, quality_fails, cooldown_until"
                   . " FROM students WHERE school_id=$sa AND student_no='A002'")],
          [[0, 0, 0, 0, 0]], 'lock, counters and cooldown cleared in DB');
if (!$t->has_nginx) {
    my ($clear) = grep { $_->[0] == 34 } @{ $r->{meta} };
    is(unpack('Q>', $clear->[1]), 777, 'nginx is told to drop the cached state');
}
$r = api('POST', '/students/A005/unlock', token => $ta);
is($r->{status}, 204, 'unlock a quality lock');
is($t->sql_one("SELECT lock_kind FROM students WHERE school_id=$sa AND student_no='A005'"),
   0, 'quality lock cleared');
$r = api('POST', '/students/NOPE/unlock', token => $ta);
is($r->{status}, 404, 'unknown student 404');
$r = api('POST', '/students/..%2F/unlock', token => $ta);
is($r->{status}, 404, 'odd student number 404');

# ---- settings ----
$r = api('GET', '/settings', token => $ta);
is($r->{status}, 200, 'settings');
my $v0 = $r->{json}{notice}{version};
is($r->{json}{video}{duration_s}, 5, 'video duration from school-add');
is($r->{json}{spec}{width}, 480, 'default spec');
$r = api('POST', '/settings', token => $ta, body => {
    notice => { title => '须知', body => '新的须知' }, fee_fen => 800,
    video => { url => 'https://example.com/v.mp4', duration_s => 30 },
    spec => { width => 390, height => 567 } });
is($r->{status}, 200, 'settings saved') or diag explain $r->{json};
is($r->{json}{notice}{version}, $v0 + 1, 'new notice text bumps the version');
is($r->{json}{spec}{width}, 390, 'spec saved');
is($t->sql_one("SELECT fee_fen FROM schools WHERE id=$sa"), 800, 'fee in DB');
$r = api('POST', '/settings', token => $ta, body => { notice => { title => '须知', body => '新的须知' } });
is($r->{json}{notice}{version}, $v0 + 1, 'same text keeps the version');
$r = api('POST', '/settings', token => $ta, body => { spec => { width => -1 } });
is($r->{status}, 400, 'bad spec 400');
is($r->{json}{error}, 'BAD_REQUEST', 'bad spec code');
$r = api('POST', '/settings', token => $ta, body => { fee_fen => -5 });
is($r->{status}, 400, 'bad fee 400');
$r = api('POST', '/settings', token => $ta, body => { video => { url => 'javascript:alert(1)' } });
is($r->{status}, 400, 'bad url 400');
$r = api('POST', '/settings', token => $ta, body => { nope => 1 });
is($r->{status}, 400, 'unknown key 400');
is($t->sql_one("SELECT fee_fen FROM schools WHERE id=$sb"), 0, "B's settings untouched");

# ---- progress ----
$t->sql_do("UPDATE students SET step='shoot' WHERE school_id=$sa AND student_no IN ('A001','A002')");
my $sid = $t->sql_one("SELECT id FROM students WHERE school_id=$sa AND student_no='A001'");
$t->sql_do("INSERT INTO captures (student_id, created_at, pass, reasons, verdict_json,"
           . " camera, source) VALUES"
           . " ($sid, 1, 0, 'BLURRY,TOO_DARK', '{}', 'back', 'album'),"
           . " ($sid, 2, 0, 'BLURRY', '{}', 'back', 'camera'),"
           . " ($sid, 3, 1, '', '{}', '', '')");
$r = api('GET', '/progress', token => $ta);
is($r->{status}, 200, 'progress');
is($r->{json}{total}, 4, 'total');
is($r->{json}{by_step}{shoot}, 2, 'by step');
is($r->{json}{by_step}{code}, 2, 'by step (code)');
is_deeply($r->{json}{failure_reasons}, { BLURRY => 2, TOO_DARK => 1 }, 'by failure reason');
is_deeply({ map { $_ => $r->{json}{captures}{$_} } qw(total passed failed) },
          { total => 3, passed => 1, failed => 2 }, 'captures');
# step 7: how the photos were taken, from the capture meta
is_deeply($r->{json}{captures}{by_source},
          { album => { total => 1, passed => 0 }, camera => { total => 1, passed => 0 },
            unknown => { total => 1, passed => 1 } }, 'captures by source');
is_deeply($r->{json}{captures}{by_camera},
          { back => { total => 2, passed => 0 }, unknown => { total => 1, passed => 1 } },
          'captures by camera');
$r = api('GET', '/progress', token => $tb);
is_deeply($r->{json}{failure_reasons}, {}, "B sees none of A's failures");

# ---- export ----
$r = api('GET', '/export', token => $ta);
is($r->{status}, 404, 'no photos yet: 404');
my $files = $t->files_dir;
make_path("$files/final");
for my $no (qw(A001 A005)) {
    my $id = $t->sql_one("SELECT id FROM students WHERE school_id=$sa AND student_no='$no'");
    open my $f, '>', "$files/final/$id.jpg" or die; print $f "\xff\xd8\xff JPEG of $no"; close $f;
    $t->sql_do("INSERT INTO photos (student_id, order_id, draft_id, path, produced_at)"
               . " VALUES ($id, 0, 0, 'final/$id.jpg', 1)");
}
$r = api('GET', '/export', token => $ta);
is($r->{status}, 200, 'export 200');
my $zip;
if ($t->has_nginx) {
    $zip = $r->{content};
    like($r->{headers}{'content-type'} // '', qr{application/zip}, 'zip content type');
} else {
    like($r->{redirect}, qr{^/_tucai_files/exports/$sa/photos-.*\.zip$}, 'served by nginx redirect');
    (my $rel = $r->{redirect}) =~ s{^/_tucai_files/}{};
    open my $z, '<:raw', "$files/$rel" or die "$files/$rel: $!"; local $/; $zip = <$z>; close $z;
}
my $zf = $t->dir . '/export.zip';
open my $zo, '>:raw', $zf or die; print $zo $zip; close $zo;
my $list = `unzip -Z1 $zf 2>&1`;
is_deeply([sort split /\n/, $list], ['A001.jpg', 'A005.jpg'], 'ZIP holds <student_no>.jpg');
is(`unzip -p $zf A005.jpg`, "\xff\xd8\xff JPEG of A005", 'with the photo bytes');
# an unchanged export is reused; a changed one replaces it (disk bounded)
my $exports = sub { opendir my $d, "$files/exports/$sa" or return (); sort grep { !/^\./ } readdir $d };
my @e1 = $exports->();
is(scalar @e1, 1, 'one export file');
my $ino1 = (stat "$files/exports/$sa/$e1[0]")[1];
is(api('GET', '/export', token => $ta)->{status}, 200, 'export again');
is_deeply([$exports->()], \@e1, 'unchanged: the same file is reused');
is((stat "$files/exports/$sa/$e1[0]")[1], $ino1, 'not rewritten');
{
    my $id = $t->sql_one("SELECT id FROM students WHERE school_id=$sa AND student_no='A001'");
    open my $f, '>', "$files/final/$id-2.jpg" or die; print $f "\xff\xd8\xff new JPEG of A001"; close $f;
    $t->sql_do("UPDATE photos SET path = 'final/$id-2.jpg' WHERE student_id = $id");
}
$r = api('GET', '/export', token => $ta);
is($r->{status}, 200, 'export after a photo changed');
my @e2 = $exports->();
is(scalar @e2, 1, 'still one export file: the old one removed');
isnt($e2[0], $e1[0], 'a new one');
open my $zn, '<:raw', "$files/exports/$sa/$e2[0]" or die; my $znew = do { local $/; <$zn> }; close $zn;
open $zo, '>:raw', $zf or die; print $zo $znew; close $zo;
is(`unzip -p $zf A001.jpg`, "\xff\xd8\xff new JPEG of A001", 'with the new photo');
$r = api('GET', '/export', token => $tb);
is($r->{status}, 404, "B cannot export A's photos");
$r = api('GET', '/students/A005/photo', token => $ta);
is($r->{status}, 200, 'one final photo');
$r = api('GET', '/students/A005/photo', token => $tb);
is($r->{status}, 404, "another school's photo: 404");
$r = api('GET', '/students/A002/photo', token => $ta);
is($r->{json}{error}, 'PHOTO_NOT_READY', 'no photo yet');

# ---- audit ----
$r = api('GET', '/audit?limit=100', token => $ta);
is($r->{status}, 200, 'audit');
my %act;
$act{$_->{action}}++ for @{ $r->{json}{entries} };
for my $a (qw(login roster.import codes.generate code.revoke student.unlock settings.update export)) {
    ok($act{$a}, "audit has $a");
}
ok((grep { $_->{action} eq 'student.unlock' && $_->{target} eq 'A002'
           && length($_->{request_id}) == 32 } @{ $r->{json}{entries} }),
   'audit row names the student and the request id');
my $ab = api('GET', '/audit', token => $tb)->{json}{entries};
ok(!(grep { $_->{action} eq 'student.unlock' } @$ab), "B does not see A's audit");
is($t->sql_one("SELECT COUNT(*) FROM audit_log WHERE school_id=$sa AND action='roster.import'"),
   2, 'failed imports leave no audit row');

# ---- a deleted teacher's token stops working ----
$t->sql_do("DELETE FROM teachers WHERE username='beta'");
$r = api('GET', '/students', token => $tb);
is($r->{status}, 401, 'deleted teacher: 401');

# ---- demo seeding: idempotent, same codes after a re-run ----
my $demo = $t->dir . '/demo.json';
($rc, $out) = $t->admin_cli('demo', $demo, '--base-url', 'http://127.0.0.1:1',
                            '--sandbox-url', 'http://127.0.0.1:2');
is($rc, 0, 'demo') or diag $out;
open my $dj, '<', $demo or die; my $d1 = $J->decode(do { local $/; <$dj> }); close $dj;
is($d1->{base_url}, 'http://127.0.0.1:1', 'base_url');
is($d1->{sandbox_url}, 'http://127.0.0.1:2', 'sandbox_url');
ok(@{ $d1->{codes} } >= 20, '>= 20 codes');
is($t->sql_one("SELECT video_duration_s FROM schools WHERE id=$d1->{school_id}"), 3, 'video 3 s');
ok($t->sql_one("SELECT fee_fen FROM schools WHERE id=$d1->{school_id}") > 0, 'paid school');
($rc, $out) = $t->admin_cli('demo', $demo);
is($rc, 0, 'demo re-run');
open $dj, '<', $demo or die; my $d2 = $J->decode(do { local $/; <$dj> }); close $dj;
is_deeply($d2, $d1, 're-run keeps password, codes and URLs');
my $c = $d1->{codes}[0]{code};
is($t->sql_one("SELECT status FROM codes WHERE code_hash=UNHEX(SHA2('$c',256))"), 'active',
   'demo codes valid');
$r = api('POST', '/login', body => $d1->{teacher});
is($r->{status}, 200, 'demo teacher can log in');
is($r->{json}{school}{id}, $d1->{school_id}, 'into the demo school');

done_testing;
