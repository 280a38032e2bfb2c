/*
 * ngx_http_tucai_variables.c -- $tucai_* variables for operators' configs
 * (log_format, map, limit_req_zone keys).  The token is verified lazily,
 * once per request, by whichever asks first.
 */
#include "ngx_http_tucai.h"

enum {
    TUCAI_VAR_STUDENT = 0,
    TUCAI_VAR_TEACHER,
    TUCAI_VAR_SCHOOL,
    TUCAI_VAR_ROLE,
    TUCAI_VAR_TOKEN_STATUS,
    TUCAI_VAR_TOKEN_KID,
    TUCAI_VAR_OP
};


static ngx_int_t
ngx_http_tucai_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char                  *p;
    const char              *s;
    ngx_http_tucai_ctx_t    *ctx;
    ngx_http_tucai_token_t  *t;

    static const char  *status[] = { "none", "ok", "invalid", "expired" };

    t = ngx_http_tucai_token(r);
    if (t == NULL) {
        return NGX_ERROR;
    }

    s = NULL;
    p = NULL;

    switch (data) {

    case TUCAI_VAR_STUDENT:
    case TUCAI_VAR_TEACHER:
        if (t->status != NGX_HTTP_TUCAI_TOK_OK
            || t->role != (data == TUCAI_VAR_STUDENT ? TUCAI_ROLE_STUDENT
                                                     : TUCAI_ROLE_TEACHER))
        {
            v->not_found = 1;
            return NGX_OK;
        }
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }
        v->len = ngx_sprintf(p, "%uL", t->subject) - p;
        break;

    case TUCAI_VAR_SCHOOL:
        if (t->status != NGX_HTTP_TUCAI_TOK_OK || t->school == 0) {
            v->not_found = 1;
            return NGX_OK;
        }
        p = ngx_pnalloc(r->pool, NGX_INT32_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }
        v->len = ngx_sprintf(p, "%uD", t->school) - p;
        break;

    case TUCAI_VAR_ROLE:
        if (t->status != NGX_HTTP_TUCAI_TOK_OK) {
            v->not_found = 1;
            return NGX_OK;
        }
        s = t->role == TUCAI_ROLE_STUDENT ? "student" : "teacher";
        break;

    case TUCAI_VAR_TOKEN_STATUS:
        s = status[t->status];
        break;

    case TUCAI_VAR_TOKEN_KID:
        if (t->status != NGX_HTTP_TUCAI_TOK_OK) {
            v->not_found = 1;
            return NGX_OK;
        }
        p = t->kid.data;
        v->len = t->kid.len;
        break;

    case TUCAI_VAR_OP:
        ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
        if (ctx == NULL || ctx->route == NULL) {
            v->not_found = 1;
            return NGX_OK;
        }
        s = ctx->route->name;
        break;
    }

    if (s) {
        p = (u_char *) s;
        v->len = ngx_strlen(s);
    }

    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}


static ngx_http_variable_t  ngx_http_tucai_vars[] = {
    { ngx_string("tucai_student"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_STUDENT, 0, 0 },
    { ngx_string("tucai_teacher"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_TEACHER, 0, 0 },
    { ngx_string("tucai_school"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_SCHOOL, 0, 0 },
    { ngx_string("tucai_role"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_ROLE, 0, 0 },
    { ngx_string("tucai_token_status"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_TOKEN_STATUS, 0, 0 },
    { ngx_string("tucai_token_kid"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_TOKEN_KID, 0, 0 },
    /* $tucai_op changes once routing happened: do not cache it */
    { ngx_string("tucai_op"), NULL, ngx_http_tucai_variable,
      TUCAI_VAR_OP, NGX_HTTP_VAR_NOCACHEABLE, 0 },
    ngx_http_null_variable
};


ngx_int_t
ngx_http_tucai_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tucai_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}
