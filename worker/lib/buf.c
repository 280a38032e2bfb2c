/* buf.c -- the growable byte buffer (buf.h). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
tbuf_add(tbuf *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (b->len + n < b->len) {
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) {
            if (cap > ((size_t) -1) / 2) {
                return -1;
            }
            cap *= 2;
        }
        unsigned char *np = realloc(b->p, cap);
        if (np == NULL) {
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

void
tbuf_free(tbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
