/* pool_int.h -- the master's parts (pool*.c), for one another only.
 *
 * Who uses whom (no cycles between the objects, tools/layers.pl):
 *   pool.c        the main loop: stop, reload, routes events -> all below
 *   pool_spawn.c  fork a child or the jobs process, the child's side
 *                 -> broker, kids, listen, sig, ev
 *   pool_broker.c the connections: accept, idle poll, FIFO, lend to an
 *                 idle child, take back -> kids, rules, ev, shm
 *   pool_kids.c   children and slots: bookkeeping, reaping, backoff,
 *                 TERM/KILL -> rules, ev, shm
 *   pool_shm.c    what master and children share (pool_shm.h)
 *   pool_listen.c the Unix sockets and the pid file -> ev
 *   pool_sig.c    signals through a self-pipe -> ev
 *   pool_ev.c     the master's epoll and clocks
 *   pool_rules.c  pure decisions (t/unit/pool_test.c)
 */
#ifndef TUCAI_POOL_INT_H
#define TUCAI_POOL_INT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pool.h"

#define MAX_CHILDREN   256
#define MAX_BACKOFF_MS 5000
#define QUICK_DEATH_MS 2000 /* a crash sooner than this backs off */
#define STOP_GRACE_S   35   /* > request_timeout default, then KILL */

#define MAX_CONNS    512 /* beyond: left in the listen backlog */
#define MAX_KIDS     (MAX_CHILDREN * 2 + 2) /* current + retiring */
#define IDLE_CLOSE_S 300 /* nginx's keepalive_timeout closes first */

/* epoll tags: kind in the high 32 bits, index in the low */
#define EV_SIG    1
#define EV_LISTEN 2
#define EV_KID    3
#define EV_CONN   4

/* A slot: one of the `children` configured (index nslots: the jobs
 * process), refilled when its child dies. */
typedef struct {
    int64_t started_ms;
    int64_t next_spawn_ms;
    int     backoff_ms;
    int     kid; /* index in kids[], -1 = none */
} slot_t;

/* A child process.  slot -1: an old generation's child (HUP), retiring. */
typedef struct {
    pid_t pid;
    int   sp; /* master's end of the socketpair, -1 closed */
    int   slot;
    int   last; /* leaving: lend it nothing more */
    int   termed;
    int   jobs; /* the jobs process: never lent anything */
} kid_t;

/* A connection: the master's (in epoll), queued (nginx wrote, waiting for
 * a child) or owned (a child keeps it; the master's copy waits for the
 * hangup only). */
enum {
    C_FREE = 0,
    C_IDLE,
    C_QUEUED,
    C_OWNED
};

typedef struct {
    int     fd;
    int     state;
    time_t  last;
    int64_t queued_us; /* when nginx wrote (queue wait metric) */
} conn_t;

/* pool_rules.c: pure decisions */
/* The next spawn delay of a slot whose child just exited after lived_ms:
 * quick crashes double it (100 ms up to MAX_BACKOFF_MS), anything else
 * resets it. */
int pool_backoff_next(int backoff_ms, int crashed, int64_t lived_ms);
/* The child to lend the next connection to, searching round robin from
 * `from`: alive, talking, current generation, idle (kstate[i], pool_shm.h),
 * not leaving, not the jobs process.  -1 when none. */
int pool_pick_idle(const kid_t *kids, int n, int from, const int32_t *kstate);

/* pool_ev.c: the master's epoll */
extern int pool_ep;
int        ev_open(void);
void       ev_add(int fd, int kind, int idx);
void       ev_del(int fd);
int64_t    mono_ms(void);
int64_t    mono_us(void);

/* pool_sig.c */
extern volatile sig_atomic_t pool_child_stop;
int                          sig_open(void); /* the self-pipe, into epoll */
void                         sig_master_handlers(void);
void                         sig_child_handlers(void);
void                         set_handler(int sig, void (*fn)(int));
/* Reads the pending signals into sigs; returns how many. */
int  sig_read(unsigned char *sigs, int max);
void sig_close(void);

/* pool_listen.c */
extern int pool_lfds[], pool_nlfds;
int        listen_open(const tucai_config_t *cfg); /* 0 or -1 (logged) */
void       listen_watch(int want);                 /* epoll on/off */
void       listen_close(void);                     /* stop: sockets gone */
void       listen_close_fds(void);                 /* a child: fds only */
void       write_pid(const char *path);
int        same_listen(const tucai_config_t *a, const tucai_config_t *b);

/* pool_kids.c: children and slots */
extern slot_t slots[MAX_CHILDREN + 1]; /* + jobs */
extern int    nslots;
extern kid_t  kids[MAX_KIDS];
void          kids_init(int n);
int           kids_free_index(void); /* -1: none left */
void          kid_add(int k, pid_t pid, int sp, int no);
void          kid_close_sp(kid_t *k);
void          kid_term(kid_t *k); /* TERM once */
/* Spawn due for slot i (empty, its backoff over). */
int  slot_due(int i, int64_t now);
void slot_spawned(int i, pid_t pid, int64_t now);
/* Reaps exited children, each passed to gone() (index in kids[]); slots
 * are refilled later (backoff) unless stopping. */
void kids_reap(int64_t now, int stopping, void (*gone)(int k));
int  kids_alive(void);
void kids_term_all(void);
void kids_kill_all(void);
/* HUP: every child becomes retiring and gets TERM (it finishes its
 * exchange and gives back what it keeps), slots empty for the new
 * generation of n children. */
void kids_new_generation(int n);
void kids_close_sps(void); /* a child: fds only */

/* pool_broker.c: the connections */
void broker_init(void);
int  broker_room(void); /* may accept more */
void broker_accept(int lfd);
void broker_conn_event(int c, uint32_t events);
void broker_kid_readable(int k, int stopping);
void broker_dispatch(int stopping);
int  broker_outstanding(void);     /* kept or queued */
void broker_kid_gone(int k);       /* reaped */
int  broker_steal(int64_t now_ms); /* -1 or a timeout, ms */
void broker_sweep(void);           /* idle ones, once a second */
void broker_stop(void);            /* close idle, keep written */
void broker_close_all(void);
void broker_close_fds(void); /* a child: fds only */
void broker_metrics(void);

/* pool_spawn.c */
pid_t pool_spawn(tucai_config_t *cfg, int no);

#endif
