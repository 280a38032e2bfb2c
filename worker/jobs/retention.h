/*
 * retention.h -- disk stays bounded: the originals of failed captures are
 * removed [storage] failed_retention after the capture, once no lock of
 * the student still needs them (a teacher reviews them to unlock).
 */
#ifndef TUCAI_RETENTION_H
#define TUCAI_RETENTION_H

#include <stdint.h>

#include "ctx.h"

/* A periodic job (jobs.h): removes expired failed-capture originals, the
 * row kept with original_path '' (its verdict still counts in progress). */
void retention_run(tucai_ctx_t *ctx, int64_t deadline_ms);

#endif
