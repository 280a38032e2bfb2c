#!/usr/bin/perl
# The WeChat sandbox's pages live on the sandbox's own port only: make run
# (tools/run.sh) proxies nothing of it on the public port, where its
# /sandbox/pay would let any student mark an order paid; the demo's payment
# page is the sandbox's GET /sandbox/pay, which the H5 demo names.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

# make run's configuration: nothing proxied (tools/run.sh is what it runs)
my $run = do { local (@ARGV, $/) = 'tools/run.sh'; <> } // die 'tools/run.sh';
unlike($run, qr/proxy_pass/, 'make run proxies nothing');
like($run, qr/^\s*EXTRA_SERVER=""\s*$/m, 'and adds no location to the public server');

# the public port: /sandbox/pay is not there, in either method
my $r = $t->get('/sandbox/pay');
is($r->{status}, 404, 'GET /sandbox/pay on the public port: 404');
is($r->{json} && $r->{json}{error}, 'NOT_FOUND', 'as JSON');
$r = $t->request('POST', '/sandbox/pay', body => '{"out_trade_no":"x"}',
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 404, 'POST /sandbox/pay on the public port: 404');

# the sandbox's own port: the payment page the H5 demo names
$r = $t->sandbox_get('/sandbox/pay?out_trade_no=T123');
is($r->{status}, 200, 'the sandbox serves its payment page');
like($r->{headers}{'content-type'}, qr{^text/html}, 'HTML');
like($r->{content}, qr{fetch\("/sandbox/pay"}, 'which pays through the sandbox itself');

# the H5 demo names that page when no same-origin /sandbox/pay answers
my $app = do { local (@ARGV, $/) = 'www/h5/app.js'; <> } // die 'app.js';
like($app, qr{:8089/sandbox/pay'}, "the H5 demo names the sandbox's own port (make run's default)");

done_testing;
