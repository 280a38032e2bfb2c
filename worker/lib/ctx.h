/* ctx.h -- what every layer of a worker process shares: the config and the
 * process's one MariaDB connection (owned by db/; opaque here, so a file
 * that never queries needn't see mysql.h). */
#ifndef TUCAI_CTX_H
#define TUCAI_CTX_H

#include <stdint.h>

#include "config.h"

struct st_mysql;

typedef struct tucai_ctx_s {
    const tucai_config_t *cfg;
    struct st_mysql      *db; /* MYSQL *; NULL while disconnected */
    int                   child_no;
    uint64_t              accepts; /* connections accepted by the master */
} tucai_ctx_t;

#endif
