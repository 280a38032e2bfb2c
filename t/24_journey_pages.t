# The reading pages of the journey: notice versions, subscriptions, the
# guide video clock, /me for every early step, students.step for the
# back office.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

my $t = j_harness();
my $sch = seed_school($t, notice_version => 3, video_s => 30);

my ($sid, $code) = seed_student($t, $sch);
my $tok = login($t, 'js-pages');
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'code', '/me: code');
api_post($t, $tok, '/api/v1/code', { code => $code });
my $me = api_get($t, $tok, '/api/v1/me')->{json};
is($me->{step}, 'phone', '/me: phone');
ok($me->{student}{name}, '/me shows the scanned student');
ok(!$me->{student}{bound}, 'not bound yet');
api_post($t, $tok, '/api/v1/phone', { phone => '13800138000' });
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'confirm', '/me: confirm');
$tok = api_post($t, $tok, '/api/v1/confirm', {})->{json}{token};
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'notice', '/me: notice');
is($t->sql_one("SELECT step FROM students WHERE id = $sid"), 'notice',
   'students.step kept for the back office');

# --- notice ------------------------------------------------------------------
my $r = api_get($t, $tok, '/api/v1/notice');
is($r->{json}{version}, 3, 'current version');
is($r->{json}{title}, '须知', 'title');
$r = api_post($t, $tok, '/api/v1/notice/ack', { version => 2 });
is($r->{status}, 409, 'old version -> 409');
is($r->{json}{error}, 'NOTICE_OUTDATED', 'NOTICE_OUTDATED');
is($r->{json}{version}, 3, 'names the current version');
$r = api_post($t, $tok, '/api/v1/notice/ack', { version => '3' });
is($r->{status}, 400, 'version must be an integer');
$r = api_post($t, $tok, '/api/v1/notice/ack', { version => 3 });
is($r->{json}{step}, 'subscribe', 'acknowledged');

# --- subscriptions -------------------------------------------------------------
$r = api_post($t, $tok, '/api/v1/subscriptions', { photo_status => 'yes' });
is($r->{status}, 400, 'non-boolean flag -> 400');
is($r->{json}{field}, 'photo_status', 'names the field');
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'subscribe', 'nothing recorded');
$r = api_post($t, $tok, '/api/v1/subscriptions', { payment_result => JSON::PP::true });
is($r->{json}{step}, 'video', 'answered (declining is an answer)');
is_deeply([$t->sql("SELECT sub_photo_status, sub_payment_result, subs_set FROM students WHERE id = $sid")],
          [[0, 1, 1]], 'flags stored');

# a new notice version pulls a student who has not ordered back
$t->sql_do("UPDATE schools SET notice_version = 4 WHERE id = $sch");
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'notice', 'new notice version: back to notice');
$r = api_post($t, $tok, '/api/v1/notice/ack', { version => 4 });
is($r->{json}{step}, 'video', 'acknowledged again, on to the video');

# --- video clock -------------------------------------------------------------------
$r = api_post($t, $tok, '/api/v1/video/finish', {});
is($r->{status}, 409, 'finish without start -> 409');
is($r->{json}{remaining_s}, 30, 'the whole duration remains');
$r = api_get($t, $tok, '/api/v1/video');
is($r->{json}{duration_s}, 30, 'duration from the school');
is($r->{json}{url}, 'https://video.example/guide.mp4', 'url from the school');
api_post($t, $tok, '/api/v1/video/start', {});
$t->sql_do("UPDATE students SET video_started_at = video_started_at - 20 WHERE id = $sid");
$r = api_post($t, $tok, '/api/v1/video/finish', {});
is($r->{json}{error}, 'VIDEO_NOT_FINISHED', 'after 20 of 30 s: not finished');
ok($r->{json}{remaining_s} >= 9 && $r->{json}{remaining_s} <= 10, 'about 10 s remain');
# starting again restarts the clock
api_post($t, $tok, '/api/v1/video/start', {});
$r = api_post($t, $tok, '/api/v1/video/finish', {});
ok($r->{json}{remaining_s} >= 29, 'restart: the clock starts over');
$t->sql_do("UPDATE students SET video_started_at = video_started_at - 31 WHERE id = $sid");
$r = api_post($t, $tok, '/api/v1/video/finish', {});
is($r->{json}{step}, 'shoot', 'finished');
ok($t->sql_one("SELECT video_finished_at FROM students WHERE id = $sid"), 'finish recorded');
$r = api_get($t, $tok, '/api/v1/notice');
is($r->{status}, 200, 'earlier pages stay readable later');
$r = api_post($t, $tok, '/api/v1/video/start', {});
is($r->{status}, 200, 'watching again is allowed');
is(api_get($t, $tok, '/api/v1/me')->{json}{step}, 'shoot', 'and does not move the step back');

$me = api_get($t, $tok, '/api/v1/me')->{json};
is($me->{capacity}, 3, '/me capacity');
is_deeply($me->{drafts}, [], '/me no drafts');
is($me->{order}, undef, '/me no order');
ok(!$me->{photo_ready}, '/me no photo');

# a bad JSON body is refused before any change
$r = api_post($t, $tok, '/api/v1/notice/ack', '[1,2]');
is($r->{status}, 400, 'a JSON array is no object -> 400');

done_testing;
