/*
 * multipart_fuzz.c -- libFuzzer target for worker/lib/multipart.c.  The input
 * is "Content-Type value\n" followed by the body, so both the boundary
 * parser and the body parser see hostile bytes.  Every part must lie
 * inside the body (ASan catches any read outside it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    mp_part_t      parts[MP_MAX_PARTS];
    const char    *b, *err;
    size_t         b_len, ct_len, body_len;
    unsigned char *ct, *body;
    int            n, i;

    if (nl == NULL) {
        return 0;
    }
    /* Exact-size copies so ASan sees any overread of either buffer. */
    ct_len = (size_t) (nl - data);
    body_len = size - ct_len - 1;
    ct = malloc(ct_len + 1);
    body = malloc(body_len + 1);
    if (ct == NULL || body == NULL) {
        free(ct);
        free(body);
        return 0;
    }
    memcpy(ct, data, ct_len);
    memcpy(body, nl + 1, body_len);

    (void) mp_is_form((const char *) ct, ct_len);
    if (mp_boundary((const char *) ct, ct_len, &b, &b_len) == 0) {
        if (b < (const char *) ct || b + b_len > (const char *) ct + ct_len) {
            abort();
        }
        n = mp_parse(body, body_len, b, b_len, parts, MP_MAX_PARTS, &err);
        if (n > MP_MAX_PARTS) {
            abort();
        }
        for (i = 0; i < n; i++) {
            if (parts[i].data < body
                || parts[i].data + parts[i].len > body + body_len
                || parts[i].name == NULL || parts[i].name_len == 0)
            {
                abort();
            }
        }
        (void) mp_find(parts, n > 0 ? n : 0, "photo");
    }
    free(ct);
    free(body);
    return 0;
}
