/* pool.c -- the master: binds the sockets, preforks and supervises children,
 * and lends nginx connections to them.  Its main loop, stop and reload; the
 * parts are in pool_*.c (pool_int.h says which does what).
 *
 * The master alone accepts; children keep what it lends them (pool_broker.c).
 * Signals reach the master's loop through a self-pipe (pool_sig.c), so all
 * the work (reaping, respawning, reloading) happens outside signal handlers.
 *   HUP  reload the config, start a new generation of children, then TERM
 *        the old one (a busy one after its exchange); connections stay
 *   TERM/INT/QUIT  stop: no more accepts, idle connections closed, those
 *        nginx already wrote on still served; then the children go and
 *        the master unlinks its sockets and pid file.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "peer.h"
#include "pool_int.h"
#include "pool_shm.h"

typedef struct {
    const char    *cfg_path;
    tucai_config_t cfgs[2];
    int            cur;
    int            stopping;
    int            draining_done;
    int64_t        stop_deadline;
} master_t;

static tucai_config_t *
cfg_of(master_t *m)
{
    return &m->cfgs[m->cur];
}

/* TERM/INT/QUIT */
static void
master_stop(master_t *m)
{
    tlog_info("pool: stopping");
    m->stopping = 1;
    m->stop_deadline = mono_ms() + STOP_GRACE_S * 1000;
    listen_close();
    broker_stop();
}

/* HUP: a broken config is refused and logged, the old one stays */
static void
master_reload(master_t *m)
{
    tucai_config_t *cfg = cfg_of(m);
    int             nxt = 1 - m->cur;

    if (tucai_config_load(&m->cfgs[nxt], m->cfg_path) != 0) {
        tlog_error("pool: reload failed, keeping the old config");
        return;
    }
    if (peer_setup(&m->cfgs[nxt]) != 0) {
        tlog_error("pool: reload failed (socket users/groups),"
                   " keeping the old config");
        (void) peer_setup(cfg);
        return;
    }
    if (!same_listen(&m->cfgs[nxt], cfg)) {
        /* the sockets stay: nginx points at them */
        tlog_warn("pool: listen changed; restart to apply");
        memcpy(m->cfgs[nxt].listen, cfg->listen, sizeof(cfg->listen));
        m->cfgs[nxt].nlisten = cfg->nlisten;
    }
    tlog_open(m->cfgs[nxt].log_file);
    kids_new_generation(m->cfgs[nxt].children);
    m->cur = nxt;
    tlog_info("pool: reloaded, %d children", nslots);
}

/* spawn what is missing (not while stopping); slot nslots is the jobs
 * process */
static void
master_spawn_due(master_t *m, const tucai_app_t *app, int64_t now)
{
    int i;

    for (i = 0; i < nslots + (app->tick != NULL) && !m->stopping; i++) {
        if (slot_due(i, now)) {
            slot_spawned(i, pool_spawn(cfg_of(m), i), now);
        }
    }
}

/* Stopping: once every exchange is done the children may go; returns 1
 * when none is left. */
static int
master_drained(master_t *m, int64_t now)
{
    int alive = kids_alive();

    if (!m->draining_done && broker_outstanding() == 0) {
        kids_term_all();
        m->draining_done = 1;
    }
    if (alive == 0) {
        return 1;
    }
    if (now > m->stop_deadline) {
        tlog_warn("pool: children still busy after %ds, killing", STOP_GRACE_S);
        kids_kill_all();
        m->stop_deadline = now + 100000;
    }
    return 0;
}

/* Waits for events and hands them out; returns 1 when the self-pipe
 * spoke. */
static int
master_events(master_t *m, int timeout)
{
    struct epoll_event ev[64];
    int                n, e, got_sig = 0;

    if (timeout < 0) {
        timeout = m->stopping ? 100 : 200;
    }
    n = epoll_wait(pool_ep, ev, 64, timeout);
    for (e = 0; e < n; e++) {
        int kind = (int) (ev[e].data.u64 >> 32);
        int idx = (int) (uint32_t) ev[e].data.u64;
        if (kind == EV_SIG) {
            got_sig = 1;
        } else if (kind == EV_LISTEN) {
            if (!m->stopping)
                broker_accept(pool_lfds[idx]);
        } else if (kind == EV_KID) {
            broker_kid_readable(idx, m->stopping);
        } else if (kind == EV_CONN) {
            broker_conn_event(idx, ev[e].events);
        }
    }
    return got_sig;
}

static void
master_signals(master_t *m)
{
    unsigned char sigs[64];
    int           ns = sig_read(sigs, sizeof(sigs)), k;

    for (k = 0; k < ns; k++) {
        int s = sigs[k];
        if ((s == SIGTERM || s == SIGINT || s == SIGQUIT) && !m->stopping) {
            master_stop(m);
        } else if (s == SIGHUP && !m->stopping) {
            master_reload(m);
        }
    }
}

int
pool_run(const char *cfg_path, tucai_config_t *cfg_in, int foreground,
    const tucai_app_t *app)
{
    static master_t m;
    tucai_config_t *cfg;
    int             i;

    m.cfg_path = cfg_path;
    m.cfgs[0] = *cfg_in;
    cfg = cfg_of(&m);
    (void) foreground;

    pool_app = app;
    tucai_master_pid = getpid();
    if (ev_open() != 0 || sig_open() != 0) {
        return 1;
    }
    if (peer_setup(cfg) != 0) {
        return 1;
    }
    if (listen_open(cfg) != 0) {
        return 1;
    }
    write_pid(cfg->pid_file);
    sig_master_handlers();
    broker_init();
    /* before the first fork: every child shares them */
    if (pool_shm_init() != 0) {
        tlog_error("pool: no shared memory: %s", strerror(errno));
        return 1;
    }
    if (metrics_init() != 0) {
        tlog_warn("pool: no shared memory for metrics: %s", strerror(errno));
    }
    kids_init(cfg->children);
    tlog_info("pool %s: master %d, %d children on %d socket(s)",
        TUCAI_POOL_VERSION, (int) getpid(), nslots, pool_nlfds);

    for (;;) {
        int64_t now = mono_ms();

        master_spawn_due(&m, app, now);
        kids_reap(now, m.stopping, broker_kid_gone);
        /* a child respawned (or freed) may take what waited */
        broker_dispatch(m.stopping);
        if (m.stopping && master_drained(&m, now)) {
            break;
        }
        listen_watch(!m.stopping && broker_room());
        int got_sig = master_events(&m, broker_steal(now));
        broker_dispatch(m.stopping);
        broker_metrics();
        broker_sweep();
        if (got_sig) {
            master_signals(&m);
        }
    }

    broker_close_all();
    close(pool_ep);
    cfg = cfg_of(&m);
    for (i = 0; i < cfg->nlisten; i++) {
        unlink(cfg->listen[i]);
    }
    if (cfg->pid_file[0]) {
        unlink(cfg->pid_file);
    }
    tlog_info("pool: stopped");
    return 0;
}
