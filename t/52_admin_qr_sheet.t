# The printable code sheet really works: a QR code cut out of the sheet that
# POST /admin/api/v1/codes {"sheet":true} returns, rasterised (libvips'
# `vips` CLI) and uploaded by a student as a picture to POST /api/v1/code,
# finds that student; after revocation the same picture gives 410.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Tucai::Test;
require "./t/50_admin_lib.pl";

die "missing prerequisite: no vips CLI (libvips-tools)\n" unless -x '/usr/bin/vips';
my $t = Tucai::Test->new(worker_children => 2);
die "missing prerequisite: nginx module not built\n" unless $t->has_nginx;

my ($d, $l) = admin_demo($t);
is($l->{status}, 200, 'teacher login');
my $tok = $l->{json}{token};

my $r = $t->post_json('/admin/api/v1/codes',
    { student_nos => ['D2026007'], sheet => JSON::PP::true }, token => $tok);
is($r->{status}, 200, 'code generated with a sheet');
my $code = $r->{json}{codes}[0]{code};
my $html = $r->{json}{sheet_html};
like($html, qr/\Q$code\E/, 'the sheet prints the code');
like($html, qr/D2026007/, 'and the student number');
my @svgs = $html =~ m{(<svg.*?</svg>)}sg;
is(scalar @svgs, 1, 'one QR code on the sheet');

my $svg = $svgs[0];
$svg =~ s{<svg }{<svg xmlns="http://www.w3.org/2000/svg" width="330" height="330" };
my ($svgf, $pngf) = ($t->dir . '/qr.svg', $t->dir . '/qr.png');
open my $so, '>', $svgf or die; print $so $svg; close $so;
is(system('/usr/bin/vips', 'copy', $svgf, $pngf), 0, 'rasterised');

my $s = $t->post_json('/api/v1/login', { code => 'qr-sheet-student' });
die "student login failed ($s->{status})\n" unless $s->{status} == 200;
my $up = sub {
    $t->post_multipart('/api/v1/code',
        [image => { file => $pngf, filename => 'qr.png', type => 'image/png' }],
        token => $s->{json}{token});
};
my $c = $up->();
is($c->{status}, 200, 'the QR picture is accepted') or diag $c->{content};
is($c->{json}{student}{student_no}, 'D2026007', 'and finds the student');

is($t->post_json('/admin/api/v1/codes/D2026007/revoke', {}, token => $tok)->{status},
   204, 'revoked');
my $s2 = $t->post_json('/api/v1/login', { code => 'qr-sheet-student-2' });
$c = $t->post_multipart('/api/v1/code',
    [image => { file => $pngf, filename => 'qr.png', type => 'image/png' }],
    token => $s2->{json}{token});
is($c->{status}, 410, 'the revoked code is refused');
is($c->{json}{error}, 'CODE_REVOKED', 'CODE_REVOKED');
ok($c->{json}{contact}, 'with the school contact');

done_testing;
