#!/usr/bin/perl
# Without --foreground the pool goes to the background after applying the
# migrations (whose failure is the command's exit status), writes its pid
# file, and TERM by that pid stops it cleanly.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 2, nginx => 0, sandbox => 0, pool => 0);
my $pidfile = $t->dir . '/run/tucai-worker.pid';
my $rc = system($t->{worker}, '-c', $t->worker_ini);
is($rc, 0, 'daemon start returns 0');
ok($t->wait_for(sub { -S $t->pool_socket(1) && -s $pidfile }, 10), 'socket and pid file');
my $pid = do { local (@ARGV) = $pidfile; <> };
chomp $pid;
ok($pid > 0, 'pid');
END { kill 'KILL', $pid if $pid && running($pid) }
is($t->pool_request(op => 1)->{status}, 200, 'serves');
kill 'TERM', $pid;
# gone, or a zombie where init does not reap (containers)
sub running {
    open my $f, '<', "/proc/$_[0]/stat" or return 0;
    my $l = <$f> // return 0;
    return $l !~ /^\d+ \(.*\) Z /;
}
ok($t->wait_for(sub { !running($pid) }, 20), 'stopped by TERM');
ok(!-e $t->pool_socket(1) && !-e $pidfile, 'socket and pid file gone');

open my $f, '>>', $t->worker_ini or die;
print $f "\n[db]\nmigrations = /nonexistent\n";
close $f;
$rc = system($t->{worker} . ' -c ' . $t->worker_ini . ' 2>/dev/null');
isnt($rc, 0, 'a migration failure is the exit status, nothing left running');
ok(!-e $t->pool_socket(1), 'no socket');

done_testing;
