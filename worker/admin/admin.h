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

#define ADM_CODE_ALPHABET "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" /* no 0/O/1/I */
#define ADM_CODE_RANDOM   16
#define ADM_CODE_MAX      32 /* text length incl. prefix, + NUL */

#define ADM_MAX_STUDENTS 20000 /* per roster import / per school batch */
#define ADM_MAX_LIST     1000  /* rows in one list answer */

/* One code of a generation batch (admin_codes.c, admin_batch.c). */
typedef struct {
    uint64_t student_id;
    char     no[33];
    char     name[257];
    char     cls[257]; /* "" = no class */
    char     code[ADM_CODE_MAX];
} adm_code_row_t;

#define ADM_SHEET_PER_PAGE 40  /* cards per printed page, default */
#define ADM_INLINE_CODES   200 /* larger batches: CSV and sheets only */

/* admin_sheet.c: one printable page (one class) of a batch. */
char *adm_sheet_page(const char *school_name, const char *cls, int page,
    int pages_of_class, const adm_code_row_t *rows, size_t n);

/* admin_batch.c: writes a batch's files (sheets by class, paged; the CSV)
 * into a new directory under [storage] dir/codes/<school>/ and records the
 * batch, inside the caller's transaction.  *sheets gets the answer's list.
 * 0, or -1 with nothing left on disk (*storage_err says whether the disk or
 * the database failed).  adm_batch_discard removes the files again when the
 * commit fails. */
int  adm_batch_write(tucai_ctx_t *ctx, uint32_t school_id, uint32_t teacher_id,
     const char *school_name, adm_code_row_t *rows, size_t n, int per_page,
     uint64_t *batch_id, json_t **sheets, char *dir, size_t dirn,
     int *storage_err);
void adm_batch_discard(tucai_ctx_t *ctx, const char *dir);
void adm_batch_expire(tucai_ctx_t *ctx, uint32_t school_id);

/* The authenticated teacher of a request. */
typedef struct {
    uint32_t teacher_id;
    uint32_t school_id;
} adm_who_t;

/* ---- admin_db.c: SQL with escaping, transactions ---- */

/* A growable NUL-terminated string (SQL text, the code sheet's HTML); after
 * a failed allocation oom is set and further adds are ignored. */
typedef struct {
    char  *p;
    size_t len, cap;
    int    oom;
} adm_sbuf;

void adm_sb_add(adm_sbuf *b, const char *s, size_t n);

/* A SQL fragment (malloc'ed, NULL on error) escaped for connection db. */
char *adm_sql(MYSQL *db, const char *fmt, ...) DB_FMT(2);

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
int      adm_begin(tucai_ctx_t *ctx);
int      adm_commit(tucai_ctx_t *ctx);
void     adm_rollback(tucai_ctx_t *ctx);
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
int adm_param_student_no(
    const tucai_req_t *req, tucai_resp_t *resp, char *buf, size_t n);
int adm_valid_student_no(const char *s, size_t len);
/* The optional {"reason"} body of unlock/revoke (at most ADM_REASON_MAX-1
 * bytes) into buf ("" when absent).  0, or -1 with a 400 written. */
#define ADM_REASON_MAX 201
int adm_reason(const tucai_req_t *req, tucai_resp_t *resp, char *buf, size_t n);
int adm_not_found(tucai_resp_t *resp);

/* ---- admin_audit.c ---- */

/* Appends an audit row in the caller's transaction; detail may be NULL
 * (not stolen).  0 or -1. */
int adm_audit(tucai_ctx_t *ctx, const tucai_req_t *req, const adm_who_t *who,
    const char *action, const char *target, json_t *detail);
int adm_audit_raw(tucai_ctx_t *ctx, uint32_t school_id, uint32_t teacher_id,
    const char *rid, const char *action, const char *target, json_t *detail);

/* ---- admin_students.c ---- */

/* Queues a photo_status subscribe message about a teacher's action (the
 * student gets it only where they consented). */
void adm_tell_student(tucai_ctx_t *ctx, uint64_t sid, const char *what,
    const char *text, const char *state);

/* ---- admin_codes.c ---- */

/* Creates a fresh code for a student (revoking its active ones) in the
 * caller's transaction; code gets the plain text.  0 or -1. */
int adm_code_issue(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
    char code[ADM_CODE_MAX]);
/* Stores an already known plain code (demo re-seed).  0 or -1. */
int  adm_code_store(tucai_ctx_t *ctx, uint32_t school_id, uint64_t student_id,
     const char *code);
void adm_code_hash(const char *code, unsigned char out[32]);
/* Random text of the code alphabet (passwords, codes). 0 or -1. */
int adm_random_text(char *out, size_t nchars);

/* ---- admin_login.c ---- */

/* argon2id encoded hash of a password.  0 or -1. */
int adm_password_hash(const char *pwd, char *encoded, size_t n);

#endif
