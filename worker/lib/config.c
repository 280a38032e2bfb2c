/* config.c -- worker.ini (libinih) into tucai_config_t; secrets from files. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ini.h>

#include "config.h"

typedef struct {
    tucai_config_t *cfg;
    const char     *path;
    int             err;
} cfg_parse_t;

static void
cpy(char *dst, size_t n, const char *v)
{
    snprintf(dst, n, "%s", v);
}

static int
to_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    long  l;

    errno = 0;
    l = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || l < lo || l > hi) {
        return -1;
    }
    *out = (int) l;
    return 0;
}

/* Reads the first line of a secret file (trailing whitespace dropped). */
static int
read_secret(const char *file, char *out, size_t n)
{
    FILE  *f = fopen(file, "r");
    size_t len;

    if (f == NULL) {
        return -1;
    }
    if (fgets(out, (int) n, f) == NULL) {
        out[0] = '\0';
    }
    fclose(f);
    len = strlen(out);
    while (len > 0 && isspace((unsigned char) out[len - 1])) {
        out[--len] = '\0';
    }
    return 0;
}

static int
split_listen(tucai_config_t *c, const char *v)
{
    char  buf[TUCAI_PATH_MAX * TUCAI_MAX_LISTEN];
    char *save = NULL, *tok;

    cpy(buf, sizeof(buf), v);
    c->nlisten = 0;
    for (tok = strtok_r(buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save))
    {
        if (c->nlisten == TUCAI_MAX_LISTEN || strlen(tok) >= 108) {
            return -1; /* sun_path is 108 bytes */
        }
        cpy(c->listen[c->nlisten++], TUCAI_PATH_MAX, tok);
    }
    return c->nlisten > 0 ? 0 : -1;
}

#define IS(s, k) (strcmp(section, s) == 0 && strcmp(name, k) == 0)
#define STR(s, k, f)                    \
    if (IS(s, k)) {                     \
        cpy(c->f, sizeof(c->f), value); \
        return 1;                       \
    }
#define INT(s, k, f, lo, hi)              \
    if (IS(s, k)) {                       \
        if (to_int(value, lo, hi, &c->f)) \
            goto bad;                     \
        return 1;                         \
    }
#define SECRET(s, k, f)                                                        \
    if (IS(s, k)) {                                                            \
        if (value[0] && read_secret(value, c->f, sizeof(c->f))) {              \
            fprintf(stderr, "%s: [%s] %s: cannot read %s\n", p->path, section, \
                name, value);                                                  \
            p->err = 1;                                                        \
            return 0;                                                          \
        }                                                                      \
        return 1;                                                              \
    }

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
    cfg_parse_t    *p = user;
    tucai_config_t *c = p->cfg;

    if (IS("pool", "listen")) {
        if (split_listen(c, value))
            goto bad;
        return 1;
    }
    INT("pool", "children", children, 1, 256)
    INT("pool", "max_requests", max_requests, 0, 100000000)
    INT("pool", "max_rss_mb", max_rss_mb, 0, 1048576)
    INT("pool", "request_timeout", request_timeout_s, 1, 3600)
    if (IS("pool", "socket_mode")) {
        /* octal; never open to "other": the pool trusts its peers */
        char *end;
        long  m = strtol(value, &end, 8);
        if (*value == '\0' || *end != '\0' || m < 0600 || m > 0770 || (m & 07))
            goto bad;
        c->socket_mode = (int) m;
        return 1;
    }
    STR("pool", "socket_owner", socket_owner)
    STR("pool", "socket_group", socket_group)
    STR("pool", "peer_users", peer_users)
    STR("pool", "peer_groups", peer_groups)
    STR("pool", "pid_file", pid_file)
    STR("pool", "log_file", log_file)

    STR("db", "host", db_host)
    INT("db", "port", db_port, 0, 65535)
    STR("db", "socket", db_socket)
    STR("db", "user", db_user)
    STR("db", "password", db_password)
    SECRET("db", "password_file", db_password)
    STR("db", "name", db_name)
    INT("db", "connect_timeout", db_connect_timeout_s, 1, 60)
    STR("db", "migrations", migrations_dir)

    STR("storage", "dir", storage_dir)
    STR("storage", "uri", storage_uri)
    INT("storage", "failed_retention", storage_failed_retention_s, 60,
        365 * 86400)

    STR("tokens", "key_file", token_key_file)
    INT("tokens", "ttl", token_ttl_s, 60, 90 * 86400)

    STR("wechat", "api_base", wx_api_base)
    STR("wechat", "appid", wx_appid)
    SECRET("wechat", "secret_file", wx_secret)
    INT("wechat", "timeout_ms", wx_timeout_ms, 100, 60000)
    INT("wechat", "retries", wx_retries, 0, 10)
    STR("wechat", "miniprogram_state", wx_mp_state)

    STR("pay", "api_base", pay_api_base)
    STR("pay", "mchid", pay_mchid)
    STR("pay", "merchant_serial", pay_merchant_serial)
    STR("pay", "merchant_key_file", pay_merchant_key_file)
    SECRET("pay", "apiv3_key_file", pay_apiv3_key)
    STR("pay", "platform_keys", pay_platform_keys)
    STR("pay", "notify_url", pay_notify_url)
    INT("pay", "order_expire", pay_order_expire_s, 60, 86400)
    INT("pay", "reconcile", pay_reconcile_s, 1, 86400)
    INT("pay", "notify_window", pay_notify_window_s, 1, 86400)

    STR("photo", "spec_file", photo_spec_file)
    STR("photo", "thresholds_file", photo_thresholds_file)

    INT("codes", "sheet_retention", codes_sheet_retention_s, 60, 90 * 86400)
    INT("outbox", "interval", outbox_interval_s, 1, 86400)
    INT("outbox", "max_attempts", outbox_max_attempts, 1, 100)

    /* Unknown keys are reported loudly but tolerated, so a newer ini (keys
     * of a part not built in) still starts an older worker. */
    fprintf(stderr, "%s: warning: unknown key [%s] %s ignored\n", p->path,
        section, name);
    return 1;
bad:
    fprintf(
        stderr, "%s: [%s] %s: bad value '%s'\n", p->path, section, name, value);
    p->err = 1;
    return 0;
}

static void
defaults(tucai_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->children = 4;
    c->request_timeout_s = 30;
    c->socket_mode = 0660;
    cpy(c->db_host, sizeof(c->db_host), "127.0.0.1");
    c->db_port = 3306;
    cpy(c->db_user, sizeof(c->db_user), "tucai");
    cpy(c->db_name, sizeof(c->db_name), "tucai");
    c->db_connect_timeout_s = 3;
    cpy(c->migrations_dir, sizeof(c->migrations_dir), "sql");
    cpy(c->storage_dir, sizeof(c->storage_dir), "var/files");
    cpy(c->storage_uri, sizeof(c->storage_uri), "/_tucai_files");
    c->token_ttl_s = 7200;
    cpy(c->wx_api_base, sizeof(c->wx_api_base), "https://api.weixin.qq.com");
    c->wx_timeout_ms = 3000;
    c->wx_retries = 2;
    cpy(c->wx_mp_state, sizeof(c->wx_mp_state), "formal");
    cpy(c->pay_api_base, sizeof(c->pay_api_base),
        "https://api.mch.weixin.qq.com");
    c->pay_order_expire_s = 1800;
    c->pay_reconcile_s = 60;
    c->pay_notify_window_s = 300;
    c->codes_sheet_retention_s = 7 * 86400;
    c->storage_failed_retention_s = 3 * 86400;
    c->outbox_interval_s = 5;
    c->outbox_max_attempts = 8;
}

int
tucai_config_load(tucai_config_t *cfg, const char *path)
{
    cfg_parse_t p = { cfg, path, 0 };
    int         rc;

    defaults(cfg);
    rc = ini_parse(path, on_key, &p);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    if (rc > 0 || p.err) {
        if (!p.err) {
            fprintf(stderr, "%s:%d: syntax error\n", path, rc);
        }
        return -1;
    }
    if (cfg->nlisten == 0) {
        fprintf(stderr, "%s: [pool] listen is required\n", path);
        return -1;
    }
    return 0;
}
