/*
 * ngx_http_tucai_json.c -- the JSON answers nginx gives itself, in API.md's
 * error form, and request body validation (jansson).
 */
#include "ngx_http_tucai.h"

#include <jansson.h>


u_char *
ngx_http_tucai_rfc3339(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);
    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* Sends a complete JSON answer; returns what the content phase returns. */
ngx_int_t
ngx_http_tucai_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len, time_t retry_after)
{
    ngx_int_t         rc;
    ngx_buf_t        *b;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        /* the connection will be closed; still answer */
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    /* our own error page: never let error_page replace it */
    r->err_status = 0;

    if (retry_after > 0) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (h->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        h->value.len = ngx_sprintf(h->value.data, "%T", retry_after)
                       - h->value.data;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }
    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * {"error":CODE,"message":MESSAGE[,"retry_after":N]EXTRA}; extra is a raw
 * JSON fragment starting with ',' (or NULL).  Codes and messages are our
 * constants, so no escaping is needed.
 */
ngx_int_t
ngx_http_tucai_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, time_t retry_after,
    const char *extra)
{
    u_char  *body, *p;
    size_t   len;

    len = sizeof("{\"error\":\"\",\"message\":\"\",\"retry_after\":}") - 1
          + ngx_strlen(code) + ngx_strlen(message) + NGX_TIME_T_LEN
          + (extra ? ngx_strlen(extra) : 0);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(body, "{\"error\":\"%s\",\"message\":\"%s\"",
                    code, message);
    if (retry_after > 0) {
        p = ngx_sprintf(p, ",\"retry_after\":%T", retry_after);
    }
    if (extra) {
        p = ngx_sprintf(p, "%s", extra);
    }
    *p++ = '}';

    return ngx_http_tucai_send_json(r, status, body, p - body, retry_after);
}


ngx_int_t
ngx_http_tucai_refuse(ngx_http_request_t *r, enum tucai_err_id id,
    time_t retry_after, const char *extra)
{
    const tucai_err_t  *e;

    e = tucai_err(id);
    return ngx_http_tucai_send_error(r, e->status, e->code, e->message,
                                     retry_after, extra);
}


/*
 * A JSON string literal of at most TUCAI_CONTACT_MAX bytes (quotes
 * included), as the pool's TUCAI_M_CONTACT must be: nginx puts it verbatim
 * into a JSON body.
 */
ngx_uint_t
ngx_http_tucai_json_string_ok(const u_char *p, size_t len)
{
    json_t        *j;
    ngx_uint_t     ok;
    json_error_t   err;

    if (len < 2 || len > TUCAI_CONTACT_MAX || p[0] != '"' || p[len - 1] != '"')
    {
        return 0;
    }
    j = json_loadb((const char *) p, len, JSON_DECODE_ANY, &err);
    ok = (j != NULL && json_is_string(j));
    json_decref(j);
    return ok;
}


/*
 * NGX_OK when the body is one valid JSON value (empty counts as "no body"),
 * NGX_DECLINED when not.  The body is small (tucai_json_max); if nginx put
 * it in a temp file it is read back, which is a page-cache read of at most
 * that many bytes.
 */
ngx_int_t
ngx_http_tucai_validate_json(ngx_http_request_t *r, ngx_chain_t *in, off_t len)
{
    u_char        *buf, *p;
    size_t         n;
    ssize_t        got;
    json_t        *j;
    ngx_buf_t     *b;
    json_error_t   err;

    if (len == 0) {
        return NGX_OK;
    }

    buf = ngx_pnalloc(r->pool, (size_t) len);
    if (buf == NULL) {
        return NGX_ERROR;
    }
    p = buf;

    for ( /* void */ ; in; in = in->next) {
        b = in->buf;
        if (b->in_file && !ngx_buf_in_memory(b)) {
            n = (size_t) (b->file_last - b->file_pos);
            if (n > (size_t) (buf + len - p)) {
                return NGX_DECLINED;
            }
            got = ngx_read_file(b->file, p, n, b->file_pos);
            if (got != (ssize_t) n) {
                return NGX_ERROR;
            }
        } else {
            n = (size_t) (b->last - b->pos);
            if (n > (size_t) (buf + len - p)) {
                return NGX_DECLINED;
            }
            ngx_memcpy(p, b->pos, n);
        }
        p += n;
    }

    j = json_loadb((const char *) buf, p - buf,
                   JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        return NGX_DECLINED;
    }
    /* every JSON body of API.md is an object */
    n = json_is_object(j);
    json_decref(j);
    return n ? NGX_OK : NGX_DECLINED;
}
