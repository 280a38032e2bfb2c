# Captures and the drafts box: check failures with cooldown and counters,
# both locks (quality ends by itself, liveness needs a teacher), decode
# failures that do not count, full box, delete rules, switching drafts,
# one upload in flight, concurrent submissions, nothing half-written.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use File::Path qw(make_path);
use File::Temp qw(tempfile);
use Test::More;
use Time::HiRes qw(time);
use Tucai::Test;
use Tucai::Proto;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

# Cooldown and quality lock are long enough that a loaded machine still
# asks inside them, and the test waits for their end (the time stored in
# the database), never a guessed duration.
my $t = j_harness(knobs => { cooldown => '4s', quality_lock_after => 2,
                             quality_lock => '4s', liveness_lock_after => 2,
                             drafts_capacity => 2 });
my $sch = seed_school($t, fee => 800);

sub student_at_shoot {
    my ($tag) = @_;
    my ($sid, $code) = seed_student($t, $sch);
    my $tok = walk($t, login($t, "js-cap-$tag"), $code, 'shoot');
    return ($sid, $tok);
}
sub row { my ($sid) = @_; ($t->sql("SELECT cooldown_until, lock_kind, lock_until,"
    . " liveness_fails, quality_fails, attempts FROM students WHERE id = $sid"))[0] }
# waits until the clock reaches a second stored in the database (a cooldown
# or lock ends at it: whole seconds on nginx's and the pool's side alike)
sub wait_past {
    my ($epoch, $what) = @_;
    ok($epoch > 0 && $t->wait_for(sub { time >= $epoch }, $epoch - time + 10), "$what ended")
        or diag("until $epoch, now " . time);
}

# --- quality failures: cooldown, counters, self-ending lock -------------------
# (times are whole seconds: a 4 s cooldown lasts between 3 and 4 s; what
# must happen inside one is asked first)
my ($sa, $ta) = student_at_shoot('q');
my $r = capture($t, $ta, photo => 'blurred.jpg');
my $r2 = capture($t, $ta, photo => 'good.jpg');
is($r->{status}, 422, 'blurred photo -> 422') or diag($r->{content});
is($r->{json}{error}, 'CHECK_FAILED', 'CHECK_FAILED');
ok(!$r->{json}{verdict}{pass}, 'verdict says fail');
ok((grep { $_->{code} eq 'BLURRY' } @{ $r->{json}{verdict}{reasons} }), 'BLURRY among the reasons');
like($r->{json}{until}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'until is RFC 3339');
is($r->{json}{attempts_left}, 1, 'attempts_left');
ok($r->{headers}{'retry-after'}, 'Retry-After header');
ok($r->{json}{retry_after} >= 1 && $r->{json}{retry_after} <= 4, 'retry_after within the cooldown')
    or diag($r->{json}{retry_after});

is($r2->{status}, 429, 'retake inside the cooldown -> 429') or diag($r2->{content});
is($r2->{json}{error}, 'COOLING_DOWN', 'COOLING_DOWN');
ok(defined $r2->{json}{retry_after}, 'retry_after');
is($r2->{json}{until}, $r->{json}{until}, 'the same end as the failed check gave');
ok($r2->{json}{retry_after} <= $r->{json}{retry_after}, 'retry_after counts down');

my $row = row($sa);
ok($row->[0] > time - 5, 'cooldown stored in the DB');
is($row->[4], 1, 'quality_fails = 1');
is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sa AND pass = 0"), 1,
   'failed capture recorded');
like($t->sql_one("SELECT reasons FROM captures WHERE student_id = $sa"), qr/BLURRY/, 'with its reasons');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $sa AND kind = 'check_failed'"), 1,
   'a photo_status message is queued for the subscriber');

is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sa"), 1, 'no attempt recorded');

wait_past($row->[0], 'the cooldown');
$r = capture($t, $ta, photo => 'dark.jpg');
$r2 = capture($t, $ta, photo => 'good.jpg');
my $me = api_get($t, $ta, '/api/v1/me')->{json};
is($r->{status}, 423, 'second quality failure locks (423 at once)') or diag($r->{content});
is($r->{json}{error}, 'LOCKED', 'LOCKED');
is($r->{json}{lock}, 'quality', 'lock quality');
ok($r->{json}{until}, 'with until');
ok($r->{json}{verdict}, 'and the verdict');
is($r2->{status}, 423, 'locked: refused') or diag($r2->{content});
is($r2->{json}{lock}, 'quality', 'still quality');
is($r2->{json}{until}, $r->{json}{until}, 'the same end');
is($me->{lock}, 'quality', '/me shows the lock');
ok($me->{lock_until}, '/me lock_until');
$row = row($sa);
is($row->[1], 2, 'lock_kind quality in the DB');
wait_past($row->[2], 'the quality lock');
$r = capture($t, $ta, photo => 'good.jpg');
is($r->{status}, 201, 'the quality lock ends by itself') or diag($r->{content});
$row = row($sa);
is($row->[3] + $row->[4], 0, 'counters reset by a pass');
is($row->[5], 3, 'three attempts counted');
is($row->[1], 0, 'the ended quality lock is cleared in the DB');

is_deeply([ $t->sql("SELECT camera, source FROM captures WHERE student_id = $sa AND pass = 1") ],
          [ [ 'back', 'camera' ] ], 'the capture keeps its meta (camera, source)');

# --- step 7: an album picture is flagged, and its meta is kept with it ----------
my ($sm, $tm) = student_at_shoot('m');
$r = capture($t, $tm, photo => 'good.jpg',
             meta => { camera => "front\x{4e2d}'x", source => 'album' });
is($r->{status}, 422, 'album picture -> 422') or diag($r->{content});
ok((grep { $_->{code} eq 'RECAPTURE_SUSPECTED' && $_->{value} eq 'source=album' }
    @{ $r->{json}{verdict}{reasons} }), 'RECAPTURE_SUSPECTED source=album');
is_deeply([ $t->sql("SELECT camera, source FROM captures WHERE student_id = $sm") ],
          [ [ 'frontx', 'album' ] ], 'meta stored with the failed capture (plain token)');

# --- liveness: locked until a teacher unlocks ----------------------------------
my ($sb, $tb) = student_at_shoot('l');
my $sb_no = $t->sql_one("SELECT student_no FROM students WHERE id = $sb");
$r = capture($t, $tb, photo => 'good.jpg', burst => 'static');
is($r->{status}, 422, 'static burst -> 422') or diag($r->{content});
ok((grep { $_->{code} eq 'LIVENESS_FAILED' } @{ $r->{json}{verdict}{reasons} }), 'LIVENESS_FAILED');
$row = row($sb);
is($row->[3], 1, 'liveness_fails = 1');
wait_past($row->[0], 'the cooldown');
$r = capture($t, $tb, photo => 'good.jpg', burst => 'rigid');
is($r->{status}, 423, 'second liveness failure locks');
is($r->{json}{error}, 'LOCKED', 'LOCKED (liveness)');
is($r->{json}{lock}, 'liveness', 'lock liveness');
ok(!exists $r->{json}{until}, 'no until: a teacher must unlock');
like($r->{json}{contact} // '', qr/\S/, 'names the school photo office');
wait_past(row($sb)->[0], 'the cooldown of the locking failure');
$r = capture($t, $tb, photo => 'good.jpg');
is($r->{status}, 423, 'still locked after the cooldown');
is($r->{json}{lock}, 'liveness', 'liveness');

my ($fh, $pwf) = tempfile(UNLINK => 1);
print $fh "teacher-pass-123\n";
close $fh;
my ($rc, $out) = $t->admin_cli('teacher-add', '--school', $sch, '--username', 'tq',
                               '--password-file', $pwf);
is($rc, 0, 'teacher created') or diag($out);
my $lr = $t->post_json('/admin/api/v1/login', { username => 'tq', password => 'teacher-pass-123' });
is($lr->{status}, 200, 'teacher login') or diag($lr->{content});
$r = $t->post_json("/admin/api/v1/students/$sb_no/unlock", {}, token => $lr->{json}{token});
is($r->{status}, 204, 'teacher unlocks') or diag($r->{content});
$r = capture($t, $tb, photo => 'good.jpg');
is($r->{status}, 201, 'after the unlock the student can shoot') or diag($r->{content});

# --- decode failures are no attempts ---------------------------------------------
my ($sc, $tc) = student_at_shoot('d');
$r = capture($t, $tc, photo => 'garbage.jpg');
is($r->{status}, 415, 'garbage -> 415');
is($r->{json}{error}, 'UNSUPPORTED_FORMAT', 'UNSUPPORTED_FORMAT');
$r = capture($t, $tc, photo => 'truncated.jpg');
is($r->{status}, 422, 'truncated JPEG -> 422') or diag($r->{content});
is($r->{json}{error}, 'CORRUPT_IMAGE', 'CORRUPT_IMAGE');
$r = capture($t, $tc, photo => 'jpeg_magic_then_junk.jpg');
is($r->{json}{error}, 'CORRUPT_IMAGE', 'JPEG magic then junk -> CORRUPT_IMAGE');
is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sc"), 0, 'no capture rows');
is(row($sc)->[0], 0, 'no cooldown');
my @left = glob($t->files_dir . "/originals/$sc/*");
is(scalar @left, 0, 'no originals kept for undecodable uploads');
$r = $t->post_multipart('/api/v1/captures', [meta => '{}'], token => $tc);
is($r->{status}, 400, 'no photo -> 400');
$r = $t->post_multipart('/api/v1/captures',
    [photo => { file => "$main::TD/set/good.jpg" }, meta => '{not json'], token => $tc);
is($r->{status}, 400, 'bad meta -> 400');
$r = $t->post_multipart('/api/v1/captures',
    [photo => { file => "$main::TD/set/good.jpg" },
     map { (frames => { data => "x$_" }) } 1 .. 9], token => $tc);
is($r->{status}, 400, 'nine frames -> 400');
$r = $t->post_json('/api/v1/captures', { photo => 'x' }, token => $tc);
is($r->{status}, 400, 'JSON instead of multipart -> 400');

# --- nothing half-written: storage fails after the check -----------------------------
make_path($t->files_dir . '/drafts');
open my $blk, '>', $t->files_dir . "/drafts/$sc" or die;   # a file where a dir must go
close $blk;
$r = capture($t, $tc, photo => 'good.jpg');
is($r->{status}, 503, 'storage failure -> 503') or diag($r->{content});
is($r->{json}{error}, 'STORAGE_UNAVAILABLE', 'STORAGE_UNAVAILABLE');
is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sc"), 0, 'no capture row');
is($t->sql_one("SELECT COUNT(*) FROM drafts WHERE student_id = $sc"), 0, 'no draft row');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $sc"), 0, 'no message queued');
@left = glob($t->files_dir . "/originals/$sc/*");
is(scalar @left, 0, 'the original was removed again');
unlink $t->files_dir . "/drafts/$sc";

# --- drafts box: capacity, delete rules, switching, submitted -------------------------
my ($sd, $td) = student_at_shoot('box');
my @d;
for (1 .. 2) {
    $r = capture($t, $td, photo => 'good.jpg');
    is($r->{status}, 201, "draft $_") or diag($r->{content});
    push @d, $r->{json}{draft}{id};
}
$r = capture($t, $td, photo => 'good.jpg');
is($r->{status}, 409, 'box full -> 409');
is($r->{json}{error}, 'DRAFTS_FULL', 'DRAFTS_FULL');

$r = $t->delete("/api/v1/drafts/$d[0]", token => $td);
is($r->{status}, 409, 'fresh draft cannot be deleted');
is($r->{json}{error}, 'DRAFT_TOO_NEW', 'DRAFT_TOO_NEW');
like($r->{json}{deletable_at}, qr/^\d{4}-/, 'deletable_at');
$r = $t->delete("/api/v1/drafts/$d[0]", token => $ta);
is($r->{status}, 404, "another student's draft -> 404, not 403");
is($r->{json}{error}, 'NOT_FOUND', 'NOT_FOUND');
$r = $t->get("/api/v1/drafts/$d[0]/photo", token => $ta);
is($r->{status}, 404, "another student's draft photo -> 404");
$r = $t->delete("/api/v1/drafts/99999999", token => $td);
is($r->{status}, 404, 'missing draft -> 404');

$r = api_post($t, $td, '/api/v1/submission', { draft_id => $d[0] });
is($r->{status}, 200, 'submit draft 1') or diag($r->{content});
my $oid = $r->{json}{order}{id};
is($r->{json}{order}{status}, 'UNPAID', 'paid school: UNPAID');
is($r->{json}{order}{amount_fen}, 800, 'the fee');
is($r->{json}{step}, 'pay', 'step pay');
$r = api_post($t, $td, '/api/v1/submission', { draft_id => $d[1] });
is($r->{status}, 200, 'switch to draft 2');
is($r->{json}{order}{id}, $oid, 'same order');
is($t->sql_one("SELECT draft_id FROM orders WHERE id = $oid"), $d[1], 'order now holds draft 2');
$r = api_post($t, $td, '/api/v1/submission', { draft_id => $d[0] + 100000 });
is($r->{status}, 404, 'submitting an unknown draft -> 404');
$r = api_post($t, $td, '/api/v1/submission', { draft_id => $d[0] });
$r = api_post($t, $ta, '/api/v1/submission', { draft_id => $d[1] });
is($r->{status}, 404, "submitting another student's draft -> 404");

$t->sql_do("UPDATE drafts SET created_at = created_at - 90000 WHERE student_id = $sd");
$r = $t->delete("/api/v1/drafts/$d[0]", token => $td);
is($r->{status}, 409, 'the submitted draft cannot be deleted');
is($r->{json}{error}, 'DRAFT_SUBMITTED', 'DRAFT_SUBMITTED');
$r = $t->delete("/api/v1/drafts/$d[1]", token => $td);
is($r->{status}, 204, 'an old, unsubmitted draft is deleted') or diag($r->{content});
is($t->sql_one("SELECT status FROM drafts WHERE id = $d[1]"), 'deleted', 'marked deleted');
is($t->get("/api/v1/drafts/$d[1]/photo", token => $td)->{status}, 404, 'a deleted draft is not served');
is(scalar @{ api_get($t, $td, '/api/v1/drafts')->{json}{drafts} }, 1, 'one draft left');
$r = capture($t, $td, photo => 'good.jpg');
is($r->{status}, 201, 'room again in the box (retake allowed until paid)') or diag($r->{content});

# paid: no more switching, no more deleting
$t->sql_do("UPDATE orders SET status = 'PAID', paid_at = UNIX_TIMESTAMP() WHERE id = $oid");
$r = api_post($t, $td, '/api/v1/submission', { draft_id => $r->{json}{draft}{id} });
is($r->{status}, 409, 'after payment -> 409');
is($r->{json}{error}, 'ALREADY_PAID', 'ALREADY_PAID');
$r = capture($t, $td, photo => 'good.jpg');
is($r->{json}{error}, 'STEP_NOT_ALLOWED', 'no captures after payment');

# --- uploads in flight per student (across hosts: the DB leases) -------------------------
# tucai_uploads_in_flight is 16 here (j_harness): the pool has 16 slots,
# leases 'tucai:cap:<id>' and 'tucai:cap:<id>:1'..':15' (rows of
# tucai_leases, which hold across Galera nodes).  Rows held by another host
# stand for captures in flight there.
my ($se, $te) = student_at_shoot('fl');
sub hold_slots {
    my ($sid, $n) = @_;
    $t->sql_do("INSERT INTO tucai_leases (name, host, pid, expires_at) VALUES "
        . join(', ', map { "('tucai:cap:$sid" . ($_ ? ":$_" : '') . "', 'other-host', 1,"
                           . " UNIX_TIMESTAMP() + 600)" } 0 .. $n - 1));
    return $sid;
}
sub release_slots {
    my ($sid) = @_;
    $t->sql_do("DELETE FROM tucai_leases WHERE host = 'other-host' AND name LIKE 'tucai:cap:$sid%'");
}
my $lock_pid = hold_slots($se, 1);
$r = capture($t, $te, photo => 'good.jpg');
is($r->{status}, 201, 'one in flight, 16 allowed -> goes through') or diag($r->{content});
$t->sql_do("DELETE FROM drafts WHERE student_id = $se");
release_slots($lock_pid);
$lock_pid = hold_slots($se, 16);
$r = capture($t, $te, photo => 'good.jpg');
is($r->{status}, 409, '16 in flight, 16 allowed -> 409');
is($r->{json}{error}, 'UPLOAD_IN_PROGRESS', 'UPLOAD_IN_PROGRESS');
# a host that died mid-capture: its slots lapse (expires_at) and are taken over
$t->sql_do("UPDATE tucai_leases SET expires_at = UNIX_TIMESTAMP() - 1 WHERE host = 'other-host'");
$r = capture($t, $te, photo => 'good.jpg');
is($r->{status}, 201, "a dead host's lapsed slots do not block") or diag($r->{content});
is($t->sql_one("SELECT COUNT(*) FROM tucai_leases WHERE name LIKE 'tucai:cap:$se%'"), 15,
   '... the lapsed slot taken was given back, the other 15 wait for a taker');
$t->sql_do("DELETE FROM drafts WHERE student_id = $se");
release_slots($lock_pid);

# straight to the pool: a frame without knobs gets the default (1 slot), a
# frame with uploads_in_flight 2 may use the second slot
$lock_pid = hold_slots($se, 1);
my $acct = $t->sql_one("SELECT account_id FROM students WHERE id = $se");
my $mp = "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n"
       . "Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0 no real JPEG\r\n--XyZ--\r\n";
my @raw = (op => 14, role => 1, subject => $acct, school => $sch, body => $mp,
           meta => [Tucai::Proto::M_CONTENT_TYPE, 'multipart/form-data; boundary=XyZ']);
$r = $t->pool_request(@raw);
is($r->{status}, 409, 'no knobs in the frame: default of one slot, held -> 409');
is($r->{json}{error}, 'UPLOAD_IN_PROGRESS', 'UPLOAD_IN_PROGRESS from the pool');
$r = $t->pool_request(@raw, policy => [60, 3, 5, 1800, 3, 86400, 15 << 20, 2]);
is($r->{status}, 422, 'uploads_in_flight 2: second slot taken, then the bytes are checked');
is($r->{json}{error}, 'CORRUPT_IMAGE', 'CORRUPT_IMAGE (not an attempt)');
release_slots($lock_pid);
$r = capture($t, $te, photo => 'good.jpg');
is($r->{status}, 201, 'afterwards it goes through') or diag($r->{content});
my $de1 = $r->{json}{draft}{id};
$r = capture($t, $te, photo => 'good.jpg');
is($r->{status}, 201, 'and the next one') or diag($r->{content});
my $de2 = $r->{json}{draft}{id};

# --- concurrent submissions: one live order --------------------------------------------
my @pids;
for my $dd ($de1, $de2, $de1, $de2) {
    my $pid = fork // die;
    if (!$pid) {
        my $x = $t->post_json('/api/v1/submission', { draft_id => $dd }, token => $te);
        $t->{stopped} = 1;
        POSIX::_exit($x->{status} == 200 ? 0 : 1);
    }
    push @pids, $pid;
}
my $fails = 0;
for (@pids) { waitpid($_, 0); $fails++ if $? >> 8 }
is($fails, 0, 'all concurrent submissions answered 200');
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $se"), 1, 'exactly one order');

done_testing;
