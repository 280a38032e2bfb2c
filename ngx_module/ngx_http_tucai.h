/*
 * ngx_http_tucai.h -- shared declarations of ngx_http_tucai_module's files.
 *
 * The module is the edge of tucai: it routes API paths to pool operations,
 * verifies session tokens, answers cooldowns/locks/rate limits from shared
 * memory and talks to the tucai-worker pool through ngx_http_upstream.
 */
#ifndef NGX_HTTP_TUCAI_H
#define NGX_HTTP_TUCAI_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "tucai_proto.h"
#include "tucai_errors.h"
#include "ngx_http_tucai_bucket.h"

/* pseudo operation answered by nginx alone (bench fast path) */
#define NGX_HTTP_TUCAI_OP_PING      (TUCAI_OP_MAX - 1)

/* what kind of body a route takes (decides limit and validation) */
#define NGX_HTTP_TUCAI_BODY_NONE    0   /* body discarded */
#define NGX_HTTP_TUCAI_BODY_JSON    1   /* small, validated JSON (may be empty) */
#define NGX_HTTP_TUCAI_BODY_UPLOAD  2   /* multipart up to max_upload, or JSON */
#define NGX_HTTP_TUCAI_BODY_CSV     3   /* roster CSV up to tucai_roster_max */
#define NGX_HTTP_TUCAI_BODY_RAW     4   /* small, opaque (pay notify) */

typedef struct {
    ngx_uint_t   op;
    ngx_uint_t   method;           /* NGX_HTTP_GET, ... */
    ngx_uint_t   role;             /* TUCAI_ROLE_* required; NONE = open */
    ngx_uint_t   body;             /* NGX_HTTP_TUCAI_BODY_* */
    const char  *name;             /* for logs, $tucai_op and status */
} ngx_http_tucai_route_t;

/* token verification outcome ($tucai_token_status) */
#define NGX_HTTP_TUCAI_TOK_NONE     0
#define NGX_HTTP_TUCAI_TOK_OK       1
#define NGX_HTTP_TUCAI_TOK_INVALID  2   /* malformed, forged, unknown key */
#define NGX_HTTP_TUCAI_TOK_EXPIRED  3

typedef struct {
    ngx_str_t    kid;
    u_char      *secret;
    size_t       len;
} ngx_http_tucai_key_t;

typedef struct {
    ngx_uint_t   status;
    ngx_uint_t   role;
    uint64_t     subject;
    uint32_t     school;
    time_t       exp;
    ngx_str_t    kid;
} ngx_http_tucai_token_t;

/* token bucket knob: rate in milli-requests per second (limit_req style) */
typedef struct {
    ngx_uint_t   rate;             /* 0 = off */
    ngx_uint_t   burst;            /* in requests */
} ngx_http_tucai_rate_t;

/* refusal kinds counted for the status page */
enum {
    NGX_HTTP_TUCAI_REF_UNAUTHORIZED = 0,
    NGX_HTTP_TUCAI_REF_COOLING_DOWN,
    NGX_HTTP_TUCAI_REF_LOCKED,
    NGX_HTTP_TUCAI_REF_IN_PROGRESS,
    NGX_HTTP_TUCAI_REF_RATE_LIMITED,
    NGX_HTTP_TUCAI_REF_BAD_JSON,
    NGX_HTTP_TUCAI_REF_TOO_LARGE,
    NGX_HTTP_TUCAI_REF_NOT_FOUND,
    NGX_HTTP_TUCAI_REF_MAX
};

/* rate-limit bucket families (part of the shm key) */
#define NGX_HTTP_TUCAI_KEY_SUBJECT     1
#define NGX_HTTP_TUCAI_KEY_CODE_IP     2
#define NGX_HTTP_TUCAI_KEY_CODE_SUBJ   3
#define NGX_HTTP_TUCAI_KEY_LOGIN_IP    4
#define NGX_HTTP_TUCAI_KEY_ADMIN_LOGIN_IP  5
#define NGX_HTTP_TUCAI_KEY_CAPTURE_FAIL    6

/* per-subject state as cached in the zone (copy handed out) */
typedef struct {
    time_t       cooldown_until;
    time_t       lock_until;
    time_t       revalidate_at;
    ngx_uint_t   lock_kind;
    ngx_uint_t   found;
    size_t       contact_len;      /* 0: not known */
    u_char       contact[TUCAI_CONTACT_MAX];   /* a JSON string literal */
} ngx_http_tucai_state_t;

typedef struct {
    ngx_shm_zone_t          *shm_zone;
    ngx_array_t             *keys;         /* ngx_http_tucai_key_t */
    ngx_str_t                keys_file;
    ngx_int_t                request_id_index;
    ngx_uint_t               passes;       /* tucai_pass locations */
} ngx_http_tucai_main_conf_t;

typedef struct {
    ngx_http_upstream_conf_t upstream;
    ngx_flag_t               enabled;      /* tucai_pass present */
    time_t                   cooldown;
    ngx_int_t                liveness_lock_after;
    ngx_int_t                quality_lock_after;
    time_t                   quality_lock;
    ngx_int_t                drafts_capacity;
    time_t                   draft_delete_delay;
    size_t                   max_upload;
    ngx_int_t                uploads_in_flight;
    time_t                   lock_revalidate;
    size_t                   json_max;
    size_t                   roster_max;
    ngx_http_tucai_rate_t    code_rate;
    ngx_http_tucai_rate_t    login_rate;
    ngx_http_tucai_rate_t    admin_login_rate;
    ngx_http_tucai_rate_t    code_ip_rate;
    ngx_http_tucai_rate_t    capture_fail_rate;
    ngx_uint_t               checks_in_flight;   /* 0 = no cap */
    time_t                   pool_retry_after;
    ngx_uint_t               status_prometheus;  /* tucai_status prometheus */
} ngx_http_tucai_loc_conf_t;

/* per-request context */
typedef struct {
    const ngx_http_tucai_route_t *route;
    ngx_str_t                param;
    ngx_http_tucai_token_t   token;
    unsigned                 token_done:1;
    unsigned                 inflight:1;     /* holds an upload slot */
    unsigned                 checking:1;     /* holds a photo-check slot */
    off_t                    body_len;
    ngx_http_request_t      *request;
    /* the per-IP bucket that counts this request if it fails */
    ngx_http_tucai_rate_t   *fail_rate;
    ngx_uint_t               fail_family;
    size_t                   fail_klen;
    u_char                   fail_key[16];
    /* response parsing */
    tucai_hdr_t              resp;
    unsigned                 resp_parsed:1;
    /* tucai_status prometheus: nginx's own figures, sent before the
     * pool's answer to TUCAI_OP_METRICS */
    ngx_chain_t             *prefix;
    off_t                    prefix_len;
} ngx_http_tucai_ctx_t;

extern ngx_module_t  ngx_http_tucai_module;

/* routes.c */
const ngx_http_tucai_route_t *ngx_http_tucai_route(ngx_http_request_t *r,
    ngx_str_t *param, ngx_uint_t *method_mismatch);
const char *ngx_http_tucai_op_name(ngx_uint_t op);

/* token.c */
char *ngx_http_tucai_load_keys(ngx_conf_t *cf, ngx_str_t *file,
    ngx_array_t **keys);
ngx_http_tucai_ctx_t *ngx_http_tucai_get_ctx(ngx_http_request_t *r);
ngx_http_tucai_token_t *ngx_http_tucai_token(ngx_http_request_t *r);
ngx_uint_t ngx_http_tucai_check_token(ngx_http_request_t *r, ngx_str_t *tok,
    ngx_http_tucai_token_t *t);

/* ndk.c: set_tucai_token_* directives (ngx_devel_kit set_var) */
#define NGX_HTTP_TUCAI_SET_STUDENT  0
#define NGX_HTTP_TUCAI_SET_TEACHER  1
#define NGX_HTTP_TUCAI_SET_SCHOOL   2
#define NGX_HTTP_TUCAI_SET_STATUS   3
char *ngx_http_tucai_set_token_var(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* json.c */
ngx_int_t ngx_http_tucai_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len, time_t retry_after);
ngx_int_t ngx_http_tucai_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, time_t retry_after,
    const char *extra);
/* a refusal of the contract (tucai_errors.h); extra as for send_error */
ngx_int_t ngx_http_tucai_refuse(ngx_http_request_t *r, enum tucai_err_id id,
    time_t retry_after, const char *extra);
ngx_uint_t ngx_http_tucai_json_string_ok(const u_char *p, size_t len);
ngx_int_t ngx_http_tucai_validate_json(ngx_http_request_t *r, ngx_chain_t *in,
    off_t len);
u_char *ngx_http_tucai_rfc3339(u_char *p, time_t t);

/* shm.c */
char *ngx_http_tucai_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tucai_rate_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_tucai_shm_get_state(ngx_http_request_t *r, uint64_t subject,
    ngx_http_tucai_state_t *st);
void ngx_http_tucai_shm_set_state(ngx_http_request_t *r, uint64_t subject,
    const unsigned char *state, const unsigned char *contact,
    size_t contact_len);
void ngx_http_tucai_shm_clear(ngx_http_request_t *r, uint64_t subject);
/* NGX_OK taken (or zone unusable: let through), NGX_BUSY at the limit */
ngx_int_t ngx_http_tucai_shm_upload_begin(ngx_http_request_t *r,
    uint64_t subject, ngx_uint_t limit);
void ngx_http_tucai_shm_upload_end(ngx_http_request_t *r, uint64_t subject);
/* photo checks at the pool, all workers: NGX_OK taken, NGX_BUSY at limit */
ngx_int_t ngx_http_tucai_shm_check_begin(ngx_http_request_t *r,
    ngx_uint_t limit);
void ngx_http_tucai_shm_check_end(ngx_http_request_t *r);
ngx_int_t ngx_http_tucai_shm_init_process(ngx_cycle_t *cycle);
/* NGX_OK allowed, NGX_BUSY refused with *retry_after set */
/* modes NGX_HTTP_TUCAI_RATE_*: ngx_http_tucai_bucket.h */
ngx_int_t ngx_http_tucai_shm_rate(ngx_http_request_t *r, ngx_uint_t family,
    u_char *key, size_t len, ngx_http_tucai_rate_t *rate, ngx_uint_t mode,
    time_t *retry_after);
/* after the pool's answer: counts a failure in the request's failure bucket */
void ngx_http_tucai_rate_answer(ngx_http_request_t *r, ngx_uint_t status);
/* the pool's answer header is in: failure buckets, the upload slot */
void ngx_http_tucai_answered(ngx_http_request_t *r, ngx_uint_t status);
void ngx_http_tucai_stat_request(ngx_http_request_t *r, ngx_uint_t op);
void ngx_http_tucai_stat_refusal(ngx_http_request_t *r, ngx_uint_t kind);
void ngx_http_tucai_stat_pool_error(ngx_http_request_t *r);
ngx_int_t ngx_http_tucai_shm_status(ngx_http_request_t *r, ngx_chain_t **out);
ngx_int_t ngx_http_tucai_shm_prometheus(ngx_http_request_t *r,
    ngx_chain_t **out);

/* upstream.c */
ngx_int_t ngx_http_tucai_upstream_start(ngx_http_request_t *r,
    ngx_http_tucai_ctx_t *ctx);

/* module.c */
void ngx_http_tucai_upload_release(ngx_http_request_t *r);

/* variables.c */
ngx_int_t ngx_http_tucai_add_variables(ngx_conf_t *cf);

/* status.c */
char *ngx_http_tucai_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_tucai_error(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

#endif /* NGX_HTTP_TUCAI_H */
