# The whole student journey through nginx, the pool and MariaDB, for
# several students at once: login, code, phone, confirm, notice,
# subscriptions, video, capture, drafts, submission, /me.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

# Under ASan/UBSan when that build is there (make test builds it).
my $t = j_harness(asan => -x "$Tucai::Test::ROOT/build/asan/tucai-worker" ? 1 : 0);
my $free = seed_school($t, fee => 0);
my $paid = seed_school($t, fee => 1500);

# --- one student, every step, with /me after each -------------------------
my ($sid, $code) = seed_student($t, $free, name => '张三', student_no => 'F001');
my $tok = login($t, 'js-flow-1');
my $me = api_get($t, $tok, '/api/v1/me');
is($me->{status}, 200, '/me before anything');
is($me->{json}{step}, 'code', 'a new account starts at code');
is($me->{json}{student}, undef, 'no student yet');

# the same js_code gives the same account (stable openid)
my $tok2 = login($t, 'js-flow-1');
is(account_of($tok2), account_of($tok), 'same openid, same account');

my $r = api_post($t, $tok, '/api/v1/code', { code => $code });
is($r->{status}, 200, 'code accepted');
is($r->{json}{student}{name}, '张三', 'code page shows the name');
is($r->{json}{student}{student_no}, 'F001', 'and the student number');
is($r->{json}{step}, 'phone', 'next: phone');

$r = api_post($t, $tok, '/api/v1/phone', { phone => '13912345678' });
is($r->{status}, 200, 'phone accepted');
is($r->{json}{check}{phone}, '13912345678', 'info check shows the phone');
is($r->{json}{check}{name}, '张三', 'info check shows the name');
is($r->{json}{step}, 'confirm', 'next: confirm');
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid"), undef,
   'nothing bound before confirm');

$r = api_post($t, $tok, '/api/v1/confirm', {});
is($r->{status}, 200, 'confirm');
is($r->{json}{step}, 'notice', 'next: notice');
like($r->{json}{token}, qr/^t1\.[^.]+\.s\.\d+\.$free\.\d+\./, 'fresh token carries the school');
my $tok_s = $r->{json}{token};
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid"), account_of($tok),
   'student bound to the account');
is($t->sql_one("SELECT phone FROM students WHERE id = $sid"), '13912345678', 'phone stored');

$r = api_get($t, $tok_s, '/api/v1/notice');
is($r->{status}, 200, 'notice');
is($r->{json}{version}, 1, 'notice version');
$r = api_post($t, $tok_s, '/api/v1/notice/ack', { version => 1 });
is($r->{json}{step}, 'subscribe', 'notice acked');

$r = api_get($t, $tok_s, '/api/v1/subscriptions');
is($r->{json}{templates}{photo_status}, 'TPL_PHOTO', 'templates from the school');
$r = api_post($t, $tok_s, '/api/v1/subscriptions',
              { photo_status => JSON::PP::true, payment_result => JSON::PP::false });
is($r->{json}{step}, 'video', 'subscriptions recorded');
$r = api_get($t, $tok_s, '/api/v1/subscriptions');
ok($r->{json}{accepted}{photo_status}, 'photo_status accepted');
ok(!$r->{json}{accepted}{payment_result}, 'payment_result declined');

$r = api_get($t, $tok_s, '/api/v1/video');
is($r->{json}{duration_s}, 60, 'video duration');
$r = api_post($t, $tok_s, '/api/v1/video/start', {});
ok($r->{json}{started_at}, 'video started');
$r = api_post($t, $tok_s, '/api/v1/video/finish', {});
is($r->{status}, 409, 'finish too early');
is($r->{json}{error}, 'VIDEO_NOT_FINISHED', 'VIDEO_NOT_FINISHED');
ok($r->{json}{remaining_s} > 50 && $r->{json}{remaining_s} <= 60, 'remaining_s');
$t->sql_do("UPDATE students SET video_started_at = video_started_at - 61 WHERE id = $sid");
$r = api_post($t, $tok_s, '/api/v1/video/finish', {});
is($r->{status}, 200, 'finish after the duration');
is($r->{json}{step}, 'shoot', 'next: shoot');

$r = capture($t, $tok_s);
is($r->{status}, 201, 'good capture -> draft') or diag($r->{content});
ok($r->{json}{verdict}{pass}, 'verdict pass');
my $d1 = $r->{json}{draft}{id};
ok($d1, 'draft id');
is($r->{json}{draft}{photo_url}, "/api/v1/drafts/$d1/photo", 'photo_url');
is($r->{json}{step}, 'submit', 'next: submit');
my ($orig) = $t->sql("SELECT original_path FROM captures WHERE student_id = $sid");
ok(-s $t->files_dir . "/$orig->[0]", 'original kept on disk');
my $pp = $t->sql_one("SELECT photo_path FROM drafts WHERE id = $d1");
ok(-s $t->files_dir . "/$pp", 'draft JPEG on disk');

$r = api_get($t, $tok_s, "/api/v1/drafts/$d1/photo");
is($r->{status}, 200, 'draft photo served');
is(substr($r->{content}, 0, 2), "\xFF\xD8", 'as a JPEG');
is(length $r->{content}, -s $t->files_dir . "/$pp", 'the stored bytes (nginx serves the file)');

$r = api_get($t, $tok_s, '/api/v1/drafts');
is(scalar @{ $r->{json}{drafts} }, 1, 'one draft listed');
is($r->{json}{capacity}, 3, 'capacity');
ok($r->{json}{drafts}[0]{deletable_at}, 'deletable_at');

$r = api_post($t, $tok_s, '/api/v1/submission', { draft_id => $d1 });
is($r->{status}, 200, 'submission') or diag($r->{content});
is($r->{json}{order}{status}, 'FREE', 'free school: FREE order');
is($r->{json}{order}{pay}, undef, 'no pay fields when free');
like($r->{json}{step}, qr/^(producing|done)$/, 'free school goes straight to producing');

$me = api_get($t, $tok_s, '/api/v1/me')->{json};
is($me->{student}{name}, '张三', '/me student');
is($me->{order}{status}, 'FREE', '/me order');
is(scalar @{ $me->{drafts} }, 1, '/me drafts');
is($me->{lock}, undef, '/me no lock');
is($me->{cooldown_until}, undef, '/me no cooldown');

# --- several students at once, in a paid school ---------------------------
my @kids;
for my $i (1 .. 4) {
    my ($s, $c) = seed_student($t, $paid);
    my $pid = fork // die;
    if (!$pid) {
        # child: its own walk; exit status tells the parent
        my $ok = eval {
            my $tk = $t->post_json('/api/v1/login', { code => "js-many-$i" })->{json}{token};
            my $ok = 1;
            for ([code => { code => $c }], [phone => { phone => "1380000000$i" }],
                 [confirm => {}]) {
                my $x = $t->post_json("/api/v1/$_->[0]", $_->[1], token => $tk);
                $ok &&= $x->{status} == 200;
                $tk = $x->{json}{token} if $_->[0] eq 'confirm';
            }
            $ok && $t->post_json('/api/v1/notice/ack', { version => 1 }, token => $tk)->{status} == 200
                && $t->post_json('/api/v1/subscriptions', {}, token => $tk)->{status} == 200
                or die "walk failed";
            my $a = account_of($tk);
            $t->post_json('/api/v1/video/start', {}, token => $tk);
            $t->sql_do("UPDATE students SET video_started_at = video_started_at - 3600 WHERE account_id = $a");
            $t->post_json('/api/v1/video/finish', {}, token => $tk)->{json}{step} eq 'shoot' or die;
            my $cr = capture($t, $tk);
            $cr->{status} == 201 or die "capture $cr->{status} $cr->{content}";
            my $sr = $t->post_json('/api/v1/submission', { draft_id => $cr->{json}{draft}{id} }, token => $tk);
            $sr->{status} == 200 && $sr->{json}{order}{status} eq 'UNPAID'
                && $sr->{json}{step} eq 'pay' or die "submit $sr->{content}";
            1;
        };
        $t->{stopped} = 1;   # the parent owns the processes
        POSIX::_exit($ok ? 0 : 1);
    }
    push @kids, $pid;
}
for my $pid (@kids) {
    waitpid($pid, 0);
    is($? >> 8, 0, "concurrent student $pid walked to pay");
}
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE school_id = $paid AND status = 'UNPAID'"),
   4, 'four UNPAID orders');
is($t->sql_one("SELECT COUNT(DISTINCT account_id) FROM students WHERE school_id = $paid"),
   4, 'four distinct accounts bound');

done_testing;
