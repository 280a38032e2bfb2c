/*
 * pay_client.h -- WeChat Pay API v3 cryptography and calls: request signing
 * with the merchant key, answer/notification signature verification against
 * the platform key map ([pay] platform_keys), AES-256-GCM resource
 * decryption, and the wx.requestPayment fields.  Keys are loaded once per
 * process from the files named by config.
 */
#ifndef TUCAI_PAY_CLIENT_H
#define TUCAI_PAY_CLIENT_H

#include <stddef.h>
#include <jansson.h>
#include "buf.h"
#include "ctx.h"

/* Verification outcome. */
enum {
    PAYC_OK = 0,
    PAYC_BAD_SIGNATURE = -1, /* unknown serial, malformed or wrong */
    PAYC_STALE = -2          /* timestamp outside the window */
};

/*
 * One signed Pay v3 call (retried on network errors and 5xx, bounded).
 * path includes the query.  body NULL = GET.  On an answer whose
 * signature verifies: returns 0, *status = HTTP status, *answer = parsed
 * JSON object or NULL (empty body).  Returns -1 when WeChat Pay could not
 * be reached or its answer failed verification.
 */
int payc_call(tucai_ctx_t *ctx, const char *method, const char *path,
    const char *body, long *status, json_t **answer);

/* Checks a Wechatpay-* signature over "ts\nnonce\nbody\n". */
int payc_verify(const tucai_config_t *cfg, const char *ts, size_t ts_len,
    const char *nonce, size_t nonce_len, const char *sig, size_t sig_len,
    const char *serial, size_t serial_len, const unsigned char *body,
    size_t body_len);

/* Decrypts a notification resource object with the APIv3 key.  Returns the
 * parsed plaintext object or NULL. */
json_t *payc_decrypt_resource(const tucai_config_t *cfg, json_t *resource);

/* {"timeStamp","nonceStr","package","signType","paySign"} for prepay_id,
 * or NULL when signing fails. */
json_t *payc_request_payment(const tucai_config_t *cfg, const char *prepay_id);

/* 0 when the merchant key, APIv3 key and at least one platform key load. */
int payc_ready(const tucai_config_t *cfg);

/* Random hex nonce into buf (n-1 hex digits). */
void payc_nonce(char *buf, size_t n);

#endif
