/*
 * lease.h -- named, expiring, exclusive holds that hold across database
 * nodes (table tucai_leases).
 *
 * MariaDB's GET_LOCK() is local to one server: on a Galera cluster two
 * pools on two nodes would both get "the" lock.  A lease is a row keyed by
 * its name: taking it is an INSERT, so two nodes racing for it conflict at
 * certification and one of them gets a deadlock error, which db.c retries
 * (the retried INSERT then sees the winner's row).  A lease names its
 * holder (host name, pid) and expires: a crashed host's leases lapse after
 * their ttl; on the same host a new pool child removes at once the leases
 * of processes that no longer exist (db_lease_reap).
 */
#ifndef TUCAI_LEASE_H
#define TUCAI_LEASE_H

#include "ctx.h"

/* Creates the table if missing (migrate calls it first).  0 or -1. */
int db_lease_setup(tucai_ctx_t *ctx);
/* Takes the lease for ttl_s seconds.  1 taken, 0 held by someone else,
 * -1 database error.  Outside a transaction. */
int db_lease_take(tucai_ctx_t *ctx, const char *name, int ttl_s);
/* The same, trying again every 50 ms for up to wait_ms. */
int db_lease_wait(tucai_ctx_t *ctx, const char *name, int ttl_s, int wait_ms);
/* Gives back a lease this process holds.  0 or -1 (then it is kept and
 * given back by db_lease_flush). */
int db_lease_release(tucai_ctx_t *ctx, const char *name);
/* Gives back the leases whose release failed (db_lease_release keeps up
 * to 16 of them).  0 when none is left, -1. */
int db_lease_flush(tucai_ctx_t *ctx);
int db_lease_pending(void);
/* Removes leases held by processes of this host that are gone.  Returns
 * how many, or -1. */
int db_lease_reap(tucai_ctx_t *ctx);

#endif
