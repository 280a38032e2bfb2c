#!/usr/bin/perl
# layers.pl -- checks worker/'s layering (worker/README.md): each folder may
# use only the folders listed for it below, by includes AND by linked
# symbols, and no two object files of tucai-worker depend on each other
# through a cycle.  Prints every violation; exit 1 when there is any.
#
#   perl tools/layers.pl [WORKER_DIR [OBJ_DIR]]     (defaults: worker build/obj)
#
# The objects are the ones `make all` builds; the program files at the top
# of worker/ (main.c, ops.c, tucai_check.c) compose the layers and may use
# any of them, but tucai_check uses photo/ only.
use strict;
use warnings;
use File::Basename qw(basename dirname);

my $wdir = shift // 'worker';
my $odir = shift // 'build/obj';

# What each folder may use, besides itself.  Keep in step with the table
# in worker/README.md.
my %may = (
    lib     => [],
    photo   => [],
    db      => [qw(lib)],
    wechat  => [qw(lib db)],
    core    => [qw(lib db)],
    jobs    => [qw(lib db wechat)],
    pay     => [qw(lib db wechat core jobs)],
    journey => [qw(lib db wechat core jobs pay photo)],
    admin   => [qw(lib db wechat core jobs pay photo journey)],
);
# Protocol header (include/): what the edge and the pool share.
my %proto_ok = map { $_ => 1 } qw(core pay journey admin);

my @bad;
my %allowed;
for my $f (keys %may) {
    $allowed{$f}{$_} = 1 for ($f, @{ $may{$f} });
}

opendir(my $dh, $wdir) or die "$wdir: $!";
my @folders = sort grep { -d "$wdir/$_" && !/^\./ } readdir $dh;
closedir $dh;
for my $f (@folders) {
    push @bad, "worker/$f/: a folder layers.pl does not know (add it to \%may and worker/README.md)"
        unless $may{$f};
}

# header name -> folder ('' = top of worker/, 'include' = include/)
my %home;
for my $f (@folders) {
    $home{basename($_)} = $f for glob("$wdir/$f/*.h");
}
$home{basename($_)} //= '' for glob("$wdir/*.h");
my $incdir = dirname($wdir) . '/include';
$home{basename($_)} //= 'include' for glob("$incdir/*.h");

# --- includes ---------------------------------------------------------
sub check_includes {
    my ($file, $from, $ok) = @_;
    open(my $fh, '<', $file) or die "$file: $!";
    while (my $l = <$fh>) {
        next unless $l =~ /^\s*#\s*include\s+"([^"]+)"/;
        my $h = basename($1);
        my $to = $home{$h};
        next unless defined $to;       # generated (build/) or a system file
        next if $ok->($to);
        my $where = $to eq '' ? 'the top of worker/' : "$to/";
        push @bad, "$file:$.: includes \"$h\" from $where ($from/ may use: "
            . (join(' ', @{ $may{$from} // [] }) || 'nothing of ours') . ')';
    }
    close $fh;
}

for my $f (@folders) {
    next unless $may{$f};
    for my $file (sort glob("$wdir/$f/*.[ch] $wdir/$f/*.cpp")) {
        check_includes($file, $f, sub {
            my $to = shift;
            return $proto_ok{$f} if $to eq 'include';
            return $to ne '' && $allowed{$f}{$to};
        });
    }
}
if (-f "$wdir/tucai_check.c") {
    check_includes("$wdir/tucai_check.c", 'tucai_check',
        sub { $_[0] eq 'photo' });
}

# --- linked symbols ---------------------------------------------------
my (%def, %und);
my @objs = (glob("$odir/*/*.o"), grep { !/tucai_check\.o$/ } glob("$odir/*.o"));
die "no objects under $odir: run make all first\n" unless @objs > 1;
# one nm for all objects (-A: "file: value type name")
open(my $nm, '-|', 'nm', '-g', '-A', @objs) or die "nm: $!";
while (<$nm>) {
    my ($o, $rest) = /^(.*?\.o):\s*(.*)$/ or next;
    my @p = split ' ', $rest;
    if (@p == 3 && $p[1] =~ /^[TDBRCGSV]$/) {
        $def{ $p[2] } = $o;
    } elsif (@p == 2 && $p[0] eq 'U') {
        $und{$o}{ $p[1] } = 1;
    }
}
close $nm or die "nm failed\n";
sub folder_of {
    my $o = shift;
    my $rel = substr($o, length($odir) + 1);
    return 'photo' if $rel eq 'cascades.o';  # photo's generated tables
    return $rel =~ m{^([^/]+)/} ? $1 : '';   # '' = program file (top)
}
my %edge;      # object -> object -> first symbol
for my $o (@objs) {
    my $from = folder_of($o);
    for my $s (sort keys %{ $und{$o} }) {
        my $d = $def{$s} or next;
        next if $d eq $o;
        $edge{$o}{$d} //= $s;
        my $to = folder_of($d);
        next if $from eq '' || $from eq $to;
        next if $may{$from} && $allowed{$from}{$to};
        if ($to eq '') {
            push @bad, "$o uses $s from the program's " . basename($d)
                . " (layers reach the program only through what it passes down)";
        } else {
            push @bad, "$o uses $s from $to/ ($from/ may use: "
                . (join(' ', @{ $may{$from} // [] }) || 'nothing of ours') . ')';
        }
    }
}
my $chk = "$odir/tucai_check.o";
if (-f $chk) {
    open(my $nm, '-|', 'nm', '-u', $chk) or die "nm: $!";
    while (<$nm>) {
        my (undef, $s) = split;
        my $d = $def{$s} or next;
        my $to = folder_of($d);
        push @bad, "$chk uses $s from $to/ (tucai-check is photo/ only)"
            unless $to eq 'photo';
    }
    close $nm;
}

# --- cycles between object files (Tarjan) ------------------------------
my ($n, @stack, %idx, %low, %on) = (0);
my $scc;
$scc = sub {
    my $v = shift;
    $idx{$v} = $low{$v} = $n++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (sort keys %{ $edge{$v} // {} }) {
        if (!exists $idx{$w}) {
            $scc->($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        } elsif ($on{$w}) {
            $low{$v} = $idx{$w} if $idx{$w} < $low{$v};
        }
    }
    if ($low{$v} == $idx{$v}) {
        my @c;
        while (1) {
            my $w = pop @stack;
            delete $on{$w};
            push @c, $w;
            last if $w eq $v;
        }
        if (@c > 1) {
            my %in = map { $_ => 1 } @c;
            my @why;
            for my $a (sort @c) {
                for my $b (sort keys %{ $edge{$a} }) {
                    push @why, basename($a) . "->" . basename($b) . " ($edge{$a}{$b})"
                        if $in{$b};
                }
            }
            push @bad, "cycle between " . join(' ', map { basename($_) } sort @c)
                . ": " . join(', ', @why);
        }
    }
};
for my $o (sort @objs) {
    $scc->($o) unless exists $idx{$o};
}

if (@bad) {
    print "layers: $_\n" for @bad;
    exit 1;
}
print "layers: ok (" . scalar(@folders) . " folders, " . scalar(@objs) . " objects)\n";
exit 0;
