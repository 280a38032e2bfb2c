#!/usr/bin/perl
# Through nginx: health and schools from the pool and MariaDB; an unknown
# path is JSON 404; the request id nginx generated reaches the pool's log.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;

my $t = Tucai::Test->new(worker_children => 2, instances => 2);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

my $r = $t->get('/api/v1/health');
is($r->{status}, 200, 'health 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON');
is_deeply($r->{json}, { status => 'ok' }, 'anyone sees ok, no pids, counters or versions');
unlike($r->{content}, qr/MariaDB|pid|accepts/i, 'nothing of the internals in the body');

# the details: operators on the pool socket (TUCAI_OP_STATUS, no path)
$r = $t->pool_request(op => Tucai::Proto::OP_STATUS);
is($r->{json}{status}, 'ok', 'status ok');
ok($r->{json}{db}{ok}, 'db ok');
like($r->{json}{db}{version}, qr/MariaDB/i, 'db version');
is($r->{json}{pool}{children}, 2, 'pool children');
is($r->{json}{pool}{pid}, $t->pool_master_pid, 'pool master pid');
is($r->{json}{protocol}, 1, 'protocol');
# and no path of nginx reaches that operation
is($t->get('/api/v1/status')->{status}, 404, 'no /api/v1/status');

$r = $t->get('/api/v1/schools');
is($r->{status}, 200, 'schools 200');
is_deeply($r->{json}, { schools => [] }, 'no schools yet');

$t->sql_do("INSERT INTO schools (name, notice_body) VALUES ('实验中学', '')");
my $id = $t->sql_one("SELECT id FROM schools WHERE name = '实验中学'");
$r = $t->get('/api/v1/schools');
is_deeply($r->{json}, { schools => [{ id => $id, name => '实验中学' }] },
    'the school row, UTF-8 intact');

$r = $t->get('/api/v1/no-such-thing');
is($r->{status}, 404, 'unknown path 404');
is($r->{json}{error}, 'NOT_FOUND', 'NOT_FOUND JSON');

# the pool logs each request with nginx's request id
my $before = () = $t->pool_log =~ /op=1 status=200/g;
$t->get('/api/v1/health');
my $log = $t->pool_log;
my $after = () = $log =~ /op=1 status=200/g;
is($after, $before + 1, 'health logged by the pool');
like($log, qr/rid=[0-9a-f]{32} op=1 status=200/, 'with a 32-hex request id');
# the very id nginx generated for a request ($request_id in its access log,
# written once the answer is out: wait for the line)
my $rids = sub { my @r = $t->nginx_access_log =~ /rid=([0-9a-f]{32})/g; @r };
my $n = () = $rids->();
$t->get('/api/v1/health');
$t->wait_for(sub { $rids->() > $n }, 5);
my $rid = ($rids->())[-1];
ok($rid && $t->pool_log =~ /rid=$rid op=1 status=200/, 'nginx\'s $request_id reaches the pool log');

# a second nginx on the same pool and database
$r = $t->get('/api/v1/schools', instance => 2);
is($r->{status}, 200, 'second nginx instance answers');
is($r->{json}{schools}[0]{id}, $id, 'from the same database');
isnt($t->port(2), $t->port(1), 'on its own port');

done_testing;
