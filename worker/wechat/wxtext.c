/* wxtext.c -- subscribe message values within WeChat's limits (wxtext.h). */
#include <stdio.h>
#include <string.h>

#include "wxtext.h"

/* Characters (code points) a value may have, by WeChat's key type. */
size_t
wx_value_limit(const char *key, int *ascii_only)
{
    static const struct {
        const char *prefix;
        size_t      max;
        int         ascii;
    } t[] = {
        { "character_string", 32, 1 },
        { "thing", 20, 0 },
        { "number", 32, 1 },
        { "phrase", 5, 0 },
        { "name", 10, 0 },
        { "time", 32, 0 },
        { "date", 32, 0 },
        { "amount", 32, 0 },
        { "phone_number", 17, 1 },
        { "letter", 32, 1 },
        { "symbol", 5, 0 },
        { "car_number", 8, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strncmp(key, t[i].prefix, strlen(t[i].prefix)) == 0) {
            *ascii_only = t[i].ascii;
            return t[i].max;
        }
    }
    *ascii_only = 0;
    return 20;
}

/* Copies at most max code points of s (dropping non-ASCII when ascii_only,
 * as character_string/number allow none). */
void
wx_clip_utf8(const char *s, size_t max, int ascii_only, char *out, size_t n)
{
    size_t               cps = 0, o = 0, len;
    const unsigned char *p = (const unsigned char *) s;

    while (*p && cps < max) {
        len = *p < 0x80       ? 1
            : (*p >> 5) == 6  ? 2
            : (*p >> 4) == 14 ? 3
            : (*p >> 3) == 30 ? 4
                              : 1;
        if (strnlen((const char *) p, len) < len) {
            break;
        }
        if (!(ascii_only && len > 1)) {
            if (o + len >= n) {
                break;
            }
            memcpy(out + o, p, len);
            o += len;
            cps++;
        }
        p += len;
    }
    out[o] = '\0';
}

/* {"key":{"value":"..."}} with every value clipped to its type's limit. */
json_t *
wx_limit_data(json_t *data)
{
    json_t     *out = json_object(), *v;
    const char *k, *s;
    char        buf[256];
    size_t      max;
    int         ascii;

    if (out == NULL || !json_is_object(data)) {
        json_decref(out);
        return NULL;
    }
    json_object_foreach (data, k, v) {
        s = json_string_value(json_object_get(v, "value"));
        if (s == NULL) {
            s = json_string_value(v); /* tolerate {"thing1":"text"} */
        }
        if (s == NULL) {
            continue;
        }
        max = wx_value_limit(k, &ascii);
        /* "name" allows 20 Latin letters but 10 Chinese characters */
        if (strncmp(k, "name", 4) == 0) {
            const char *q;

            for (q = s; *q && (unsigned char) *q < 0x80; q++) {
            }
            if (*q == '\0') {
                max = 20;
            }
        }
        wx_clip_utf8(s, max, ascii, buf, sizeof(buf));
        if (buf[0] == '\0') {
            snprintf(buf, sizeof(buf), "%s", ascii ? "-" : "—");
        }
        json_object_set_new(out, k, json_pack("{s:s}", "value", buf));
    }
    return out;
}
