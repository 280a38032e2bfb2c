#!/usr/bin/perl
# A child killed with -9: the next request succeeds and the master
# respawns the child; the master itself is untouched.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Time::HiRes ();

my $t = Tucai::Test->new(worker_children => 2, sandbox => 0);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

is($t->get('/api/v1/health')->{status}, 200, 'up');
my $master = $t->pool_master_pid;

for my $round (1 .. 3) {
    my @before = $t->pool_pids;
    my $victim = $t->kill_child('KILL');
    ok($victim, "round $round: killed child $victim");
    my $r = $t->get('/api/v1/schools');
    is($r->{status}, 200, 'the next request succeeds');
    my $ok = $t->wait_for(sub {
        my @now = $t->pool_pids;
        @now == 2 && !grep { $_ == $victim } @now;
    }, 10);
    ok($ok, 'child respawned');
}
is($t->pool_master_pid, $master, 'same master');
ok(kill(0, $master), 'master alive');
like($t->pool_log, qr/died: signal 9/, 'the death is logged');

# all children killed at once: still recovers
kill 'KILL', $t->pool_pids;
my $r = $t->wait_for(sub { my $x = $t->get('/api/v1/health'); $x->{status} == 200 && $x }, 10);
ok($r, 'recovers after every child was killed');

# a crash loop (children dying right after they start) backs off instead
# of forking as fast as they die: count the children started while every
# child is killed as soon as it shows up
my %seen;
my $t0 = Time::HiRes::time();
while (Time::HiRes::time() - $t0 < 3) {
    for my $p ($t->pool_pids) {
        $seen{$p} = 1;
        kill 'KILL', $p;
    }
    Time::HiRes::sleep(0.01);
}
cmp_ok(scalar(keys %seen), '<', 60, scalar(keys %seen) . ' children started in the crash loop');
like($t->pool_log, qr/died: signal 9/, 'logged');
$r = $t->wait_for(sub { my $x = $t->get('/api/v1/health'); $x->{status} == 200 && $x }, 15);
ok($r, 'serving again once the loop stops');

done_testing;
