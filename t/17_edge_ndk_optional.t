# ngx_devel_kit is optional: without its load_module line the module loads
# and serves everything; only set_tucai_token_* fail `nginx -t`, saying
# what to load.  With it they work (t/10_edge_auth.t).
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1, ndk => 0, nginx_extra_server => q{
        location = /edge/vars {
            return 200 "op=$tucai_op status=$tucai_token_status";
        }
});
ok($t->has_nginx, 'nginx with the module started') or BAIL_OUT('no nginx');

my $prefix = $t->dir . '/nginx';
my $conf = do { local (@ARGV, $/) = "$prefix/nginx.conf"; <> };
unlike($conf, qr{ndk_http_module}, 'nginx.conf loads no ngx_devel_kit');

# nothing of ngx_devel_kit mapped in the running nginx
my ($master) = grep { /^\d+$/ } split /\s+/, do { local (@ARGV, $/) = "$prefix/nginx.pid"; <> // '' };
my $maps = $master ? do { local (@ARGV, $/) = "/proc/$master/maps"; <> } : '';
like($maps, qr{ngx_http_tucai_module\.so}, 'our module is mapped');
unlike($maps, qr{ndk_http_module\.so}, 'ngx_devel_kit is not');

my $r = $t->get('/api/v1/health');
is($r->{status}, 200, 'health through the pool');
is($r->{json} && $r->{json}{status}, 'ok', 'health: ok (database reached)');

$r = $t->get('/api/v1/ping', token => $t->token('s', 42, 7));
is($r->{status}, 200, 'ping with a token');
is($r->{json}{student}, 42, 'token verified without ngx_devel_kit');

$r = $t->get('/api/v1/me');
is($r->{status}, 401, 'refusals still answered by the edge');
is($r->{json}{error}, 'UNAUTHORIZED', 'refusal is JSON');

is($t->get('/edge/vars', token => $t->token('s', 42, 7))->{content},
   'op= status=ok', 'module variables work');

# nginx -t of the same configuration plus a set_tucai_token_* directive
sub nginx_t {
    my ($text, $name) = @_;
    my $f = "$prefix/$name.conf";
    open my $fh, '>', $f or die "$f: $!";
    print $fh $text;
    close $fh;
    my $out = qx{/usr/sbin/nginx -t -p '$prefix/' -c '$f' -g 'pid $prefix/$name.pid; error_log stderr;' 2>&1};
    return ($? >> 8, $out);
}

(my $with_set = $conf) =~ s{(location = /edge/vars \{)}{$1\n            set_tucai_token_student \$sid \$arg_t;}
    or die 'no /edge/vars location';
my ($rc, $out) = nginx_t($with_set, 'set-no-ndk');
isnt($rc, 0, 'set_tucai_token_student without ngx_devel_kit: nginx -t fails');
like($out, qr{"set_tucai_token_student" needs ngx_devel_kit: install libnginx-mod-http-ndk and load modules/ndk_http_module\.so},
     'nginx -t says what to load');
like($out, qr{set-no-ndk\.conf:\d+}, 'nginx -t names the line');

(my $with_ndk = $with_set) =~ s{^(load_module \S*ngx_http_tucai_module\.so;)}{load_module /usr/lib/nginx/modules/ndk_http_module.so;\n$1}m
    or die 'no load_module line';
($rc, $out) = nginx_t($with_ndk, 'set-ndk');
is($rc, 0, 'with ngx_devel_kit loaded the same configuration passes') or diag $out;

# ngx_devel_kit loaded after our module: still found (looked up at parse)
(my $ndk_after = $with_set) =~ s{^(load_module \S*ngx_http_tucai_module\.so;)}{$1\nload_module /usr/lib/nginx/modules/ndk_http_module.so;}m;
($rc, $out) = nginx_t($ndk_after, 'set-ndk-after');
is($rc, 0, 'ngx_devel_kit loaded after the module: passes too') or diag $out;

done_testing;
