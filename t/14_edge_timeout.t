# Edge: a capture whose check outlives tucai_read_timeout gets 503
# POOL_UNAVAILABLE JSON (not an HTML 504), and its upload slot is released.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

my $t = j_harness(nginx_extra_server => q{
        tucai_uploads_in_flight 1;
        tucai_login_rate 6000r/m burst=1000;
        tucai_code_rate 6000r/m burst=1000;
        location = /api/v1/captures {
            tucai_read_timeout 30ms;
            tucai_pass tucai_pool;
        }
});
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

my $sch = seed_school($t);
my ($sid, $code) = seed_student($t, $sch);
my $tok = walk($t, login($t, 'js-edge-timeout'), $code, 'shoot');

sub lines { grep { m{"POST /api/v1/captures} } split /\n/, $t->nginx_access_log }

our $TD;
my $big = slurp_file("$TD/bench_12mp.jpg");
my $r = $t->post_multipart('/api/v1/captures',
    [photo => { data => $big, filename => 'p.jpg', type => 'image/jpeg' }], token => $tok);
is($r->{status}, 503, 'check slower than tucai_read_timeout: 503');
is($r->{json}{error}, 'POOL_UNAVAILABLE', 'POOL_UNAVAILABLE JSON');
ok($r->{json}{retry_after} > 0, 'with retry_after');
like($t->nginx_log, qr/upstream timed out/, 'nginx saw the read timeout');

# the slot is free again: the next capture reaches the pool (which may
# itself still say 409 while its child finishes the slow check)
my $n0 = lines();
$r = $t->post_multipart('/api/v1/captures',
    [photo => { data => 'not an image', filename => 'p.jpg', type => 'image/jpeg' }],
    token => $tok);
$t->wait_for(sub { lines() > $n0 }, 5);
like((lines())[-1], qr/ups=unix:/, 'next capture went to the pool: slot released');
is($t->get('/tucai/status')->{json}{refusals}{upload_in_progress}, 0,
   'nginx refused nothing as in progress');

done_testing;
