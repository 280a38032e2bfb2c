#!/usr/bin/perl
# nginx reloaded (HUP) while requests run: every request is answered 200,
# no connection error, no [alert]/[emerg] (checked by the harness).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use HTTP::Tiny;
use Time::HiRes qw(time sleep);

my $t = Tucai::Test->new(worker_children => 2, sandbox => 0);
plan skip_all => 'nginx module not built' unless $t->has_nginx;

my $out = $t->dir . '/statuses';
my @kids;
for my $k (1 .. 2) {
    my $pid = fork // die;
    if (!$pid) {
        # a new connection per request: a client's idle keepalive connection
        # closed by an old worker on its way out is nginx's business, not ours
        my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
        open my $f, '>', "$out.$k" or POSIX::_exit(1);
        my $t0 = time;
        while (time - $t0 < 3) {
            my $r = $http->get($t->url('/api/v1/health'));
            print $f "$r->{status}\n";
        }
        close $f;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
for (1 .. 3) {
    sleep 0.5;
    ok($t->reload_nginx, "reload $_: new nginx workers");
}
waitpid($_, 0) for @kids;

my %st;
for my $k (1 .. 2) {
    open my $f, '<', "$out.$k" or die;
    $st{$_}++ for map { chomp; $_ } <$f>;
}
my $total = 0;
$total += $_ for values %st;
cmp_ok($total, '>', 20, "$total requests ran during the reloads");
is_deeply([keys %st], ['200'], 'all answered 200')
    or diag explain \%st;
is($t->get('/api/v1/health')->{status}, 200, 'serving after the reloads');

done_testing;
