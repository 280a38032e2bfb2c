/*
 * 20_journey_qrgen.c -- test helper: writes TEXT as a QR code picture (PGM,
 * SCALE px per module, white margin) to stdout.  Built by mk/journey.mk
 * into build/journey-qrgen; the journey tests upload its output (converted
 * to PNG/JPEG) to POST /api/v1/code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <qrencode.h>

int
main(int argc, char **argv)
{
    QRcode *qr;
    int     scale, margin = 4, side, x, y;

    if (argc < 2) {
        fprintf(stderr, "usage: journey-qrgen TEXT [SCALE]\n");
        return 2;
    }
    scale = argc > 2 ? atoi(argv[2]) : 8;
    if (scale < 1 || scale > 64) {
        return 2;
    }
    qr = QRcode_encodeString(argv[1], 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        return 1;
    }
    side = (qr->width + 2 * margin) * scale;
    printf("P5\n%d %d\n255\n", side, side);
    for (y = 0; y < side; y++) {
        for (x = 0; x < side; x++) {
            int mx = x / scale - margin, my = y / scale - margin, dark = 0;
            if (mx >= 0 && my >= 0 && mx < qr->width && my < qr->width) {
                dark = qr->data[my * qr->width + mx] & 1;
            }
            putchar(dark ? 0 : 255);
        }
    }
    QRcode_free(qr);
    return 0;
}
