/*
 * admin_cli.c -- offline commands: `tucai-worker -c worker.ini admin CMD`.
 *
 *   school-add --name N [--contact C] [--fee FEN] [--video-url U] [--video-s S]
 *       prints the new school id
 *   teacher-add --school ID --username U [--password-file F]
 *       password from the file's first line, else from stdin's first line
 *   demo OUT.json [--base-url URL] [--sandbox-url URL]
 *       idempotent demo seed (school, teacher, roster, codes), see below
 *
 * Codes are stored hashed, so `demo` keeps its plain codes and the teacher
 * password only in OUT.json; a re-run reads that file back and makes the
 * same password and codes valid again (even on a fresh database), so tests
 * and people holding the old file are never left with dead codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "db.h"
#include "handlers.h"

#define DEMO_SCHOOL   "演示中学 Demo High School"
#define DEMO_CONTACT  "图采办 王老师 0571-88880000 / photo office, Ms Wang"
#define DEMO_TEACHER  "demo"
#define DEMO_FEE_FEN  1500
#define DEMO_VIDEO_S  3
#define DEMO_STUDENTS 24

static const char *demo_names[DEMO_STUDENTS] = {
    "张伟",
    "王芳",
    "李娜",
    "刘洋",
    "陈静",
    "杨磊",
    "赵敏",
    "黄强",
    "周杰",
    "吴婷",
    "徐明",
    "孙丽",
    "马超",
    "朱琳",
    "胡军",
    "郭涛",
    "何雪",
    "高峰",
    "林红",
    "罗刚",
    "郑爽",
    "梁晨",
    "宋佳",
    "谢宇",
};

static const char *
opt(int argc, char **argv, const char *name)
{
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            return argv[i + 1];
        }
    }
    return NULL;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int
usage(void)
{
    fprintf(stderr,
        "usage: tucai-worker -c INI admin school-add --name N [--contact C]"
        " [--fee FEN] [--video-url U] [--video-s S]\n"
        "       tucai-worker -c INI admin teacher-add --school ID --username U"
        " [--password-file F]   (else the password is read from stdin)\n"
        "       tucai-worker -c INI admin demo OUT.json [--base-url URL]"
        " [--sandbox-url URL]\n");
    return 2;
}

static int
cmd_school_add(tucai_ctx_t *ctx, int argc, char **argv)
{
    const char   *name = opt(argc, argv, "--name");
    const char   *contact = opt(argc, argv, "--contact");
    const char   *url = opt(argc, argv, "--video-url");
    unsigned long fee = 0, video_s = 60;

    if (name == NULL || name[0] == '\0' || strlen(name) > 128
        || (contact && strlen(contact) > 255) || (url && strlen(url) > 512)
        || (opt(argc, argv, "--fee")
            && parse_uint(opt(argc, argv, "--fee"), 1000000, &fee) != 0)
        || (opt(argc, argv, "--video-s")
            && parse_uint(opt(argc, argv, "--video-s"), 3600, &video_s) != 0))
    {
        return usage();
    }
    if (adm_exec(ctx, NULL,
            "INSERT INTO schools (name, contact, fee_fen, notice_body, video_url,"
            " video_duration_s, created_at) VALUES (%s, %s, %u, '', %s, %u, %ld)",
            name, contact ? contact : "", (unsigned) fee, url ? url : "",
            (unsigned) video_s, (int64_t) time(NULL))
        != 0)
    {
        fprintf(stderr, "school-add: database error\n");
        return 1;
    }
    printf("%llu\n", (unsigned long long) adm_last_id(ctx));
    return 0;
}

static int
read_line(FILE *f, char *buf, size_t n)
{
    if (fgets(buf, (int) n, f) == NULL) {
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? 0 : -1;
}

static int
valid_username(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 64)
        return 0;
    for (; *u; u++) {
        if (!((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z')
                || (*u >= '0' && *u <= '9') || *u == '.' || *u == '_'
                || *u == '-' || *u == '@'))
        {
            return 0;
        }
    }
    return 1;
}

static int
teacher_upsert(tucai_ctx_t *ctx, uint32_t school, const char *user,
    const char *pwd, uint64_t *id)
{
    char enc[160];
    if (adm_password_hash(pwd, enc, sizeof(enc)) != 0) {
        return -1;
    }
    /* An existing username gets the new password (and school). */
    if (adm_exec(ctx, NULL,
            "INSERT INTO teachers (school_id, username, pwd_hash, created_at)"
            " VALUES (%u, %s, %s, %ld) ON DUPLICATE KEY UPDATE"
            " school_id = VALUES(school_id), pwd_hash = VALUES(pwd_hash),"
            " id = LAST_INSERT_ID(id)",
            school, user, enc, (int64_t) time(NULL))
        != 0)
    {
        return -1;
    }
    *id = adm_last_id(ctx);
    return 0;
}

static int
cmd_teacher_add(tucai_ctx_t *ctx, int argc, char **argv)
{
    const char   *user = opt(argc, argv, "--username");
    const char   *pf = opt(argc, argv, "--password-file");
    unsigned long school;
    char          pwd[258];
    uint64_t      exists, id;

    if (parse_uint(opt(argc, argv, "--school"), UINT32_MAX, &school) != 0
        || user == NULL || !valid_username(user))
    {
        return usage();
    }
    FILE *f = pf ? fopen(pf, "r") : stdin;
    if (f == NULL) {
        fprintf(stderr, "teacher-add: %s: %s\n", pf, strerror(errno));
        return 1;
    }
    int rc = read_line(f, pwd, sizeof(pwd));
    if (pf)
        fclose(f);
    if (rc != 0 || strlen(pwd) < 8 || strlen(pwd) > 256) {
        fprintf(
            stderr, "teacher-add: the password must be 8..256 characters\n");
        return 1;
    }
    if (adm_query_u64(ctx, &exists, "SELECT id FROM schools WHERE id = %u",
            (unsigned) school)
        != 1)
    {
        fprintf(stderr, "teacher-add: no school %lu\n", school);
        return 1;
    }
    if (teacher_upsert(ctx, (uint32_t) school, user, pwd, &id) != 0) {
        fprintf(stderr, "teacher-add: database error\n");
        return 1;
    }
    printf("%llu\n", (unsigned long long) id);
    return 0;
}

/* ---- demo ---- */

/* The plain code the previous run wrote for student_no, if any. */
static const char *
old_code(json_t *old, const char *no)
{
    size_t  i;
    json_t *c;
    json_array_foreach (json_object_get(old, "codes"), i, c) {
        const char *n = json_string_value(json_object_get(c, "student_no"));
        if (n && strcmp(n, no) == 0) {
            return json_string_value(json_object_get(c, "code"));
        }
    }
    return NULL;
}

/* Makes the known code the student's only active one (re-storing it on a
 * fresh database).  Returns 0, 1 when it belongs to someone else, -1. */
static int
demo_keep_code(
    tucai_ctx_t *ctx, uint32_t school, uint64_t sid, const char *code)
{
    unsigned char h[32];
    uint64_t      owner;

    adm_code_hash(code, h);
    int rc = adm_query_u64(ctx, &owner,
        "SELECT student_id FROM codes WHERE code_hash = %*s", (int) sizeof(h),
        h);
    if (rc < 0)
        return -1;
    if (rc == 1 && owner != sid)
        return 1;
    if (adm_exec(ctx, NULL,
            "UPDATE codes SET status = 'revoked', revoked_at = %ld"
            " WHERE student_id = %lu AND status = 'active' AND code_hash <> %*s",
            (int64_t) time(NULL), sid, (int) sizeof(h), h)
        != 0)
    {
        return -1;
    }
    if (rc == 1) {
        return adm_exec(ctx, NULL,
            "UPDATE codes SET status = 'active', revoked_at = NULL, expires_at = 0"
            " WHERE code_hash = %*s",
            (int) sizeof(h), h);
    }
    return adm_code_store(ctx, school, sid, code);
}

static int
write_atomic(const char *path, const char *text)
{
    char tmp[TUCAI_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int) getpid());
    /* it holds the teacher's password and live codes: owner only */
    int   fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        return -1;
    }
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0
        && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int
demo_seed(tucai_ctx_t *ctx, json_t *old, const char *base_url,
    const char *sandbox_url, json_t **out)
{
    uint64_t    school, tid;
    int64_t     now = (int64_t) time(NULL);
    char        video_url[600], pwd[32];
    const char *opwd = json_string_value(
        json_object_get(json_object_get(old, "teacher"), "password"));

    /* the H5 client's SVG animation stands in for a video (no media file ships) */
    snprintf(video_url, sizeof(video_url), "%s/h5/guide.svg", base_url);

    int rc = adm_query_u64(ctx, &school,
        "SELECT id FROM schools WHERE name = %s ORDER BY id LIMIT 1 FOR UPDATE",
        DEMO_SCHOOL);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (adm_exec(ctx, NULL,
                "INSERT INTO schools (name, notice_body, created_at)"
                " VALUES (%s, '', %ld)",
                DEMO_SCHOOL, now)
            != 0)
        {
            return -1;
        }
        school = adm_last_id(ctx);
    }
    /* The demo's knobs are reset on every run: a paid school whose guide
     * video lasts 3 s. */
    if (adm_exec(ctx, NULL,
            "UPDATE schools SET contact = %s, fee_fen = %u, video_url = %s,"
            " video_duration_s = %u, notice_title = %s,"
            " notice_body = IF(notice_body = '', %s, notice_body),"
            " tpl_photo_status = IF(tpl_photo_status = '', 'demo-tpl-photo-status', tpl_photo_status),"
            " tpl_payment_result = IF(tpl_payment_result = '', 'demo-tpl-payment-result', tpl_payment_result)"
            " WHERE id = %lu",
            DEMO_CONTACT, DEMO_FEE_FEN, video_url, DEMO_VIDEO_S,
            "拍摄须知 / Before you shoot",
            "请穿深色有领上衣，摘下眼镜，露出双耳和眉毛，在浅色背景前用后置摄像头拍摄。"
            "冒用他人身份采集将被追究责任。\n"
            "Wear a dark collared top, remove glasses, show both ears and "
            "eyebrows, use the rear camera in front of a plain light background. "
            "Using someone else's identity is prohibited.",
            school)
        != 0)
    {
        return -1;
    }

    if (opwd && strlen(opwd) >= 8 && strlen(opwd) < sizeof(pwd)) {
        snprintf(pwd, sizeof(pwd), "%s", opwd);
    } else if (adm_random_text(pwd, 12) != 0) {
        return -1;
    }
    if (teacher_upsert(ctx, (uint32_t) school, DEMO_TEACHER, pwd, &tid) != 0) {
        return -1;
    }

    json_t *codes = json_array();
    *out = json_pack("{s:s,s:{s:s,s:s},s:I,s:s,s:o,s:s,s:i,s:i}", "base_url",
        base_url, "teacher", "username", DEMO_TEACHER, "password", pwd,
        "school_id", (json_int_t) school, "school_name", DEMO_SCHOOL, "codes",
        codes, "sandbox_url", sandbox_url, "fee_fen", DEMO_FEE_FEN,
        "video_duration_s", DEMO_VIDEO_S);

    for (int i = 0; i < DEMO_STUDENTS; i++) {
        char     no[16], phone[16], code[ADM_CODE_MAX], prefix[16];
        uint64_t sid;

        snprintf(no, sizeof(no), "D2026%03d", i + 1);
        snprintf(phone, sizeof(phone), "1380013%04d", i + 1);
        if (adm_exec(ctx, NULL,
                "INSERT INTO students (school_id, student_no, name, phone,"
                " created_at, updated_at) VALUES (%lu, %s, %s, %s, %ld, %ld)"
                " ON DUPLICATE KEY UPDATE name = VALUES(name),"
                " id = LAST_INSERT_ID(id)",
                school, no, demo_names[i], i % 2 ? phone : NULL, now, now)
            != 0)
        {
            return -1;
        }
        sid = adm_last_id(ctx);

        const char *oc = old_code(old, no);
        snprintf(prefix, sizeof(prefix), "%llu-", (unsigned long long) school);
        rc = 1;
        if (oc && strncmp(oc, prefix, strlen(prefix)) == 0
            && strlen(oc) < ADM_CODE_MAX) {
            rc = demo_keep_code(ctx, (uint32_t) school, sid, oc);
            if (rc < 0)
                return -1;
            if (rc == 0)
                snprintf(code, sizeof(code), "%s", oc);
        }
        if (rc != 0 && adm_code_issue(ctx, (uint32_t) school, sid, code) != 0) {
            return -1;
        }
        json_array_append_new(codes,
            json_pack("{s:s,s:s,s:s}", "student_no", no, "name", demo_names[i],
                "code", code));
    }
    json_t *d = json_pack("{s:i}", "students", DEMO_STUDENTS);
    rc = adm_audit_raw(
        ctx, (uint32_t) school, (uint32_t) tid, "", "demo.seed", "", d);
    json_decref(d);
    return rc;
}

static int
cmd_demo(tucai_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        return usage();
    }
    const char *path = argv[1];
    const char *base = opt(argc, argv, "--base-url");
    const char *sandbox = opt(argc, argv, "--sandbox-url");
    json_t     *old = json_load_file(path, 0, NULL), *out = NULL;

    if (old && !json_is_object(old)) {
        json_decref(old);
        old = NULL;
    }
    if (base == NULL) {
        base = json_string_value(json_object_get(old, "base_url"));
    }
    if (sandbox == NULL) {
        sandbox = json_string_value(json_object_get(old, "sandbox_url"));
    }
    if (base == NULL)
        base = "http://127.0.0.1:8080";
    if (sandbox == NULL)
        sandbox = "http://127.0.0.1:8081";
    if (strlen(base) > 256 || strlen(sandbox) > 256) {
        json_decref(old);
        return usage();
    }

    /* One transaction: a failed seed leaves neither rows nor a file. */
    if (adm_begin(ctx) != 0 || demo_seed(ctx, old, base, sandbox, &out) != 0
        || adm_commit(ctx) != 0)
    {
        adm_rollback(ctx);
        json_decref(old);
        json_decref(out);
        fprintf(stderr, "demo: database error\n");
        return 1;
    }
    json_decref(old);

    char *text = json_dumps(out, JSON_INDENT(2));
    json_decref(out);
    if (text == NULL || write_atomic(path, text) != 0) {
        fprintf(stderr, "demo: cannot write %s: %s\n", path, strerror(errno));
        free(text);
        return 1;
    }
    free(text);
    printf("%s\n", path);
    return 0;
}

int
admin_cli(tucai_ctx_t *ctx, int argc, char **argv)
{
    /* Accept argv starting at "admin" or at the command. */
    if (argc > 0 && strcmp(argv[0], "admin") == 0) {
        argc--;
        argv++;
    }
    if (argc < 1) {
        return usage();
    }
    if (ctx->db == NULL && db_connect(ctx) != 0) {
        fprintf(stderr, "admin: cannot connect to the database\n");
        return 1;
    }
    if (strcmp(argv[0], "school-add") == 0)
        return cmd_school_add(ctx, argc, argv);
    if (strcmp(argv[0], "teacher-add") == 0)
        return cmd_teacher_add(ctx, argc, argv);
    if (strcmp(argv[0], "demo") == 0)
        return cmd_demo(ctx, argc, argv);
    return usage();
}
