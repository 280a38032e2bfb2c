package Tucai::Test;

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA ();
use Fcntl qw(:flock);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Test::More ();
use Time::HiRes qw(sleep time);

use Tucai::Proto;

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
my @LIVE;           # instances to stop and check in END
my $JSON = JSON::PP->new->utf8->canonical;

=head1 NAME

Tucai::Test - the tucai test harness: a private MariaDB, the WeChat
sandbox, the worker pool and nginx with our module, on free ports in a temp
dir; fails the test file on [alert]/[emerg] or sanitizer reports.

=head1 SYNOPSIS

    use lib 't/lib';
    use Test::More;
    use Tucai::Test;

    my $t = Tucai::Test->new(worker_children => 2);
    my $r = $t->get('/api/v1/health');
    is($r->{status}, 200);
    is($r->{json}{db}{ok}, JSON::PP::true);
    done_testing;

=head1 CONSTRUCTOR

    Tucai::Test->new(%opt)

Options (all optional):

    worker_children    children of the pool (default 2)
    asan               1: run build/asan/tucai-worker (ASan+UBSan; reports
                       go to files that fail the test file)
    sandbox            1 (default when tools/wechat-sandbox.py exists): start
                       the WeChat sandbox; 0: don't
    nginx              1 (default): start nginx when build/ngx_http_tucai_module.so
                       and conf/nginx.conf.tmpl exist; 0: pool only
    instances          1 or 2: a second nginx on the same pool and DB
    nginx_extra_http   text put at @NGINX_EXTRA_HTTP@ of conf/nginx.conf.tmpl
    nginx_extra_server text put at @NGINX_EXTRA_SERVER@
    worker_ini_extra   text appended to the rendered worker.ini
    pool               0: do not start the pool (start_pool later)
    db_socket          use this (running) MariaDB instead of starting one
                       (the cluster test: a Galera node)
    secrets_dir        use these secrets (another instance's) instead of
                       generating new ones: same token keys, same WeChat keys
    sandbox_url        use this (running) sandbox instead of starting one
    files_dir          photo storage shared with another instance
    ndk                0: nginx.conf without ngx_devel_kit's load_module
                       (the module must work without it)

Everything lives in a temp dir (kept when TUCAI_KEEP=1 is set; its path
is printed with diag then).  nginx's ports are chosen (and held) before
worker.ini is rendered: its [pay] notify_url names instance 1, so the
sandbox's payment notifications reach this harness without configuration.  Binaries come from $ENV{TUCAI_BUILD} or build/.

=head1 HTTP

    $t->get($path, %o)            $t->delete($path, %o)
    $t->post_json($path, $data_or_raw_string, %o)
    $t->post_multipart($path, [name => 'value', name => {file => $path
                        | data => $bytes, filename => 'a.jpg', type => 'image/jpeg'}], %o)
    $t->request($method, $path, %o)     # %o: token, headers {}, body,
                                        # content_type, instance (1|2)

All return {status, headers, content, json (decoded or undef)}.  Status 599
means the connection failed (HTTP::Tiny's convention).

=head1 PROCESSES AND STATE

    $t->sql("SELECT ...")           list of rows (arrayrefs), NULL -> undef
    $t->sql_one("SELECT ...")       first column of the first row
    $t->sql_do("UPDATE ...")        dies on error
    $t->admin_cli(@args)            (exit status, output) of tucai-worker admin
    $t->token($role, $subject, $school[, $ttl])   a signed session token
    $t->pool_request(op => N, ...)  one frame straight to the pool (Tucai::Proto)
    $t->proto                       a Tucai::Proto connection to pool socket 1
    $t->stop_pool / $t->start_pool / $t->reload_pool (HUP)
    $t->kill_child($signal)         kills one pool child, returns its pid
    $t->pool_pids                   pids of the current pool children (serving)
    $t->jobs_pid                    pid of the pool's jobs process (periodic work)
    $t->pool_master_pid
    $t->restart_db / $t->stop_db / $t->start_db
    $t->reload_nginx($instance)     HUP, waits until only new workers run
    $t->nginx_log($instance) / $t->pool_log / $t->nginx_access_log($instance)
    $t->sandbox_url / $t->sandbox_get($path) / $t->sandbox_post($path, $data)
    $t->files_dir / $t->root / $t->dir / $t->port($instance) / $t->url($path)
    $t->pool_socket(1|2) / $t->key_file / $t->worker_ini / $t->has_nginx
    $t->wait_for(sub { ... }, $timeout)   polls until true, returns the value
    $t->stop                        stops everything and returns the list of
                                    log problems found (also done in END)

In END, every instance is stopped; any "[alert]"/"[emerg]" in nginx error
logs, or "AddressSanitizer", "runtime error:", "LeakSanitizer" in any log,
makes the test file fail (exit status 1, with the lines as diagnostics).

=cut

# A free port, and the socket holding it: keep it open until the server
# that will listen there starts, so nothing else (another test file, a
# second instance) can be handed the same port meanwhile.
sub _hold_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "free port: $!\n";
    return ($s->sockport, $s);
}

sub _free_port { my ($p, $s) = _hold_port(); close $s; $p }

sub _run {
    my ($self, @cmd) = @_;
    my $out = qx{@{[ join ' ', map { _q($_) } @cmd ]} 2>&1};
    return ($? >> 8, $out);
}

sub _q { my $s = shift; $s =~ s/'/'\\''/g; "'$s'" }

sub _spawn {
    my ($self, $log, $env, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %{ $env || {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        setpgrp(0, 0);
        # die with the test (prctl PR_SET_PDEATHSIG, SIGTERM) so a killed
        # prove leaves no servers behind; x86-64 syscall number
        eval { syscall(157, 1, 15) } if $^O eq 'linux';
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

sub new {
    my ($class, %opt) = @_;
    my $self = bless {
        opt => \%opt, owner => $$,
        children => $opt{worker_children} // 2,
        instances => $opt{instances} // 1,
    }, $class;
    $self->{build} = $ENV{TUCAI_BUILD} || "$ROOT/build";
    # short path: Unix socket paths are limited to 108 bytes
    $self->{dir} = tempdir('/tmp/tucai-t-XXXXXX', CLEANUP => !$ENV{TUCAI_KEEP});
    Test::More::diag("harness dir: $self->{dir}") if $ENV{TUCAI_KEEP};
    my $d = $self->{dir};
    make_path("$d/run", "$d/conf", "$d/files", "$d/asan", "$d/nginx/logs",
              "$d/nginx/tmp", "$d/nginx2/logs", "$d/nginx2/tmp");
    chmod 0755, $d, "$d/run", "$d/files";
    push @LIVE, $self;

    $self->{worker} = $opt{asan} ? "$self->{build}/asan/tucai-worker"
                                 : "$self->{build}/tucai-worker";
    die "no $self->{worker}: run make" . ($opt{asan} ? ' asan' : '') . "\n"
        unless -x $self->{worker};

    $self->_start_db_fresh unless $opt{db_socket};
    my ($rc, $out);
    if ($opt{secrets_dir}) {
        # another instance's secrets: its database user already has them
        symlink($opt{secrets_dir}, "$d/secrets") or die "secrets: $!";
    } else {
        ($rc, $out) = $self->_run("$ROOT/tools/gen-secrets.sh", "$d/secrets");
        die "gen-secrets: $out" if $rc;
        # the template's user gets this install's random password
        ($rc, $out) = $self->_run("$ROOT/tools/mariadb.sh", 'setup', dirname($self->db_socket),
                                  'tucai', 'tucai', _slurp("$d/secrets/db_password") =~ s/\s+$//r);
        die "db password: $out" if $rc;
    }

    my $want_sb = $opt{sandbox} // 1;
    if ($opt{sandbox_url}) {
        $self->{sandbox_url} = $opt{sandbox_url};
    } elsif ($want_sb && -f "$ROOT/tools/wechat-sandbox.py") {
        $self->_start_sandbox;
    }
    $self->{sandbox_url} //= 'http://127.0.0.1:9';   # nothing listens

    # nginx's ports first: worker.ini's pay notify_url names instance 1
    ($self->{port}[$_], $self->{port_hold}[$_]) = _hold_port() for 1 .. $self->{instances};
    $self->_render_worker_ini;
    $self->start_pool unless defined $opt{pool} && !$opt{pool};

    my $want_nginx = $opt{nginx} // 1;
    $self->{has_nginx} = $want_nginx && -f "$self->{build}/ngx_http_tucai_module.so"
        && -f "$ROOT/conf/nginx.conf.tmpl";
    if ($self->{has_nginx}) {
        $self->_start_nginx($_) for 1 .. $self->{instances};
    }
    return $self;
}

# ---- MariaDB ----

sub _template {
    my ($self) = @_;
    # keyed by what makes the datadir: the server version and mariadb.sh
    my $ver = qx{mariadbd --version 2>/dev/null} . _slurp("$ROOT/tools/mariadb.sh");
    my $key = substr(Digest::SHA::sha1_hex($ver), 0, 12);
    my $tpl = "$self->{build}/mariadb-template-$key.tar";
    make_path($self->{build});
    open my $lk, '>', "$self->{build}/mariadb-template.lock" or die "lock: $!";
    flock($lk, LOCK_EX);
    unless (-s $tpl) {
        my ($rc, $out) = $self->_run("$ROOT/tools/mariadb.sh", 'template', $tpl);
        die "mariadb template: $out" if $rc;
    }
    close $lk;
    return $tpl;
}

sub _start_db_fresh {
    my ($self) = @_;
    my $tpl = $self->_template;
    make_path("$self->{dir}/db");
    my ($rc, $out) = $self->_run('tar', '-C', "$self->{dir}/db", '-xf', $tpl);
    die "extract template: $out" if $rc;
    $self->start_db;
}

# in a directory of its own, 0700 (tools/mariadb.sh): mariadbd makes its
# socket 0777
sub db_socket { $_[0]{opt}{db_socket} // "$_[0]{dir}/run/db/mysqld.sock" }

sub start_db {
    my ($self) = @_;
    # our own child (not a daemon): it dies with the test, and is reaped
    my $run = "$self->{dir}/run/db";
    $self->{db_pid} = $self->_spawn("$self->{dir}/run/mysqld.out", {}, "$ROOT/tools/mariadb.sh", 'run',
                                    "$self->{dir}/db", $run);
    my $ok = $self->wait_for(sub {
        return -1 if waitpid($self->{db_pid}, WNOHANG) > 0;
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $self->db_socket);
        return $s ? 1 : 0;
    }, 30);
    if (!$ok || $ok == -1) {
        delete $self->{db_pid};
        die "mariadb did not start:\n" . _tail(_slurp("$run/mysqld.err"), 20);
    }
    $self->{db_up} = 1;
}

sub stop_db {
    my ($self) = @_;
    my $pid = delete $self->{db_pid};
    $self->{db_up} = 0;
    return unless $pid;
    kill 'TERM', $pid;
    my $t0 = time;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time - $t0 > 30) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.05;
    }
}

sub restart_db { my $s = shift; $s->stop_db; $s->start_db }

sub _mysql_cmd {
    my ($self) = @_;
    return ('mariadb', '--no-defaults', '-S', $self->db_socket, '-u', scalar getpwuid($<),
            '--default-character-set=utf8mb4', '-N', '-B', 'tucai');
}

sub _unescape {
    my $v = shift;
    return undef if $v eq 'NULL';
    $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 't' ? "\t" : $1 eq '0' ? "\0" : $1/ge;
    return $v;
}

sub sql {
    my ($self, $q) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        exec($self->_mysql_cmd, '-e', $q) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    die "sql failed ($q): $out" if $?;
    my @rows;
    for my $line (split /\n/, $out // '') {
        push @rows, [ map { _unescape($_) } split /\t/, $line, -1 ];
    }
    return wantarray ? @rows : \@rows;
}

sub sql_one { my @r = $_[0]->sql($_[1]); @r ? $r[0][0] : undef }
sub sql_do  { $_[0]->sql($_[1]); 1 }

# ---- sandbox ----

sub _start_sandbox {
    my ($self) = @_;
    my $port = _free_port();
    $self->{sandbox_pid} = $self->_spawn("$self->{dir}/run/sandbox.log", {},
        '/usr/bin/python3', "$ROOT/tools/wechat-sandbox.py", '--port', $port,
        '--keys', "$self->{dir}/secrets", '--state', "$self->{dir}/run/sandbox.state");
    $self->{sandbox_url} = "http://127.0.0.1:$port";
    $self->wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") }, 10)
        or die "sandbox did not start: " . _slurp("$self->{dir}/run/sandbox.log");
}

sub sandbox_url { $_[0]{sandbox_url} }

sub sandbox_get {
    my ($self, $path) = @_;
    return _wrap(HTTP::Tiny->new(timeout => 10)->get($self->{sandbox_url} . $path));
}

sub sandbox_post {
    my ($self, $path, $data) = @_;
    my $body = ref $data ? $JSON->encode($data) : ($data // '{}');
    return _wrap(HTTP::Tiny->new(timeout => 30)->post($self->{sandbox_url} . $path,
        { content => $body, headers => { 'Content-Type' => 'application/json' } }));
}

# ---- pool ----

sub worker_ini  { "$_[0]{dir}/conf/worker.ini" }
sub pool_socket { "$_[0]{dir}/run/pool" . ($_[1] // 1) . ".sock" }
sub key_file    { "$_[0]{dir}/secrets/token_keys" }
sub files_dir   { $_[0]{opt}{files_dir} // "$_[0]{dir}/files" }
sub root        { $ROOT }
sub dir         { $_[0]{dir} }
sub has_nginx   { $_[0]{has_nginx} }

# the group nginx's workers run as (nginx.conf.tmpl sets no `user`): the
# pool sockets' group, the only peers the pool accepts besides its own uid
sub nginx_group { $< == 0 ? 'nogroup' : scalar getgrgid($( + 0) }

sub _render_worker_ini {
    my ($self) = @_;
    my $d = $self->{dir};
    my ($rc, $out) = $self->_run("$ROOT/tools/render-conf", "$ROOT/conf/worker.ini.tmpl",
        $self->worker_ini, "POOL_SOCK1=" . $self->pool_socket(1),
        "POOL_SOCK2=" . $self->pool_socket(2), "RUN_DIR=$d/run",
        "DB_SOCKET=" . $self->db_socket, "FILES_DIR=" . $self->files_dir,
        "KEY_FILE=" . $self->key_file, "SECRETS_DIR=$d/secrets",
        "SANDBOX_URL=$self->{sandbox_url}", "ROOT=$ROOT",
        "CHILDREN=$self->{children}", "NGINX_URL=http://127.0.0.1:$self->{port}[1]",
        "POOL_GROUP=" . nginx_group());
    die "render worker.ini: $out" if $rc;
    if (my $x = $self->{opt}{worker_ini_extra}) {
        open my $f, '>>', $self->worker_ini or die;
        print $f "\n$x\n";
        close $f;
    }
}

sub _worker_env {
    my ($self) = @_;
    return {} unless $self->{opt}{asan};
    my $a = "$self->{dir}/asan";
    return {
        ASAN_OPTIONS => "log_path=$a/asan:detect_leaks=1:abort_on_error=0:exitcode=66",
        UBSAN_OPTIONS => "log_path=$a/ubsan:print_stacktrace=1:halt_on_error=1",
        LSAN_OPTIONS => "log_path=$a/lsan",
    };
}

sub start_pool {
    my ($self) = @_;
    return if $self->{pool_pid};
    $self->{pool_pid} = $self->_spawn("$self->{dir}/run/pool.stderr", $self->_worker_env,
        $self->{worker}, '-c', $self->worker_ini, '--foreground');
    my $ok = $self->wait_for(sub {
        return -1 if waitpid($self->{pool_pid}, WNOHANG) > 0;
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $self->pool_socket(1));
        return 0 unless $s;
        close $s;
        my @p = $self->pool_pids;
        return @p >= $self->{children} ? 1 : 0;
    }, 30);
    if (!$ok || $ok == -1) {
        my $pid = delete $self->{pool_pid};
        kill 'KILL', $pid;
        waitpid($pid, 0);
        die "pool did not start:\n" . _slurp("$self->{dir}/run/pool.stderr")
            . _tail(_slurp("$self->{dir}/run/tucai-worker.log"), 20);
    }
}

sub stop_pool {
    my ($self) = @_;
    my $pid = delete $self->{pool_pid} or return;
    kill 'TERM', $pid;
    my $t0 = time;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time - $t0 > 40) { kill 'KILL', -$pid; kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.05;
    }
    $self->{pool_status} = $?;
}

sub reload_pool {
    my ($self) = @_;
    my @old = $self->pool_pids;
    kill 'HUP', $self->{pool_pid};
    $self->wait_for(sub {
        my %now = map { $_ => 1 } $self->pool_pids;
        return !grep({ $now{$_} } @old) && keys(%now) >= $self->{children};
    }, 30);
}

sub pool_master_pid { $_[0]{pool_pid} }

# The pool's serving children (not the jobs process: jobs_pid).
sub pool_pids {
    my ($self) = @_;
    my @s = sort { $a <=> $b } map { $_->[0] } grep { $_->[1] ne 'tucai-jobs' } $self->_pool_kids;
    return @s;
}

# The pool's jobs process (periodic work; it takes no connection), or undef.
sub jobs_pid {
    my ($self) = @_;
    my ($j) = grep { $_->[1] eq 'tucai-jobs' } $self->_pool_kids;
    return $j ? $j->[0] : undef;
}

sub _pool_kids {
    my ($self) = @_;
    my $m = $self->{pool_pid} or return;
    my @kids;
    for my $st (glob '/proc/[0-9]*/stat') {
        open my $f, '<', $st or next;
        my $l = <$f> // next;
        close $f;
        # pid (comm) state ppid: comm may hold spaces, so anchor on the last ')'
        my ($pid, $comm, $state, $ppid) = $l =~ /^(\d+) \((.*)\) (\S) (\d+)/ or next;
        push @kids, [$pid, $comm] if $ppid == $m && $state ne 'Z';
    }
    return @kids;
}

sub kill_child {
    my ($self, $sig) = @_;
    $sig //= 'KILL';
    $sig =~ s/^-//;
    my ($pid) = $self->pool_pids or return undef;
    kill $sig, $pid;
    return $pid;
}

sub proto {
    my ($self, $n) = @_;
    return Tucai::Proto->connect($self->pool_socket($n // 1));
}

sub pool_request {
    my ($self, %f) = @_;
    my $c = $self->proto;
    my $r = $c->request(%f);
    $c->close;
    if ($r) {
        $r->{json} = eval { $JSON->decode($r->{body}) } if length $r->{body};
    }
    return $r;
}

sub admin_cli {
    my ($self, @args) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        my $env = $self->_worker_env;
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDERR, '>&', \*STDOUT;
        exec($self->{worker}, '-c', $self->worker_ini, 'admin', @args) or POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return wantarray ? ($? >> 8, $out) : $? >> 8;
}

sub token {
    my ($self, $role, $subject, $school, $ttl) = @_;
    my @cmd = ($self->{worker}, '-c', $self->worker_ini, 'token', $role, $subject,
               $school // 0, defined $ttl ? ($ttl) : ());
    my ($rc, $out) = $self->_run(@cmd);
    die "token: $out" if $rc;
    chomp $out;
    return $out;
}

# ---- nginx ----

sub port { $_[0]{port}[($_[1] // 1)] }

sub url {
    my ($self, $path, $inst) = @_;
    return 'http://127.0.0.1:' . $self->port($inst) . $path;
}

sub _nginx_prefix { $_[0]{dir} . (($_[1] // 1) == 1 ? '/nginx' : '/nginx2') }

sub _start_nginx {
    my ($self, $i) = @_;
    my $p = $self->_nginx_prefix($i);
    my $port = $self->{port}[$i] //= _free_port();
    close(delete $self->{port_hold}[$i]) if $self->{port_hold}[$i];
    my $o = $self->{opt};
    my ($rc, $out) = $self->_run("$ROOT/tools/render-conf", "$ROOT/conf/nginx.conf.tmpl",
        "$p/nginx.conf", "ROOT=$ROOT", "BUILD=$self->{build}",
        "MODULE_SO=$self->{build}/ngx_http_tucai_module.so", "PREFIX=$p",
        "RUN_DIR=$self->{dir}/run", "PORT=$port", "LISTEN=127.0.0.1:$port",
        "POOL_SOCK1=" . $self->pool_socket(1), "POOL_SOCK2=" . $self->pool_socket(2),
        "KEY_FILE=" . $self->key_file, "FILES_DIR=" . $self->files_dir,
        "ERROR_LOG=$p/logs/error.log", "ACCESS_LOG=$p/logs/access.log",
        "PID_FILE=$p/nginx.pid", "TMP_DIR=$p/tmp", "WWW_DIR=$ROOT/www",
        "NGINX_EXTRA_HTTP=" . ($o->{nginx_extra_http} // ''),
        "NGINX_EXTRA_SERVER=" . ($o->{nginx_extra_server} // ''),
        "EXTRA_HTTP=" . ($o->{nginx_extra_http} // ''),
        "EXTRA_SERVER=" . ($o->{nginx_extra_server} // ''));
    die "render nginx.conf: $out" if $rc;
    if (defined $o->{ndk} && !$o->{ndk}) {
        my $c = _slurp("$p/nginx.conf");
        $c =~ s{^load_module \S*ndk_http_module\.so;\n}{}m or die "no ndk load_module";
        open my $f, '>', "$p/nginx.conf" or die "$p/nginx.conf: $!";
        print $f $c;
        close $f;
    }
    $self->{nginx_pid}[$i] = $self->_spawn("$p/logs/stderr.log", {},
        '/usr/sbin/nginx', '-p', "$p/", '-c', "$p/nginx.conf",
        '-g', "daemon off; pid $p/nginx.pid; error_log $p/logs/error.log info;");
    my $ok = $self->wait_for(sub {
        return -1 if waitpid($self->{nginx_pid}[$i], WNOHANG) > 0;
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") ? 1 : 0;
    }, 15);
    if (!$ok || $ok == -1) {
        die "nginx did not start:\n" . _slurp("$p/logs/stderr.log")
            . _tail(_slurp("$p/logs/error.log"), 20);
    }
}

sub _nginx_workers {
    my ($self, $i) = @_;
    my $m = $self->{nginx_pid}[$i] or return;
    my @w;
    for my $st (glob '/proc/[0-9]*/stat') {
        open my $f, '<', $st or next;
        my $l = <$f> // next;
        my ($pid, $state, $ppid) = $l =~ /^(\d+) \(.*\) (\S) (\d+)/ or next;
        push @w, $pid if $ppid == $m && $state ne 'Z';
    }
    return @w;
}

sub reload_nginx {
    my ($self, $i) = @_;
    $i //= 1;
    my @old = $self->_nginx_workers($i);
    kill 'HUP', $self->{nginx_pid}[$i];
    # done when new workers run and the old ones are gone: an old worker
    # that has not yet seen its QUIT may still accept a connection
    $self->wait_for(sub {
        my %old = map { $_ => 1 } @old;
        my @now = $self->_nginx_workers($i);
        return (@now && !grep { $old{$_} } @now) ? 1 : 0;
    }, 15);
}

sub stop_nginx {
    my ($self, $i) = @_;
    my $pid = $self->{nginx_pid}[$i // 1] or return;
    kill 'QUIT', $pid;
    my $t0 = time;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time - $t0 > 15) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.05;
    }
    $self->{nginx_pid}[$i // 1] = undef;
}

sub nginx_log        { _slurp($_[0]->_nginx_prefix($_[1]) . '/logs/error.log') }
sub nginx_access_log { _slurp($_[0]->_nginx_prefix($_[1]) . '/logs/access.log') }
sub pool_log         { _slurp("$_[0]{dir}/run/tucai-worker.log") . _slurp("$_[0]{dir}/run/pool.stderr") }

# ---- HTTP ----

sub _wrap {
    my ($res) = @_;
    my %r = (status => $res->{status}, headers => $res->{headers} || {},
             content => $res->{content} // '');
    $r{json} = eval { $JSON->decode($r{content}) } if length $r{content};
    return \%r;
}

sub request {
    my ($self, $method, $path, %o) = @_;
    die "no nginx in this harness (module or conf/nginx.conf.tmpl missing)\n"
        unless $self->{has_nginx};
    my %h = %{ $o{headers} || {} };
    $h{Authorization} = "Bearer $o{token}" if defined $o{token};
    $h{'Content-Type'} = $o{content_type} if defined $o{content_type};
    my %args = (headers => \%h);
    $args{content} = $o{body} if defined $o{body};
    my $http = HTTP::Tiny->new(timeout => $o{timeout} // 30, keep_alive => 0);
    return _wrap($http->request($method, $self->url($path, $o{instance}), \%args));
}

sub get    { my ($s, $p, %o) = @_; $s->request('GET', $p, %o) }
sub delete { my ($s, $p, %o) = @_; $s->request('DELETE', $p, %o) }

sub post_json {
    my ($self, $path, $data, %o) = @_;
    my $body = ref $data ? $JSON->encode($data) : ($data // '');
    return $self->request('POST', $path, content_type => 'application/json', %o,
                          body => $body);
}

sub post_multipart {
    my ($self, $path, $fields, %o) = @_;
    my $b = 'tucaiboundary' . int(rand(1e9));
    my $body = '';
    my @f = @$fields;
    while (my ($name, $v) = splice @f, 0, 2) {
        $body .= "--$b\r\n";
        if (ref $v) {
            my $data = defined $v->{data} ? $v->{data} : _slurp($v->{file}, 1);
            my $fn = $v->{filename} // 'upload.jpg';
            $body .= "Content-Disposition: form-data; name=\"$name\"; filename=\"$fn\"\r\n"
                   . "Content-Type: " . ($v->{type} // 'application/octet-stream')
                   . "\r\n\r\n$data\r\n";
        } else {
            $body .= "Content-Disposition: form-data; name=\"$name\"\r\n\r\n$v\r\n";
        }
    }
    $body .= "--$b--\r\n";
    return $self->request('POST', $path, content_type => "multipart/form-data; boundary=$b",
                          %o, body => $body);
}

# ---- utilities ----

sub wait_for {
    my ($self, $cb, $timeout) = @_;
    my $t0 = time;
    while (1) {
        my $v = $cb->();
        return $v if $v;
        return 0 if time - $t0 > ($timeout // 10);
        sleep 0.05;
    }
}

sub _slurp {
    my ($f, $bin) = @_;
    open my $fh, '<', $f or return '';
    binmode $fh if $bin;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

sub _tail { my ($s, $n) = @_; my @l = split /\n/, $s; join("\n", @l > $n ? @l[-$n..-1] : @l) . "\n" }

sub check_logs {
    my ($self) = @_;
    my @bad;
    my $d = $self->{dir};
    for my $i (1, 2) {
        my $p = $self->_nginx_prefix($i);
        for my $f ("$p/logs/error.log", "$p/logs/stderr.log") {
            for (split /\n/, _slurp($f)) {
                push @bad, "$f: $_" if /\[(alert|emerg)\]/
                    || /AddressSanitizer|runtime error:|LeakSanitizer/;
            }
        }
    }
    for my $f ("$d/run/tucai-worker.log", "$d/run/pool.stderr", glob("$d/asan/*")) {
        for (split /\n/, _slurp($f)) {
            push @bad, "$f: $_" if /AddressSanitizer|runtime error:|LeakSanitizer|ERROR: .*Sanitizer/;
        }
    }
    return @bad;
}

sub stop {
    my ($self) = @_;
    return @{ $self->{problems} } if $self->{stopped};
    return () unless $$ == $self->{owner};
    $self->{stopped} = 1;
    for my $i (1, 2) { $self->stop_nginx($i) if $self->{nginx_pid}[$i] }
    $self->stop_pool;
    if (my $pid = delete $self->{sandbox_pid}) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
    $self->stop_db if $self->{db_up};
    $self->{problems} = [ $self->check_logs ];
    return @{ $self->{problems} };
}

sub DESTROY { my $s = shift; $s->stop if !$s->{stopped} && $$ == ($s->{owner} // 0) }

END {
    my $status = $?;
    my @bad;
    for my $t (@LIVE) {
        next unless $$ == $t->{owner};
        push @bad, $t->stop;
    }
    if (@bad) {
        Test::More::diag("log problems:\n" . join("\n", @bad[0 .. ($#bad > 40 ? 40 : $#bad)]));
        $status ||= 1;
    }
    @LIVE = ();
    $? = $status;
}

1;
