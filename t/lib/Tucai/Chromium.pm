package Tucai::Chromium;

use strict;
use warnings;

use IO::Handle;
use IO::Select;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);

our $CHROME = '/usr/bin/chromium';
my $J = JSON::PP->new->utf8->canonical;
my %LIVE;           # pid => owner pid, killed in END

=head1 NAME

Tucai::Chromium - a minimal driver for Debian's headless Chromium over the
DevTools protocol on a pipe (C<--remote-debugging-pipe>: NUL-separated JSON
on fds 3 and 4), so no WebSocket library or npm package is needed.

=head1 SYNOPSIS

    use Tucai::Chromium;
    die "missing prerequisite: no chromium\n" unless -x $Tucai::Chromium::CHROME;

    my $c = Tucai::Chromium->new(dir => $t->dir, width => 390, height => 844,
                                 mobile => 1, scale => 2, timeout => 30);
    $c->cdp('Page.navigate', { url => $t->url('/h5/') });
    $c->wait_event('Page.loadEventFired');
    my $title = $c->js('return document.title');

=head1 DESCRIPTION

C<new> starts Chromium (its own process group; profile in
F<DIR/chrome-profile>, output in F<DIR/chrome.log>), opens a page, attaches
a flat session to it, enables the Page domain and sets the device metrics.
Options: C<dir> (required), C<width>/C<height> (1280x900), C<mobile> (0),
C<scale> (1), C<timeout> (seconds per command, 20), C<chrome>
(C<$Tucai::Chromium::CHROME>).

C<< $c->cdp($method, \%params) >> sends a command to the page session and
returns its result (dies on a protocol error or timeout);
C<< $c->browser_cdp($method, \%params) >> sends it to the browser target.
Events seen meanwhile are queued; C<< $c->wait_event($name, $timeout) >>
returns (and removes) the first one called C<$name>, waiting up to
C<$timeout> seconds (15).  C<< $c->js($code) >> runs C<$code> as the body of
an async function in the page (it may C<await>) and returns its value by
value; a thrown exception dies.  C<< $c->session >> and C<< $c->log_path >> give
the session id and the log path.  C<args> (new) adds command-line flags
(e.g. Chromium's fake camera).  C<< $c->viewport($w, $h, $mobile) >> resizes;
C<< $c->screenshot($path, $full) >> writes a PNG (the whole page when
C<$full>); C<< $c->axe($axe_min_js) >> runs axe-core and returns the serious
and critical violations.

The process group is killed when the object goes away or, at the latest, in
END.

=cut

sub new {
    my ($class, %o) = @_;
    my $dir = $o{dir} or die "Tucai::Chromium: dir required\n";
    my $self = bless {
        chrome  => $o{chrome} // $CHROME,
        width   => $o{width} // 1280,
        height  => $o{height} // 900,
        mobile  => $o{mobile} ? 1 : 0,
        scale   => $o{scale} // 1,
        timeout => $o{timeout} // 20,
        log     => "$dir/chrome.log",
        profile => "$dir/chrome-profile",
        next_id => 0,
        rbuf    => '',
        events  => [],
        args    => $o{args} // [],
    }, $class;
    $self->_launch;
    my $target = $self->browser_cdp('Target.createTarget', { url => 'about:blank' })->{targetId};
    $self->{session} = $self->browser_cdp('Target.attachToTarget',
        { targetId => $target, flatten => JSON::PP::true })->{sessionId};
    $self->cdp('Page.enable', {});
    $self->cdp('Emulation.setDeviceMetricsOverride',
        { width => $self->{width}, height => $self->{height}, deviceScaleFactor => $self->{scale},
          mobile => $self->{mobile} ? JSON::PP::true : JSON::PP::false });
    return $self;
}

sub _launch {
    my ($self) = @_;
    my ($to_chrome_r, $to_chrome_w, $from_chrome_r, $from_chrome_w);
    {
        # keep these across exec (Perl marks fds above $^F close-on-exec)
        local $^F = 255;
        pipe($to_chrome_r, $to_chrome_w) or die "pipe: $!";
        pipe($from_chrome_r, $from_chrome_w) or die "pipe: $!";
    }
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        # fd 3: what Chromium reads, fd 4: what it writes
        POSIX::dup2(fileno($to_chrome_r), 3) or POSIX::_exit(127);
        POSIX::dup2(fileno($from_chrome_w), 4) or POSIX::_exit(127);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $self->{log};
        open STDERR, '>&', \*STDOUT;
        setpgrp(0, 0);
        { exec $self->{chrome}, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
            '--no-first-run', '--disable-background-networking', '--disable-component-update',
            '--disable-sync', '--disable-dev-shm-usage', "--user-data-dir=$self->{profile}",
            '--remote-debugging-pipe', "--window-size=$self->{width},$self->{height}",
            @{ $self->{args} }, 'about:blank' };
        POSIX::_exit(127);
    }
    close $to_chrome_r; close $from_chrome_w;
    $to_chrome_w->autoflush(1);
    @$self{qw(pid owner w r)} = ($pid, $$, $to_chrome_w, $from_chrome_r);
    $LIVE{$pid} = $$;
}

sub session { $_[0]{session} }
sub log_path { $_[0]{log} }
sub pid     { $_[0]{pid} }

sub _read_one {
    my ($self, $deadline) = @_;
    my $sel = IO::Select->new($self->{r});
    while (1) {
        my $i = index($self->{rbuf}, "\0");
        if ($i >= 0) {
            my $msg = substr($self->{rbuf}, 0, $i);
            substr($self->{rbuf}, 0, $i + 1) = '';
            return $J->decode($msg);
        }
        my $left = $deadline - time;
        die "chromium: timeout\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($self->{r}, my $chunk, 65536);
        die "chromium exited; see $self->{log}\n" unless $n;
        $self->{rbuf} .= $chunk;
    }
}

sub _send {
    my ($self, $method, $params, $session) = @_;
    my $id = ++$self->{next_id};
    my %m = (id => $id, method => $method, params => $params // {});
    $m{sessionId} = $session if $session;
    print { $self->{w} } $J->encode(\%m) . "\0";
    my $deadline = time + $self->{timeout};
    while (1) {
        my $msg = $self->_read_one($deadline);
        if (defined $msg->{id} && $msg->{id} == $id) {
            die "cdp $method: $msg->{error}{message}\n" if $msg->{error};
            return $msg->{result};
        }
        push @{ $self->{events} }, $msg if $msg->{method};
    }
}

sub cdp         { my ($self, $m, $p) = @_; $self->_send($m, $p, $self->{session}) }
sub browser_cdp { my ($self, $m, $p) = @_; $self->_send($m, $p, undef) }

sub wait_event {
    my ($self, $name, $timeout) = @_;
    my $deadline = time + ($timeout // 15);
    my $ev = $self->{events};
    while (1) {
        for my $i (0 .. $#$ev) {
            return splice(@$ev, $i, 1) if $ev->[$i]{method} eq $name;
        }
        push @$ev, $self->_read_one($deadline);
    }
}

sub js {
    my ($self, $code) = @_;
    my $r = $self->cdp('Runtime.evaluate', { expression => "(async () => { $code })()",
        awaitPromise => JSON::PP::true, returnByValue => JSON::PP::true });
    die "js: " . $J->encode($r->{exceptionDetails}) . "\n" if $r->{exceptionDetails};
    return $r->{result}{value};
}

# Sets the page's size: (width, height, mobile), scale 1 on a desktop, 2 on
# a phone.
sub viewport {
    my ($self, $w, $h, $mobile) = @_;
    @$self{qw(width height mobile)} = ($w, $h, $mobile ? 1 : 0);
    $self->cdp('Emulation.setDeviceMetricsOverride',
        { width => $w, height => $h, deviceScaleFactor => $mobile ? 2 : 1,
          mobile => $mobile ? JSON::PP::true : JSON::PP::false });
}

# Saves a PNG of the page (the whole page when $full) and returns its path.
sub screenshot {
    my ($self, $path, $full) = @_;
    my %p = (format => 'png');
    $p{captureBeyondViewport} = JSON::PP::true if $full;
    if ($full) {
        my $m = $self->cdp('Page.getLayoutMetrics', {});
        my $cs = $m->{cssContentSize} || $m->{contentSize};
        my $hgt = $cs->{height} > 4000 ? 4000 : $cs->{height};
        $p{clip} = { x => 0, y => 0, width => $self->{width}, height => $hgt, scale => 1 };
    }
    my $shot = $self->cdp('Page.captureScreenshot', \%p);
    require MIME::Base64;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh MIME::Base64::decode_base64($shot->{data});
    close $fh;
    return $path;
}

# Runs axe-core (the file given, from npm) on the page; returns the
# violations of impact serious or critical as [id, impact, help, nodes].
sub axe {
    my ($self, $file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    my $src = do { local $/; <$fh> };
    close $fh;
    $self->cdp('Runtime.evaluate', { expression => $src }) unless $self->js('return !!window.axe');
    return $self->js(q{const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
          .map(v => [v.id, v.impact, v.help, v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')]);});
}

sub _kill {
    my ($pid) = @_;
    kill 'TERM', -$pid; kill 'TERM', $pid; waitpid($pid, 0);
}

sub DESTROY {
    my ($self) = @_;
    local ($?, $!, $@);
    my $pid = $self->{pid} or return;
    return unless ($self->{owner} // 0) == $$;
    delete $LIVE{$pid};
    _kill($pid);
}

END {
    local $?;
    for my $pid (keys %LIVE) {
        _kill($pid) if $LIVE{$pid} == $$;
    }
    %LIVE = ();
}

1;
