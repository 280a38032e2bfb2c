/* proto.h -- request frame -> tucai_req_t, tucai_resp_t -> response frame. */
#ifndef TUCAI_POOL_PROTO_H
#define TUCAI_POOL_PROTO_H

#include "handler.h"

/* Fills req from a decoded header and the meta+body bytes that followed it
 * (rest = meta_len + body_len bytes).  Returns 0, or -1 when the meta items
 * violate the protocol (the connection is then closed). */
int proto_decode_req(
    tucai_req_t *req, const tucai_hdr_t *hdr, const unsigned char *rest);

/* Encodes the header and meta of resp's frame into head (the body is sent
 * from resp->body as is).  An oversized body is replaced by a 500 JSON
 * error first.  Returns 0 or -1 (ENOMEM). */
int proto_encode_resp(tbuf *head, tucai_resp_t *resp, const tucai_req_t *req);

#endif
