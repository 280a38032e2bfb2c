/*
 * handler.h -- what the pool hands to an operation handler and what a
 * handler gives back.  The pool (pool.c, conn.c, proto.c) parses frames and
 * owns the connection; handlers (journey_*.c, admin_*.c, health.c, pay.c)
 * own the rules.  Handlers never touch the socket.
 */
#ifndef TUCAI_HANDLER_H
#define TUCAI_HANDLER_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "tucai_proto.h"
#include "tucai_errors.h"
#include "buf.h"
#include "clock.h"
#include "ctx.h"

/* A decoded request frame.  All views point into the connection's buffers
 * and live until the handler returns. */
typedef struct {
    tucai_hdr_t hdr;   /* op = hdr.code, subject, school, role */
    tstr        param; /* TUCAI_M_PARAM */
    tstr        query; /* TUCAI_M_QUERY */
    tstr        content_type;
    tstr        client_ip;
    tstr        host;
    tstr        wxpay_timestamp, wxpay_nonce, wxpay_signature, wxpay_serial;
    const unsigned char *body;
    size_t               body_len;
    char                 rid[33]; /* request id as hex, for logs */
} tucai_req_t;

/* What a handler answers.  The pool encodes it into a response frame. */
typedef struct {
    int      status;  /* HTTP status */
    uint64_t subject; /* for TUCAI_M_STATE; 0 = none */
    int      has_state;
    uint64_t cooldown_until; /* unix s */
    uint64_t lock_until;     /* unix s, 0 = indefinite/none */
    int      lock_kind;      /* TUCAI_LOCK_* */
    /* TUCAI_M_CONTACT with the state: a JSON string literal; "" = none */
    char     contact[TUCAI_CONTACT_MAX + 1];
    uint64_t clear_subject;    /* TUCAI_M_CLEAR when != 0 */
    uint32_t retry_after;      /* TUCAI_M_RETRY_AFTER when != 0 */
    char     content_type[96]; /* "" = application/json */
    char     redirect[512];    /* internal URI; "" = none */
    char     headers[4][256];  /* "Name: value" extras; "" = unused */
    tbuf     body;
} tucai_resp_t;

typedef int (*tucai_handler_pt)(
    tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp);

/* ---- answer helpers (respond.c) ---- */

/* 2xx/4xx with a JSON body; steals the reference to obj. Returns 0. */
int resp_json(tucai_resp_t *r, int status, json_t *obj);

/* The same with the body already JSON text (len bytes): a fixed answer
 * needs no object built and dumped.  Returns 0. */
int resp_json_text(tucai_resp_t *r, int status, const char *json, size_t len);

/*
 * The error form of API.md:
 *   {"error": code, "message": "<zh> / <en>", ...extra}
 * extra may be NULL; its reference is stolen and its keys merged in.
 * Returns 0.
 */
int resp_error(tucai_resp_t *r, int status, const char *code, const char *zh,
    const char *en, json_t *extra);

/*
 * One of the refusals of the contract (tucai_errors.h): its status, code
 * and texts; extra as for resp_error (the entry's fields, in its order).
 */
int resp_refuse(tucai_resp_t *r, enum tucai_err_id id, json_t *extra);

/* 204 with no body. */
int resp_empty(tucai_resp_t *r, int status);

/* Serve a file by nginx internal redirect; uri starts with '/'. */
int resp_redirect(tucai_resp_t *r, const char *uri, const char *content_type);

/* Report the student's cooldown/lock so nginx can cache it. */
void resp_state(tucai_resp_t *r, uint64_t subject, uint64_t cooldown_until,
    int lock_kind, uint64_t lock_until);

/* The school contact nginx caches with the state (TUCAI_M_CONTACT), so
 * its own 423 LOCKED names it as the pool does; one too long for
 * TUCAI_CONTACT_MAX is not sent (nginx then asks the pool). */
void resp_contact(tucai_resp_t *r, const char *contact);

/* Add "Name: value"; returns 0 or -1 when all header slots are used. */
int resp_header(tucai_resp_t *r, const char *name, const char *value);

/* Common failures. */
#define resp_db_unavailable(r)                                         \
    resp_error(r, 503, "DB_UNAVAILABLE", "数据库暂不可用，请稍后重试", \
        "database unavailable, retry shortly",                         \
        json_pack("{s:i}", "retry_after", 2))

#endif
