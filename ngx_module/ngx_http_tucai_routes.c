/*
 * ngx_http_tucai_routes.c -- method + path -> pool operation.
 *
 * The table is the module's copy of API.md: which role a route needs and
 * what body it takes.  "*" stands for one path segment, handed to the pool
 * as TUCAI_M_PARAM.
 */
#include "ngx_http_tucai.h"

typedef struct {
    ngx_http_tucai_route_t  route;
    const char             *path;     /* after the API prefix */
} ngx_http_tucai_route_def_t;

#define S  TUCAI_ROLE_STUDENT
#define T  TUCAI_ROLE_TEACHER
#define N  TUCAI_ROLE_NONE
#define GET     NGX_HTTP_GET
#define POST    NGX_HTTP_POST
#define DELETE  NGX_HTTP_DELETE
#define B_NONE  NGX_HTTP_TUCAI_BODY_NONE
#define B_JSON  NGX_HTTP_TUCAI_BODY_JSON
#define B_UP    NGX_HTTP_TUCAI_BODY_UPLOAD
#define B_CSV   NGX_HTTP_TUCAI_BODY_CSV
#define B_RAW   NGX_HTTP_TUCAI_BODY_RAW

static const ngx_http_tucai_route_def_t  ngx_http_tucai_student_routes[] = {
    { { TUCAI_OP_HEALTH, GET, N, B_NONE, "health" }, "health" },
    { { TUCAI_OP_SCHOOLS, GET, N, B_NONE, "schools" }, "schools" },
    { { TUCAI_OP_LOGIN, POST, N, B_JSON, "login" }, "login" },
    { { TUCAI_OP_CODE, POST, S, B_UP, "code" }, "code" },
    { { TUCAI_OP_PHONE, POST, S, B_JSON, "phone" }, "phone" },
    { { TUCAI_OP_CONFIRM, POST, S, B_JSON, "confirm" }, "confirm" },
    { { TUCAI_OP_NOTICE, GET, S, B_NONE, "notice" }, "notice" },
    { { TUCAI_OP_NOTICE_ACK, POST, S, B_JSON, "notice_ack" }, "notice/ack" },
    { { TUCAI_OP_SUBS_GET, GET, S, B_NONE, "subs_get" }, "subscriptions" },
    { { TUCAI_OP_SUBS_SET, POST, S, B_JSON, "subs_set" }, "subscriptions" },
    { { TUCAI_OP_VIDEO, GET, S, B_NONE, "video" }, "video" },
    { { TUCAI_OP_VIDEO_START, POST, S, B_JSON, "video_start" }, "video/start" },
    { { TUCAI_OP_VIDEO_FINISH, POST, S, B_JSON, "video_finish" },
      "video/finish" },
    { { TUCAI_OP_CAPTURE, POST, S, B_UP, "capture" }, "captures" },
    { { TUCAI_OP_DRAFTS, GET, S, B_NONE, "drafts" }, "drafts" },
    { { TUCAI_OP_DRAFT_PHOTO, GET, S, B_NONE, "draft_photo" },
      "drafts/*/photo" },
    { { TUCAI_OP_DRAFT_DELETE, DELETE, S, B_NONE, "draft_delete" },
      "drafts/*" },
    { { TUCAI_OP_SUBMISSION, POST, S, B_JSON, "submission" }, "submission" },
    { { TUCAI_OP_ORDER, GET, S, B_NONE, "order" }, "order" },
    { { TUCAI_OP_PAY_NOTIFY, POST, N, B_RAW, "pay_notify" }, "pay/notify" },
    { { TUCAI_OP_ME, GET, S, B_NONE, "me" }, "me" },
    { { TUCAI_OP_PHOTO, GET, S, B_NONE, "photo" }, "photo" },
    { { NGX_HTTP_TUCAI_OP_PING, GET, S, B_NONE, "ping" }, "ping" },
    { { 0, 0, 0, 0, NULL }, NULL }
};

static const ngx_http_tucai_route_def_t  ngx_http_tucai_admin_routes[] = {
    { { TUCAI_OP_ADMIN_LOGIN, POST, N, B_JSON, "admin_login" }, "login" },
    { { TUCAI_OP_ADMIN_ROSTER, POST, T, B_CSV, "admin_roster" }, "roster" },
    { { TUCAI_OP_ADMIN_CODES, POST, T, B_JSON, "admin_codes" }, "codes" },
    { { TUCAI_OP_ADMIN_CODE_SHEET, GET, T, B_NONE, "admin_code_sheet" },
      "codes/sheet" },
    { { TUCAI_OP_ADMIN_REVOKE, POST, T, B_JSON, "admin_revoke" },
      "codes/*/revoke" },
    { { TUCAI_OP_ADMIN_STUDENTS, GET, T, B_NONE, "admin_students" },
      "students" },
    { { TUCAI_OP_ADMIN_UNLOCK, POST, T, B_JSON, "admin_unlock" },
      "students/*/unlock" },
    { { TUCAI_OP_ADMIN_STUDENT_PHOTO, GET, T, B_NONE, "admin_student_photo" },
      "students/*/photo" },
    { { TUCAI_OP_ADMIN_STUDENT, GET, T, B_NONE, "admin_student" },
      "students/*" },
    { { TUCAI_OP_ADMIN_CAPTURE_PHOTO, GET, T, B_NONE, "admin_capture_photo" },
      "captures/*/photo" },
    { { TUCAI_OP_ADMIN_SETTINGS_GET, GET, T, B_NONE, "admin_settings_get" },
      "settings" },
    { { TUCAI_OP_ADMIN_SETTINGS_SET, POST, T, B_JSON, "admin_settings_set" },
      "settings" },
    { { TUCAI_OP_ADMIN_PROGRESS, GET, T, B_NONE, "admin_progress" },
      "progress" },
    { { TUCAI_OP_ADMIN_EXPORT, GET, T, B_NONE, "admin_export" }, "export" },
    { { TUCAI_OP_ADMIN_AUDIT, GET, T, B_NONE, "admin_audit" }, "audit" },
    { { 0, 0, 0, 0, NULL }, NULL }
};

/* a path parameter: ids and student numbers, nothing that needs escaping */
#define NGX_HTTP_TUCAI_MAX_PARAM  64

static ngx_int_t
ngx_http_tucai_match(const char *pat, u_char *p, u_char *end, ngx_str_t *param)
{
    u_char  *s;

    while (*pat) {
        if (*pat == '*') {
            s = p;
            while (p < end && *p != '/') {
                if (!(isalnum(*p) || *p == '-' || *p == '_' || *p == '.')) {
                    return 0;
                }
                p++;
            }
            if (p == s || p - s > NGX_HTTP_TUCAI_MAX_PARAM) {
                return 0;
            }
            param->data = s;
            param->len = p - s;
            pat++;
            continue;
        }
        if (p == end || *p != (u_char) *pat) {
            return 0;
        }
        p++;
        pat++;
    }

    return p == end;
}

const ngx_http_tucai_route_t *
ngx_http_tucai_route(ngx_http_request_t *r, ngx_str_t *param,
    ngx_uint_t *method_mismatch)
{
    u_char                            *p, *end;
    ngx_uint_t                         method;
    const ngx_http_tucai_route_def_t  *d;

    static const char  student[] = "/api/v1/";
    static const char  admin[] = "/admin/api/v1/";

    p = r->uri.data;
    end = p + r->uri.len;
    *method_mismatch = 0;
    ngx_str_null(param);

    if (r->uri.len > sizeof(admin) - 1
        && ngx_strncmp(p, admin, sizeof(admin) - 1) == 0)
    {
        d = ngx_http_tucai_admin_routes;
        p += sizeof(admin) - 1;

    } else if (r->uri.len > sizeof(student) - 1
               && ngx_strncmp(p, student, sizeof(student) - 1) == 0)
    {
        d = ngx_http_tucai_student_routes;
        p += sizeof(student) - 1;

    } else {
        return NULL;
    }

    /* HEAD is served as GET (nginx drops the body) */
    method = (r->method == NGX_HTTP_HEAD) ? NGX_HTTP_GET : r->method;

    for ( /* void */ ; d->path; d++) {
        if (!ngx_http_tucai_match(d->path, p, end, param)) {
            continue;
        }
        if (d->route.method != method) {
            *method_mismatch = 1;
            continue;
        }
        return &d->route;
    }

    ngx_str_null(param);
    return NULL;
}

const char *
ngx_http_tucai_op_name(ngx_uint_t op)
{
    const ngx_http_tucai_route_def_t  *d;

    for (d = ngx_http_tucai_student_routes; d->path; d++) {
        if (d->route.op == op) {
            return d->route.name;
        }
    }
    for (d = ngx_http_tucai_admin_routes; d->path; d++) {
        if (d->route.op == op) {
            return d->route.name;
        }
    }
    return NULL;
}
