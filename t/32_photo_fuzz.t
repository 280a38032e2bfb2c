#!/usr/bin/perl
# Smoke run of the photo fuzzers (built by `make fuzz-build`, part of the
# test preparation): a few seconds each over the seeds and any corpus; the
# long runs are `make fuzz`.  Skips when clang's libFuzzer build is absent.
use strict;
use warnings;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

my $ROOT = abs_path(dirname(__FILE__) . '/..');
my %runs = (photo_fuzz => '-max_total_time=8', photo_spec_fuzz => '-runs=20000');
my $any = 0;
for my $name (sort keys %runs) {
    my $bin = "$ROOT/build/fuzz/$name";
    next unless -x $bin;
    $any++;
    my $corpus = tempdir(CLEANUP => 1);
    my $seeds = "$ROOT/fuzz/seeds/$name";
    my $log = `'$bin' $runs{$name} -rss_limit_mb=2048 -timeout=10 '$corpus' '$seeds' 2>&1`;
    my $rc = $? >> 8;
    is($rc, 0, "$name: smoke run clean") or diag(substr($log, -3000));
    unlike($log, qr/ERROR: (AddressSanitizer|libFuzzer)|runtime error/, "$name: no sanitizer report");
}
die "missing prerequisite: fuzzers not built (make fuzz-build)\n" unless $any;
done_testing;
