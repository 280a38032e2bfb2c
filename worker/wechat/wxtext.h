/*
 * wxtext.h -- subscribe message values within WeChat's limits
 * (../shared/WECHAT.md): how many characters a key's type allows, and
 * clipping UTF-8 text to it.  Pure: unit-tested (t/unit/wxtext_test.c).
 */
#ifndef TUCAI_WXTEXT_H
#define TUCAI_WXTEXT_H

#include <stddef.h>
#include <jansson.h>

/* Code points a value of key ("thing1", "time3", ...) may have; *ascii_only
 * is set for types that allow no other characters (character_string,
 * number, letter, phone_number).  Unknown types: 20. */
size_t wx_value_limit(const char *key, int *ascii_only);

/* Copies at most max code points of s into out (n bytes, always
 * NUL-terminated), never cutting a character; with ascii_only, non-ASCII
 * characters are dropped.  A truncated sequence at the end is dropped. */
void wx_clip_utf8(
    const char *s, size_t max, int ascii_only, char *out, size_t n);

/* {"key":{"value":"..."}} with every value clipped to its type's limit
 * (an empty one becomes "-" or "—"); NULL when data is no object. */
json_t *wx_limit_data(json_t *data);

#endif
