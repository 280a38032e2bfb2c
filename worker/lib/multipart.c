/*
 * multipart.c -- strict multipart/form-data parsing into views (see
 * multipart.h for the rules).  Every scan is bounded by an explicit end
 * pointer; nothing is copied or allocated.
 */
#include <string.h>
#include <strings.h>

#include "multipart.h"

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive: does [p, end) start with the literal s? */
static int
starts_ci(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s), i;

    if ((size_t) (end - p) < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (lower((unsigned char) p[i]) != lower((unsigned char) s[i])) {
            return 0;
        }
    }
    return 1;
}

static int
eq_ci(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && starts_ci(p, p + n, s);
}

/* RFC 7230 tchar */
static int
is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 2046 bchars (space allowed, but not as the last character) */
static int
is_bchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || (c && strchr("'()+_,-./:=? ", c));
}

static const char *
skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    return p;
}

/*
 * Parses one parameter value at p: a token or a quoted string without
 * escapes.  Sets *v and *vn, and returns the position after it, or NULL.
 */
static const char *
param_value(const char *p, const char *end, const char **v, size_t *vn)
{
    const char *s;

    if (p < end && *p == '"') {
        s = ++p;
        while (p < end && *p != '"') {
            /* Escapes and control characters are refused, not decoded. */
            if (*p == '\\' || (unsigned char) *p < 0x20 || *p == 0x7f) {
                return NULL;
            }
            p++;
        }
        if (p == end) {
            return NULL;
        }
        *v = s;
        *vn = (size_t) (p - s);
        return p + 1;
    }
    s = p;
    while (p < end && is_tchar((unsigned char) *p)) {
        p++;
    }
    if (p == s) {
        return NULL;
    }
    *v = s;
    *vn = (size_t) (p - s);
    return p;
}

/*
 * Walks "; name=value" parameters after a media type or disposition.
 * Calls back for each; returns 0 or -1 on a syntax error.
 */
typedef int (*param_cb)(
    void *arg, const char *n, size_t nn, const char *v, size_t vn);

static int
params(const char *p, const char *end, param_cb cb, void *arg)
{
    const char *n, *v;
    size_t      nn, vn;

    for (;;) {
        p = skip_ows(p, end);
        if (p == end) {
            return 0;
        }
        if (*p != ';') {
            return -1;
        }
        p = skip_ows(p + 1, end);
        n = p;
        while (p < end && is_tchar((unsigned char) *p) && *p != '=') {
            p++;
        }
        nn = (size_t) (p - n);
        p = skip_ows(p, end);
        if (nn == 0 || p == end || *p != '=') {
            return -1;
        }
        p = skip_ows(p + 1, end);
        p = param_value(p, end, &v, &vn);
        if (p == NULL || cb(arg, n, nn, v, vn) != 0) {
            return -1;
        }
    }
}

int
mp_is_form(const char *ct, size_t ct_len)
{
    const char *p = ct, *end = ct + ct_len;

    if (ct == NULL) {
        return 0;
    }
    p = skip_ows(p, end);
    if (!starts_ci(p, end, "multipart/form-data")) {
        return 0;
    }
    p += sizeof("multipart/form-data") - 1;
    return p == end || *p == ';' || *p == ' ' || *p == '\t';
}

typedef struct {
    const char *b;
    size_t      n;
    int         seen;
} boundary_arg;

static int
boundary_cb(void *arg, const char *n, size_t nn, const char *v, size_t vn)
{
    boundary_arg *a = arg;

    if (eq_ci(n, nn, "boundary")) {
        if (a->seen) {
            return -1; /* two boundaries: ambiguous */
        }
        a->seen = 1;
        a->b = v;
        a->n = vn;
    }
    return 0;
}

int
mp_boundary(const char *ct, size_t ct_len, const char **b, size_t *b_len)
{
    const char  *p, *end = ct + ct_len;
    boundary_arg a = { NULL, 0, 0 };
    size_t       i;

    if (!mp_is_form(ct, ct_len)) {
        return -1;
    }
    p = skip_ows(ct, end) + sizeof("multipart/form-data") - 1;
    if (params(p, end, boundary_cb, &a) != 0 || !a.seen || a.n == 0
        || a.n > MP_MAX_BOUNDARY || a.b[a.n - 1] == ' ')
    {
        return -1;
    }
    for (i = 0; i < a.n; i++) {
        if (!is_bchar((unsigned char) a.b[i])) {
            return -1;
        }
    }
    *b = a.b;
    *b_len = a.n;
    return 0;
}

typedef struct {
    mp_part_t *part;
    int        bad;
} disp_arg;

static int
disp_cb(void *arg, const char *n, size_t nn, const char *v, size_t vn)
{
    disp_arg *a = arg;

    if (eq_ci(n, nn, "name")) {
        if (a->part->name != NULL || vn == 0 || vn > MP_MAX_NAME) {
            return -1;
        }
        a->part->name = v;
        a->part->name_len = vn;
    } else if (eq_ci(n, nn, "filename")) {
        if (a->part->filename != NULL || vn > MP_MAX_FILENAME) {
            return -1;
        }
        a->part->filename = v;
        a->part->filename_len = vn;
    }
    return 0; /* other parameters are ignored */
}

/* Parses the header block [p, end) of one part into *part. */
static int
part_headers(const char *p, const char *end, mp_part_t *part, const char **err)
{
    const char *line_end, *colon, *v, *ve;
    int         nlines = 0, disp = 0;
    disp_arg    a;

    while (p < end) {
        line_end = memmem(p, (size_t) (end - p), "\r\n", 2);
        if (line_end == NULL) {
            line_end = end;
        }
        if (++nlines > MP_MAX_HEADERS) {
            *err = "too many part headers";
            return -1;
        }
        colon = p;
        while (colon < line_end && is_tchar((unsigned char) *colon)) {
            colon++;
        }
        if (colon == p || colon == line_end || *colon != ':') {
            *err = "malformed part header";
            return -1;
        }
        v = skip_ows(colon + 1, line_end);
        ve = line_end;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }
        if (eq_ci(p, (size_t) (colon - p), "content-disposition")) {
            if (disp++ || !starts_ci(v, ve, "form-data")) {
                *err = "bad Content-Disposition";
                return -1;
            }
            a.part = part;
            a.bad = 0;
            if (params(v + 9, ve, disp_cb, &a) != 0) {
                *err = "bad Content-Disposition parameters";
                return -1;
            }
        } else if (eq_ci(p, (size_t) (colon - p), "content-type")) {
            if (part->type != NULL) {
                *err = "duplicate Content-Type";
                return -1;
            }
            part->type = v;
            part->type_len = (size_t) (ve - v);
        }
        p = line_end == end ? end : line_end + 2;
    }
    if (!disp || part->name == NULL) {
        *err = "part without a form-data name";
        return -1;
    }
    return 0;
}

int
mp_parse(const unsigned char *body, size_t len, const char *b, size_t b_len,
    mp_part_t *parts, int max, const char **err)
{
    const char *p = (const char *) body, *end = p + len, *hend, *next;
    char        delim[4 + MP_MAX_BOUNDARY]; /* "\r\n--" boundary */
    size_t      dlen;
    int         n = 0;

    if (b_len == 0 || b_len > MP_MAX_BOUNDARY || max <= 0 || body == NULL) {
        *err = "bad boundary";
        return -1;
    }
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b, b_len);
    dlen = 4 + b_len;

    /* The first delimiter opens the body: no preamble is accepted. */
    if (len < dlen - 2 || memcmp(p, delim + 2, dlen - 2) != 0) {
        *err = "body does not start with the boundary";
        return -1;
    }
    p += dlen - 2;

    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') {
            p += 2;
            /* Only an optional CRLF may follow the close delimiter. */
            if (p != end && !(end - p == 2 && p[0] == '\r' && p[1] == '\n')) {
                *err = "data after the final boundary";
                return -1;
            }
            if (n == 0) {
                *err = "no parts";
                return -1;
            }
            return n;
        }
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *err = "malformed boundary line";
            return -1;
        }
        p += 2;
        if (n == max) {
            *err = "too many parts";
            return -1;
        }
        hend = memmem(p,
            (size_t) (end - p) < MP_MAX_HEADER_BLOCK + 4
                ? (size_t) (end - p)
                : MP_MAX_HEADER_BLOCK + 4,
            "\r\n\r\n", 4);
        if (hend == NULL) {
            *err = (size_t) (end - p) > MP_MAX_HEADER_BLOCK
                ? "part headers too large"
                : "unterminated part headers";
            return -1;
        }
        memset(&parts[n], 0, sizeof(parts[n]));
        if (part_headers(p, hend, &parts[n], err) != 0) {
            return -1;
        }
        p = hend + 4;
        /* The data ends at the next CRLF "--" boundary. */
        next = memmem(p, (size_t) (end - p), delim, dlen);
        if (next == NULL) {
            *err = "missing closing boundary";
            return -1;
        }
        parts[n].data = (const unsigned char *) p;
        parts[n].len = (size_t) (next - p);
        n++;
        p = next + dlen;
    }
}

int
mp_named(const mp_part_t *p, const char *name)
{
    size_t n = strlen(name);

    return p->name_len == n && memcmp(p->name, name, n) == 0;
}

const mp_part_t *
mp_find(const mp_part_t *parts, int n, const char *name)
{
    int i;

    for (i = 0; i < n; i++) {
        if (mp_named(&parts[i], name)) {
            return &parts[i];
        }
    }
    return NULL;
}
