/*
 * outbox.c -- subscribe messages to students through a database outbox.
 *
 * outbox_photo_status() / outbox_payment_result() render their template
 * (one renderer each, keys declared once) and write the complete
 * subscribe/send body in the caller's
 * transaction, so a message exists exactly when the state change it
 * reports does.  outbox_run() (a periodic job, jobs.c) claims due rows one at a
 * time with a conditional UPDATE (a lease: two children never send the
 * same row), sends, and records the result: sent; dead on 43101 or a data
 * error (retrying cannot help); otherwise retried with exponential backoff
 * (capped at an hour) until [outbox] max_attempts have failed and the
 * message is a day old.
 *
 * One message per consent: a one-time subscription lets WeChat deliver ONE
 * message per accept of a template (more answer 43101).  Each accept in the
 * subscriptions step adds one to students.consents_<template>; enqueueing
 * takes one in the same transaction, and a message without one left is
 * kept as 'skipped' with its reason, never sent.  A message that ends dead
 * without reaching the student gives its consent back, except on 43101:
 * WeChat then holds none, and the count follows it to 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outbox.h"
#include "wechat.h"
#include "wxtext.h"
#include "clock.h"
#include "db.h"
#include "log.h"

#define LEASE_S     120 /* longer than one send with all its retries */
#define MAX_BACKOFF 3600
#define RUN_MAX     20 /* messages per outbox_run */
#define MAX_AGE_S \
    86400                /* WeChat down: give up only after both
                                max_attempts and a day, so an outage of
                                hours loses nothing */
#define CONSENTS_MAX 100 /* consents one student may hold per template */

/* China time "YYYY-MM-DD HH:MM" for a time value. */
static void
china_time(char *buf, size_t n)
{
    time_t    t = time(NULL) + 8 * 3600;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
}

/*
 * The templates we fill: one renderer each, its keys declared once here
 * (tools/wechat-sandbox.py knows the same key sets and refuses others).
 */
static const char *const photo_status_keys[] = { "thing1", "phrase2", "time3" };
static const char *const payment_result_keys[] = { "character_string1",
    "amount2", "phrase3", "time4" };

/* {"k1":{"value":v1},...} for n declared keys. */
static json_t *
template_data(const char *const *keys, const char *const *values, size_t n)
{
    json_t *d = json_object();
    size_t  i;

    for (i = 0; d != NULL && i < n; i++) {
        if (json_object_set_new(
                d, keys[i], json_pack("{s:s}", "value", values[i]))
            != 0)
        {
            json_decref(d);
            return NULL;
        }
    }
    return d;
}

static int enqueue(tucai_ctx_t *ctx, uint64_t student_id, const char *sub_kind,
    const char *dedupe_key, json_t *data);

int
outbox_photo_status(tucai_ctx_t *ctx, uint64_t student_id,
    const char *dedupe_key, const char *what, const char *state)
{
    char        when[32];
    const char *v[3];
    json_t     *d;
    int         rc;

    china_time(when, sizeof(when));
    v[0] = what;
    v[1] = state;
    v[2] = when;
    d = template_data(photo_status_keys, v, 3);
    rc = d ? enqueue(ctx, student_id, "photo_status", dedupe_key, d) : -1;
    json_decref(d);
    return rc;
}

int
outbox_payment_result(tucai_ctx_t *ctx, uint64_t student_id,
    const char *dedupe_key, const char *out_trade_no, uint32_t amount_fen,
    const char *state)
{
    char        when[32], amount[32];
    const char *v[4];
    json_t     *d;
    int         rc;

    china_time(when, sizeof(when));
    snprintf(amount, sizeof(amount), "%u.%02u元", amount_fen / 100,
        amount_fen % 100);
    v[0] = out_trade_no;
    v[1] = amount;
    v[2] = state;
    v[3] = when;
    d = template_data(payment_result_keys, v, 4);
    rc = d ? enqueue(ctx, student_id, "payment_result", dedupe_key, d) : -1;
    json_decref(d);
    return rc;
}

static int
enqueue(tucai_ctx_t *ctx, uint64_t student_id, const char *sub_kind,
    const char *dedupe_key, json_t *data)
{
    MYSQL_RES  *res;
    MYSQL_ROW   r;
    const char *sub_col, *tpl_col, *consent_col;
    char        kind[33], tpl[136], openid[72];
    int         accepted;
    json_t     *payload, *limited;
    char       *body;
    const char *colon;
    int64_t     now = (int64_t) time(NULL), n;

    if (sub_kind == NULL || dedupe_key == NULL || dedupe_key[0] == '\0'
        || strlen(dedupe_key) > 128)
    {
        return -1;
    }
    if (strcmp(sub_kind, "photo_status") == 0) {
        sub_col = "s.sub_photo_status";
        tpl_col = "sc.tpl_photo_status";
        consent_col = "consents_photo_status";
    } else if (strcmp(sub_kind, "payment_result") == 0) {
        sub_col = "s.sub_payment_result";
        tpl_col = "sc.tpl_payment_result";
        consent_col = "consents_payment_result";
    } else {
        return -1;
    }
    res = db_query(ctx,
        "SELECT %-s, %-s, a.openid FROM students s"
        " JOIN schools sc ON sc.id = s.school_id"
        " LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = %lu",
        sub_col, tpl_col, student_id);
    if (res == NULL) {
        return -1;
    }
    r = mysql_fetch_row(res);
    accepted = r != NULL && r[0] && atoi(r[0]) == 1 && r[1] && r[1][0] && r[2]
        && r[2][0];
    if (accepted) {
        snprintf(tpl, sizeof(tpl), "%s", r[1]);
        snprintf(openid, sizeof(openid), "%s", r[2]);
    }
    mysql_free_result(res);
    if (!accepted) {
        return 0; /* not accepted or no template: nothing to send, not an error */
    }

    limited = wx_limit_data(data);
    payload = limited ? json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "touser", openid,
                  "template_id", tpl, "page", "pages/index/index", "data",
                  limited, "miniprogram_state",
                  ctx->cfg->wx_mp_state[0] ? ctx->cfg->wx_mp_state : "formal",
                  "lang", "zh_CN")
                      : NULL;
    body = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (body == NULL) {
        return -1;
    }
    /* The kind column names the message (prefix of the dedupe key). */
    colon = strchr(dedupe_key, ':');
    if (colon != NULL && (size_t) (colon - dedupe_key) < sizeof(kind)) {
        snprintf(
            kind, sizeof(kind), "%.*s", (int) (colon - dedupe_key), dedupe_key);
    } else {
        snprintf(kind, sizeof(kind), "%s", sub_kind);
    }
    /* once per dedupe key: a duplicate inserts nothing and takes nothing */
    n = db_exec(ctx,
        "INSERT IGNORE INTO outbox (student_id, kind, dedupe_key,"
        " payload_json, status, attempts, next_at, created_at, template)"
        " VALUES (%lu, %s, %s, %s, 'pending', 0, %ld, %ld, %s)",
        student_id, kind, dedupe_key, body, now, now, sub_kind);
    free(body);
    if (n <= 0) {
        return n < 0 ? -1 : 0;
    }
    n = db_exec(ctx,
        "UPDATE students SET %-s = %-s - 1 WHERE id = %lu AND %-s > 0",
        consent_col, consent_col, student_id, consent_col);
    if (n == 0) {
        n = db_exec(ctx,
            "UPDATE outbox SET status = 'skipped', last_error ="
            " 'no consent left: one message per accept of the template'"
            " WHERE dedupe_key = %s",
            dedupe_key);
    }
    return n < 0 ? -1 : 0;
}

/* The consent column of a message's template, NULL for none (rows from
 * before consents were counted). */
static const char *
consent_column(const char *tpl)
{
    if (tpl != NULL && strcmp(tpl, "photo_status") == 0) {
        return "consents_photo_status";
    }
    if (tpl != NULL && strcmp(tpl, "payment_result") == 0) {
        return "consents_payment_result";
    }
    return NULL;
}

/* A message that ended dead: its consent is given back unless WeChat said
 * 43101 (then it holds none: the count follows it). */
static void
consent_after_dead(
    tucai_ctx_t *ctx, uint64_t student_id, const char *tpl, int refused)
{
    const char *col = consent_column(tpl);

    if (col == NULL) {
        return;
    }
    if (refused) {
        (void) db_exec(
            ctx, "UPDATE students SET %-s = 0 WHERE id = %lu", col, student_id);
    } else {
        (void) db_exec(ctx,
            "UPDATE students SET %-s = LEAST(%-s + 1, %d)"
            " WHERE id = %lu",
            col, col, CONSENTS_MAX, student_id);
    }
}

void
outbox_run(tucai_ctx_t *ctx, int64_t deadline_ms)
{
    const tucai_config_t *cfg = ctx->cfg;
    MYSQL_RES            *res;
    MYSQL_ROW             r;
    char                 *payload, errmsg[200], tpl[33];
    uint64_t              id, student_id;
    int64_t               attempts, created, now, delay;
    int                   i;
    wx_status_t           st;

    for (i = 0; i < RUN_MAX && tucai_now_ms() < deadline_ms; i++) {
        now = (int64_t) time(NULL);
        res = db_query(ctx,
            "SELECT id, payload_json, attempts, created_at,"
            " student_id, template FROM outbox"
            " WHERE status = 'pending' AND next_at <= %ld"
            " ORDER BY next_at, id LIMIT 1",
            now);
        if (res == NULL) {
            return;
        }
        r = mysql_fetch_row(res);
        if (r == NULL || r[1] == NULL) {
            mysql_free_result(res);
            return;
        }
        id = strtoull(r[0], NULL, 10);
        payload = strdup(r[1]);
        attempts = strtoll(r[2], NULL, 10);
        created = strtoll(r[3], NULL, 10);
        student_id = r[4] ? strtoull(r[4], NULL, 10) : 0;
        snprintf(tpl, sizeof(tpl), "%s", r[5] ? r[5] : "");
        mysql_free_result(res);
        if (payload == NULL) {
            return;
        }
        /* Claim: only the child whose UPDATE matched sends it. */
        if (db_exec(ctx,
                "UPDATE outbox SET attempts = attempts + 1, next_at = %ld"
                " WHERE id = %lu AND status = 'pending' AND attempts = %ld"
                " AND next_at <= %ld",
                now + LEASE_S, id, attempts, now)
            != 1)
        {
            free(payload);
            continue;
        }
        attempts++;
        st = wx_subscribe_send(ctx, payload, errmsg, sizeof(errmsg));
        free(payload);
        now = (int64_t) time(NULL);
        if (st == WX_OK) {
            (void) db_exec(ctx,
                "UPDATE outbox SET status = 'sent', sent_at = %ld,"
                " last_error = '' WHERE id = %lu",
                now, id);
        } else if (st == WX_REFUSED || st == WX_BAD_REQUEST
            || (attempts >= cfg->outbox_max_attempts
                && now - created >= MAX_AGE_S))
        {
            tlog_warn("outbox: message %llu dead after %lld attempts: %s",
                (unsigned long long) id, (long long) attempts, errmsg);
            (void) db_exec(ctx,
                "UPDATE outbox SET status = 'dead', last_error = %s"
                " WHERE id = %lu",
                errmsg, id);
            consent_after_dead(ctx, student_id, tpl, st == WX_REFUSED);
        } else {
            delay =
                (int64_t) (cfg->outbox_interval_s > 0 ? cfg->outbox_interval_s
                                                      : 5)
                << (attempts > 10 ? 10 : attempts - 1);
            if (delay > MAX_BACKOFF) {
                delay = MAX_BACKOFF;
            }
            (void) db_exec(ctx,
                "UPDATE outbox SET next_at = %ld, last_error = %s"
                " WHERE id = %lu",
                now + delay, errmsg, id);
        }
    }
}
