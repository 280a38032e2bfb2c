/*
 * ngx_http_tucai_module.c -- directives, configuration and the content
 * handler of tucai's edge.
 *
 * A request to a `tucai_pass` location is routed (routes.c), its token
 * verified (token.c), refused from shared memory when a cooldown, lock,
 * upload in flight or rate limit holds (shm.c), its body bounded and, for
 * JSON operations, validated (json.c), and only then sent to the pool
 * (upstream.c).  Every refusal is API.md's JSON, never an HTML page.
 */
#include "ngx_http_tucai.h"

static ngx_int_t ngx_http_tucai_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_tucai_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_tucai_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_tucai_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_tucai_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_tucai_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tucai_token_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_tucai_check_sec(ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_tucai_check_size(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_tucai_check_num(ngx_conf_t *cf, void *post, void *data);
static ngx_int_t ngx_http_tucai_handler(ngx_http_request_t *r);


/* bounds for time and size knobs, so `nginx -t` names the bad value */
typedef struct {
    ngx_conf_post_handler_pt  post_handler;
    off_t                     low;
    off_t                     high;
} ngx_http_tucai_bounds_t;

#define TUCAI_SEC_BOUNDS(name, lo, hi)                                       \
    static ngx_http_tucai_bounds_t name = { ngx_http_tucai_check_sec, lo, hi }
#define TUCAI_SIZE_BOUNDS(name, lo, hi)                                      \
    static ngx_http_tucai_bounds_t name = { ngx_http_tucai_check_size, lo, hi }
#define TUCAI_NUM_BOUNDS(name, lo, hi)                                       \
    static ngx_http_tucai_bounds_t name = { ngx_http_tucai_check_num, lo, hi }

TUCAI_SEC_BOUNDS(ngx_http_tucai_cooldown_bounds, 1, 86400);
TUCAI_SEC_BOUNDS(ngx_http_tucai_quality_lock_bounds, 1, 30 * 86400);
TUCAI_SEC_BOUNDS(ngx_http_tucai_delete_delay_bounds, 0, 365 * 86400);
TUCAI_SEC_BOUNDS(ngx_http_tucai_revalidate_bounds, 1, 3600);
TUCAI_SEC_BOUNDS(ngx_http_tucai_retry_bounds, 1, 3600);
TUCAI_SIZE_BOUNDS(ngx_http_tucai_upload_bounds, 1024, TUCAI_MAX_BODY);
TUCAI_SIZE_BOUNDS(ngx_http_tucai_json_bounds, 256, 1024 * 1024);
TUCAI_NUM_BOUNDS(ngx_http_tucai_lock_after_bounds, 1, 1000);
TUCAI_NUM_BOUNDS(ngx_http_tucai_capacity_bounds, 1, 100);
TUCAI_NUM_BOUNDS(ngx_http_tucai_in_flight_bounds, 1, 16);


static ngx_conf_bitmask_t  ngx_http_tucai_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_response"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("non_idempotent"), NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};


#define TUCAI_LOC   (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)
#define TUCAI_SET_VAR  (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_SIF_CONF \
                        |NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE2)
#define TUCAI_LOCF(f)  NGX_HTTP_LOC_CONF_OFFSET,                             \
                       offsetof(ngx_http_tucai_loc_conf_t, f)

static ngx_conf_num_bounds_t  ngx_http_tucai_checks_bounds = {
    ngx_conf_check_num_bounds, 0, 1024
};


static ngx_command_t  ngx_http_tucai_commands[] = {

    { ngx_string("tucai_pass"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_tucai_pass, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },

    { ngx_string("tucai_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tucai_zone, NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL },

    { ngx_string("tucai_token_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_tucai_token_keys, NGX_HTTP_MAIN_CONF_OFFSET, 0, NULL },

    { ngx_string("tucai_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_http_tucai_status, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },

    { ngx_string("tucai_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_tucai_error, 0, 0, NULL },

    /* set_var directives over tokens (ngx_devel_kit) */
    { ngx_string("set_tucai_token_student"), TUCAI_SET_VAR,
      ngx_http_tucai_set_token_var, 0, NGX_HTTP_TUCAI_SET_STUDENT, NULL },
    { ngx_string("set_tucai_token_teacher"), TUCAI_SET_VAR,
      ngx_http_tucai_set_token_var, 0, NGX_HTTP_TUCAI_SET_TEACHER, NULL },
    { ngx_string("set_tucai_token_school"), TUCAI_SET_VAR,
      ngx_http_tucai_set_token_var, 0, NGX_HTTP_TUCAI_SET_SCHOOL, NULL },
    { ngx_string("set_tucai_token_status"), TUCAI_SET_VAR,
      ngx_http_tucai_set_token_var, 0, NGX_HTTP_TUCAI_SET_STATUS, NULL },

    { ngx_string("tucai_connect_timeout"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, TUCAI_LOCF(upstream.connect_timeout), NULL },
    { ngx_string("tucai_send_timeout"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, TUCAI_LOCF(upstream.send_timeout), NULL },
    { ngx_string("tucai_read_timeout"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, TUCAI_LOCF(upstream.read_timeout), NULL },
    { ngx_string("tucai_buffer_size"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot, TUCAI_LOCF(upstream.buffer_size), NULL },
    { ngx_string("tucai_next_upstream"), TUCAI_LOC|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot, TUCAI_LOCF(upstream.next_upstream),
      &ngx_http_tucai_next_upstream_masks },
    { ngx_string("tucai_next_upstream_tries"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(upstream.next_upstream_tries), NULL },
    { ngx_string("tucai_next_upstream_timeout"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot, TUCAI_LOCF(upstream.next_upstream_timeout),
      NULL },

    /* policy knobs (PRODUCT.md), sent to the pool in hdr.policy[] */
    { ngx_string("tucai_cooldown"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, TUCAI_LOCF(cooldown),
      &ngx_http_tucai_cooldown_bounds },
    { ngx_string("tucai_liveness_lock_after"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(liveness_lock_after),
      &ngx_http_tucai_lock_after_bounds },
    { ngx_string("tucai_quality_lock_after"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(quality_lock_after),
      &ngx_http_tucai_lock_after_bounds },
    { ngx_string("tucai_quality_lock"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, TUCAI_LOCF(quality_lock),
      &ngx_http_tucai_quality_lock_bounds },
    { ngx_string("tucai_drafts_capacity"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(drafts_capacity),
      &ngx_http_tucai_capacity_bounds },
    { ngx_string("tucai_draft_delete_delay"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, TUCAI_LOCF(draft_delete_delay),
      &ngx_http_tucai_delete_delay_bounds },
    { ngx_string("tucai_max_upload"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot, TUCAI_LOCF(max_upload),
      &ngx_http_tucai_upload_bounds },
    { ngx_string("tucai_uploads_in_flight"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(uploads_in_flight),
      &ngx_http_tucai_in_flight_bounds },

    /* edge knobs */
    { ngx_string("tucai_lock_revalidate"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, TUCAI_LOCF(lock_revalidate),
      &ngx_http_tucai_revalidate_bounds },
    { ngx_string("tucai_json_max"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot, TUCAI_LOCF(json_max),
      &ngx_http_tucai_json_bounds },
    { ngx_string("tucai_roster_max"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot, TUCAI_LOCF(roster_max),
      &ngx_http_tucai_upload_bounds },
    { ngx_string("tucai_code_rate"), TUCAI_LOC|NGX_CONF_TAKE12,
      ngx_http_tucai_rate_slot, TUCAI_LOCF(code_rate), NULL },
    { ngx_string("tucai_login_rate"), TUCAI_LOC|NGX_CONF_TAKE12,
      ngx_http_tucai_rate_slot, TUCAI_LOCF(login_rate), NULL },
    { ngx_string("tucai_admin_login_rate"), TUCAI_LOC|NGX_CONF_TAKE12,
      ngx_http_tucai_rate_slot, TUCAI_LOCF(admin_login_rate), NULL },
    { ngx_string("tucai_code_ip_rate"), TUCAI_LOC|NGX_CONF_TAKE12,
      ngx_http_tucai_rate_slot, TUCAI_LOCF(code_ip_rate), NULL },
    { ngx_string("tucai_capture_fail_rate"), TUCAI_LOC|NGX_CONF_TAKE12,
      ngx_http_tucai_rate_slot, TUCAI_LOCF(capture_fail_rate), NULL },
    { ngx_string("tucai_checks_in_flight"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, TUCAI_LOCF(checks_in_flight),
      &ngx_http_tucai_checks_bounds },
    { ngx_string("tucai_pool_retry_after"), TUCAI_LOC|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot, TUCAI_LOCF(pool_retry_after),
      &ngx_http_tucai_retry_bounds },

    ngx_null_command
};


static ngx_http_module_t  ngx_http_tucai_module_ctx = {
    ngx_http_tucai_preconfiguration,   /* preconfiguration */
    ngx_http_tucai_postconfiguration,  /* postconfiguration */
    ngx_http_tucai_create_main_conf,   /* create main configuration */
    NULL,                              /* init main configuration */
    NULL,                              /* create server configuration */
    NULL,                              /* merge server configuration */
    ngx_http_tucai_create_loc_conf,    /* create location configuration */
    ngx_http_tucai_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_tucai_module = {
    NGX_MODULE_V1,
    &ngx_http_tucai_module_ctx,        /* module context */
    ngx_http_tucai_commands,           /* module directives */
    NGX_HTTP_MODULE,                   /* module type */
    NULL,                              /* init master */
    NULL,                              /* init module */
    ngx_http_tucai_shm_init_process,   /* init process */
    NULL,                              /* init thread */
    NULL,                              /* exit thread */
    NULL,                              /* exit process */
    NULL,                              /* exit master */
    NGX_MODULE_V1_PADDING
};


/* cf->args still holds the directive being checked: name it */
static char *
ngx_http_tucai_out_of_range(ngx_conf_t *cf, ngx_http_tucai_bounds_t *b,
    const char *unit)
{
    ngx_str_t  *value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be between %O and %O%s, not \"%V\"",
                       &value[0], b->low, b->high, unit, &value[1]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_tucai_check_sec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_tucai_bounds_t  *b = post;
    time_t                   *v = data;

    if (*v < b->low || *v > b->high) {
        return ngx_http_tucai_out_of_range(cf, b, " seconds");
    }
    return NGX_CONF_OK;
}


static char *
ngx_http_tucai_check_size(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_tucai_bounds_t  *b = post;
    size_t                   *v = data;

    if ((off_t) *v < b->low || (off_t) *v > b->high) {
        return ngx_http_tucai_out_of_range(cf, b, " bytes");
    }
    return NGX_CONF_OK;
}


static char *
ngx_http_tucai_check_num(ngx_conf_t *cf, void *post, void *data)
{
    ngx_http_tucai_bounds_t  *b = post;
    ngx_int_t                *v = data;

    if (*v < b->low || *v > b->high) {
        return ngx_http_tucai_out_of_range(cf, b, "");
    }
    return NGX_CONF_OK;
}


static void *
ngx_http_tucai_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_tucai_main_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tucai_main_conf_t));
    if (conf == NULL) {
        return NULL;
    }
    conf->request_id_index = NGX_ERROR;
    return conf;
}


static void *
ngx_http_tucai_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_tucai_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_tucai_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->upstream.local = NGX_CONF_UNSET_PTR;
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    /* the pool's frames are streamed, never cached or stored */
    conf->upstream.cyclic_temp_file = 0;
    conf->upstream.buffering = 0;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.send_lowat = 0;
    conf->upstream.bufs.num = 0;
    conf->upstream.busy_buffers_size = 0;
    conf->upstream.max_temp_file_size = 0;
    conf->upstream.temp_file_write_size = 0;
    /* the pool's error answers are already API.md JSON: pass them on */
    conf->upstream.intercept_errors = 0;
    conf->upstream.intercept_404 = 0;
    conf->upstream.pass_request_headers = 0;
    conf->upstream.pass_request_body = 0;

    conf->enabled = NGX_CONF_UNSET;
    conf->cooldown = NGX_CONF_UNSET;
    conf->liveness_lock_after = NGX_CONF_UNSET;
    conf->quality_lock_after = NGX_CONF_UNSET;
    conf->quality_lock = NGX_CONF_UNSET;
    conf->drafts_capacity = NGX_CONF_UNSET;
    conf->draft_delete_delay = NGX_CONF_UNSET;
    conf->max_upload = NGX_CONF_UNSET_SIZE;
    conf->uploads_in_flight = NGX_CONF_UNSET;
    conf->lock_revalidate = NGX_CONF_UNSET;
    conf->json_max = NGX_CONF_UNSET_SIZE;
    conf->roster_max = NGX_CONF_UNSET_SIZE;
    conf->code_rate.rate = NGX_CONF_UNSET_UINT;
    conf->login_rate.rate = NGX_CONF_UNSET_UINT;
    conf->admin_login_rate.rate = NGX_CONF_UNSET_UINT;
    conf->code_ip_rate.rate = NGX_CONF_UNSET_UINT;
    conf->capture_fail_rate.rate = NGX_CONF_UNSET_UINT;
    conf->checks_in_flight = NGX_CONF_UNSET_UINT;
    conf->pool_retry_after = NGX_CONF_UNSET;
    conf->status_prometheus = NGX_CONF_UNSET_UINT;

    return conf;
}


static void
ngx_http_tucai_merge_rate(ngx_http_tucai_rate_t *conf,
    ngx_http_tucai_rate_t *prev, ngx_uint_t rate, ngx_uint_t burst)
{
    if (conf->rate == NGX_CONF_UNSET_UINT) {
        if (prev->rate == NGX_CONF_UNSET_UINT) {
            conf->rate = rate;
            conf->burst = burst;
        } else {
            *conf = *prev;
        }
    }
}


static char *
ngx_http_tucai_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_tucai_loc_conf_t *prev = parent;
    ngx_http_tucai_loc_conf_t *conf = child;

    size_t                     most;
    ngx_http_core_loc_conf_t  *clcf;

    ngx_conf_merge_ptr_value(conf->upstream.local, prev->upstream.local, NULL);
    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 5000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 60000);
    /* photo checks take time */
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 60000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size, 16384);
    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                                 prev->upstream.next_upstream,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_UPSTREAM_FT_ERROR
                                  |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    if (conf->upstream.buffer_size < TUCAI_HDR_SIZE + 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_buffer_size must be at least %d",
                           TUCAI_HDR_SIZE + 1024);
        return NGX_CONF_ERROR;
    }

    if (conf->upstream.upstream == NULL) {
        conf->upstream.upstream = prev->upstream.upstream;
    }
    ngx_conf_merge_value(conf->enabled, prev->enabled, 0);

    ngx_conf_merge_sec_value(conf->cooldown, prev->cooldown, 60);
    ngx_conf_merge_value(conf->liveness_lock_after, prev->liveness_lock_after,
                         3);
    ngx_conf_merge_value(conf->quality_lock_after, prev->quality_lock_after, 5);
    ngx_conf_merge_sec_value(conf->quality_lock, prev->quality_lock, 1800);
    ngx_conf_merge_value(conf->drafts_capacity, prev->drafts_capacity, 3);
    ngx_conf_merge_sec_value(conf->draft_delete_delay,
                             prev->draft_delete_delay, 86400);
    ngx_conf_merge_size_value(conf->max_upload, prev->max_upload,
                              15 * 1024 * 1024);
    ngx_conf_merge_value(conf->uploads_in_flight, prev->uploads_in_flight, 1);
    ngx_conf_merge_sec_value(conf->lock_revalidate, prev->lock_revalidate, 10);
    ngx_conf_merge_size_value(conf->json_max, prev->json_max, 64 * 1024);
    ngx_conf_merge_size_value(conf->roster_max, prev->roster_max,
                              4 * 1024 * 1024);
    ngx_conf_merge_sec_value(conf->pool_retry_after, prev->pool_retry_after, 5);
    ngx_conf_merge_uint_value(conf->status_prometheus,
                              prev->status_prometheus, 0);
    /*
     * Sized for a school behind one address (README "Rate limits"): every
     * code attempt counts per student; per client address only failures
     * count, so a class binding its codes never fills them.
     */
    ngx_http_tucai_merge_rate(&conf->code_rate, &prev->code_rate, 5000 / 60,
                              10);
    ngx_http_tucai_merge_rate(&conf->code_ip_rate, &prev->code_ip_rate,
                              30000 / 60, 60);
    ngx_http_tucai_merge_rate(&conf->login_rate, &prev->login_rate, 30000 / 60,
                              60);
    /* refused captures of one student (undecodable, over the decode
     * budget, failed checks): a decode is the dearest thing we do */
    ngx_conf_merge_uint_value(conf->checks_in_flight, prev->checks_in_flight,
                              0);
    ngx_http_tucai_merge_rate(&conf->capture_fail_rate,
                              &prev->capture_fail_rate, 2000 / 60, 2);
    ngx_http_tucai_merge_rate(&conf->admin_login_rate, &prev->admin_login_rate,
                              10000 / 60, 20);

    /*
     * Body limits are ours, per operation (413 BODY_TOO_LARGE as JSON);
     * nginx's client_max_body_size in a tucai location is only raised to
     * let the largest of them through.
     */
    if (conf->enabled) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        most = ngx_max(conf->max_upload, ngx_max(conf->json_max,
                                                 conf->roster_max));
        if (clcf->client_max_body_size && clcf->client_max_body_size
                                          < (off_t) most)
        {
            clcf->client_max_body_size = most;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_tucai_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tucai_loc_conf_t *tlcf = conf;

    ngx_url_t                    u;
    ngx_str_t                   *value;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_tucai_main_conf_t  *tmcf;

    if (tlcf->upstream.upstream) {
        return "is duplicate";
    }

    value = cf->args->elts;
    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = value[1];
    u.no_resolve = 1;

    tlcf->upstream.upstream = ngx_http_upstream_add(cf, &u, 0);
    if (tlcf->upstream.upstream == NULL) {
        return NGX_CONF_ERROR;
    }
    tlcf->enabled = 1;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tucai_module);
    tmcf->passes++;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_tucai_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_tucai_token_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tucai_main_conf_t *tmcf = conf;

    ngx_str_t  *value;

    if (tmcf->keys) {
        return "is duplicate";
    }
    value = cf->args->elts;
    tmcf->keys_file = value[1];
    return ngx_http_tucai_load_keys(cf, &tmcf->keys_file, &tmcf->keys);
}


static ngx_int_t
ngx_http_tucai_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_tucai_add_variables(cf);
}


static ngx_int_t
ngx_http_tucai_postconfiguration(ngx_conf_t *cf)
{
    ngx_str_t                    name = ngx_string("request_id");
    ngx_http_tucai_main_conf_t  *tmcf;

    tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_tucai_module);

    /* without keys every authenticated route would answer 401: say so now */
    if (tmcf->passes && tmcf->keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"tucai_pass\" needs \"tucai_token_keys\" at "
                           "http level");
        return NGX_ERROR;
    }
    if (tmcf->passes && tmcf->shm_zone == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "no \"tucai_zone\": cooldowns, locks, uploads in "
                           "flight and rate limits are left to the pool");
    }

    tmcf->request_id_index = ngx_http_get_variable_index(cf, &name);
    if (tmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }
    return NGX_OK;
}


/* ---- request handling ---- */

static void
ngx_http_tucai_upload_cleanup(void *data)
{
    ngx_http_tucai_ctx_t  *ctx = data;

    if (ctx->checking) {
        ctx->checking = 0;
        ngx_http_tucai_shm_check_end(ctx->request);
    }

    if (ctx->inflight) {
        ctx->inflight = 0;
        ngx_http_tucai_shm_upload_end(ctx->request, ctx->token.subject);
    }
}


/*
 * Frees the upload slot as soon as the answer is known (pool finished,
 * refusal sent), not only when the request pool goes away, which for a
 * refused upload can wait for a lingering close.  Idempotent.
 */
void
ngx_http_tucai_upload_release(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *c;

    for (c = r->pool->cleanup; c; c = c->next) {
        if (c->handler == ngx_http_tucai_upload_cleanup) {
            ngx_http_tucai_upload_cleanup(c->data);
        }
    }
}


static ngx_int_t
ngx_http_tucai_ping(ngx_http_request_t *r, ngx_http_tucai_ctx_t *ctx)
{
    u_char                  *body, *p;
    time_t                   now;
    ngx_http_tucai_state_t   st;

    ngx_http_tucai_shm_get_state(r, ctx->token.subject, &st);
    now = ngx_time();

    body = ngx_pnalloc(r->pool, 256);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = ngx_sprintf(body, "{\"ok\":true,\"student\":%uL,\"school\":%uD,"
                    "\"cooldown_until\":", ctx->token.subject,
                    ctx->token.school);
    if (st.cooldown_until > now) {
        *p++ = '"';
        p = ngx_http_tucai_rfc3339(p, st.cooldown_until);
        *p++ = '"';
    } else {
        p = ngx_cpymem(p, "null", 4);
    }
    p = ngx_sprintf(p, ",\"lock\":%s}",
                    st.lock_kind == TUCAI_LOCK_LIVENESS ? "\"liveness\""
                    : st.lock_kind == TUCAI_LOCK_QUALITY ? "\"quality\""
                    : "null");

    return ngx_http_tucai_send_json(r, NGX_HTTP_OK, body, p - body, 0);
}


/*
 * 423 / 429 from the zone, or NGX_DECLINED to go on to the pool.  The
 * bodies are the pool's, byte for byte (tucai_errors.h): a liveness lock
 * names the school's contact, so without a cached contact the pool
 * answers it.
 */
static ngx_int_t
ngx_http_tucai_capture_state(ngx_http_request_t *r, ngx_http_tucai_ctx_t *ctx)
{
    u_char                  *extra, *p;
    time_t                   now;
    ngx_http_tucai_state_t   st;

    if (ngx_http_tucai_shm_get_state(r, ctx->token.subject, &st) != NGX_OK
        || !st.found)
    {
        return NGX_DECLINED;
    }

    now = ngx_time();
    extra = ngx_pnalloc(r->pool, 96 + NGX_TIME_T_LEN + TUCAI_CONTACT_MAX);
    if (extra == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * A lock is trusted only until revalidate_at: a teacher's unlock done
     * through another nginx host must not be hidden for long, so after it
     * the request goes to the pool, whose answer refreshes the zone.
     */
    if (st.lock_kind != TUCAI_LOCK_NONE && st.revalidate_at > now
        && (st.lock_kind == TUCAI_LOCK_LIVENESS || st.lock_until > now))
    {
        if (st.lock_kind == TUCAI_LOCK_LIVENESS) {
            if (st.contact_len == 0) {
                return NGX_DECLINED;
            }
            ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_LOCKED);
            p = ngx_sprintf(extra, ",\"lock\":\"liveness\",\"contact\":");
            p = ngx_cpymem(p, st.contact, st.contact_len);
            *p = '\0';
            return ngx_http_tucai_refuse(r, TUCAI_ERR_LOCKED_LIVENESS, 0,
                                         (char *) extra);
        }
        ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_LOCKED);
        p = ngx_sprintf(extra, ",\"lock\":\"quality\",\"until\":\"");
        p = ngx_http_tucai_rfc3339(p, st.lock_until);
        *p++ = '"';
        *p = '\0';
        return ngx_http_tucai_refuse(r, TUCAI_ERR_LOCKED_QUALITY,
                                     st.lock_until - now, (char *) extra);
    }

    if (st.cooldown_until > now) {
        ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_COOLING_DOWN);
        p = ngx_sprintf(extra, ",\"until\":\"");
        p = ngx_http_tucai_rfc3339(p, st.cooldown_until);
        *p++ = '"';
        *p = '\0';
        return ngx_http_tucai_refuse(r, TUCAI_ERR_COOLING_DOWN,
                                     st.cooldown_until - now, (char *) extra);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_tucai_rate_refuse(ngx_http_request_t *r, ngx_uint_t family,
    time_t retry)
{
    ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_RATE_LIMITED);
    /* wrong teacher passwords: the pool's per-username refusal, same body */
    return ngx_http_tucai_refuse(r, family == NGX_HTTP_TUCAI_KEY_ADMIN_LOGIN_IP
                                    ? TUCAI_ERR_LOGIN_THROTTLED
                                    : TUCAI_ERR_RATE_LIMITED, retry, NULL);
}


/*
 * The per-address failure bucket: refused only when already full; the
 * answer decides whether this request counts (ngx_http_tucai_rate_answer).
 * IPv6 clients are keyed by their /64, which one household or school
 * network gets whole, so hopping addresses inside it gains nothing.
 */
static ngx_int_t
ngx_http_tucai_fail_check(ngx_http_request_t *r, ngx_http_tucai_ctx_t *ctx,
    ngx_http_tucai_rate_t *rate, ngx_uint_t family)
{
    time_t                retry;
    struct sockaddr      *sa;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    if (rate->rate == 0) {
        return NGX_DECLINED;
    }

    sa = r->connection->sockaddr;
    switch (sa->sa_family) {
#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;
        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(ctx->fail_key, &sin6->sin6_addr.s6_addr[12], 4);
            ctx->fail_klen = 4;
        } else {
            ngx_memcpy(ctx->fail_key, sin6->sin6_addr.s6_addr, 8);
            ctx->fail_klen = 8;
        }
        break;
#endif
    case AF_INET:
        ngx_memcpy(ctx->fail_key, &((struct sockaddr_in *) sa)->sin_addr, 4);
        ctx->fail_klen = 4;
        break;
    default:
        ctx->fail_klen = 0;      /* unix socket clients share one bucket */
        break;
    }

    retry = 0;
    if (ngx_http_tucai_shm_rate(r, family, ctx->fail_key, ctx->fail_klen, rate,
                                NGX_HTTP_TUCAI_RATE_PEEK, &retry)
        == NGX_BUSY)
    {
        return ngx_http_tucai_rate_refuse(r, family, retry);
    }

    ctx->fail_rate = rate;
    ctx->fail_family = family;
    return NGX_DECLINED;
}


/* one student's failure bucket (captures): refused only when full */
static ngx_int_t
ngx_http_tucai_subject_fail_check(ngx_http_request_t *r,
    ngx_http_tucai_ctx_t *ctx, ngx_http_tucai_rate_t *rate, ngx_uint_t family)
{
    time_t  retry;

    if (rate->rate == 0 || ctx->token.subject == 0) {
        return NGX_DECLINED;
    }
    tucai_put64(ctx->fail_key, ctx->token.subject);
    ctx->fail_klen = 8;
    retry = 0;
    if (ngx_http_tucai_shm_rate(r, family, ctx->fail_key, 8, rate,
                                NGX_HTTP_TUCAI_RATE_PEEK, &retry)
        == NGX_BUSY)
    {
        return ngx_http_tucai_rate_refuse(r, family, retry);
    }
    ctx->fail_rate = rate;
    ctx->fail_family = family;
    return NGX_DECLINED;
}


/* every attempt of one student counts: the primary limit */
static ngx_int_t
ngx_http_tucai_subject_check(ngx_http_request_t *r, ngx_http_tucai_ctx_t *ctx,
    ngx_http_tucai_rate_t *rate, ngx_uint_t family)
{
    u_char  k[8];
    time_t  retry;

    if (rate->rate == 0 || ctx->token.subject == 0) {
        return NGX_DECLINED;
    }
    tucai_put64(k, ctx->token.subject);
    retry = 0;
    if (ngx_http_tucai_shm_rate(r, family, k, 8, rate,
                                NGX_HTTP_TUCAI_RATE_TAKE, &retry)
        == NGX_BUSY)
    {
        return ngx_http_tucai_rate_refuse(r, family, retry);
    }
    return NGX_DECLINED;
}


/*
 * A failure is any refusal of the request itself (wrong code, unknown
 * code, bad password, undecodable QR picture...), not the pool's own
 * throttling (429) nor its being unavailable (5xx).
 */
void
ngx_http_tucai_rate_answer(ngx_http_request_t *r, ngx_uint_t status)
{
    time_t                 retry;
    ngx_http_tucai_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    if (ctx == NULL || ctx->fail_rate == NULL) {
        return;
    }
    if (status >= 400 && status < 500 && status != 429) {
        (void) ngx_http_tucai_shm_rate(r, ctx->fail_family, ctx->fail_key,
                                       ctx->fail_klen, ctx->fail_rate,
                                       NGX_HTTP_TUCAI_RATE_CHARGE, &retry);
    }
    ctx->fail_rate = NULL;       /* once per request */
}


/*
 * The pool has answered a capture: its upload slot is free now, before the
 * answer goes out, so the student's next capture (sent as soon as this
 * answer arrives) does not meet a 409 UPLOAD_IN_PROGRESS of its own.
 */
void
ngx_http_tucai_answered(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_tucai_ctx_t  *ctx;

    ngx_http_tucai_rate_answer(r, status);
    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    if (ctx && ctx->route && ctx->route->op == TUCAI_OP_CAPTURE) {
        ngx_http_tucai_upload_release(r);
    }
}


static size_t
ngx_http_tucai_body_limit(ngx_http_tucai_loc_conf_t *tlcf, ngx_uint_t kind)
{
    switch (kind) {
    case NGX_HTTP_TUCAI_BODY_UPLOAD:
        return tlcf->max_upload;
    case NGX_HTTP_TUCAI_BODY_CSV:
        return tlcf->roster_max;
    case NGX_HTTP_TUCAI_BODY_NONE:
        return 0;
    default:
        return tlcf->json_max;
    }
}


static ngx_int_t
ngx_http_tucai_too_large(ngx_http_request_t *r, size_t limit)
{
    u_char  *extra;

    ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_TOO_LARGE);
    extra = ngx_pnalloc(r->pool, 32 + NGX_SIZE_T_LEN);
    if (extra == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    *ngx_sprintf(extra, ",\"limit\":%uz", limit) = '\0';
    return ngx_http_tucai_refuse(r, TUCAI_ERR_BODY_TOO_LARGE, 0,
                                 (char *) extra);
}


static ngx_uint_t
ngx_http_tucai_is_json(ngx_http_request_t *r)
{
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return 1;
    }
    ct = &r->headers_in.content_type->value;
    return !(ct->len >= 10
             && ngx_strncasecmp(ct->data, (u_char *) "multipart/", 10) == 0);
}


static void
ngx_http_tucai_body_handler(ngx_http_request_t *r)
{
    off_t                       len;
    size_t                      limit;
    ngx_int_t                   rc;
    ngx_chain_t                *cl;
    ngx_http_tucai_ctx_t       *ctx;
    ngx_http_tucai_loc_conf_t  *tlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_tucai_module);
    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);

    len = 0;
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }
    ctx->body_len = len;

    /* chunked bodies have no Content-Length to check up front */
    limit = ngx_http_tucai_body_limit(tlcf, ctx->route->body);
    if (len > (off_t) limit) {
        ngx_http_tucai_upload_release(r);
        ngx_http_finalize_request(r, ngx_http_tucai_too_large(r, limit));
        return;
    }

    if (ctx->route->body == NGX_HTTP_TUCAI_BODY_JSON
        || (ctx->route->body == NGX_HTTP_TUCAI_BODY_UPLOAD
            && ngx_http_tucai_is_json(r)))
    {
        if (ctx->route->body == NGX_HTTP_TUCAI_BODY_UPLOAD
            && len > (off_t) tlcf->json_max)
        {
            ngx_http_tucai_upload_release(r);
            ngx_http_finalize_request(r,
                                      ngx_http_tucai_too_large(r, tlcf->json_max));
            return;
        }

        rc = ngx_http_tucai_validate_json(r, r->request_body
                                             ? r->request_body->bufs : NULL,
                                          len);
        if (rc == NGX_ERROR) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        if (rc == NGX_DECLINED) {
            ngx_http_tucai_upload_release(r);
            ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_BAD_JSON);
            ngx_http_finalize_request(r, ngx_http_tucai_refuse(r,
                TUCAI_ERR_BAD_JSON, 0, NULL));
            return;
        }
    }

    /*
     * The body is in: only now does the capture cost the pool.  Past
     * tucai_checks_in_flight photo checks at once it waits its turn at the
     * client, so the pool keeps children for everyone else's requests.
     */
    if (ctx->route->op == TUCAI_OP_CAPTURE && tlcf->checks_in_flight) {
        rc = ngx_http_tucai_shm_check_begin(r, tlcf->checks_in_flight);
        if (rc == NGX_BUSY) {
            ngx_http_tucai_upload_release(r);
            ngx_http_finalize_request(r, ngx_http_tucai_refuse(r,
                TUCAI_ERR_CHECKS_BUSY, 1, NULL));
            return;
        }
        ctx->checking = (rc == NGX_OK);
    }

    rc = ngx_http_tucai_upstream_start(r, ctx);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_tucai_upload_release(r);
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_tucai_handler(ngx_http_request_t *r)
{
    size_t                         limit;
    ngx_int_t                      rc;
    ngx_str_t                      param;
    ngx_uint_t                     mismatch;
    ngx_pool_cleanup_t            *cln;
    ngx_http_tucai_ctx_t          *ctx;
    ngx_http_tucai_token_t        *t;
    ngx_http_tucai_loc_conf_t     *tlcf;
    const ngx_http_tucai_route_t  *route;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);

    ctx = ngx_http_tucai_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    route = ngx_http_tucai_route(r, &param, &mismatch);
    if (route == NULL) {
        ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_NOT_FOUND);
        if (mismatch) {
            return ngx_http_tucai_refuse(r, TUCAI_ERR_METHOD_NOT_ALLOWED, 0,
                                         NULL);
        }
        return ngx_http_tucai_refuse(r, TUCAI_ERR_NO_SUCH_ENDPOINT, 0, NULL);
    }
    ctx->route = route;
    ctx->param = param;
    ngx_http_tucai_stat_request(r, route->op);

    t = ngx_http_tucai_token(r);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (route->role != TUCAI_ROLE_NONE
        && (t->status != NGX_HTTP_TUCAI_TOK_OK || t->role != route->role))
    {
        ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_UNAUTHORIZED);
        return ngx_http_tucai_refuse(r, t->status == NGX_HTTP_TUCAI_TOK_EXPIRED
                                        ? TUCAI_ERR_SESSION_ENDED
                                        : TUCAI_ERR_UNAUTHORIZED, 0, NULL);
    }

    switch (route->op) {

    case NGX_HTTP_TUCAI_OP_PING:
        return ngx_http_tucai_ping(r, ctx);

    case TUCAI_OP_CODE:
        /* per student every attempt (typed or scanned), per address the
         * failures only: a guesser fills his own bucket, not his school's */
        rc = ngx_http_tucai_subject_check(r, ctx, &tlcf->code_rate,
                                          NGX_HTTP_TUCAI_KEY_CODE_SUBJ);
        if (rc == NGX_DECLINED) {
            rc = ngx_http_tucai_fail_check(r, ctx, &tlcf->code_ip_rate,
                                           NGX_HTTP_TUCAI_KEY_CODE_IP);
        }
        if (rc != NGX_DECLINED) {
            return rc;
        }
        break;

    case TUCAI_OP_LOGIN:
        /* no identity before login; a js_code is single use and only
         * WeChat issues one, so only refused logins count per address */
        rc = ngx_http_tucai_fail_check(r, ctx, &tlcf->login_rate,
                                       NGX_HTTP_TUCAI_KEY_LOGIN_IP);
        if (rc != NGX_DECLINED) {
            return rc;
        }
        break;

    case TUCAI_OP_ADMIN_LOGIN:
        /*
         * wrong passwords per client address, in their own buckets so
         * students behind a school's NAT cannot fill them; per username
         * (with backoff) the pool limits, as only it reads the body
         */
        rc = ngx_http_tucai_fail_check(r, ctx, &tlcf->admin_login_rate,
                                       NGX_HTTP_TUCAI_KEY_ADMIN_LOGIN_IP);
        if (rc != NGX_DECLINED) {
            return rc;
        }
        break;

    case TUCAI_OP_CAPTURE:
        rc = ngx_http_tucai_capture_state(r, ctx);
        if (rc == NGX_DECLINED) {
            rc = ngx_http_tucai_subject_fail_check(r, ctx,
                                                   &tlcf->capture_fail_rate,
                                                   NGX_HTTP_TUCAI_KEY_CAPTURE_FAIL);
        }
        if (rc != NGX_DECLINED) {
            return rc;
        }
        break;

    default:
        break;
    }

    limit = ngx_http_tucai_body_limit(tlcf, route->body);
    if (route->body != NGX_HTTP_TUCAI_BODY_NONE
        && r->headers_in.content_length_n > (off_t) limit)
    {
        return ngx_http_tucai_too_large(r, limit);
    }

    if (route->op == TUCAI_OP_CAPTURE) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        rc = ngx_http_tucai_shm_upload_begin(r, t->subject,
                                             tlcf->uploads_in_flight);
        if (rc == NGX_BUSY) {
            ngx_http_tucai_stat_refusal(r, NGX_HTTP_TUCAI_REF_IN_PROGRESS);
            return ngx_http_tucai_refuse(r, TUCAI_ERR_UPLOAD_IN_PROGRESS, 0,
                                         NULL);
        }
        /* released by the request pool: every ending runs it */
        ctx->inflight = (rc == NGX_OK);
        cln->handler = ngx_http_tucai_upload_cleanup;
        cln->data = ctx;
    }

    if (route->body == NGX_HTTP_TUCAI_BODY_NONE) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
        ctx->body_len = 0;
        r->main->count++;
        rc = ngx_http_tucai_upstream_start(r, ctx);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            ngx_http_tucai_upload_release(r);
            ngx_http_finalize_request(r, rc);
        }
        return NGX_DONE;
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_tucai_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_tucai_upload_release(r);
        if (rc == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) {
            return ngx_http_tucai_too_large(r, limit);
        }
        return rc;
    }

    return NGX_DONE;
}
