/*
 * pay.c -- a submission's order (pay.h): creation with a JSAPI prepay,
 * switching drafts before payment, free schools, and the student's GET
 * /order and GET /photo.
 *
 * Order creation calls WeChat first and writes our row only after the
 * prepay succeeded, in one transaction: WeChat down -> 503 and no row.  A
 * prepay that succeeded remotely but whose row could not be written (the
 * database failed, or a concurrent submission won the live slot) is closed
 * at WeChat right away; the student never received its paySign, so it
 * cannot have been paid, and if even the close fails its time_expire ends
 * it at WeChat by itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pay.h"
#include "pay_int.h"
#include "pay_client.h"
#include "handlers.h"
#include "db.h"
#include "log.h"

#define ER_DUP_ENTRY   1062
#define PREPAY_TTL_S   (7200 - 600) /* prepay_id lives ~2 h at WeChat */
#define EXPIRY_SLACK_S 60 /* never hand out an order this close to expiry */

/* An error answer is written; pay_submit's callers need -1. */
static int
failed(int written)
{
    (void) written;
    return -1;
}

static int
unavailable(tucai_resp_t *resp)
{
    return failed(resp_error(resp, 503, "WECHAT_UNAVAILABLE",
        "微信支付暂不可用，请稍后重试", "WeChat Pay unavailable, retry shortly",
        json_pack("{s:i}", "retry_after", 5)));
}

static int
db_down(tucai_ctx_t *ctx, tucai_resp_t *resp)
{
    db_rollback(ctx);
    return failed(resp_db_unavailable(resp));
}

uint64_t
pay_student_of(tucai_ctx_t *ctx, const tucai_req_t *req)
{
    int64_t id = 0;

    if (req->hdr.role != TUCAI_ROLE_STUDENT || req->hdr.subject == 0) {
        return 0;
    }
    if (db_query_int(ctx, &id, "SELECT id FROM students WHERE account_id = %lu",
            (uint64_t) req->hdr.subject)
        != 1)
    {
        return 0;
    }
    return (uint64_t) id;
}

/* The order object plus the wx.requestPayment fields (null when none). */
static json_t *
order_with_pay(const tucai_config_t *cfg, const pay_order_t *o)
{
    json_t *obj = pay_order_obj(o), *pay = NULL;

    if (obj == NULL) {
        return NULL;
    }
    if (strcmp(o->status, "UNPAID") == 0 && o->prepay_id[0] != '\0') {
        pay = payc_request_payment(cfg, o->prepay_id);
    }
    json_object_set_new(obj, "pay", pay ? pay : json_null());
    return obj;
}

static void
new_trade_no(uint64_t student_id, char *out, size_t n)
{
    char rnd[9];

    /* TC + time + random + student: unique without a row id, 32 chars max */
    payc_nonce(rnd, sizeof(rnd));
    snprintf(out, n, "TC%lld%s%llu", (long long) time(NULL), rnd,
        (unsigned long long) (student_id % 100000000000ULL));
}

/* Asks WeChat for a prepay.  0 ok, -1 unavailable, 1 refused (resp set). */
static int
prepay(tucai_ctx_t *ctx, const char *openid, const char *school, const char *no,
    uint32_t amount, int64_t expires_at, char *prepay_id, size_t n,
    tucai_resp_t *resp)
{
    const tucai_config_t *cfg = ctx->cfg;
    char                  when[40], desc[128];
    json_t               *req, *a = NULL;
    char                 *body;
    long                  st;
    int                   rc;
    const char           *pid;
    time_t                t = (time_t) expires_at + 8 * 3600;
    struct tm             tm;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+08:00", &tm);
    /* WeChat allows 127 characters: the school name is cut at a UTF-8
     * boundary so the JSON stays valid. */
    {
        size_t cut = strlen(school);

        if (cut > 90) {
            cut = 90;
            while (cut > 0 && ((unsigned char) school[cut] & 0xC0) == 0x80) {
                cut--;
            }
        }
        snprintf(desc, sizeof(desc), "%.*s-证件照", (int) cut, school);
    }
    req = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:i,s:s},s:{s:s}}", "appid",
        cfg->wx_appid, "mchid", cfg->pay_mchid, "description", desc,
        "out_trade_no", no, "time_expire", when, "notify_url",
        cfg->pay_notify_url, "amount", "total", (int) amount, "currency", "CNY",
        "payer", "openid", openid);
    body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL) {
        return -1;
    }
    rc = payc_call(ctx, "POST", "/v3/pay/transactions/jsapi", body, &st, &a);
    free(body);
    if (rc != 0) {
        return -1;
    }
    pid = json_string_value(json_object_get(a, "prepay_id"));
    if (st == 200 && pid != NULL && pid[0] != '\0' && strlen(pid) < n) {
        snprintf(prepay_id, n, "%s", pid);
        json_decref(a);
        return 0;
    }
    tlog_error("pay: jsapi %s refused: HTTP %ld %s", no, st,
        json_string_value(json_object_get(a, "code")) ?: "");
    pay_event(
        ctx, no, "query", 0, json_string_value(json_object_get(a, "message")));
    resp_error(resp, 502, "PAY_REJECTED", "微信支付拒绝了该订单，请联系学校",
        "WeChat Pay refused the order, contact the school",
        json_pack("{s:s}", "wechat_code",
            json_string_value(json_object_get(a, "code")) ?: ""));
    json_decref(a);
    return 1;
}

/* Locks the draft row inside the caller's transaction, so that a concurrent
 * DELETE /drafts/{id} (which locks the same row, then looks for orders)
 * either runs before us and we see the draft gone, or after our commit and
 * sees the order.  1 still a draft, 0 gone (resp set, rolled back), -1 DB. */
static int
lock_draft(tucai_ctx_t *ctx, uint64_t student_id, uint64_t draft_id,
    tucai_resp_t *resp)
{
    int64_t found, dummy;

    found = db_query_int(ctx, &dummy,
        "SELECT id FROM drafts WHERE id = %lu AND student_id = %lu"
        " AND status = 'draft' FOR UPDATE",
        draft_id, student_id);
    if (found < 0) {
        return -1;
    }
    if (found == 0) {
        db_rollback(ctx);
        resp_error(
            resp, 404, "DRAFT_NOT_FOUND", "草稿不存在", "no such draft", NULL);
    }
    return found == 0 ? 0 : 1;
}

int
pay_submit(tucai_ctx_t *ctx, uint64_t student_id, uint64_t draft_id,
    json_t **order, tucai_resp_t *resp)
{
    MYSQL_RES  *res;
    MYSQL_ROW   r;
    char        openid[72] = "", school[136] = "", no[40], pid[72], *w;
    uint32_t    fee, school_id;
    int64_t     now, found;
    pay_order_t o;
    int         round, rc;

    *order = NULL;
    res = db_query(ctx,
        "SELECT s.school_id, sc.fee_fen, sc.name, a.openid FROM students s"
        " JOIN schools sc ON sc.id = s.school_id"
        " LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = %lu",
        student_id);
    if (res == NULL) {
        return db_down(ctx, resp);
    }
    r = mysql_fetch_row(res);
    if (r == NULL) {
        mysql_free_result(res);
        return failed(resp_error(
            resp, 404, "NOT_FOUND", "学生不存在", "no such student", NULL));
    }
    school_id = (uint32_t) strtoul(r[0], NULL, 10);
    fee = (uint32_t) strtoul(r[1], NULL, 10);
    snprintf(school, sizeof(school), "%s", r[2] ? r[2] : "");
    snprintf(openid, sizeof(openid), "%s", r[3] ? r[3] : "");
    mysql_free_result(res);

    /* The draft is not looked up here: the caller (journey_submission) has
     * just answered 404 for one that is not the student's, and lock_draft()
     * checks it again under the row lock, which is the check that counts. */

    /* An UNPAID order past expiry is settled with WeChat first (paid
     * meanwhile, or closed there and here), outside any transaction. */
    w = db_fmt(ctx, "student_id = %lu AND live = 1", student_id);
    found = pay_order_find(ctx, &o, w);
    free(w);
    if (found < 0) {
        return db_down(ctx, resp);
    }
    if (found == 1 && strcmp(o.status, "UNPAID") == 0
        && o.expires_at <= (int64_t) time(NULL) + EXPIRY_SLACK_S)
    {
        o.expires_at = 0; /* closes even within the slack */
        (void) pay_refresh_order(ctx, &o, 1);
    }

    for (round = 0; round < 2; round++) {
        now = (int64_t) time(NULL);
        if (db_begin(ctx) != 0) {
            return db_down(ctx, resp);
        }
        /* the draft first, then the order: the order DELETE /drafts reads */
        rc = lock_draft(ctx, student_id, draft_id, resp);
        if (rc <= 0) {
            return rc < 0 ? db_down(ctx, resp) : -1;
        }
        w = db_fmt(ctx, "student_id = %lu AND live = 1 FOR UPDATE", student_id);
        found = pay_order_find(ctx, &o, w);
        free(w);
        if (found < 0) {
            return db_down(ctx, resp);
        }
        if (found == 1) {
            if (strcmp(o.status, "UNPAID") != 0) {
                db_rollback(ctx);
                return failed(resp_error(resp, 409, "ALREADY_PAID",
                    "订单已支付，不能再更换照片",
                    "already paid: the photo can no longer change",
                    json_pack("{s:o}", "order", pay_order_obj(&o))));
            }
            if (o.expires_at <= now + EXPIRY_SLACK_S || o.prepay_id[0] == '\0'
                || o.prepay_at + PREPAY_TTL_S <= now)
            {
                db_rollback(ctx); /* could not be settled above */
                return unavailable(resp);
            }
            /* Switching drafts before payment: same order, same trade no. */
            if (db_exec(ctx,
                    "UPDATE orders SET draft_id = %lu, updated_at = %ld WHERE id = %lu",
                    draft_id, now, o.id)
                    < 0
                || db_commit(ctx) != 0)
            {
                return db_down(ctx, resp);
            }
            o.draft_id = draft_id;
            *order = order_with_pay(ctx->cfg, &o);
            return 0;
        }

        new_trade_no(student_id, no, sizeof(no));
        if (fee == 0) {
            /* Free school: FREE at once, delivered in the same transaction. */
            if (db_exec(ctx,
                    "INSERT INTO orders (student_id, school_id, draft_id, out_trade_no,"
                    " amount_fen, status, expires_at, created_at, updated_at, live)"
                    " VALUES (%lu, %u, %lu, %s, 0, 'FREE', %ld, %ld, %ld, 1)",
                    student_id, school_id, draft_id, no, now, now, now)
                < 0)
            {
                if (db_errno(ctx) == ER_DUP_ENTRY) {
                    db_rollback(ctx);
                    continue;
                }
                return db_down(ctx, resp);
            }
            memset(&o, 0, sizeof(o));
            o.id = db_insert_id(ctx);
            o.student_id = student_id;
            o.draft_id = draft_id;
            o.school_id = school_id;
            o.expires_at = o.created_at = now;
            snprintf(o.out_trade_no, sizeof(o.out_trade_no), "%s", no);
            snprintf(o.status, sizeof(o.status), "FREE");
            if (deliver_order(ctx, &o) == -1 || db_commit(ctx) != 0) {
                return db_down(ctx, resp);
            }
            *order = order_with_pay(ctx->cfg, &o);
            return 0;
        }
        db_rollback(ctx); /* no lock held while WeChat is called */

        if (openid[0] == '\0') {
            return failed(resp_error(resp, 409, "STEP_NOT_ALLOWED",
                "请先完成身份绑定", "bind your WeChat account first", NULL));
        }
        if (ctx->cfg->pay_notify_url[0] == '\0' || payc_ready(ctx->cfg) != 0) {
            tlog_error("pay: [pay] not configured (keys or notify_url)");
            return unavailable(resp);
        }
        now = (int64_t) time(NULL);
        memset(&o, 0, sizeof(o));
        o.expires_at = now + ctx->cfg->pay_order_expire_s;
        rc = prepay(
            ctx, openid, school, no, fee, o.expires_at, pid, sizeof(pid), resp);
        if (rc < 0) {
            return unavailable(resp);
        }
        if (rc > 0) {
            return -1;
        }
        if (db_begin(ctx) != 0) {
            (void) pay_close_remote(ctx, no);
            return failed(resp_db_unavailable(resp));
        }
        /* the draft may have been deleted while WeChat was asked */
        rc = lock_draft(ctx, student_id, draft_id, resp);
        if (rc == 0) {
            (void) pay_close_remote(ctx, no);
            return -1;
        }
        if (rc < 0
            || db_exec(ctx,
                   "INSERT INTO orders (student_id, school_id, draft_id, out_trade_no,"
                   " amount_fen, status, prepay_id, prepay_at, expires_at, created_at,"
                   " updated_at, live, queried_at) VALUES (%lu, %u, %lu, %s, %u,"
                   " 'UNPAID', %s, %ld, %ld, %ld, %ld, 1, %ld)",
                   student_id, school_id, draft_id, no, fee, pid, now,
                   o.expires_at, now, now, now)
                < 0
            || (o.id = db_insert_id(ctx),
                db_exec(ctx,
                    "UPDATE students SET step = 'pay', updated_at = %ld"
                    " WHERE id = %lu",
                    now, student_id)
                    < 0)
            || db_commit(ctx) != 0)
        {
            int dup = db_errno(ctx) == ER_DUP_ENTRY;

            db_rollback(ctx);
            (void) pay_close_remote(ctx, no);
            if (dup) {
                continue; /* a concurrent submission won: use its order */
            }
            return failed(resp_db_unavailable(resp));
        }
        o.student_id = student_id;
        o.school_id = school_id;
        o.draft_id = draft_id;
        o.amount_fen = fee;
        o.prepay_at = o.created_at = now;
        o.live = 1;
        snprintf(o.out_trade_no, sizeof(o.out_trade_no), "%s", no);
        snprintf(o.status, sizeof(o.status), "UNPAID");
        snprintf(o.prepay_id, sizeof(o.prepay_id), "%s", pid);
        *order = order_with_pay(ctx->cfg, &o);
        return 0;
    }
    return failed(resp_error(
        resp, 409, "CONFLICT", "请求冲突，请重试", "conflict, retry", NULL));
}

json_t *
pay_order_json(tucai_ctx_t *ctx, uint64_t student_id, int refresh)
{
    pay_order_t o;
    char       *w;
    int         found;

    /* The live order, else the latest one (CLOSED). */
    w = db_fmt(ctx, "student_id = %lu ORDER BY live IS NULL, id DESC LIMIT 1",
        student_id);
    found = pay_order_find(ctx, &o, w);
    if (found == 1 && refresh && strcmp(o.status, "UNPAID") == 0
        && pay_refresh_order(ctx, &o, 1) == 0)
    {
        found = pay_order_find(ctx, &o, w);
    }
    free(w);
    return found == 1 ? order_with_pay(ctx->cfg, &o) : NULL;
}

int
pay_handle_order(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    uint64_t sid = pay_student_of(ctx, req);
    json_t  *o;

    if (sid == 0) {
        return resp_error(resp, 404, "NOT_FOUND", "没有订单", "no order", NULL);
    }
    o = pay_order_json(ctx, sid, 1);
    if (o == NULL) {
        return resp_error(resp, 404, "NOT_FOUND", "没有订单", "no order", NULL);
    }
    return resp_json(resp, 200, o);
}

int
pay_handle_photo(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    uint64_t sid = pay_student_of(ctx, req);
    char     path[256], uri[512];
    int      rc = 0;

    if (sid != 0) {
        rc = db_query_str(ctx, path, sizeof(path),
            "SELECT path FROM photos WHERE student_id = %lu", sid);
        if (rc < 0) {
            return resp_db_unavailable(resp);
        }
    }
    if (sid == 0 || rc == 0 || path[0] == '\0' || strstr(path, "..") != NULL) {
        return resp_error(resp, 404, "PHOTO_NOT_READY", "证件照尚未制作完成",
            "the final photo is not ready yet", NULL);
    }
    snprintf(uri, sizeof(uri), "%s/%s", ctx->cfg->storage_uri, path);
    return resp_redirect(resp, uri, "image/jpeg");
}
