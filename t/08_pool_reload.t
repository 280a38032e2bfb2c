#!/usr/bin/perl
# Pool HUP: the config is re-read and every child replaced, requests keep
# being answered; a bad config on HUP keeps the old one.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
use Tucai::Proto;
use JSON::PP ();

my $t = Tucai::Test->new(worker_children => 2, nginx => 0, sandbox => 0);

my $r = $t->pool_request(op => Tucai::Proto::OP_STATUS);
is($r->{json}{pool}{children}, 2, 'two children');
my @old = $t->pool_pids;
my $master = $t->pool_master_pid;

# a connection opened before the reload
my $c = $t->proto;
is($c->request(op => Tucai::Proto::OP_HEALTH)->{status}, 200, 'before reload');

# children = 3 in the ini, then HUP
my $ini = $t->worker_ini;
my $text = do { local (@ARGV, $/) = $ini; <> };
$text =~ s/^children = \d+/children = 3/m or die;
open my $f, '>', $ini or die; print $f $text; close $f;
$t->{children} = 3;
ok($t->reload_pool, 'all children replaced');
my @new = $t->pool_pids;
is(scalar @new, 3, 'three children now');
ok(!(grep { my $o = $_; grep { $_ == $o } @new } @old), 'none of the old ones');
is($t->pool_master_pid, $master, 'same master');
$r = $t->pool_request(op => Tucai::Proto::OP_STATUS);
is($r->{json}{pool}{children}, 3, 'health reports the new config');
# the master owns the connections: an idle one outlives the old children
my $x = $c->request(op => Tucai::Proto::OP_STATUS);
is($x && $x->{status}, 200, 'the connection opened before the reload is served after it');
my $j = $x && eval { JSON::PP->new->decode($x->{body}) };
is($j && $j->{pool}{children}, 3, 'by a new child');
$c->close;

# a broken config: HUP keeps the old one
open $f, '>>', $ini or die; print $f "\n[pool]\nchildren = many\n"; close $f;
kill 'HUP', $master;
$t->wait_for(sub { $t->pool_log =~ /reload failed/ }, 10);
like($t->pool_log, qr/reload failed, keeping the old config/, 'bad config refused');
is($t->pool_request(op => Tucai::Proto::OP_HEALTH)->{status}, 200, 'still serving');
is(scalar(my @p = $t->pool_pids), 3, 'still three children');

done_testing;
