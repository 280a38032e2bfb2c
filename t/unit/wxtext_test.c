/* wxtext_test.c -- worker/wechat/wxtext.c: subscribe message values are
 * clipped to WeChat's limits by code points, never mid-character. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wxtext.h"

static void
limits_by_key_type(void **state)
{
    int ascii = -1;

    (void) state;
    assert_int_equal(wx_value_limit("thing1", &ascii), 20);
    assert_int_equal(ascii, 0);
    assert_int_equal(wx_value_limit("character_string3", &ascii), 32);
    assert_int_equal(ascii, 1);
    assert_int_equal(wx_value_limit("phrase2", &ascii), 5);
    assert_int_equal(ascii, 0);
    assert_int_equal(wx_value_limit("time4", &ascii), 32);
    assert_int_equal(wx_value_limit("whatever9", &ascii), 20);
}

static void
clips_by_code_points(void **state)
{
    char out[64];

    (void) state;
    /* 6 Chinese characters (3 bytes each) to 5: 15 bytes, whole ones */
    wx_clip_utf8("照片审核通过", 5, 0, out, sizeof(out));
    assert_string_equal(out, "照片审核通");
    /* the buffer, not the limit, stops it: never half a character */
    wx_clip_utf8("照片审核通过", 20, 0, out, 8);
    assert_string_equal(out, "照片");
    /* ascii only: Chinese dropped, the rest kept */
    wx_clip_utf8("A照B片C", 32, 1, out, sizeof(out));
    assert_string_equal(out, "ABC");
    /* a sequence cut short at the end is dropped */
    wx_clip_utf8("ab\xe7\x85", 10, 0, out, sizeof(out));
    assert_string_equal(out, "ab");
    wx_clip_utf8("", 10, 0, out, sizeof(out));
    assert_string_equal(out, "");
}

static void
limits_template_data(void **state)
{
    json_t *d, *o;

    (void) state;
    d = json_pack("{s:{s:s},s:{s:s},s:{s:s}}",
                  "thing1", "value", "一二三四五六七八九十一二三四五六七八九十多",
                  "phrase2", "value", "",
                  "character_string1", "value", "订单TC123");
    o = wx_limit_data(d);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "thing1"), "value")),
                        "一二三四五六七八九十一二三四五六七八九十");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "phrase2"), "value")),
                        "—");
    assert_string_equal(json_string_value(json_object_get(json_object_get(o, "character_string1"), "value")),
                        "TC123");
    json_decref(o);
    json_decref(d);
    assert_null(wx_limit_data(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limits_by_key_type),
        cmocka_unit_test(clips_by_code_points),
        cmocka_unit_test(limits_template_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
