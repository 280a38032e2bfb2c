# 20_journey_lib.pl -- helpers shared by the journey tests (t/2*_journey*.t):
# seeding schools, students and collection codes by SQL, walking a student
# through the steps over HTTP, uploading captures.  Loaded with
#   require "./t/20_journey_lib.pl";
use strict;
use warnings;
use Digest::SHA qw(sha256_hex);
use JSON::PP;
use Test::More;
use Tucai::Test;

our $TD = "$Tucai::Test::ROOT/build/testdata";
our $JSONX = JSON::PP->new->utf8->canonical;

# Knobs for tests: short cooldown, a generous code rate (many scans from
# 127.0.0.1), everything else at the defaults unless overridden.
sub j_harness {
    my (%o) = @_;
    my %k = (cooldown => '60s', liveness_lock_after => 3,
             quality_lock_after => 5, quality_lock => '30m',
             drafts_capacity => 3, draft_delete_delay => '24h',
             # The pool's own rule (leases in MariaDB) is what these tests
             # check; nginx's edge counter may still hold the slot of the
             # previous, already answered upload for a moment.
             uploads_in_flight => 16,
             %{ delete $o{knobs} || {} });
    my $extra = join '', map { "        tucai_$_ $k{$_};\n" } sort keys %k;
    $extra .= "        tucai_code_rate 6000r/m burst=1000;\n"
            . "        tucai_login_rate 6000r/m burst=1000;\n"
            . "        tucai_capture_fail_rate 6000r/m burst=1000;\n"
            . "        tucai_checks_in_flight 0;\n";
    # TUCAI_JOURNEY_ASAN=1 runs any journey test against the ASan/UBSan pool.
    $o{asan} //= 1 if $ENV{TUCAI_JOURNEY_ASAN};
    return Tucai::Test->new(worker_children => 2, nginx_extra_server => $extra, %o);
}

my $seq = 0;

# A school; returns its id.  %o: fee, video_s, notice_version, name, contact.
sub seed_school {
    my ($t, %o) = @_;
    $seq++;
    my $name = $o{name} // "测试中学 $seq";
    my $contact = $o{contact} // "图像采集办 0571-8800$seq";
    $t->sql_do(sprintf("INSERT INTO schools (name, contact, fee_fen, notice_version,"
        . " notice_title, notice_body, video_url, video_duration_s, tpl_photo_status,"
        . " tpl_payment_result, created_at) VALUES ('%s', '%s', %d, %d, '须知',"
        . " '请按要求拍摄', 'https://video.example/guide.mp4', %d, 'TPL_PHOTO', 'TPL_PAY',"
        . " UNIX_TIMESTAMP())", $name, $contact, $o{fee} // 0, $o{notice_version} // 1,
        $o{video_s} // 60));
    return $t->sql_one("SELECT MAX(id) FROM schools");
}

# A student with an active code; returns (student_id, code_text).
sub seed_student {
    my ($t, $school, %o) = @_;
    $seq++;
    my $no = $o{student_no} // sprintf("S%06d", $seq);
    my $name = $o{name} // "学生$seq";
    $t->sql_do("INSERT INTO students (school_id, student_no, name, created_at)"
        . " VALUES ($school, '$no', '$name', UNIX_TIMESTAMP())");
    my $sid = $t->sql_one("SELECT id FROM students WHERE school_id = $school"
        . " AND student_no = '$no'");
    my $code = $o{code} // sprintf("%d-TST%04dABCDEFGHJ", $school, $seq);
    my $status = $o{status} // 'active';
    my $exp = $o{expires_at} // 0;
    $t->sql_do("INSERT INTO codes (school_id, student_id, code_hash, status, created_at,"
        . " expires_at) VALUES ($school, $sid, UNHEX('" . sha256_hex($code) . "'),"
        . " '$status', UNIX_TIMESTAMP(), $exp)");
    return ($sid, $code);
}

sub login {
    my ($t, $jscode) = @_;
    my $r = $t->post_json('/api/v1/login', { code => $jscode });
    is($r->{status}, 200, "login $jscode") or diag($r->{content});
    return $r->{json}{token};
}

sub api_post { my ($t, $tok, $path, $data) = @_; $t->post_json($path, $data // {}, token => $tok) }
sub api_get  { my ($t, $tok, $path) = @_; $t->get($path, token => $tok) }

# Walks a logged-in student from "code" up to the step $to (one of phone,
# confirm, notice, subscribe, video, shoot); returns the token to use then
# (confirm issues a fresh one).  Asserts every step on the way.
sub walk {
    my ($t, $tok, $code, $to, %o) = @_;
    my @steps = qw(code phone confirm notice subscribe video shoot);
    my %at = map { $steps[$_] => $_ } 0 .. $#steps;
    my $want = $at{$to} // die "walk: bad step $to";
    my $r;
    return $tok if $want == 0;
    $r = api_post($t, $tok, '/api/v1/code', { code => $code });
    is($r->{status}, 200, 'code accepted') or diag($r->{content});
    return $tok if $want == 1;
    $r = api_post($t, $tok, '/api/v1/phone', { phone => $o{phone} // '13800138000' });
    is($r->{status}, 200, 'phone accepted') or diag($r->{content});
    return $tok if $want == 2;
    $r = api_post($t, $tok, '/api/v1/confirm', {});
    is($r->{status}, 200, 'confirmed') or diag($r->{content});
    $tok = $r->{json}{token} // $tok;
    return $tok if $want == 3;
    my $v = api_get($t, $tok, '/api/v1/notice')->{json}{version};
    $r = api_post($t, $tok, '/api/v1/notice/ack', { version => $v });
    is($r->{json}{step}, 'subscribe', 'notice acknowledged') or diag($r->{content});
    return $tok if $want == 4;
    $r = api_post($t, $tok, '/api/v1/subscriptions',
                  { photo_status => JSON::PP::true, payment_result => JSON::PP::true });
    is($r->{json}{step}, 'video', 'subscriptions answered') or diag($r->{content});
    return $tok if $want == 5;
    $r = api_post($t, $tok, '/api/v1/video/start', {});
    is($r->{status}, 200, 'video started') or diag($r->{content});
    # The server's clock decides; move the recorded start back instead of
    # sleeping through the video.
    my ($acct) = $tok =~ /^t1\.[^.]+\.s\.(\d+)\./;
    $t->sql_do("UPDATE students SET video_started_at = video_started_at - 3600"
        . " WHERE account_id = $acct");
    $r = api_post($t, $tok, '/api/v1/video/finish', {});
    is($r->{json}{step}, 'shoot', 'video finished') or diag($r->{content});
    return $tok;
}

sub account_of { my ($tok) = @_; ($tok =~ /^t1\.[^.]+\.s\.(\d+)\./)[0] }

sub slurp_file {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# POST /captures.  %o: photo (file under build/testdata/set), burst
# (live|static|rigid), meta ({...}), raw_photo (bytes).
sub capture {
    my ($t, $tok, %o) = @_;
    my @f;
    my $photo = defined $o{raw_photo} ? $o{raw_photo}
              : slurp_file("$TD/set/" . ($o{photo} // 'good.jpg'));
    push @f, photo => { data => $photo, filename => 'photo.jpg', type => 'image/jpeg' };
    my $burst = $o{burst} // 'live';
    my $b = $JSONX->decode(slurp_file("$TD/bursts.json"))->{$burst};
    for my $fr (@{ $b->{frames} }) {
        push @f, frames => { file => "$TD/burst/$fr", filename => $fr, type => 'image/jpeg' };
    }
    push @f, meta => $JSONX->encode($o{meta} // { camera => 'back', source => 'camera' });
    return $t->post_multipart('/api/v1/captures', \@f, token => $tok);
}

1;
