/* pool.h -- the master process and the child's connection loop. */
#ifndef TUCAI_POOL_H
#define TUCAI_POOL_H

#include <signal.h>
#include <sys/types.h>
#include "handler.h"

#define TUCAI_POOL_VERSION  "0.1.0"

/* Set in each child by pool.c: the master's pid, children configured. */
extern pid_t tucai_master_pid;

/* Runs the master until TERM.  cfg_path is re-read on HUP.  Returns the
 * process exit status. */
int pool_run(const char *cfg_path, tucai_config_t *cfg, int foreground);

/* conn.c: a child's life.  fds are the listening sockets (non-blocking).
 * Returns when *stop is set (after in-flight work) or max_requests hit. */
void conn_child_loop(tucai_ctx_t *ctx, const int *fds, int nfds,
    volatile sig_atomic_t *stop);

/* dispatch.c: runs the handler for req, always leaving an answer in resp. */
void dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp);

/* migrate.c: applies dir's NNN_*.sql once each.  0 or -1. */
int migrate_apply(tucai_ctx_t *ctx, const char *dir);

#endif
