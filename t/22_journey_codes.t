# Collection codes, phone, confirm and skipped steps: every error of the
# first half of the journey, through nginx.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Encode ();
require "./t/20_journey_lib.pl";

my $t = j_harness();
my $sch = seed_school($t, contact => '王老师 0571-88001234');
my $other = seed_school($t);

# --- login errors ------------------------------------------------------------
my $r = $t->post_json('/api/v1/login', { code => 'fail-abc' });
is($r->{status}, 400, 'sandbox 40029 -> 400');
is($r->{json}{error}, 'WECHAT_CODE_INVALID', 'WECHAT_CODE_INVALID');
$r = $t->post_json('/api/v1/login', { nocode => 1 });
is($r->{status}, 400, 'missing code -> 400');
$r = $t->post_json('/api/v1/login', '{"code":');
is($r->{status}, 400, 'malformed JSON -> 400');
like($r->{json}{error} // '', qr/^BAD_JSON$/, 'BAD_JSON');
$r = $t->post_json('/api/v1/login', { code => 'x' x 500 });
is($r->{status}, 400, 'oversized code -> 400');

# WeChat down (more failures than the pool's retries): 502, JSON, retry_after
$t->sandbox_post('/sandbox/fail', { api => 'jscode2session', times => 10, mode => '500' });
$r = $t->post_json('/api/v1/login', { code => 'js-while-down' });
is($r->{status}, 502, 'WeChat down -> 502');
is($r->{json}{error}, 'WECHAT_UNAVAILABLE', 'WECHAT_UNAVAILABLE');
ok($r->{json}{retry_after}, 'with retry_after');
$t->sandbox_post('/sandbox/reset', {});
# one failure is absorbed by the retries
$t->sandbox_post('/sandbox/fail', { api => 'jscode2session', times => 1, mode => 'errcode' });
$r = $t->post_json('/api/v1/login', { code => 'js-retried' });
is($r->{status}, 200, 'a single WeChat hiccup is retried') or diag($r->{content});
$t->sandbox_post('/sandbox/reset', {});

# --- skipped steps ------------------------------------------------------------
my $tok = login($t, 'js-skip');
for my $case (['POST', '/api/v1/phone', { phone => '13800138000' }],
              ['POST', '/api/v1/confirm', {}],
              ['GET',  '/api/v1/notice'],
              ['POST', '/api/v1/notice/ack', { version => 1 }],
              ['POST', '/api/v1/subscriptions', {}],
              ['GET',  '/api/v1/video'],
              ['POST', '/api/v1/video/start', {}],
              ['POST', '/api/v1/video/finish', {}],
              ['GET',  '/api/v1/drafts'],
              ['POST', '/api/v1/submission', { draft_id => 1 }]) {
    my ($m, $p, $b) = @$case;
    $r = $m eq 'GET' ? api_get($t, $tok, $p) : api_post($t, $tok, $p, $b);
    is($r->{status}, 409, "$m $p at step code -> 409");
    is($r->{json}{error}, 'STEP_NOT_ALLOWED', "$m $p: STEP_NOT_ALLOWED");
    is($r->{json}{step}, 'code', "$m $p: names the current step");
}
$r = capture($t, $tok);
is($r->{json}{error}, 'STEP_NOT_ALLOWED', 'capture at step code refused');

# --- unknown, revoked, expired codes ---------------------------------------------
$r = api_post($t, $tok, '/api/v1/code', { code => "$sch-NOSUCHCODE2345" });
is($r->{status}, 404, 'unknown code -> 404');
is($r->{json}{error}, 'CODE_UNKNOWN', 'CODE_UNKNOWN');
is($r->{json}{contact}, '王老师 0571-88001234', 'contact from the code prefix');
$r = api_post($t, $tok, '/api/v1/code', { code => 'garbage' });
is($r->{json}{error}, 'CODE_UNKNOWN', 'garbage -> CODE_UNKNOWN');
ok(!exists $r->{json}{contact}, 'no contact when no school is known');
$r = api_post($t, $tok, '/api/v1/code', {});
is($r->{status}, 400, 'missing code field -> 400');

my (undef, $revoked) = seed_student($t, $sch, status => 'revoked');
$r = api_post($t, $tok, '/api/v1/code', { code => $revoked });
is($r->{status}, 410, 'revoked -> 410');
is($r->{json}{error}, 'CODE_REVOKED', 'CODE_REVOKED');
is($r->{json}{contact}, '王老师 0571-88001234', 'with the contact');

my (undef, $expired) = seed_student($t, $sch, expires_at => time - 10);
$r = api_post($t, $tok, '/api/v1/code', { code => $expired });
is($r->{status}, 410, 'expired -> 410');
is($r->{json}{error}, 'CODE_REVOKED', 'expired answers CODE_REVOKED');
is($r->{json}{reason}, 'expired', 'with reason expired');
is($t->sql_one('SELECT pending_student_id FROM accounts WHERE id = ' . account_of($tok)),
   undef, 'refused codes leave nothing pending');

# --- a typed code in lower case with spaces is still found ------------------
my ($sid, $code) = seed_student($t, $sch, name => '李四');
$r = api_post($t, $tok, '/api/v1/code', { code => '  ' . lc($code) . " \n" });
is($r->{status}, 200, 'lower case, padded code accepted') or diag($r->{content});
is($r->{json}{step}, 'phone', 'step phone');

# --- phone -------------------------------------------------------------------------
for my $bad ('12345', '23800138000', '1380013800a', '138001380001', '12800138000') {
    $r = api_post($t, $tok, '/api/v1/phone', { phone => $bad });
    is($r->{status}, 400, "phone $bad -> 400");
    is($r->{json}{error}, 'PHONE_INVALID', "PHONE_INVALID for $bad");
    is($r->{json}{field}, 'phone', 'field phone');
}
$r = api_post($t, $tok, '/api/v1/phone', { phone_code => 'phone:13700001111' });
is($r->{status}, 200, 'phone from WeChat code') or diag($r->{content});
is($r->{json}{check}{phone}, '13700001111', 'number from the sandbox');
is($r->{json}{check}{school}, Encode::decode_utf8($t->sql_one("SELECT name FROM schools WHERE id = $sch")), "school");
$t->sandbox_post('/sandbox/fail', { api => 'phone', times => 10, mode => 'drop' });
$r = api_post($t, $tok, '/api/v1/phone', { phone_code => 'phone:13700002222' });
is($r->{status}, 502, 'phone: WeChat unreachable -> 502');
is($r->{json}{error}, 'WECHAT_UNAVAILABLE', 'WECHAT_UNAVAILABLE');
$t->sandbox_post('/sandbox/reset', {});
$r = api_post($t, $tok, '/api/v1/phone', { phone_code => 'bogus' });
is($r->{json}{error}, 'PHONE_INVALID', 'a bad phone code -> PHONE_INVALID');
is($r->{json}{field}, 'phone_code', 'field phone_code');
$r = api_post($t, $tok, '/api/v1/phone', { phone_code => 'phone:+4412345' });
is($r->{json}{error}, 'PHONE_INVALID', 'non-mainland number from WeChat refused');

# --- bound elsewhere -------------------------------------------------------------------
# a second account scans the same code before the first confirms: both pending
my $tok_b = login($t, 'js-rival');
$r = api_post($t, $tok_b, '/api/v1/code', { code => $code });
is($r->{status}, 200, 'rival may scan while unbound');
api_post($t, $tok_b, '/api/v1/phone', { phone => '13600000000' });

# concurrent confirms of the same student: exactly one wins
my @pids;
for my $tk ($tok, $tok_b) {
    my $pid = fork // die;
    if (!$pid) {
        my $x = $t->post_json('/api/v1/confirm', {}, token => $tk);
        $t->{stopped} = 1;
        POSIX::_exit($x->{status} == 200 ? 0 : $x->{status} == 409
                     && $x->{json}{error} eq 'CODE_BOUND_ELSEWHERE' ? 9 : 1);
    }
    push @pids, $pid;
}
my @codes = map { waitpid($_, 0); $? >> 8 } @pids;
is_deeply([sort @codes], [0, 9], 'one confirm wins, the other gets CODE_BOUND_ELSEWHERE');
my $winner = $codes[0] == 0 ? $tok : $tok_b;
my $loser  = $codes[0] == 0 ? $tok_b : $tok;
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid"), account_of($winner),
   'the student is bound to the winner');

$r = api_post($t, $loser, '/api/v1/code', { code => $code });
is($r->{status}, 409, 'bound code -> 409 for another account');
is($r->{json}{error}, 'CODE_BOUND_ELSEWHERE', 'CODE_BOUND_ELSEWHERE');
is($r->{json}{contact}, '王老师 0571-88001234', 'with the contact');

$r = api_post($t, $winner, '/api/v1/code', { code => $code });
is($r->{json}{error}, 'STEP_NOT_ALLOWED', 'a bound account cannot scan again');
$r = api_post($t, $winner, '/api/v1/confirm', {});
is($r->{json}{error}, 'STEP_NOT_ALLOWED', 'nor confirm twice');

# --- revoked between scan and confirm ----------------------------------------------------
my $tok_c = login($t, 'js-late');
my ($sid_c, $code_c) = seed_student($t, $sch);
api_post($t, $tok_c, '/api/v1/code', { code => $code_c });
api_post($t, $tok_c, '/api/v1/phone', { phone => '13500000000' });
$t->sql_do("UPDATE codes SET status = 'revoked' WHERE student_id = $sid_c");
$r = api_post($t, $tok_c, '/api/v1/confirm', {});
is($r->{status}, 410, 'code revoked after the scan: confirm refused');
is($t->sql_one("SELECT account_id FROM students WHERE id = $sid_c"), undef, 'nothing bound');

# --- scanning another code before confirm replaces the first ---------------------
my $tok_r = login($t, 'js-rescan');
my ($sid_r1, $code_r1) = seed_student($t, $sch);
my ($sid_r2, $code_r2) = seed_student($t, $sch);
api_post($t, $tok_r, '/api/v1/code', { code => $code_r1 });
api_post($t, $tok_r, '/api/v1/phone', { phone => '13300000000' });
$r = api_post($t, $tok_r, '/api/v1/code', { code => $code_r2 });
is($r->{json}{step}, 'phone', 'another student: the phone is asked again');
is($t->sql_one('SELECT pending_student_id FROM accounts WHERE id = ' . account_of($tok_r)),
   $sid_r2, 'the second scan wins');

# --- QR picture --------------------------------------------------------------------------
my ($sid_q, $code_q) = seed_student($t, $other);
my $qrgen = "$Tucai::Test::ROOT/build/journey-qrgen";
my $png = `$qrgen '$code_q' 6 | convert pgm:- png:-`;
ok(length $png > 100, 'QR picture made');
my $tok_q = login($t, 'js-qr');
$r = $t->post_multipart('/api/v1/code',
    [image => { data => $png, filename => 'qr.png', type => 'image/png' }], token => $tok_q);
is($r->{status}, 200, 'code from a QR picture') or diag($r->{content});
is($t->sql_one('SELECT pending_student_id FROM accounts WHERE id = ' . account_of($tok_q)),
   $sid_q, 'pending student from the picture');
my (undef, $code_u) = seed_student($t, $other);
my $png_u = `$qrgen 'https://tucai.example/scan?code=$code_u&from=sheet' 6 | convert pgm:- png:-`;
$r = $t->post_multipart('/api/v1/code',
    [image => { data => $png_u, filename => 'u.png', type => 'image/png' }], token => $tok_q);
is($r->{status}, 200, 'a QR holding a link with code= is understood') or diag($r->{content});
my $nojpeg = `convert -size 200x200 xc:white jpg:-`;
$r = $t->post_multipart('/api/v1/code',
    [image => { data => $nojpeg, filename => 'w.jpg', type => 'image/jpeg' }], token => $tok_q);
is($r->{status}, 422, 'picture without a QR code -> 422');
is($r->{json}{error}, 'QR_NOT_FOUND', 'QR_NOT_FOUND');
$r = $t->post_multipart('/api/v1/code',
    [image => { data => 'not an image', filename => 'x.jpg', type => 'image/jpeg' }], token => $tok_q);
is($r->{json}{error}, 'QR_NOT_FOUND', 'junk bytes -> QR_NOT_FOUND');
$r = $t->request('POST', '/api/v1/code', token => $tok_q,
    content_type => 'multipart/form-data; boundary=zz', body => "--zz\r\nbroken");
is($r->{status}, 400, 'broken multipart -> 400');

# --- tokens (nginx verifies) --------------------------------------------------------------
$r = $t->get('/api/v1/me');
is($r->{status}, 401, 'no token -> 401');
(my $forged = $tok_q) =~ s/\.(\d+)\.(\d+)\.(\d+)\./.1$1.$2.$3./;
$r = $t->get('/api/v1/me', token => $forged);
is($r->{status}, 401, 'forged subject -> 401');
is($r->{json}{error}, 'UNAUTHORIZED', 'UNAUTHORIZED');
my $expired_tok = $t->token('s', account_of($tok_q), 0, -10);
$r = $t->get('/api/v1/me', token => $expired_tok);
is($r->{status}, 401, 'expired token -> 401');
my $teacher = $t->token('t', 1, $sch);
$r = $t->get('/api/v1/me', token => $teacher);
ok($r->{status} == 401 || $r->{status} == 403 || $r->{status} == 404,
   'a teacher token is no student token') or diag($r->{status});

done_testing;
