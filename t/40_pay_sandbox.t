# The WeChat sandbox itself against the wire contract (WECHAT.md, API.md):
# login codes, tokens (a new one kills the old), phone codes, subscribe
# checks, and Pay v3 signatures: unsigned or wrongly signed requests are
# refused with 401 SIGN_ERROR, answers are signed with the PUB_KEY_ID_ key.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Tucai::Test;

my $t = Tucai::Test->new(pool => 0, nginx => 0);
my $S = $t->sandbox_url;
my $sec = $t->dir . '/secrets';
my $J = JSON::PP->new->utf8->canonical;
my $tmp = tempdir(CLEANUP => 1);
my $http = HTTP::Tiny->new(timeout => 10);

sub slurp { open my $f, '<', $_[0] or die "$_[0]: $!"; local $/; my $s = <$f>; $s =~ s/\s+\z//; $s }
sub spew  { open my $f, '>', $_[0] or die; binmode $f; print $f $_[1]; close $f }
sub jget  { my $r = $http->get("$S$_[0]"); ($r->{status}, eval { $J->decode($r->{content}) }) }
sub jpost {
    my ($path, $body, $h) = @_;
    my $r = $http->post("$S$path", { content => $body,
        headers => { 'Content-Type' => 'application/json', %{ $h || {} } } });
    return $r;
}
sub rsa_sign {
    my ($key, $msg) = @_;
    spew("$tmp/m", $msg);
    system('openssl', 'dgst', '-sha256', '-sign', $key, '-out', "$tmp/s", "$tmp/m") == 0 or die;
    open my $f, '<', "$tmp/s" or die; binmode $f; local $/; my $s = <$f>;
    return encode_base64($s, '');
}
sub rsa_verify {
    my ($pub, $msg, $sig64) = @_;
    spew("$tmp/vm", $msg);
    spew("$tmp/vs", decode_base64($sig64));
    my $out = `openssl dgst -sha256 -verify $pub -signature $tmp/vs $tmp/vm 2>&1`;
    return $out =~ /Verified OK/;
}
sub auth {
    my ($method, $url, $body, %o) = @_;
    my $ts = $o{ts} // time;
    my $nonce = 'N' . int(rand(1e12));
    my $sig = rsa_sign($o{key} // "$sec/pay_merchant.key", "$method\n$url\n$ts\n$nonce\n$body\n");
    my $serial = $o{serial} // slurp("$sec/pay_merchant.serial");
    return qq{WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="$nonce",}
         . qq{signature="$sig",timestamp="$ts",serial_no="$serial"};
}

my $secret = slurp("$sec/wx_app_secret");

# ---- login ----
my ($st, $a) = jget("/sns/jscode2session?appid=wx1&secret=$secret&js_code=abc&grant_type=authorization_code");
my ($st2, $b) = jget("/sns/jscode2session?appid=wx1&secret=$secret&js_code=abc&grant_type=authorization_code");
like($a->{openid}, qr/^o[\w-]{27}$/, 'openid has the shape of one');
is($a->{openid}, $b->{openid}, 'same js_code, same openid');
(undef, $b) = jget("/sns/jscode2session?appid=wx1&secret=$secret&js_code=other&grant_type=authorization_code");
isnt($a->{openid}, $b->{openid}, 'another js_code, another openid');
(undef, $b) = jget("/sns/jscode2session?appid=wx1&secret=$secret&js_code=fail-1&grant_type=authorization_code");
is($b->{errcode}, 40029, 'fail-* code -> 40029');

# ---- tokens ----
(undef, $a) = jget("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=$secret");
(undef, $b) = jget("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=$secret");
ok($a->{access_token} && $b->{access_token} && $a->{access_token} ne $b->{access_token}, 'two tokens');
is($a->{expires_in}, 7200, 'expires_in');
(undef, my $bad) = jget("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=wrong");
ok($bad->{errcode}, 'wrong secret refused');

my $r = jpost("/wxa/business/getuserphonenumber?access_token=$a->{access_token}", '{"code":"phone:13800138000"}');
is($J->decode($r->{content})->{errcode}, 40001, 'the old token is dead once a new one is issued');
$r = jpost("/wxa/business/getuserphonenumber?access_token=$b->{access_token}", '{"code":"phone:13800138000"}');
my $ph = $J->decode($r->{content});
is($ph->{phone_info}{purePhoneNumber}, '13800138000', 'phone:<digits> yields that number');
$r = jpost("/wxa/business/getuserphonenumber?access_token=$b->{access_token}", '{"code":"nonsense"}');
is($J->decode($r->{content})->{errcode}, 40029, 'other phone codes -> 40029');
$r = jpost("/wxa/business/getuserphonenumber", '{"code":"phone:1"}');
is($J->decode($r->{content})->{errcode}, 41001, 'no token -> 41001');

my $tok = $b->{access_token};
(undef, my $stable) = do { my $x = jpost('/cgi-bin/stable_token',
    $J->encode({ grant_type => 'client_credential', appid => 'wx1', secret => $secret }));
    (200, $J->decode($x->{content})) };
ok($stable->{access_token}, 'stable_token issues a token');

# ---- subscribe ----
my $msg = { touser => 'oTESTUSER0001', template_id => 'TPL_status', page => 'pages/index/index',
            data => { thing1 => { value => '照片审核通过' }, phrase2 => { value => "\x{901A}\x{8FC7}" },
                      time3 => { value => '2026-11-29 12:00' } }, miniprogram_state => 'developer' };
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 0, 'subscribe/send accepted');
for my $keys ([qw(thing1 phrase2 character_string3)], [qw(thing1 time3)]) {
    my %d = map { $_ => { value => '1' } } @$keys;
    $r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok",
               $J->encode({ %$msg, data => \%d }));
    is($J->decode($r->{content})->{errcode}, 47003, "keys @$keys are no template's -> 47003");
}
$msg->{data}{thing1}{value} = 'x' x 21;
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 47003, 'thing over 20 chars -> 47003');
$msg->{data}{thing1}{value} = 'ok';
$msg->{template_id} = '';
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 40037, 'empty template -> 40037');
# one message per consent: the first used the one the sandbox assumes
$msg->{template_id} = 'TPL_status';
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 43101, 'a second message without a new consent -> 43101');
$t->sandbox_post('/sandbox/consent', { openid => 'oTESTUSER0001', template_id => 'TPL_status' });
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 0, '... accepted after a new consent');
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 43101, '... which it used');
$t->sandbox_post('/sandbox/consent', { openid => 'oTESTUSER0001', template_id => 'TPL_status' });
$t->sandbox_post('/sandbox/refuse', { openid => 'oTESTUSER0001' });
$r = jpost("/cgi-bin/message/subscribe/send?access_token=$tok", $J->encode($msg));
is($J->decode($r->{content})->{errcode}, 43101, 'a refusing user -> 43101');
my $m = $t->sandbox_get('/sandbox/messages')->{json}{messages};
is(scalar @$m, 2, 'only the accepted messages are recorded');
is($m->[0]{data}{thing1}{value}, '照片审核通过', 'recorded as sent');

# ---- Pay v3 ----
my $no = 'TCSBX' . time . int(rand(1000));
my $order = $J->encode({ appid => 'wx1', mchid => '1900000109', description => 'photo',
    out_trade_no => $no, notify_url => 'http://127.0.0.1:9/notify',
    amount => { total => 1200, currency => 'CNY' }, payer => { openid => 'oTESTUSER0002' } });
my $path = '/v3/pay/transactions/jsapi';

$r = jpost($path, $order);
is($r->{status}, 401, 'unsigned request -> 401');
is($J->decode($r->{content})->{code}, 'SIGN_ERROR', '... SIGN_ERROR');

$r = jpost($path, $order, { Authorization => auth('POST', $path, $order . ' ') });
is($r->{status}, 401, 'signature over another body -> 401');
$r = jpost($path, $order, { Authorization => auth('POST', $path, $order, key => "$sec/pay_platform.key") });
is($r->{status}, 401, 'signed with a key that is not the merchant\'s -> 401');
$r = jpost($path, $order, { Authorization => auth('POST', $path, $order, ts => time - 3600) });
is($r->{status}, 401, 'old timestamp -> 401');
$r = jpost($path, $order, { Authorization => auth('POST', $path, $order, serial => 'ABCDEF') });
is($r->{status}, 401, 'wrong serial_no -> 401');

$r = jpost($path, $order, { Authorization => auth('POST', $path, $order) });
is($r->{status}, 200, 'correctly signed order accepted');
my $prepay = $J->decode($r->{content})->{prepay_id};
ok($prepay, 'prepay_id');
my $h = $r->{headers};
like($h->{'wechatpay-serial'}, qr/^PUB_KEY_ID_\d{32}$/, 'answer names a PUB_KEY_ID_ key');
is($h->{'wechatpay-serial'}, slurp("$sec/pay_platform.id"), '... the sandbox\'s key');
ok(rsa_verify("$sec/pay_platform.pub",
    "$h->{'wechatpay-timestamp'}\n$h->{'wechatpay-nonce'}\n$r->{content}\n",
    $h->{'wechatpay-signature'}), 'answer signature verifies with the platform key');
ok(!rsa_verify("$sec/pay_platform.pub",
    "$h->{'wechatpay-timestamp'}\n$h->{'wechatpay-nonce'}\n$r->{content} \n",
    $h->{'wechatpay-signature'}), '... and not over another body');

my $q = "/v3/pay/transactions/out-trade-no/$no?mchid=1900000109";
$r = $http->get("$S$q", { headers => { Authorization => auth('GET', $q, '') } });
is($r->{status}, 200, 'query by out_trade_no');
is($J->decode($r->{content})->{trade_state}, 'NOTPAY', '... NOTPAY');
$r = $http->get("$S$q", { headers => { Authorization => auth('GET', '/v3/pay/transactions/out-trade-no/x?mchid=1900000109', '') } });
is($r->{status}, 401, 'query signed for another URL -> 401');

my $cp = "/v3/pay/transactions/out-trade-no/$no/close";
my $cb = '{"mchid":"1900000109"}';
$r = jpost($cp, $cb, { Authorization => auth('POST', $cp, $cb) });
is($r->{status}, 204, 'close -> 204');
$r = $http->get("$S$q", { headers => { Authorization => auth('GET', $q, '') } });
is($J->decode($r->{content})->{trade_state}, 'CLOSED', 'closed order reads CLOSED');

# ---- failure injection and counters ----
$t->sandbox_post('/sandbox/fail', { api => 'jsapi', times => 1 });
my $order2 = $order =~ s/$no/${no}B/r;
$r = jpost($path, $order2, { Authorization => auth('POST', $path, $order2) });
is($r->{status}, 500, 'injected failure -> 500');
$r = jpost($path, $order2, { Authorization => auth('POST', $path, $order2) });
is($r->{status}, 200, 'next call works again');
$t->sandbox_post('/sandbox/fail', { api => 'token', times => 1 });
(undef, $a) = jget("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=$secret");
is($a->{errcode}, -1, 'injected -1 on a mini-program API');
my $stats = $t->sandbox_get('/sandbox/stats')->{json}{calls};
is($stats->{jsapi}, 8, 'jsapi calls counted');
is($stats->{token}, 4, 'token calls counted');

done_testing;
