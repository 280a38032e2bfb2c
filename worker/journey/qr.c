/*
 * qr.c -- QR decoding of uploaded pictures (see qr.h).  The picture is
 * never decoded at full size: the header is checked against the pixel
 * limit first, then vips_thumbnail_buffer shrinks on load.  libvips is
 * set up by photo_init (one thread, no cache, untrusted loaders blocked).
 */
#include <string.h>

#include <vips/vips.h>
#include <zbar.h>

#include "photo.h"
#include "qr.h"

/* The picture as 8-bit grey, at most QR_MAX_SIDE, at least ~400 px. */
static VipsImage *
grey(const unsigned char *img, size_t len)
{
    VipsImage  *hdr, *t[6] = { 0 }, *out = NULL;
    double      w, h, side, f;
    const char *loader;
    int         i;

    hdr = vips_image_new_from_buffer(
        img, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (hdr == NULL) {
        return NULL;
    }
    loader = vips_foreign_find_load_buffer(img, len);
    w = vips_image_get_width(hdr);
    h = vips_image_get_height(hdr);
    g_object_unref(hdr);
    /* nor decoded at a cost a small file can hide (photo_decode_cost) */
    if (w < 1 || h < 1 || w * h > (double) QR_MAX_PIXELS
        || photo_decode_cost(
               loader != NULL && strncmp(loader, "jpegload", 8) == 0 ? "jpeg"
                                                                     : "other",
               (int64_t) w, (int64_t) h, QR_MAX_SIDE)
            > QR_MAX_DECODE_COST)
    {
        return NULL;
    }
    if (vips_thumbnail_buffer((void *) img, len, &t[0], QR_MAX_SIDE, "height",
            QR_MAX_SIDE, "size", VIPS_SIZE_DOWN, NULL)
            != 0
        || vips_colourspace(t[0], &t[1], VIPS_INTERPRETATION_B_W, NULL) != 0
        || vips_extract_band(t[1], &t[2], 0, NULL) != 0
        || vips_cast_uchar(t[2], &t[3], NULL) != 0)
    {
        goto done;
    }
    /* Tiny renders (1 px per module) are enlarged so zbar sees modules. */
    side = t[3]->Xsize > t[3]->Ysize ? t[3]->Xsize : t[3]->Ysize;
    f = side < 400 ? 400 / side : 1;
    if (f >= 2) {
        if (vips_zoom(t[3], &t[4], (int) f, (int) f, NULL) != 0) {
            goto done;
        }
    } else {
        t[4] = t[3];
        g_object_ref(t[4]);
    }
    /* A white quiet zone, in case the picture was cropped at the code. */
    if (vips_embed(t[4], &t[5], 16, 16, t[4]->Xsize + 32, t[4]->Ysize + 32,
            "extend", VIPS_EXTEND_WHITE, NULL)
        != 0)
    {
        goto done;
    }
    out = t[5];
    t[5] = NULL;
done:
    for (i = 0; i < 6; i++) {
        if (t[i] != NULL) {
            g_object_unref(t[i]);
        }
    }
    return out;
}

int
qr_decode(const unsigned char *img, size_t len, char *out, size_t n)
{
    VipsImage            *g;
    void                 *pix;
    size_t                plen;
    zbar_image_scanner_t *sc;
    zbar_image_t         *zi;
    const zbar_symbol_t  *sym;
    const char           *data;
    unsigned int          dlen;
    int                   rc = 1, w, h;

    if (img == NULL || len == 0 || len > (size_t) QR_MAX_BYTES || n == 0
        || photo_init("tucai-worker") != 0)
    {
        return -1;
    }
    g = grey(img, len);
    if (g == NULL) {
        vips_error_clear();
        return -1;
    }
    w = g->Xsize;
    h = g->Ysize;
    pix = vips_image_write_to_memory(g, &plen);
    g_object_unref(g);
    if (pix == NULL || plen != (size_t) w * (size_t) h) {
        g_free(pix);
        vips_error_clear();
        return -1;
    }

    sc = zbar_image_scanner_create();
    zi = zbar_image_create();
    if (sc == NULL || zi == NULL) {
        rc = -1;
        goto done;
    }
    zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
    zbar_image_set_format(zi, zbar_fourcc('Y', '8', '0', '0'));
    zbar_image_set_size(zi, (unsigned) w, (unsigned) h);
    zbar_image_set_data(zi, pix, plen, NULL);
    if (zbar_scan_image(sc, zi) > 0) {
        for (sym = zbar_image_first_symbol(zi); sym != NULL;
             sym = zbar_symbol_next(sym))
        {
            if (zbar_symbol_get_type(sym) != ZBAR_QRCODE) {
                continue;
            }
            data = zbar_symbol_get_data(sym);
            dlen = zbar_symbol_get_data_length(sym);
            if (data != NULL && dlen > 0 && dlen < n && dlen <= QR_MAX_TEXT) {
                memcpy(out, data, dlen);
                out[dlen] = '\0';
                rc = 0;
                break;
            }
        }
    }
done:
    if (zi != NULL) {
        zbar_image_destroy(zi);
    }
    if (sc != NULL) {
        zbar_image_scanner_destroy(sc);
    }
    g_free(pix);
    return rc;
}
