# 50_admin_lib.pl -- helpers shared by the back-office tests (t/5*_admin*.t).
# Loaded with  require "./t/50_admin_lib.pl";
use strict;
use warnings;
use JSON::PP;
use Test::More;

# Seeds the demo school through `tucai-worker admin demo` (asserting that it
# ran) and logs its teacher in.  Returns (demo hash, login response).
sub admin_demo {
    my ($t) = @_;
    my $demo = $t->dir . '/demo.json';
    my ($rc, $out) = $t->admin_cli('demo', $demo);
    is($rc, 0, 'demo seeded') or diag $out;
    open my $fh, '<', $demo or die "$demo: $!";
    my $d = JSON::PP->new->utf8->decode(do { local $/; <$fh> });
    close $fh;
    return ($d, $t->post_json('/admin/api/v1/login', $d->{teacher}));
}

1;
