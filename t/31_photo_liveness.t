#!/usr/bin/perl
# Liveness from the burst (issue #6): a replayed still (identical frames)
# and a picture moved rigidly fail with LIVENESS_FAILED; frames with
# non-rigid change (simulated blink and mouth motion) pass; no usable
# frames is no evidence and fails.  Plain and ASan/UBSan builds.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use File::Temp;
use Cwd qw(abs_path);
use File::Basename qw(dirname);

my $ROOT = abs_path(dirname(__FILE__) . '/..');
my $TD = "$ROOT/build/testdata";
system('bash', "$ROOT/tools/testdata.sh", $TD) == 0 or BAIL_OUT('cannot build test data');
sub slurp { my ($p) = @_; open my $f, '<:raw', $p or die "$p: $!"; local $/; <$f> }
my $bursts = decode_json(slurp("$TD/bursts.json"));

sub burst {
    my ($bin, @args) = @_;
    my $err = File::Temp->new;
    my $cmd = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } $bin, '--burst', @args;
    my $out = `$cmd 2>$err`;
    is($? >> 8, 0, "exit 0: @args[0..0]");
    unlike(slurp("$err"), qr/AddressSanitizer|runtime error|LeakSanitizer/, 'no sanitizer report');
    my @l = grep { /\S/ } split /\n/, $out;
    is(scalar @l, 1, 'one verdict for a burst');
    return decode_json($l[0] // '{}');
}
sub codes { map { $_->{code} } @{ $_[0]{reasons} || [] } }

my @bins = ("$ROOT/build/tucai-check");
push @bins, "$ROOT/build/asan/tucai-check" if -x "$ROOT/build/asan/tucai-check";
my $photo = "$TD/set/good.jpg";
for my $bin (@bins) {
    my $tag = $bin =~ /asan/ ? 'asan' : 'plain';
    for my $name (sort keys %$bursts) {
        my $b = $bursts->{$name};
        my $v = burst($bin, $photo, map { "$TD/burst/$_" } @{ $b->{frames} });
        my $failed = grep { $_ eq 'LIVENESS_FAILED' } codes($v);
        if ($b->{live}) {
            ok(!$failed && $v->{pass}, "$tag $name: live burst passes")
                or diag(encode_json($v->{metrics}));
        } else {
            ok($failed && !$v->{pass}, "$tag $name: LIVENESS_FAILED") or diag(encode_json($v->{metrics}));
        }
    }
    my $v = burst($bin, $photo);
    ok((grep { $_ eq 'LIVENESS_FAILED' } codes($v)), "$tag: no frames is no evidence");
    $v = burst($bin, $photo, "$TD/set/garbage.jpg", "$TD/set/truncated.jpg");
    ok((grep { $_ eq 'LIVENESS_FAILED' } codes($v)), "$tag: unreadable frames are no evidence");
    # the photo repeated as its own frames: a still
    $v = burst($bin, $photo, $photo, $photo, $photo);
    ok((grep { $_ eq 'LIVENESS_FAILED' } codes($v)), "$tag: the photo itself as frames fails");
}
# Without --burst, liveness is not judged.
my $out = `'$bins[0]' '$photo'`;
ok(decode_json($out)->{pass}, 'single photo: liveness not judged');
done_testing;
