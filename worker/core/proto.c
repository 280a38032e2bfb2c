/* proto.c -- the pool side of include/tucai_proto.h. */
#include <stdio.h>
#include <string.h>

#include "proto.h"

int
proto_decode_req(
    tucai_req_t *req, const tucai_hdr_t *hdr, const unsigned char *rest)
{
    const unsigned char *val;
    uint32_t             off = 0;
    uint16_t             type, len;
    int                  rc, i;

    memset(req, 0, sizeof(*req));
    req->hdr = *hdr;
    /* by hand: sixteen snprintf calls were a visible part of a light
     * request's CPU */
    for (i = 0; i < 16; i++) {
        req->rid[2 * i] = "0123456789abcdef"[hdr->request_id[i] >> 4];
        req->rid[2 * i + 1] = "0123456789abcdef"[hdr->request_id[i] & 15];
    }
    req->rid[32] = '\0';
    while ((rc = tucai_meta_next(rest, hdr->meta_len, &off, &type, &val, &len))
        == 1)
    {
        tstr *dst = NULL;
        int   fixed = tucai_meta_fixed_len(type);

        if (fixed && len != fixed) {
            return -1;
        }
        switch (type) {
        case TUCAI_M_PARAM: dst = &req->param; break;
        case TUCAI_M_QUERY: dst = &req->query; break;
        case TUCAI_M_CONTENT_TYPE: dst = &req->content_type; break;
        case TUCAI_M_CLIENT_IP: dst = &req->client_ip; break;
        case TUCAI_M_HOST: dst = &req->host; break;
        case TUCAI_M_WXPAY_TIMESTAMP: dst = &req->wxpay_timestamp; break;
        case TUCAI_M_WXPAY_NONCE: dst = &req->wxpay_nonce; break;
        case TUCAI_M_WXPAY_SIGNATURE: dst = &req->wxpay_signature; break;
        case TUCAI_M_WXPAY_SERIAL: dst = &req->wxpay_serial; break;
        default: break; /* unknown: ignored */
        }
        if (dst != NULL) {
            /* a repeated item is ambiguous: a violation */
            if (dst->p != NULL) {
                return -1;
            }
            dst->p = (const char *) val;
            dst->len = len;
        }
    }
    if (rc < 0) {
        return -1;
    }
    req->body = rest + hdr->meta_len;
    req->body_len = hdr->body_len;
    return 0;
}

static int
put_item(tbuf *b, uint16_t type, const void *v, size_t len)
{
    unsigned char h[4];

    if (len > TUCAI_MAX_ITEM) {
        return -1;
    }
    tucai_put16(h, type);
    tucai_put16(h + 2, (uint16_t) len);
    return (tbuf_add(b, h, 4) || tbuf_add(b, v, len)) ? -1 : 0;
}

int
proto_encode_resp(tbuf *head, tucai_resp_t *resp, const tucai_req_t *req)
{
    tucai_hdr_t   h;
    unsigned char raw[TUCAI_HDR_SIZE], v[TUCAI_STATE_SIZE];
    tbuf          meta = { 0 };
    const char   *ct;
    int           i;

    if (resp->body.len > TUCAI_MAX_RESP_BODY) {
        resp->redirect[0] = '\0';
        resp_error(
            resp, 500, "INTERNAL", "内部错误", "response too large", NULL);
    }
    if (resp->status < 100 || resp->status > 599) {
        resp_error(resp, 500, "INTERNAL", "内部错误", "no answer", NULL);
    }

    /* a body without a type is our JSON; a redirect without one lets nginx
     * type the file itself */
    ct = resp->content_type[0] ? resp->content_type
                               : "application/json; charset=utf-8";
    if ((resp->content_type[0] || (resp->body.len > 0 && !resp->redirect[0]))
        && put_item(&meta, TUCAI_M_CONTENT_TYPE, ct, strlen(ct)))
    {
        goto fail;
    }
    if (resp->redirect[0]
        && put_item(
            &meta, TUCAI_M_REDIRECT, resp->redirect, strlen(resp->redirect)))
    {
        goto fail;
    }
    if (resp->has_state) {
        memset(v, 0, sizeof(v));
        tucai_put64(v, resp->cooldown_until);
        tucai_put64(v + 8, resp->lock_until);
        v[16] = (unsigned char) resp->lock_kind;
        if (put_item(&meta, TUCAI_M_STATE, v, TUCAI_STATE_SIZE))
            goto fail;
        if (resp->contact[0]
            && put_item(
                &meta, TUCAI_M_CONTACT, resp->contact, strlen(resp->contact)))
        {
            goto fail;
        }
    }
    if (resp->clear_subject) {
        tucai_put64(v, resp->clear_subject);
        if (put_item(&meta, TUCAI_M_CLEAR, v, 8))
            goto fail;
    }
    if (resp->retry_after) {
        tucai_put32(v, resp->retry_after);
        if (put_item(&meta, TUCAI_M_RETRY_AFTER, v, 4))
            goto fail;
    }
    for (i = 0; i < 4; i++) {
        if (resp->headers[i][0]
            && put_item(&meta, TUCAI_M_HEADER, resp->headers[i],
                strlen(resp->headers[i])))
        {
            goto fail;
        }
    }

    memset(&h, 0, sizeof(h));
    h.code = (uint16_t) resp->status;
    memcpy(h.request_id, req->hdr.request_id, 16);
    h.subject = resp->has_state ? resp->subject : 0;
    h.meta_len = (uint32_t) meta.len;
    h.body_len = (uint32_t) resp->body.len;
    tucai_hdr_encode(raw, &h);

    head->len = 0;
    if (tbuf_add(head, raw, sizeof(raw)) || tbuf_add(head, meta.p, meta.len)) {
        goto fail;
    }
    tbuf_free(&meta);
    return 0;
fail:
    tbuf_free(&meta);
    return -1;
}
