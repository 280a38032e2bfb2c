/* token_test.c -- worker/lib/token.c: issue and verify session tokens with a
 * key file written to a temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "token.h"

#define KEY1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

typedef struct {
    char           dir[64];
    tucai_config_t cfg;      /* k1 = KEY1 */
    tucai_config_t other;    /* k1 = KEY2: same kid, another secret */
} fixture;

static void
write_key(const char *dir, const char *name, const char *content,
    tucai_config_t *cfg)
{
    FILE *f;

    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->token_key_file, sizeof(cfg->token_key_file), "%s/%s",
             dir, name);
    cfg->token_ttl_s = 7200;
    f = fopen(cfg->token_key_file, "w");
    assert_non_null(f);
    fputs(content, f);
    assert_int_equal(fclose(f), 0);
}

static int
setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/tucai-unit-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    write_key(fx->dir, "keys", "# test key\nk1 " KEY1 "\n", &fx->cfg);
    write_key(fx->dir, "other", "k1 " KEY2 "\n", &fx->other);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    fixture *fx = *state;

    unlink(fx->cfg.token_key_file);
    unlink(fx->other.token_key_file);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Splits tok at '.' into exactly 7 fields (copied, NUL-ended). */
static int
split7(const char *tok, char f[7][128])
{
    const char *p = tok, *d;
    int         i;

    for (i = 0; i < 7; i++) {
        d = strchr(p, '.');
        if (i == 6) {
            if (d != NULL) return -1;
            d = p + strlen(p);
        } else if (d == NULL) {
            return -1;
        }
        if ((size_t) (d - p) >= 128) return -1;
        memcpy(f[i], p, (size_t) (d - p));
        f[i][d - p] = '\0';
        p = d + 1;
    }
    return 0;
}

static void
issue_format(void **state)
{
    fixture *fx = *state;
    char     tok[TUCAI_TOKEN_MAX + 1], f[7][128], *end;
    uint64_t now = (uint64_t) time(NULL), exp;
    size_t   i;

    assert_int_equal(token_issue(&fx->cfg, 's', 4242, 17, tok, sizeof(tok)), 0);
    assert_int_equal(split7(tok, f), 0);
    assert_string_equal(f[0], "t1");
    assert_string_equal(f[1], "k1");
    assert_string_equal(f[2], "s");
    assert_string_equal(f[3], "4242");
    assert_string_equal(f[4], "17");
    exp = strtoull(f[5], &end, 10);
    assert_int_equal(*end, '\0');
    assert_true(exp >= now + 7200 && exp <= now + 7200 + 5);
    /* HMAC-SHA256, base64url without padding: 43 characters */
    assert_int_equal(strlen(f[6]), 43);
    for (i = 0; i < 43; i++) {
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789-_", f[6][i]));
    }

    /* a teacher token; bad role and a too-small buffer are refused */
    assert_int_equal(token_issue(&fx->cfg, 't', 9, 0, tok, sizeof(tok)), 0);
    assert_int_equal(split7(tok, f), 0);
    assert_string_equal(f[2], "t");
    assert_string_equal(f[4], "0");
    assert_int_equal(token_issue(&fx->cfg, 'x', 9, 0, tok, sizeof(tok)), -1);
    assert_int_equal(token_issue(&fx->cfg, 's', 9, 0, tok, 20), -1);
}

static void
issue_is_deterministic(void **state)
{
    fixture *fx = *state;
    char     a[TUCAI_TOKEN_MAX + 1], b[TUCAI_TOKEN_MAX + 1];

    assert_int_equal(token_issue_exp(&fx->cfg, 's', 1, 2, 4000000000u, a,
                                     sizeof(a)), 0);
    assert_int_equal(token_issue_exp(&fx->cfg, 's', 1, 2, 4000000000u, b,
                                     sizeof(b)), 0);
    assert_string_equal(a, b);
    assert_int_equal(strncmp(a, "t1.k1.s.1.2.4000000000.", 23), 0);
    /* another secret gives another signature */
    assert_int_equal(token_issue_exp(&fx->other, 's', 1, 2, 4000000000u, b,
                                     sizeof(b)), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(b, "t1.k1.s.1.2.4000000000.", 23), 0);
}

static void
verify_accepts(void **state)
{
    fixture *fx = *state;
    char     tok[TUCAI_TOKEN_MAX + 1], role = 0;
    uint64_t subject = 0, exp = 0;
    uint32_t school = 0;

    assert_int_equal(token_issue(&fx->cfg, 's', 18446744073709551615ull,
                                 4294967295u, tok, sizeof(tok)), 0);
    assert_int_equal(token_verify(&fx->cfg, tok, &role, &subject, &school,
                                  &exp), 0);
    assert_int_equal(role, 's');
    assert_true(subject == 18446744073709551615ull);
    assert_int_equal(school, 4294967295u);
    assert_true(exp > (uint64_t) time(NULL));
}

static void
verify_refuses(void **state)
{
    fixture *fx = *state;
    char     tok[TUCAI_TOKEN_MAX + 1], bad[TUCAI_TOKEN_MAX + 1], *sig;
    char     role = 0;
    uint64_t subject = 77;
    size_t   i;

    assert_int_equal(token_issue(&fx->cfg, 't', 5, 3, tok, sizeof(tok)), 0);
    assert_int_equal(token_verify(&fx->cfg, tok, NULL, NULL, NULL, NULL), 0);

    /* every single flipped signature character */
    sig = strrchr(tok, '.') + 1;
    for (i = 0; sig[i] != '\0'; i++) {
        strcpy(bad, tok);
        bad[sig - tok + (long) i] = sig[i] == 'A' ? 'B' : 'A';
        assert_int_equal(token_verify(&fx->cfg, bad, &role, &subject, NULL,
                                      NULL), -1);
    }
    /* outputs untouched on failure */
    assert_int_equal(role, 0);
    assert_true(subject == 77);

    /* a changed claim under the old signature: subject 5 -> 6 */
    strcpy(bad, tok);
    assert_int_equal(strncmp(bad, "t1.k1.t.5.", 10), 0);
    bad[8] = '6';
    assert_int_equal(token_verify(&fx->cfg, bad, NULL, NULL, NULL, NULL), -1);
    /* truncated signature */
    strcpy(bad, tok);
    bad[strlen(bad) - 1] = '\0';
    assert_int_equal(token_verify(&fx->cfg, bad, NULL, NULL, NULL, NULL), -1);

    /* another key: same kid, another secret, either direction */
    assert_int_equal(token_verify(&fx->other, tok, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(token_issue(&fx->other, 't', 5, 3, bad, sizeof(bad)), 0);
    assert_int_equal(token_verify(&fx->other, bad, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(token_verify(&fx->cfg, bad, NULL, NULL, NULL, NULL), -1);
}

static void
verify_refuses_expired(void **state)
{
    fixture *fx = *state;
    char     tok[TUCAI_TOKEN_MAX + 1];
    uint64_t now = (uint64_t) time(NULL);

    assert_int_equal(token_issue_exp(&fx->cfg, 's', 1, 1, now - 10, tok,
                                     sizeof(tok)), 0);
    assert_int_equal(token_verify(&fx->cfg, tok, NULL, NULL, NULL, NULL), -1);
    assert_int_equal(token_issue_exp(&fx->cfg, 's', 1, 1, now + 60, tok,
                                     sizeof(tok)), 0);
    assert_int_equal(token_verify(&fx->cfg, tok, NULL, NULL, NULL, NULL), 0);
}

static void
no_key_file(void **state)
{
    fixture       *fx = *state;
    tucai_config_t cfg = fx->cfg;
    char           tok[TUCAI_TOKEN_MAX + 1];

    snprintf(cfg.token_key_file, sizeof(cfg.token_key_file), "%s/absent",
             fx->dir);
    assert_int_equal(token_issue(&cfg, 's', 1, 1, tok, sizeof(tok)), -1);
    assert_int_equal(token_issue(&fx->cfg, 's', 1, 1, tok, sizeof(tok)), 0);
    assert_int_equal(token_verify(&cfg, tok, NULL, NULL, NULL, NULL), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(issue_format),
        cmocka_unit_test(issue_is_deterministic),
        cmocka_unit_test(verify_accepts),
        cmocka_unit_test(verify_refuses),
        cmocka_unit_test(verify_refuses_expired),
        cmocka_unit_test(no_key_file),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
