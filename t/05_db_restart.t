#!/usr/bin/perl
# MariaDB down: health says so (503, db.ok false), DB-backed endpoints answer
# 503 DB_UNAVAILABLE JSON; MariaDB back: requests recover without
# restarting the pool.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;

my $t = Tucai::Test->new(worker_children => 2, sandbox => 0);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

$t->sql_do("INSERT INTO schools (name, notice_body) VALUES ('A', '')");
# warm every child's connection
$t->get('/api/v1/schools') for 1 .. 6;
my @pids = $t->pool_pids;

$t->stop_db;
my $r = $t->get('/api/v1/health');
is($r->{status}, 503, 'health 503 without the DB');
is($r->{json}{status}, 'degraded', 'status degraded');
is($r->{json}{error}, 'DB_UNAVAILABLE', 'error code too');
ok(!exists $r->{json}{db} && !exists $r->{json}{pool}, 'no details to anyone');
# the operator's view (pool socket): same shape as when up
my $s = $t->pool_request(op => Tucai::Proto::OP_STATUS);
is($s->{status}, 503, 'status 503 without the DB');
is($s->{json}{db}{ok}, JSON::PP::false, 'db.ok false');
is($s->{json}{error}, 'DB_UNAVAILABLE', 'error code there too');
ok($s->{json}{pool}{pid}, 'same shape: pool part present');

$r = $t->get('/api/v1/schools');
is($r->{status}, 503, 'schools 503');
is($r->{json}{error}, 'DB_UNAVAILABLE', 'DB_UNAVAILABLE');
ok($r->{json}{retry_after} > 0, 'retry_after');

$t->start_db;
for my $i (1 .. 6) {
    $r = $t->get('/api/v1/schools');
    is($r->{status}, 200, "request $i after the restart succeeds");
    is(scalar @{ $r->{json}{schools} || [] }, 1, 'with the data');
}
is($t->get('/api/v1/health')->{json}{status}, 'ok', 'health ok again');
is($t->pool_request(op => Tucai::Proto::OP_STATUS)->{json}{db}{ok}, JSON::PP::true, 'db.ok again');
is_deeply([$t->pool_pids], \@pids, 'same children: nothing restarted');

# a restart while idle (no request in between): the first request recovers
$t->restart_db;
is($t->get('/api/v1/schools')->{status}, 200, 'first request after a quiet restart');

done_testing;
