#!/usr/bin/perl
# A child busy with a long request holds no other connection: while one
# login waits on a held WeChat call, many cheap requests through nginx
# (over its cached keepalive connections, whichever child last served
# them) are answered by the other child.  Order of events, no timings:
# every health answer arrives while the login is still held.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Tucai::Test;

# the WeChat timeout outlasts the sandbox's hold (20 s): the login stays
# held until released, however long the requests below take
my $t = Tucai::Test->new(worker_children => 2,
                         worker_ini_extra => "[wechat]\ntimeout_ms = 30000\n");
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

sub slurp { open my $f, '<', $_[0] or return undef; local $/; my $s = <$f>; close $f; $s }

# $n clients of $m GETs each, in parallel so that nginx uses several of its
# cached connections at once; returns how many were answered 200 with JSON
sub burst {
    my ($n, $m) = @_;
    my @pids;
    for my $k (1 .. $n) {
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my $ok = 0;
            for (1 .. $m) {
                my $r = $t->get('/api/v1/health', timeout => 60);
                $ok++ if $r->{status} == 200 && $r->{json} && $r->{json}{status} eq 'ok';
            }
            POSIX::_exit($ok);
        }
        push @pids, $pid;
    }
    my $ok = 0;
    for (@pids) { waitpid($_, 0); $ok += $? >> 8 }
    return $ok;
}

is(burst(8, 10), 80, 'warm-up: nginx caches connections to the pool');

my $calls = sub { $t->sandbox_get('/sandbox/stats')->{json}{calls}{jscode2session} // 0 };
$t->sandbox_post('/sandbox/fail', { api => 'jscode2session', times => 1, mode => 'hold' });
my $calls0 = $calls->();
my $out = $t->dir . '/held-login';
my $pid = fork // die;
if (!$pid) {
    my $r = $t->post_json('/api/v1/login', { code => 'busy-child-held' }, timeout => 60);
    open my $f, '>', $out or POSIX::_exit(1);
    print $f $r->{status}, ' ', ($r->{json} && $r->{json}{token} ? 'token' : 'none');
    close $f;
    POSIX::_exit(0);
}
ok($t->wait_for(sub { $calls->() > $calls0 }, 15), 'the login is in its (held) WeChat call');

is(burst(8, 10), 80, 'every health request answered meanwhile');
ok(!defined slurp($out), 'all of them while the login was still held');

$t->sandbox_post('/sandbox/release', {});
waitpid($pid, 0);
is(slurp($out), '200 token', 'the held login then completes');

# and a broken frame straight to the pool still closes that connection only
my $c = $t->proto;
$c->send_raw('garbage' x 20);
ok($c->closed(5), 'bad frame: connection closed');
$c->close;
is($t->get('/api/v1/health')->{status}, 200, 'still serving');

# a child sent TERM on its own goes after what it was handed; the master
# gives the next connections to the other child, then to its successor
my @kids = $t->pool_pids;
kill 'TERM', $kids[0];
is(burst(4, 10), 40, 'every request answered while a child leaves on TERM');
ok($t->wait_for(sub { my @p = $t->pool_pids; @p == 2 && !grep { $_ == $kids[0] } @p }, 10),
   'and it is replaced');
is(burst(2, 5), 10, 'serving with the new child');

done_testing;
