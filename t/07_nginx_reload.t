#!/usr/bin/perl
# nginx reloaded (HUP) while keepalive clients run: every request is answered
# 200 with the health JSON, after at most one client retry of the GET when its
# reused connection was closed by an old worker (counted, bounded by the
# reloads); no [alert]/[emerg] (checked by the harness).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use HTTP::Tiny;
use Time::HiRes qw(time);
use IO::Handle;

my $t = Tucai::Test->new(worker_children => 2, sandbox => 0);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

my $out = $t->dir . '/statuses';
my $reloads = 3;
my @kids;
for my $k (1 .. 2) {
    my $pid = fork // die;
    if (!$pid) {
        # a keepalive client, as browsers are.  An old worker going away
        # closes its idle keepalive connections; a request written on one
        # at that moment sees a reset or EOF (599) -- the client's race,
        # which browsers settle by retrying an idempotent request once on a
        # new connection.  We do the same, and count it.
        my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
        my $url = $t->url('/api/v1/health');
        open my $f, '>', "$out.$k" or POSIX::_exit(1);
        $f->autoflush(1);
        # until the parent is done reloading (bounded all the same)
        my $t0 = time;
        while (!-e "$out.stop" && time - $t0 < 120) {
            my $h = $http->{handle};
            my $reused = $h && $h->can_reuse('http', '127.0.0.1', $t->port, '127.0.0.1') ? 1 : 0;
            my $r = $http->get($url);
            my $retried = 0;
            if ($r->{status} == 599 && $reused) {
                $retried = 1;
                $r = $http->get($url);
            }
            my $json = ($r->{content} // '') =~ /^\s*\{\s*"status"\s*:\s*"ok"\s*\}\s*$/s ? 1 : 0;
            my $err = $r->{status} == 599 ? $r->{content} : '';
            $err =~ s/\s+/ /g;
            print $f "$r->{status} $json $retried $err\n";
        }
        close $f;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
# each reload lands while both clients are running requests: before each
# one (and after the last) every client has answered a few more
sub answered { my $k = shift; open(my $f, '<', "$out.$k") or return 0; my @l = <$f>; scalar @l }
sub clients_ran {
    my @from = map { answered($_) } 1 .. 2;
    return $t->wait_for(sub { !grep { answered($_) < $from[$_ - 1] + 5 } 1 .. 2 }, 30);
}
for (1 .. $reloads) {
    ok(clients_ran(), "clients running before reload $_");
    ok($t->reload_nginx, "reload $_: new nginx workers");
}
ok(clients_ran(), 'clients running after the reloads');
open(my $stop, '>', "$out.stop") or die;
close $stop;
waitpid($_, 0) for @kids;

my (%st, $total, $retries, $not_json);
for my $k (1 .. 2) {
    open my $f, '<', "$out.$k" or die;
    while (<$f>) {
        chomp;
        my ($status, $json, $retried, $err) = split / /, $_, 4;
        $total++;
        $retries += $retried;
        $st{$status . ($err ? " ($err)" : '')}++;
        $not_json++ if $status == 200 && !$json;
    }
}
cmp_ok($total, '>', 20, "$total requests ran during the reloads");
is_deeply([keys %st], ['200'], 'all answered 200 (after at most one retry on a reused connection)')
    or diag explain \%st;
is($not_json // 0, 0, 'every answer is the health JSON');
# one idle connection per client can be closed by each reload, no more
cmp_ok($retries // 0, '<=', 2 * $reloads, 'retries: ' . ($retries // 0) . " of $total requests");
is($t->get('/api/v1/health')->{status}, 200, 'serving after the reloads');

done_testing;
