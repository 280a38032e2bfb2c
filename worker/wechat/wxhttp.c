/* wxhttp.c -- libcurl exchanges with WeChat, shared by wechat.c and
 * pay_client.c.  One easy handle per process keeps connections alive
 * between calls; every limit (time, size, protocols) is set per call. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <curl/curl.h>

#include "wxhttp.h"

static CURL *easy; /* per process: pool children each get their own */
static int   easy_pid;

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    wxhttp_resp_t *r = ud;
    size_t         len = sz * n;

    if (r->body.len + len > WXHTTP_MAX_ANSWER
        || tbuf_add(&r->body, p, len) != 0) {
        return 0; /* aborts the transfer: an answer this big is not WeChat's */
    }
    return len;
}

static void
keep_header(char *dst, size_t n, const char *v, size_t vlen)
{
    while (vlen > 0
        && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
    {
        vlen--;
    }
    while (vlen > 0 && *v == ' ') {
        v++;
        vlen--;
    }
    if (vlen >= n) {
        vlen = 0; /* too long to be genuine: keep nothing, verification fails */
    }
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    static const struct {
        const char *name;
        size_t      off, cap;
    } want[] = {
        { "Wechatpay-Timestamp:", offsetof(wxhttp_resp_t, wx_timestamp), 32 },
        { "Wechatpay-Nonce:", offsetof(wxhttp_resp_t, wx_nonce), 80 },
        { "Wechatpay-Signature:", offsetof(wxhttp_resp_t, wx_signature), 600 },
        { "Wechatpay-Serial:", offsetof(wxhttp_resp_t, wx_serial), 80 },
    };
    wxhttp_resp_t *r = ud;
    size_t         len = sz * n, i, nl;

    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        nl = strlen(want[i].name);
        if (len > nl && strncasecmp(p, want[i].name, nl) == 0) {
            keep_header(
                (char *) r + want[i].off, want[i].cap, p + nl, len - nl);
        }
    }
    return len;
}

static CURL *
get_easy(void)
{
    int pid = (int) getpid();

    /* A handle inherited over fork shares the parent's sockets: start anew. */
    if (easy != NULL && easy_pid != pid) {
        easy = NULL;
    }
    if (easy == NULL) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        easy = curl_easy_init();
        easy_pid = pid;
    } else {
        curl_easy_reset(easy);
    }
    return easy;
}

int
wxhttp_call(const tucai_config_t *cfg, const char *method, const char *url,
    const char *const *headers, const char *body, size_t body_len,
    wxhttp_resp_t *out)
{
    CURL              *c;
    struct curl_slist *hl = NULL;
    CURLcode           rc;
    long total = cfg->wx_timeout_ms > 0 ? cfg->wx_timeout_ms : 3000;
    int  i;

    memset(out, 0, sizeof(*out));
    c = get_easy();
    if (c == NULL) {
        snprintf(out->error, sizeof(out->error), "curl init failed");
        return -1;
    }
    for (i = 0; headers != NULL && headers[i] != NULL; i++) {
        hl = curl_slist_append(hl, headers[i]);
    }
    hl = curl_slist_append(hl, "Accept: application/json");
    hl = curl_slist_append(hl, "User-Agent: tucai-worker");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(
        c, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(
        c, CURLOPT_CONNECTTIMEOUT_MS, total < 1000 ? total : 1000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) body_len);
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    rc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (rc != CURLE_OK) {
        snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(rc));
        out->status = 0;
        tbuf_free(&out->body);
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    /* NUL after the body (not counted) so JSON parsers may take it as is. */
    if (tbuf_add(&out->body, "", 1) != 0) {
        return -1;
    }
    out->body.len--;
    return 0;
}

void
wxhttp_resp_free(wxhttp_resp_t *r)
{
    tbuf_free(&r->body);
}

void
wxhttp_backoff(int attempt)
{
    long            ms = 100L << (attempt > 4 ? 4 : attempt - 1);
    struct timespec ts;

    if (ms > 1000) {
        ms = 1000;
    }
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

char *
wxhttp_escape(const char *s)
{
    CURL *c = get_easy();
    char *e, *r;

    if (c == NULL) {
        return NULL;
    }
    e = curl_easy_escape(c, s, 0);
    if (e == NULL) {
        return NULL;
    }
    r = strdup(e);
    curl_free(e);
    return r;
}
