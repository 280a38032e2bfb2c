/* buf.h -- byte string views and growable byte buffers, used by every
 * layer (the database's escaping, WeChat's answers, the pool's frames). */
#ifndef TUCAI_BUF_H
#define TUCAI_BUF_H

#include <stddef.h>

/* A byte string view (not NUL-terminated unless said). */
typedef struct {
    const char *p;
    size_t      len;
} tstr;

/* Growable byte buffer (malloc'ed). */
typedef struct {
    unsigned char *p;
    size_t         len;
    size_t         cap;
} tbuf;

int  tbuf_add(tbuf *b, const void *p, size_t n); /* 0 or -1 (ENOMEM) */
void tbuf_free(tbuf *b);

#endif
