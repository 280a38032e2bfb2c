# Codes are never lost (issue 11): generating codes for a 20,000-student
# school succeeds, everything handed out is written to files (sheets per
# class, paged, served by nginx; a CSV taken once) before the commit, and a
# failure rolls everything back.  And a teacher can unbind a wrongly bound
# WeChat account: the old token dies at once, a new code binds the new one.
use strict;
use warnings;
use utf8;
use Encode qw(decode_utf8);
use lib 't/lib';
use Test::More;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time);
use Tucai::Test;
require "./t/20_journey_lib.pl";
require "./t/50_admin_lib.pl";

my $t = Tucai::Test->new(worker_children => 2,
    nginx_extra_server => "tucai_code_rate 600r/m burst=100;");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

my ($d, $lr) = admin_demo($t);
my $tok = $lr->{json}{token} or BAIL_OUT('no teacher token');
my $school = $lr->{json}{school}{id};
my $sname = $lr->{json}{school}{name};
sub api { my ($m, $p, $b) = @_; $t->request($m, "/admin/api/v1$p", token => $tok,
    defined $b ? (body => JSON::PP->new->utf8->encode($b), content_type => 'application/json') : ()) }

# ---- a school of 20,000, in 50 classes ----
$t->sql_do("INSERT INTO students (school_id, student_no, name, class, created_at)"
    . " SELECT $school, CONCAT('N', LPAD(seq, 5, '0')), CONCAT('学生', seq),"
    . " CONCAT('高三(', seq % 50 + 1, ')班'), UNIX_TIMESTAMP() FROM seq_1_to_20000");
my $active0 = $t->sql_one("SELECT COUNT(*) FROM codes WHERE school_id = $school AND status = 'active'");

my $t0 = time;
my $r = api('POST', '/codes', { all => JSON::PP::true });
my $took = time - $t0;
is($r->{status}, 200, '20,000 codes generated') or diag substr($r->{content}, 0, 300);
diag(sprintf('POST /codes for 20,000 students: %.1f s, answer %d bytes', $took, length $r->{content}));
my $j = $r->{json};
is($j->{count}, 20000, 'count');
ok(!exists $j->{codes}, 'no inline codes for a large batch');
ok(length $r->{content} < 200_000, 'a small answer');
is(scalar @{ $j->{sheets} }, 500, '50 classes x 400 students / 40 per page = 500 sheets');
is($j->{sheets}[0]{class}, '高三(1)班', 'sheets ordered by class');
is($j->{sheets}[10]{class}, '高三(10)班', 'then the next class');
is($j->{sheets}[0]{students}, 40, '40 cards a page');
my %classes = map { $_->{class} => 1 } @{ $j->{sheets} };
is(scalar keys %classes, 50, 'every class has its pages');
is($t->sql_one("SELECT COUNT(*) FROM codes WHERE school_id = $school AND status = 'active'"),
   $active0 + 20000, '20,000 more active codes');

# a sheet, served by nginx from the batch's files
my $sheet = $t->get($j->{sheets}[1]{url}, token => $tok);
is($sheet->{status}, 200, 'a sheet page');
like($sheet->{headers}{'content-type'}, qr{^text/html}, 'HTML');
my $html = decode_utf8($sheet->{content});
ok($html =~ /\Q$sname\E/, 'carries the school name');
ok($html =~ /学号 N\d{5}/, 'student numbers');
ok($html =~ /学生\d+/, 'student names');
ok($html =~ /扫描二维码或输入采集码/, 'one line of instructions');
ok($html =~ /<svg class="qr"/, 'QR codes');
is(scalar(() = $html =~ /class="card"/g), 40, '40 cards');
is($t->get($j->{sheets}[1]{url})->{status}, 401, 'sheets need the teacher token');
is($t->get("/admin/api/v1/codes/sheets/$j->{batch}-501", token => $tok)->{status}, 404, 'no page 501');

$r = api('GET', "/codes/batches/$j->{batch}");
is($r->{status}, 200, 'batch info');
is($r->{json}{csv_available}, JSON::PP::true, 'CSV not taken yet');
is(scalar @{ $r->{json}{sheets} }, 500, 'the sheets listed again');

# the CSV, once
$r = api('GET', "/codes/batches/$j->{batch}/csv");
is($r->{status}, 200, 'CSV');
like($r->{headers}{'content-type'}, qr{^text/csv}, 'text/csv');
my @lines = split /\r\n/, decode_utf8($r->{content});
is($lines[0], "\x{FEFF}student_no,name,class,code", 'header (with BOM)');
is(scalar @lines, 20001, 'one line per code');
my $ok = 0;
for my $l (@lines[1, 777, 20000]) {
    my ($no, $name, $class, $code) = split /,/, $l;
    my $st = $t->sql_one("SELECT c.status FROM codes c JOIN students s ON s.id = c.student_id"
        . " WHERE s.student_no = '$no' AND c.code_hash = UNHEX('" . sha256_hex($code) . "')");
    $ok++ if ($st // '') eq 'active' && $name =~ /^学生/ && $class =~ /班$/;
}
is($ok, 3, 'CSV codes are the students\' active codes');
$r = api('GET', "/codes/batches/$j->{batch}/csv");
is($r->{status}, 410, 'the CSV only once');
is($r->{json}{error}, 'CODES_NOT_RETRIEVABLE', 'CODES_NOT_RETRIEVABLE');
is(api('GET', "/codes/batches/$j->{batch}")->{json}{csv_available}, JSON::PP::false, 'taken');
ok(!-e $t->files_dir . "/codes/$school/" . ($t->sql_one("SELECT dir FROM code_batches WHERE id = $j->{batch}") =~ s{^\d+/}{}r) . '/codes.csv',
   'the CSV file is gone from the server');
is($t->sql_one("SELECT COUNT(*) FROM audit_log WHERE action = 'codes.csv'"), 1, 'download audited');

# ---- small batches keep their inline codes, with the class ----
$r = api('POST', '/codes', { student_nos => ['N00001', 'N00002'], per_page => 1, sheet => JSON::PP::true });
is($r->{status}, 200, 'reissue two');
is(scalar @{ $r->{json}{codes} }, 2, 'inline codes');
is($r->{json}{codes}[0]{class}, '高三(2)班', 'with the class');
ok($r->{json}{sheet_html}, 'sheet_html still offered for small batches');
is(scalar @{ $r->{json}{sheets} }, 2, 'per_page 1: a page each');

# ---- any failure: nothing revoked, nothing issued ----
my $before = $t->sql_one("SELECT GROUP_CONCAT(HEX(code_hash) ORDER BY id) FROM codes WHERE school_id = $school AND status = 'active'");
my $cdir = $t->files_dir . "/codes/$school";
rename $cdir, "$cdir.away" or die;
open my $f, '>', $cdir or die; close $f;          # a file where a directory must be
$r = api('POST', '/codes', { all => JSON::PP::true, reissue => JSON::PP::true });
is($r->{status}, 503, 'storage failure: 503');
is($r->{json}{error}, 'STORAGE_UNAVAILABLE', 'STORAGE_UNAVAILABLE');
ok($r->{json}{retry_after} > 0, 'retry_after');
is($t->sql_one("SELECT GROUP_CONCAT(HEX(code_hash) ORDER BY id) FROM codes WHERE school_id = $school AND status = 'active'"),
   $before, 'the old codes are all still active, no new one');
unlink $cdir; rename "$cdir.away", $cdir;

# ---- unbind ----
my ($sid, $code) = seed_student($t, $school, student_no => 'U0001');
my $stu = login($t, 'phone-one');
$stu = walk($t, $stu, $code, 'notice');
is($t->get('/api/v1/me', token => $stu)->{status}, 200, 'the student is bound and in');
$r = api('POST', '/students/U0001/unbind', {});
is($r->{status}, 400, 'a reason is required');
$r = api('POST', '/students/NOPE/unbind', { reason => 'x' });
is($r->{status}, 404, 'unknown student: 404');
$r = api('POST', '/students/U0001/unbind', { reason => '手机丢失 / lost phone' });
is($r->{status}, 204, 'unbind: 204');
$r = $t->get('/api/v1/me', token => $stu);
is($r->{status}, 401, 'the old account\'s token is refused at once');
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid"), undef, 'no account bound');
is(decode_utf8($t->sql_one("SELECT JSON_VALUE(detail, '\$.reason') FROM audit_log WHERE action = 'student.unbind'")),
   '手机丢失 / lost phone', 'audited with the reason');
$r = api('POST', '/students/U0001/unbind', { reason => 'again' });
is($r->{status}, 409, 'nothing bound any more: 409');
is($r->{json}{error}, 'NOT_BOUND', 'NOT_BOUND');
# the stolen/old code no longer binds; a new one does, for the new account
my $thief = login($t, 'thief');
is(api_post($t, $thief, '/api/v1/code', { code => $code })->{status}, 410, 'the old code is revoked');
$r = api('POST', '/codes', { student_nos => ['U0001'] });
my $code2 = $r->{json}{codes}[0]{code};
my $again = login($t, 'phone-one');          # the same WeChat user, a fresh account
isnt(account_of($again), account_of($stu), 'a fresh account');
$r = api_post($t, $again, '/api/v1/code', { code => $code2 });
is($r->{status}, 200, 'the new code binds the new account');
$again = walk($t, $again, $code2, 'notice', phone => '13900139000');
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid"), account_of($again), 'bound to the new account');
is($t->get('/api/v1/me', token => $stu)->{status}, 401, 'the old token stays refused');

done_testing;
