# No free expensive request (issue 11): an upload whose decode would cost
# more than the budget is refused from its header, before a pixel is
# decoded; undecodable uploads and unreadable QR pictures count toward the
# student's limits at the edge; a refused capture frees its upload slot
# before its answer goes out.  (The figures under load: bench/abuse.pl.)
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

# shipped capture-failure knob (2r/m burst=2), generous code rates
my $t = Tucai::Test->new(worker_children => 2, nginx_extra_server =>
    "tucai_code_rate 6000r/m burst=1000; tucai_cooldown 60s;");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

# a 97 KB PNG declaring 9999x9999, truncated: ~100 MP to inflate
sub bomb_png {
    my ($w, $h, $keep) = @_;
    require Compress::Zlib;
    my $chunk = sub { my ($ty, $d) = @_;
        pack('N', length $d) . $ty . $d . pack('N', Compress::Zlib::crc32($ty . $d)) };
    my ($z) = Compress::Zlib::deflateInit(-Level => 9);
    my $row = "\0" . ("\x80" x ($w * 3));
    my $data = '';
    for (1 .. $h) { my ($o) = $z->deflate($row); $data .= $o; last if length $data > $keep }
    $data = substr($data, 0, $keep);
    return "\x89PNG\r\n\x1a\n" . $chunk->('IHDR', pack('NNCCCCC', $w, $h, 8, 2, 0, 0, 0))
         . $chunk->('IDAT', $data);
}
my $bomb = bomb_png(9999, 9999, 97_000);
ok(length $bomb < 100_000, 'the bomb is < 100 KB');

my $school = seed_school($t);
my ($sid, $code) = seed_student($t, $school);
my $tok = walk($t, login($t, 'abuser'), $code, 'shoot');

my $r = capture($t, $tok, raw_photo => $bomb);
is($r->{status}, 422, 'the bomb: 422');
is($r->{json}{error}, 'CORRUPT_IMAGE', 'CORRUPT_IMAGE');
my ($reason) = @{ $r->{json}{verdict}{reasons} || [] };
like($reason->{value} // '', qr/9999x9999 png costs \d+ pixels, over the 25000000 pixel budget/,
     'refused from its header, over the decode budget');
ok(($r->{json}{verdict}{metrics}{ms}{decode} // 0) < 300, 'no pixel decoded (the decode stage took '
   . ($r->{json}{verdict}{metrics}{ms}{decode} // '?') . ' ms)');

# undecodable uploads count: burst + 1 reach the pool, then the edge refuses
my @st = ($r->{status}, map { capture($t, $tok, raw_photo => $bomb)->{status} } 1 .. 4);
is_deeply([ @st[0 .. 2] ], [ 422, 422, 422 ], 'three undecodable uploads reach the pool');
is_deeply([ @st[3, 4] ], [ 429, 429 ], 'then 429 at the edge');
$r = capture($t, $tok, raw_photo => "\xFF\xD8\xFF" . ("junk" x 1000));
is($r->{json}{error}, 'RATE_LIMITED', 'whatever the upload: RATE_LIMITED');
ok($r->{json}{retry_after} >= 1, 'retry_after');
my @pool = grep { m{"POST /api/v1/captures[^\n]*ups=unix:} } split /\n/, $t->nginx_access_log;
is(scalar @pool, 3, 'only three reached the pool');

# another student is not touched, and his refused capture frees its slot
# before the answer: the next one right after is not 409
my ($sid2, $code2) = seed_student($t, $school);
my $tok2 = walk($t, login($t, 'other'), $code2, 'shoot');
$r = capture($t, $tok2, raw_photo => "\x89PNG\r\n\x1a\nnot really");
is($r->{status}, 422, 'another student: his own bucket');
$r = capture($t, $tok2, raw_photo => "\x89PNG\r\n\x1a\nstill not");
isnt($r->{status}, 409, 'the slot was freed with the answer (no UPLOAD_IN_PROGRESS)');
is($t->get('/tucai/status')->{json}{uploads_in_flight}, 0, 'no upload in flight left');

# QR pictures: the same budget, and every attempt counts per student
my $q = login($t, 'qr-abuser');
$r = $t->post_multipart('/api/v1/code', [ image => { data => $bomb, filename => 'q.png', type => 'image/png' } ],
                        token => $q);
is($r->{status}, 422, 'a bomb as QR picture: 422');
is($r->{json}{error}, 'QR_NOT_FOUND', 'QR_NOT_FOUND (refused from the header)');

done_testing;
