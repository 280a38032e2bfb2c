# A teacher's unlock reaches nginx: once nginx has cached a student's
# liveness lock (answered from shared memory without the pool), the unlock
# answer's TUCAI_M_CLEAR makes nginx drop it, so the student's next capture
# is no longer refused as LOCKED.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Tucai::Test;
require "./t/50_admin_lib.pl";

my $t = Tucai::Test->new(worker_children => 2);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

my ($d, $l) = admin_demo($t);
my $teacher = $l->{json}{token};
ok($teacher, 'teacher token');

# a student bound to D2026002
my $s = $t->post_json('/api/v1/login', { code => 'unlock-edge-student' });
die "student journey failed ($s->{status})\n" unless $s->{status} == 200;
my $tok = $s->{json}{token};
my ($code) = map { $_->{code} } grep { $_->{student_no} eq 'D2026002' } @{ $d->{codes} };
my $cr = $t->post_json("/api/v1/code", { code => $code }, token => $tok);
is($cr->{status}, 200, "code") or diag $cr->{content};
is($t->post_json('/api/v1/phone', { phone => '13800138002' }, token => $tok)->{status}, 200, 'phone');
my $c = $t->post_json('/api/v1/confirm', {}, token => $tok);
is($c->{status}, 200, 'confirmed');
$tok = $c->{json}{token} if $c->{json}{token};

my $sid = "school_id=$d->{school_id} AND student_no='D2026002'";
my $capture = sub {
    $t->post_multipart('/api/v1/captures',
        [photo => { data => "\xff\xd8\xff\xe0 not really a photo", filename => 'p.jpg',
                    type => 'image/jpeg' },
         meta => '{"camera":"back","source":"camera"}'], token => $tok);
};

# the pool reports the lock, nginx caches it
$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3 WHERE $sid");
my $me = $t->get('/api/v1/me', token => $tok);
is($me->{status}, 200, '/me');
my $lock = $me->{json}{lock};
is(ref $lock ? $lock->{kind} : $lock, 'liveness', '/me shows the liveness lock');
my $r = $capture->();
is($r->{status}, 423, 'locked student: 423');
is($r->{json}{error}, 'LOCKED', 'LOCKED');

# behind nginx's back the DB says unlocked: nginx still answers from its cache
$t->sql_do("UPDATE students SET lock_kind=0, liveness_fails=0 WHERE $sid");
$r = $capture->();
is($r->{status}, 423, 'nginx answers the cached lock itself');
$t->sql_do("UPDATE students SET lock_kind=1, liveness_fails=3 WHERE $sid");

# the teacher unlocks: DB cleared and nginx told
is($t->post_json('/admin/api/v1/students/D2026002/unlock', {}, token => $teacher)->{status},
   204, 'unlock');
is($t->sql_one("SELECT lock_kind FROM students WHERE $sid"), 0, 'unlocked in the DB');
$r = $capture->();
isnt($r->{status}, 423, "the student's next capture is not refused as LOCKED")
    or diag $r->{content};

done_testing;
