# One message per consent (WeChat's one-time subscriptions): each accept of
# a template in the subscriptions step is one consent, each message sent
# uses one; a message without a consent left is kept 'skipped' with its
# reason and never sent.  The sandbox enforces the same rule (a second
# message on one consent: 43101), so an outbox that sent more would see its
# messages die here.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

my $t = j_harness(worker_ini_extra => "[outbox]\ninterval = 1\n",
                  knobs => { drafts_capacity => 10 });
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;
my $sch = seed_school($t);
my ($sid, $code) = seed_student($t, $sch);
my $tok = walk($t, login($t, 'js-consent'), $code, 'shoot');   # accepts both
my $openid = $t->sql_one("SELECT a.openid FROM accounts a JOIN students s"
                       . " ON s.account_id = a.id WHERE s.id = $sid");

my $r = api_get($t, $tok, '/api/v1/subscriptions');
is_deeply($r->{json}{consents}, { photo_status => 1, payment_result => 1 },
          'one consent per accepted template') or diag($r->{content});

sub sent_to { scalar grep { $_->{touser} eq $openid }
              @{ $t->sandbox_get('/sandbox/messages')->{json}{messages} } }
sub rows { $t->sql("SELECT kind, status, last_error FROM outbox WHERE student_id = $sid"
                 . " ORDER BY id") }
sub good { capture($t, $tok, photo => 'good.jpg') }

# --- the first message uses the consent ----------------------------------------
is(good()->{status}, 201, 'a capture passes');
ok($t->wait_for(sub { sent_to() == 1 }, 20), 'its message is sent');
is($t->sql_one("SELECT consents_photo_status FROM students WHERE id = $sid"), 0,
   'the consent is used');

# --- the next one has none left: kept, not sent --------------------------------
is(good()->{status}, 201, 'a second capture passes');
my @rows = rows();
is(scalar @rows, 2, 'two messages recorded');
is($rows[1][1], 'skipped', 'the second is skipped');
like($rows[1][2], qr/no consent left/, '... with its reason');

# --- a new accept is one more message --------------------------------------------
$r = api_post($t, $tok, '/api/v1/subscriptions', { photo_status => JSON::PP::true });
is($r->{status}, 200, 'the student accepts again');
is(api_get($t, $tok, '/api/v1/subscriptions')->{json}{consents}{photo_status}, 1,
   'one consent again');
# what the mini-program's wx.requestSubscribeMessage tells WeChat
$t->sandbox_post('/sandbox/consent', { openid => $openid, template_id => 'TPL_PHOTO' });
is(good()->{status}, 201, 'a third capture passes');
ok($t->wait_for(sub { sent_to() == 2 }, 20), 'its message is sent');
@rows = rows();
is_deeply([map { $_->[1] } @rows], [qw(sent skipped sent)], 'sent, skipped, sent');
is($t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'dead'"), 0,
   'WeChat refused nothing (no message beyond a consent)');
is($t->sandbox_get('/sandbox/stats')->{json}{calls}{subscribe}, 2,
   'two subscribe calls in all');

sub consents { $t->sql_one("SELECT consents_photo_status FROM students WHERE id = $sid") }
sub last_row { ($t->sql("SELECT id, status, attempts FROM outbox WHERE student_id = $sid"
                      . " ORDER BY id DESC LIMIT 1"))[0] }

# --- a message that dies unsent gives its consent back ---------------------------
api_post($t, $tok, '/api/v1/subscriptions', { photo_status => JSON::PP::true });
$t->sandbox_post('/sandbox/consent', { openid => $openid, template_id => 'TPL_PHOTO' });
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 100000 });
is(good()->{status}, 201, 'a capture while WeChat fails');
is(consents(), 0, 'its message took the consent');
my $id = last_row()->[0];
ok($t->wait_for(sub { last_row()->[2] >= 1 }, 20), 'the message is failing');
# past max_attempts and a day old: the next failure is its last
$t->sql_do("UPDATE outbox SET attempts = 30, created_at = created_at - 90000, next_at = 0"
         . " WHERE id = $id");
ok($t->wait_for(sub { last_row()->[1] eq 'dead' }, 20), 'it ends dead');
is(consents(), 1, 'the consent is given back');
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 0 });

# --- 43101: WeChat holds no consent, the count follows it -------------------------
api_post($t, $tok, '/api/v1/subscriptions', { photo_status => JSON::PP::true });
is(consents(), 2, 'two consents');
$t->sandbox_post('/sandbox/refuse', { openid => $openid });
is(good()->{status}, 201, 'a capture for a user who turned messages off');
ok($t->wait_for(sub { last_row()->[1] eq 'dead' }, 20), 'its message dies (43101)');
is(consents(), 0, 'no consent left after 43101');

done_testing;
