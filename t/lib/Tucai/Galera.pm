package Tucai::Galera;

# Tucai::Galera -- a MariaDB Galera cluster of N nodes on loopback for the
# cluster test: each node its own datadir, Unix socket and TCP ports
# (SQL, group communication, IST, SST), all on 127.0.0.1, started from the
# harness's template datadir.  Node 1 bootstraps the cluster; the others
# join by state transfer (rsync SST through tools/galera/wsrep_sst_tucai).
# Nodes are our children (they die with the test); a node killed with
# SIGKILL and started again rejoins by IST.
#
#   my $g = Tucai::Galera->new(nodes => 3);
#   $g->socket($i); $g->sql($i, $q); $g->kill_node($i); $g->start_node($i);
#   $g->wait_synced($i, $timeout); $g->cluster_size($i); $g->stop;

use strict;
use warnings;

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

use Tucai::Test;

my @LIVE;

sub _port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1,
                                  ReuseAddr => 1) or die "port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub new {
    my ($class, %o) = @_;
    my $n = $o{nodes} // 3;
    my $self = bless { n => $n, owner => $$, pids => {} }, $class;
    $self->{dir} = tempdir('/tmp/tucai-g-XXXXXX', CLEANUP => !$ENV{TUCAI_KEEP});
    Test::More::diag("galera dir: $self->{dir}") if $ENV{TUCAI_KEEP};
    for my $i (1 .. $n) {
        $self->{port}{$_}[$i] = _port() for qw(gcomm ist sst sql);
    }
    push @LIVE, $self;
    # the harness's template datadir: the tucai database and user
    my $t = bless { build => $ENV{TUCAI_BUILD} || "$Tucai::Test::ROOT/build" }, 'Tucai::Test';
    my $tpl = $t->_template;
    for my $i (1 .. $n) {
        make_path("$self->{dir}/n$i/data", "$self->{dir}/n$i/run");
        system('tar', '-C', "$self->{dir}/n$i/data", '-xf', $tpl) == 0 or die "tar: $?";
    }
    $self->start_node(1, bootstrap => 1);
    $self->wait_synced(1, 60) or die "galera node 1 did not start:\n" . $self->err_tail(1);
    for my $i (2 .. $n) { $self->start_node($i) }
    for my $i (2 .. $n) {
        $self->wait_synced($i, 120) or die "galera node $i did not join:\n" . $self->err_tail($i);
    }
    return $self;
}

sub dir    { $_[0]{dir} }
sub socket { "$_[0]{dir}/n$_[1]/run/mysqld.sock" }
sub pid    { $_[0]{pids}{ $_[1] } }

sub err_tail {
    my ($self, $i) = @_;
    open my $f, '<', "$self->{dir}/n$i/run/mysqld.err" or return '';
    my @l = <$f>;
    return join '', @l > 30 ? @l[-30 .. -1] : @l;
}

sub start_node {
    my ($self, $i, %o) = @_;
    my $d = "$self->{dir}/n$i";
    my $P = $self->{port};
    my $gcomm = join ',', map { "127.0.0.1:$P->{gcomm}[$_]" } 1 .. $self->{n};
    unlink "$d/run/mysqld.sock";
    my @cmd = ('mariadbd', '--no-defaults', "--datadir=$d/data", "--socket=$d/run/mysqld.sock",
        "--pid-file=$d/run/mysqld.pid", "--log-error=$d/run/mysqld.err", "--tmpdir=$d/run",
        '--user=' . scalar(getpwuid($<)), "--port=$P->{sql}[$i]", '--bind-address=127.0.0.1',
        '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=8M',
        '--innodb-flush-log-at-trx-commit=2', '--skip-name-resolve',
        '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
        '--max-connections=200', '--binlog-format=ROW', '--innodb-autoinc-lock-mode=2',
        '--default-storage-engine=InnoDB', '--wsrep-on=ON',
        '--wsrep-provider=/usr/lib/galera/libgalera_smm.so', '--wsrep-cluster-name=tucai-t',
        "--wsrep-cluster-address=gcomm://$gcomm", "--wsrep-node-address=127.0.0.1:$P->{gcomm}[$i]",
        "--wsrep-node-name=n$i",
        # reads wait until this node has applied every commit certified
        # before them: a cooldown set through one node is seen on the next
        '--wsrep-sync-wait=1',
        "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:$P->{gcomm}[$i];"
            . "ist.recv_addr=127.0.0.1:$P->{ist}[$i];gcache.size=64M;"
            . 'evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S',
        '--wsrep-sst-method=tucai', "--wsrep-sst-receive-address=127.0.0.1:$P->{sst}[$i]");
    if ($o{recover}) {
        # after a crash the node does not know its position and would need
        # a full state transfer: recover it from InnoDB first (what
        # galera_recovery does for systemd), then rejoin by IST
        my $log = "$d/run/recover.err";
        unlink $log;
        system(join(' ', map { "'$_'" } @cmd, '--wsrep-recover', "--log-error=$log")
               . ' >/dev/null 2>&1');
        my ($pos) = (_slurp($log) =~ /Recovered position:\s*(\S+:-?\d+)/);
        push @cmd, "--wsrep-start-position=$pos" if $pos;
    }
    push @cmd, '--wsrep-new-cluster' if $o{bootstrap};
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$d/run/mysqld.out";
        open STDERR, '>&', \*STDOUT;
        setpgrp(0, 0);
        eval { syscall(157, 1, 15) };                   # die with the test
        $ENV{PATH} = "$Tucai::Test::ROOT/tools/galera:$ENV{PATH}";   # SST "tucai"
        exec @cmd or POSIX::_exit(127);
    }
    $self->{pids}{$i} = $pid;
    return $pid;
}

sub _slurp { open my $f, '<', $_[0] or return ''; local $/; scalar <$f> }

sub _mysql {
    my ($self, $i) = @_;
    return ('mariadb', '--no-defaults', '-S', $self->socket($i), '-u', scalar getpwuid($<),
            '--default-character-set=utf8mb4', '-N', '-B', '--connect-timeout=3');
}

# rows of a query on node i (undef when the node does not answer)
sub sql {
    my ($self, $i, $q, $db) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec($self->_mysql($i), ($db ? ($db) : ()), '-e', $q) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    return undef if $?;
    return [ map { [ split /\t/, $_, -1 ] } split /\n/, $out // '' ];
}

sub status {
    my ($self, $i, $var) = @_;
    my $r = $self->sql($i, "SHOW STATUS LIKE '$var'") or return undef;
    return @$r ? $r->[0][1] : undef;
}

sub cluster_size { $_[0]->status($_[1], 'wsrep_cluster_size') }

sub wait_synced {
    my ($self, $i, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < ($timeout // 60)) {
        my $pid = $self->{pids}{$i};
        return 0 if !$pid || waitpid($pid, WNOHANG) > 0;
        my $st = $self->status($i, 'wsrep_local_state_comment');
        return 1 if defined $st && $st eq 'Synced'
            && ($self->status($i, 'wsrep_ready') // '') eq 'ON';
        sleep 0.25;
    }
    return 0;
}

sub kill_node {
    my ($self, $i) = @_;
    my $pid = delete $self->{pids}{$i} or return;
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop_node {
    my ($self, $i) = @_;
    my $pid = delete $self->{pids}{$i} or return;
    kill 'TERM', $pid;
    my $t0 = time;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time - $t0 > 30) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.1;
    }
}

sub stop {
    my ($self) = @_;
    return if $self->{stopped} || $$ != $self->{owner};
    $self->{stopped} = 1;
    $self->stop_node($_) for reverse sort keys %{ $self->{pids} };
}

sub DESTROY { $_[0]->stop }

END { $_->stop for @LIVE; @LIVE = () }

1;
