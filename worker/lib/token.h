/*
 * token.h -- session tokens, issuer side (the nginx module verifies them).
 *
 *   token = "t1." kid "." role "." subject "." school "." exp "." sig
 *   sig   = base64url (no padding) of HMAC-SHA256(key[kid], text before ".")
 *
 * Keys come from [tokens] key_file: lines "KID HEXSECRET" (>= 64 hex),
 * '#' comments; the first key signs, every key verifies.
 */
#ifndef TUCAI_TOKEN_H
#define TUCAI_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define TUCAI_TOKEN_MAX 256

/* role: 's' (student, subject = accounts.id) or 't' (teacher, subject =
 * teachers.id).  exp = now + cfg->token_ttl_s.  out must hold
 * TUCAI_TOKEN_MAX + 1 bytes.  Returns 0, or -1 (bad args, no usable key). */
int token_issue(const tucai_config_t *cfg, char role, uint64_t subject,
    uint32_t school, char *out, size_t n);

/* Same with an explicit expiry (tests, tools). */
int token_issue_exp(const tucai_config_t *cfg, char role, uint64_t subject,
    uint32_t school, uint64_t exp, char *out, size_t n);

/* Verifies signature and expiry against the key file (for tools and tests;
 * nginx is the verifier in production).  Returns 0 or -1. */
int token_verify(const tucai_config_t *cfg, const char *tok, char *role,
    uint64_t *subject, uint32_t *school, uint64_t *exp);

#endif
