/*
 * multipart.h -- a strict multipart/form-data parser (RFC 7578 / 2046).
 * It never copies: every part is a view into the caller's body, which must
 * outlive the parts.  It never reads outside [body, body + len) and needs
 * no NUL terminator, so it is safe on bodies as they arrive from the wire.
 *
 * Strict on purpose: a body that is not exactly a sequence of parts
 * (preamble, missing final delimiter, headers without a form-data
 * Content-Disposition, duplicated or oversized headers) is refused with a
 * reason instead of being guessed at.
 */
#ifndef TUCAI_MULTIPART_H
#define TUCAI_MULTIPART_H

#include <stddef.h>

#define MP_MAX_PARTS        16   /* photo + 8 frames + meta, with room */
#define MP_MAX_BOUNDARY     70   /* RFC 2046 */
#define MP_MAX_HEADER_BLOCK 1024 /* all headers of one part */
#define MP_MAX_HEADERS      8    /* header lines per part */
#define MP_MAX_NAME         64   /* form field name */
#define MP_MAX_FILENAME     255

typedef struct {
    const char          *name; /* field name (view, not NUL-ended) */
    size_t               name_len;
    const char          *filename; /* NULL when the part is not a file */
    size_t               filename_len;
    const char          *type; /* Content-Type value or NULL */
    size_t               type_len;
    const unsigned char *data;
    size_t               len;
} mp_part_t;

/* 1 when the Content-Type names multipart/form-data (any case). */
int mp_is_form(const char *ct, size_t ct_len);

/*
 * Finds the boundary parameter of a multipart/form-data Content-Type.
 * On success *b points into ct (quotes removed) and 0 is returned; -1 when
 * the type is not multipart/form-data or the boundary is missing, empty,
 * too long or has characters RFC 2046 does not allow.
 */
int mp_boundary(const char *ct, size_t ct_len, const char **b, size_t *b_len);

/*
 * Splits body into at most max parts.  Returns the number of parts (>= 1),
 * or -1 with *err set to a short English reason (static string).
 */
int mp_parse(const unsigned char *body, size_t len, const char *b, size_t b_len,
    mp_part_t *parts, int max, const char **err);

/* The first part named name (NUL-terminated), or NULL. */
const mp_part_t *mp_find(const mp_part_t *parts, int n, const char *name);

/* 1 when part p is named name. */
int mp_named(const mp_part_t *p, const char *name);

#endif
