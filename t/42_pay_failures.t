# Pay when WeChat misbehaves: the sandbox down while the order is created
# (clear 503, no orphan order), a notification that never arrives (found by
# the pool's reconciliation), expired orders closed, outbox retries with
# backoff after failures, 43101 final, a refused token refreshed once, and
# pending messages surviving a pool restart (each delivered once).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Tucai::Test;
use Tucai::PaySeed;

my $t = Tucai::Test->new(worker_children => 2, asan => ($ENV{TUCAI_PAY_ASAN} ? 1 : 0),
    worker_ini_extra => "[pay]\nreconcile = 1\n[outbox]\ninterval = 1\nmax_attempts = 30\n");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; binmode $f; print $f $_[1]; close $f }

my $nschool = 0;
sub seed { $nschool++; pay_seed($t, tag => 'F', fee => 800, name => "Fail School $nschool", contact => 'office', @_) }
sub submit {
    my ($s) = @_;
    return $t->post_json('/api/v1/submission', { draft_id => $s->{draft} + 0 }, token => $s->{token});
}
sub nsent { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'") }
sub messages_to {
    my ($openid) = @_;
    return [ grep { $_->{touser} eq $openid } @{ $t->sandbox_get('/sandbox/messages')->{json}{messages} } ];
}

# ---- WeChat Pay down while the order is created ----
my $a = seed();
for my $mode ('500', 'drop') {
    $t->sandbox_post('/sandbox/fail', { api => 'jsapi', times => 10, mode => $mode });
    my $r = submit($a);
    is($r->{status}, 503, "prepay failing ($mode) -> 503");
    is($r->{json}{error}, 'WECHAT_UNAVAILABLE', '... WECHAT_UNAVAILABLE');
    ok($r->{json}{retry_after} > 0, '... with retry_after');
    is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $a->{sid}"), 0, '... and no order row');
}
$t->sandbox_post('/sandbox/fail', { api => 'jsapi', times => 0 });
my $r = submit($a);
is($r->{status}, 200, 'once WeChat is back the order is created');
my $oa = $r->{json}{order};

# ---- the notification never comes: the pool's reconciliation finds it ----
$t->sandbox_post('/sandbox/fail', { api => 'notify', times => 1 });
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $oa->{out_trade_no} });
is(scalar @{ $r->{json}{delivered} }, 0, 'paid at WeChat, notification lost');
ok($t->wait_for(sub { $t->sql_one("SELECT status FROM orders WHERE id = $oa->{id}") eq 'PAID' }, 20),
   'reconciliation marks it PAID without any request');
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM photos WHERE student_id = $a->{sid}") == 1 }, 5),
   '... and the photo is delivered');
cmp_ok($t->sql_one("SELECT COUNT(*) FROM pay_events WHERE out_trade_no = '$oa->{out_trade_no}'"
                   . " AND source = 'query' AND accepted = 1"), '>=', 1, 'recorded as found by query');

# ---- the photo cannot be made at payment time: paid anyway, delivered later ----
my $g = seed();
$r = submit($g);
my $gfile = $t->files_dir . "/drafts/$g->{sid}-1.jpg";
rename $gfile, "$gfile.away" or die;
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
is($r->{json}{delivered}[0]{status}, 204, 'payment acknowledged although the photo is missing');
is($t->sql_one("SELECT status FROM orders WHERE student_id = $g->{sid}"), 'PAID', '... order PAID');
is($t->sql_one("SELECT COUNT(*) FROM photos WHERE student_id = $g->{sid}"), 0, '... no photo yet');
is($t->get('/api/v1/photo', token => $g->{token})->{json}{error}, 'PHOTO_NOT_READY', '... PHOTO_NOT_READY');
rename "$gfile.away", $gfile or die;
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM photos WHERE student_id = $g->{sid}") == 1 }, 20),
   'delivered by the pool once the file is back');
is($t->get('/api/v1/photo', token => $g->{token})->{status}, 200, '... and served');

# ---- the database down when the notification comes: WeChat retries later ----
my $h = seed();
$r = submit($h);
my $oh = $r->{json}{order};
$t->stop_db;
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $oh->{out_trade_no} });
cmp_ok($r->{json}{delivered}[0]{status}, '>=', 500, 'database down: the notification is refused with 5xx');
$t->start_db;
ok($t->wait_for(sub {
    my $x = $t->sandbox_post('/sandbox/pay', { out_trade_no => $oh->{out_trade_no} });
    ($x->{json}{delivered}[0]{status} // 0) == 204 }, 30), 'WeChat\'s retry is accepted once it is back');
is($t->sql_one("SELECT status FROM orders WHERE id = $oh->{id}"), 'PAID', '... order PAID');

# ---- an expired order is closed at WeChat and here ----
my $b = seed();
$r = submit($b);
my $ob = $r->{json}{order};
is($ob->{status}, 'UNPAID', 'an UNPAID order');
$t->sql_do("UPDATE orders SET expires_at = UNIX_TIMESTAMP() - 1, queried_at = 0 WHERE id = $ob->{id}");
ok($t->wait_for(sub { $t->sql_one("SELECT status FROM orders WHERE id = $ob->{id}") eq 'CLOSED' }, 20),
   'past expiry it is CLOSED');
ok(!defined $t->sql_one("SELECT live FROM orders WHERE id = $ob->{id}"), '... and no longer live');
is($t->sandbox_get('/sandbox/orders')->{json}{orders}{ $ob->{out_trade_no} }{trade_state}, 'CLOSED',
   '... at WeChat too');
$r = submit($b);
is($r->{status}, 200, 'submitting again makes a new order');
isnt($r->{json}{order}{out_trade_no}, $ob->{out_trade_no}, '... with a new out_trade_no');
$r = $t->get('/api/v1/order', token => $b->{token});
is($r->{json}{status}, 'UNPAID', 'GET /order shows the live one');

# ---- outbox: retried after failures, delivered once ----
ok($t->wait_for(sub { nsent() == 6 }, 20), 'messages of the first students sent');
my $c = seed();
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 4 });   # > one attempt's retries
$r = submit($c);
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
is($r->{json}{delivered}[0]{status}, 204, 'paid');
ok($t->wait_for(sub { nsent() == 8 }, 30), 'both messages sent after the failures');
cmp_ok($t->sql_one("SELECT MAX(attempts) FROM outbox WHERE student_id = $c->{sid}"), '>=', 2,
       'after more than one attempt');
is(scalar @{ messages_to($c->{openid}) }, 2, 'each received exactly once');

# ---- 43101: final, not retried ----
my $d = seed();
$t->sandbox_post('/sandbox/refuse', { openid => $d->{openid} });
$r = submit($d);
$t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $d->{sid}"
                                  . " AND status = 'dead'") == 2 }, 20), '43101: messages dead');
is($t->sql_one("SELECT MAX(attempts) FROM outbox WHERE student_id = $d->{sid}"), 1, '... after one attempt');
like($t->sql_one("SELECT last_error FROM outbox WHERE student_id = $d->{sid} LIMIT 1"), qr/43101/,
     '... the reason kept');

# ---- a refused token is refreshed once ----
my $before = $t->sandbox_get('/sandbox/stats')->{json}{calls}{stable_token};
$t->sandbox_post('/sandbox/expire_token', {});
my $e = seed();
$r = submit($e);
$t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
ok($t->wait_for(sub { scalar @{ messages_to($e->{openid}) } == 2 }, 20), 'sent with a fresh token');
is($t->sandbox_get('/sandbox/stats')->{json}{calls}{stable_token}, $before + 1, 'one refresh');

# ---- WeChat down for long: given up only after max_attempts and a day ----
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 100000 });
my $old = seed();
$r = submit($old);
$t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
ok($t->wait_for(sub { $t->sql_one("SELECT MIN(attempts) FROM outbox WHERE student_id = $old->{sid}") >= 1 }, 20),
   'messages failing');
$t->sql_do("UPDATE outbox SET attempts = 30, next_at = 0 WHERE student_id = $old->{sid}");
# (waits for the failure to be recorded too: attempts counts at the claim)
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $old->{sid}"
                                  . " AND attempts >= 31 AND next_at > UNIX_TIMESTAMP() + 200") == 2 }, 20),
   'retried past max_attempts');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $old->{sid} AND status = 'pending'"), 2,
   '... still pending while younger than a day');
$t->sql_do("UPDATE outbox SET created_at = created_at - 90000, next_at = 0 WHERE student_id = $old->{sid}");
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $old->{sid}"
                                  . " AND status = 'dead'") == 2 }, 20), 'dead once a day old');

# ---- pool restart with messages pending ----
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 100000 });
my @f = map { seed() } 1 .. 3;
for my $s (@f) {
    $r = submit($s);
    $t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
}
my $ids = join ',', map { $_->{sid} } @f;
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id IN ($ids)"
                                  . " AND attempts > 0") >= 1 }, 20), 'messages failing, pending');
$t->stop_pool;
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id IN ($ids) AND status = 'pending'"), 6,
   'six messages pending while the pool is down');
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 0 });
$t->sql_do("UPDATE outbox SET next_at = 0 WHERE status = 'pending'");
$t->start_pool;
ok($t->wait_for(sub { $t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id IN ($ids)"
                                  . " AND status = 'sent'") == 6 }, 30), 'all sent after the restart');
is(scalar @{ messages_to($_->{openid}) }, 2, "student $_->{sid}: each message once") for @f;

done_testing;
