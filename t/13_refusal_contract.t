# One refusal contract (include/tucai_errors.h): each refusal that both the
# pool and nginx can give is provoked once through the pool and once from
# nginx's own state (its zone), and the two JSON bodies are compared byte
# for byte.  Only retry_after may differ (seconds left, counted at each
# answer); it must equal the Retry-After header on both sides.
#
#   423 LOCKED liveness (with the school's contact, escaped as the pool
#       escapes it; a contact too long for the zone is left to the pool)
#   423 LOCKED quality, 429 COOLING_DOWN (retry_after varies)
#   409 UPLOAD_IN_PROGRESS
#   429 RATE_LIMITED for wrong teacher passwords (pool: per username;
#       nginx: per address; retry_after varies)
#   401 UNAUTHORIZED for a session that ended (pool: account gone; nginx:
#       token expired)
use strict;
use warnings;
use utf8;
use lib 't/lib';
use IO::Socket::INET;
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

# --- the texts live in the header only ----------------------------------------
# nginx spells no refusal itself, and the pool gives the refusals that are
# only the contract's (those nginx gives too) through resp_refuse()
{
    my $root = $Tucai::Test::ROOT;
    my $slurp = sub { open my $f, '<:utf8', $_[0] or die "$_[0]: $!"; local $/; <$f> };
    my @edge;
    for my $f (glob "$root/ngx_module/*.c") {
        my $src = $slurp->($f);
        push @edge, $f =~ s{.*/}{}r while $src =~ /"[^"\n]*\p{Han}[^"\n]* \/ [A-Z]/g;
    }
    is_deeply(\@edge, [], 'nginx: no refusal text outside tucai_errors.h');
    my %only = map { $_ => 1 } qw(LOCKED COOLING_DOWN UPLOAD_IN_PROGRESS RATE_LIMITED
                                  POOL_UNAVAILABLE METHOD_NOT_ALLOWED BODY_TOO_LARGE);
    my @pool;
    for my $f (glob("$root/worker/*/*.c")) {
        my $src = $slurp->($f);
        while ($src =~ /resp_error\s*\(\s*\w+\s*,\s*\d+\s*,\s*"(\w+)"/g) {
            push @pool, ($f =~ s{.*/}{}r) . ": $1" if $only{$1};
        }
    }
    is_deeply(\@pool, [], 'pool: the contract\'s refusals only through resp_refuse()');
}

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

my $t = j_harness(knobs => { cooldown => '60s', uploads_in_flight => 1,
                             lock_revalidate => '60s',
                             admin_login_rate => '1r/m burst=12' });
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

# a contact that needs escaping: quotes, a backslash, Chinese, a tab
my $contact = "图像采集办 \"王老师\" \\ 0571-88001234\t(周一至周五)";
my $sch = seed_school($t, contact => $contact =~ s/\\/\\\\/gr);   # SQL literal

# who answered: "ups=-" in the access log means nginx itself; each request
# carries a probe number so that the right log line is read
my $probe = 0;
sub answered_by {
    my ($n) = @_;
    my $ups;
    $t->wait_for(sub {
        my ($l) = grep { /[?&]probe=$n[ &]/ } split /\n/, $t->nginx_access_log;
        return 0 unless $l;
        ($ups) = $l =~ /ups=(\S+)/;
        1;
    }, 5);
    return ($ups // '') eq '-' ? 'nginx' : ($ups // '') =~ /^unix:/ ? 'pool' : "?($ups)";
}
sub cap {
    my ($tok) = @_;
    my $n = ++$probe;
    our $TD;
    my $photo = slurp_file("$TD/set/good.jpg");
    my $r = $t->post_multipart("/api/v1/captures?probe=$n",
        [photo => { data => $photo, filename => 'p.jpg', type => 'image/jpeg' }],
        token => $tok);
    $r->{by} = answered_by($n);
    return $r;
}
sub student {
    my ($tag) = @_;
    my ($sid, $code) = seed_student($t, $sch);
    my $tok = walk($t, login($t, "js-contract-$tag"), $code, 'shoot');
    return ($sid, $tok);
}
# the body without retry_after, after checking it against Retry-After
sub fixed_part {
    my ($r, $what) = @_;
    my $body = $r->{content};
    if (defined $r->{json}{retry_after}) {
        is($r->{headers}{'retry-after'}, $r->{json}{retry_after},
           "$what ($r->{by}): Retry-After = retry_after");
        $body =~ s/,"retry_after":\d+// or fail("$what: retry_after not after message");
    }
    return $body;
}
sub same_body {
    my ($pool, $edge, $what, $fields) = @_;
    is($pool->{by}, 'pool', "$what: first answer from the pool");
    is($edge->{by}, 'nginx', "$what: then from nginx's zone");
    is($edge->{status}, $pool->{status}, "$what: same status ($pool->{status})");
    is(fixed_part($edge, $what), fixed_part($pool, $what), "$what: identical bodies")
        or diag("pool:  $pool->{content}\nnginx: $edge->{content}");
    like($pool->{content}, qr/^\{"error":"[A-Z_]+","message":"[^"]+ \/ [^"]+"$fields/,
         "$what: fields in the contract's order");
}

my $now = time;

# --- 423 LOCKED liveness --------------------------------------------------------
my ($sid, $tok) = student('live');
$t->sql_do("UPDATE students SET lock_kind = 1, lock_until = 0, liveness_fails = 3"
         . " WHERE id = $sid");
my $p = cap($tok);
my $e = cap($tok);
same_body($p, $e, 'LOCKED liveness', ',"lock":"liveness","contact":"');
is($e->{json}{contact}, $contact, "nginx names the school's contact, escaped as JSON");

# a contact longer than the zone keeps (TUCAI_CONTACT_MAX) is left to the pool
my $long = '学校图像采集工作部门' x 4;     # 120 bytes of UTF-8
my $sch2 = seed_school($t, contact => $long);
{
    my ($sid2, $code2) = seed_student($t, $sch2);
    my $tok2 = walk($t, login($t, 'js-contract-long'), $code2, 'shoot');
    $t->sql_do("UPDATE students SET lock_kind = 1, liveness_fails = 3 WHERE id = $sid2");
    my $a = cap($tok2);
    my $b = cap($tok2);
    is($a->{json}{contact}, $long, 'a long contact: in the pool\'s 423');
    is($b->{by}, 'pool', '... and nginx leaves that refusal to the pool');
    is($b->{content}, $a->{content}, '... with the same body');
}

# --- 423 LOCKED quality -------------------------------------------------------
($sid, $tok) = student('quality');
$t->sql_do("UPDATE students SET lock_kind = 2, lock_until = " . ($now + 1800)
         . " WHERE id = $sid");
$p = cap($tok);
$e = cap($tok);
same_body($p, $e, 'LOCKED quality', ',"retry_after":\d+,"lock":"quality","until":"');

# --- 429 COOLING_DOWN -----------------------------------------------------------
($sid, $tok) = student('cool');
$t->sql_do("UPDATE students SET cooldown_until = " . ($now + 60) . " WHERE id = $sid");
$p = cap($tok);
$e = cap($tok);
same_body($p, $e, 'COOLING_DOWN', ',"retry_after":\d+,"until":"');

# --- 409 UPLOAD_IN_PROGRESS -------------------------------------------------------
($sid, $tok) = student('flight');
# the pool: another host holds the student's upload slot (a lease)
$t->sql_do("INSERT INTO tucai_leases (name, host, pid, expires_at) VALUES"
         . " ('tucai:cap:$sid', 'another-host', 1, " . ($now + 120) . ")");
$p = cap($tok);
$t->sql_do("DELETE FROM tucai_leases WHERE name = 'tucai:cap:$sid'");
# nginx: an upload of this student still coming in through this host
my $port = $t->port(1);
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
print $s "POST /api/v1/captures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer $tok\r\n"
       . "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
       . ('x' x 1000);
ok($t->wait_for(sub { ($e = cap($tok))->{status} == 409 }, 5), 'second upload refused');
close $s;
same_body($p, $e, 'UPLOAD_IN_PROGRESS', '\}$');

# --- 429 RATE_LIMITED: wrong teacher passwords ------------------------------------
# the pool throttles a username after 5 wrong passwords (before any hashing)
my $login = sub {
    my ($user) = @_;
    my $n = ++$probe;
    my $r = $t->post_json("/admin/api/v1/login?probe=$n",
                          { username => $user, password => 'wrong' });
    $r->{by} = answered_by($n);
    return $r;
};
# (then each try must wait 1, 2, 4 ... s after the previous failure: on a
# loaded machine the 6th may come late enough to be let through)
my $r;
$r = $login->('throttled') for 1 .. 5;
is($r->{status}, 401, 'wrong passwords: 401');
for (1 .. 4) {
    $p = $login->('throttled');
    last if $p->{status} == 429;
}
# nginx: the per-address bucket (burst 12 here) fills with further failures
for (1 .. 14) {
    $e = $login->("other$_");
    last if $e->{status} == 429;
}
same_body($p, $e, 'RATE_LIMITED (teacher login)', ',"retry_after":\d+\}$');

# --- 401 UNAUTHORIZED: the session ended ------------------------------------------
my $n = ++$probe;
$p = $t->get("/api/v1/me?probe=$n", token => $t->token('s', 999999, $sch));
$p->{by} = answered_by($n);
$n = ++$probe;
$e = $t->get("/api/v1/me?probe=$n", token => $t->token('s', account_of($tok), $sch, -10));
$e->{by} = answered_by($n);
same_body($p, $e, 'UNAUTHORIZED (session ended)', '\}$');

done_testing;
