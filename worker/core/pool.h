/* pool.h -- the master process and the child's connection loop. */
#ifndef TUCAI_POOL_H
#define TUCAI_POOL_H

#include <signal.h>
#include <sys/types.h>
#include "handler.h"

#define TUCAI_POOL_VERSION "0.1.0"

/* Set in each child by pool.c: the master's pid, children configured. */
extern pid_t tucai_master_pid;

/* What the program plugs into the pool (main.c): the layers above core/
 * reach it only through these, so core/ names none of them. */
typedef struct {
    /* the operation's handler; NULL = no such operation (404) */
    tucai_handler_pt (*handler_for)(uint16_t op);
    /* periodic work, at most budget_ms; NULL = none */
    void (*tick)(tucai_ctx_t *ctx, int budget_ms);
} tucai_app_t;

/* The app given to pool_run() (children inherit it). */
extern const tucai_app_t *pool_app;

/* Runs the master until TERM.  cfg_path is re-read on HUP.  Returns the
 * process exit status. */
int pool_run(const char *cfg_path, tucai_config_t *cfg, int foreground,
    const tucai_app_t *app);

/* The master lends a connection nginx wrote on to an idle child, which
 * keeps it (pool_broker.c, pool_shm.h).  Messages over the child's
 * socketpair `sp` (SOCK_SEQPACKET):
 *   master -> child  POOL_MSG_LEND: 8 bytes (type, 0, connection number
 *                    u16, generation u32, big-endian), the connection
 *                    attached (SCM_RIGHTS);
 *                    POOL_MSG_STOP: 1 byte, the pool stops: give back
 *                    everything kept, keep nothing more.
 *   child -> master  POOL_MSG_IDLE: 1 byte, sent only when the master has
 *                    connections waiting (pool_shm.h queued);
 *                    POOL_MSG_RELEASE: type, 0, then up to POOL_RELEASE_MAX
 *                    connection numbers (u16) the child gives back. */
#define POOL_MSG_LEND    'L'
#define POOL_MSG_STOP    'S'
#define POOL_MSG_IDLE    'I'
#define POOL_MSG_RELEASE 'R'
#define POOL_RELEASE_MAX 64

/* conn.c: a child's life (kid: its index in the master's table, its
 * entries in pool_shm.h).  Returns when the master is gone, when *stop is
 * set (after the exchange in flight; what it keeps is given back), or when
 * max_requests is hit. */
void conn_child_loop(
    tucai_ctx_t *ctx, int sp, int kid, volatile sig_atomic_t *stop);

/* conn.c: the jobs process's life: the program's periodic work
 * (tucai_app_t.tick) about once a second; it never takes a connection.
 * Returns when the master closes `sp` or *stop is set. */
void conn_jobs_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop);

/* dispatch.c: runs the handler for req, always leaving an answer in resp. */
void dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp);

#endif
