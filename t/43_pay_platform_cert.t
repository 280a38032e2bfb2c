# [pay] platform_keys may name a platform *certificate* by its serial
# instead of a PUB_KEY_ID_ public key: answers and notifications signed by
# that key under the certificate serial are accepted; once WeChat Pay's
# answers name a key the map does not hold, nothing it says is trusted
# (order creation answers 503, no order row).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, pool => 0);
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;
my $sec = $t->dir . '/secrets';
my $serial = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
system('openssl', 'req', '-x509', '-new', '-key', "$sec/pay_platform.key", '-subj',
       '/CN=tucai sandbox platform', '-days', '2', '-set_serial', "0x$serial",
       '-out', "$sec/platform_cert.pem") == 0 or die 'openssl req failed';
open my $ini, '>>', $t->worker_ini or die;
print $ini "\n[pay]\nplatform_keys = $serial=$sec/platform_cert.pem\n";
close $ini;
$t->start_pool;
$t->sandbox_post('/sandbox/config', { serial => $serial });

my $seq = 0;
sub seed {
    $seq++;
    my $now = time;
    $t->sql_do("INSERT INTO schools (name, fee_fen, notice_body, created_at) VALUES ('Cert $seq', 500, '', $now)");
    my $school = $t->sql_one("SELECT MAX(id) FROM schools");
    $t->sql_do("INSERT INTO accounts (openid, created_at, last_login_at) VALUES ('oCert${seq}x$$', $now, $now)");
    my $acc = $t->sql_one("SELECT MAX(id) FROM accounts");
    $t->sql_do("INSERT INTO students (school_id, student_no, name, account_id, notice_ack_version,"
        . " subs_set, video_started_at, video_finished_at) VALUES ($school, 'C$seq', 'C', $acc, 1, 1,"
        . " $now - 200, $now - 100)");
    my $sid = $t->sql_one("SELECT id FROM students WHERE account_id = $acc");
    mkdir $t->files_dir . '/drafts';
    open my $f, '>', $t->files_dir . "/drafts/c$sid.jpg" or die; print $f "jpeg"; close $f;
    $t->sql_do("INSERT INTO drafts (student_id, capture_id, created_at, photo_path, original_path)"
        . " VALUES ($sid, 0, $now, 'drafts/c$sid.jpg', 'drafts/c$sid.jpg')");
    return { sid => $sid, draft => $t->sql_one("SELECT MAX(id) FROM drafts WHERE student_id = $sid"),
             token => $t->token('s', $acc, $school) };
}
sub submit {
    my ($s) = @_;
    return $t->post_json('/api/v1/submission', { draft_id => $s->{draft} + 0 }, token => $s->{token});
}

my $a = seed();
my $r = submit($a);
is($r->{status}, 200, 'answers signed under the certificate serial are trusted');
my $no = $r->{json}{order}{out_trade_no};
$r = $t->sandbox_post('/sandbox/pay', { out_trade_no => $no });
is($r->{json}{delivered}[0]{status}, 204, 'so are notifications');
is($t->sql_one("SELECT status FROM orders WHERE out_trade_no = '$no'"), 'PAID', 'order PAID');

$t->sandbox_post('/sandbox/config', { serial => '' });    # PUB_KEY_ID_..., not in the map
my $b = seed();
$r = submit($b);
is($r->{status}, 503, 'answers under an unknown key are not trusted: 503');
is($r->{json}{error}, 'WECHAT_UNAVAILABLE', '... WECHAT_UNAVAILABLE');
is($t->sql_one("SELECT COUNT(*) FROM orders WHERE student_id = $b->{sid}"), 0, '... no order row');

done_testing;
