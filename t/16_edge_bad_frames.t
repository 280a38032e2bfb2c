# Edge: the pool's answer is corrupt, or the pool dies mid-answer.  nginx
# must answer a clean JSON 503 POOL_UNAVAILABLE (never HTML, never a crash),
# drop that upstream connection, and go on serving through the real pool.
#
# The bad peer below is a tiny Unix-socket server standing in for a corrupt
# or dying pool: a byte source that writes the frames we script, not a mock
# of the pool's logic.  Which frame it writes is chosen by the request's
# query string, which the module forwards as TUCAI_M_QUERY.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);
use POSIX ();
use Tucai::Test;
use Tucai::Proto;

my $bdir = tempdir('/tmp/tucai-bad-XXXXXX', CLEANUP => 1);
chmod 0755, $bdir;
my $sock = "$bdir/bad.sock";

sub fr { Tucai::Proto::frame(op => 200, @_) }
my $json = '{"ok":true}';
my $ctype = [Tucai::Proto::M_CONTENT_TYPE, 'application/json'];

# case => [bytes to write, then: 'hold' (wait for nginx to hang up) or
# 'close' (hang up ourselves)]
my %case = (
    good          => [fr(meta => $ctype, body => $json), 'serve'],
    wrong_magic   => [fr(magic => 0x58585858, body => $json), 'hold'],
    wrong_version => [fr(version => 2, body => $json), 'hold'],
    flags_set     => [fr(flags => 1, body => $json), 'hold'],
    reserved_set  => [fr(reserved => 1, body => $json), 'hold'],
    bad_role      => [fr(role => 7, body => $json), 'hold'],
    meta_too_big  => [Tucai::Proto::header(op => 200, meta_len => 65537), 'hold'],
    meta_untiled  => [fr(meta => $ctype, meta_len => 4 + 16 + 2)
                      . "\0\0", 'hold'],
    meta_overrun  => [Tucai::Proto::header(op => 200, meta_len => 6)
                      . pack('n n', 36, 40) . 'ab', 'hold'],
    state_short   => [fr(subject => 42, meta => [Tucai::Proto::M_STATE, "\0" x 23]),
                      'hold'],
    clear_long    => [fr(meta => [Tucai::Proto::M_CLEAR, "\0" x 9]), 'hold'],
    body_too_big  => [Tucai::Proto::header(op => 200, body_len => 16 * 1024 * 1024 + 1),
                      'hold'],
    header_cut    => [substr(fr(body => $json), 0, 50), 'close'],
    body_cut      => [fr(meta => $ctype, body => $json, body_len => 100), 'close'],
    # bigger than tucai_buffer_size: streamed, so the cut can only show
    # as a short body and a closed client connection
    big_body_cut  => [fr(body => 'x' x 20000, body_len => 100000), 'close'],
    status_0      => [fr(op => 0, body => $json), 'hold'],
    status_999    => [fr(op => 999, body => $json), 'hold'],
    redirect_rel  => [fr(meta => [Tucai::Proto::M_REDIRECT, 'etc/passwd']), 'hold'],
    redirect_named => [fr(meta => [Tucai::Proto::M_REDIRECT, '@tucai_error']), 'hold'],
    redirect_body => [fr(meta => [Tucai::Proto::M_REDIRECT, '/_tucai_files/x'],
                         body => $json), 'hold'],
    header_nl     => [fr(meta => [Tucai::Proto::M_HEADER, "X-A: b\r\nX-C: d"],
                         body => $json), 'hold'],
    # a whole second frame right behind the first: must not become the
    # answer to the next request on this connection
    trailing      => [fr(meta => $ctype, body => $json)
                      . fr(meta => $ctype, body => '{"smuggled":true}'), 'hold'],
);

sub read_n {
    my ($c, $n) = @_;
    my $buf = '';
    while (length $buf < $n) {
        my $r = sysread($c, $buf, $n - length $buf, length $buf);
        return undef unless $r;
    }
    return $buf;
}

# one connection: answer requests until a case says otherwise; writes
# "$bdir/<case>" = 'eof' (nginx hung up) or 'request' (nginx sent another
# request on a connection it should have dropped)
sub serve_conn {
    my ($c) = @_;
    local $SIG{PIPE} = 'IGNORE';
    while (1) {
        my $h = read_n($c, 96) // return;
        my ($ml, $bl) = unpack('N N', substr($h, 40, 8));
        my $rest = read_n($c, $ml + $bl) // return;
        my ($name, $off) = ('good', 0);
        while ($off + 4 <= $ml) {
            my ($t, $l) = unpack('n n', substr($rest, $off, 4));
            $name = $1 if $t == Tucai::Proto::M_QUERY
                          && substr($rest, $off + 4, $l) =~ /case=(\w+)/;
            $off += 4 + $l;
        }
        my ($bytes, $then) = @{ $case{$name} || $case{good} };
        syswrite($c, $bytes);
        next if $then eq 'serve';
        if ($then eq 'hold') {
            my $r = sysread($c, my $buf, 1);
            my $what = $r ? 'request' : 'eof';
            open my $f, '>', "$bdir/$name.tmp" or return;
            print $f $what;
            close $f;
            rename "$bdir/$name.tmp", "$bdir/$name";
        }
        return;
    }
}

my $srv_pid = fork // die "fork: $!";
if ($srv_pid == 0) {
    setpgrp(0, 0);
    eval { syscall(157, 1, 15) };    # die with the test (PR_SET_PDEATHSIG)
    my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $sock,
                                  Listen => 16) or POSIX::_exit(1);
    chmod 0777, $sock;    # nginx workers may run as another user
    $SIG{CHLD} = 'IGNORE';
    while (1) {
        my $c = $l->accept or next;
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $l;
            serve_conn($c);
            POSIX::_exit(0);
        }
        close $c;
    }
}
END { kill 'TERM', -$srv_pid if $srv_pid }

my $t = Tucai::Test->new(worker_children => 1,
    nginx_extra_http => qq{
    upstream bad_pool {
        server unix:$sock max_fails=0;
        keepalive 4;
    }
},
    nginx_extra_server => q{
        location /bad/ {
            rewrite ^/bad(/.*)$ $1 break;
            tucai_read_timeout 20s;
            tucai_pass bad_pool;
        }
});
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

my $r = $t->get('/bad/api/v1/health?case=good');
is($r->{status}, 200, 'the bad peer answers a good frame: 200');
is($r->{content}, $json, 'with its body');

my %expect_log = (
    header_cut => qr/upstream prematurely closed/,
    body_cut   => qr/upstream prematurely closed/,
    (map { $_ => qr/tucai: pool sent an invalid frame header/ }
         qw(wrong_magic wrong_version flags_set reserved_set bad_role
            meta_too_big body_too_big status_0 status_999)),
    (map { $_ => qr/tucai: pool sent invalid meta items/ }
         qw(meta_untiled meta_overrun state_short clear_long redirect_rel
            redirect_named redirect_body header_nl)),
);

for my $name (sort keys %expect_log) {
    my $before = length $t->nginx_log;
    my $r = $t->get("/bad/api/v1/health?case=$name");
    is($r->{status}, 503, "$name: 503");
    is($r->{json}{error}, 'POOL_UNAVAILABLE', "$name: POOL_UNAVAILABLE JSON");
    ok(($r->{json}{retry_after} // 0) > 0, "$name: with retry_after");
    like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: not HTML");
    like(substr($t->nginx_log, $before), $expect_log{$name}, "$name: logged why");
    if ($case{$name}[1] eq 'hold') {
        ok($t->wait_for(sub { -e "$bdir/$name" }, 20), "$name: the peer saw an end");
        is(slurp("$bdir/$name"), 'eof', "$name: nginx hung up, not waited or reused");
    }
    my $ok = $t->get('/api/v1/health');
    is($ok->{status}, 200, "$name: the real pool still answers");
}

$r = $t->get('/bad/api/v1/health?case=big_body_cut');
ok($r->{status} != 200 || length($r->{content}) != 100000,
   'a streamed body cut short never looks complete to the client');
is($t->get('/api/v1/health')->{status}, 200, 'big_body_cut: the real pool still answers');

# a whole answer followed by more bytes: the answer is served, the
# connection is dropped, and the extra frame never answers anything
$r = $t->get('/bad/api/v1/health?case=trailing');
is($r->{status}, 200, 'trailing bytes: the first answer is served');
is($r->{content}, $json, 'its body only');
ok($t->wait_for(sub { -e "$bdir/trailing" }, 20), 'trailing: the peer saw an end');
is(slurp("$bdir/trailing"), 'eof', 'trailing: nginx dropped the connection');
for (1 .. 4) {
    $r = $t->get('/bad/api/v1/health?case=good');
    is($r->{content}, $json, "after trailing bytes, request $_: a fresh answer");
}

sub slurp { open my $f, '<', $_[0] or return ''; local $/; <$f> }

done_testing;
