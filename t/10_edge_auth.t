# Edge: routing, token verification, JSON errors from nginx itself.
# Refused requests must never reach the pool (its accept counters stay put).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256);
use IO::Socket::INET;
use JSON::PP;

# an operator's location checking a token from a query argument (ndk set_var)
my $t = Tucai::Test->new(worker_children => 1, nginx_extra_server => q{
        location = /edge/who {
            set_tucai_token_student $sid $arg_t;
            set_tucai_token_teacher $tid $arg_t;
            set_tucai_token_school $sch $arg_t;
            set_tucai_token_status $st $arg_t;
            return 200 "s=$sid t=$tid school=$sch status=$st";
        }
});
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

sub err_is {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: status $status");
    is($r->{json} && $r->{json}{error}, $code, "$name: error $code");
    like($r->{json} && $r->{json}{message} // '', qr{ / }, "$name: bilingual message");
    like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: JSON");
}

# The access log's ups=$upstream_addr shows whether the pool was contacted.
my $good = $t->token('s', 42, 7);
my $r = $t->get('/api/v1/ping', token => $good);
is($r->{status}, 200, 'ping with a valid token');
is($r->{json}{student}, 42, 'ping names the student');
is($r->{json}{school}, 7, 'ping names the school');

# forge variants of the good token
my ($kid, $role, $sub, $school, $exp, $sig) = split /\./, substr($good, 3);
my $signed = "t1.$kid.$role.$sub.$school.$exp";
my %bad = (
    missing   => undef,
    garbage   => 'hello',
    truncated => substr($good, 0, length($good) - 5),
    forged    => "t1.$kid.$role.43.$school.$exp.$sig",          # other subject
    wrong_key => "$signed." . encode_base64url(hmac_sha256($signed, 'x' x 32)),
    bad_kid   => "t1.nokey.$role.$sub.$school.$exp.$sig",
    leading0  => "t1.$kid.$role.042.$school.$exp.$sig",
    long      => $good . ('A' x 300),
    teacher   => $t->token('t', 42, 7),                           # wrong role
    expired   => $t->token('s', 42, 7, -10),
);

for my $name (sort keys %bad) {
    my %o = defined $bad{$name} ? (token => $bad{$name}) : ();
    err_is($t->get('/api/v1/me', %o), 401, 'UNAUTHORIZED', "token $name");
}
err_is($t->request('GET', '/api/v1/me', headers => { Authorization => "Basic $good" }),
       401, 'UNAUTHORIZED', 'not a Bearer');

# a student token on the back office, a teacher token on the student API
err_is($t->get('/admin/api/v1/students', token => $good), 401, 'UNAUTHORIZED',
       'student token on admin API');

# none of them reached the pool: the access log shows no upstream for them
my @lines = grep { /op=me / } split /\n/, $t->nginx_access_log;
is(scalar(grep { !/ups=-/ } @lines), 0, 'refused requests never reached the pool');

# unknown paths and methods
err_is($t->get('/api/v1/nope'), 404, 'NOT_FOUND', 'unknown path');
err_is($t->get('/api/v2/health'), 404, 'NOT_FOUND', 'unknown version');
err_is($t->request('DELETE', '/api/v1/health'), 405, 'METHOD_NOT_ALLOWED', 'wrong method');
err_is($t->request('POST', '/admin/'), 405, 'METHOD_NOT_ALLOWED', "nginx's own 405 as JSON");

# malformed requests nginx refuses itself: JSON with a code, never HTML
sub raw {
    my ($bytes) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port, Timeout => 10)
        or die "connect: $!";
    print $s $bytes;
    local $/;
    my $resp = <$s> // '';
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($st) = $head =~ m{^HTTP/1\.\d (\d+)};
    my $json = eval { JSON::PP->new->decode($body // '') };
    return ($st // 0, $json, $head);
}
for my $case (["GARBAGE\r\n\r\n", 400, 'a request line that is no request line'],
              ["GET /\x01bad HTTP/1.1\r\nHost: x\r\n\r\n", 400, 'a control byte in the path'],
              ["GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n", 505, 'an unknown HTTP version'],
              ["GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " . ("a" x 20000) . "\r\n\r\n", 400, "a header over the buffers"])
{
    my ($st, $json, $head) = raw($case->[0]);
    is($st, $case->[1], "$case->[2] -> $case->[1]");
    like($head, qr{^Content-Type: application/json}mi, "... as JSON ($case->[2])");
    is($json && $json->{error}, 'BAD_REQUEST', "... BAD_REQUEST ($case->[2])");
}

$r = $t->get('/api/v1/drafts/../ping', token => $good);
is($r->{status}, 200, 'dot segments are normalised by nginx before routing');

# the real pool answers what got through
$r = $t->get('/api/v1/health');
is($r->{status}, 200, 'health through the pool');
$r = $t->get('/api/v1/schools');
is($r->{status}, 200, 'schools through the pool');
ok(ref $r->{json}{schools} eq 'ARRAY', 'schools is a list');

# variables in the log format
my $log = $t->nginx_access_log;
like($log, qr{op=ping student=42 teacher=- school=7 token=ok}, 'variables logged for ping');
like($log, qr{op=me student=- teacher=- school=- token=expired}, 'expired token logged');
like($log, qr{op=me student=- teacher=- school=- token=invalid}, 'forged token logged');

# set_tucai_token_* (ngx_devel_kit) over a query argument
sub who { $t->get('/edge/who' . (defined $_[0] ? "?t=$_[0]" : ''))->{content} }
is(who($good), 's=42 t= school=7 status=ok', 'set_tucai_token_*: student token');
is(who($bad{teacher}), 's= t=42 school=7 status=ok', 'set_tucai_token_*: teacher token');
is(who($bad{forged}), 's= t= school= status=invalid', 'set_tucai_token_*: forged');
is(who($bad{expired}), 's= t= school= status=expired', 'set_tucai_token_*: expired');
is(who(undef), 's= t= school= status=none', 'set_tucai_token_*: none');

done_testing;
