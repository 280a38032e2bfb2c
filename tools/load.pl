#!/usr/bin/perl
# tools/load.pl -- `make load`: starts the whole stack on loopback (the
# test harness: private MariaDB, WeChat sandbox, pool, nginx with our
# module), seeds a paid school and N students, and lets Tucai::Load walk
# them through the journey.  Bounded: --students, --duration (no student
# starts after it; everything is killed 60 s later), 30 s per request.
#
#   perl -I t/lib tools/load.pl [--students N] [--concurrency C | --rate R]
#        [--duration S] [--children K] [--cooldown S] [--fail-ratio F]
#        [--peak-captures-h N] [--peak-api-s N] [--json FILE]
#
# Closed loop (default): the students walk in two phases with a barrier,
# first every API step up to the end of the guide video, then captures,
# drafts, submission, payment and the final photo; the first phase gives
# each component's CPU seconds per API request, the second (minus its own
# API requests at that price) the CPU seconds per capture.  --rate R: R
# students arrive per second, each walking the whole journey at once; the
# CPU is then given per journey.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use JSON::PP;
use Tucai::Test;
use Tucai::Load;

my %o = (students => 40, concurrency => 8, rate => 0, duration => 60, children => 4,
         cooldown => 2, 'fail-ratio' => 0.3, 'double-ratio' => 0.1,
         'peak-captures-h' => 30000, 'peak-api-s' => 3000, 'video-s' => 1);
GetOptions(\%o, 'students=i', 'concurrency=i', 'rate=f', 'duration=i', 'children=i',
           'cooldown=i', 'fail-ratio=f', 'double-ratio=f', 'peak-captures-h=i',
           'peak-api-s=i', 'video-s=i', 'json=s') or die "bad options\n";
die "--students must be 1..5000\n" if $o{students} < 1 || $o{students} > 5000;
die "--duration must be 1..1800\n" if $o{duration} < 1 || $o{duration} > 1800;
die "--concurrency must be 1..200\n" if $o{concurrency} < 1 || $o{concurrency} > 200;
my $td = "$Tucai::Test::ROOT/build/testdata";
die "no test data: make testdata\n" unless -e "$td/.done";

# Every student comes from 127.0.0.1 here: the per-IP code and login
# buckets would throttle a whole province behind one address.
my $t = Tucai::Test->new(worker_children => $o{children},
    nginx_extra_server => "        tucai_cooldown $o{cooldown}s;\n"
        . "        tucai_code_rate 60000r/m burst=10000;\n"
        . "        tucai_login_rate 60000r/m burst=10000;\n",
    worker_ini_extra => "[pay]\nreconcile = 5\n[outbox]\ninterval = 1\n");
die "no nginx module built: make\n" unless $t->has_nginx;

my @students = Tucai::Load::seed($t, $o{students}, fee => 1500, video_s => $o{'video-s'});
my $l = Tucai::Load->new(
    hosts => [ $t->url('') ], sandbox => $t->sandbox_url, students => \@students,
    concurrency => $o{concurrency}, rate => $o{rate}, duration => $o{duration},
    fail_ratio => $o{'fail-ratio'}, double_ratio => $o{'double-ratio'},
    video_s => $o{'video-s'}, testdata => $td,
    # nginx answers 503 POOL_UNAVAILABLE (retry_after) past
    # tucai_checks_in_flight photo checks: the client retries, as the
    # mini-program does; each refused attempt still shows in the errors.
    # 30 as in the cluster test: with 8 students and 2 checks in flight a
    # capture can wait out several others' (10 tries left some unfinished)
    retries => 30,
    procs => procs($t));

printf "tucai load: %d students, %s, %d pool children, %d cores (nproc), load average %s\n",
    $o{students}, $o{rate} ? "$o{rate} arrivals/s (open loop)"
                            : "closed loop, concurrency $o{concurrency}",
    $o{children}, (`nproc` =~ /(\d+)/)[0], (split ' ', slurp('/proc/loadavg'))[0];
my $start = $l->sample;
my %out;
if ($o{rate}) {
    my $r = $l->run(phase => 'all');
    print $l->report($r);
    my $j = $r->{ok_students} || 1;
    print "CPU s per completed journey:";
    printf " %s %.3f", $_, $r->{cpu}{$_} / $j for qw(nginx pool mariadb);
    print "\n";
    %out = (all => strip($r));
} else {
    my $a = $l->run(phase => 'api');
    print $l->report($a);
    my $b = $l->run(phase => 'rest');
    print $l->report($b);
    # the sandbox's notification is one more request through nginx and the pool
    my $notifies = $b->{steps}{pay} ? $b->{steps}{pay}{n} : 0;
    my (%per_api, %per_cap);
    for my $k (qw(nginx pool mariadb)) {
        $per_api{$k} = $a->{api} ? $a->{cpu}{$k} / $a->{api} : 0;
        my $rest = $b->{cpu}{$k} - ($b->{api} + $notifies) * $per_api{$k};
        $per_cap{$k} = $b->{captures} ? ($rest > 0 ? $rest : 0) / $b->{captures} : 0;
    }
    my ($sa, $sc) = (0, 0);
    $sa += $per_api{$_} for keys %per_api;
    $sc += $per_cap{$_} for keys %per_cap;
    print "\nCPU seconds per API request:";
    printf " %s %.5f", $_, $per_api{$_} for qw(nginx pool mariadb);
    printf " (total %.5f)\nCPU seconds per capture:    ", $sa;
    printf " %s %.4f", $_, $per_cap{$_} for qw(nginx pool mariadb);
    printf " (total %.4f)\n", $sc;
    my $cps = $sc ? 1 / $sc : 0;
    my $aps = $sa ? 1 / $sa : 0;
    my $peak_c = $o{'peak-captures-h'} / 3600;
    my $cores = $peak_c * $sc + $o{'peak-api-s'} * $sa;
    print "\ncapacity on this machine (CPU of nginx + pool + MariaDB only):\n";
    printf "  captures per second per core:      %.1f\n", $cps;
    printf "  API requests per second per core:  %.0f\n", $aps;
    printf "  peak hour of %d captures (%.1f/s) and %d API req/s: %.1f cores\n",
        $o{'peak-captures-h'}, $peak_c, $o{'peak-api-s'}, $cores;
    %out = (api => strip($a), rest => strip($b), per_api => \%per_api,
            per_capture => \%per_cap, captures_per_core_s => $cps,
            api_per_core_s => $aps, peak_cores => $cores);
}
my $end = $l->sample;
print "\nresident memory (start -> end), file descriptors:\n";
for my $k (qw(nginx pool mariadb)) {
    printf "  %-8s %7.1f MB -> %7.1f MB   fds %d -> %d\n", $k, $start->{$k}{rss_kb} / 1024,
        $end->{$k}{rss_kb} / 1024, $start->{$k}{fds}, $end->{$k}{fds};
}
printf "generator CPU: %.1f s; sandbox CPU: %.1f s\n", $end->{generator}{cpu} - $start->{generator}{cpu},
    $end->{sandbox}{cpu} - $start->{sandbox}{cpu};
if ($o{json}) {
    open my $f, '>', $o{json} or die "$o{json}: $!";
    print $f JSON::PP->new->canonical->pretty->encode(\%out);
    close $f;
}
# a run that left students unfinished (or had to be killed) fails
my @runs = grep { ref $_ eq 'HASH' && $_->{phase} } values %out;
my $errors = 0;
for my $r (@runs) {
    $errors++ if $r->{killed} || $r->{ok_students} < $r->{n_students};
}
my @bad = $t->stop;
print "FAILED: unexpected answers or unfinished journeys\n" if $errors;
if (@bad) {
    print "log problems:\n", map { "  $_\n" } @bad[0 .. ($#bad > 20 ? 20 : $#bad)];
    exit 1;
}
exit($errors ? 1 : 0);

sub slurp { open my $f, '<', $_[0] or return ''; local $/; scalar <$f> }

sub strip { my %r = %{ $_[0] }; delete @r{qw(requests students before after)}; \%r }

sub procs {
    my ($t) = @_;
    return {
        nginx => sub { grep { defined } @{ $t->{nginx_pid} || [] } },
        pool => sub { $t->pool_master_pid },
        mariadb => sub { $t->{db_pid} },
        sandbox => sub { $t->{sandbox_pid} },
    };
}

