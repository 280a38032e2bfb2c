#!/usr/bin/perl
# The pool on its own socket: health and schools frames, strict parsing
# (garbage and truncated frames close that connection only), keeps serving.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;

my $t = Tucai::Test->new(worker_children => 2, nginx => 0, sandbox => 0);

my $r = $t->pool_request(op => Tucai::Proto::OP_HEALTH);
ok($r, 'health answered');
is($r->{status}, 200, 'health 200');
is_deeply($r->{json}, { status => 'ok' }, 'health: ok and nothing more');
$r = $t->pool_request(op => Tucai::Proto::OP_STATUS);
is($r->{status}, 200, 'status 200');
is($r->{json}{status}, 'ok', 'status ok');
ok($r->{json}{db}{ok}, 'db ok');
is($r->{json}{protocol}, 1, 'protocol 1');
is($r->{json}{pool}{children}, 2, 'children reported');
is($r->{rid}, '00112233445566778899aabbccddeeff', 'request id echoed');
like($r->{content_type}, qr{^application/json}, 'json content type');

$t->sql_do("INSERT INTO schools (name, notice_body) VALUES ('第一中学', ''), ('Second School', '')");
$r = $t->pool_request(op => Tucai::Proto::OP_SCHOOLS);
is($r->{status}, 200, 'schools 200');
is_deeply([map { $_->{name} } @{ $r->{json}{schools} }], ['第一中学', 'Second School'],
    'schools from the DB, utf8 intact');
ok($r->{json}{schools}[0]{id} > 0, 'school id');

# unknown op -> 404 NOT_FOUND JSON
$r = $t->pool_request(op => 126);
is($r->{status}, 404, 'unknown op 404');
is($r->{json}{error}, 'NOT_FOUND', 'NOT_FOUND code');
like($r->{json}{message}, qr{ / }, 'bilingual message');

# keepalive: several exchanges on one connection
my $c = $t->proto;
for my $i (1 .. 5) {
    my $x = $c->request(op => Tucai::Proto::OP_HEALTH);
    is($x && $x->{status}, 200, "exchange $i on one connection");
}
$c->close;

# strictness: each violation closes that connection only
my %bad = (
    'bad magic'        => Tucai::Proto::header(magic => 0x12345678),
    'bad version'      => Tucai::Proto::header(version => 2),
    'flags set'        => Tucai::Proto::header(flags => 1),
    'reserved set'     => Tucai::Proto::header(reserved => 7),
    'bad role'         => Tucai::Proto::header(role => 9),
    'meta too long'    => Tucai::Proto::header(meta_len => 65537),
    'body too long'    => Tucai::Proto::header(body_len => 0xFFFFFFFF),
    'meta not tiling'  => Tucai::Proto::header(meta_len => 6) . pack('n n', 1, 5) . 'ab',
    'fixed len wrong'  => Tucai::Proto::header(meta_len => 6) . pack('n n', 35, 2) . 'ab',
    'duplicate param'  => Tucai::Proto::frame(op => 1, meta => [1 => 'a', 1 => 'b']),
    'garbage'          => join('', map { chr(int rand 256) } 1 .. 200),
    # no pipelining (tucai_proto.h): a frame written before the answer to
    # the one before it
    'two frames at once' => Tucai::Proto::frame(op => Tucai::Proto::OP_HEALTH) x 2,
);
for my $name (sort keys %bad) {
    my $c = $t->proto;
    $c->send_raw($bad{$name});
    ok($c->closed(5), "$name: connection closed");
    $c->close;
}
like($t->pool_log, qr/\d+ bytes after the frame, closing/, 'two frames at once: logged as such');

# truncated: header only half, then the peer goes away; and a full header
# announcing a body that never comes (the pool times out or sees EOF)
{
    my $c = $t->proto;
    $c->send_raw(substr(Tucai::Proto::header(), 0, 50));
    $c->close;
    $c = $t->proto;
    $c->send_raw(Tucai::Proto::header(body_len => 1000) . 'x' x 10);
    $c->close;
}

# unknown meta types are ignored
$r = $t->pool_request(op => Tucai::Proto::OP_HEALTH, meta => [200 => 'future', 2 => 'a=b']);
is($r && $r->{status}, 200, 'unknown meta ignored');

# and the pool still serves, with the same children
my @pids = $t->pool_pids;
is(scalar @pids, 2, 'two children still there');
for (1 .. 10) {
    my $x = $t->pool_request(op => Tucai::Proto::OP_HEALTH);
    is($x && $x->{status}, 200, 'still serving') or last;
}
is_deeply([$t->pool_pids], \@pids, 'no child died');

done_testing;
