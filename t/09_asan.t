#!/usr/bin/perl
# The pool under AddressSanitizer + UBSan (build/asan/tucai-worker): the
# whole skeleton path, bad frames, a crash and a DB restart; any sanitizer
# report fails this file (checked by the harness at the end).
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;

die "missing prerequisite: no ASan build (make asan)\n"
    unless -x (($ENV{TUCAI_BUILD} || 'build') . '/asan/tucai-worker');

my $t = Tucai::Test->new(worker_children => 2, asan => 1, sandbox => 0);

$t->sql_do("INSERT INTO schools (name, notice_body) VALUES ('一中', '')");
my $r = $t->pool_request(op => Tucai::Proto::OP_SCHOOLS);
is($r->{status}, 200, 'schools from the ASan pool');
is($r->{json}{schools}[0]{name}, '一中', 'row');

# every kind of bad frame
for my $bytes (Tucai::Proto::header(magic => 1),
               Tucai::Proto::header(meta_len => 5) . pack('n n', 3, 100) . 'x',
               Tucai::Proto::header(meta_len => 8, body_len => 4) . pack('n n', 33, 4) . 'abcdwxyz',
               'x' x 300) {
    my $c = $t->proto;
    $c->send_raw($bytes);
    ok($c->closed(5), 'bad frame closes the connection');
}
# truncated frames, the peer gone before the end
for my $bytes (substr(Tucai::Proto::header(), 0, 40),
               Tucai::Proto::header(body_len => 5000) . 'short') {
    my $c = $t->proto;
    $c->send_raw($bytes);
    $c->close;
}
# big meta and body within limits
$r = $t->pool_request(op => Tucai::Proto::OP_HEALTH,
    meta => [map { (Tucai::Proto::M_QUERY + 100 => 'q' x 60000) } 1 .. 1],
    body => 'b' x 2_000_000);
is($r && $r->{status}, 200, 'large frame within limits');
$r = $t->pool_request(op => 77);
is($r->{status}, 404, 'unknown op');

if ($t->has_nginx) {
    is($t->get('/api/v1/health')->{status}, 200, 'health through nginx');
    is($t->get('/api/v1/schools')->{status}, 200, 'schools through nginx');
}

$t->restart_db;
is($t->pool_request(op => Tucai::Proto::OP_SCHOOLS)->{status}, 200, 'after DB restart');
$t->kill_child('KILL');
ok($t->wait_for(sub { my @p = $t->pool_pids; @p == 2 }, 10), 'respawned');
$t->reload_pool;
is($t->pool_request(op => Tucai::Proto::OP_HEALTH)->{status}, 200, 'after HUP');

my @problems = $t->stop;
is(scalar @problems, 0, 'no sanitizer report') or diag join "\n", @problems;
is($t->{pool_status}, 0, 'clean exit of the ASan master (leak check passed)');

done_testing;
