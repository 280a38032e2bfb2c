#!/usr/bin/perl
# TERM: a request already in flight is answered, then the pool exits 0
# with its sockets gone.  max_requests and max_rss_mb recycle children
# without a miss.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;

my $t = Tucai::Test->new(worker_children => 2, nginx => 0, sandbox => 0,
                         worker_ini_extra => "[pool]\nmax_requests = 3\n");

# recycling: 3 requests per child, 20 requests, no failure
my @first = $t->pool_pids;
my $ok = 0;
for (1 .. 20) {
    my $r = $t->pool_request(op => Tucai::Proto::OP_HEALTH);
    $ok++ if $r && $r->{status} == 200;
}
is($ok, 20, 'every request answered while children recycle');
like($t->pool_log, qr/served 3 requests, recycling/, 'children recycled after max_requests');
$t->wait_for(sub { my @p = $t->pool_pids; @p == 2 }, 10);
my @now = $t->pool_pids;
ok(!grep({ my $o = $_; grep { $_ == $o } @now } @first), 'new children');

# max_rss_mb (here below any child's size): a child says it is the last
# answer and goes after each request, every request still answered
{
    my $ini = $t->worker_ini;
    open my $f, '<', $ini or die;
    my $s = do { local $/; <$f> };
    close $f;
    $s =~ s/^max_requests = 3$/max_requests = 0\nmax_rss_mb = 1/m or die 'no max_requests';
    open $f, '>', $ini or die;
    print $f $s;
    close $f;
}
$t->reload_pool;
@first = $t->pool_pids;
$ok = 0;
for (1 .. 6) {
    my $r = $t->pool_request(op => Tucai::Proto::OP_HEALTH);
    $ok++ if $r && $r->{status} == 200;
}
is($ok, 6, 'every request answered while children recycle above max_rss_mb');
like($t->pool_log, qr/RSS \d+ MB above max_rss_mb 1 after 1 requests, recycling/,
     'children recycled above max_rss_mb');
$t->wait_for(sub { my @p = $t->pool_pids; @p == 2 }, 10);
@now = $t->pool_pids;
ok(!grep({ my $o = $_; grep { $_ == $o } @now } @first), 'new children');

# a request in flight when TERM arrives still gets its answer: the master
# has accepted its connection (logged) and holds half a frame when TERM
# comes; the rest is sent once it has begun stopping (logged too)
sub accepts { my @n = $t->pool_log =~ /accept: connection (\d+)/g; $n[-1] // 0 }
my $before = accepts();
my $c = $t->proto;
my $frame = Tucai::Proto::frame(op => Tucai::Proto::OP_HEALTH, body => 'x' x 1000);
$c->send_raw(substr($frame, 0, 500));
ok($t->wait_for(sub { accepts() > $before }, 10), 'the pool took the connection');
my $master = $t->pool_master_pid;
kill 'TERM', $master;
ok($t->wait_for(sub { $t->pool_log =~ /pool: stopping/ }, 10), 'TERM seen by the master');
$c->send_raw(substr($frame, 500));
my $r = $c->read_response;
is($r && $r->{status}, 200, 'in-flight request answered after TERM');

$t->stop_pool;
is($t->{pool_status}, 0, 'pool exited 0');
ok(!-e $t->pool_socket(1), 'socket removed');
ok(!-e $t->dir . '/run/tucai-worker.pid', 'pid file removed');
like($t->pool_log, qr/pool: stopped/, 'stop logged');

done_testing;
