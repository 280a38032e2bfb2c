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

my $t = Tucai::Test->new(worker_children => 2, asan => ($ENV{TUCAI_PAY_ASAN} ? 1 : 0),
    worker_ini_extra => "[pay]\nreconcile = 1\n[outbox]\ninterval = 1\n");
plan skip_all => 'no nginx module built' unless $t->has_nginx;
my $J = JSON::PP->new->utf8->canonical;
my $sec = $t->dir . '/secrets';
my $tmp = tempdir(CLEANUP => 1);

sub spew { open my $f, '>', $_[0] or die "$_[0]: $!"; binmode $f; print $f $_[1]; close $f }
sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; binmode $f; local $/; scalar <$f> }

# A student at step "submit": school, bound account, all earlier steps
# done, $o{drafts} drafts with their produced JPEG files.
my $seq = 0;
sub seed {
    my (%o) = @_;
    $seq++;
    my $fee = $o{fee} // 1200;
    my $subs = $o{subs} // 1;
    my $now = time;
    $t->sql_do("INSERT INTO schools (name, contact, fee_fen, notice_body, tpl_photo_status,"
        . " tpl_payment_result, created_at) VALUES ('" . ($o{name} // "Pay School $seq") . "', 'office 0571-1', $fee,"
        . " 'notice', 'TPL_photo_status', 'TPL_payment_result', $now)");
    my $school = $t->sql_one("SELECT MAX(id) FROM schools");
    my $openid = "oPayTest${seq}x$$";
    $t->sql_do("INSERT INTO accounts (openid, created_at, last_login_at) VALUES ('$openid', $now, $now)");
    my $acc = $t->sql_one("SELECT id FROM accounts WHERE openid = '$openid'");
    $t->sql_do("INSERT INTO students (school_id, student_no, name, account_id, step,"
        . " notice_ack_version, subs_set, sub_photo_status, sub_payment_result,"
        . " video_started_at, video_finished_at, created_at, updated_at) VALUES"
        . " ($school, 'S$seq', 'Student $seq', $acc, 'submit', 1, 1, $subs, $subs, $now - 200, $now - 100,"
        . " $now, $now)");
    my $sid = $t->sql_one("SELECT id FROM students WHERE account_id = $acc");
    mkdir $t->files_dir . '/drafts';
    my @d;
    for my $i (1 .. ($o{drafts} // 1)) {
        my $rel = "drafts/$sid-$i.jpg";
        spew($t->files_dir . "/$rel", "\xff\xd8\xff\xe0 draft $i of student $sid \xff\xd9");
        $t->sql_do("INSERT INTO drafts (student_id, capture_id, created_at, photo_path, original_path)"
            . " VALUES ($sid, 0, $now, '$rel', '$rel')");
        push @d, $t->sql_one("SELECT MAX(id) FROM drafts WHERE student_id = $sid");
    }
    return { school => $school, sid => $sid, acc => $acc, openid => $openid, drafts => \@d,
             token => $t->token('s', $acc, $school) };
}

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
cmp_ok($t->sql_one("SELECT COUNT(*) FROM pay_events WHERE source = 'notify' AND accepted = 0"),
       '>=', 11, 'every refusal recorded in pay_events');

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
    $t->sandbox_post('/sandbox/fail', { api => 'jsapi', times => 1, mode => 'delay' });
    my $calls0 = $t->sandbox_get('/sandbox/stats')->{json}{calls}{jsapi} // 0;
    my $out = $t->dir . '/race-submit';
    my $pid = fork // die;
    if (!$pid) {
        my $r = submit($s, $s->{drafts}[0]);
        spew($out, "$r->{status} " . ($r->{json}{error} // ''));
        POSIX::_exit(0);
    }
    # the prepay call is under way (held 1.5 s by the sandbox)
    $t->wait_for(sub { ($t->sandbox_get('/sandbox/stats')->{json}{calls}{jsapi} // 0) > $calls0 }, 10);
    my $d = $t->delete("/api/v1/drafts/$s->{drafts}[0]", token => $s->{token});
    is($d->{status}, 204, 'race: draft deleted during the prepay call');
    waitpid($pid, 0);
    is(slurp($out), '404 DRAFT_NOT_FOUND', 'race: the submission then finds no draft');
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
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'"), $want_msgs, 'outbox rows sent');
my $stats = $t->sandbox_get('/sandbox/stats')->{json}{calls};
is($stats->{stable_token} // 0, 1, 'one access token fetched for all messages');
is($stats->{subscribe}, $want_msgs, 'one subscribe call per message');

done_testing;
