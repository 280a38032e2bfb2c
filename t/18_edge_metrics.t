# tucai_status prometheus: nginx's figures (zone, refusals, requests) and,
# through the upstream, the pool's (children, queue, per-operation and photo
# stage histograms, outbox backlog, payments awaiting reconciliation), in
# Prometheus text exposition format 0.0.4, parsed and checked here.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use Test::More;
use Tucai::Test;
require "./t/20_journey_lib.pl";

die "missing prerequisite: no test data (make testdata)\n"
    unless -e "$Tucai::Test::ROOT/build/testdata/.done";

my $t = Tucai::Test->new(worker_children => 2, nginx_extra_server => q{
        tucai_uploads_in_flight 16;
        tucai_code_rate 6000r/m burst=1000;
        tucai_login_rate 6000r/m burst=1000;
        location = /metrics {
            allow 127.0.0.1;
            deny all;
            tucai_status prometheus tucai_pool;
        }
        location = /metrics/edge {
            tucai_status prometheus;
        }
        location = /metrics/json {
            tucai_status json;
        }
});

# Parses an exposition: ({name => {type, help, samples => [...]}}, [errors]).
sub parse_exposition {
    my ($text) = @_;
    my (%fam, @err, %done, $cur);
    for my $line (split /\n/, $text) {
        next if $line eq '';
        if ($line =~ /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/) {
            my ($k, $n, $v) = ($1, $2, $3);
            push @err, "family $n declared twice" if $k eq 'TYPE' && $fam{$n}{type};
            push @err, "bad type $v for $n" if $k eq 'TYPE' && $v !~ /^(counter|gauge|histogram|summary|untyped)$/;
            $fam{$n}{lc $k} = $v;
            $done{$cur} = 1 if defined $cur && $cur ne $n;
            $cur = $n;
            next;
        }
        next if $line =~ /^#/;
        my ($name, $labels, $value) = $line =~
            /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$/
            or do { push @err, "bad line: $line"; next };
        push @err, "bad value: $line"
            unless $value =~ /^(?:[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
        my $base = $name;
        if (!$fam{$base}) { $base =~ s/_(bucket|sum|count)$// }
        push @err, "sample $name without TYPE" unless $fam{$base} && $fam{$base}{type};
        push @err, "family $base interleaved" if $done{$base};
        push @err, "sample $name outside its family block" if !defined $cur || $cur ne $base;
        my %l;
        while (($labels // '') =~ /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) { $l{$1} = $2 }
        push @{ $fam{$base}{samples} }, { name => $name, labels => \%l, value => $value };
    }
    for my $n (sort keys %fam) {
        my $f = $fam{$n};
        push @err, "$n has no TYPE" unless $f->{type};
        next unless $f->{type};
        push @err, "counter $n does not end in _total" if $f->{type} eq 'counter' && $n !~ /_total$/;
        push @err, "$n without HELP" unless defined $f->{help};
        next unless $f->{type} eq 'histogram';
        push @err, "histogram $n not in seconds" unless $n =~ /_seconds$/;
        my %series;
        for my $s (@{ $f->{samples} || [] }) {
            my %k = %{ $s->{labels} };
            my $le = delete $k{le};
            my $key = join ',', map { "$_=$k{$_}" } sort keys %k;
            if    ($s->{name} eq "${n}_bucket") { push @{ $series{$key}{b} }, [ $le, $s->{value} ] }
            elsif ($s->{name} eq "${n}_count")  { $series{$key}{count} = $s->{value} }
            elsif ($s->{name} eq "${n}_sum")    { $series{$key}{sum} = $s->{value} }
            else { push @err, "stray sample $s->{name} in histogram $n" }
        }
        for my $key (sort keys %series) {
            my $b = $series{$key}{b} || [];
            my ($prev, $prev_le) = (0, -1);
            for (@$b) {
                my $le = $_->[0] eq '+Inf' ? 9**9**9 : $_->[0];
                push @err, "$n\{$key\}: le not increasing" if $le <= $prev_le;
                push @err, "$n\{$key\}: buckets not cumulative" if $_->[1] < $prev;
                ($prev, $prev_le) = ($_->[1], $le);
            }
            push @err, "$n\{$key\}: no +Inf bucket" unless @$b && $b->[-1][0] eq '+Inf';
            push @err, "$n\{$key\}: +Inf != count"
                unless @$b && defined $series{$key}{count} && $b->[-1][1] == $series{$key}{count};
            push @err, "$n\{$key\}: no sum" unless defined $series{$key}{sum};
        }
    }
    return (\%fam, \@err);
}

sub value {
    my ($fam, $name, %want) = @_;
    my $base = $name;
    if (!$fam->{$base}) { $base =~ s/_(bucket|sum|count)$// }
    for my $s (@{ $fam->{$base}{samples} || [] }) {
        next unless $s->{name} eq $name;
        next if grep { ($s->{labels}{$_} // '') ne $want{$_} } keys %want;
        return $s->{value};
    }
    return undef;
}

sub scrape {
    my ($path) = @_;
    my $r = $t->get($path);
    is($r->{status}, 200, "scrape $path: 200") or diag $r->{content};
    like($r->{headers}{'content-type'} // '', qr{^text/plain; version=0\.0\.4}, "$path: exposition content type");
    my ($fam, $err) = parse_exposition($r->{content});
    is_deeply($err, [], "$path: well-formed exposition") or diag $r->{content};
    return $fam;
}

# --- traffic: a journey to the shoot step, one capture, some refusals -------
my $sch = seed_school($t, fee => 800);
my ($sid, $code) = seed_student($t, $sch);
my $tok = walk($t, login($t, 'js-metrics'), $code, 'shoot');
my $r = capture($t, $tok, photo => 'good.jpg');
is($r->{status}, 201, 'a capture went through') or diag $r->{content};
$t->get('/api/v1/me') for 1 .. 3;                   # 401 x3 at the edge
$t->get('/api/v1/health') for 1 .. 2;

# an outbox backlog, seeded
$t->sql_do("INSERT INTO outbox (student_id, kind, dedupe_key, payload_json, status, next_at, created_at)"
    . " VALUES ($sid, 'check_passed', 'metrics-t-1', '{}', 'pending', UNIX_TIMESTAMP() + 3600, UNIX_TIMESTAMP() - 120)");
my $unpaid = $t->sql_one("SELECT COUNT(*) FROM orders WHERE status = 'UNPAID'");
# the jobs process may send the capture's message meanwhile: the scrape's
# backlog lies between the counts taken just before and just after it
my $pending_before = $t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'");
my $f = scrape('/metrics');
my $pending_after = $t->sql_one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'");

# nginx's part
is(value($f, 'tucai_zone_configured'), 1, 'zone configured');
ok(value($f, 'tucai_zone_size_bytes', zone => 'tucai') > 0, 'zone size in bytes');
ok(defined value($f, 'tucai_zone_pages', zone => 'tucai', state => 'free'), 'zone free pages');
is($f->{tucai_refusals_total}{type}, 'counter', 'refusals are a counter');
ok(value($f, 'tucai_refusals_total', kind => 'unauthorized') >= 3, 'refusals by kind: unauthorized');
is(value($f, 'tucai_refusals_total', kind => 'locked'), 0, 'refusals by kind: locked 0');
ok(value($f, 'tucai_requests_total', op => 'health') >= 2, 'requests by operation: health');
ok(value($f, 'tucai_requests_total', op => 'capture') >= 1, 'requests by operation: capture');

# the pool's part
is($f->{tucai_pool_children}{type}, 'gauge', 'children is a gauge');
my $busy = value($f, 'tucai_pool_children', state => 'busy');
my $idle = value($f, 'tucai_pool_children', state => 'idle');
is($busy + $idle, 2, 'children busy + idle = the 2 configured');
ok($busy >= 1, 'the child answering the scrape counts as busy');
is(value($f, 'tucai_pool_children_configured'), 2, 'children configured');
is(value($f, 'tucai_pool_queue_length'), 0, 'queue length 0 at rest');
is($f->{tucai_pool_queue_wait_seconds}{type}, 'histogram', 'queue wait histogram');
ok(value($f, 'tucai_pool_queue_wait_seconds_count') >= 5, 'queue wait observed per exchange');
is($f->{tucai_pool_request_duration_seconds}{type}, 'histogram', 'request duration histogram');
ok(value($f, 'tucai_pool_request_duration_seconds_count', op => 'capture') >= 1, 'capture duration observed');
ok(value($f, 'tucai_pool_request_duration_seconds_sum', op => 'capture') > 0.01, 'capture took measurable time');
ok(value($f, 'tucai_pool_request_duration_seconds_count', op => 'health') >= 2, 'health duration observed');
ok(value($f, 'tucai_pool_responses_total', op => 'capture', code => '2xx') >= 1, 'responses by op and class');
for my $stage (qw(decode detect checks liveness produce)) {
    ok(value($f, 'tucai_photo_stage_duration_seconds_count', stage => $stage) >= 1, "photo stage $stage observed");
}
ok(value($f, 'tucai_photo_stage_duration_seconds_sum', stage => 'detect') > 0, 'detect took time');
is(value($f, 'tucai_db_up'), 1, 'database up');
my $backlog = value($f, 'tucai_outbox_messages', status => 'pending');
ok(defined $backlog && $backlog <= $pending_before && $backlog >= $pending_after,
   "outbox backlog = pending rows ($pending_after <= $backlog <= $pending_before)");
ok(value($f, 'tucai_outbox_messages', status => 'pending') >= 1, 'the seeded message is in the backlog');
ok(value($f, 'tucai_outbox_oldest_pending_age_seconds') >= 120, 'oldest pending message age');
is(value($f, 'tucai_payments_pending_reconciliation'), $unpaid, 'payments pending = UNPAID orders');

# counters move between scrapes
my $before = value($f, 'tucai_pool_request_duration_seconds_count', op => 'health');
$t->get('/api/v1/health');
my $f2 = scrape('/metrics');
is(value($f2, 'tucai_pool_request_duration_seconds_count', op => 'health'), $before + 1,
   'one more health request, one more observation');

# nginx's part alone: no pool series
my $fe = scrape('/metrics/edge');
ok(defined value($fe, 'tucai_refusals_total', kind => 'unauthorized'), 'edge-only: refusals');
ok(!$fe->{tucai_pool_children}, 'edge-only: no pool series');

# JSON stays as it was
$r = $t->get('/metrics/json');
is($r->{status}, 200, 'tucai_status json');
ok($r->{json} && $r->{json}{zone}, 'JSON status has the zone');

# the database gone: the pool still answers, tucai_db_up 0
$t->stop_db;
my $fd = scrape('/metrics');
is(value($fd, 'tucai_db_up'), 0, 'database down: tucai_db_up 0');
ok(defined value($fd, 'tucai_pool_children', state => 'idle'), 'database down: pool figures still there');
$t->start_db;

# Prometheus' own linter on a scrape, the sample config and the alert rules
my $root = $t->root;
my $body = $t->get('/metrics')->{content};
open my $mf, '>', $t->dir . '/scrape.txt' or die;
print $mf $body;
close $mf;
my $lint = qx{promtool check metrics < '@{[ $t->dir ]}/scrape.txt' 2>&1};
is($? >> 8, 0, 'promtool check metrics: no problems') or diag $lint;
my $rules = qx{promtool check rules '$root/conf/tucai-alerts.yml' 2>&1};
is($? >> 8, 0, 'promtool check rules conf/tucai-alerts.yml') or diag $rules;
like($rules, qr{SUCCESS: \d+ rules found}, 'alert rules found');
{
    my $cfg = do { local (@ARGV, $/) = "$root/conf/prometheus.yml"; <> };
    $cfg =~ s{/etc/prometheus/tucai-alerts\.yml}{$root/conf/tucai-alerts.yml} or die;
    open my $cf, '>', $t->dir . '/prometheus.yml' or die;
    print $cf $cfg;
    close $cf;
    my $o = qx{promtool check config '@{[ $t->dir ]}/prometheus.yml' 2>&1};
    is($? >> 8, 0, 'promtool check config conf/prometheus.yml') or diag $o;
}

# a bad format is refused by nginx -t
my $prefix = $t->dir . '/nginx';
my $conf = do { local (@ARGV, $/) = "$prefix/nginx.conf"; <> };
(my $bad = $conf) =~ s{tucai_status json;}{tucai_status yaml;} or die;
open my $fh, '>', "$prefix/bad.conf" or die;
print $fh $bad;
close $fh;
my $out = qx{/usr/sbin/nginx -t -p '$prefix/' -c '$prefix/bad.conf' -g 'pid $prefix/bad.pid; error_log stderr;' 2>&1};
isnt($? >> 8, 0, 'tucai_status yaml: nginx -t fails');
like($out, qr{invalid "tucai_status" format "yaml"}, 'naming the bad format');

done_testing;
