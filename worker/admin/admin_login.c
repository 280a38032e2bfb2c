/*
 * admin_login.c -- teacher login: argon2id password verification and the
 * teacher session token.
 *
 * KDF parameters: argon2id, t=2, m=19 MiB, p=1 (the OWASP minimum for
 * argon2id): ~30-60 ms and 19 MiB per login in a pool child, so a handful
 * of concurrent logins cannot exhaust a child's memory.  Stored hashes carry
 * their own parameters, so raising them later keeps old hashes valid.
 *
 * Unknown user and wrong password take the same path (a verification
 * against a dummy hash) and give the same 401, so neither the answer nor its
 * timing tells which usernames exist.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <argon2.h>
#include <stdlib.h>
#include <openssl/rand.h>

#include "admin.h"
#include "handlers.h"
#include "login_backoff.h"
#include "token.h"
#include "log.h"

#define ADM_KDF_T     2
#define ADM_KDF_M_KIB 19456
#define ADM_KDF_P     1
#define ADM_SALT_LEN  16
#define ADM_HASH_LEN  32
#define ADM_PWD_MAX   256

int
adm_password_hash(const char *pwd, char *encoded, size_t n)
{
    unsigned char salt[ADM_SALT_LEN];

    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        return -1;
    }
    int rc = argon2id_hash_encoded(ADM_KDF_T, ADM_KDF_M_KIB, ADM_KDF_P, pwd,
        strlen(pwd), salt, sizeof(salt), ADM_HASH_LEN, encoded, n);
    return rc == ARGON2_OK ? 0 : -1;
}

/* A hash of a random password, made once per process, verified against
 * when the username is unknown. */
static const char *
dummy_hash(void)
{
    static char enc[160];
    if (enc[0] == '\0') {
        char pwd[24];
        if (adm_random_text(pwd, 20) != 0
            || adm_password_hash(pwd, enc, sizeof(enc)) != 0)
        {
            return NULL;
        }
    }
    return enc;
}

/*
 * Per-username backoff (the rule: login_backoff.c).  Checked before the
 * password, so a throttled guess costs no argon2 either; the edge's
 * per-address buckets count only the 401s, never these 429s, so one
 * hammered username cannot shut a school's other teachers out.
 */
static int64_t
throttle_wait(tucai_ctx_t *ctx, const char *user, int64_t now)
{
    uint64_t failures = 0, last = 0;

    if (adm_query_u64(ctx, &failures,
            "SELECT failures FROM login_throttle WHERE username = %s"
            " AND last_failure_at > %ld",
            user, now - ADM_LOGIN_FORGET)
            != 1
        || failures < ADM_LOGIN_FREE
        || adm_query_u64(ctx, &last,
               "SELECT last_failure_at FROM login_throttle WHERE username = %s",
               user)
            != 1)
    {
        return 0;
    }
    return adm_login_backoff(failures, (int64_t) last, now);
}

static void
throttle_failed(tucai_ctx_t *ctx, const char *user, int64_t now)
{
    (void) adm_exec(ctx, NULL,
        "INSERT INTO login_throttle (username, failures, last_failure_at)"
        " VALUES (%s, 1, %ld) ON DUPLICATE KEY UPDATE failures ="
        " IF(last_failure_at > %ld, failures + 1, 1), last_failure_at = %ld",
        user, now, now - ADM_LOGIN_FORGET, now);
    (void) adm_exec(ctx, NULL,
        "DELETE FROM login_throttle WHERE last_failure_at < %ld LIMIT 100",
        now - ADM_LOGIN_FORGET);
}

static int
unauthorized(tucai_resp_t *resp)
{
    return resp_error(resp, 401, "UNAUTHORIZED", "用户名或密码错误",
        "wrong username or password", NULL);
}

/* POST /admin/api/v1/login {"username","password"} -> {"token","school"} */
int
admin_login(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    json_t     *body;
    const char *user, *pwd;

    if (adm_json_body(req, resp, &body) != 0) {
        return 0;
    }
    user = json_string_value(json_object_get(body, "username"));
    pwd = json_string_value(json_object_get(body, "password"));
    if (user == NULL || pwd == NULL || user[0] == '\0' || pwd[0] == '\0'
        || strlen(user) > 64 || strlen(pwd) > ADM_PWD_MAX)
    {
        const char *field = user == NULL || user[0] == '\0' || strlen(user) > 64
            ? "username"
            : "password";
        json_decref(body);
        return resp_error(resp, 400, "BAD_REQUEST", "请输入用户名和密码",
            "username and password required",
            json_pack("{s:s}", "field", field));
    }
    if (ctx->db == NULL) {
        json_decref(body);
        return resp_db_unavailable(resp);
    }

    int64_t now = (int64_t) time(NULL);
    int64_t wait = throttle_wait(ctx, user, now);
    if (wait > 0) {
        tlog_info("admin login throttled: username \"%s\" for %lld s", user,
            (long long) wait);
        json_decref(body);
        return resp_refuse(resp, TUCAI_ERR_LOGIN_THROTTLED,
            json_pack("{s:I}", "retry_after", (json_int_t) wait));
    }

    MYSQL_RES *res = adm_query(ctx,
        "SELECT t.id, t.school_id, t.pwd_hash, s.name FROM teachers t"
        " JOIN schools s ON s.id = t.school_id WHERE t.username = %s",
        user);
    if (res == NULL) {
        json_decref(body);
        return resp_db_unavailable(resp);
    }
    MYSQL_ROW   row = mysql_fetch_row(res);
    const char *hash = row ? row[2] : dummy_hash();
    int         ok = hash != NULL
        && argon2id_verify(hash, pwd, strlen(pwd)) == ARGON2_OK && row != NULL;

    if (!ok) {
        throttle_failed(ctx, user, now);
        if (row != NULL) {
            /* A wrong password for a real account is worth a trace. */
            adm_who_t who = { (uint32_t) strtoul(row[0], NULL, 10),
                (uint32_t) strtoul(row[1], NULL, 10) };
            (void) adm_audit(ctx, req, &who, "login.failed", user, NULL);
        }
        mysql_free_result(res);
        json_decref(body);
        return unauthorized(resp);
    }

    uint32_t tid = (uint32_t) strtoul(row[0], NULL, 10);
    uint32_t sid = (uint32_t) strtoul(row[1], NULL, 10);
    json_t  *school = json_pack("{s:i,s:s}", "id", (int) sid, "name", row[3]);
    char     uname[72];
    snprintf(uname, sizeof(uname), "%s", user);
    mysql_free_result(res);
    (void) adm_exec(
        ctx, NULL, "DELETE FROM login_throttle WHERE username = %s", uname);
    json_decref(body);

    char tok[TUCAI_TOKEN_MAX + 1];
    if (token_issue(ctx->cfg, 't', tid, sid, tok, sizeof(tok)) != 0) {
        json_decref(school);
        return resp_error(resp, 503, "TOKEN_UNAVAILABLE", "无法签发登录凭证",
            "cannot issue a session token",
            json_pack("{s:i}", "retry_after", 5));
    }

    adm_who_t who = { tid, sid };
    (void) adm_audit(ctx, req, &who, "login", uname, NULL);

    return resp_json(resp, 200,
        json_pack("{s:s,s:o,s:i}", "token", tok, "school", school, "expires_in",
            ctx->cfg->token_ttl_s));
}
