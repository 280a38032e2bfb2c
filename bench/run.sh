#!/bin/bash
# bench/run.sh -- `make bench`: wrk against /api/v1/health (nginx -> module
# -> pool -> MariaDB and back) and a bare `return 200;` location of the same
# nginx, in the same run; prints both req/s and the ratio (the median of
# BENCH_ROUNDS (3) rounds of one run each, back to back).  Then runs the
# other parts' bench/*.sh (they get TUCAI_BENCH_URL of this stack).
# Bounded: BENCH_DURATION (default 5s) per run, BENCH_CONNECTIONS (32),
# 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DURATION=${BENCH_DURATION:-5s}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32}

exec perl -It/lib - "$@" <<'PERL'
use strict;
use warnings;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => $ENV{BENCH_CHILDREN} // 4, sandbox => 0);
die "bench: nginx module not built\n" unless $t->has_nginx;

sub wrk {
    my ($path) = @_;
    my $url = $t->url($path);
    my $out = qx{wrk -t2 -c$ENV{BENCH_CONNECTIONS} -d$ENV{BENCH_DURATION} --latency '$url' 2>&1};
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p99) = $out =~ /^\s+99%\s+(\S+)/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    die "bench: wrk failed on $path:\n$out" unless defined $rps;
    return ($rps, $p99 // '?', $non2xx // 0);
}

$t->get('/api/v1/health') for 1 .. 10;   # warm the pool's DB connections
# The machine may be shared: BENCH_ROUNDS rounds, each a bare run then a
# health run back to back, so a burst of other work skews one round's
# ratio, not the result (the median round).
my $rounds = $ENV{BENCH_ROUNDS} // 3;
my @r;
for my $i (1 .. $rounds) {
    my ($bare, $bare99, $bare_bad) = wrk('/bench/bare');
    my ($pool, $pool99, $pool_bad) = wrk('/api/v1/health');
    push @r, { ratio => $bare ? $pool / $bare : 0, bare => $bare, pool => $pool };
    printf "bench: round %d: %-22s %8.0f req/s  p99 %s%s\n", $i, 'bare return 200', $bare, $bare99,
        $bare_bad ? "  ($bare_bad non-2xx)" : '';
    printf "bench: round %d: %-22s %8.0f req/s  p99 %s%s  ratio %.3f\n", $i, '/api/v1/health (pool+DB)',
        $pool, $pool99, $pool_bad ? "  ($pool_bad non-2xx)" : '', $r[-1]{ratio};
}
my $med = (sort { $a->{ratio} <=> $b->{ratio} } @r)[int($#r / 2)];
printf "bench: %-28s %10.0f req/s\n", 'bare return 200', $med->{bare};
printf "bench: %-28s %10.0f req/s\n", '/api/v1/health (pool+DB)', $med->{pool};
printf "bench: ratio health/bare = %.3f  (median of %d rounds; %d children, %s x %s connections)\n",
    $med->{ratio}, $rounds, $t->{children}, $ENV{BENCH_DURATION}, $ENV{BENCH_CONNECTIONS};

my $status = 0;
for my $part (sort glob 'bench/*.sh') {
    next if $part eq 'bench/run.sh';
    print "bench: running $part\n";
    local $ENV{TUCAI_BENCH_URL} = $t->url('');
    system('bash', $part) == 0 or do { warn "bench: $part failed\n"; $status = 1 };
}
my @problems = $t->stop;
die "bench: log problems:\n" . join("\n", @problems) . "\n" if @problems;
exit $status;
PERL
