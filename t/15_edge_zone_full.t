# Edge: a full zone evicts its least recently used entries and, failing
# that, lets requests through to the pool -- it never refuses everyone.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256);

my $t = Tucai::Test->new(worker_children => 1, sandbox => 0,
    nginx_extra_server => 'tucai_code_rate 1r/m burst=1000; tucai_code_ip_rate off;');
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

# shrink the zone to its minimum (8 pages) and reload
my $conf = $t->dir . '/nginx/nginx.conf';
my $text = do { local (@ARGV, $/) = ($conf); <> };
$text =~ s/tucai_zone tucai:4m;/tucai_zone tucai:32k;/ or die 'zone line not found';
open my $fh, '>', $conf or die;
print $fh $text;
close $fh;
$t->reload_nginx;
ok($t->wait_for(sub { my @w = $t->_nginx_workers(1); @w == 2 }, 20), 'reloaded');
is($t->get('/tucai/status')->{json}{zone}{size}, 32768, 'small zone in service');

# sign tokens here: hundreds of students, one rate-limit bucket each that
# stays alive (1r/m drains slowly; burst=1000 never refuses)
my ($kid, $hex) = split ' ', do { local (@ARGV, $/) = ($t->key_file); <> };
my $key = pack 'H*', $hex;
sub tok {
    my ($sub) = @_;
    my $s = "t1.$kid.s.$sub.0." . (time + 3600);
    return "$s." . encode_base64url(hmac_sha256($s, $key));
}

my (%status, $n);
for my $sub (1000 .. 1399) {
    my $r = $t->post_json('/api/v1/code', { code => 'x' }, token => tok($sub));
    $status{$r->{status}}++;
    $n++;
}
ok(!$status{429}, 'no student refused because the zone is full')
    or diag(explain(\%status));
ok(!$status{500} && !$status{503}, 'no server errors') or diag(explain(\%status));

my $st = $t->get('/tucai/status')->{json};
ok($st->{evictions} > 0, "LRU entries evicted ($st->{evictions})");
ok($st->{entries} < $n, "entries bounded by the zone ($st->{entries} < $n)");
is($st->{zone}{pages_used} + $st->{zone}{pages_free}, $st->{zone}{pages_total},
   'page accounting');

# the zone still works for new state after all that churn
my $r = $t->get('/api/v1/ping', token => tok(5000));
is($r->{status}, 200, 'ping still answered');

done_testing;
