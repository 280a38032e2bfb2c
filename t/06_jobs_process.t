#!/usr/bin/perl
# Periodic work (the outbox, reconciliation, late delivery) runs in the
# pool's jobs process, which never takes a connection: while the outbox's
# WeChat subscribe call is held in the sandbox, a pool of ONE serving child
# answers every API request.  Order of events, no timings: every answer
# arrives while the message is still held.  The master supervises the jobs
# process like a child: killed, it is replaced.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1,
                         worker_ini_extra => "[wechat]\ntimeout_ms = 30000\n");
die "nginx module not built\n" unless $t->has_nginx;

my $jobs = $t->jobs_pid;
ok($jobs, 'the pool has a jobs process');
my @kids = $t->pool_pids;
is(scalar @kids, 1, 'besides its one serving child');

my $calls = sub { $t->sandbox_get('/sandbox/stats')->{json}{calls}{subscribe} // 0 };
$t->sandbox_post('/sandbox/fail', { api => 'subscribe', times => 1, mode => 'hold' });
my $calls0 = $calls->();

# a due message, as outbox_enqueue leaves it
my $body = '{"touser":"o-jobs-held","template_id":"tpl-status","page":"pages/index/index",'
         . '"data":{"thing1":{"value":"held"},"phrase2":{"value":"已通过"},'
         . '"time3":{"value":"2026-11-29 12:00"}}}';
my $now = time;
$t->sql_do("INSERT INTO outbox (student_id, kind, dedupe_key, payload_json, status,"
         . " attempts, next_at, created_at) VALUES (1, 'check_passed', 'jobs-held',"
         . " '$body', 'pending', 0, 0, $now)");

ok($t->wait_for(sub { $calls->() > $calls0 }, 15), 'the outbox is in its (held) WeChat call');

my $ok = 0;
for (1 .. 40) {
    my $r = $t->get('/api/v1/health', timeout => 10);
    $ok++ if $r->{status} == 200 && $r->{json} && $r->{json}{status} eq 'ok';
}
is($ok, 40, 'every API request answered by the one child meanwhile');
is($t->sql_one("SELECT status FROM outbox WHERE dedupe_key = 'jobs-held'"), 'pending',
   'all of them while the message was still held');

$t->sandbox_post('/sandbox/release', {});
ok($t->wait_for(sub { ($t->sql_one("SELECT status FROM outbox WHERE dedupe_key = 'jobs-held'") // '') eq 'sent' }, 15),
   'the held message then goes out');
is_deeply([$t->pool_pids], \@kids, 'the serving child never left');

kill 'KILL', $jobs;
ok($t->wait_for(sub { my $j = $t->jobs_pid; $j && $j != $jobs }, 15),
   'a killed jobs process is replaced');
is_deeply([$t->pool_pids], \@kids, 'and the serving child stays');

done_testing;
