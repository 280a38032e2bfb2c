/*
 * ngx_http_tucai_upstream.c -- the pool protocol over ngx_http_upstream.
 *
 * Request: the 96-byte header and the meta items in one small buffer, then
 * the request body's own buffers (memory or temp file) chained as they are,
 * so an upload is never copied again.  Response: header and meta parsed
 * strictly from u->buffer; a frame that fits the buffer is taken whole
 * before the header goes out, a larger body is streamed unbuffered with a
 * known length; then the connection goes back to the keepalive cache
 * (never when the pool sent more than it announced).
 */
#include "ngx_http_tucai.h"

static ngx_int_t ngx_http_tucai_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_tucai_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_http_tucai_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_http_tucai_filter_init(void *data);
static ngx_int_t ngx_http_tucai_filter(void *data, ssize_t bytes);
static void ngx_http_tucai_abort_request(ngx_http_request_t *r);
static void ngx_http_tucai_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);


ngx_int_t
ngx_http_tucai_upstream_start(ngx_http_request_t *r, ngx_http_tucai_ctx_t *ctx)
{
    ngx_http_upstream_t        *u;
    ngx_http_tucai_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u = r->upstream;
    ngx_str_set(&u->schema, "tucai://");
    u->output.tag = (ngx_buf_tag_t) &ngx_http_tucai_module;
    u->conf = &tlcf->upstream;

    u->create_request = ngx_http_tucai_create_request;
    u->reinit_request = ngx_http_tucai_reinit_request;
    u->process_header = ngx_http_tucai_process_header;
    u->abort_request = ngx_http_tucai_abort_request;
    u->finalize_request = ngx_http_tucai_finalize_request;
    u->input_filter_init = ngx_http_tucai_filter_init;
    u->input_filter = ngx_http_tucai_filter;
    u->input_filter_ctx = ctx;

    ngx_http_upstream_init(r);
    return NGX_DONE;
}


static size_t
ngx_http_tucai_meta_size(ngx_str_t *v)
{
    return v->len ? 4 + ngx_min(v->len, TUCAI_MAX_ITEM) : 0;
}


static u_char *
ngx_http_tucai_meta_put(u_char *p, ngx_uint_t type, ngx_str_t *v)
{
    size_t  len;

    if (v->len == 0) {
        return p;
    }
    len = ngx_min(v->len, TUCAI_MAX_ITEM);
    tucai_put16(p, (uint16_t) type);
    tucai_put16(p + 2, (uint16_t) len);
    return ngx_cpymem(p + 4, v->data, len);
}


static ngx_int_t
ngx_http_tucai_create_request(ngx_http_request_t *r)
{
    u_char                      *p;
    size_t                       len, i;
    ngx_buf_t                   *b;
    ngx_str_t                    wx[4], ctype, host;
    ngx_uint_t                   n, k;
    ngx_chain_t                 *cl, **ll, *in;
    tucai_hdr_t                  h;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *hd;
    ngx_http_tucai_ctx_t        *ctx;
    ngx_http_variable_value_t   *rid;
    ngx_http_tucai_loc_conf_t   *tlcf;
    ngx_http_tucai_main_conf_t  *tmcf;

    static ngx_str_t  wx_names[4] = {
        ngx_string("Wechatpay-Timestamp"), ngx_string("Wechatpay-Nonce"),
        ngx_string("Wechatpay-Signature"), ngx_string("Wechatpay-Serial")
    };

    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tucai_module);

    ngx_memzero(&h, sizeof(tucai_hdr_t));
    h.code = (uint16_t) ctx->route->op;
    h.subject = ctx->token.status == NGX_HTTP_TUCAI_TOK_OK
                ? ctx->token.subject : 0;
    h.school = ctx->token.status == NGX_HTTP_TUCAI_TOK_OK
               ? ctx->token.school : 0;
    h.role = ctx->token.status == NGX_HTTP_TUCAI_TOK_OK
             ? (uint8_t) ctx->token.role : TUCAI_ROLE_NONE;
    h.body_len = (uint32_t) ctx->body_len;

    rid = ngx_http_get_indexed_variable(r, tmcf->request_id_index);
    if (rid && !rid->not_found && rid->len == 32) {
        for (i = 0; i < 16; i++) {
            h.request_id[i] = (u_char) (ngx_hextoi(rid->data + 2 * i, 2));
        }
    }

    h.policy[TUCAI_POL_COOLDOWN_S] = (uint32_t) tlcf->cooldown;
    h.policy[TUCAI_POL_LIVENESS_LOCK_AFTER] = (uint32_t) tlcf->liveness_lock_after;
    h.policy[TUCAI_POL_QUALITY_LOCK_AFTER] = (uint32_t) tlcf->quality_lock_after;
    h.policy[TUCAI_POL_QUALITY_LOCK_S] = (uint32_t) tlcf->quality_lock;
    h.policy[TUCAI_POL_DRAFTS_CAPACITY] = (uint32_t) tlcf->drafts_capacity;
    h.policy[TUCAI_POL_DRAFT_DELETE_DELAY_S] = (uint32_t) tlcf->draft_delete_delay;
    h.policy[TUCAI_POL_MAX_UPLOAD] = (uint32_t) tlcf->max_upload;
    h.policy[TUCAI_POL_UPLOADS_IN_FLIGHT] = (uint32_t) tlcf->uploads_in_flight;

    ngx_str_null(&ctype);
    if (r->headers_in.content_type) {
        ctype = r->headers_in.content_type->value;
    }
    ngx_str_null(&host);
    if (r->headers_in.host) {
        host = r->headers_in.host->value;
    }

    ngx_memzero(wx, sizeof(wx));
    if (ctx->route->op == TUCAI_OP_PAY_NOTIFY) {
        part = &r->headers_in.headers.part;
        hd = part->elts;
        for (n = 0; /* void */; n++) {
            if (n >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                hd = part->elts;
                n = 0;
            }
            for (k = 0; k < 4; k++) {
                if (hd[n].key.len == wx_names[k].len
                    && ngx_strncasecmp(hd[n].key.data, wx_names[k].data,
                                       wx_names[k].len) == 0)
                {
                    wx[k] = hd[n].value;
                }
            }
        }
    }

    len = ngx_http_tucai_meta_size(&ctx->param)
          + ngx_http_tucai_meta_size(&r->args)
          + ngx_http_tucai_meta_size(&ctype)
          + ngx_http_tucai_meta_size(&r->connection->addr_text)
          + ngx_http_tucai_meta_size(&host);
    for (k = 0; k < 4; k++) {
        len += ngx_http_tucai_meta_size(&wx[k]);
    }
    if (len > TUCAI_MAX_META) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tucai: request meta of %uz bytes exceeds the protocol "
                      "limit", len);
        return NGX_ERROR;
    }
    h.meta_len = (uint32_t) len;

    b = ngx_create_temp_buf(r->pool, TUCAI_HDR_SIZE + len);
    if (b == NULL) {
        return NGX_ERROR;
    }
    tucai_hdr_encode(b->last, &h);
    p = b->last + TUCAI_HDR_SIZE;
    p = ngx_http_tucai_meta_put(p, TUCAI_M_PARAM, &ctx->param);
    p = ngx_http_tucai_meta_put(p, TUCAI_M_QUERY, &r->args);
    p = ngx_http_tucai_meta_put(p, TUCAI_M_CONTENT_TYPE, &ctype);
    p = ngx_http_tucai_meta_put(p, TUCAI_M_CLIENT_IP,
                                &r->connection->addr_text);
    p = ngx_http_tucai_meta_put(p, TUCAI_M_HOST, &host);
    for (k = 0; k < 4; k++) {
        p = ngx_http_tucai_meta_put(p, TUCAI_M_WXPAY_TIMESTAMP + k, &wx[k]);
    }
    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }
    cl->buf = b;
    r->upstream->request_bufs = cl;
    ll = &cl->next;

    /* the body's buffers as nginx holds them: links, not copies */
    if (ctx->body_len && r->request_body) {
        for (in = r->request_body->bufs; in; in = in->next) {
            cl = ngx_alloc_chain_link(r->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }
            cl->buf = in->buf;
            *ll = cl;
            ll = &cl->next;
        }
    }
    *ll = NULL;

    ctx->resp_parsed = 0;
    return NGX_OK;
}


static ngx_int_t
ngx_http_tucai_reinit_request(ngx_http_request_t *r)
{
    ngx_http_tucai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    if (ctx) {
        ctx->resp_parsed = 0;
    }
    return NGX_OK;
}


static ngx_int_t
ngx_http_tucai_header_ok(u_char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}


static ngx_int_t
ngx_http_tucai_add_header(ngx_http_request_t *r, u_char *name, size_t nlen,
    u_char *value, size_t vlen)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key.len = nlen;
    h->key.data = ngx_pstrdup(r->pool, &(ngx_str_t) { nlen, name });
    h->value.len = vlen;
    h->value.data = ngx_pstrdup(r->pool, &(ngx_str_t) { vlen, value });
    if (h->key.data == NULL || (vlen && h->value.data == NULL)) {
        return NGX_ERROR;
    }
    return NGX_OK;
}


static ngx_int_t
ngx_http_tucai_process_header(ngx_http_request_t *r)
{
    u_char                *meta, *colon, *v8;
    uint16_t               type, len;
    uint32_t               off, ra;
    ngx_int_t              rc, fixed;
    ngx_buf_t             *b;
    ngx_str_t              uri;
    tucai_hdr_t           *h;
    ngx_table_elt_t       *xa;
    ngx_http_upstream_t   *u;
    ngx_http_tucai_ctx_t  *ctx;
    const unsigned char   *val, *state, *contact;
    size_t                 contact_len;

    u = r->upstream;
    b = &u->buffer;
    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    h = &ctx->resp;

    if (b->last - b->pos < TUCAI_HDR_SIZE) {
        return NGX_AGAIN;
    }

    if (tucai_hdr_decode(b->pos, h, TUCAI_MAX_RESP_BODY) != 0
        || h->code < 200 || h->code > 599)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tucai: pool sent an invalid frame header");
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if ((size_t) (b->end - b->pos) < TUCAI_HDR_SIZE + h->meta_len) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "tucai: pool response meta of %uD bytes does not fit "
                      "tucai_buffer_size", h->meta_len);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if ((size_t) (b->last - b->pos) < TUCAI_HDR_SIZE + h->meta_len) {
        return NGX_AGAIN;
    }

    meta = b->pos + TUCAI_HDR_SIZE;

    /* validate everything before acting on anything */
    off = 0;
    while ((rc = tucai_meta_next(meta, h->meta_len, &off, &type, &val, &len))
           == 1)
    {
        fixed = tucai_meta_fixed_len(type);
        if (fixed && len != fixed) {
            goto invalid;
        }
        if (type == TUCAI_M_REDIRECT
            && (h->body_len != 0 || len == 0
                || val[0] != '/'
                || !ngx_http_tucai_header_ok((u_char *) val, len)))
        {
            goto invalid;
        }
        if ((type == TUCAI_M_HEADER || type == TUCAI_M_CONTENT_TYPE)
            && !ngx_http_tucai_header_ok((u_char *) val, len))
        {
            goto invalid;
        }
        if (type == TUCAI_M_HEADER
            && (ngx_strlchr((u_char *) val, (u_char *) val + len, ':') == NULL
                || val[0] == ':'))
        {
            goto invalid;
        }
    }
    if (rc != 0) {
        goto invalid;
    }

    /*
     * An answer that fits the buffer is taken whole before anything is sent
     * downstream: a pool dying mid-body then gives the client a clean 503
     * POOL_UNAVAILABLE instead of a cut 200.  Larger bodies are streamed.
     */
    if ((size_t) h->body_len
            <= (size_t) (b->end - b->pos) - TUCAI_HDR_SIZE - h->meta_len
        && (size_t) (b->last - b->pos)
            < TUCAI_HDR_SIZE + h->meta_len + (size_t) h->body_len)
    {
        return NGX_AGAIN;
    }

    state = NULL;
    contact = NULL;
    contact_len = 0;
    off = 0;
    while (tucai_meta_next(meta, h->meta_len, &off, &type, &val, &len) == 1) {
        switch (type) {

        case TUCAI_M_CONTENT_TYPE:
            r->headers_out.content_type.data =
                ngx_pstrdup(r->pool, &(ngx_str_t) { len, (u_char *) val });
            if (r->headers_out.content_type.data == NULL) {
                return NGX_ERROR;
            }
            r->headers_out.content_type.len = len;
            r->headers_out.content_type_len = len;
            r->headers_out.content_type_lowcase = NULL;
            break;

        case TUCAI_M_REDIRECT:
            xa = ngx_pcalloc(r->pool, sizeof(ngx_table_elt_t));
            if (xa == NULL) {
                return NGX_ERROR;
            }
            uri.len = len;
            uri.data = ngx_pstrdup(r->pool, &(ngx_str_t) { len, (u_char *) val });
            if (uri.data == NULL) {
                return NGX_ERROR;
            }
            ngx_str_set(&xa->key, "X-Accel-Redirect");
            xa->value = uri;
            xa->hash = 1;
            /* ngx_http_upstream serves it as an internal redirect */
            u->headers_in.x_accel_redirect = xa;
            break;

        case TUCAI_M_STATE:
            state = val;
            break;

        case TUCAI_M_CONTACT:
            /* spliced into nginx's own refusals: only a JSON string */
            if (ngx_http_tucai_json_string_ok(val, len)) {
                contact = val;
                contact_len = len;
            }
            break;

        case TUCAI_M_CLEAR:
            ngx_http_tucai_shm_clear(r, tucai_get64(val));
            break;

        case TUCAI_M_RETRY_AFTER:
            ra = tucai_get32(val);
            v8 = ngx_pnalloc(r->pool, NGX_INT32_LEN);
            if (v8 == NULL) {
                return NGX_ERROR;
            }
            if (ngx_http_tucai_add_header(r, (u_char *) "Retry-After", 11, v8,
                                          ngx_sprintf(v8, "%uD", ra) - v8)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
            break;

        case TUCAI_M_HEADER:
            colon = ngx_strlchr((u_char *) val, (u_char *) val + len, ':');
            v8 = colon + 1;
            while (v8 < (u_char *) val + len && *v8 == ' ') {
                v8++;
            }
            if (ngx_http_tucai_add_header(r, (u_char *) val,
                                          colon - (u_char *) val, v8,
                                          (u_char *) val + len - v8)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
            break;

        default:
            /* unknown types are for later versions: ignored */
            break;
        }
    }

    if (state) {
        ngx_http_tucai_shm_set_state(r, h->subject, state, contact,
                                     contact_len);
    }

    b->pos += TUCAI_HDR_SIZE + h->meta_len;

    u->headers_in.status_n = h->code;
    u->state->status = h->code;
    ngx_http_tucai_answered(r, h->code);
    u->headers_in.content_length_n = h->body_len + ctx->prefix_len;
    ctx->resp_parsed = 1;

    if (h->body_len == 0 && b->pos == b->last) {
        u->keepalive = !u->headers_in.connection_close;
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "tucai: pool sent invalid meta items");
    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
}


static ngx_int_t
ngx_http_tucai_filter_init(void *data)
{
    ngx_http_tucai_ctx_t  *ctx = data;

    ngx_http_upstream_t  *u = ctx->request->upstream;

    u->length = ctx->resp.body_len;

    /* tucai_status prometheus: nginx's figures go first, the pool's
     * body is appended behind them by the filter */
    if (ctx->prefix) {
        ctx->prefix->buf->tag = u->output.tag;
        ctx->prefix->buf->flush = 1;
        ctx->prefix->next = NULL;
        u->out_bufs = ctx->prefix;
        ctx->prefix = NULL;
    }
    return NGX_OK;
}


static ngx_int_t
ngx_http_tucai_filter(void *data, ssize_t bytes)
{
    ngx_http_tucai_ctx_t  *ctx = data;

    ngx_buf_t            *b;
    ngx_uint_t            extra;
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t  *u;

    extra = 0;
    u = ctx->request->upstream;
    b = &u->buffer;

    if (bytes > u->length) {
        /* a pool that says more than it announced is broken: drop the
         * extra and do not reuse the connection */
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "tucai: pool sent %z bytes after the announced body",
                      bytes - u->length);
        bytes = u->length;
        extra = 1;
        if (bytes == 0) {
            u->length = 0;
            return NGX_OK;
        }
    }

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }

    cl = ngx_chain_get_free_buf(ctx->request->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }
    *ll = cl;

    cl->buf->flush = 1;
    cl->buf->memory = 1;
    cl->buf->pos = b->last;
    b->last += bytes;
    cl->buf->last = b->last;
    cl->buf->tag = u->output.tag;

    u->length -= bytes;
    if (u->length == 0 && !extra) {
        u->keepalive = !u->headers_in.connection_close;
    }

    return NGX_OK;
}


static void
ngx_http_tucai_abort_request(ngx_http_request_t *r)
{
    return;
}


static void
ngx_http_tucai_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_tucai_stat_pool_error(r);
    }
    /* the pool is done with this capture, whatever the outcome */
    ngx_http_tucai_upload_release(r);
}
