/*
 * ngx_http_tucai_shm.c -- the shared-memory zone of the edge.
 *
 * One slab pool holds an rbtree (keyed by crc32 of family+key, ties broken
 * by memcmp) and an LRU queue, in the manner of ngx_http_limit_req_module.
 * Entries are either per-subject state (cooldown, lock, uploads in flight)
 * or token buckets (rate limits per IP / per subject).  Everything cached
 * here is a copy of what the pool said: losing it only sends requests on to
 * the pool, which enforces the same rules from the database.
 */
#include "ngx_http_tucai.h"

#define NGX_HTTP_TUCAI_KEY_MAX     40
#define NGX_HTTP_TUCAI_EXPIRE_N    2    /* dead entries freed per insert */
#define NGX_HTTP_TUCAI_EVICT_N     16   /* live entries evicted when full */

typedef struct {
    ngx_rbtree_node_t  node;
    ngx_queue_t        queue;
    time_t             cooldown_until;
    time_t             lock_until;
    time_t             revalidate_at;
    ngx_msec_t         last;           /* bucket: last accepted request */
    ngx_uint_t         excess;         /* bucket: milli-requests queued */
    ngx_uint_t         rate;           /* bucket: milli-requests per second */
    uint32_t           inflight;
    u_char             lock_kind;
    u_char             len;
    u_char             contact_len;    /* subject: 0 = contact not known */
    u_char             data[NGX_HTTP_TUCAI_KEY_MAX];
    /* subject: the school contact as a JSON literal (TUCAI_M_CONTACT) */
    u_char             contact[TUCAI_CONTACT_MAX];
} ngx_http_tucai_node_t;

/*
 * The contact rides in every entry, so it must not push an entry into the
 * next slab size (that would halve what a zone holds): entries were already
 * in the 256-byte class on 64-bit (152 bytes), and stay there.
 */
typedef char ngx_http_tucai_node_fits_slab
    [sizeof(ngx_http_tucai_node_t) <= 256 ? 1 : -1];

/*
 * Hot counters, one slot per worker process so that workers on different
 * cores do not fight over cache lines on every request; the status page
 * sums the slots.  Workers beyond the slots share the last one atomically.
 */
#define NGX_HTTP_TUCAI_STAT_SLOTS  8

typedef struct {
    ngx_atomic_uint_t  hits;
    ngx_atomic_uint_t  misses;
    ngx_atomic_uint_t  pool_errors;
    ngx_atomic_uint_t  refusals[NGX_HTTP_TUCAI_REF_MAX];
    ngx_atomic_t       checking;       /* this worker's photo checks at the pool */
    ngx_atomic_uint_t  requests[TUCAI_OP_MAX];
    u_char             pad[64];
} ngx_http_tucai_stats_t;

/* bumped when the layout below changes: a reload into a zone of an older
 * layout (same name and size) must not misread it */
#define NGX_HTTP_TUCAI_SH_VERSION  5

typedef struct {
    ngx_uint_t              version;
    ngx_rbtree_t            rbtree;
    ngx_rbtree_node_t       sentinel;
    ngx_queue_t             lru;
    size_t                  size;
    ngx_atomic_t            entries;
    ngx_atomic_t            evictions;
    ngx_atomic_t            expired;
    ngx_atomic_t            alloc_failures;
    ngx_atomic_t            inflight;      /* captures in flight, gauge */
    ngx_http_tucai_stats_t  stats[NGX_HTTP_TUCAI_STAT_SLOTS];
} ngx_http_tucai_sh_t;

typedef struct {
    ngx_http_tucai_sh_t  *sh;
    ngx_slab_pool_t      *shpool;
    ngx_str_t             name;
} ngx_http_tucai_zone_ctx_t;


static const char *ngx_http_tucai_ref_names[] = {
    "unauthorized", "cooling_down", "locked", "upload_in_progress",
    "rate_limited", "bad_json", "body_too_large", "not_found"
};


static void
ngx_http_tucai_rbtree_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t      **p;
    ngx_http_tucai_node_t   *tn, *tt;

    for ( ;; ) {
        if (node->key < temp->key) {
            p = &temp->left;
        } else if (node->key > temp->key) {
            p = &temp->right;
        } else {
            tn = (ngx_http_tucai_node_t *) node;
            tt = (ngx_http_tucai_node_t *) temp;
            p = (ngx_memn2cmp(tn->data, tt->data, tn->len, tt->len) < 0)
                ? &temp->left : &temp->right;
        }
        if (*p == sentinel) {
            break;
        }
        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_int_t
ngx_http_tucai_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_tucai_zone_ctx_t  *octx = data;
    ngx_http_tucai_zone_ctx_t  *ctx;
    size_t                      len;

    ctx = shm_zone->data;

    if (octx) {
        /* reload with the same size: keep every cached entry */
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;
        if (ctx->sh && ctx->sh->version != NGX_HTTP_TUCAI_SH_VERSION) {
            ngx_log_error(NGX_LOG_ERR, shm_zone->shm.log, 0,
                          "tucai_zone \"%V\" holds an older layout: not "
                          "used until nginx restarts or the zone is resized",
                          &shm_zone->shm.name);
            ctx->sh = NULL;
        }
        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;
        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_tucai_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }
    ngx_memzero(ctx->sh, sizeof(ngx_http_tucai_sh_t));
    ctx->sh->version = NGX_HTTP_TUCAI_SH_VERSION;
    ctx->shpool->data = ctx->sh;
    ctx->sh->size = shm_zone->shm.size;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_tucai_rbtree_insert);
    ngx_queue_init(&ctx->sh->lru);

    len = sizeof(" in tucai zone \"\"") + shm_zone->shm.name.len;
    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }
    ngx_sprintf(ctx->shpool->log_ctx, " in tucai zone \"%V\"%Z",
                &shm_zone->shm.name);
    /* a full zone is expected and handled (eviction): do not log it */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/* tucai_zone NAME:SIZE (http level) */
char *
ngx_http_tucai_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_tucai_main_conf_t  *tmcf = conf;

    u_char                     *p;
    ssize_t                     size;
    ngx_str_t                  *value, name, s;
    ngx_uint_t                  i;
    ngx_list_part_t            *part;
    ngx_shm_zone_t             *oz;
    ngx_http_tucai_zone_ctx_t  *ctx;

    if (tmcf->shm_zone) {
        return "is duplicate";
    }

    value = cf->args->elts;
    p = (u_char *) ngx_strchr(value[1].data, ':');
    if (p == NULL || p == value[1].data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_zone: expected NAME:SIZE, got \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }
    name.data = value[1].data;
    name.len = p - value[1].data;
    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;
    size = ngx_parse_size(&s);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_zone \"%V\": size \"%V\" is invalid or "
                           "below %uzk", &name, &s, 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_tucai_zone_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }
    ctx->name = name;

    tmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_tucai_module);
    if (tmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }
    if (tmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "tucai_zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }
    tmcf->shm_zone->init = ngx_http_tucai_init_zone;
    tmcf->shm_zone->data = ctx;

    /* nginx drops a zone whose size changed on reload: say so */
    if (cf->cycle->old_cycle && cf->cycle->old_cycle->shared_memory.part.elts) {
        part = &cf->cycle->old_cycle->shared_memory.part;
        oz = part->elts;
        for (i = 0; /* void */; i++) {
            if (i >= part->nelts) {
                if (part->next == NULL) {
                    break;
                }
                part = part->next;
                oz = part->elts;
                i = 0;
            }
            if (oz[i].shm.name.len == name.len
                && ngx_strncmp(oz[i].shm.name.data, name.data, name.len) == 0
                && oz[i].shm.size != (size_t) size)
            {
                ngx_log_error(NGX_LOG_NOTICE, cf->log, 0,
                              "tucai_zone \"%V\" size changed from %uz to %z:"
                              " cached cooldowns, locks and rate limits start"
                              " empty (the pool still enforces them)",
                              &name, oz[i].shm.size, size);
            }
        }
    }

    return NGX_CONF_OK;
}


/* tucai_code_rate 5r/m [burst=10] | off */
char *
ngx_http_tucai_rate_slot(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char                 *u;
    ngx_int_t               n, scale, burst;
    ngx_str_t              *value, s;
    ngx_uint_t              i;
    ngx_http_tucai_rate_t  *rate;

    rate = (ngx_http_tucai_rate_t *) (p + cmd->offset);
    if (rate->rate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        rate->rate = 0;
        rate->burst = 0;
        return NGX_CONF_OK;
    }

    s = value[1];
    scale = 1;
    if (s.len > 3 && ngx_strcmp(s.data + s.len - 3, "r/s") == 0) {
        s.len -= 3;
    } else if (s.len > 3 && ngx_strcmp(s.data + s.len - 3, "r/m") == 0) {
        s.len -= 3;
        scale = 60;
    } else {
        s.len = 0;
    }
    n = s.len ? ngx_atoi(s.data, s.len) : NGX_ERROR;
    if (n <= 0 || n > 100000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: invalid rate \"%V\": expected N r/s or N r/m "
                           "(1..100000), or \"off\"", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    burst = 0;
    for (i = 2; i < cf->args->nelts; i++) {
        u = value[i].data;
        if (ngx_strncmp(u, "burst=", 6) == 0) {
            burst = ngx_atoi(u + 6, value[i].len - 6);
            if (burst < 0 || burst > 100000) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "%V: invalid burst \"%V\" (0..100000)",
                                   &cmd->name, &value[i]);
                return NGX_CONF_ERROR;
            }
            continue;
        }
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V: unknown parameter \"%V\"",
                           &cmd->name, &value[i]);
        return NGX_CONF_ERROR;
    }

    rate->rate = (ngx_uint_t) (n * 1000 / scale);
    if (rate->rate == 0) {
        rate->rate = 1;
    }
    rate->burst = (ngx_uint_t) burst;
    return NGX_CONF_OK;
}


static ngx_http_tucai_zone_ctx_t *
ngx_http_tucai_zone_ctx(ngx_http_request_t *r)
{
    ngx_http_tucai_main_conf_t  *tmcf;

    ngx_http_tucai_zone_ctx_t   *ctx;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_tucai_module);
    if (tmcf == NULL || tmcf->shm_zone == NULL) {
        return NULL;
    }
    ctx = tmcf->shm_zone->data;
    return ctx->sh ? ctx : NULL;
}


/* this worker's counter at byte offset off of a stats slot */
static ngx_inline void
ngx_http_tucai_bump(ngx_http_tucai_zone_ctx_t *ctx, size_t off)
{
    ngx_atomic_uint_t  *c;

    if (ngx_worker < NGX_HTTP_TUCAI_STAT_SLOTS - 1) {
        c = (ngx_atomic_uint_t *) ((u_char *) &ctx->sh->stats[ngx_worker] + off);
        (*c)++;
        return;
    }
    c = (ngx_atomic_uint_t *)
        ((u_char *) &ctx->sh->stats[NGX_HTTP_TUCAI_STAT_SLOTS - 1] + off);
    ngx_atomic_fetch_add((ngx_atomic_t *) c, 1);
}


static ngx_http_tucai_node_t *
ngx_http_tucai_lookup(ngx_http_tucai_zone_ctx_t *ctx, uint32_t hash,
    u_char *key, size_t len)
{
    ngx_rbtree_node_t      *node, *sentinel;
    ngx_http_tucai_node_t  *tn;
    ngx_int_t               rc;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {
        if (hash < node->key) {
            node = node->left;
            continue;
        }
        if (hash > node->key) {
            node = node->right;
            continue;
        }
        tn = (ngx_http_tucai_node_t *) node;
        rc = ngx_memn2cmp(key, tn->data, len, tn->len);
        if (rc == 0) {
            return tn;
        }
        node = (rc < 0) ? node->left : node->right;
    }
    return NULL;
}


/* an entry holding nothing worth keeping */
static ngx_uint_t
ngx_http_tucai_dead(ngx_http_tucai_node_t *tn, time_t now, ngx_msec_t msnow)
{
    ngx_msec_int_t  ms;

    if (tn->inflight) {
        return 0;
    }
    if (tn->data[0] == NGX_HTTP_TUCAI_KEY_SUBJECT) {
        return tn->cooldown_until <= now && tn->lock_kind == TUCAI_LOCK_NONE;
    }
    ms = (ngx_msec_int_t) (msnow - tn->last);
    if (ms < 0) {
        ms = 0;
    }
    return (ngx_uint_t) ms * tn->rate / 1000 >= tn->excess;
}


static void
ngx_http_tucai_free(ngx_http_tucai_zone_ctx_t *ctx, ngx_http_tucai_node_t *tn)
{
    ngx_queue_remove(&tn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &tn->node);
    ngx_slab_free_locked(ctx->shpool, tn);
    ngx_atomic_fetch_add(&ctx->sh->entries, -1);
}


/*
 * Finds or creates an entry (zone locked).  When the zone is full, dead
 * entries and then the least recently used live ones (not those with an
 * upload in flight) make room; NULL when even that fails.
 */
static ngx_http_tucai_node_t *
ngx_http_tucai_get(ngx_http_tucai_zone_ctx_t *ctx, u_char *key, size_t len,
    ngx_uint_t create)
{
    uint32_t                hash;
    ngx_uint_t              i, n;
    ngx_queue_t            *q, *prev;
    ngx_msec_t              msnow;
    time_t                  now;
    ngx_http_tucai_node_t  *tn, *old;

    hash = ngx_crc32_short(key, len);
    tn = ngx_http_tucai_lookup(ctx, hash, key, len);
    now = ngx_time();
    msnow = ngx_current_msec;

    if (tn) {
        ngx_queue_remove(&tn->queue);
        ngx_queue_insert_head(&ctx->sh->lru, &tn->queue);
        return tn;
    }
    if (!create) {
        return NULL;
    }

    /* expire a few dead entries from the LRU end, as limit_req does */
    for (i = 0; i < NGX_HTTP_TUCAI_EXPIRE_N; i++) {
        if (ngx_queue_empty(&ctx->sh->lru)) {
            break;
        }
        q = ngx_queue_last(&ctx->sh->lru);
        old = ngx_queue_data(q, ngx_http_tucai_node_t, queue);
        if (!ngx_http_tucai_dead(old, now, msnow)) {
            break;
        }
        ngx_http_tucai_free(ctx, old);
        ngx_atomic_fetch_add(&ctx->sh->expired, 1);
    }

    tn = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_http_tucai_node_t));

    if (tn == NULL) {
        n = 0;
        q = ngx_queue_last(&ctx->sh->lru);
        while (q != ngx_queue_sentinel(&ctx->sh->lru)
               && n < NGX_HTTP_TUCAI_EVICT_N)
        {
            prev = ngx_queue_prev(q);
            old = ngx_queue_data(q, ngx_http_tucai_node_t, queue);
            if (old->inflight == 0) {
                ngx_http_tucai_free(ctx, old);
                ngx_atomic_fetch_add(&ctx->sh->evictions, 1);
                n++;
            }
            q = prev;
        }
        tn = ngx_slab_alloc_locked(ctx->shpool, sizeof(ngx_http_tucai_node_t));
        if (tn == NULL) {
            ngx_atomic_fetch_add(&ctx->sh->alloc_failures, 1);
            return NULL;
        }
    }

    ngx_memzero(tn, sizeof(ngx_http_tucai_node_t));
    tn->node.key = hash;
    tn->len = (u_char) len;
    ngx_memcpy(tn->data, key, len);
    tn->last = msnow;
    ngx_rbtree_insert(&ctx->sh->rbtree, &tn->node);
    ngx_queue_insert_head(&ctx->sh->lru, &tn->queue);
    ngx_atomic_fetch_add(&ctx->sh->entries, 1);
    return tn;
}


static size_t
ngx_http_tucai_subject_key(u_char *key, uint64_t subject)
{
    key[0] = NGX_HTTP_TUCAI_KEY_SUBJECT;
    tucai_put64(key + 1, subject);
    return 9;
}


/*
 * The zone locked and subject's entry found (created when create is set
 * and there is room).  NULL: no zone, nothing locked; otherwise the caller
 * unlocks ctx->shpool->mutex.
 */
static ngx_http_tucai_zone_ctx_t *
ngx_http_tucai_subject_lock(ngx_http_request_t *r, uint64_t subject,
    ngx_uint_t create, ngx_http_tucai_node_t **tn)
{
    u_char                      key[9];
    size_t                      len;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    len = ngx_http_tucai_subject_key(key, subject);

    ngx_shmtx_lock(&ctx->shpool->mutex);
    *tn = ngx_http_tucai_get(ctx, key, len, create);
    return ctx;
}


ngx_int_t
ngx_http_tucai_shm_get_state(ngx_http_request_t *r, uint64_t subject,
    ngx_http_tucai_state_t *st)
{
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ngx_memzero(st, sizeof(ngx_http_tucai_state_t));
    ctx = ngx_http_tucai_subject_lock(r, subject, 0, &tn);
    if (ctx == NULL) {
        return NGX_DECLINED;
    }
    if (tn) {
        st->found = 1;
        st->cooldown_until = tn->cooldown_until;
        st->lock_until = tn->lock_until;
        st->lock_kind = tn->lock_kind;
        st->revalidate_at = tn->revalidate_at;
        st->contact_len = tn->contact_len;
        ngx_memcpy(st->contact, tn->contact, tn->contact_len);
    }
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_http_tucai_bump(ctx, tn ? offsetof(ngx_http_tucai_stats_t, hits)
                                : offsetof(ngx_http_tucai_stats_t, misses));
    return NGX_OK;
}


/* caches the pool's TUCAI_M_STATE for subject, with its TUCAI_M_CONTACT
 * (contact NULL: none sent, so none known) */
void
ngx_http_tucai_shm_set_state(ngx_http_request_t *r, uint64_t subject,
    const unsigned char *v, const unsigned char *contact, size_t contact_len)
{
    u_char                      key[9];
    size_t                      len;
    time_t                      cooldown, lock_until, now;
    ngx_uint_t                  kind;
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_loc_conf_t  *tlcf;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);
    if (ctx == NULL || subject == 0) {
        return;
    }

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_tucai_module);
    now = ngx_time();
    cooldown = (time_t) tucai_get64(v);
    lock_until = (time_t) tucai_get64(v + 8);
    kind = v[16];
    if (kind > TUCAI_LOCK_QUALITY || cooldown < 0 || lock_until < 0) {
        return;
    }
    if (kind == TUCAI_LOCK_QUALITY && lock_until <= now) {
        kind = TUCAI_LOCK_NONE;
    }

    len = ngx_http_tucai_subject_key(key, subject);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    tn = ngx_http_tucai_get(ctx, key, len,
                            cooldown > now || kind != TUCAI_LOCK_NONE);
    if (tn) {
        tn->cooldown_until = cooldown;
        tn->lock_kind = (u_char) kind;
        tn->lock_until = (kind == TUCAI_LOCK_NONE) ? 0 : lock_until;
        tn->revalidate_at = now + tlcf->lock_revalidate;
        if (contact && contact_len <= TUCAI_CONTACT_MAX) {
            ngx_memcpy(tn->contact, contact, contact_len);
            tn->contact_len = (u_char) contact_len;
        } else {
            tn->contact_len = 0;
        }
        if (ngx_http_tucai_dead(tn, now, ngx_current_msec)) {
            ngx_http_tucai_free(ctx, tn);
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/* TUCAI_M_CLEAR: forget a subject's cooldown and lock on this host */
void
ngx_http_tucai_shm_clear(ngx_http_request_t *r, uint64_t subject)
{
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_subject_lock(r, subject, 0, &tn);
    if (ctx == NULL) {
        return;
    }
    if (tn) {
        tn->cooldown_until = 0;
        tn->lock_kind = TUCAI_LOCK_NONE;
        tn->lock_until = 0;
        if (tn->inflight == 0) {
            ngx_http_tucai_free(ctx, tn);
        }
    }
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


ngx_int_t
ngx_http_tucai_shm_upload_begin(ngx_http_request_t *r, uint64_t subject,
    ngx_uint_t limit)
{
    ngx_int_t                   rc;
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_subject_lock(r, subject, 1, &tn);
    if (ctx == NULL) {
        return NGX_DECLINED;
    }
    if (tn == NULL) {
        rc = NGX_DECLINED;              /* zone full: let the pool decide */
    } else if (tn->inflight >= limit) {
        rc = NGX_BUSY;
    } else {
        tn->inflight++;
        ctx->sh->inflight++;
        rc = NGX_OK;
    }
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * Photo checks at the pool, all workers together (tucai_checks_in_flight):
 * each worker counts its own in its stats slot (a crashed worker's
 * successor starts it at 0, ngx_http_tucai_shm_init_process), the sum
 * decides.  Two workers may both take the last slot: a soft cap.
 */
ngx_int_t
ngx_http_tucai_shm_check_begin(ngx_http_request_t *r, ngx_uint_t limit)
{
    ngx_uint_t                  i, sum;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);
    if (ctx == NULL || limit == 0) {
        return NGX_DECLINED;
    }
    sum = 0;
    for (i = 0; i < NGX_HTTP_TUCAI_STAT_SLOTS; i++) {
        sum += ctx->sh->stats[i].checking;
    }
    if (sum >= limit) {
        return NGX_BUSY;
    }
    i = ngx_worker < NGX_HTTP_TUCAI_STAT_SLOTS - 1
        ? ngx_worker : NGX_HTTP_TUCAI_STAT_SLOTS - 1;
    ngx_atomic_fetch_add(&ctx->sh->stats[i].checking, 1);
    return NGX_OK;
}


void
ngx_http_tucai_shm_check_end(ngx_http_request_t *r)
{
    ngx_uint_t                  i;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);
    if (ctx == NULL) {
        return;
    }
    i = ngx_worker < NGX_HTTP_TUCAI_STAT_SLOTS - 1
        ? ngx_worker : NGX_HTTP_TUCAI_STAT_SLOTS - 1;
    if (ctx->sh->stats[i].checking > 0) {
        ngx_atomic_fetch_add(&ctx->sh->stats[i].checking, -1);
    }
}


ngx_int_t
ngx_http_tucai_shm_init_process(ngx_cycle_t *cycle)
{
    ngx_http_tucai_main_conf_t  *tmcf;
    ngx_http_tucai_zone_ctx_t   *ctx;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_tucai_module);
    if (tmcf == NULL || tmcf->shm_zone == NULL) {
        return NGX_OK;
    }
    ctx = tmcf->shm_zone->data;
    if (ctx && ctx->sh && ngx_worker < NGX_HTTP_TUCAI_STAT_SLOTS - 1) {
        ctx->sh->stats[ngx_worker].checking = 0;
    }
    return NGX_OK;
}


void
ngx_http_tucai_shm_upload_end(ngx_http_request_t *r, uint64_t subject)
{
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_subject_lock(r, subject, 0, &tn);
    if (ctx == NULL) {
        return;
    }
    if (tn && tn->inflight) {
        tn->inflight--;
        ctx->sh->inflight--;
        if (ngx_http_tucai_dead(tn, ngx_time(), ngx_current_msec)) {
            ngx_http_tucai_free(ctx, tn);
        }
    }
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Token bucket (limit_req's leaky bucket arithmetic, in
 * ngx_http_tucai_bucket.h).  TAKE counts this request and refuses when the
 * bucket is full; PEEK only refuses when full (the failure-only buckets:
 * nothing is counted before the answer is known); CHARGE counts one
 * failure afterwards and never refuses.
 */
ngx_int_t
ngx_http_tucai_shm_rate(ngx_http_request_t *r, ngx_uint_t family, u_char *k,
    size_t klen, ngx_http_tucai_rate_t *rate, ngx_uint_t mode,
    time_t *retry_after)
{
    u_char                      key[NGX_HTTP_TUCAI_KEY_MAX];
    int64_t                     retry;
    uint64_t                    excess;
    ngx_int_t                   rc;
    ngx_http_tucai_node_t      *tn;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);
    if (ctx == NULL || rate->rate == 0) {
        return NGX_OK;
    }

    if (klen > NGX_HTTP_TUCAI_KEY_MAX - 1) {
        klen = NGX_HTTP_TUCAI_KEY_MAX - 1;
    }
    key[0] = (u_char) family;
    ngx_memcpy(key + 1, k, klen);

    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    /* a peek at a bucket nobody has filled needs no entry */
    tn = ngx_http_tucai_get(ctx, key, klen + 1,
                            mode != NGX_HTTP_TUCAI_RATE_PEEK);
    if (tn) {
        excess = tn->excess;
        switch (ngx_http_tucai_bucket(&excess,
                    (ngx_msec_int_t) (ngx_current_msec - tn->last),
                    rate->rate, rate->burst, mode, &retry))
        {
        case NGX_HTTP_TUCAI_BUCKET_REFUSED:
            rc = NGX_BUSY;
            *retry_after = (time_t) retry;
            break;
        case NGX_HTTP_TUCAI_BUCKET_COUNTED:
            tn->excess = (ngx_uint_t) excess;
            tn->last = ngx_current_msec;
            tn->rate = rate->rate;
            break;
        }
    }
    /* zone full: no limiting rather than refusing everyone */

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


void
ngx_http_tucai_stat_request(ngx_http_request_t *r, ngx_uint_t op)
{
    ngx_http_tucai_zone_ctx_t  *ctx = ngx_http_tucai_zone_ctx(r);

    if (ctx && op < TUCAI_OP_MAX) {
        ngx_http_tucai_bump(ctx, offsetof(ngx_http_tucai_stats_t, requests)
                                 + op * sizeof(ngx_atomic_uint_t));
    }
}


void
ngx_http_tucai_stat_refusal(ngx_http_request_t *r, ngx_uint_t kind)
{
    ngx_http_tucai_zone_ctx_t  *ctx = ngx_http_tucai_zone_ctx(r);

    if (ctx && kind < NGX_HTTP_TUCAI_REF_MAX) {
        ngx_http_tucai_bump(ctx, offsetof(ngx_http_tucai_stats_t, refusals)
                                 + kind * sizeof(ngx_atomic_uint_t));
    }
}


void
ngx_http_tucai_stat_pool_error(ngx_http_request_t *r)
{
    ngx_http_tucai_zone_ctx_t  *ctx = ngx_http_tucai_zone_ctx(r);

    if (ctx) {
        ngx_http_tucai_bump(ctx, offsetof(ngx_http_tucai_stats_t, pool_errors));
    }
}


/* the zone part of the status JSON */
/* the per-worker counter slots added up, for the JSON and Prometheus views */
static void
ngx_http_tucai_stats_sum(ngx_http_tucai_zone_ctx_t *ctx,
    ngx_http_tucai_stats_t *sum)
{
    ngx_uint_t               w, i;
    ngx_http_tucai_stats_t  *sl;

    ngx_memzero(sum, sizeof(ngx_http_tucai_stats_t));
    for (w = 0; w < NGX_HTTP_TUCAI_STAT_SLOTS; w++) {
        sl = &ctx->sh->stats[w];
        sum->hits += sl->hits;
        sum->misses += sl->misses;
        sum->pool_errors += sl->pool_errors;
        for (i = 0; i < NGX_HTTP_TUCAI_REF_MAX; i++) {
            sum->refusals[i] += sl->refusals[i];
        }
        for (i = 0; i < TUCAI_OP_MAX; i++) {
            sum->requests[i] += sl->requests[i];
        }
    }
}


ngx_int_t
ngx_http_tucai_shm_status(ngx_http_request_t *r, ngx_chain_t **out)
{
    u_char                     *p;
    size_t                      len;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, pages, first;
    const char                 *name;
    ngx_http_tucai_stats_t      sum;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);

    len = 1024 + NGX_HTTP_TUCAI_REF_MAX * 64 + TUCAI_OP_MAX * 64;
    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }
    p = b->last;

    if (ctx == NULL) {
        p = ngx_sprintf(p, "{\"zone\":null}");
        b->last = p;
        *out = ngx_alloc_chain_link(r->pool);
        if (*out == NULL) {
            return NGX_ERROR;
        }
        (*out)->buf = b;
        (*out)->next = NULL;
        return NGX_OK;
    }

    ngx_shmtx_lock(&ctx->shpool->mutex);
    pages = (ctx->shpool->end - ctx->shpool->start) / ngx_pagesize;
    p = ngx_sprintf(p, "{\"zone\":{\"name\":\"%V\",\"size\":%uz,"
                    "\"pages_total\":%ui,\"pages_free\":%ui,"
                    "\"pages_used\":%ui},",
                    &ctx->name, ctx->sh->size, pages, ctx->shpool->pfree,
                    pages - ctx->shpool->pfree);
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_http_tucai_stats_sum(ctx, &sum);

    p = ngx_sprintf(p, "\"entries\":%uA,\"evictions\":%uA,\"expired\":%uA,"
                    "\"hits\":%uA,\"misses\":%uA,\"alloc_failures\":%uA,"
                    "\"pool_errors\":%uA,\"uploads_in_flight\":%uA,"
                    "\"refusals\":{",
                    ctx->sh->entries, ctx->sh->evictions, ctx->sh->expired,
                    sum.hits, sum.misses, ctx->sh->alloc_failures,
                    sum.pool_errors, ctx->sh->inflight);

    for (i = 0; i < NGX_HTTP_TUCAI_REF_MAX; i++) {
        p = ngx_sprintf(p, "%s\"%s\":%uA", i ? "," : "",
                        ngx_http_tucai_ref_names[i], sum.refusals[i]);
    }
    p = ngx_sprintf(p, "},\"requests\":{");

    first = 1;
    for (i = 0; i < TUCAI_OP_MAX; i++) {
        name = ngx_http_tucai_op_name(i);
        if (name == NULL) {
            continue;
        }
        p = ngx_sprintf(p, "%s\"%s\":%uA", first ? "" : ",", name,
                        sum.requests[i]);
        first = 0;
    }
    p = ngx_sprintf(p, "}}");
    b->last = p;

    *out = ngx_alloc_chain_link(r->pool);
    if (*out == NULL) {
        return NGX_ERROR;
    }
    (*out)->buf = b;
    (*out)->next = NULL;
    return NGX_OK;
}


/*
 * The same figures in Prometheus text exposition format (version 0.0.4):
 * `tucai_status prometheus;`.  Names: tucai_ prefix, _total for counters,
 * base units (bytes); labels zone, kind, op.
 */
ngx_int_t
ngx_http_tucai_shm_prometheus(ngx_http_request_t *r, ngx_chain_t **out)
{
    u_char                     *p;
    size_t                      len;
    ngx_buf_t                  *b;
    ngx_uint_t                  i, pages, pfree;
    const char                 *name;
    ngx_http_tucai_stats_t      sum;
    ngx_http_tucai_zone_ctx_t  *ctx;

    ctx = ngx_http_tucai_zone_ctx(r);

    len = 4096 + (ctx ? 12 * ctx->name.len : 0) + NGX_HTTP_TUCAI_REF_MAX * 128
          + TUCAI_OP_MAX * 128;
    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }
    p = b->last;

    p = ngx_sprintf(p,
            "# HELP tucai_zone_configured Whether nginx has a tucai_zone.\n"
            "# TYPE tucai_zone_configured gauge\n"
            "tucai_zone_configured %d\n", ctx ? 1 : 0);

    if (ctx != NULL) {
        ngx_shmtx_lock(&ctx->shpool->mutex);
        pages = (ctx->shpool->end - ctx->shpool->start) / ngx_pagesize;
        pfree = ctx->shpool->pfree;
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_http_tucai_stats_sum(ctx, &sum);

        p = ngx_sprintf(p,
            "# HELP tucai_zone_size_bytes Size of the shared memory zone.\n"
            "# TYPE tucai_zone_size_bytes gauge\n"
            "tucai_zone_size_bytes{zone=\"%V\"} %uz\n"
            "# HELP tucai_zone_pages Slab pages of the zone by state.\n"
            "# TYPE tucai_zone_pages gauge\n"
            "tucai_zone_pages{zone=\"%V\",state=\"used\"} %ui\n"
            "tucai_zone_pages{zone=\"%V\",state=\"free\"} %ui\n"
            "# HELP tucai_zone_entries Students and rate buckets cached in the zone.\n"
            "# TYPE tucai_zone_entries gauge\n"
            "tucai_zone_entries{zone=\"%V\"} %uA\n"
            "# HELP tucai_zone_evictions_total Entries evicted (LRU) to make room.\n"
            "# TYPE tucai_zone_evictions_total counter\n"
            "tucai_zone_evictions_total{zone=\"%V\"} %uA\n"
            "# HELP tucai_zone_expired_total Entries dropped once expired.\n"
            "# TYPE tucai_zone_expired_total counter\n"
            "tucai_zone_expired_total{zone=\"%V\"} %uA\n"
            "# HELP tucai_zone_alloc_failures_total Allocations the zone could not satisfy.\n"
            "# TYPE tucai_zone_alloc_failures_total counter\n"
            "tucai_zone_alloc_failures_total{zone=\"%V\"} %uA\n"
            "# HELP tucai_zone_lookups_total Per-student state lookups by result.\n"
            "# TYPE tucai_zone_lookups_total counter\n"
            "tucai_zone_lookups_total{zone=\"%V\",result=\"hit\"} %uA\n"
            "tucai_zone_lookups_total{zone=\"%V\",result=\"miss\"} %uA\n"
            "# HELP tucai_uploads_in_flight Captures being uploaded or checked.\n"
            "# TYPE tucai_uploads_in_flight gauge\n"
            "tucai_uploads_in_flight %uA\n"
            "# HELP tucai_pool_errors_total Requests nginx could not get answered by the pool.\n"
            "# TYPE tucai_pool_errors_total counter\n"
            "tucai_pool_errors_total %uA\n"
            "# HELP tucai_refusals_total Requests refused by nginx itself, by kind.\n"
            "# TYPE tucai_refusals_total counter\n",
            &ctx->name, ctx->sh->size,
            &ctx->name, pages - pfree, &ctx->name, pfree,
            &ctx->name, ctx->sh->entries,
            &ctx->name, ctx->sh->evictions,
            &ctx->name, ctx->sh->expired,
            &ctx->name, ctx->sh->alloc_failures,
            &ctx->name, sum.hits, &ctx->name, sum.misses,
            ctx->sh->inflight, sum.pool_errors);

        for (i = 0; i < NGX_HTTP_TUCAI_REF_MAX; i++) {
            p = ngx_sprintf(p, "tucai_refusals_total{kind=\"%s\"} %uA\n",
                            ngx_http_tucai_ref_names[i], sum.refusals[i]);
        }

        p = ngx_sprintf(p,
            "# HELP tucai_requests_total Requests nginx routed, by operation.\n"
            "# TYPE tucai_requests_total counter\n");
        for (i = 0; i < TUCAI_OP_MAX; i++) {
            name = ngx_http_tucai_op_name(i);
            if (name == NULL) {
                continue;
            }
            p = ngx_sprintf(p, "tucai_requests_total{op=\"%s\"} %uA\n", name,
                            sum.requests[i]);
        }
    }
    b->last = p;

    *out = ngx_alloc_chain_link(r->pool);
    if (*out == NULL) {
        return NGX_ERROR;
    }
    (*out)->buf = b;
    (*out)->next = NULL;
    return NGX_OK;
}
