# Pay end to end through nginx, the pool and the WeChat sandbox: a student
# who reached submission (seeded by SQL) gets an order with a valid
# paySign; switching drafts keeps the order; the signed, encrypted
# notification marks it PAID exactly once however often and however
# concurrently it comes; forged notifications of every kind are refused and
# leave the order alone; a payment whose notification never came is found by
# GET /order; the final photo is served; messages go out once each, with one
# access token for all of them; a free school skips payment.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Tucai::Test;
use Tucai::PaySeed;

# instance 2 serves only the race test's DELETE (below)
my $t = Tucai::Test->new(worker_children => 2, instances => 2, asan => ($ENV{TUCAI_PAY_ASAN} ? 1 : 0),
    # a WeChat call may be held by the sandbox (race test) longer than 3 s
    worker_ini_extra => "[pay]\nreconcile = 1\n[outbox]\ninterval = 1\n[wechat]\ntimeout_ms = 30000\n");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;
my $J = JSON::PP->new->utf8->canonical;
my $sec = $t->dir . '/secrets';
my $tmp = tempdir(CLEANUP => 1);

sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; binmode $f; print $f $_[1]; close $f }
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; scalar <$f> }

# A student at step "submit" (Tucai::PaySeed); %o: fee, subs, drafts, name.
sub seed { pay_seed($t, tag => 'T', @_) }

sub submit {
    my ($s, $draft) = @_;
    return $t->post_json('/api/v1/submission', { draft_id => $draft + 0 }, token => $s->{token});
}

sub verify_pay_sign {
    my ($p) = @_;
    my $msg = "wxtucaidemo0000001\n$p->{timeStamp}\n$p->{nonceStr}\n$p->{package}\n";
    spew("$tmp/m", $msg);
    spew("$tmp/s", decode_base64($p->{paySign}));
    my $out = `openssl dgst -sha256 -verify $sec/pay_merchant.pub -signature $tmp/s $tmp/m 2>&1`;
    return $out =~ /Verified OK/;
}

sub order_row {
    my ($sid) = @_;
    my @r = $t->sql("SELECT id, status, draft_id, out_trade_no, amount_fen FROM orders"
                    . " WHERE student_id = $sid ORDER BY id");
    return \@r;
}

# ---- happy path, draft switching ----
my $a = seed(drafts => 2);
my $r = $t->get('/api/v1/order', token => $a->{token});
is($r->{status}, 404, 'GET /order before any order -> 404');
ok($r->{json}{error}, '... in the error form');
# a draft that is not this student's: 404, no order, WeChat never asked
my $other = seed(drafts => 1);
my $before = keys %{ $t->sandbox_get('/sandbox/orders')->{json}{orders} || {} };
$r = submit($a, $other->{drafts}[0]);
is($r->{status}, 404, "another student's draft -> 404");
is($r->{json}{error}, 'NOT_FOUND', '... NOT_FOUND');
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id IN ($a->{sid}, $other->{sid})"), 0,
   '... no order row');
is(scalar(keys %{ $t->sandbox_get('/sandbox/orders')->{json}{orders} || {} }), $before,
   '... and no prepay at WeChat');

$r = submit($a, $a->{drafts}[0]);
is($r->{status}, 200, 'submission creates the order') or diag explain $r;
my $o = $r->{json}{order};
is($o->{status}, 'UNPAID', 'UNPAID');
is($o->{amount_fen}, 1200, 'the school fee');
like($o->{out_trade_no}, qr/^[0-9A-Za-z_-]{6,32}$/, 'out_trade_no within WeChat rules');
like($o->{pay}{package}, qr/^prepay_id=wx\w+$/, 'package carries the prepay id');
is($o->{pay}{signType}, 'RSA', 'signType RSA');
ok(verify_pay_sign($o->{pay}), 'paySign verifies with the merchant public key');

$r = submit($a, $a->{drafts}[1]);
is($r->{status}, 200, 'submitting another draft before payment');
is($r->{json}{order}{id}, $o->{id}, '... keeps the same order');
is($r->{json}{order}{out_trade_no}, $o->{out_trade_no}, '... and out_trade_no');
my $rows = order_row($a->{sid});
is(scalar @$rows, 1, 'one order row');
is($rows->[0][2], $a->{drafts}[1], 'the order now holds the second draft');

$r = $t->get('/api/v1/photo', token => $a->{token});
is($r->{status}, 404, 'no photo before payment');
is($r->{json}{error}, 'PHOTO_NOT_READY', 'PHOTO_NOT_READY');

$r = $t->get('/api/v1/order', token => $a->{token});
is($r->{json}{status}, 'UNPAID', 'GET /order: UNPAID while unpaid');

# Three concurrent copies of the genuine notification.
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $o->{out_trade_no}, copies => 3 });
my @st = map { $_->{status} } @{ $r->{json}{delivered} };
is_deeply(\@st, [204, 204, 204], 'every copy of the notification answered 204') or diag explain $r->{json};
$rows = order_row($a->{sid});
is($rows->[0][1], 'PAID', 'order PAID');
is($t->sql_one("SELECT COUNT(*) FROM photos WHERE student_id = $a->{sid}"), 1, 'one final photo');
is($t->sql_one("SELECT draft_id FROM photos WHERE student_id = $a->{sid}"), $a->{drafts}[1],
   '... from the submitted draft');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $a->{sid}"), 2,
   'two messages queued: payment result, photo ready');

# A duplicate, later.
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $o->{out_trade_no} });
is($r->{json}{delivered}[0]{status}, 204, 'a duplicate notification still answers 204');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $a->{sid}"), 2, '... and queues nothing more');
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $a->{sid} AND status = 'PAID'"), 1,
   '... still one paid order');

$r = $t->get('/api/v1/order', token => $a->{token});
is($r->{json}{status}, 'PAID', 'GET /order: PAID');
$r = $t->get('/api/v1/photo', token => $a->{token});
is($r->{status}, 200, 'GET /photo serves the final photo');
is($r->{content}, slurp($t->files_dir . "/drafts/$a->{sid}-2.jpg"), '... the submitted draft\'s photo');
$r = submit($a, $a->{drafts}[0]);
is($r->{status}, 409, 'submitting after payment -> 409');
is($r->{json}{error}, 'ALREADY_PAID', 'ALREADY_PAID');

# ---- forged notifications ----
my $b = seed();
$r = submit($b, $b->{drafts}[0]);
my $ob = $r->{json}{order};
is($ob->{status}, 'UNPAID', 'second student has an UNPAID order');
my $refusals = sub { $t->sql_one("SELECT COUNT(*) FROM pay_events WHERE source = 'notify' AND accepted = 0") };
my $rows_before = $refusals->();
my %want = (bad_signature => 401, changed_body => 401, unknown_serial => 401,
            stale => 400, undecryptable => 400, wrong_amount => 400, wrong_mchid => 400,
            garbage => 400, no_resource => 400);
for my $forge (sort keys %want) {
    $r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $ob->{out_trade_no}, forge => $forge });
    my $d = $r->{json}{delivered}[0];
    is($d->{status}, $want{$forge}, "forged ($forge) -> $want{$forge}");
    my $body = eval { JSON::PP->new->decode($d->{body}) } || {};
    is($body->{code}, 'FAIL', "... with code FAIL ($forge)");
}
$r = $t->post_json('/api/v1/pay/notify', '{"id":"x"}');
is($r->{status}, 401, 'a notification without signature headers -> 401');
is($r->{json}{code}, 'FAIL', '... code FAIL');
$r = $t->post_json('/api/v1/pay/notify', '{"id":"probe"}', headers => {
    'Wechatpay-Timestamp' => time, 'Wechatpay-Nonce' => 'abc',
    'Wechatpay-Signature' => 'WECHATPAY/SIGNTEST/' . ('A' x 40),
    'Wechatpay-Serial' => (slurp("$sec/pay_platform.id") =~ s/\s+\z//r) });
is($r->{status}, 401, 'a WECHATPAY/SIGNTEST/ probe fails verification like any bad signature');
is(order_row($b->{sid})->[0][1], 'UNPAID', 'the order is untouched by forgeries');
is($t->sql_one("SELECT COUNT(*) FROM photos WHERE student_id = $b->{sid}"), 0, 'no photo produced');
# signed by WeChat but refused: recorded; unsigned or stale (anyone's): no row
my $signed_refused = grep { $want{$_} == 400 && $_ ne 'stale' } keys %want;
is($refusals->() - $rows_before, $signed_refused,
   "the $signed_refused signed refusals recorded in pay_events, no row for the unverified ones");

# ---- notification lost: found by GET /order; the late one is harmless ----
$t->sandbox_post('/sandbox/fail', { api => 'notify', times => 1 });
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $ob->{out_trade_no} });
is(scalar @{ $r->{json}{delivered} }, 0, 'paid at WeChat, notification lost');
$r = $t->get('/api/v1/order', token => $b->{token});
is($r->{json}{status}, 'PAID', 'GET /order queries WeChat and finds it PAID');
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $ob->{out_trade_no} });
is($r->{json}{delivered}[0]{status}, 204, 'the late notification answers 204');
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $ob->{out_trade_no}, trade_state => 'NOTPAY' });
is($r->{json}{delivered}[0]{status}, 204, 'an out-of-order NOTPAY notification is acknowledged');
is(order_row($b->{sid})->[0][1], 'PAID', '... and changes nothing');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $b->{sid}"), 2, 'messages queued once');

# ---- two submissions at once: one order ----
my $e = seed(drafts => 2);
my $pid = fork // die "fork: $!";
if (!$pid) {
    my $x = submit($e, $e->{drafts}[0]);
    POSIX::_exit($x->{status} == 200 ? 0 : 1);
}
my $r2 = submit($e, $e->{drafts}[1]);
waitpid($pid, 0);
is($? >> 8, 0, 'concurrent submission A answered 200');
is($r2->{status}, 200, 'concurrent submission B answered 200');
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $e->{sid}"), 1, 'one order for both');
is($t->sql_one("SELECT out_trade_no FROM orders WHERE student_id = $e->{sid}"),
   $r2->{json}{order}{out_trade_no}, '... the one B was given');

# ---- the draft deleted while WeChat is asked for the prepay ----
# pay_submit locks the draft row before writing the order: the deletion
# wins here, so no order may point at a deleted draft.
{
    my $s = seed(drafts => 2);
    $t->sql_do("UPDATE drafts SET created_at = created_at - 90000 WHERE student_id = $s->{sid}");
    $t->sandbox_post('/sandbox/fail', { api => 'jsapi', times => 1, mode => 'hold' });
    my $calls0 = $t->sandbox_get('/sandbox/stats')->{json}{calls}{jsapi} // 0;
    my $out = $t->dir . '/race-submit';
    my $pid = fork // die;
    if (!$pid) {
        my $r = submit($s, $s->{drafts}[0]);
        spew($out, "$r->{status} " . ($r->{json}{error} // ''));
        POSIX::_exit(0);
    }
    # the prepay call is under way, held by the sandbox until released
    $t->wait_for(sub { ($t->sandbox_get('/sandbox/stats')->{json}{calls}{jsapi} // 0) > $calls0 }, 10);
    # through the second nginx: it has no keepalive connection to the pool
    # yet, so the free child takes it (one of nginx 1's idle connections
    # may belong to the child held in the prepay call)
    my $d = $t->delete("/api/v1/drafts/$s->{drafts}[0]", token => $s->{token}, instance => 2);
    $t->sandbox_post('/sandbox/release', {});
    is($d->{status}, 204, 'race: draft deleted during the prepay call') or diag $d->{content};
    waitpid($pid, 0);
    is(slurp($out), '404 DRAFT_NOT_FOUND', 'race: the submission then finds no draft')
        or diag explain [ $t->sql("SELECT id, status FROM drafts WHERE student_id = $s->{sid}") ];
    is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $s->{sid}"), 0,
       'race: no order row for the deleted draft');
    my $r = submit($s, $s->{drafts}[1]);
    is($r->{status}, 200, 'race: the other draft can be submitted');
}

# ---- a long Chinese school name still makes a valid order ----
my $l = seed(name => '浙江省' . ('第一' x 30) . '中学');
$r = submit($l, $l->{drafts}[0]);
is($r->{status}, 200, 'long multi-byte school name: order created');
my $desc = $t->sandbox_get('/sandbox/orders')->{json}{orders}{ $r->{json}{order}{out_trade_no} }{description};
ok(length($desc) <= 127, 'description within 127 characters');
# no sandbox override: the order itself names this nginx (worker.ini's notify_url)
is($t->sandbox_get('/sandbox/orders')->{json}{orders}{ $r->{json}{order}{out_trade_no} }{notify_url},
   $t->url('/api/v1/pay/notify'), 'order notify_url is this nginx');

# ---- free school ----
my $c = seed(fee => 0);
$r = submit($c, $c->{drafts}[0]);
is($r->{status}, 200, 'free school submission');
is($r->{json}{order}{status}, 'FREE', 'order FREE');
ok(!defined $r->{json}{order}{pay}, 'pay is null');
$r = $t->get('/api/v1/photo', token => $c->{token});
is($r->{status}, 200, 'photo ready at once');

# ---- a student who declined the subscriptions gets no messages ----
my $n = seed(subs => 0);
$r = submit($n, $n->{drafts}[0]);
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $r->{json}{order}{out_trade_no} });
is($r->{json}{delivered}[0]{status}, 204, 'paid (subscriptions declined)');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE student_id = $n->{sid}"), 0, '... nothing queued');

# ---- messages delivered by the pool, once each, with one token ----
my $want_msgs = 5;    # a: 2, b: 2, c: photo ready
$t->wait_for(sub {
    $t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'") >= $want_msgs
}, 20);
my $msgs = $t->sandbox_get('/sandbox/messages')->{json}{messages};
ok($msgs, 'messages delivered') or diag explain $t->sql("SELECT * FROM outbox");
is(scalar @{ $msgs || [] }, $want_msgs, 'each exactly once');
my ($pm) = grep { $_->{touser} eq $a->{openid} && $_->{template_id} eq 'TPL_payment_result' } @{ $msgs || [] };
ok($pm, 'payment result message to the right student');
is($pm->{data}{character_string1}{value}, $o->{out_trade_no}, '... naming the order');
for my $m (@{ $msgs || [] }) {
    for my $k (keys %{ $m->{data} }) {
        next unless $k =~ /^thing/;
        cmp_ok(length($m->{data}{$k}{value}), '<=', 20, "thing value within 20 chars");
    }
}
# one renderer per template: every message carries exactly its keys
for my $m (@{ $msgs || [] }) {
    is(join(',', sort keys %{ $m->{data} }),
       $m->{template_id} eq 'TPL_payment_result' ? 'amount2,character_string1,phrase3,time4'
                                                 : 'phrase2,thing1,time3',
       "$m->{template_id}: that template's keys");
}
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"), $want_msgs, 'outbox rows sent');
my $stats = $t->sandbox_get('/sandbox/stats')->{json}{calls};
is($stats->{stable_token} // 0, 1, 'one access token fetched for all messages');
is($stats->{subscribe}, $want_msgs, 'one subscribe call per message');

done_testing;
