#!/bin/bash
# bench/edge.sh -- the edge's fast paths against nginx baselines, same run:
#   /bench/bare (return 200)          vs  GET /api/v1/ping (token check +
#                                          zone lookup, answered by nginx)
#   POST /bench/bare429 (return 429)  vs  POST /api/v1/captures refused by the
#                                          zone (429 COOLING_DOWN JSON), same
#                                          request bytes
# Prints req/s and ratios, and nginx worker CPU time per request (utime +
# stime of the workers from /proc, before/after), since on 2 cores wrk
# itself caps req/s.  Bounded: wrk -t1 -c32 -d5s on 127.0.0.1 only
# (BENCH_DURATION, BENCH_CONNECTIONS).  Starts its own stack (Tucai::Test).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DURATION=${BENCH_DURATION:-5s}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-32}
[ -e build/testdata/.done ] || { echo "bench/edge: no test data (make testdata)"; exit 1; }

exec perl -It/lib - "$@" <<'PERL'
use strict;
use warnings;
use File::Temp qw(tempfile);
use POSIX ();
use Tucai::Test;
require './t/20_journey_lib.pl';

# the journey helpers assert as they go: keep their TAP out of the report
Test::More->builder->output('/dev/null');
Test::More->builder->no_ending(1);

my $t = j_harness(knobs => { cooldown => '3600s' });
die "bench/edge: nginx module not built\n" unless $t->has_nginx;

# a student in cooldown: one failed check through the pool puts it in the zone
my $sch = seed_school($t);
my ($sid, $code) = seed_student($t, $sch);
my $tok = walk($t, login($t, 'js-bench-edge'), $code, 'shoot');
my $r = capture($t, $tok, photo => 'blurred.jpg');
die "bench/edge: expected a failed check, got $r->{status}\n" unless $r->{status} == 422;
$r = capture($t, $tok, photo => 'good.jpg');
die "bench/edge: expected 429 from the zone, got $r->{status}\n" unless $r->{status} == 429;

my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

sub cpu_ticks {
    my $sum = 0;
    for my $pid ($t->_nginx_workers(1)) {
        open my $f, '<', "/proc/$pid/stat" or next;
        my $l = <$f>;
        $l =~ s/^.*\) //;                 # comm may hold spaces
        my @f = split ' ', $l;
        $sum += $f[11] + $f[12];          # utime + stime (fields 14, 15)
    }
    return $sum;
}

sub wrk {
    my ($path, $script) = @_;
    my $url = $t->url($path);
    my $s = $script ? "-s $script" : '';
    my $c0 = cpu_ticks();
    my $out = qx{wrk -t1 -c$ENV{BENCH_CONNECTIONS} -d$ENV{BENCH_DURATION} $s '$url' 2>&1};
    my $c1 = cpu_ticks();
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($n) = $out =~ /(\d+) requests in/;
    die "bench/edge: wrk failed on $path:\n$out" unless defined $rps && $n;
    my $us = ($c1 - $c0) / $tck * 1e6 / $n;
    return ($rps, $us);
}

sub script {
    my ($method, $hdrs, $body) = @_;
    my ($fh, $name) = tempfile('/tmp/tucai-edge-XXXXXX', SUFFIX => '.lua', UNLINK => 1);
    print $fh "wrk.method = \"$method\"\n";
    print $fh "wrk.headers[\"$_\"] = \"$hdrs->{$_}\"\n" for sort keys %$hdrs;
    print $fh "wrk.body = \"$body\"\n" if defined $body;
    close $fh;
    return $name;
}

my $auth = script('GET', { Authorization => "Bearer $tok" });
my $body = '--b\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n'
         . 'Content-Type: image/jpeg\r\n\r\nxxxx\r\n--b--\r\n';
my $cap = script('POST', { Authorization => "Bearer $tok",
                           'Content-Type' => 'multipart/form-data; boundary=b' }, $body);

my @rows = (
    [ 'bare return 200',            wrk('/bench/bare') ],
    [ 'ping (token + zone)',        wrk('/api/v1/ping', $auth) ],
    # the same POST (headers and small multipart body) as the capture
    [ 'bare return 429 (POST)',     wrk('/bench/bare429', $cap) ],
    [ 'capture 429 from zone',      wrk('/api/v1/captures', $cap) ],
);
for (@rows) {
    printf "bench/edge: %-24s %10.0f req/s  %6.1f us nginx CPU/req\n", @$_;
}
printf "bench/edge: ratio ping/bare = %.3f req/s, %.2f CPU/req\n",
    $rows[1][1] / $rows[0][1], $rows[1][2] / ($rows[0][2] || 1e-9);
printf "bench/edge: ratio capture429/bare429 = %.3f req/s, %.2f CPU/req\n",
    $rows[3][1] / $rows[2][1], $rows[3][2] / ($rows[2][2] || 1e-9);

my $st = $t->get('/tucai/status')->{json};
printf "bench/edge: zone refusals cooling_down=%d, pool_errors=%d\n",
    $st->{refusals}{cooling_down}, $st->{pool_errors};
my @problems = $t->stop;
die "bench/edge: log problems:\n" . join("\n", @problems) . "\n" if @problems;
PERL
