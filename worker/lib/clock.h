/* clock.h -- time for deadlines (monotonic) and for answers (RFC 3339). */
#ifndef TUCAI_CLOCK_H
#define TUCAI_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines and budgets, never dates. */
int64_t tucai_now_ms(void);

/* RFC 3339 UTC, buf >= 21 bytes; t = unix seconds.  Returns buf ("" when
 * t cannot be formatted). */
const char *tucai_rfc3339(char *buf, size_t n, int64_t t);

#endif
