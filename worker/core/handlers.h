/*
 * handlers.h -- every operation handler (include/tucai_ops.def names
 * them): the signature the layers above core/ implement.  The program's
 * operation table (ops.c) maps TUCAI_OP_* to them; core/ itself never
 * names one (it gets the table from pool_run()), so it depends on nothing
 * above it.
 */
#ifndef TUCAI_HANDLERS_H
#define TUCAI_HANDLERS_H

#include "handler.h"

#define TUCAI_HANDLER(name) \
    int name(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp)

/* one per operation of include/tucai_ops.def */
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler) \
    TUCAI_HANDLER(handler);
#include "tucai_ops.def"
#undef TUCAI_OP

/* TUCAI_OP_METRICS (no path, asked by `tucai_status prometheus`) */
TUCAI_HANDLER(admin_metrics);

/* TUCAI_OP_STATUS (no path: operators on the pool socket; health.c) */
TUCAI_HANDLER(health_status);

/* Offline commands of `tucai-worker -c INI admin ...` (admin_cli.c):
 * create schools and teachers, seed the demo.  Returns an exit status. */
int admin_cli(tucai_ctx_t *ctx, int argc, char **argv);

#endif
