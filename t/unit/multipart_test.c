/* multipart_test.c -- worker/lib/multipart.c: parts are views into the body;
 * malformed bodies are refused with a reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "multipart.h"

#define CT  "multipart/form-data; boundary=XyZzy42"
#define BND "XyZzy42"

static const char good[] =
    "--" BND "\r\n"
    "Content-Disposition: form-data; name=\"photo\"; filename=\"me.jpg\"\r\n"
    "Content-Type: image/jpeg\r\n"
    "\r\n"
    "\xff\xd8\xff\r\n--not-it\x00\x01\xff\xd9"
    "\r\n--" BND "\r\n"
    "Content-Disposition: form-data; name=\"meta\"\r\n"
    "\r\n"
    "{\"frames\":0}"
    "\r\n--" BND "--\r\n";

static void
is_form_and_boundary(void **state)
{
    const char *b;
    size_t      bl;

    (void) state;
    assert_int_equal(mp_is_form(CT, strlen(CT)), 1);
    assert_int_equal(mp_is_form("Multipart/Form-Data; boundary=a", 31), 1);
    assert_int_equal(mp_is_form("application/json", 16), 0);

    assert_int_equal(mp_boundary(CT, strlen(CT), &b, &bl), 0);
    assert_int_equal(bl, strlen(BND));
    assert_memory_equal(b, BND, bl);
    assert_ptr_equal(b, CT + strlen(CT) - strlen(BND));   /* a view */

    /* missing, empty boundary; not form-data at all */
    assert_int_equal(mp_boundary("multipart/form-data", 19, &b, &bl), -1);
    assert_int_equal(mp_boundary("multipart/form-data; charset=utf-8", 34,
                                 &b, &bl), -1);
    assert_int_equal(mp_boundary("multipart/form-data; boundary=", 30,
                                 &b, &bl), -1);
    assert_int_equal(mp_boundary("text/plain; boundary=abc", 24, &b, &bl), -1);
}

static void
parse_file_and_text(void **state)
{
    const unsigned char *body = (const unsigned char *) good;
    size_t               len = sizeof(good) - 1;
    mp_part_t            parts[MP_MAX_PARTS];
    const mp_part_t     *p;
    const char          *err = NULL;
    static const unsigned char jpeg[] =
        "\xff\xd8\xff\r\n--not-it\x00\x01\xff\xd9";
    int                  n;

    (void) state;
    n = mp_parse(body, len, BND, strlen(BND), parts, MP_MAX_PARTS, &err);
    assert_int_equal(n, 2);

    /* the file part: name, filename, type; data is a view with the
     * embedded CRLF, dashes and NUL byte intact */
    assert_true(mp_named(&parts[0], "photo"));
    assert_false(mp_named(&parts[0], "phot"));
    assert_int_equal(parts[0].name_len, 5);
    assert_non_null(parts[0].filename);
    assert_int_equal(parts[0].filename_len, 6);
    assert_memory_equal(parts[0].filename, "me.jpg", 6);
    assert_non_null(parts[0].type);
    assert_int_equal(parts[0].type_len, 10);
    assert_memory_equal(parts[0].type, "image/jpeg", 10);
    assert_int_equal(parts[0].len, sizeof(jpeg) - 1);
    assert_memory_equal(parts[0].data, jpeg, sizeof(jpeg) - 1);
    assert_true(parts[0].data > body && parts[0].data + parts[0].len < body + len);
    assert_ptr_equal(parts[0].data, memmem(body, len, "\xff\xd8", 2));
    assert_true((const unsigned char *) parts[0].name > body
                && (const unsigned char *) parts[0].name < parts[0].data);

    /* the text part: no filename, no type */
    assert_true(mp_named(&parts[1], "meta"));
    assert_null(parts[1].filename);
    assert_null(parts[1].type);
    assert_int_equal(parts[1].len, 12);
    assert_memory_equal(parts[1].data, "{\"frames\":0}", 12);
    assert_ptr_equal(parts[1].data, memmem(body, len, "{\"frames", 8));

    p = mp_find(parts, n, "meta");
    assert_ptr_equal(p, &parts[1]);
    assert_ptr_equal(mp_find(parts, n, "photo"), &parts[0]);
    assert_null(mp_find(parts, n, "frames"));

    /* the final CRLF after the close delimiter is optional */
    err = NULL;
    assert_int_equal(mp_parse(body, len - 2, BND, strlen(BND), parts,
                              MP_MAX_PARTS, &err), 2);
}

static void
expect_error(const char *body, size_t len, int max, const char *reason)
{
    mp_part_t   parts[MP_MAX_PARTS + 4];
    const char *err = NULL;

    assert_int_equal(mp_parse((const unsigned char *) body, len, BND,
                              strlen(BND), parts, max, &err), -1);
    assert_non_null(err);
    if (reason != NULL) {
        assert_string_equal(err, reason);
    }
}

static void
parse_refusals(void **state)
{
    static const char no_bnd[] =
        "Content-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--" BND "--\r\n";
    static const char preamble[] =
        "junk\r\n--" BND "\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--" BND "--\r\n";
    static const char other_bnd[] =
        "--OtherOne\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--OtherOne--\r\n";
    static const char unterminated[] =
        "--" BND "\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\nhalf a part";
    static const char unterminated_hdr[] =
        "--" BND "\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n";
    static const char no_name[] =
        "--" BND "\r\n"
        "Content-Type: text/plain\r\n\r\nx\r\n--" BND "--\r\n";
    static const char trailing[] =
        "--" BND "\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--" BND "--\r\nmore";
    mp_part_t   parts[2];
    const char *err = NULL;

    (void) state;
    expect_error(no_bnd, sizeof(no_bnd) - 1, MP_MAX_PARTS,
                 "body does not start with the boundary");
    expect_error(preamble, sizeof(preamble) - 1, MP_MAX_PARTS,
                 "body does not start with the boundary");
    expect_error(other_bnd, sizeof(other_bnd) - 1, MP_MAX_PARTS,
                 "body does not start with the boundary");
    expect_error(unterminated, sizeof(unterminated) - 1, MP_MAX_PARTS,
                 "missing closing boundary");
    expect_error(unterminated_hdr, sizeof(unterminated_hdr) - 1, MP_MAX_PARTS,
                 "unterminated part headers");
    expect_error(no_name, sizeof(no_name) - 1, MP_MAX_PARTS,
                 "part without a form-data name");
    expect_error(trailing, sizeof(trailing) - 1, MP_MAX_PARTS,
                 "data after the final boundary");
    /* the good body, cut anywhere before its close delimiter */
    expect_error(good, sizeof(good) - 1 - 6, MP_MAX_PARTS, NULL);
    expect_error(good, 40, MP_MAX_PARTS, NULL);

    /* an empty boundary is refused outright */
    assert_int_equal(mp_parse((const unsigned char *) good, sizeof(good) - 1,
                              "", 0, parts, 2, &err), -1);
    assert_string_equal(err, "bad boundary");
}

static void
too_many_parts(void **state)
{
    char   body[8192];
    size_t len = 0;
    int    i;

    (void) state;
    for (i = 0; i < MP_MAX_PARTS + 1; i++) {
        len += (size_t) snprintf(body + len, sizeof(body) - len,
            "--" BND "\r\nContent-Disposition: form-data; name=\"f%d\"\r\n"
            "\r\nv%d\r\n", i, i);
    }
    len += (size_t) snprintf(body + len, sizeof(body) - len, "--" BND "--\r\n");
    assert_true(len < sizeof(body));

    /* 17 parts: refused with the limit of 16, taken with room for 17 */
    expect_error(body, len, MP_MAX_PARTS, "too many parts");
    expect_error(body, len, 2, "too many parts");
    {
        mp_part_t   parts[MP_MAX_PARTS + 1];
        const char *err = NULL;
        int         n = mp_parse((const unsigned char *) body, len, BND,
                                 strlen(BND), parts, MP_MAX_PARTS + 1, &err);

        assert_int_equal(n, MP_MAX_PARTS + 1);
        assert_true(mp_named(&parts[16], "f16"));
        assert_int_equal(parts[16].len, 3);
        assert_memory_equal(parts[16].data, "v16", 3);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(is_form_and_boundary),
        cmocka_unit_test(parse_file_and_text),
        cmocka_unit_test(parse_refusals),
        cmocka_unit_test(too_many_parts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
