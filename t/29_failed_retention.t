#!/usr/bin/perl
# Disk stays bounded: a failed capture's original is removed by the jobs
# process once it is older than [storage] failed_retention and no lock of
# the student still needs it; the row stays (original_path '') so progress
# and the verdict are kept.  Recent failures, passed captures and students
# still under a lock keep their files.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Path qw(make_path);
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, nginx => 0,
    worker_ini_extra => "[storage]\nfailed_retention = 3600\n");

$t->sql_do("INSERT INTO schools (name, notice_body) VALUES ('R', '')");
my $school = $t->sql_one("SELECT id FROM schools WHERE name = 'R'");
my $now = time;
my %sid;
for my $no (qw(free locked quality_over quality_on)) {
    $t->sql_do("INSERT INTO students (school_id, student_no, name, created_at)"
             . " VALUES ($school, '$no', '$no', $now)");
    $sid{$no} = $t->sql_one("SELECT id FROM students WHERE student_no = '$no'");
}
$t->sql_do("UPDATE students SET lock_kind = 1, lock_until = 0 WHERE id = $sid{locked}");
$t->sql_do("UPDATE students SET lock_kind = 2, lock_until = " . ($now - 10) . " WHERE id = $sid{quality_over}");
$t->sql_do("UPDATE students SET lock_kind = 2, lock_until = " . ($now + 3600) . " WHERE id = $sid{quality_on}");

my $dir = $t->files_dir;
make_path("$dir/orig");
my $old = $now - 2 * 3600;     # past the retention
my (%cap, @rows);
# one INSERT: the job sees all of them in the same state, or none
my @caps = (['old_fail',    $sid{free},         0, $old],
            ['recent_fail', $sid{free},         0, $now - 60],
            ['old_pass',    $sid{free},         1, $old],
            ['locked_fail', $sid{locked},       0, $old],
            ['over_fail',   $sid{quality_over}, 0, $old],
            ['qlock_fail',  $sid{quality_on},   0, $old]);
for my $c (@caps) {
    my ($name, $sid, $pass, $at) = @$c;
    my $rel = "orig/$name.jpg";
    open my $f, '>', "$dir/$rel" or die "$dir/$rel: $!"; print $f "x" x 100; close $f;
    push @rows, "($sid, $at, $pass, 'blur', '{\"t\":\"$name\"}', '$rel')";
}
$t->sql_do("INSERT INTO captures (student_id, created_at, pass, reasons, verdict_json, original_path)"
         . " VALUES " . join(', ', @rows));
for my $c (@caps) {
    # by a column the job leaves alone: it may have emptied original_path
    $cap{$c->[0]} = [$t->sql_one("SELECT id FROM captures WHERE verdict_json = '{\"t\":\"$c->[0]\"}'"),
                     "$dir/orig/$c->[0].jpg"];
}

# the file goes first, then the row says so: wait for the rows
my $gone = sub { $t->sql_one("SELECT COUNT(*) FROM captures WHERE original_path = ''"
                           . " AND id IN ($cap{old_fail}[0], $cap{over_fail}[0])") == 2 };
ok($t->wait_for($gone, 30), 'expired failed captures marked by the jobs process');
for my $n (qw(old_fail over_fail)) {
    ok(!-e $cap{$n}[1], "$n: its original removed");
    is($t->sql_one("SELECT reasons FROM captures WHERE id = $cap{$n}[0]"), 'blur',
       "$n: the row is kept, with its verdict");
}
# the run that removed those saw the others (one INSERT): they stay
ok(-e $cap{recent_fail}[1], 'a recent failure keeps its original');
ok(-e $cap{old_pass}[1], 'a passed capture keeps its original');
ok(-e $cap{locked_fail}[1], 'a liveness-locked student keeps it (a teacher reviews it)');
ok(-e $cap{qlock_fail}[1], 'a quality lock still in force keeps it');
is($t->sql_one("SELECT original_path FROM captures WHERE id = $cap{locked_fail}[0]"), 'orig/locked_fail.jpg',
   'and its row still names it');
ok($t->wait_for(sub { $t->pool_log =~ /retention: removed 2 failed-capture original/ }, 10), 'logged, once for both');

# the teacher unlocks: the next run removes it
$t->sql_do("UPDATE students SET lock_kind = 0 WHERE id = $sid{locked}");
ok($t->wait_for(sub { ($t->sql_one("SELECT original_path FROM captures WHERE id = $cap{locked_fail}[0]") // '') eq '' }, 30)
   && !-e $cap{locked_fail}[1], 'once the lock is resolved, removed too');

done_testing;
