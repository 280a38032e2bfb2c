# Edge: request bodies are bounded and JSON bodies validated by nginx, and
# nginx's own failures (pool down, body over client_max_body_size) answer in
# API.md's JSON form.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Tucai::Test;

my $t = Tucai::Test->new(worker_children => 1,
    nginx_extra_server => "tucai_max_upload 64k; tucai_json_max 1k; tucai_roster_max 64k;\n"
        . "client_max_body_size 100k;");
die "missing prerequisite: no nginx module built\n" unless $t->has_nginx;

sub err_is {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: status $status");
    is($r->{json} && $r->{json}{error}, $code, "$name: error $code");
    like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: JSON");
}

my $tok = $t->token('s', 42, 0);

err_is($t->post_json('/api/v1/phone', '{"phone": ', token => $tok), 400, 'BAD_JSON',
       'truncated JSON');
err_is($t->post_json('/api/v1/phone', '[1,2]', token => $tok), 400, 'BAD_JSON',
       'JSON that is not an object');
err_is($t->post_json('/api/v1/phone', '{"a":1,"a":2}', token => $tok), 400, 'BAD_JSON',
       'duplicate keys');
err_is($t->post_json('/api/v1/phone', "\xff\xfe{}", token => $tok), 400, 'BAD_JSON',
       'not UTF-8');
err_is($t->post_json('/api/v1/code', '{"code": tru}', token => $tok), 400, 'BAD_JSON',
       'collection code as JSON is validated too');
err_is($t->post_json('/admin/api/v1/login', 'username=a&password=b'), 400, 'BAD_JSON',
       'form body to a JSON endpoint');

# announced too large: refused before reading the body
my $r = $t->post_json('/api/v1/phone', '{"p":"' . ('x' x 2000) . '"}', token => $tok);
err_is($r, 413, 'BODY_TOO_LARGE', 'JSON over tucai_json_max');
is($r->{json}{limit}, 1024, '413 says the limit');

$r = $t->post_multipart('/api/v1/captures', [photo => { data => 'x' x 70000 }],
                        token => $tok);
err_is($r, 413, 'BODY_TOO_LARGE', 'upload over tucai_max_upload');

# chunked (no Content-Length): counted after reading
my @chunks = (('y' x 8192) x 10);
$r = $t->request('POST', '/api/v1/captures', token => $tok,
                 content_type => 'multipart/form-data; boundary=b',
                 body => sub { shift @chunks });
err_is($r, 413, 'BODY_TOO_LARGE', 'chunked upload over the limit');

# over nginx's own client_max_body_size (found while reading a chunked
# body, so nginx itself answers): JSON too, through tucai_error
@chunks = (('z' x 8192) x 20);
$r = $t->request('POST', '/api/v1/captures', token => $tok,
                 content_type => 'multipart/form-data; boundary=b',
                 body => sub { shift @chunks });
err_is($r, 413, 'BODY_TOO_LARGE', "nginx's client_max_body_size");

# the bad bodies never reached the pool
my @hit = grep { m{"POST /api/v1/(phone|captures|code)} && !/ups=-/ }
          split /\n/, $t->nginx_access_log;
is(scalar @hit, 0, 'refused bodies never reached the pool');

# the same endpoints with good bodies do reach the pool
$r = $t->post_json('/api/v1/phone', { phone => '13800138000' }, token => $tok);
ok($r->{status} != 400 || ($r->{json}{error} // '') ne 'BAD_JSON', 'valid JSON passes');
ok($t->wait_for(sub { $t->nginx_access_log =~ m{"POST /api/v1/phone[^\n]*ups=unix:} }, 5),
   'and reaches the pool');

# pool down: 503 POOL_UNAVAILABLE with retry_after and Retry-After
$t->stop_pool;
$r = $t->get('/api/v1/health');
err_is($r, 503, 'POOL_UNAVAILABLE', 'pool stopped');
ok(($r->{json}{retry_after} // 0) > 0, 'retry_after in the body');
ok(($r->{headers}{'retry-after'} // 0) > 0, 'Retry-After header');
$r = $t->post_json('/api/v1/phone', { phone => '13800138000' }, token => $tok);
err_is($r, 503, 'POOL_UNAVAILABLE', 'pool stopped, with a body');
$t->start_pool;
$r = $t->get('/api/v1/health');
is($r->{status}, 200, 'pool back: health answers again');

done_testing;
