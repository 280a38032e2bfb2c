# Edge: cooldowns and locks cached in the shm zone from the pool's answers,
# enforced by nginx; a second nginx host learns them from the pool; unlock
# clears at once on the host that carried it and within tucai_lock_revalidate
# elsewhere; one upload in flight per student, released on every ending.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time);
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

my $t = j_harness(instances => 2,
                  knobs => { cooldown => '30s', lock_revalidate => '3s',
                             uploads_in_flight => 1 });
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;
my $sch = seed_school($t);

# who answered: "ups=-" in the access log means nginx itself
my ($probe, %ups) = (0);
sub last_ups { $ups{$_[0]} // '' }
# nginx logs a request when it is freed, which can come just after the
# answer: each capture carries a probe number in its query string, and
# cap() waits for that line so that last_ups() reads the right one
sub cap {
    my ($tok, $inst, %o) = @_;
    my $n = ++$probe;
    my $r = capture($t, $tok, %o, instance => $inst, probe => $n);
    $t->wait_for(sub {
        my ($l) = grep { m{"POST /api/v1/captures\?probe=$n } } split /\n/,
                  $t->nginx_access_log($inst);
        return 0 unless $l;
        ($ups{$inst}) = $l =~ /ups=(\S+)/;
        1;
    }, 5);
    return $r;
}
sub student {
    my ($tag) = @_;
    my ($sid, $code) = seed_student($t, $sch);
    my $tok = walk($t, login($t, "js-edge-$tag"), $code, 'shoot');
    return ($sid, $tok);
}

{
    no warnings 'redefine';
    # capture() of the journey lib, with a choice of nginx instance
    *capture = sub {
        my ($t, $tok, %o) = @_;
        my $inst = delete $o{instance} // 1;
        my $probe = delete $o{probe} // 0;
        our $TD;
        my $photo = slurp_file("$TD/set/" . ($o{photo} // 'good.jpg'));
        my @f = (photo => { data => $photo, filename => 'p.jpg', type => 'image/jpeg' });
        return $t->post_multipart("/api/v1/captures?probe=$probe", \@f, token => $tok,
                                  instance => $inst);
    };
}

my ($sid, $tok) = student('cool');

# --- cooldown earned through host A ------------------------------------------
my $r = cap($tok, 1, photo => 'blurred.jpg');
is($r->{status}, 422, 'host A: failed check') or diag($r->{content});
like(last_ups(1), qr/^unix:/, 'answered by the pool');

$r = cap($tok, 1, photo => 'good.jpg');
is($r->{status}, 429, 'host A: retake refused');
is($r->{json}{error}, 'COOLING_DOWN', 'COOLING_DOWN');
ok($r->{json}{retry_after} > 0 && $r->{json}{retry_after} <= 30, 'retry_after');
is($r->{headers}{'retry-after'}, $r->{json}{retry_after}, 'Retry-After header');
like($r->{json}{until}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'until RFC 3339');
is(last_ups(1), '-', 'answered by nginx from the zone');

$r = $t->get('/api/v1/ping', token => $tok);
like($r->{json}{cooldown_until} // '', qr/^\d{4}-/, 'ping shows the cached cooldown');

# --- host B asks the pool once, then enforces --------------------------------
$r = cap($tok, 2, photo => 'good.jpg');
is($r->{status}, 429, 'host B: refused');
is($r->{json}{error}, 'COOLING_DOWN', 'COOLING_DOWN from the pool');
like(last_ups(2), qr/^unix:/, 'host B asked the pool first');
$r = cap($tok, 2, photo => 'good.jpg');
is($r->{json}{error}, 'COOLING_DOWN', 'host B: refused again');
is(last_ups(2), '-', 'now answered by nginx B from its zone');
is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sid"), 1,
   'only the first attempt was recorded');

# --- liveness lock cached; unlock clears it ----------------------------------
($sid, $tok) = student('lock');
$t->sql_do("UPDATE students SET lock_kind = 1, lock_until = 0, liveness_fails = 3"
         . " WHERE id = $sid");
for my $inst (1, 2) {
    $r = cap($tok, $inst);
    is($r->{status}, 423, "host $inst: locked (pool)");
    is($r->{json}{lock}, 'liveness', 'lock liveness');
    $r = cap($tok, $inst);
    is($r->{status}, 423, "host $inst: locked (zone)");
    is($r->{json}{lock}, 'liveness', 'lock liveness from nginx');
    ok(!exists $r->{json}{until}, 'no until for a liveness lock');
    is(last_ups($inst), '-', "host $inst: answered by nginx");
}

$t->sql_do("INSERT INTO teachers (school_id, username, pwd_hash, created_at)"
         . " VALUES ($sch, 'edge-teacher', 'x', UNIX_TIMESTAMP())");
my $tid = $t->sql_one("SELECT id FROM teachers WHERE username = 'edge-teacher'");
my $no = $t->sql_one("SELECT student_no FROM students WHERE id = $sid");
$r = $t->post_json("/admin/api/v1/students/$no/unlock", {},
                   token => $t->token('t', $tid, $sch));
is($r->{status}, 204, 'teacher unlocks through host A') or diag($r->{content});

$r = cap($tok, 1, photo => 'garbage.jpg');
like(last_ups(1), qr/^unix:/, 'host A: unlock cleared the zone at once');
isnt($r->{status}, 423, 'host A: no longer locked');

# host B may still hold the lock, but only for tucai_lock_revalidate (3s):
# it answers 423 itself until then, then asks the pool, which has no lock.
# A liveness lock has no end of its own, so only revalidation can end it
# within the deadline.
my $unlocked = time;
my $revalidated = $t->wait_for(sub {
    $r = cap($tok, 2, photo => 'garbage.jpg');
    return 0 if $r->{status} == 423 && last_ups(2) eq '-';
    return 1;
}, 15);
my $held = time - $unlocked;
ok($revalidated, 'host B: stale lock revalidated with the pool')
    or diag("still locked after ${held}s");
note("host B held the stale lock ${held}s");
like(last_ups(2), qr/^unix:/, 'host B: by asking the pool');
isnt($r->{status}, 423, 'host B: no longer locked');

# from here on: a student without cooldown or lock; garbage.jpg is refused
# by the pool (415) without counting as an attempt
($sid, $tok) = student('flight');

# --- one upload in flight; released on client abort --------------------------
my $port = $t->port(1);
sub start_upload {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
    print $s "POST /api/v1/captures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\n"
           . "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
           . ('x' x 1000);
    return $s;
}
sub status_of { $t->get('/tucai/status')->{json} }

my $s = start_upload();
# bounded wait for the edge to have read the first upload's headers (a
# loaded machine can take seconds); on failure say what the first got
my $last;
ok($t->wait_for(sub { ($last = cap($tok, 1, photo => 'garbage.jpg'))->{status} == 409 }, 20),
   'second upload: 409') or do {
    $s->blocking(0);
    my $first = '';
    sysread($s, $first, 4096);
    diag("second upload got $last->{status} via " . last_ups(1) . "; first upload's connection says: "
        . ($first eq '' ? '(nothing, still open)' : $first));
};
$r = cap($tok, 1, photo => 'garbage.jpg');
is($r->{json}{error}, 'UPLOAD_IN_PROGRESS', 'UPLOAD_IN_PROGRESS');
is(last_ups(1), '-', 'answered by nginx');
close $s;     # the student's phone gives up
ok($t->wait_for(sub { cap($tok, 1, photo => 'garbage.jpg')->{status} != 409 }, 5),
   'slot released after the client aborted');
like(last_ups(1), qr/^unix:/, 'and the next capture reached the pool');

# --- released when the pool dies mid-check ---------------------------------
$t->stop_pool;
$r = cap($tok, 1, photo => 'garbage.jpg');
is($r->{status}, 503, 'pool down: 503');
is($r->{json}{error}, 'POOL_UNAVAILABLE', 'POOL_UNAVAILABLE');
$r = cap($tok, 1, photo => 'garbage.jpg');
is($r->{json}{error}, 'POOL_UNAVAILABLE', 'still 503, not 409: slot released');
$t->start_pool;

# a pool child dies while it holds this capture: stop the children first so
# that the capture is surely in flight, then kill them.  A frame already
# read by a child is lost with it (503 POOL_UNAVAILABLE); one still queued
# on the socket is answered by the respawned children (garbage.jpg: 415, no
# attempt counted) -- either way the slot must come back.
my @kids = $t->pool_pids;
kill 'STOP', @kids;
my $pid = fork // die;
if (!$pid) {
    my $rr = cap($tok, 1, photo => 'garbage.jpg');
    exit(($rr->{json}{error} // '') =~ /^(POOL_UNAVAILABLE|UNSUPPORTED_FORMAT)$/ ? 0 : 1);
}
ok($t->wait_for(sub { status_of()->{uploads_in_flight} == 1 }, 10),
   'capture in flight (status gauge)');
$r = cap($tok, 1, photo => 'garbage.jpg');
is($r->{json}{error}, 'UPLOAD_IN_PROGRESS', 'a second one is refused meanwhile');
is(last_ups(1), '-', 'by nginx');
kill 'KILL', @kids;
waitpid($pid, 0);
is($? >> 8, 0, 'the capture whose child died got a JSON answer');
is(status_of()->{uploads_in_flight}, 0, 'gauge back to 0');
$t->wait_for(sub { scalar($t->pool_pids) >= 2 }, 20);
$r = cap($tok, 1, photo => 'garbage.jpg');
isnt($r->{status}, 409, 'slot released after the pool crashed');
like(last_ups(1), qr/^unix:/, 'the next capture reached the pool');

# --- what the operator sees ---------------------------------------------------
my $st = status_of();
ok($st->{refusals}{cooling_down} >= 1, 'status: cooling_down refusals');
ok($st->{refusals}{locked} >= 1, 'status: locked refusals');
ok($st->{refusals}{upload_in_progress} >= 1, 'status: upload_in_progress refusals');
ok($st->{pool_errors} >= 1, 'status: pool errors');

done_testing;
