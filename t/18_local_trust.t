# Local trust (issue 11): only nginx may talk to the pool.  The pool
# sockets are 0660 in nginx's group and every connection's SO_PEERCRED is
# checked, so a local user who can reach the socket file still gets nothing
# and is logged; secrets are 0600, the database password is random per
# install, the private MariaDB socket is not world-writable, var/demo.json
# is 0600.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_STREAM);
use Tucai::Test;

die "missing prerequisite: needs root (to act as another local user)\n" unless $< == 0;

my $t = Tucai::Test->new(worker_children => 1);
my $d = $t->dir;
my $ngroup = getgrnam(Tucai::Test::nginx_group());

sub mode { (stat $_[0])[2] & 07777 }

# ---- the pool sockets ----
for my $n (1, 2) {
    my $s = $t->pool_socket($n);
    is(sprintf('%04o', mode($s)), '0660', "pool socket $n is 0660");
    is((stat $s)[5], $ngroup, "pool socket $n is in nginx's group");
}
is($t->get('/api/v1/health')->{status}, 200, 'nginx (its workers in that group) is served');

# a local user who can reach the socket file (here: a supplementary member
# of the group) but is neither the pool's uid nor of an allowed group
my ($uid, $gid) = (getpwnam('daemon'))[2, 3];
sub as_outsider {
    my $pid = fork // die;
    if (!$pid) {
        $) = "$gid $gid $ngroup";
        $( = $gid;
        $< = $> = $uid;
        POSIX::_exit(90) if $> != $uid;
        my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $t->pool_socket(1))
            or POSIX::_exit(91);
        my $hdr = 'TCAI' . ("\0" x 92);       # anything: it must not be read
        syswrite($c, $hdr);
        my $rin = '';
        vec($rin, fileno($c), 1) = 1;
        POSIX::_exit(92) unless select(my $rout = $rin, undef, undef, 10);
        my $n = sysread($c, my $buf, 100);
        # closed (EOF, or a reset as our bytes were left unread): refused
        POSIX::_exit(defined $n && $n > 0 ? 93 : 0);
    }
    waitpid($pid, 0);
    return $? >> 8;
}
is(as_outsider(), 0, 'another local user is disconnected without an answer');
ok($t->wait_for(sub { $t->pool_log =~ /refused a connection from pid \d+ uid $uid gid $gid/ }, 10),
   'and the refusal is logged with its credentials');
is($t->get('/api/v1/health')->{status}, 200, 'nginx still served');

# the pool's own uid (the harness's Tucai::Proto) is allowed
my $r = $t->pool_request(op => Tucai::Proto::OP_HEALTH);
ok($r && $r->{status} == 200, 'the pool user itself may connect');

# peer_users lets an extra uid in; the socket mode refuses "other" bits
$t->stop_pool;
open my $f, '>>', $t->worker_ini or die;
print $f "\n[pool]\npeer_users = daemon\n";
close $f;
$t->start_pool;
my $pid = fork // die;
if (!$pid) {
    $) = "$gid $gid $ngroup"; $< = $> = $uid;
    my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $t->pool_socket(1)) or POSIX::_exit(91);
    my $rin = '';
    vec($rin, fileno($c), 1) = 1;
    # allowed: the connection stays open (nothing to read yet)
    POSIX::_exit(select(my $rout = $rin, undef, undef, 0.5) ? 94 : 0);
}
waitpid($pid, 0);
is($? >> 8, 0, 'peer_users = daemon: that uid is let in');

my $bad = "$d/conf/bad.ini";
(my $ini = do { local (@ARGV, $/) = ($t->worker_ini); <> }) =~ s/socket_mode = 0660/socket_mode = 0666/;
open $f, '>', $bad or die; print $f $ini; close $f;
my $out = qx{$Tucai::Test::ROOT/build/tucai-worker -c $bad migrate 2>&1};
isnt($?, 0, 'socket_mode 0666 refused');
like($out, qr/\[pool\] socket_mode: bad value '0666'/, 'with a clear message');

# ---- secrets ----
my $sd = "$d/secrets";
is(sprintf('%04o', mode($sd)), '0700', 'secrets dir 0700');
for my $file (glob "$sd/*") {
    is(sprintf('%04o', mode($file)), '0600', "$file 0600");
}
chomp(my $pw = do { local (@ARGV, $/) = ("$sd/db_password"); <> });
like($pw, qr/^[0-9a-f]{48}$/, 'the DB password is random (192 bits)');
my $t2 = "$d/secrets2";
my ($rc, $o) = (qx{$Tucai::Test::ROOT/tools/gen-secrets.sh $t2 2>&1}, $?);
chomp(my $pw2 = do { local (@ARGV, $/) = ("$t2/db_password"); <> });
isnt($pw2, $pw, 'another install, another password');
# the packaging form: service user and nginx's group
qx{$Tucai::Test::ROOT/tools/gen-secrets.sh $t2 daemon:$ngroup 2>&1};
is($?, 0, 'gen-secrets.sh DIR OWNER:GROUP');
is((stat "$t2/token_keys")[4], $uid, 'owned by the service user');
is(sprintf('%04o', mode("$t2/token_keys")), '0640', 'token_keys 0640 for the group');
is((stat "$t2/token_keys")[5], $ngroup, 'token_keys in the group');
is(sprintf('%04o', mode("$t2/db_password")), '0600', 'db_password stays 0600');
is(sprintf('%04o', mode($t2)), '0750', 'dir 0750');
# an old install's fixed password is replaced
open $f, '>', "$t2/db_password" or die; print $f "tucai\n"; close $f;
qx{$Tucai::Test::ROOT/tools/gen-secrets.sh $t2 2>&1};
chomp($pw2 = do { local (@ARGV, $/) = ("$t2/db_password"); <> });
like($pw2, qr/^[0-9a-f]{48}$/, 'the old fixed "tucai" is replaced');

# ---- MariaDB: its socket and its password ----
my $sock = $t->db_socket;
ok(!(mode($sock) & 02), 'the MariaDB socket is not world-writable');
is(sprintf('%04o', mode(dirname_of($sock))), '0700', 'and lives in a 0700 directory');
sub dirname_of { (my $x = $_[0]) =~ s{/[^/]+$}{}; $x }
$o = qx{mariadb --no-defaults -S $sock -u tucai -ptucai -e 'SELECT 1' 2>&1};
isnt($?, 0, 'the old fixed password no longer works');
$o = qx{mariadb --no-defaults -S $sock -u tucai -p$pw -e 'SELECT 1' 2>&1};
is($?, 0, 'the generated one does') or diag $o;

# ---- demo.json ----
($rc, $o) = $t->admin_cli('demo', "$d/demo.json");
is($rc, 0, 'demo seeded') or diag $o;
is(sprintf('%04o', mode("$d/demo.json")), '0600', 'demo.json 0600 (teacher password, codes)');

done_testing;
