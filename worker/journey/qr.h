/*
 * qr.h -- decode the QR code in an uploaded picture (a photo or a
 * screenshot of a collection code): libvips loads it shrunk on load to at
 * most QR_MAX_SIDE px, grey, then zbar looks for a QR symbol.
 */
#ifndef TUCAI_QR_H
#define TUCAI_QR_H

#include <stddef.h>

#define QR_MAX_SIDE        1600                 /* decode size */
#define QR_MAX_PIXELS      (100L * 1000 * 1000) /* refuse bigger headers */
#define QR_MAX_BYTES       (15L * 1024 * 1024)
#define QR_MAX_DECODE_COST (25L * 1000 * 1000) /* photo_decode_cost budget */
#define QR_MAX_TEXT        512

/*
 * Decodes img.  Returns 0 with the symbol's text in out (NUL-terminated,
 * truncated texts are refused), 1 when the picture holds no readable QR
 * code, -1 when it is not a picture we can decode (or exceeds the limits).
 */
int qr_decode(const unsigned char *img, size_t len, char *out, size_t n);

#endif
