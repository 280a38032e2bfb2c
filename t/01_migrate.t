#!/usr/bin/perl
# Migrations: every sql/NNN_*.sql applied once, in order, recorded in
# schema_migrations; several `migrate` runs at once don't race; a failing
# migration stops with an error and is not recorded.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, nginx => 0, sandbox => 0, pool => 0);
my @files = sort map { m{([^/]+)$} } glob($t->root . '/sql/[0-9][0-9][0-9]_*.sql');
ok(@files >= 1, scalar(@files) . ' migration files');

# four at once on a fresh database
my @kids;
for (1 .. 4) {
    my $pid = fork // die;
    if (!$pid) {
        open STDERR, '>', '/dev/null';
        exec($t->{worker}, '-c', $t->worker_ini, 'migrate') or POSIX::_exit(127);
    }
    push @kids, $pid;
}
my $fails = 0;
for (@kids) { waitpid($_, 0); $fails++ if $? }
is($fails, 0, 'four concurrent migrate runs all succeed');
is_deeply([map { $_->[0] } $t->sql('SELECT version FROM schema_migrations ORDER BY version')],
          \@files, 'each file recorded once, in order');
ok($t->sql_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'tucai' AND table_name = 'schools'"),
   'tables created');

# idempotent
my ($rc) = $t->_run($t->{worker}, '-c', $t->worker_ini, 'migrate');
is($rc, 0, 'a second run is a no-op');
is($t->sql_one('SELECT COUNT(*) FROM schema_migrations'), scalar @files, 'nothing re-applied');

# a bad migration in a copy of the directory
my $dir = tempdir(CLEANUP => 1);
system('cp', glob($t->root . '/sql/*.sql'), $dir) == 0 or die;
open my $f, '>', "$dir/999_broken.sql" or die;
print $f "CREATE TABLE ok_one (id INT);\nTHIS IS NOT SQL;\n";
close $f;
open $f, '>>', $t->worker_ini or die;
print $f "\n[db]\nmigrations = $dir\n";
close $f;
my $out;
($rc, $out) = $t->_run($t->{worker}, '-c', $t->worker_ini, 'migrate');
isnt($rc, 0, 'a broken migration fails');
like($out, qr/999_broken\.sql failed/, 'naming the file');
is($t->sql_one("SELECT COUNT(*) FROM schema_migrations WHERE version = '999_broken.sql'"), 0,
   'not recorded');
($rc, $out) = $t->_run($t->{worker}, '-c', $t->worker_ini);
isnt($rc, 0, 'the pool refuses to start on it');

done_testing;
