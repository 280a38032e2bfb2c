package Tucai::Load;

# Tucai::Load -- the journey load generator behind `make load` and the
# cluster test: N simulated students walk the whole journey over HTTP
# against one or more nginx hosts, each in its own forked process
# (HTTP::Tiny, keep-alive per host).  Perl rather than C/libcurl: it reuses
# the harness that starts every component, and a student's journey is
# mostly waiting (video, cooldowns, payment), so one process per
# concurrent student costs the generator little CPU next to what it
# measures (its own CPU is printed too).  Every run is bounded: a wall-clock
# deadline, a student count, a timeout per request, a kill at deadline+grace.

use strict;
use warnings;

use Digest::SHA ();
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket ();
use Time::HiRes qw(time sleep);

my $J = JSON::PP->new->utf8->canonical;

# HTTP::Tiny writes a request's headers and body separately: without
# TCP_NODELAY every POST waits ~40 ms for the server's delayed ACK
# (Nagle), which would be the generator's latency, not ours.
{
    no warnings 'redefine';
    require HTTP::Tiny;
    my $connect = \&HTTP::Tiny::Handle::connect;
    *HTTP::Tiny::Handle::connect = sub {
        my $h = $connect->(@_);
        setsockopt($h->{fh}, Socket::IPPROTO_TCP(), Socket::TCP_NODELAY(), 1) if $h->{fh};
        return $h;
    };
}
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# What each step may answer without being an error.  A capture of a failing
# photo answers 422 CHECK_FAILED (or 423 when it locks); one sent during the
# cooldown 429 COOLING_DOWN; the second of two simultaneous uploads 409.
my %OK = (
    login => [200], me => [200], code => [200], phone => [200], confirm => [200],
    notice => [200], notice_ack => [200], subs_get => [200], subs => [200],
    video => [200], video_start => [200], video_finish => [200],
    capture_fail => [422, 423], capture_cooling => [429], capture => [201],
    capture_double => [201, 409], drafts => [200], submission => [200],
    pay => [200], me_wait => [200], photo => [200], order => [200],
);

=head1 SYNOPSIS

    my $l = Tucai::Load->new(
        hosts => ['http://127.0.0.1:8080', ...],   # a student's requests
                                                    # alternate between them
        sandbox => 'http://127.0.0.1:8089',
        students => [[sid, code], ...],
        concurrency => 8,        # closed loop: at most 8 students at once
        rate => 0,               # or: students arriving per second
        duration => 60,          # no student starts after this; grace 60 s
        fail_ratio => 0.3, double_ratio => 0.1, second_ratio => 0.2,
        video_s => 1, testdata => 'build/testdata',
        procs => { nginx => sub { pids }, pool => sub { pids }, mariadb => ... },
        tick => sub { $elapsed }, # called about every second by the parent
    );
    my $res = $l->run(phase => 'all'|'api'|'rest');
    print $l->report($res);

=cut

sub new {
    my ($class, %o) = @_;
    my $self = bless {
        concurrency => 8, rate => 0, duration => 60, grace => 60,
        fail_ratio => 0.3, double_ratio => 0.1, second_ratio => 0.2,
        cooling_ratio => 0.5, video_s => 1, timeout => 30, seed => 1,
        me_wait => 30, %o,
    }, $class;
    $self->{dir} = tempdir('/tmp/tucai-load-XXXXXX', CLEANUP => !$ENV{TUCAI_KEEP});
    $self->_load_photos;
    return $self;
}

sub _slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# Real photos from build/testdata: passing ones, failing ones, and the
# live liveness burst sent with every capture.
sub _load_photos {
    my ($self) = @_;
    my $td = $self->{testdata} or die "testdata dir needed\n";
    $self->{good} = [ map { [$_, _slurp("$td/set/$_")] } qw(good.jpg good.png good.webp) ];
    $self->{bad}  = [ map { [$_, _slurp("$td/set/$_")] }
                      qw(blurred.jpg dark.jpg noface_dogs.jpg offcenter.jpg face_large.jpg) ];
    my $b = $J->decode(_slurp("$td/bursts.json"))->{live};
    $self->{burst} = [ map { [$_, _slurp("$td/burst/$_")] } @{ $b->{frames} } ];
}

# The body of a capture, built once per photo (the generator's CPU is
# shared with what it measures).
sub _multipart {
    my ($self, $photo) = @_;
    my $c = $self->{mp_cache}{ $photo->[0] } //= [ $self->_build_multipart($photo) ];
    return @$c;
}

sub _build_multipart {
    my ($self, $photo) = @_;
    my $b = 'tucaiload' . int(rand(1e9));
    my $body = '';
    my @parts = (['photo', $photo->[0], $photo->[1]],
                 map { ['frames', $_->[0], $_->[1]] } @{ $self->{burst} });
    for my $p (@parts) {
        my $type = $p->[1] =~ /png$/ ? 'image/png' : $p->[1] =~ /webp$/ ? 'image/webp'
                 : 'image/jpeg';
        $body .= "--$b\r\nContent-Disposition: form-data; name=\"$p->[0]\";"
               . " filename=\"$p->[1]\"\r\nContent-Type: $type\r\n\r\n$p->[2]\r\n";
    }
    $body .= "--$b\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n"
           . '{"camera":"back","source":"camera"}' . "\r\n--$b--\r\n";
    return ("multipart/form-data; boundary=$b", $body);
}

# ---- CPU and memory from /proc ----

sub _stat {
    my ($pid) = @_;
    open my $f, '<', "/proc/$pid/stat" or return;
    my $l = <$f> // return;
    $l =~ s/^.*\) //;                 # comm may hold spaces
    my @f = split ' ', $l;            # f[0] is field 3 (state)
    return { ppid => $f[1], cpu => ($f[11] + $f[12] + $f[13] + $f[14]) / $TCK,
             rss_kb => $f[21] * 4 };
}

# pids and their children (nginx workers, pool children): the masters'
# cutime/cstime already hold the children that exited.
sub _tree {
    my (@roots) = @_;
    my %want = map { $_ => 1 } grep { defined } @roots;
    return () unless %want;
    my @all = keys %want;
    for my $st (glob '/proc/[0-9]*/stat') {
        my ($pid) = $st =~ m{/proc/(\d+)/} or next;
        my $s = _stat($pid) or next;
        push @all, $pid if $want{ $s->{ppid} } && !$want{$pid};
    }
    return @all;
}

sub sample {
    my ($self) = @_;
    my %r;
    my $p = $self->{procs} || {};
    for my $k (sort keys %$p) {
        my @pids = _tree($p->{$k}->());
        my ($cpu, $rss, $fds) = (0, 0, 0);
        for my $pid (@pids) {
            my $s = _stat($pid) or next;
            $cpu += $s->{cpu};
            $rss += $s->{rss_kb};
            opendir(my $d, "/proc/$pid/fd") or next;
            $fds += grep { /^\d+$/ } readdir $d;
        }
        $r{$k} = { cpu => $cpu, rss_kb => $rss, fds => $fds, n => scalar @pids };
    }
    my $me = _stat($$);
    $r{generator} = { cpu => $me ? $me->{cpu} : 0 };
    $r{t} = time;
    return \%r;
}

# ---- one student ----

# One request; with retries => N (the cluster test), an answer that says
# "try again" (502/503 with retry_after, or no connection) is logged and
# retried after min(retry_after, 2) s, as the mini-program does, at most N
# times.  Every attempt is a line of the log.
sub _req {
    my ($self, $w, $step, $method, $path, %o) = @_;
    my $r;
    for my $try (0 .. ($self->{retries} // 0)) {
        $r = $self->_req1($w, $step, $method, $path, %o);
        last if $r->{ok} || !($r->{status} == 502 || $r->{status} == 503
                              || $r->{status} == 599);
        my $ra = $r->{json} && $r->{json}{retry_after} ? $r->{json}{retry_after} : 1;
        sleep($ra > 2 ? 2 : $ra) if $try < ($self->{retries} // 0);
    }
    return $r;
}

sub _req1 {
    my ($self, $w, $step, $method, $path, %o) = @_;
    my $hosts = $self->{hosts};
    my $host = $o{host} // $hosts->[ $w->{turn}++ % @$hosts ];
    my %h;
    $h{Authorization} = "Bearer $o{token}" if $o{token};
    my %a = (headers => \%h);
    if (exists $o{json}) {
        $h{'Content-Type'} = 'application/json';
        $a{content} = $J->encode($o{json});
    } elsif (defined $o{body}) {
        $h{'Content-Type'} = $o{ctype};
        $a{content} = $o{body};
    }
    my $t0 = time;
    my $res = ($w->{http}{$host} //= HTTP::Tiny->new(timeout => $self->{timeout},
                                                      keep_alive => 1))
        ->request($method, $host . $path, \%a);
    my $ms = (time - $t0) * 1000;
    my $js = eval { $J->decode($res->{content}) } if ($res->{content} // '') =~ /^\s*\{/;
    my $code = $res->{status} >= 400 && $js && $js->{error} ? $js->{error}
             : $res->{status} == 599 ? 'CONNECT' : '';
    # nginx's admission of photo checks (tucai_checks_in_flight) answers
    # POOL_UNAVAILABLE too: back-pressure to retry, told apart by its text
    $code .= '/CHECKS_BUSY' if $res->{status} == 503 && $js && ($js->{message} // '')
        =~ /Photo checks are busy|\x{7167}\x{7247}\x{68c0}\x{6d4b}\x{7e41}\x{5fd9}/;
    my $ok = grep { $_ == $res->{status} } @{ $OK{$step} || [200] };
    my $hi = 0;
    for (0 .. $#$hosts) { $hi = $_ + 1 if $hosts->[$_] eq $host }
    my $json_ok = $res->{status} < 400 || ($js && $js->{error}) ? 1 : 0;
    printf { $w->{log} } "R\t%s\t%d\t%s\t%.1f\t%d\t%d\t%.3f\t%d\n", $step, $res->{status},
        $code || '-', $ms, $ok ? 1 : 0, $hi, time, $json_ok;
    if ($res->{status} == 201 && $js && $js->{draft}) {
        printf { $w->{log} } "D\t%s\t%d\t%d\n", $w->{sid} // 0, $js->{draft}{id}, $hi;
    }
    return { status => $res->{status}, json => $js, code => $code, ok => $ok,
             content => $res->{content}, host => $host, ct => $res->{headers}{'content-type'} // '' };
}

sub _api_part {
    my ($self, $w, $s) = @_;
    my $r = $self->_req($w, 'login', 'POST', '/api/v1/login',
                        json => { code => "load-$self->{seed}-$s->{sid}" });
    return 0 unless $r->{ok} && $r->{json}{token};
    my $tok = $r->{json}{token};
    $self->_req($w, 'me', 'GET', '/api/v1/me', token => $tok);
    $r = $self->_req($w, 'code', 'POST', '/api/v1/code', token => $tok,
                     json => { code => $s->{code} });
    return 0 unless $r->{ok};
    $r = $self->_req($w, 'phone', 'POST', '/api/v1/phone', token => $tok,
                     json => { phone => sprintf('138%08d', $s->{sid} % 1e8) });
    return 0 unless $r->{ok};
    $r = $self->_req($w, 'confirm', 'POST', '/api/v1/confirm', token => $tok, json => {});
    return 0 unless $r->{ok};
    $tok = $r->{json}{token} // $tok;
    $s->{token} = $tok;
    $r = $self->_req($w, 'notice', 'GET', '/api/v1/notice', token => $tok);
    return 0 unless $r->{ok};
    $r = $self->_req($w, 'notice_ack', 'POST', '/api/v1/notice/ack', token => $tok,
                     json => { version => $r->{json}{version} });
    return 0 unless $r->{ok};
    $self->_req($w, 'subs_get', 'GET', '/api/v1/subscriptions', token => $tok);
    $r = $self->_req($w, 'subs', 'POST', '/api/v1/subscriptions', token => $tok,
                     json => { photo_status => JSON::PP::true, payment_result => JSON::PP::true });
    return 0 unless $r->{ok};
    $self->_req($w, 'video', 'GET', '/api/v1/video', token => $tok);
    $r = $self->_req($w, 'video_start', 'POST', '/api/v1/video/start', token => $tok, json => {});
    return 0 unless $r->{ok};
    # the student watches the guide video (the server's clock decides)
    sleep($self->{video_s} + 0.05);
    for (1 .. 3) {
        $r = $self->_req($w, 'video_finish', 'POST', '/api/v1/video/finish', token => $tok,
                         json => {});
        last if $r->{ok} || ($r->{code} // '') ne 'VIDEO_NOT_FINISHED';
        sleep(($r->{json}{remaining_s} // 1) + 0.05);
    }
    return $r->{ok} ? 1 : 0;
}

sub _capture {
    my ($self, $w, $step, $tok, $photo, %o) = @_;
    my ($ct, $body) = $self->_multipart($photo);
    return $self->_req($w, $step, 'POST', '/api/v1/captures', token => $tok,
                       ctype => $ct, body => $body, %o);
}

sub _rest_part {
    my ($self, $w, $s) = @_;
    my $tok = $s->{token} or return 0;
    my $rnd = $w->{rnd};
    my $r;
    my $good = $self->{good}[ $s->{sid} % @{ $self->{good} } ];
    if ($rnd->() < $self->{fail_ratio}) {
        my $bad = $self->{bad}[ $s->{sid} % @{ $self->{bad} } ];
        $r = $self->_capture($w, 'capture_fail', $tok, $bad);
        return 0 unless $r->{ok};
        return 0 if $r->{status} == 423;   # locked: a teacher must unlock
        my $wait = $r->{json}{retry_after} // 1;
        if ($rnd->() < $self->{cooling_ratio}) {
            # impatient: tries again at once (nginx or the pool refuses)
            $self->_capture($w, 'capture_cooling', $tok, $good);
        }
        sleep($wait + 0.2);
        $s->{cooled} = 1;
    }
    if ($rnd->() < $self->{double_ratio} && @{ $self->{hosts} }) {
        # two uploads at once (one per host when there are two): at most one
        # is processed at a time; the other is refused 409 or, if it came
        # after the first ended, accepted.
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            my %w2 = (%$w, http => {}, turn => $w->{turn} + 1);
            $self->_capture(\%w2, 'capture_double', $tok, $good);
            POSIX::_exit(0);
        }
        $r = $self->_capture($w, 'capture_double', $tok, $good);
        waitpid($pid, 0);
        # the slot is free now; at least one of the two must have made a draft
        $r = $self->_req($w, 'drafts', 'GET', '/api/v1/drafts', token => $tok);
        $s->{draft} = $r->{json}{drafts} && @{ $r->{json}{drafts} }
            ? $r->{json}{drafts}[0]{id} : undef;
        if (!$s->{draft}) {
            $r = $self->_capture($w, 'capture', $tok, $good);
            return 0 unless $r->{ok};
            $s->{draft} = $r->{json}{draft}{id};
        }
    } else {
        $r = $self->_capture($w, 'capture', $tok, $good);
        for (1 .. 5) {
            if ($r->{status} == 429) {      # a cooldown still running here
                sleep(($r->{json}{retry_after} // 1) + 0.2);
            } elsif ($r->{status} == 409 && ($r->{code} // '') eq 'UPLOAD_IN_PROGRESS') {
                sleep 2;                    # an earlier attempt is still being checked
            } else {
                last;
            }
            $r = $self->_capture($w, 'capture', $tok, $good);
        }
        return 0 unless $r->{ok};
        $s->{draft} = $r->{json}{draft}{id};
    }
    $s->{captured}++;
    if ($rnd->() < $self->{second_ratio}) {
        my $g2 = $self->{good}[ ($s->{sid} + 1) % @{ $self->{good} } ];
        $r = $self->_capture($w, 'capture', $tok, $g2);
        $s->{draft} = $r->{json}{draft}{id} if $r->{ok};
    }
    $self->_req($w, 'drafts', 'GET', '/api/v1/drafts', token => $tok);
    $r = $self->_req($w, 'submission', 'POST', '/api/v1/submission', token => $tok,
                     json => { draft_id => $s->{draft} + 0 });
    return 0 unless $r->{ok};
    my $order = $r->{json}{order} || {};
    $s->{order} = $order->{out_trade_no};
    if (($order->{status} // '') eq 'UNPAID') {
        # the student pays; WeChat (the sandbox) notifies our nginx
        my $t0 = time;
        my $p = ($w->{http}{sb} //= HTTP::Tiny->new(timeout => $self->{timeout}))
            ->post("$self->{sandbox}/sandbox/pay", { content => $J->encode(
                { out_trade_no => $order->{out_trade_no} }),
                headers => { 'Content-Type' => 'application/json' } });
        my $js = eval { $J->decode($p->{content}) } || {};
        my $st = $js->{delivered} && @{ $js->{delivered} } ? $js->{delivered}[0]{status} : 0;
        printf { $w->{log} } "R\tpay\t%d\t%s\t%.1f\t%d\t0\t%.3f\n", $p->{status},
            $st == 204 || $st == 200 ? '-' : "NOTIFY_$st", (time - $t0) * 1000,
            ($p->{status} == 200 ? 1 : 0), time;
        return 0 unless $p->{status} == 200;
    }
    # the final photo is produced after payment: the client polls /me
    my $t0 = time;
    my $me;
    while (time - $t0 < $self->{me_wait}) {
        $me = $self->_req($w, 'me_wait', 'GET', '/api/v1/me', token => $tok);
        last if $me->{json} && $me->{json}{photo_ready};
        sleep 0.2;
    }
    return 0 unless $me && $me->{json} && $me->{json}{photo_ready};
    $r = $self->_req($w, 'photo', 'GET', $me->{json}{photo_url} // '/api/v1/photo', token => $tok);
    return 0 unless $r->{ok} && substr($r->{content} // '', 0, 2) eq "\xFF\xD8";
    $r = $self->_req($w, 'order', 'GET', '/api/v1/order', token => $tok);
    $s->{final} = 1;
    return 1;
}

# ---- the run ----

sub _worker {
    my ($self, $i, $phase, $t0, $mine) = @_;
    # drand48 gives nearly equal first numbers for nearby seeds: hash them
    srand(unpack('N', Digest::SHA::sha1("$self->{seed}/$i/$phase")));
    open my $log, '>', "$self->{dir}/w$i.log" or die;
    $log->autoflush(1);
    my %w = (log => $log, http => {}, turn => $i, rnd => sub { rand() });
    my $state = "$self->{dir}/w$i.state";
    my $prev = -s $state ? $J->decode(_slurp($state)) : {};
    my %done;
    for my $k (@$mine) {
        my $s = $prev->{ $self->{students}[$k][0] }
             || { sid => $self->{students}[$k][0], code => $self->{students}[$k][1] };
        if ($self->{rate}) {                       # open loop: arrival times
            my $at = $t0 + $k / $self->{rate};
            sleep($at - time) if $at > time;
        }
        last if time - $t0 > $self->{duration};
        printf $log "S\t%d\tstart\t%.3f\n", $s->{sid}, time;
        $w{sid} = $s->{sid};
        my $ok = 1;
        $ok = $self->_api_part(\%w, $s) if $phase ne 'rest';
        $ok = $self->_rest_part(\%w, $s) if $ok && $phase ne 'api';
        printf $log "S\t%d\t%s\t%.3f\t%s\t%s\n", $s->{sid}, $ok ? 'ok' : 'fail', time,
            $s->{order} // '-', $s->{draft} // '-';
        $done{ $s->{sid} } = $s;
    }
    open my $f, '>', $state or die;
    print $f $J->encode(\%done);
    close $f;
    POSIX::_exit(0);
}

sub run {
    my ($self, %o) = @_;
    my $phase = $o{phase} // 'all';
    my $n = @{ $self->{students} };
    my $c = $self->{rate} ? $self->{concurrency} : ($self->{concurrency} < $n
                                                     ? $self->{concurrency} : $n);
    $c ||= 1;
    unlink glob("$self->{dir}/w*.log");
    my $before = $self->sample;
    my $t0 = time;
    my %kids;
    for my $i (0 .. $c - 1) {
        my @mine = grep { $_ % $c == $i } 0 .. $n - 1;
        my $pid = fork // die "fork: $!";
        if (!$pid) { $self->_worker($i, $phase, $t0, \@mine) }
        $kids{$pid} = $i;
    }
    my $killed = 0;
    my $last_tick = $t0;
    while (%kids) {
        while ((my $pid = waitpid(-1, WNOHANG)) > 0) { delete $kids{$pid} }
        last unless %kids;
        if ($self->{tick} && time - $last_tick >= 1) {
            $last_tick = time;
            $self->{tick}->(time - $t0);
        }
        if (!$killed && time - $t0 > $self->{duration} + $self->{grace}) {
            kill 'KILL', keys %kids;          # bounded: whatever is left
            $killed = 1;
        }
        sleep 0.1;
    }
    my $after = $self->sample;
    return $self->_collect($phase, $before, $after, time - $t0, $killed);
}

sub _pct {
    my ($v, $p) = @_;
    return 0 unless @$v;
    my $i = int($p / 100 * $#$v + 0.5);
    return $v->[$i];
}

sub _collect {
    my ($self, $phase, $before, $after, $wall, $killed) = @_;
    my (%lat, %count, %err, %status, @reqs, %stu, @drafts);
    for my $f (glob "$self->{dir}/w*.log") {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            chomp;
            my @x = split /\t/;
            if ($x[0] eq 'R') {
                my (undef, $step, $st, $code, $ms, $ok, $host, $t, $jok) = @x;
                push @{ $lat{$step} }, $ms;
                $count{$step}++;
                $status{"$st"}++;
                $err{"$step $st $code"}++ unless $ok;
                push @reqs, { step => $step, status => $st, code => $code, ok => $ok,
                              host => $host, t => $t, ms => $ms, json_ok => $jok // 1 };
            } elsif ($x[0] eq 'D') {
                push @drafts, { sid => $x[1], id => $x[2], host => $x[3] };
            } elsif ($x[0] eq 'S' && $x[2] ne 'start') {
                $stu{ $x[1] } = { ok => $x[2] eq 'ok', t => $x[3], order => $x[4],
                                  draft => $x[5] };
            }
        }
    }
    my %steps;
    for my $s (keys %lat) {
        my @v = sort { $a <=> $b } @{ $lat{$s} };
        $steps{$s} = { n => scalar @v, p50 => _pct(\@v, 50), p95 => _pct(\@v, 95),
                       p99 => _pct(\@v, 99), max => $v[-1] };
    }
    my $caps = 0;
    my $api = 0;
    for (@reqs) {
        next if $_->{step} eq 'pay';          # the sandbox, not us
        # a capture counts when it was checked (201, 422, 423): refusals
        # before the check (cooldown 429, 409, nginx's 503 past
        # tucai_checks_in_flight) cost next to nothing
        if ($_->{step} =~ /^capture/) { $caps++ if $_->{status} =~ /^(201|422|423)$/ }
        else { $api++ }
    }
    my %cpu;
    for my $k (keys %$after) {
        next unless ref $after->{$k} && defined $after->{$k}{cpu} && $before->{$k};
        $cpu{$k} = $after->{$k}{cpu} - $before->{$k}{cpu};
    }
    # the generator's children (workers) are reaped: our cutime holds them
    return { phase => $phase, wall => $wall, steps => \%steps, errors => \%err,
             status => \%status, captures => $caps, api => $api, cpu => \%cpu,
             before => $before, after => $after, students => \%stu, requests => \@reqs,
             killed => $killed, drafts => \@drafts,
             ok_students => scalar(grep { $_->{ok} } values %stu),
             n_students => scalar(keys %stu) };
}

sub report {
    my ($self, $r) = @_;
    my $o = sprintf("phase %s: %d students (%d completed), %.1f s, %d captures, %d API"
        . " requests%s\n", $r->{phase}, $r->{n_students}, $r->{ok_students}, $r->{wall},
        $r->{captures}, $r->{api}, $r->{killed} ? ' (KILLED at the deadline)' : '');
    $o .= sprintf("throughput: %.2f captures/s, %.1f API req/s, %.2f journeys/s\n",
        $r->{captures} / $r->{wall}, $r->{api} / $r->{wall}, $r->{ok_students} / $r->{wall});
    $o .= sprintf("%-16s %6s %8s %8s %8s %8s\n", 'step', 'n', 'p50 ms', 'p95 ms', 'p99 ms',
                  'max ms');
    my @order = qw(login me code phone confirm notice notice_ack subs_get subs video
                   video_start video_finish capture_fail capture_cooling capture
                   capture_double drafts submission pay me_wait photo order);
    my %seen;
    for my $s (@order, sort keys %{ $r->{steps} }) {
        next if $seen{$s}++;
        my $x = $r->{steps}{$s} or next;
        $o .= sprintf("%-16s %6d %8.1f %8.1f %8.1f %8.1f\n", $s, $x->{n}, $x->{p50},
                      $x->{p95}, $x->{p99}, $x->{max});
    }
    $o .= "status codes: " . join(', ', map { "$_: $r->{status}{$_}" }
                                   sort keys %{ $r->{status} }) . "\n";
    if (%{ $r->{errors} }) {
        $o .= "errors (step status code: count):\n";
        $o .= "  $_: $r->{errors}{$_}\n" for sort keys %{ $r->{errors} };
    } else {
        $o .= "errors: none\n";
    }
    $o .= "CPU seconds:";
    $o .= sprintf(" %s %.2f", $_, $r->{cpu}{$_}) for sort keys %{ $r->{cpu} };
    $o .= "\n";
    return $o;
}

# A school (fee, short video) and n students with active collection codes,
# in a few statements; returns ([student_id, code], ...).
sub seed {
    my ($t, $n, %s) = @_;
    $t->sql_do(sprintf("INSERT INTO schools (name, contact, fee_fen, notice_version,"
        . " notice_title, notice_body, video_url, video_duration_s, tpl_photo_status,"
        . " tpl_payment_result, created_at) VALUES ('压测中学 %d', '图像采集办', %d, 1,"
        . " '须知', '请按要求拍摄', 'https://video.example/guide.mp4', %d, 'TPL_PHOTO',"
        . " 'TPL_PAY', UNIX_TIMESTAMP())", $$, $s{fee}, $s{video_s}));
    my $school = $t->sql_one("SELECT MAX(id) FROM schools");
    my @out;
    for (my $i = 0; $i < $n; $i += 500) {
        my $hi = $i + 500 < $n ? $i + 500 : $n;
        $t->sql_do("INSERT INTO students (school_id, student_no, name, created_at) VALUES "
            . join(',', map { sprintf("($school, 'L%06d', '考生%d', UNIX_TIMESTAMP())", $_, $_) }
                   $i .. $hi - 1));
    }
    my %sid = map { $_->[1] => $_->[0] }
        $t->sql("SELECT id, student_no FROM students WHERE school_id = $school");
    my @codes;
    for my $i (0 .. $n - 1) {
        my $no = sprintf('L%06d', $i);
        my $code = sprintf('%d-L%06dABCDEFGHJ', $school, $i);
        push @out, [$sid{$no}, $code];
        push @codes, "($school, $sid{$no}, UNHEX('" . Digest::SHA::sha256_hex($code)
            . "'), 'active', UNIX_TIMESTAMP(), 0)";
    }
    while (my @c = splice @codes, 0, 500) {
        $t->sql_do("INSERT INTO codes (school_id, student_id, code_hash, status, created_at,"
            . " expires_at) VALUES " . join(',', @c));
    }
    return @out;
}

# sid -> token of the students the last run() walked
sub tokens {
    my ($self) = @_;
    my %t;
    for my $f (glob "$self->{dir}/w*.state") {
        my $s = $J->decode(_slurp($f));
        $t{$_} = $s->{$_}{token} for keys %$s;
    }
    return \%t;
}

1;
