/*
 * tucai_proto.h -- the wire protocol between ngx_http_tucai_module (nginx)
 * and the tucai-worker pool, over a Unix stream socket.
 *
 * This is the only file both sides share.  The module knows nothing of the
 * database, libvips or libcurl; the pool knows nothing of nginx.
 *
 * Version 1.
 *
 * Exchange
 * --------
 * A connection carries a sequence of exchanges: nginx writes one request
 * frame, the pool answers with exactly one response frame, then the
 * connection is idle and may be reused (nginx upstream keepalive).  There is
 * no pipelining and no interleaving: bytes written after a request frame
 * before its answer are a violation (the pool reads a frame's start in one
 * read and closes the connection).
 *
 * Frame
 * -----
 *     header   TUCAI_HDR_SIZE bytes, fixed layout below, integers big-endian
 *     meta     hdr.meta_len bytes: a sequence of TLV items
 *     body     hdr.body_len bytes: opaque (JSON, multipart, JPEG, ...)
 *
 * Header (96 bytes; offsets in bytes)
 *      0  u32  magic        TUCAI_MAGIC ("TCAI")
 *      4  u16  version      TUCAI_VERSION
 *      6  u16  code         request: operation (TUCAI_OP_*);
 *                           response: HTTP status to answer with
 *      8  u8[16] request_id nginx's $request_id as 16 raw bytes (echoed)
 *     24  u64  subject      authenticated subject: WeChat account id
 *                           (role student) or teacher id (role teacher);
 *                           0 = anonymous.  In a response: the subject the
 *                           TUCAI_M_STATE item applies to.
 *     32  u32  school       school id from the token (0 = none/unknown)
 *     36  u8   role         TUCAI_ROLE_*
 *     37  u8   flags        0 (reserved, must be 0)
 *     38  u16  reserved     0
 *     40  u32  meta_len     <= TUCAI_MAX_META
 *     44  u32  body_len     <= TUCAI_MAX_BODY
 *     48  u32[12] policy    request: the policy knobs of the nginx location
 *                           that took the request (TUCAI_POL_*), so nginx and
 *                           the pool never disagree; response: all 0
 *
 * Meta item
 *      0  u16  type         TUCAI_M_*
 *      2  u16  len          value length, the item is 4 + len bytes
 *      4  ...  value        raw bytes (strings are NOT NUL-terminated)
 *
 * Strictness
 * ----------
 * A receiver checks magic, version, reserved fields, limits and that the
 * meta items tile meta_len exactly.  Any violation, or a short read before
 * a full frame, closes that connection only; the peer process goes on
 * serving other connections.  Unknown meta types are ignored (forward
 * compatibility within a version); a known type with a wrong fixed length is
 * a violation.
 */

#ifndef TUCAI_PROTO_H
#define TUCAI_PROTO_H

#include <stdint.h>
#include <string.h>

#define TUCAI_MAGIC          0x54434149u     /* "TCAI" */
#define TUCAI_VERSION        1
#define TUCAI_HDR_SIZE       96
#define TUCAI_MAX_META       65536
#define TUCAI_MAX_ITEM       65535
/* Request bodies are capped lower by the policy (max upload); this is the
 * hard ceiling of the format.  Response bodies above 16 MiB are served as
 * files through TUCAI_M_REDIRECT instead. */
#define TUCAI_MAX_BODY       (64u * 1024 * 1024)
#define TUCAI_MAX_RESP_BODY  (16u * 1024 * 1024)
#define TUCAI_NPOLICY        12

/* roles */
#define TUCAI_ROLE_NONE      0
#define TUCAI_ROLE_STUDENT   1
#define TUCAI_ROLE_TEACHER   2

/* operations (request code): written once, with their method, path, role
 * and body, in tucai_ops.def (part of this protocol) */
enum tucai_op {
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler) \
    TUCAI_OP_##name = code,
#include "tucai_ops.def"
#undef TUCAI_OP
    /* no path (so not in tucai_ops.def): `tucai_status prometheus
     * UPSTREAM;` asks the pool for its own figures, answered as Prometheus
     * text (docs/metrics.md) */
    TUCAI_OP_METRICS = 120,
    /* no path either: the detailed health JSON (pool pids, counters,
     * MariaDB version) for operators on the pool socket; anonymous
     * /api/v1/health says only ok / degraded */
    TUCAI_OP_STATUS = 121,
    TUCAI_OP_MAX = 128
};

/* policy knobs, index into hdr.policy[] (values from nginx.conf) */
enum tucai_policy_idx {
    TUCAI_POL_COOLDOWN_S = 0,        /* cooldown after a failed check: 60 */
    TUCAI_POL_LIVENESS_LOCK_AFTER,   /* consecutive liveness fails: 3 */
    TUCAI_POL_QUALITY_LOCK_AFTER,    /* consecutive other fails: 5 */
    TUCAI_POL_QUALITY_LOCK_S,        /* self-ending lock: 1800 */
    TUCAI_POL_DRAFTS_CAPACITY,       /* drafts box: 3 */
    TUCAI_POL_DRAFT_DELETE_DELAY_S,  /* 86400 */
    TUCAI_POL_MAX_UPLOAD,            /* bytes: 15 MB */
    TUCAI_POL_UPLOADS_IN_FLIGHT,     /* per student: 1 */
    /* 8..11 reserved, 0 */
};

/* meta item types.  R = request (nginx -> pool), A = answer (pool -> nginx) */
enum tucai_meta_type {
    TUCAI_M_PARAM = 1,        /* R  str  path parameter ({id}, {student_no}) */
    TUCAI_M_QUERY,            /* R  str  raw query string, without '?' */
    TUCAI_M_CONTENT_TYPE,     /* RA str  Content-Type of the body */
    TUCAI_M_CLIENT_IP,        /* R  str  client address (text) */
    TUCAI_M_WXPAY_TIMESTAMP,  /* R  str  Wechatpay-Timestamp header */
    TUCAI_M_WXPAY_NONCE,      /* R  str  Wechatpay-Nonce header */
    TUCAI_M_WXPAY_SIGNATURE,  /* R  str  Wechatpay-Signature header */
    TUCAI_M_WXPAY_SERIAL,     /* R  str  Wechatpay-Serial header */
    TUCAI_M_HOST,             /* R  str  Host header (for absolute URLs) */

    TUCAI_M_REDIRECT = 32,    /* A  str  internal URI nginx serves itself
                                         (X-Accel-Redirect style); body empty */
    TUCAI_M_STATE,            /* A  fixed 24: tucai_state_t for hdr.subject;
                                         nginx caches it in its shm zone */
    TUCAI_M_CLEAR,            /* A  fixed 8: u64 subject whose cached state
                                         nginx drops (teacher unlock) */
    TUCAI_M_RETRY_AFTER,      /* A  fixed 4: u32 seconds -> Retry-After */
    TUCAI_M_HEADER,           /* A  str  "Name: value" extra response header */
    TUCAI_M_CONTACT           /* A  str  the school contact of hdr.subject as
                                         a JSON string literal (quotes
                                         included, jansson's escaping), at
                                         most TUCAI_CONTACT_MAX bytes; sent
                                         with TUCAI_M_STATE.  nginx caches it
                                         with the state and puts it verbatim
                                         in its cached 423 LOCKED liveness
                                         refusal (tucai_errors.h); a longer
                                         contact is not sent, and nginx then
                                         leaves that refusal to the pool.
                                         Added in revision 2 of version 1 */
};

/*
 * Revisions within version 1 (new optional items only; an older peer
 * ignores them):
 *   1  the items above up to TUCAI_M_HEADER
 *   2  TUCAI_M_CONTACT
 */
#define TUCAI_REVISION       2

/* bound of TUCAI_M_CONTACT: it lives in each subject's entry of nginx's
 * zone, which it must not grow past its slab size (ngx_http_tucai_shm.c) */
#define TUCAI_CONTACT_MAX    96

/* TUCAI_M_STATE value (24 bytes, big-endian) */
#define TUCAI_STATE_SIZE     24
#define TUCAI_LOCK_NONE      0
#define TUCAI_LOCK_LIVENESS  1      /* until a teacher unlocks: until = 0 */
#define TUCAI_LOCK_QUALITY   2      /* self-ending at until */
/*
 *      0  u64  cooldown_until   unix seconds, 0 = none
 *      8  u64  lock_until       unix seconds, 0 = none or indefinite
 *     16  u8   lock_kind        TUCAI_LOCK_*
 *     17  u8[7] reserved        0
 */

/* ---- encoding helpers (both sides; no allocation) ---- */

static inline void tucai_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char) (v >> 8); p[1] = (unsigned char) v;
}

static inline void tucai_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24); p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);  p[3] = (unsigned char) v;
}

static inline void tucai_put64(unsigned char *p, uint64_t v)
{
    tucai_put32(p, (uint32_t) (v >> 32)); tucai_put32(p + 4, (uint32_t) v);
}

static inline uint16_t tucai_get16(const unsigned char *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t tucai_get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline uint64_t tucai_get64(const unsigned char *p)
{
    return ((uint64_t) tucai_get32(p) << 32) | tucai_get32(p + 4);
}

/* Decoded header, host order. */
typedef struct {
    uint16_t  version;
    uint16_t  code;
    unsigned char request_id[16];
    uint64_t  subject;
    uint32_t  school;
    uint8_t   role;
    uint32_t  meta_len;
    uint32_t  body_len;
    uint32_t  policy[TUCAI_NPOLICY];
} tucai_hdr_t;

static inline void
tucai_hdr_encode(unsigned char *p, const tucai_hdr_t *h)
{
    int i;

    memset(p, 0, TUCAI_HDR_SIZE);
    tucai_put32(p, TUCAI_MAGIC);
    tucai_put16(p + 4, TUCAI_VERSION);
    tucai_put16(p + 6, h->code);
    memcpy(p + 8, h->request_id, 16);
    tucai_put64(p + 24, h->subject);
    tucai_put32(p + 32, h->school);
    p[36] = h->role;
    tucai_put32(p + 40, h->meta_len);
    tucai_put32(p + 44, h->body_len);
    for (i = 0; i < TUCAI_NPOLICY; i++) {
        tucai_put32(p + 48 + 4 * i, h->policy[i]);
    }
}

/*
 * Decodes and validates a header.  max_body is the receiver's own limit
 * (<= TUCAI_MAX_BODY).  Returns 0, or -1 on any violation.
 */
static inline int
tucai_hdr_decode(const unsigned char *p, tucai_hdr_t *h, uint32_t max_body)
{
    int i;

    if (tucai_get32(p) != TUCAI_MAGIC || tucai_get16(p + 4) != TUCAI_VERSION
        || p[37] != 0 || tucai_get16(p + 38) != 0 || p[36] > TUCAI_ROLE_TEACHER)
    {
        return -1;
    }

    h->version = TUCAI_VERSION;
    h->code = tucai_get16(p + 6);
    memcpy(h->request_id, p + 8, 16);
    h->subject = tucai_get64(p + 24);
    h->school = tucai_get32(p + 32);
    h->role = p[36];
    h->meta_len = tucai_get32(p + 40);
    h->body_len = tucai_get32(p + 44);
    for (i = 0; i < TUCAI_NPOLICY; i++) {
        h->policy[i] = tucai_get32(p + 48 + 4 * i);
    }

    if (h->meta_len > TUCAI_MAX_META || h->body_len > max_body
        || h->body_len > TUCAI_MAX_BODY)
    {
        return -1;
    }

    return 0;
}

/*
 * Walks meta items.  *off starts at 0.  Returns 1 with the item, 0 at the
 * exact end, -1 when the items do not tile the meta section.
 */
static inline int
tucai_meta_next(const unsigned char *meta, uint32_t meta_len, uint32_t *off,
    uint16_t *type, const unsigned char **val, uint16_t *len)
{
    if (*off == meta_len) {
        return 0;
    }
    if (meta_len - *off < 4) {
        return -1;
    }
    *type = tucai_get16(meta + *off);
    *len = tucai_get16(meta + *off + 2);
    if ((uint32_t) *len > meta_len - *off - 4) {
        return -1;
    }
    *val = meta + *off + 4;
    *off += 4 + (uint32_t) *len;
    return 1;
}

/* Fixed lengths of the typed items; 0 = variable. */
static inline int
tucai_meta_fixed_len(uint16_t type)
{
    switch (type) {
    case TUCAI_M_STATE:       return TUCAI_STATE_SIZE;
    case TUCAI_M_CLEAR:       return 8;
    case TUCAI_M_RETRY_AFTER: return 4;
    default:                  return 0;
    }
}

#endif /* TUCAI_PROTO_H */
