# Edge: rate limits (token buckets in the shm zone), the status endpoint,
# zone state kept across reloads, a size change logged, and `nginx -t`
# refusing bad knob values.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1,
    nginx_extra_server => "tucai_login_rate 2r/m burst=1; tucai_code_rate 1r/m burst=2;"
        . " tucai_admin_login_rate 2r/m burst=1;");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

my $conf = $t->dir . '/nginx/nginx.conf';

# a js_code WeChat refuses: per address, only refused logins count
sub login { $t->post_json('/api/v1/login', { code => 'fail-edge-test' }) }

# login: burst + 1 failures pass on to the pool, then nginx refuses
my @st = map { login()->{status} } 1 .. 2;
ok(!grep({ $_ == 429 } @st), 'first refused logins pass (burst=1)');
my $r = login();
is($r->{status}, 429, 'login over the rate: 429');
is($r->{json}{error}, 'RATE_LIMITED', 'RATE_LIMITED');
ok($r->{json}{retry_after} >= 1 && $r->{json}{retry_after} <= 60, 'retry_after in seconds');
is($r->{headers}{'retry-after'}, $r->{json}{retry_after}, 'Retry-After header matches');
my @pool_logins = grep { m{"POST /api/v1/login[^\n]*ups=unix:} } split /\n/, $t->nginx_access_log;
is(scalar @pool_logins, 2, 'refused logins never reached the pool');

# collection codes: every attempt per student, failures per client IP
# (tucai_code_ip_rate, the template's 30r/m burst=60: not reached here)
my $s1 = $t->token('s', 501, 0);
my $s2 = $t->token('s', 502, 0);
@st = map { $t->post_json('/api/v1/code', { code => "guess$_" }, token => $s1)->{status} } 1 .. 3;
ok(!grep({ $_ == 429 } @st), 'three code attempts pass (burst=2)');
$r = $t->post_json('/api/v1/code', { code => 'guess4' }, token => $s1);
is($r->{json}{error}, 'RATE_LIMITED', 'fourth code attempt refused');
$r = $t->post_json('/api/v1/code', { code => 'guess5' }, token => $s2);
isnt($r->{status}, 429, 'another student from the same IP is not refused');

# status endpoint
$r = $t->get('/tucai/status');
is($r->{status}, 200, 'status answers');
my $s = $r->{json};
ok($s->{zone}{pages_total} > 0, 'zone pages reported');
is($s->{zone}{pages_used} + $s->{zone}{pages_free}, $s->{zone}{pages_total}, 'used + free = total');
ok($s->{entries} >= 3, 'bucket entries counted');
is($s->{refusals}{rate_limited}, 2, 'refusals by kind: rate_limited');
is($s->{requests}{login}, 3, 'requests by op: login');
is($s->{requests}{code}, 5, 'requests by op: code');
ok(exists $s->{pool_errors} && exists $s->{evictions} && exists $s->{hits}, 'counters present');
$r = $t->post_json('/tucai/status', {});
is($r->{status}, 404, 'status is GET only');

# reload with the same size keeps the buckets; wait for the old workers to
# be gone so that the answer comes from the new generation
sub reload {
    $t->reload_nginx;
    ok($t->wait_for(sub { my @w = $t->_nginx_workers(1); @w == 2 }, 20),
       'old workers gone');
}
reload();
$r = login();
is($r->{json}{error}, 'RATE_LIMITED', 'still limited after a reload (zone kept)');
is($t->get('/tucai/status')->{json}{requests}{login}, 4, 'counters kept across reload');

# a size change is logged and starts empty
my $text = do { local (@ARGV, $/) = ($conf); <> };
$text =~ s/tucai_zone tucai:4m;/tucai_zone tucai:8m;/ or die 'zone line not found';
open my $fh, '>', $conf or die;
print $fh $text;
close $fh;
reload();
is($t->get('/tucai/status')->{json}{zone}{size}, 8388608, 'new zone in service');
like($t->nginx_log, qr/tucai_zone "tucai" size changed from 4194304 to 8388608/,
     'size change logged');
$r = login();
isnt($r->{status}, 429, 'new zone: login passes again');

# teacher login: its own per-IP bucket, refused by nginx like student login
sub admin_login { $t->post_json('/admin/api/v1/login', { username => 'guess', password => "pw$_[0]" }) }
@st = map { admin_login($_)->{status} } 1 .. 2;
is_deeply(\@st, [401, 401], 'teacher logins within the burst reach the pool (wrong password)')
    or diag explain \@st;
$r = admin_login(3);
is($r->{status}, 429, 'teacher login over the rate: 429');
is($r->{json}{error}, 'RATE_LIMITED', 'teacher login: RATE_LIMITED');
ok($r->{json}{retry_after} >= 1 && $r->{json}{retry_after} <= 60, 'teacher login: retry_after');
is($r->{headers}{'retry-after'}, $r->{json}{retry_after}, 'teacher login: Retry-After header');
my @pool_admin = grep { m{"POST /admin/api/v1/login[^\n]*ups=unix:} } split /\n/, $t->nginx_access_log;
is(scalar @pool_admin, 2, 'the refused teacher login never reached the pool');
is($t->post_json('/api/v1/login', { code => 'edge-ok' })->{status}, 200,
   'student login has its own bucket');

# nginx -t rejects bad knob values with a clear message
my $p = $t->dir . '/nginx';
my %bad = (
    'tucai_cooldown 0'             => qr/"tucai_cooldown" must be between 1 and 86400 seconds, not "0"/,
    'tucai_cooldown soon'          => qr/"tucai_cooldown" directive invalid value/,
    'tucai_uploads_in_flight 0'    => qr/"tucai_uploads_in_flight" must be between 1 and 16, not "0"/,
    'tucai_liveness_lock_after -1' => qr/"tucai_liveness_lock_after" directive invalid number/,
    'tucai_max_upload 1'           => qr/"tucai_max_upload" must be between 1024 and \d+ bytes/,
    'tucai_code_rate 5r/h'         => qr/invalid rate "5r\/h"/,
    'tucai_code_rate 5r/m burst=x' => qr/invalid burst/,
    'tucai_login_rate 5r/m fast'   => qr/unknown parameter "fast"/,
    'tucai_admin_login_rate 5r/d'  => qr/invalid rate "5r\/d"/,
    'tucai_code_ip_rate 0r/m'      => qr/invalid rate "0r\/m"/,
    'tucai_drafts_capacity 1000'   => qr/"tucai_drafts_capacity" must be between 1 and 100, not "1000"/,
    'tucai_lock_revalidate 2h'     => qr/"tucai_lock_revalidate" must be between 1 and 3600 seconds/,
);
for my $line (sort keys %bad) {
    (my $bad = $text) =~ s/server_name _;/server_name _; $line;/;
    open my $o, '>', "$p/bad.conf" or die;
    print $o $bad;
    close $o;
    my $out = `/usr/sbin/nginx -t -p $p/ -c $p/bad.conf -g 'pid $p/t.pid; error_log stderr;' 2>&1`;
    isnt($?, 0, "nginx -t fails: $line");
    like($out, $bad{$line}, "clear message: $line");
}
(my $bad = $text) =~ s/tucai_zone tucai:8m;/tucai_zone tucai;/;
open my $o, '>', "$p/bad.conf" or die;
print $o $bad;
close $o;
my $out = `/usr/sbin/nginx -t -p $p/ -c $p/bad.conf -g 'pid $p/t.pid; error_log stderr;' 2>&1`;
like($out, qr/expected NAME:SIZE/, 'nginx -t: zone without a size');
my $keys = $t->dir . '/badkeys';
open $o, '>', $keys or die;
print $o "k1 abcd\n";
close $o;
($bad = $text) =~ s/tucai_token_keys \S+;/tucai_token_keys $keys;/;
open $o, '>', "$p/bad.conf" or die;
print $o $bad;
close $o;
$out = `/usr/sbin/nginx -t -p $p/ -c $p/bad.conf -g 'pid $p/t.pid; error_log stderr;' 2>&1`;
like($out, qr/line 1: expected "KID HEXSECRET"/, 'nginx -t: short key secret');
($bad = $text) =~ s/tucai_token_keys \S+;//;
open $o, '>', "$p/bad.conf" or die;
print $o $bad;
close $o;
$out = `/usr/sbin/nginx -t -p $p/ -c $p/bad.conf -g 'pid $p/t.pid; error_log stderr;' 2>&1`;
like($out, qr/"tucai_pass" needs "tucai_token_keys"/, 'nginx -t: no keys');

done_testing;
