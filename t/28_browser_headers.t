# Browser hardening on the console and the H5 client (issue 11): CSP with
# frame-ancestors, X-Frame-Options, nosniff, Referrer-Policy.  (t/51 and
# t/60 drive both pages in Chromium under this policy.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, sandbox => 0);
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

for my $p ('/admin/', '/admin/app.js', '/h5/', '/h5/app.js') {
    my $r = $t->get($p);
    my $h = $r->{headers};
    like($h->{'content-security-policy'} // '', qr/frame-ancestors 'none'/, "$p: CSP frame-ancestors");
    like($h->{'content-security-policy'} // '', qr/script-src 'self'/, "$p: CSP scripts only ours");
    is($h->{'x-frame-options'}, 'DENY', "$p: X-Frame-Options");
    is($h->{'x-content-type-options'}, 'nosniff', "$p: nosniff");
    is($h->{'referrer-policy'}, 'no-referrer', "$p: Referrer-Policy");
}
done_testing;
