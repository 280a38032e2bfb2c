/* ops.c -- the program's operation table: TUCAI_OP_* to the handlers of
 * every layer, from include/tucai_ops.def.  It sits above the layers (like
 * main.c) so core/ depends on none of them. */
#include "handlers.h"
#include "ops.h"

static const tucai_handler_pt ops[TUCAI_OP_MAX] = {
#define TUCAI_OP(name, code, method, role, body, area, path, stat, handler) \
    [code] = handler,
#include "tucai_ops.def"
#undef TUCAI_OP
    [TUCAI_OP_METRICS] = admin_metrics,
    [TUCAI_OP_STATUS] = health_status,
};

tucai_handler_pt
tucai_ops_handler(uint16_t op)
{
    return op < TUCAI_OP_MAX ? ops[op] : NULL;
}
