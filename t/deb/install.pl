# The Debian packages on this machine (`make test-deb`, as root; the
# machine is disposable but is left as it was found): install, nginx -t
# with the system configuration, the worker as its unit's user from the
# unit's ExecStart, /api/v1/health and a student journey step through
# /usr/sbin/nginx with the example site, an upgrade to a rebuilt package
# that keeps the data and the conffile, purge.  /etc/nginx is compared
# file by file with its state before the test and restored if it differs.
#
# No systemd runs here: the unit's User=, Group=, UMask= and ExecStart= are
# read from the installed unit file and applied with setpriv; its sandboxing
# (ProtectSystem=...) is not, systemd-analyze verify checks the unit.
# The example site is served by the system nginx binary with the system's
# modules-enabled/ and mime.types but not its default site (port 80 on
# every interface): a small top-level conf includes those and the site.
use strict;
use warnings;
use lib 't/lib';
use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

my $ROOT = abs_path('.');
my $DEB  = $ENV{TUCAI_DEB_DIR} // "$ROOT/build/deb";
my $JSON = JSON::PP->new->utf8->canonical;
my $PKGS = 'tucai-worker libnginx-mod-http-tucai';

die "missing prerequisite: needs root (make test-deb)\n" if $> != 0;
my ($mod_deb) = glob "$DEB/libnginx-mod-http-tucai_*_*.deb";
my ($wrk_deb) = glob "$DEB/tucai-worker_*_*.deb";
ok($mod_deb && $wrk_deb, "packages built in $DEB (make deb)") or BAIL_OUT('make deb first');

# ---- the state we must leave -------------------------------------------
for my $p (split ' ', $PKGS) {
    my $st = qx{dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null};
    BAIL_OUT("$p is already installed ($st): not touching it") if $st =~ /^[ihr][iFUWt]/;
}
BAIL_OUT('/var/lib/tucai exists: not touching it') if -e '/var/lib/tucai';
BAIL_OUT('/etc/tucai exists: not touching it') if -e '/etc/tucai';
my $had_user = getpwnam('_tucai') ? 1 : 0;

sub tree_state {
    my ($top) = @_;
    my %s;
    for my $f (split /\n/, qx{find $top -printf '%p\t%y\t%m\t%u\t%g\t%l\n' 2>/dev/null}) {
        my ($p, $type, @rest) = split /\t/, $f, -1;
        my $sum = '';
        if ($type eq 'f') {
            open my $fh, '<:raw', $p or die "$p: $!";
            local $/;
            $sum = sha256_hex(<$fh> // '');
        }
        $s{$p} = join ' ', $type, @rest, $sum;
    }
    return \%s;
}
my $nginx_before = tree_state('/etc/nginx');
my $dir = tempdir('/tmp/tucai-t-deb-XXXXXX', CLEANUP => 0);
chmod 0755, $dir;               # _tucai reaches the test database's socket
system('tar', '-C', '/etc', '-cpf', "$dir/etc-nginx.tar", 'nginx') == 0 or die 'backup /etc/nginx';

my (@kill, $worker_pid, $nginx_pid, $sandbox_pid);
my $db_run = "$dir/db-run";

sub sh {
    my ($cmd) = @_;
    my $out = qx{$cmd 2>&1};
    return ($? >> 8, $out);
}
sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; <$fh> }
sub spit { my ($f, $t) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $t; close $fh or die }
sub free_port { my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 1) or die; my $p = $s->sockport; close $s; $p }
sub wait_for {
    my ($cb, $timeout) = @_;
    my $t0 = time;
    while (time - $t0 < $timeout) { my $v = $cb->(); return $v if $v; sleep 0.05 }
    return undef;
}
sub spawn {
    my ($log, $user_cmd, @cmd) = @_;
    my $pid = fork // die;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log; open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}
sub stop_pid {
    my ($pid, $sig) = @_;
    return unless $pid && kill 0, $pid;
    kill $sig // 'TERM', $pid;
    my $t0 = time;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time - $t0 > 40) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.05;
    }
}

# everything we started, and the system as it was, whatever happened;
# returns the paths of /etc/nginx that differed (then restored)
my $cleaned;
sub cleanup {
    return () if $cleaned++;
    stop_pid($nginx_pid, 'QUIT');
    stop_pid($worker_pid);
    stop_pid($sandbox_pid);
    system("bash '$ROOT/tools/mariadb.sh' stop '$db_run' >/dev/null 2>&1") if -d $db_run;
    for my $p (split ' ', $PKGS) {
        system("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $p >/dev/null 2>&1")
            if qx{dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null} =~ /^[ihrcU]/;
    }
    unlink '/etc/nginx/sites-enabled/tucai', '/etc/nginx/sites-available/tucai';
    system('rm', '-rf', '/var/lib/tucai', '/etc/tucai', '/run/tucai');
    system('userdel', '_tucai') if !$had_user && getpwnam('_tucai');
    system('groupdel', '_tucai') if !$had_user && getgrnam('_tucai');
    my $after = tree_state('/etc/nginx');
    my @diff = grep { ($nginx_before->{$_} // '') ne ($after->{$_} // '') }
               keys %{ { %$nginx_before, %$after } };
    if (@diff) {
        diag("/etc/nginx differs (@diff): restoring it from the backup");
        system('rm', '-rf', '/etc/nginx');
        system('tar', '-C', '/etc', '-xpf', "$dir/etc-nginx.tar");
    }
    system('rm', '-rf', $dir) unless $ENV{TUCAI_KEEP};
    return sort @diff;
}
END { cleanup() }
$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 1 };

my $apt = 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends';

# ---- install --------------------------------------------------------------
my ($rc, $out) = sh("$apt '$mod_deb' '$wrk_deb'");
is($rc, 0, 'apt install ./libnginx-mod-http-tucai_*.deb ./tucai-worker_*.deb') or diag $out;

# libnginx-mod-http-tucai, the way Debian's module packages are
ok(-f '/usr/lib/nginx/modules/ngx_http_tucai_module.so', 'module in /usr/lib/nginx/modules');
is(slurp('/usr/share/nginx/modules-available/mod-http-tucai.conf'),
   "load_module modules/ngx_http_tucai_module.so;\n", 'modules-available: its load_module line');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-tucai.conf'),
   '/usr/share/nginx/modules-available/mod-http-tucai.conf', 'enabled by modules-enabled/50-mod-http-tucai.conf');
my $abi = qx{dpkg-query -W -f='\${Provides}' nginx};
my ($nginx_abi) = $abi =~ /(nginx-abi-[\w.~+-]+)/;
like(qx{dpkg-query -W -f='\${Depends}' libnginx-mod-http-tucai}, qr/\Q$nginx_abi\E/,
     "depends on the installed nginx's ABI ($nginx_abi)");
like(qx{dpkg-query -W -f='\${Depends}' libnginx-mod-http-ndk}, qr/\Q$nginx_abi\E/,
     'as Debian\'s own libnginx-mod-http-ndk does');

# tucai-worker
ok(-x '/usr/sbin/tucai-worker' && -x '/usr/bin/tucai-check', 'tucai-worker, tucai-check');
ok(-f '/usr/share/tucai/sql/001_init.sql', 'migrations');
ok(-f '/usr/share/man/man8/tucai-worker.8.gz' && -f '/usr/share/man/man1/tucai-check.1.gz'
    && -f '/usr/share/doc/tucai-worker/README.md.gz', 'manual pages and the README');
ok(-f '/usr/share/tucai/www/admin/index.html' && -f '/usr/share/tucai/www/h5/index.html', 'console and H5 files');
ok(-f '/usr/share/doc/tucai-worker/examples/nginx-site.conf', 'example nginx site in /usr/share/doc');
like(qx{dpkg-query -W -f='\${Conffiles}' tucai-worker}, qr{^ /etc/tucai/worker\.ini [0-9a-f]{32}$}m,
     '/etc/tucai/worker.ini is a conffile');
my @pw = getpwnam('_tucai');
ok(@pw, 'system user _tucai (sysusers.d)');
is($pw[7], '/var/lib/tucai', '_tucai home /var/lib/tucai');
ok($pw[2] < 1000, '_tucai is a system uid');
like((getgrnam('www-data'))[3] // '', qr/\b_tucai\b/, '_tucai is in www-data (hands its sockets to nginx)');
sub mode_owner { my @s = stat $_[0] or return ''; sprintf '%04o %s:%s', $s[2] & 07777, scalar getpwuid($s[4]), scalar getgrgid($s[5]) }
is(mode_owner('/run/tucai'), '0750 _tucai:www-data', '/run/tucai (tmpfiles.d)');
is(mode_owner('/var/lib/tucai'), '0750 _tucai:www-data', '/var/lib/tucai (tmpfiles.d)');
is(mode_owner('/etc/tucai/secrets'), '0750 _tucai:www-data', 'secrets directory');
is(mode_owner('/etc/tucai/secrets/token_keys'), '0640 _tucai:www-data', 'token_keys: nginx may read it');
like(mode_owner('/etc/tucai/secrets/db_password'), qr/^0600 _tucai:/, 'db_password: 0600, the pool only');
like(slurp('/etc/tucai/secrets/token_keys'), qr/^k1 [0-9a-f]{64}$/m, 'token key generated');
my %secret_sum = map { $_ => sha256_hex(slurp($_)) } glob '/etc/tucai/secrets/*';

my $unit = slurp('/lib/systemd/system/tucai-worker.service') // '';
($rc, $out) = sh('systemd-analyze verify --man=no /lib/systemd/system/tucai-worker.service');
is($rc, 0, 'systemd-analyze verify: the installed unit') or diag $out;
like($unit, qr/^ExecReload=.*-HUP \$MAINPID$/m, 'ExecReload sends HUP');
like($unit, qr/^$_$/m, "unit hardening: $_") for qw(ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes);

# ---- nginx -t with the system configuration, the example site enabled ---
my $port = free_port();
my $site = slurp('/usr/share/doc/tucai-worker/examples/nginx-site.conf');
$site =~ s/^(\s*)listen 80;/$1listen 127.0.0.1:$port;/m or die 'no listen 80 in the example site';
spit('/etc/nginx/sites-available/tucai', $site);
symlink('../sites-available/tucai', '/etc/nginx/sites-enabled/tucai') or die;
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t with the system configuration and the example site') or diag $out;

# ---- a database, the WeChat sandbox, worker.ini pointed at them ----------
($rc, $out) = sh("bash '$ROOT/tools/mariadb.sh' init '$dir/db' && bash '$ROOT/tools/mariadb.sh' start '$dir/db' '$db_run'");
is($rc, 0, 'a private MariaDB') or BAIL_OUT($out);
chmod 0755, $db_run;
chmod 0666, "$db_run/mysqld.sock";
my $dbpw = slurp('/etc/tucai/secrets/db_password');
chomp $dbpw;
($rc, $out) = sh("bash '$ROOT/tools/mariadb.sh' setup '$db_run' tucai tucai '$dbpw'");
is($rc, 0, 'database tucai, user tucai with the generated password (README.Debian)') or diag $out;
sub sql {
    my ($q) = @_;
    my $r = qx{mariadb --no-defaults -S '$db_run/mysqld.sock' -u root -N -B tucai -e "$q" 2>&1};
    chomp $r;
    return $r;
}

my $sport = free_port();
$sandbox_pid = spawn("$dir/sandbox.log", undef, '/usr/bin/python3', "$ROOT/tools/wechat-sandbox.py",
    '--port', $sport, '--keys', '/etc/tucai/secrets', '--state', "$dir/sandbox.state");
ok(wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$sport") }, 15), 'WeChat sandbox') or diag slurp("$dir/sandbox.log");

# the operator's edits of the conffile (kept across the upgrade below)
my $ini = slurp('/etc/tucai/worker.ini');
$ini =~ s{^socket = /run/mysqld/mysqld.sock$}{socket = $db_run/mysqld.sock}m or die;
$ini =~ s{^api_base = https://api.weixin.qq.com$}{api_base = http://127.0.0.1:$sport}m or die;
$ini =~ s{^api_base = https://api.mch.weixin.qq.com$}{api_base = http://127.0.0.1:$sport}m or die;
$ini =~ s{^children = 4$}{children = 2}m or die;
$ini .= "; edited by t/deb/install.t\n";
spit('/etc/tucai/worker.ini', $ini);
my $ini_sum = sha256_hex($ini);

# ---- the worker, as the unit runs it ----------------------------------------
my ($user) = $unit =~ /^User=(\S+)$/m;
my ($group) = $unit =~ /^Group=(\S+)$/m;
my ($umask) = $unit =~ /^UMask=(\d+)$/m;
my ($exec) = $unit =~ /^ExecStart=(.+)$/m;
is($user, '_tucai', 'unit User=_tucai');
sub start_worker {
    my @argv = split ' ', $exec;
    $worker_pid = spawn("$dir/worker.log", undef, 'bash', '-c',
        sprintf('umask %s; cd /; exec setpriv --reuid=%s --regid=%s --init-groups -- "$@"',
                $umask // '0022', $user, $group), 'unit', @argv);
    return wait_for(sub {
        return -1 if waitpid($worker_pid, WNOHANG) > 0;
        -S '/run/tucai/pool1.sock' && -S '/run/tucai/pool2.sock' ? 1 : 0;
    }, 30);
}
is(start_worker(), 1, "worker started from ExecStart ($exec) as $user") or diag slurp("$dir/worker.log");
my @st = stat '/proc/' . $worker_pid;
is(scalar getpwuid($st[4] // 0), '_tucai', 'the pool runs as _tucai');
is(mode_owner('/run/tucai/pool1.sock') =~ s/^\d+ //r, '_tucai:www-data', 'its sockets are in www-data');

# ---- /usr/sbin/nginx: the system's modules and mime types, the example site
my $ngx = "$dir/nginx";
mkdir $ngx;
spit("$ngx/nginx.conf", <<"EOF");
user www-data;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log info;
include /etc/nginx/modules-enabled/*.conf;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $ngx/access.log;
    client_body_temp_path $ngx/body;
    proxy_temp_path $ngx/proxy;
    fastcgi_temp_path $ngx/fastcgi;
    uwsgi_temp_path $ngx/uwsgi;
    scgi_temp_path $ngx/scgi;
    include /etc/nginx/sites-enabled/tucai;
}
EOF
$nginx_pid = spawn("$ngx/stderr.log", undef, '/usr/sbin/nginx', '-c', "$ngx/nginx.conf", '-g', 'daemon off;');
ok(wait_for(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") }, 15), 'nginx serves the example site')
    or diag slurp("$ngx/stderr.log") . (slurp("$ngx/error.log") // '');

my $http = HTTP::Tiny->new(timeout => 30);
sub req {
    my ($m, $path, $body, $tok) = @_;
    my %h = (headers => { $tok ? (Authorization => "Bearer $tok") : (),
                          defined $body ? ('Content-Type' => 'application/json') : () });
    $h{content} = $JSON->encode($body) if defined $body;
    my $r = $http->request($m, "http://127.0.0.1:$port$path", \%h);
    $r->{json} = eval { $JSON->decode($r->{content}) };
    return $r;
}

my $r = req('GET', '/api/v1/health');
is($r->{status}, 200, '/api/v1/health through nginx') or diag $r->{content};
ok($r->{json} && ($r->{json}{status} // '') eq 'ok', 'health: ok (the database is up, migrations applied)');
is(sql("SHOW TABLES LIKE 'students'"), 'students', 'the migrations made the schema');

# a student: school and code seeded like an administrator would, then the
# journey's first step (WeChat login, then the collection code)
sql("INSERT INTO schools (name, contact, fee_fen, notice_version, notice_title, notice_body, video_url, video_duration_s, tpl_photo_status, tpl_payment_result, created_at) VALUES ('deb test school', 'office', 0, 1, 'n', 'b', 'https://v.example/x.mp4', 60, 'T1', 'T2', UNIX_TIMESTAMP())");
my $school = sql('SELECT MAX(id) FROM schools');
sql("INSERT INTO students (school_id, student_no, name, created_at) VALUES ($school, 'D0001', 'Deb', UNIX_TIMESTAMP())");
my $sid = sql("SELECT id FROM students WHERE student_no = 'D0001'");
my $code = "$school-DEBTEST0001ABCDEFG";
sql("INSERT INTO codes (school_id, student_id, code_hash, status, created_at, expires_at) VALUES ($school, $sid, UNHEX('" . sha256_hex($code) . "'), 'active', UNIX_TIMESTAMP(), 0)");

$r = req('POST', '/api/v1/login', { code => 'deb-student-1' });
is($r->{status}, 200, 'login through nginx (WeChat sandbox)') or diag $r->{content};
my $tok = $r->{json} && $r->{json}{token};
$r = req('POST', '/api/v1/code', { code => $code }, $tok);
is($r->{status}, 200, 'journey step 1: the collection code binds the student') or diag $r->{content};
is($r->{json} && $r->{json}{step}, 'phone', 'next step: phone');
is(sql("SELECT pending_student_id FROM accounts WHERE openid <> '' ORDER BY id DESC LIMIT 1"), $sid,
   'the WeChat account points at the student in the database');
$r = req('GET', '/api/v1/me', undef, $tok);
is($r->{json} && $r->{json}{step}, 'phone', '/api/v1/me: at the phone step');
$r = req('GET', '/tucai/metrics');
like($r->{content}, qr/^tucai_pool_children\{state="idle"\} \d+$/m, 'metrics through the example site');
$r = req('GET', '/admin/');
is($r->{status}, 200, 'the console from /usr/share/tucai/www');

# a file the worker writes under /var/lib/tucai (data the upgrade keeps)
spit('/var/lib/tucai/files/keep-me', "photo data\n");

# ---- upgrade to a rebuilt package -----------------------------------------
my ($old_ver) = $wrk_deb =~ /tucai-worker_([^_]+)_/;
my $up = "$dir/upgrade";
($rc, $out) = sh("make -C '$ROOT' deb DEB_DIR='$up' DEB_VERSION='$old_ver+rebuild1' DEB_REUSE='$DEB'");
is($rc, 0, "rebuilt packages, version $old_ver+rebuild1") or diag $out;
my ($mod2) = glob "$up/libnginx-mod-http-tucai_*_*.deb";
my ($wrk2) = glob "$up/tucai-worker_*_*.deb";
($rc, $out) = sh("$apt '$mod2' '$wrk2'");
is($rc, 0, 'apt install the rebuilt packages (upgrade)') or diag $out;
is(qx{dpkg-query -W -f='\${Version}' tucai-worker}, "$old_ver+rebuild1", 'tucai-worker upgraded');
is(qx{dpkg-query -W -f='\${Version}' libnginx-mod-http-tucai}, "$old_ver+rebuild1", 'module upgraded');
is(sha256_hex(slurp('/etc/tucai/worker.ini') // ''), $ini_sum, 'the edited conffile is kept');
is_deeply({ map { $_ => sha256_hex(slurp($_)) } glob '/etc/tucai/secrets/*' }, \%secret_sum,
          'the secrets are kept');
is(slurp('/var/lib/tucai/files/keep-me'), "photo data\n", '/var/lib/tucai is kept');
is(readlink('/etc/nginx/modules-enabled/50-mod-http-tucai.conf'),
   '/usr/share/nginx/modules-available/mod-http-tucai.conf', 'the module stays enabled');
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t after the upgrade') or diag $out;

# the new binaries serve the same data
stop_pid($worker_pid);
is(start_worker(), 1, 'worker restarted on the upgraded binary') or diag slurp("$dir/worker.log");
kill 'HUP', $nginx_pid;     # the upgraded module
wait_for(sub { req('GET', '/api/v1/health')->{status} == 200 }, 15);
$r = req('GET', '/api/v1/me', undef, $tok);
is($r->{status}, 200, 'the session token still verifies (same keys)') or diag $r->{content};
is($r->{json} && $r->{json}{step}, 'phone', 'the student is still at the phone step (data kept)');

# ---- purge -----------------------------------------------------------------
stop_pid($nginx_pid, 'QUIT');
stop_pid($worker_pid);
unlink '/etc/nginx/sites-enabled/tucai', '/etc/nginx/sites-available/tucai';
($rc, $out) = sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PKGS");
is($rc, 0, 'apt purge') or diag $out;
for my $gone ('/etc/tucai', '/run/tucai', '/usr/sbin/tucai-worker', '/usr/share/tucai',
              '/lib/systemd/system/tucai-worker.service', '/usr/lib/sysusers.d/tucai-worker.conf',
              '/usr/lib/tmpfiles.d/tucai-worker.conf', '/usr/lib/nginx/modules/ngx_http_tucai_module.so',
              '/usr/share/nginx/modules-available/mod-http-tucai.conf') {
    ok(!-e $gone, "purge removed $gone");
}
ok(!-l '/etc/nginx/modules-enabled/50-mod-http-tucai.conf', 'purge removed the modules-enabled link');
is(slurp('/var/lib/tucai/files/keep-me'), "photo data\n", 'purge keeps /var/lib/tucai (README)');
ok(scalar getpwnam('_tucai'), 'purge keeps the _tucai user owning that data (README)');
($rc, $out) = sh('/usr/sbin/nginx -t');
is($rc, 0, 'nginx -t after the purge') or diag $out;

my @differed = cleanup();
is_deeply(\@differed, [], '/etc/nginx exactly as before the test (nothing to restore)');
is_deeply(tree_state('/etc/nginx'), $nginx_before, '/etc/nginx as before, file by file');
ok(!getpwnam('_tucai') || $had_user, 'the test removed the user it caused');

done_testing;
