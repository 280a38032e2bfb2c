/*
 * wxhttp.h -- one HTTPS exchange with WeChat (mini-program APIs and Pay
 * v3) over libcurl: connect/total timeouts from [wechat], a bounded answer
 * size, and the Wechatpay-* answer headers captured for verification.
 * Retrying is the caller's choice (wechat.c, pay_client.c): only network
 * errors, 5xx and errcode -1 are retried, with wxhttp_backoff() between.
 */
#ifndef TUCAI_WXHTTP_H
#define TUCAI_WXHTTP_H

#include <stddef.h>
#include "buf.h"
#include "ctx.h"

#define WXHTTP_MAX_ANSWER (1024 * 1024)

typedef struct {
    long status;     /* HTTP status; 0 = no answer (network) */
    char error[128]; /* curl's reason when status is 0 */
    tbuf body;       /* answer body (not NUL-terminated) */
    char wx_timestamp[32];
    char wx_nonce[80];
    char wx_signature[600];
    char wx_serial[80];
} wxhttp_resp_t;

/* One request.  headers: NULL-terminated "Name: value" list or NULL.
 * Returns 0 when an HTTP answer arrived (any status), -1 otherwise. */
int wxhttp_call(const tucai_config_t *cfg, const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    wxhttp_resp_t *out);

void wxhttp_resp_free(wxhttp_resp_t *r);

/* Sleeps before retry number attempt (1, 2, ...): 100 ms doubling, max 1 s. */
void wxhttp_backoff(int attempt);

/* URL-escapes s into a malloc'ed string (NULL on failure). */
char *wxhttp_escape(const char *s);

#endif
