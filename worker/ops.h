/* ops.h -- what main.c plugs into the pool: the operation table (ops.c). */
#ifndef TUCAI_OPS_H
#define TUCAI_OPS_H

#include <stdint.h>

#include "handler.h"

/* NULL for an operation this pool does not know. */
tucai_handler_pt tucai_ops_handler(uint16_t op);

#endif
