/*
 * ngx_http_tucai_status.c -- `tucai_status;` (operator JSON: zone usage,
 * entries, evictions, hits, refusals by kind, pool errors, requests by op),
 * `tucai_status prometheus [UPSTREAM];` (the same in Prometheus text, then,
 * with UPSTREAM, the pool's own figures: TUCAI_OP_METRICS through the
 * upstream like any request, so nginx never blocks on it)
 * and `tucai_error;` (a named location that turns nginx's own error
 * statuses -- 413 from client_max_body_size, 502/504 from the upstream,
 * 408, ... -- into API.md JSON instead of HTML pages).
 */
#include "ngx_http_tucai.h"


static const ngx_http_tucai_route_t  ngx_http_tucai_metrics_route = {
    TUCAI_OP_METRICS, NGX_HTTP_GET, TUCAI_ROLE_NONE, NGX_HTTP_TUCAI_BODY_NONE,
    "metrics"
};


static ngx_int_t
ngx_http_tucai_prometheus(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_chain_t                *out;
    ngx_http_tucai_ctx_t       *ctx;
    ngx_http_tucai_loc_conf_t  *tlcf;

    static ngx_str_t  type =
        ngx_string("text/plain; version=0.0.4; charset=utf-8");

    if (ngx_http_tucai_shm_prometheus(r, &out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);
    if (tlcf->upstream.upstream == NULL) {
        /* nginx's figures only */
        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_type = type;
        r->headers_out.content_type_len = type.len;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.content_length_n = out->buf->last - out->buf->pos;
        out->buf->last_buf = (r == r->main);
        out->buf->last_in_chain = 1;
        rc = ngx_http_send_header(r);
        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }
        return ngx_http_output_filter(r, out);
    }

    ctx = ngx_http_tucai_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->route = &ngx_http_tucai_metrics_route;
    ctx->token_done = 1;                /* anonymous: no token sent */
    ctx->body_len = 0;
    ctx->prefix = out;
    ctx->prefix_len = out->buf->last - out->buf->pos;

    r->main->count++;
    rc = ngx_http_tucai_upstream_start(r, ctx);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_finalize_request(r, rc);
    }
    return NGX_DONE;
}


static ngx_int_t
ngx_http_tucai_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_chain_t                *out;
    ngx_http_tucai_loc_conf_t  *tlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_tucai_refuse(r, TUCAI_ERR_NO_SUCH_ENDPOINT, 0, NULL);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);
    if (tlcf->status_prometheus) {
        return ngx_http_tucai_prometheus(r);
    }

    if (ngx_http_tucai_shm_status(r, &out) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_tucai_send_json(r, NGX_HTTP_OK, out->buf->pos,
                                    out->buf->last - out->buf->pos, 0);
}


/* tucai_status [json | prometheus [UPSTREAM]] */
char *
ngx_http_tucai_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tucai_loc_conf_t *tlcf = conf;

    ngx_url_t                  u;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    value = cf->args->elts;
    tlcf->status_prometheus = 0;

    if (cf->args->nelts > 1) {
        if (ngx_strcmp(value[1].data, "prometheus") == 0) {
            tlcf->status_prometheus = 1;
        } else if (ngx_strcmp(value[1].data, "json") != 0
                   || cf->args->nelts > 2)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"tucai_status\" format \"%V\": "
                               "json, or prometheus with an optional pool "
                               "upstream", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (cf->args->nelts > 2) {
        /* the pool's figures come through this upstream, as a request */
        if (tlcf->upstream.upstream) {
            return "is duplicate (the location already names a pool)";
        }
        ngx_memzero(&u, sizeof(ngx_url_t));
        u.url = value[2];
        u.no_resolve = 1;
        tlcf->upstream.upstream = ngx_http_upstream_add(cf, &u, 0);
        if (tlcf->upstream.upstream == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tucai_status_handler;
    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_tucai_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t                  status;
    ngx_http_tucai_loc_conf_t  *tlcf;
    ngx_str_t                   param;
    ngx_uint_t                  mismatch;
    ngx_http_tucai_ctx_t       *ctx;

    status = r->err_status ? r->err_status : r->headers_out.status;
    ngx_http_tucai_upload_release(r);

    /* a named location starts with empty module contexts: route again so
     * that $tucai_op still names the operation in the access log */
    ctx = ngx_http_tucai_get_ctx(r);
    if (ctx && ctx->route == NULL) {
        ctx->route = ngx_http_tucai_route(r, &param, &mismatch);
    }
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);

    switch (status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_TOO_LARGE);
        return ngx_http_tucai_refuse(r, TUCAI_ERR_BODY_TOO_LARGE, 0, NULL);

    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_POOL_UNAVAILABLE,
                   tlcf->pool_retry_after > 0 ? tlcf->pool_retry_after : 5,
                   NULL);

    case NGX_HTTP_UNAUTHORIZED:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_UNAUTHORIZED, 0, NULL);

    case NGX_HTTP_TOO_MANY_REQUESTS:
        /* e.g. nginx's own limit_req in front of tucai_pass */
        return ngx_http_tucai_refuse(r, TUCAI_ERR_RATE_LIMITED, 1, NULL);

    case NGX_HTTP_NOT_FOUND:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_NOT_FOUND, 0, NULL);

    case NGX_HTTP_FORBIDDEN:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_FORBIDDEN, 0, NULL);

    case NGX_HTTP_REQUEST_TIME_OUT:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_REQUEST_TIMEOUT, 0, NULL);

    case NGX_HTTP_BAD_REQUEST:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_BAD_REQUEST, 0, NULL);

    case NGX_HTTP_NOT_ALLOWED:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_METHOD_NOT_ALLOWED, 0, NULL);

    /* nginx's refusals of a malformed request (error_page with a URI: a
     * request line that did not parse has no URI to keep) */
    case NGX_HTTP_REQUEST_URI_TOO_LARGE:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_URI_TOO_LONG, 0, NULL);

    case NGX_HTTP_REQUEST_HEADER_TOO_LARGE:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_HEADER_TOO_LARGE, 0, NULL);

    case NGX_HTTP_VERSION_NOT_SUPPORTED:
        return ngx_http_tucai_refuse(r, TUCAI_ERR_HTTP_VERSION, 0, NULL);

    default:
        if (status < 400 || status > 599) {
            status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return ngx_http_tucai_send_error(r, status, "INTERNAL",
                   tucai_err(TUCAI_ERR_INTERNAL)->message, 0, NULL);
    }
}


char *
ngx_http_tucai_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tucai_error_handler;
    return NGX_CONF_OK;
}
