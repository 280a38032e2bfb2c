#!/usr/bin/perl
# The cmocka unit tests (t/unit/*_test.c, built by mk/unit.mk into
# build/unit/<name> and build/unit/<name>-asan): one ok per binary, its
# output as diag when it fails.
use strict;
use warnings;
use Test::More;

my $dir = ($ENV{TUCAI_BUILD} || 'build') . '/unit';
my @bins = grep { -f $_ && -x _ } sort glob("$dir/*");

die "missing prerequisite: no unit tests built ($dir; make unit)\n" unless @bins;

for my $bin (@bins) {
    my $out = `$bin 2>&1`;
    my $rc = $?;
    my $name = substr($bin, length($dir) + 1);
    ok($rc == 0, $name)
        or diag("$name: " . ($rc & 127 ? 'signal ' . ($rc & 127)
                                       : 'exit ' . ($rc >> 8)) . "\n$out");
}

done_testing();
