package Tucai::PaySeed;
# A student at step "submit", seeded by SQL for the pay tests (t/4*): a new
# school, a bound WeChat account, every earlier step done, and drafts with
# their (tiny, JPEG-framed) photo files.
use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(pay_seed);

my $seq = 0;

# pay_seed($t, %o) -> {school, sid, acc, openid, drafts => [ids], draft
# (the first), token}.  %o: fee (fen, 1200), subs (1: both subscriptions
# accepted), drafts (1), name ("Pay School N"), contact, tag (prefix of
# the openid and student number, "P").
sub pay_seed {
    my ($t, %o) = @_;
    $seq++;
    my $fee = $o{fee} // 1200;
    my $subs = $o{subs} // 1;
    my $tag = $o{tag} // 'P';
    my $now = time;
    my $name = $o{name} // "Pay School $seq";
    my $contact = $o{contact} // 'office 0571-1';
    $t->sql_do("INSERT INTO schools (name, contact, fee_fen, notice_body, tpl_photo_status,"
        . " tpl_payment_result, created_at) VALUES ('$name', '$contact', $fee,"
        . " 'notice', 'TPL_photo_status', 'TPL_payment_result', $now)");
    my $school = $t->sql_one("SELECT MAX(id) FROM schools");
    my $openid = "o${tag}Pay${seq}x$$";
    $t->sql_do("INSERT INTO accounts (openid, created_at, last_login_at) VALUES ('$openid', $now, $now)");
    my $acc = $t->sql_one("SELECT id FROM accounts WHERE openid = '$openid'");
    $t->sql_do("INSERT INTO students (school_id, student_no, name, account_id, step,"
        . " notice_ack_version, subs_set, sub_photo_status, sub_payment_result,"
        . " consents_photo_status, consents_payment_result,"
        . " video_started_at, video_finished_at, created_at, updated_at) VALUES"
        . " ($school, '$tag$seq', 'Student $seq', $acc, 'submit', 1, 1, $subs, $subs,"
        . " $subs, $subs,"
        . " $now - 200, $now - 100, $now, $now)");
    my $sid = $t->sql_one("SELECT id FROM students WHERE account_id = $acc");
    mkdir $t->files_dir . '/drafts';
    my @d;
    for my $i (1 .. ($o{drafts} // 1)) {
        my $rel = "drafts/$sid-$i.jpg";
        open my $f, '>:raw', $t->files_dir . "/$rel" or die "$rel: $!";
        print $f "\xff\xd8\xff\xe0 draft $i of student $sid \xff\xd9";
        close $f;
        $t->sql_do("INSERT INTO drafts (student_id, capture_id, created_at, photo_path, original_path)"
            . " VALUES ($sid, 0, $now, '$rel', '$rel')");
        push @d, $t->sql_one("SELECT MAX(id) FROM drafts WHERE student_id = $sid");
    }
    return { school => $school, sid => $sid, acc => $acc, openid => $openid, drafts => \@d,
             draft => $d[0], token => $t->token('s', $acc, $school) };
}

1;
