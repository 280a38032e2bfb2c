/* respond.c -- building a handler's answer (handler.h helpers). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handler.h"

int
resp_json_text(tucai_resp_t *r, int status, const char *json, size_t len)
{
    r->status = status;
    r->body.len = 0;
    r->content_type[0] = '\0';
    if (tbuf_add(&r->body, json, len) != 0) {
        r->status = 500;
        r->body.len = 0;
    }
    return 0;
}

int
resp_json(tucai_resp_t *r, int status, json_t *obj)
{
    char *s;

    if (obj == NULL) {
        /* a failed json_pack upstream: still answer JSON, never crash */
        static const char oom[] =
            "{\"error\":\"INTERNAL\",\"message\":\"内部错误 / internal error\"}";
        return resp_json_text(r, 500, oom, sizeof(oom) - 1);
    }
    /* 6 significant digits: measured values read as 0.306, not 0.30599999... */
    s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(obj);
    if (s == NULL) {
        return resp_json_text(r, 500, "", 0);
    }
    resp_json_text(r, status, s, strlen(s));
    free(s);
    return 0;
}

int
resp_error(tucai_resp_t *r, int status, const char *code, const char *zh,
    const char *en, json_t *extra)
{
    char    msg[1024];
    json_t *o;

    snprintf(msg, sizeof(msg), "%s / %s", zh ? zh : "", en ? en : "");
    o = json_pack("{s:s,s:s}", "error", code, "message", msg);
    if (o != NULL && extra != NULL && json_is_object(extra)) {
        const char *k;
        json_t     *v;
        /* retry_after first, then the fields in the caller's order: the
         * order nginx writes its own refusals in (tucai_errors.h) */
        v = json_object_get(extra, "retry_after");
        if (v != NULL) {
            json_object_set(o, "retry_after", v);
        }
        json_object_foreach (extra, k, v) {
            /* the stable fields win over a careless extra */
            if (strcmp(k, "error") != 0 && strcmp(k, "message") != 0) {
                json_object_set(o, k, v);
            }
        }
        json_t *ra = json_object_get(extra, "retry_after");
        if (json_is_integer(ra) && json_integer_value(ra) > 0) {
            r->retry_after = (uint32_t) json_integer_value(ra);
        }
    }
    json_decref(extra);
    return resp_json(r, status, o);
}

int
resp_refuse(tucai_resp_t *r, enum tucai_err_id id, json_t *extra)
{
    const tucai_err_t *e = tucai_err(id);

    return resp_error(r, e->status, e->code, e->zh, e->en, extra);
}

void
resp_contact(tucai_resp_t *r, const char *contact)
{
    json_t *s = json_string(contact ? contact : "");
    char   *lit = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

    json_decref(s);
    r->contact[0] = '\0';
    if (lit != NULL && strlen(lit) <= TUCAI_CONTACT_MAX) {
        memcpy(r->contact, lit, strlen(lit) + 1);
    }
    free(lit);
}

int
resp_empty(tucai_resp_t *r, int status)
{
    r->status = status;
    r->body.len = 0;
    return 0;
}

int
resp_redirect(tucai_resp_t *r, const char *uri, const char *content_type)
{
    if (uri == NULL || uri[0] != '/' || strlen(uri) >= sizeof(r->redirect)) {
        return resp_error(
            r, 500, "INTERNAL", "内部错误", "bad file reference", NULL);
    }
    r->status = 200;
    r->body.len = 0;
    snprintf(r->redirect, sizeof(r->redirect), "%s", uri);
    snprintf(r->content_type, sizeof(r->content_type), "%s",
        content_type ? content_type : "");
    return 0;
}

void
resp_state(tucai_resp_t *r, uint64_t subject, uint64_t cooldown_until,
    int lock_kind, uint64_t lock_until)
{
    r->has_state = 1;
    r->subject = subject;
    r->cooldown_until = cooldown_until;
    r->lock_kind = lock_kind;
    r->lock_until = lock_until;
}

int
resp_header(tucai_resp_t *r, const char *name, const char *value)
{
    size_t i;

    /* CR/LF would let a value smuggle headers into nginx's answer */
    if (strpbrk(name, "\r\n:") != NULL || strpbrk(value, "\r\n") != NULL) {
        return -1;
    }
    for (i = 0; i < 4; i++) {
        if (r->headers[i][0] == '\0') {
            int n = snprintf(
                r->headers[i], sizeof(r->headers[i]), "%s: %s", name, value);
            if (n < 0 || (size_t) n >= sizeof(r->headers[i])) {
                r->headers[i][0] = '\0';
                return -1;
            }
            return 0;
        }
    }
    return -1;
}
