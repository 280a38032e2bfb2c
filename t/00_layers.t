#!/usr/bin/perl
# worker/'s layers (worker/README.md, tools/layers.pl): the built tree has
# no forbidden dependency, by includes or by linked symbols, and no cycle
# between object files; and the check does catch each kind when one is
# planted in a copy.
use strict;
use warnings;
use File::Temp qw(tempdir);
use Test::More;

my $b = $ENV{TUCAI_BUILD} || 'build';
die "no objects under $b/obj: run make all first\n"
    unless -f "$b/obj/core/pool.o" && -f "$b/obj/main.o";

my $out = `perl tools/layers.pl worker $b/obj 2>&1`;
is($?, 0, 'the tree keeps its layers') or diag($out);

my $tmp = tempdir('tucai-t-layers-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system('cp', '-a', 'worker', 'include', "$tmp/") == 0 or die "cp: $?";
system('cp', '-a', "$b/obj", "$tmp/obj") == 0 or die "cp: $?";

# An upward include: db/ reaching into core/.
open(my $fh, '>>', "$tmp/worker/db/db.h") or die $!;
print $fh qq{#include "handler.h"\n};
close $fh;
# photo/ using lib/: photo depends on nothing of ours.
open($fh, '>>', "$tmp/worker/photo/photo.h") or die $!;
print $fh qq{#include "log.h"\n};
close $fh;
$out = `perl tools/layers.pl $tmp/worker $tmp/obj 2>&1`;
isnt($?, 0, 'an upward include fails the check');
like($out, qr{db\.h:\d+: includes "handler\.h" from core/}, '... naming the file and the header');
like($out, qr{photo\.h:\d+: includes "log\.h" from lib/}, '... photo/ may use nothing of ours');

# Upward symbols and a cycle: an object in wechat/ calling core's
# resp_json, and one in lib/ calling back into it.
system('cp', "worker/db/db.h", "$tmp/worker/db/db.h") == 0 or die;
system('cp', "worker/photo/photo.h", "$tmp/worker/photo/photo.h") == 0 or die;
open($fh, '>', "$tmp/up.c") or die $!;
print $fh "int resp_json(void); int lib_back(void);\n"
        . "int planted_up(void) { return resp_json() + lib_back(); }\n";
close $fh;
open($fh, '>', "$tmp/back.c") or die $!;
print $fh "int planted_up(void);\nint lib_back(void) { return planted_up(); }\n";
close $fh;
system('cc', '-c', "$tmp/up.c", '-o', "$tmp/obj/wechat/planted.o") == 0 or die;
system('cc', '-c', "$tmp/back.c", '-o', "$tmp/obj/lib/back.o") == 0 or die;
$out = `perl tools/layers.pl $tmp/worker $tmp/obj 2>&1`;
isnt($?, 0, 'an upward call fails the check');
like($out, qr{wechat/planted\.o uses resp_json from core/}, '... naming the object and the symbol');
like($out, qr{lib/back\.o uses planted_up from wechat/}, '... lib/ calling up');
like($out, qr{cycle between back\.o planted\.o}, '... and the cycle');

done_testing();
