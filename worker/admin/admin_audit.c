/*
 * admin_audit.c -- the audit log: one row per teacher action, written in
 * the same transaction as the action (so a rolled-back action leaves no
 * row), and GET /admin/api/v1/audit to read them back, newest first.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin.h"
#include "handlers.h"

int
adm_audit_raw(tucai_ctx_t *ctx, uint32_t school_id, uint32_t teacher_id,
    const char *rid, const char *action, const char *target, json_t *detail)
{
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    /* target and detail are bounded so one odd input cannot fail the
     * action it records. */
    char tgt[65];
    snprintf(tgt, sizeof(tgt), "%s", target ? target : "");
    if (d && strlen(d) > 60000) {
        d[60000] = '\0';
    }
    int rc = adm_exec(ctx, NULL,
        "INSERT INTO audit_log (school_id, teacher_id, action, target, detail,"
        " request_id, created_at) VALUES (%u, %u, %s, %s, %s, %s, %ld)",
        school_id, teacher_id, action, tgt, d, rid ? rid : "",
        (int64_t) time(NULL));
    free(d);
    return rc;
}

int
adm_audit(tucai_ctx_t *ctx, const tucai_req_t *req, const adm_who_t *who,
    const char *action, const char *target, json_t *detail)
{
    return adm_audit_raw(
        ctx, who->school_id, who->teacher_id, req->rid, action, target, detail);
}

/* GET /admin/api/v1/audit?limit=&before=&action=&target=
 * -> {"entries":[...],"next_before"}; action filters by exact action or,
 * ending in ".", by prefix ("code." = every code action). */
int
admin_audit(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)
{
    adm_who_t who;
    char      buf[32], action[40] = "", target[72] = "";
    uint64_t  limit = 100, before = 0;

    if (adm_auth(ctx, req, resp, &who) != 0) {
        return 0;
    }
    if (adm_query_param(req->query, "limit", buf, sizeof(buf))) {
        limit = strtoull(buf, NULL, 10);
        if (limit == 0 || limit > ADM_MAX_LIST) {
            limit = ADM_MAX_LIST;
        }
    }
    if (adm_query_param(req->query, "before", buf, sizeof(buf))) {
        before = strtoull(buf, NULL, 10);
    }

    adm_query_param(req->query, "action", action, sizeof(action));
    adm_query_param(req->query, "target", target, sizeof(target));
    if (strlen(action) > 32 || strlen(target) > 64 || strchr(action, '%')
        || strchr(action, '_'))
    {
        return resp_error(resp, 400, "BAD_REQUEST", "筛选条件过长或无效",
            "filter too long or invalid",
            json_pack(
                "{s:s}", "field", strlen(target) > 64 ? "target" : "action"));
    }
    size_t al = strlen(action);
    char   action_pat[48];
    snprintf(action_pat, sizeof(action_pat), "%s%s", action,
        al && action[al - 1] == '.' ? "%" : "");

    /* no "before" = from the newest row */
    MYSQL_RES *res = adm_query(ctx,
        "SELECT a.id, a.action, a.target, a.detail, a.request_id, a.created_at,"
        " a.teacher_id, t.username FROM audit_log a"
        " LEFT JOIN teachers t ON t.id = a.teacher_id"
        " WHERE a.school_id = %u AND a.id < %lu"
        " AND (%s = '' OR a.action LIKE %s) AND (%s = '' OR a.target = %s)"
        " ORDER BY a.id DESC LIMIT %lu",
        who.school_id, before ? before : UINT64_MAX, action, action_pat, target,
        target, limit);
    if (res == NULL) {
        return resp_db_unavailable(resp);
    }

    json_t   *arr = json_array();
    MYSQL_ROW row;
    uint64_t  last = 0;
    char      ts[32];
    while ((row = mysql_fetch_row(res)) != NULL) {
        json_t *detail = NULL;
        if (row[3]) {
            detail = json_loads(row[3], 0, NULL);
        }
        last = strtoull(row[0], NULL, 10);
        json_array_append_new(arr,
            json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:I,s:s?}", "id",
                (json_int_t) last, "action", row[1], "target", row[2], "detail",
                detail ? detail : json_null(), "request_id", row[4], "at",
                tucai_rfc3339(ts, sizeof(ts), strtoll(row[5], NULL, 10)),
                "teacher_id", (json_int_t) strtoll(row[6], NULL, 10), "teacher",
                row[7]));
    }
    uint64_t n = mysql_num_rows(res);
    mysql_free_result(res);

    return resp_json(resp, 200,
        json_pack("{s:o,s:o}", "entries", arr, "next_before",
            n == limit ? json_integer((json_int_t) last) : json_null()));
}
