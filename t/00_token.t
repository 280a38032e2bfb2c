#!/usr/bin/perl
# Tokens issued by the pool: the documented format, an HMAC-SHA256 the spec
# reproduces, the first key of the file signs; nginx accepts them and
# refuses forged or expired ones with 401 UNAUTHORIZED JSON.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, sandbox => 0);

my ($kid, $hex) = split ' ', do { local (@ARGV, $/) = $t->key_file; <> };
my $key = pack 'H*', $hex;

my $tok = $t->token('s', 42, 7);
like($tok, qr/^t1\.$kid\.s\.42\.7\.\d+\.[A-Za-z0-9_-]+$/, 'format');
my ($body, $sig) = $tok =~ /^(.*)\.([^.]+)$/;
is($sig, encode_base64url(hmac_sha256($body, $key)), 'HMAC-SHA256 base64url, no padding');
my ($exp) = $tok =~ /\.(\d+)\.[^.]+$/;
cmp_ok(abs($exp - (time + 7200)), '<=', 5, 'exp = now + ttl');
cmp_ok(length $tok, '<=', 256, 'length');
like($t->token('t', 3, 0), qr/^t1\.$kid\.t\.3\.0\.\d+\./, 'teacher token, school 0');
my ($rc) = $t->_run($t->{worker}, '-c', $t->worker_ini, 'token', 'x', 1, 1);
isnt($rc, 0, 'unknown role refused');

# rotation: a new first line signs from now on
open my $f, '>', $t->key_file or die;
print $f "# rotated\nk2 " . ('ab' x 32) . "\n$kid $hex\n";
close $f;
like($t->token('s', 1, 0), qr/^t1\.k2\./, 'the first key signs');

{
    die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;
    $t->reload_nginx;
    # GET /api/v1/me is op 21; only requests nginx let through reach the pool
    my $reached = sub { scalar(() = $t->pool_log =~ /op=21 status/g) };
    my $good = $t->token('s', 42, 7);
    my $r = $t->get('/api/v1/me', token => $good);
    is($reached->(), 1, 'nginx accepts the token and passes the request on');
    (my $forged = $good) =~ s/\.s\.42\./.s.43./;
    $r = $t->get('/api/v1/me', token => $forged);
    is($r->{status}, 401, 'a changed subject is refused');
    is($r->{json} && $r->{json}{error}, 'UNAUTHORIZED', 'UNAUTHORIZED JSON');
    $r = $t->get('/api/v1/me', token => $t->token('s', 42, 7, -10));
    is($r->{status}, 401, 'an expired token is refused');
    is($reached->(), 1, 'neither reached the pool');
}

done_testing;
