#!/usr/bin/perl
# nginx keeps its connections to the pool open: 100 requests cost far
# fewer than 100 accepts (counted from the pool's log).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 2, sandbox => 0);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

sub accepts { scalar(() = $_[0]->pool_log =~ /accept: connection/g) }

$t->get('/api/v1/health') for 1 .. 5;        # warm up
my $before = accepts($t);
my $ok = 0;
for (1 .. 100) {
    $ok++ if $t->get('/api/v1/health')->{status} == 200;
}
is($ok, 100, '100 requests answered');
my $n = accepts($t) - $before;
cmp_ok($n, '<=', 10, "100 requests over $n new pool connections");

done_testing;
