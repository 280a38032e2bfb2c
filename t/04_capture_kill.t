#!/usr/bin/perl
# Reliability (PRODUCT.md "Targets"): the pool child checking a 12 MP capture
# is killed with SIGKILL mid-check.  The student gets a clean JSON 502/503
# with retry_after (never HTML, never 500); no captures/drafts row and no
# half-written file is left for that attempt; the upload slot (nginx's
# in-flight counter and the database lease) is released; the child is
# respawned and the next capture succeeds.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Find;
use Tucai::Test;

require "./t/20_journey_lib.pl";
our ($TD, $JSONX);

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done" && -e "$TD/bench_12mp.jpg";

# one child: the capture is necessarily on it; one upload in flight, so a
# slot that is never released shows as 409 UPLOAD_IN_PROGRESS
my $t = j_harness(worker_children => 1, knobs => { uploads_in_flight => 1 });
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

my $school = seed_school($t);
my ($sid, $code) = seed_student($t, $school);
my $tok = walk($t, login($t, 'js-kill-mid-check'), $code, 'shoot');

sub files_of {
    my @f;
    find({ no_chdir => 1, wanted => sub { push @f, $File::Find::name if -f } }, $t->files_dir);
    return sort @f;
}
my %before = map { $_ => 1 } files_of();
my ($victim) = $t->pool_pids;

my $out = $t->dir . '/killed-capture';
my $pid = fork // die;
if (!$pid) {
    # a 12 MP photo and four 12 MP frames: a check long enough (around a
    # second) to be caught in the middle
    my $big = slurp_file("$TD/bench_12mp.jpg");
    my @parts = (photo => { data => $big, filename => 'photo.jpg', type => 'image/jpeg' });
    push @parts, frames => { data => $big, filename => "f$_.jpg", type => 'image/jpeg' }
        for 1 .. 4;
    push @parts, meta => $JSONX->encode({ camera => 'back', source => 'camera' });
    my $r = $t->post_multipart('/api/v1/captures', \@parts, token => $tok);
    open my $f, '>', $out or POSIX::_exit(1);
    print $f $JSONX->encode({ status => $r->{status}, content => $r->{content},
                              ct => $r->{headers}{'content-type'} // '' });
    close $f;
    POSIX::_exit(0);
}

# mid-check: the whole upload has reached the child, which holds the
# capture lock while it checks (the rows and the original come after)
my $mid = $t->wait_for(sub {
    $t->sql_one("SELECT COUNT(*) FROM tucai_leases WHERE name = 'tucai:cap:$sid'")
}, 30);
ok($mid, 'the child is checking the capture (upload slot lease held)');
ok(kill('KILL', $victim), "SIGKILL to child $victim mid-check");
waitpid($pid, 0);

my $res = $JSONX->decode(slurp_file($out));
my $j = eval { $JSONX->decode($res->{content}) };
ok($res->{status} == 502 || $res->{status} == 503, "client answered $res->{status}")
    or diag $res->{content};
like($res->{ct}, qr{^application/json}, 'as JSON');
ok($j && $j->{error}, 'with an error code: ' . ($j->{error} // 'none'));
ok($j && defined $j->{retry_after} && $j->{retry_after} >= 1, 'and retry_after');

is($t->sql_one("SELECT COUNT(*) FROM captures WHERE student_id = $sid"), 0, 'no captures row');
is($t->sql_one("SELECT COUNT(*) FROM drafts WHERE student_id = $sid"), 0, 'no drafts row');
my @new = grep { !$before{$_} } files_of();
is_deeply([grep { /\.tmp-/ } @new], [], 'no half-written (temp) file');
is_deeply(\@new, [], 'no file at all: the original is stored only with the rows');

ok($t->wait_for(sub { my @p = $t->pool_pids; @p == 1 && $p[0] != $victim }, 10),
   'child respawned');
ok($t->wait_for(sub { !$t->sql_one("SELECT COUNT(*) FROM tucai_leases WHERE name = 'tucai:cap:$sid'") }, 10),
   'the capture lease (upload slot) released by the new child');
ok($t->wait_for(sub { ($t->get('/tucai/status')->{json}{uploads_in_flight} // 1) == 0 }, 10),
   "nginx's upload slot released");

my $r = capture($t, $tok);
is($r->{status}, 201, 'the next capture succeeds') or diag $r->{content};
is($t->sql_one("SELECT COUNT(*) FROM drafts WHERE student_id = $sid"), 1, 'one draft now');

done_testing;
