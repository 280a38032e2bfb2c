package Tucai::Proto;

# A tiny client of include/tucai_proto.h, straight to a pool socket:
# for testing the pool without nginx and for writing bad frames on purpose.

use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Socket qw(SOCK_STREAM);

use constant {
    MAGIC => 0x54434149, VERSION => 1, HDR_SIZE => 96,
    OP_HEALTH => 1, OP_SCHOOLS => 2, OP_STATUS => 121,
    M_PARAM => 1, M_QUERY => 2, M_CONTENT_TYPE => 3, M_CLIENT_IP => 4, M_HOST => 9,
    M_REDIRECT => 32, M_STATE => 33, M_CLEAR => 34, M_RETRY_AFTER => 35, M_HEADER => 36,
};

sub connect {
    my ($class, $path, %o) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
        or die "connect $path: $!\n";
    return bless { sock => $s, timeout => $o{timeout} // 10 }, $class;
}

sub sock { $_[0]{sock} }

# header(%f): op, rid (16 bytes), subject, school, role, meta_len, body_len,
# policy (arrayref), magic, version, flags, reserved -- overridable for tests
sub header {
    my (%f) = @_;
    my @pol = @{ $f{policy} || [] };
    push @pol, 0 while @pol < 12;
    return pack('N n n a16 Q> N C C n N N N12',
        $f{magic} // MAGIC, $f{version} // VERSION, $f{op} // OP_HEALTH,
        $f{rid} // pack('H32', '00112233445566778899aabbccddeeff'),
        $f{subject} // 0, $f{school} // 0, $f{role} // 0, $f{flags} // 0,
        $f{reserved} // 0, $f{meta_len} // 0, $f{body_len} // 0, @pol[0..11]);
}

sub meta_item { my ($type, $val) = @_; pack('n n', $type, length $val) . $val }

# frame(op => N, meta => [type => value, ...], body => BYTES, ...header fields)
sub frame {
    my (%f) = @_;
    my $meta = '';
    my @m = @{ $f{meta} || [] };
    while (my ($t, $v) = splice @m, 0, 2) { $meta .= meta_item($t, $v) }
    my $body = $f{body} // '';
    return header(%f, meta_len => $f{meta_len} // length($meta),
                  body_len => $f{body_len} // length($body)) . $meta . $body;
}

sub send_raw {
    my ($self, $bytes) = @_;
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite($self->{sock}, $bytes, length($bytes) - $off, $off);
        return 0 unless defined $n && $n > 0;
        $off += $n;
    }
    return 1;
}

sub _read_n {
    my ($self, $n) = @_;
    my $buf = '';
    my $sel = IO::Select->new($self->{sock});
    while (length $buf < $n) {
        return undef unless $sel->can_read($self->{timeout});
        my $r = sysread($self->{sock}, $buf, $n - length $buf, length $buf);
        return undef unless $r;
    }
    return $buf;
}

# Reads one response frame: {status, rid, subject, meta => [[type, value]...],
# content_type, redirect, retry_after, headers => [...], body}, or undef when
# the pool closed the connection / timed out.
sub read_response {
    my ($self) = @_;
    my $h = $self->_read_n(HDR_SIZE) // return undef;
    my ($magic, $ver, $code, $rid, $subject, $school, $role, $flags, $res, $ml, $bl)
        = unpack('N n n a16 Q> N C C n N N', $h);
    die "bad magic in response\n" unless $magic == MAGIC && $ver == VERSION;
    my $meta = $ml ? ($self->_read_n($ml) // return undef) : '';
    my $body = $bl ? ($self->_read_n($bl) // return undef) : '';
    my %r = (status => $code, rid => unpack('H32', $rid), subject => $subject,
             body => $body, meta => [], headers => []);
    my $off = 0;
    while ($off < length $meta) {
        my ($t, $l) = unpack('n n', substr($meta, $off, 4));
        my $v = substr($meta, $off + 4, $l);
        $off += 4 + $l;
        push @{ $r{meta} }, [$t, $v];
        $r{content_type} = $v if $t == M_CONTENT_TYPE;
        $r{redirect} = $v if $t == M_REDIRECT;
        $r{retry_after} = unpack('N', $v) if $t == M_RETRY_AFTER;
        push @{ $r{headers} }, $v if $t == M_HEADER;
        $r{state} = [unpack('Q> Q> C', $v)] if $t == M_STATE;
    }
    return \%r;
}

# One exchange: request(op => N, body => ..., meta => [...]) -> response
sub request {
    my ($self, %f) = @_;
    $self->send_raw(frame(%f)) or return undef;
    return $self->read_response;
}

# 1 when the pool closed this connection (EOF) within the timeout
sub closed {
    my ($self, $timeout) = @_;
    my $sel = IO::Select->new($self->{sock});
    return 0 unless $sel->can_read($timeout // $self->{timeout});
    my $r = sysread($self->{sock}, my $buf, 1);
    return (!defined $r || $r == 0) ? 1 : 0;
}

sub close { close $_[0]{sock} }

1;
