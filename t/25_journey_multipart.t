# Our multipart/form-data parser is strict: malformed uploads get a clear
# 400 BAD_MULTIPART (with a reason), well-formed variants are accepted.
# Driven through POST /api/v1/code (cheap: no photo check behind it).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

my $t = j_harness();
my $sch = seed_school($t);
my $tok = login($t, 'js-mp');
my $qrgen = "$Tucai::Test::ROOT/build/journey-qrgen";
my (undef, $code) = seed_student($t, $sch);
my $png = `$qrgen '$code' 4 | convert pgm:- png:-`;

sub send_mp {
    my ($ct, $body) = @_;
    return $t->request('POST', '/api/v1/code', token => $tok, content_type => $ct,
                       body => $body);
}
my $img = "Content-Disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n"
        . "Content-Type: image/png\r\n\r\n$png";

my %bad = (
    'preamble'            => ['multipart/form-data; boundary=B', "hello\r\n--B\r\n$img\r\n--B--\r\n"],
    'no closing boundary' => ['multipart/form-data; boundary=B', "--B\r\n$img\r\n"],
    'no name'             => ['multipart/form-data; boundary=B',
                              "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--"],
    'not form-data'       => ['multipart/form-data; boundary=B',
                              "--B\r\nContent-Disposition: attachment; name=\"image\"\r\n\r\nx\r\n--B--"],
    'LF line endings'     => ['multipart/form-data; boundary=B', "--B\n$img\n--B--\n"],
    'junk after the end'  => ['multipart/form-data; boundary=B', "--B\r\n$img\r\n--B--\r\nmore"],
    'huge part headers'   => ['multipart/form-data; boundary=B',
                              "--B\r\nX-Pad: " . ('a' x 2000) . "\r\n$img\r\n--B--"],
    'too many parts'      => ['multipart/form-data; boundary=B',
                              join('', map { "--B\r\nContent-Disposition: form-data; name=\"f$_\"\r\n\r\nv\r\n" } 1 .. 17) . "--B--"],
    'escaped quote in name' => ['multipart/form-data; boundary=B',
                              "--B\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\nx\r\n--B--"],
);
for my $name (sort keys %bad) {
    my $r = send_mp(@{ $bad{$name} });
    is($r->{status}, 400, "$name -> 400");
    is($r->{json}{error}, 'BAD_MULTIPART', "$name: BAD_MULTIPART") or diag($r->{content});
}
for my $ct ('multipart/form-data', 'multipart/form-data; boundary=',
            'multipart/form-data; boundary=' . ('x' x 71),
            'multipart/form-data; boundary=a; boundary=b') {
    my $r = send_mp($ct, "--a\r\n$img\r\n--a--");
    is($r->{status}, 400, "Content-Type '" . substr($ct, 0, 40) . "' -> 400");
}

# accepted forms: quoted boundary, mixed-case header names, no trailing CRLF
my $r = send_mp('multipart/form-data; boundary="a b:c"',
                "--a b:c\r\ncontent-disposition: form-data; name=\"image\"; filename=\"q.png\"\r\n\r\n$png\r\n--a b:c--");
is($r->{status}, 200, 'quoted boundary with space and colon accepted') or diag($r->{content});
$r = send_mp('Multipart/Form-Data; Boundary=zZ9',
             "--zZ9\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nv\r\n--zZ9\r\n$img\r\n--zZ9--\r\n");
is($r->{status}, 200, 'type and parameter names in any case, extra fields ignored');

done_testing;
