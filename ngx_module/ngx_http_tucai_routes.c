/*
 * ngx_http_tucai_routes.c -- method + path -> pool operation.
 *
 * The table is include/tucai_ops.def (API.md's operations, written once
 * for the edge and the pool): which role a route needs and what body it
 * takes.  "*" stands for one path segment, handed to the pool as
 * TUCAI_M_PARAM.
 */
#include "ngx_http_tucai.h"

typedef struct {
    ngx_http_tucai_route_t  route;
    const char             *path;     /* after the API prefix */
} ngx_http_tucai_route_def_t;

/*
 * The routes come from include/tucai_ops.def, one table per area: an
 * operation of the other area expands to nothing.
 */
#define NGX_HTTP_TUCAI_IN_API(...)    __VA_ARGS__
#define NGX_HTTP_TUCAI_IN_ADMIN(...)
#define NGX_HTTP_TUCAI_ROUTE(name, method, role, body, path, stat)           \
    { { TUCAI_OP_##name, NGX_HTTP_##method, TUCAI_ROLE_##role,              \
        NGX_HTTP_TUCAI_BODY_##body, stat }, path },

static const ngx_http_tucai_route_def_t  ngx_http_tucai_student_routes[] = {
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler)  \
    NGX_HTTP_TUCAI_IN_##area(                                                \
        NGX_HTTP_TUCAI_ROUTE(name, method, role, body, path, stat))
#include "tucai_ops.def"
#undef TUCAI_OP
    /* the edge's own: answered without the pool */
    { { NGX_HTTP_TUCAI_OP_PING, NGX_HTTP_GET, TUCAI_ROLE_STUDENT,
        NGX_HTTP_TUCAI_BODY_NONE, "ping" }, "ping" },
    { { 0, 0, 0, 0, NULL }, NULL }
};

#undef NGX_HTTP_TUCAI_IN_API
#undef NGX_HTTP_TUCAI_IN_ADMIN
#define NGX_HTTP_TUCAI_IN_API(...)
#define NGX_HTTP_TUCAI_IN_ADMIN(...)  __VA_ARGS__

static const ngx_http_tucai_route_def_t  ngx_http_tucai_admin_routes[] = {
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler)  \
    NGX_HTTP_TUCAI_IN_##area(                                                \
        NGX_HTTP_TUCAI_ROUTE(name, method, role, body, path, stat))
#include "tucai_ops.def"
#undef TUCAI_OP
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
