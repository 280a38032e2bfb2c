/*
 * admin.h -- private helpers of the school back office (admin_*.c).
 *
 * Collection codes (shared knowledge with the journey's POST /api/v1/code):
 *   code   = <school id, decimal> "-" <16 chars of ADM_CODE_ALPHABET>
 *            e.g. "12-7KQ9M3XW2HJRTP4F" (80 random bits from RAND_bytes)
 *   stored = codes.code_hash = SHA-256 of the exact code text (upper case)
 * The school prefix is not a secret: it lets the journey name the school's
 * contact even for an unknown code.
 */
#ifndef TUCAI_ADMIN_H
#define TUCAI_ADMIN_H

#include <stdarg.h>
#include <stdint.h>
#include <mysql.h>

#include "db.h"
#include "handler.h"

#define ADM_CODE_ALPHABET   "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"   /* no 0/O/1/I */
#define ADM_CODE_RANDOM     16
#define ADM_CODE_MAX        32      /* text length incl. prefix, + NUL */

#define ADM_MAX_STUDENTS    20000   /* per roster import / per school batch */
#define ADM_MAX_LIST        1000    /* rows in one list answer */

/* The authenticated teacher of a request. */
typedef struct {
    uint32_t  teacher_id;
    uint32_t  school_id;
} adm_who_t;

/* ---- admin_db.c: SQL with escaping, transactions ---- */

/* A growable NUL-terminated string (SQL text, the code sheet's HTML); after
 * a failed allocation oom is set and further adds are ignored. */
typedef struct {
    char   *p;
    size_t  len, cap;
    int     oom;
} adm_sbuf;

void adm_sb_add(adm_sbuf *b, const char *s, size_t n);

/*
 * SQL through db/ (db.h has the format: printf's syntax, checked by the
 * compiler; %s %.*s escaped, %*s binary, %-s raw, %d %u %ld %lu numbers).
 * Runs a statement; *affected (may be NULL) gets the affected rows.
 * 0 or -1 (logged).
 */
int adm_exec(tucai_ctx_t *ctx, uint64_t *affected, const char *fmt, ...)
    DB_FMT(3);
/* Runs a query; returns a stored result (mysql_free_result) or NULL. */
MYSQL_RES *adm_query(tucai_ctx_t *ctx, const char *fmt, ...) DB_FMT(2);
/* First column of the first row as integer: 1 found, 0 no row, -1 error. */
int adm_query_u64(tucai_ctx_t *ctx, uint64_t *out, const char *fmt, ...)
    DB_FMT(3);
int adm_begin(tucai_ctx_t *ctx);
int adm_commit(tucai_ctx_t *ctx);
void adm_rollback(tucai_ctx_t *ctx);
uint64_t adm_last_id(tucai_ctx_t *ctx);

/* ---- admin_auth.c: who is asking, request parsing ---- */

/* Checks the teacher token claims against the teachers table.  0, or -1
 * with a 401/503 already written. */
int adm_auth(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp,
    adm_who_t *who);
/* Parses a JSON object body; -1 with 400 BAD_JSON written. */
int adm_json_body(const tucai_req_t *req, tucai_resp_t *resp, json_t **out);
/* Value of key in a query string, percent-decoded into buf. 1/0. */
int adm_query_param(tstr q, const char *key, char *buf, size_t n);
/* The path parameter as a student number; -1 with 404 written if invalid. */
int adm_param_student_no(const tucai_req_t *req, tucai_resp_t *resp,
    char *buf, size_t n);
int adm_valid_student_no(const char *s, size_t len);
int adm_not_found(tucai_resp_t *resp);

/* ---- admin_audit.c ---- */

/* Appends an audit row in the caller's transaction; detail may be NULL
 * (not stolen).  0 or -1. */
int adm_audit(tucai_ctx_t *ctx, const tucai_req_t *req, const adm_who_t *who,
    const char *action, const char *target, json_t *detail);
int adm_audit_raw(tucai_ctx_t *ctx, uint32_t school_id, uint32_t teacher_id,
    const char *rid, const char *action, const char *target, json_t *detail);

/* ---- admin_codes.c ---- */

/* Creates a fresh code for a student (revoking its active ones) in the
 * caller's transaction; code gets the plain text.  0 or -1. */
int adm_code_issue(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
    char code[ADM_CODE_MAX]);
/* Stores an already known plain code (demo re-seed).  0 or -1. */
int adm_code_store(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
    const char *code);
void adm_code_hash(const char *code, unsigned char out[32]);
/* Random text of the code alphabet (passwords, codes). 0 or -1. */
int adm_random_text(char *out, size_t nchars);

/* ---- admin_login.c ---- */

/* argon2id encoded hash of a password.  0 or -1. */
int adm_password_hash(const char *pwd, char *encoded, size_t n);

#endif
