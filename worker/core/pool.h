/* pool.h -- the master process and the child's connection loop. */
#ifndef TUCAI_POOL_H
#define TUCAI_POOL_H

#include <signal.h>
#include <sys/types.h>
#include "handler.h"

#define TUCAI_POOL_VERSION  "0.1.0"

/* Set in each child by pool.c: the master's pid, children configured. */
extern pid_t tucai_master_pid;

/* What the program plugs into the pool (main.c): the layers above core/
 * reach it only through these, so core/ names none of them. */
typedef struct {
    /* the operation's handler; NULL = no such operation (404) */
    tucai_handler_pt (*handler_for)(uint16_t op);
    /* periodic work, at most budget_ms; NULL = none */
    void             (*tick)(tucai_ctx_t *ctx, int budget_ms);
} tucai_app_t;

/* The app given to pool_run() (children inherit it). */
extern const tucai_app_t *pool_app;

/* Runs the master until TERM.  cfg_path is re-read on HUP.  Returns the
 * process exit status. */
int pool_run(const char *cfg_path, tucai_config_t *cfg, int foreground,
    const tucai_app_t *app);

/* The master owns every nginx connection; a child borrows one for one
 * exchange over its socketpair `sp` (SOCK_SEQPACKET):
 *   master -> child  one message: the connection (SCM_RIGHTS) and a u64,
 *                    the master's accept count (reported by health)
 *   child -> master  one status byte, with the connection attached when
 *                    POOL_KEEP; POOL_LAST: the child leaves after this one
 *                    (max_requests or TERM), hand it nothing more. */
#define POOL_CLOSED  0x00
#define POOL_KEEP    0x01
#define POOL_LAST    0x80

/* conn.c: a child's life.  Returns when the master closes `sp`, when *stop
 * is set (after the exchange in flight and any connection already handed
 * over), or when max_requests is hit. */
void conn_child_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop);

/* conn.c: the jobs process's life: the program's periodic work
 * (tucai_app_t.tick) about once a second; it never takes a connection.
 * Returns when the master closes `sp` or *stop is set. */
void conn_jobs_loop(tucai_ctx_t *ctx, int sp, volatile sig_atomic_t *stop);

/* dispatch.c: runs the handler for req, always leaving an answer in resp. */
void dispatch(tucai_ctx_t *ctx, const tucai_req_t *req, tucai_resp_t *resp);

#endif
