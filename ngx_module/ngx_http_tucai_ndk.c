/*
 * ngx_http_tucai_ndk.c -- set_var-style directives over session tokens,
 * through ngx_devel_kit (Debian's libnginx-mod-http-ndk):
 *
 *     set_tucai_token_student $sid $arg_t;     # student id or ""
 *     set_tucai_token_teacher $tid $cookie_t;  # teacher id or ""
 *     set_tucai_token_school  $sch $arg_t;     # school id or ""
 *     set_tucai_token_status  $st  $arg_t;     # none|ok|invalid|expired
 *
 * They let operators check a token that arrives elsewhere than in
 * Authorization (a query argument of a download link, a cookie) in their
 * own locations, with the same keys and cache as tucai_pass.
 *
 * ngx_devel_kit is optional: its headers only give us types, and its one
 * function we call is looked up when a directive is parsed (nginx loads
 * modules RTLD_GLOBAL).  Without `load_module ndk_http_module.so` the
 * module loads and works; only these directives fail `nginx -t`, saying
 * what to load.
 */
#include <dlfcn.h>

#ifndef NDK
#define NDK 1
#endif
#define NDK_SET_VAR 1
#include <ndk.h>

#include "ngx_http_tucai.h"


static ngx_int_t
ngx_http_tucai_ndk_value(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v, ngx_uint_t what)
{
    u_char                  *p;
    ngx_str_t                tok;
    ngx_http_tucai_token_t   t;

    static const char  *status[] = { "none", "ok", "invalid", "expired" };

    tok.data = v->data;
    tok.len = v->len;

    if (tok.len == 0) {
        t.status = NGX_HTTP_TUCAI_TOK_NONE;
        t.role = TUCAI_ROLE_NONE;
    } else {
        ngx_http_tucai_check_token(r, &tok, &t);
    }

    res->len = 0;
    res->data = NULL;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    switch (what) {

    case NGX_HTTP_TUCAI_SET_STUDENT:
    case NGX_HTTP_TUCAI_SET_TEACHER:
        if (t.status == NGX_HTTP_TUCAI_TOK_OK
            && t.role == (what == NGX_HTTP_TUCAI_SET_STUDENT
                          ? TUCAI_ROLE_STUDENT : TUCAI_ROLE_TEACHER))
        {
            res->data = p;
            res->len = ngx_sprintf(p, "%uL", t.subject) - p;
        }
        break;

    case NGX_HTTP_TUCAI_SET_SCHOOL:
        if (t.status == NGX_HTTP_TUCAI_TOK_OK && t.school) {
            res->data = p;
            res->len = ngx_sprintf(p, "%uD", t.school) - p;
        }
        break;

    default:
        res->data = (u_char *) status[t.status];
        res->len = ngx_strlen(status[t.status]);
        break;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_tucai_ndk_student(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    return ngx_http_tucai_ndk_value(r, res, v, NGX_HTTP_TUCAI_SET_STUDENT);
}


static ngx_int_t
ngx_http_tucai_ndk_teacher(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    return ngx_http_tucai_ndk_value(r, res, v, NGX_HTTP_TUCAI_SET_TEACHER);
}


static ngx_int_t
ngx_http_tucai_ndk_school(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    return ngx_http_tucai_ndk_value(r, res, v, NGX_HTTP_TUCAI_SET_SCHOOL);
}


static ngx_int_t
ngx_http_tucai_ndk_status(ngx_http_request_t *r, ngx_str_t *res,
    ngx_http_variable_value_t *v)
{
    return ngx_http_tucai_ndk_value(r, res, v, NGX_HTTP_TUCAI_SET_STATUS);
}


static ndk_set_var_t  ngx_http_tucai_ndk_filters[] = {
    { NDK_SET_VAR_VALUE, (void *) ngx_http_tucai_ndk_student, 1, NULL },
    { NDK_SET_VAR_VALUE, (void *) ngx_http_tucai_ndk_teacher, 1, NULL },
    { NDK_SET_VAR_VALUE, (void *) ngx_http_tucai_ndk_school, 1, NULL },
    { NDK_SET_VAR_VALUE, (void *) ngx_http_tucai_ndk_status, 1, NULL }
};


typedef char *(*ngx_http_tucai_ndk_core_pt)(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *value, ndk_set_var_t *filter);


char *
ngx_http_tucai_set_token_var(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    void                       *sym;
    ngx_str_t                  *value = cf->args->elts;
    ngx_http_tucai_ndk_core_pt  core;

    /* NULL when ndk_http_module.so is not loaded (dlsym of RTLD_DEFAULT
     * sees every module nginx has loaded so far) */
    sym = dlsym(RTLD_DEFAULT, "ndk_set_var_value_core");
    if (sym == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs ngx_devel_kit: install "
                           "libnginx-mod-http-ndk and load "
                           "modules/ndk_http_module.so before "
                           "ngx_http_tucai_module.so", &cmd->name);
        return NGX_CONF_ERROR;
    }
    *(void **) &core = sym;

    return core(cf, &value[1], &value[2],
                &ngx_http_tucai_ndk_filters[cmd->offset]);
}
