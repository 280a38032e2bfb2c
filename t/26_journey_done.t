# From WeChat login to the final photo: a free school goes straight from
# submission to production; a paid school after the sandbox pays.  The
# final photo and the drafts are served by nginx (internal redirect).
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

# The sandbox notifies this nginx (worker.ini's notify_url names it);
# reconciliation and the outbox run often.
my $t = j_harness(worker_ini_extra => "[pay]\nreconcile = 1\n[outbox]\ninterval = 1\n");
my $free = seed_school($t, fee => 0);
my $paid = seed_school($t, fee => 2000);

for my $case ([free => $free], [paid => $paid]) {
    my ($kind, $sch) = @$case;
    my ($sid, $code) = seed_student($t, $sch);
    my $tok = walk($t, login($t, "js-done-$kind"), $code, 'shoot');
    my $r = capture($t, $tok);
    is($r->{status}, 201, "$kind: captured") or diag($r->{content});
    $r = api_post($t, $tok, '/api/v1/submission', { draft_id => $r->{json}{draft}{id} });
    is($r->{status}, 200, "$kind: submitted") or diag($r->{content});
    my $order = $r->{json}{order};
    $r = $t->get('/api/v1/photo', token => $tok);
    is($r->{status}, 404, "$kind: no final photo yet") if $kind eq 'paid';
    if ($kind eq 'paid') {
        is($order->{status}, 'UNPAID', 'paid: UNPAID order');
        ok($order->{pay} && $order->{pay}{paySign}, 'paid: wx.requestPayment fields');
        is($t->sandbox_get('/sandbox/orders')->{json}{orders}{ $order->{out_trade_no} }{notify_url},
           $t->url('/api/v1/pay/notify'), 'paid: the order names this nginx for the notification');
        my $p = $t->sandbox_post('/sandbox/pay', { out_trade_no => $order->{out_trade_no} });
        ok($p->{status} >= 200 && $p->{status} < 300, 'sandbox pays') or diag($p->{content});
    }
    my $me = $t->wait_for(sub {
        my $m = api_get($t, $tok, '/api/v1/me')->{json};
        $m && $m->{photo_ready} ? $m : undef;
    }, 20);
    ok($me, "$kind: the final photo becomes ready") or next;
    is($me->{step}, 'done', "$kind: step done");
    like($me->{order}{status}, qr/^(PAID|FREE)$/, "$kind: order settled");
    $r = $t->get($me->{photo_url} // '/api/v1/photo', token => $tok);
    is($r->{status}, 200, "$kind: final photo downloaded");
    is(substr($r->{content}, 0, 2), "\xFF\xD8", "$kind: a JPEG");
    $r = capture($t, $tok);
    is($r->{json}{error}, 'STEP_NOT_ALLOWED', "$kind: no more captures when done");
    $r = api_post($t, $tok, '/api/v1/submission', { draft_id => 1 });
    is($r->{json}{error}, 'ALREADY_PAID', "$kind: no more switching");
    $r = api_get($t, $tok, '/api/v1/drafts');
    is($r->{status}, 200, "$kind: drafts still listed");
}

done_testing;
