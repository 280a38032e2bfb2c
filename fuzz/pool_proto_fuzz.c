/* pool_proto_fuzz.c -- libFuzzer target for the pool's frame decoding:
 * header validation, meta item walking, request decoding, and encoding an
 * answer back.  Any input must be either refused or decoded within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tucai_hdr_t   h;
    tucai_req_t   req;
    tucai_resp_t  resp;
    tbuf          head = { 0 };
    unsigned char *rest;
    size_t        need;

    if (size < TUCAI_HDR_SIZE || tucai_hdr_decode(data, &h, TUCAI_MAX_BODY) != 0) {
        return 0;
    }
    need = (size_t) h.meta_len + h.body_len;
    if (size - TUCAI_HDR_SIZE < need) {
        return 0;       /* the pool would wait for more bytes or time out */
    }
    /* a private copy: out-of-bounds reads past the frame are caught */
    rest = malloc(need ? need : 1);
    if (rest == NULL) {
        return 0;
    }
    memcpy(rest, data + TUCAI_HDR_SIZE, need);
    if (proto_decode_req(&req, &h, rest) == 0) {
        size_t sum = req.param.len + req.query.len + req.content_type.len
                   + req.client_ip.len + req.host.len + req.body_len;
        (void) sum;
        memset(&resp, 0, sizeof(resp));
        resp_error(&resp, 404, "NOT_FOUND", "没有", "none", NULL);
        resp_header(&resp, "X-Test", "1");
        resp_state(&resp, req.hdr.subject, 1, TUCAI_LOCK_QUALITY, 2);
        if (proto_encode_resp(&head, &resp, &req) == 0) {
            tucai_hdr_t back;
            if (tucai_hdr_decode(head.p, &back, TUCAI_MAX_RESP_BODY) != 0
                || back.meta_len != head.len - TUCAI_HDR_SIZE)
            {
                abort();    /* we must produce what we accept */
            }
        }
        tbuf_free(&head);
        tbuf_free(&resp.body);
    }
    free(rest);
    return 0;
}
