/* proto_test.c -- include/tucai_proto.h: header encode/decode and the
 * meta item walker. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tucai_proto.h"

static tucai_hdr_t
sample(void)
{
    tucai_hdr_t h;
    int         i;

    memset(&h, 0, sizeof(h));
    h.code = TUCAI_OP_CAPTURE;
    for (i = 0; i < 16; i++) {
        h.request_id[i] = (unsigned char) (0xf0 + i);
    }
    h.subject = 0x0102030405060708ull;
    h.school = 0xa1b2c3d4u;
    h.role = TUCAI_ROLE_STUDENT;
    h.meta_len = 300;
    h.body_len = 4000;
    for (i = 0; i < TUCAI_NPOLICY; i++) {
        h.policy[i] = 0x11111111u * (uint32_t) (i + 1);
    }
    return h;
}

static void
hdr_round_trip(void **state)
{
    unsigned char p[TUCAI_HDR_SIZE];
    tucai_hdr_t   h = sample(), d;
    int           i;

    (void) state;
    tucai_hdr_encode(p, &h);
    /* the documented layout, big-endian */
    assert_memory_equal(p, "TCAI", 4);
    assert_int_equal(p[4], 0);
    assert_int_equal(p[5], TUCAI_VERSION);
    assert_int_equal(tucai_get16(p + 6), TUCAI_OP_CAPTURE);
    assert_int_equal(p[24], 0x01);
    assert_int_equal(p[31], 0x08);
    assert_int_equal(p[32], 0xa1);
    assert_int_equal(p[36], TUCAI_ROLE_STUDENT);
    assert_int_equal(p[37], 0);
    assert_int_equal(tucai_get16(p + 38), 0);

    memset(&d, 0xee, sizeof(d));
    assert_int_equal(tucai_hdr_decode(p, &d, TUCAI_MAX_BODY), 0);
    assert_int_equal(d.version, TUCAI_VERSION);
    assert_int_equal(d.code, h.code);
    assert_memory_equal(d.request_id, h.request_id, 16);
    assert_true(d.subject == h.subject);
    assert_int_equal(d.school, h.school);
    assert_int_equal(d.role, h.role);
    assert_int_equal(d.meta_len, h.meta_len);
    assert_int_equal(d.body_len, h.body_len);
    for (i = 0; i < TUCAI_NPOLICY; i++) {
        assert_int_equal(d.policy[i], h.policy[i]);
    }
}

/* Encodes sample() with one change, returns decode's result. */
static int
decode_with(tucai_hdr_t h, int byte_off, int byte_val, uint32_t max_body)
{
    unsigned char p[TUCAI_HDR_SIZE];
    tucai_hdr_t   d;

    tucai_hdr_encode(p, &h);
    if (byte_off >= 0) {
        p[byte_off] = (unsigned char) byte_val;
    }
    return tucai_hdr_decode(p, &d, max_body);
}

static void
hdr_refusals(void **state)
{
    tucai_hdr_t h = sample();

    (void) state;
    assert_int_equal(decode_with(h, -1, 0, TUCAI_MAX_BODY), 0);
    /* magic, version */
    assert_int_equal(decode_with(h, 0, 'X', TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 3, 'J', TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 5, 2, TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 4, 1, TUCAI_MAX_BODY), -1);
    /* flags, reserved */
    assert_int_equal(decode_with(h, 37, 1, TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 38, 1, TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 39, 0x80, TUCAI_MAX_BODY), -1);
    /* role: 0..2 fine, 3 and up refused */
    assert_int_equal(decode_with(h, 36, TUCAI_ROLE_NONE, TUCAI_MAX_BODY), 0);
    assert_int_equal(decode_with(h, 36, TUCAI_ROLE_TEACHER, TUCAI_MAX_BODY), 0);
    assert_int_equal(decode_with(h, 36, 3, TUCAI_MAX_BODY), -1);
    assert_int_equal(decode_with(h, 36, 255, TUCAI_MAX_BODY), -1);

    /* meta_len: the limit itself is fine, one more is not */
    h = sample();
    h.meta_len = TUCAI_MAX_META;
    assert_int_equal(decode_with(h, -1, 0, TUCAI_MAX_BODY), 0);
    h.meta_len = TUCAI_MAX_META + 1;
    assert_int_equal(decode_with(h, -1, 0, TUCAI_MAX_BODY), -1);
    h.meta_len = 0xffffffffu;
    assert_int_equal(decode_with(h, -1, 0, TUCAI_MAX_BODY), -1);

    /* body_len against the receiver's own limit and the format's */
    h = sample();
    h.body_len = 1000;
    assert_int_equal(decode_with(h, -1, 0, 1000), 0);
    assert_int_equal(decode_with(h, -1, 0, 999), -1);
    h.body_len = TUCAI_MAX_BODY + 1;
    assert_int_equal(decode_with(h, -1, 0, 0xffffffffu), -1);
}

static size_t
put_item(unsigned char *m, size_t off, uint16_t type, const void *v,
    uint16_t len)
{
    tucai_put16(m + off, type);
    tucai_put16(m + off + 2, len);
    memcpy(m + off + 4, v, len);
    return off + 4 + len;
}

static void
meta_tiles(void **state)
{
    unsigned char        m[64], ra[4];
    const unsigned char *val;
    uint32_t             off = 0, ml;
    uint16_t             type, len;
    size_t               n = 0;

    (void) state;
    tucai_put32(ra, 60);
    n = put_item(m, n, TUCAI_M_PARAM, "abc", 3);
    n = put_item(m, n, TUCAI_M_RETRY_AFTER, ra, 4);
    n = put_item(m, n, 999, "", 0);          /* unknown type, empty value */
    ml = (uint32_t) n;
    assert_int_equal(ml, 7 + 8 + 4);

    assert_int_equal(tucai_meta_next(m, ml, &off, &type, &val, &len), 1);
    assert_int_equal(type, TUCAI_M_PARAM);
    assert_int_equal(len, 3);
    assert_ptr_equal(val, m + 4);
    assert_memory_equal(val, "abc", 3);
    assert_int_equal(off, 7);

    assert_int_equal(tucai_meta_next(m, ml, &off, &type, &val, &len), 1);
    assert_int_equal(type, TUCAI_M_RETRY_AFTER);
    assert_int_equal(len, 4);
    assert_int_equal(tucai_get32(val), 60);

    assert_int_equal(tucai_meta_next(m, ml, &off, &type, &val, &len), 1);
    assert_int_equal(type, 999);
    assert_int_equal(len, 0);
    assert_int_equal(off, ml);

    assert_int_equal(tucai_meta_next(m, ml, &off, &type, &val, &len), 0);
    assert_int_equal(off, ml);

    /* empty meta section: at the end immediately */
    off = 0;
    assert_int_equal(tucai_meta_next(m, 0, &off, &type, &val, &len), 0);
}

static void
meta_truncated(void **state)
{
    unsigned char        m[64];
    const unsigned char *val;
    uint32_t             off;
    uint16_t             type, len;
    size_t               n;

    (void) state;
    n = put_item(m, 0, TUCAI_M_QUERY, "a=1&b=2", 7);

    /* value cut short by one byte */
    off = 0;
    assert_int_equal(tucai_meta_next(m, (uint32_t) n - 1, &off, &type, &val,
                                     &len), -1);
    /* only part of an item header */
    off = 0;
    assert_int_equal(tucai_meta_next(m, 3, &off, &type, &val, &len), -1);
    /* a whole item then 2 stray bytes */
    m[n] = 0; m[n + 1] = 1;
    off = 0;
    assert_int_equal(tucai_meta_next(m, (uint32_t) n + 2, &off, &type, &val,
                                     &len), 1);
    assert_int_equal(tucai_meta_next(m, (uint32_t) n + 2, &off, &type, &val,
                                     &len), -1);
    /* a length far beyond the section */
    tucai_put16(m + 2, 0xffff);
    off = 0;
    assert_int_equal(tucai_meta_next(m, (uint32_t) n, &off, &type, &val,
                                     &len), -1);
}

static void
meta_fixed_lengths(void **state)
{
    (void) state;
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_STATE), TUCAI_STATE_SIZE);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_STATE), 24);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_CLEAR), 8);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_RETRY_AFTER), 4);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_PARAM), 0);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_REDIRECT), 0);
    assert_int_equal(tucai_meta_fixed_len(TUCAI_M_HEADER), 0);
    assert_int_equal(tucai_meta_fixed_len(999), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hdr_round_trip),
        cmocka_unit_test(hdr_refusals),
        cmocka_unit_test(meta_tiles),
        cmocka_unit_test(meta_truncated),
        cmocka_unit_test(meta_fixed_lengths),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
