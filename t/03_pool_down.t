#!/usr/bin/perl
# Pool stopped -> nginx answers 503 POOL_UNAVAILABLE JSON with retry_after;
# pool back -> answers again.  TERM removes the sockets and the pid file.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, sandbox => 0);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

is($t->get('/api/v1/health')->{status}, 200, 'up');

$t->stop_pool;
is($t->{pool_status}, 0, 'pool exited 0 on TERM');
ok(!-e $t->pool_socket(1) && !-e $t->pool_socket(2), 'sockets unlinked');
ok(!-e $t->dir . '/run/tucai-worker.pid', 'pid file removed');

for my $path ('/api/v1/health', '/api/v1/schools') {
    my $r = $t->get($path);
    is($r->{status}, 503, "$path: 503 while the pool is down");
    is($r->{json} && $r->{json}{error}, 'POOL_UNAVAILABLE', 'POOL_UNAVAILABLE');
    ok($r->{json} && $r->{json}{retry_after} > 0, 'retry_after');
    like($r->{json} && $r->{json}{message}, qr{ / }, 'message zh / en');
    unlike($r->{content}, qr/<html/i, 'not an HTML page');
}

$t->start_pool;
my $r = $t->wait_for(sub { my $x = $t->get('/api/v1/health'); $x->{status} == 200 && $x }, 10);
ok($r, 'serving again after the pool restarts');

done_testing;
