/* pool_kids.c -- the master's children: which slot each fills, reaping,
 * the backoff of a slot whose child crashed, TERM and KILL.
 *
 * A child that dies is respawned; one that dies soon after starting delays
 * the next spawn (pool_backoff_next) so a crash loop can't spin.  One more
 * slot (index nslots) is the jobs process: the program's periodic work,
 * supervised the same way, never lent a connection. */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pool_int.h"
#include "pool_shm.h"

pid_t  tucai_master_pid;
slot_t slots[MAX_CHILDREN + 1];
int    nslots;
kid_t  kids[MAX_KIDS];

void
kids_init(int n)
{
    int i;

    for (i = 0; i < MAX_KIDS; i++)
        kids[i].sp = -1;
    nslots = n > MAX_CHILDREN ? MAX_CHILDREN : n;
    memset(slots, 0, sizeof(slots));
    for (i = 0; i <= MAX_CHILDREN; i++)
        slots[i].kid = -1;
}

int
kids_free_index(void)
{
    int k;

    for (k = 0; k < MAX_KIDS && kids[k].pid != 0; k++) {
    }
    return k == MAX_KIDS ? -1 : k;
}

void
kid_add(int k, pid_t pid, int sp, int no)
{
    kids[k].pid = pid;
    kids[k].sp = sp;
    kids[k].slot = no;
    kids[k].last = 0;
    kids[k].termed = 0;
    kids[k].jobs = no == nslots;
    slots[no].kid = k;
    /* busy until its loop says otherwise (it connects to the DB first) */
    __atomic_store_n(&pool_shm->kbusy_ms[k], mono_ms(), __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool_shm->kstate[k], KID_BUSY, __ATOMIC_SEQ_CST);
    __atomic_store_n(&pool_shm->kserving[k], !kids[k].jobs, __ATOMIC_SEQ_CST);
    ev_add(sp, EV_KID, k);
}

void
kid_close_sp(kid_t *k)
{
    if (k->sp >= 0) {
        ev_del(k->sp);
        close(k->sp);
        k->sp = -1;
    }
}

/* It finishes its exchange, gives back what it keeps (over sp, still
 * open) and exits. */
void
kid_term(kid_t *k)
{
    unsigned char wake = POOL_MSG_STOP;

    if (!k->termed) {
        kill(k->pid, SIGTERM);
        k->termed = 1;
        /* a TERM landing just before its epoll_wait would be seen a
         * second later: a message wakes it (it reads *stop first) */
        if (k->sp >= 0) {
            (void) send(k->sp, &wake, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    k->last = 1;
}

int
slot_due(int i, int64_t now)
{
    return slots[i].kid < 0 && now >= slots[i].next_spawn_ms;
}

void
slot_spawned(int i, pid_t pid, int64_t now)
{
    if (pid > 0) {
        slots[i].started_ms = now;
    } else {
        slots[i].next_spawn_ms = now + 1000;
    }
}

void
kids_reap(int64_t now, int stopping, void (*gone)(int k))
{
    pid_t pid;
    int   status, i;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int k;
        for (k = 0; k < MAX_KIDS && kids[k].pid != pid; k++) {
        }
        if (k == MAX_KIDS)
            continue;
        kid_t *x = &kids[k];
        if (tucai_metrics)
            tucai_metrics->child_exits_total++;
        kid_close_sp(x);
        __atomic_store_n(&pool_shm->kserving[k], 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&pool_shm->kstate[k], KID_BUSY, __ATOMIC_SEQ_CST);
        gone(k);
        x->pid = 0;
        i = x->slot;
        if (i < 0 || slots[i].kid != k)
            continue;
        slots[i].kid = -1;
        if (stopping)
            continue;
        int crashed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (crashed) {
            tlog_warn("child %d (pid %d) died: %s %d", i, (int) pid,
                WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
        slots[i].backoff_ms = pool_backoff_next(
            slots[i].backoff_ms, crashed, now - slots[i].started_ms);
        slots[i].next_spawn_ms = now + slots[i].backoff_ms;
    }
}

int
kids_alive(void)
{
    int i, alive = 0;

    for (i = 0; i < MAX_KIDS; i++) {
        alive += kids[i].pid > 0;
    }
    return alive;
}

/* every exchange done: the children may go */
void
kids_term_all(void)
{
    int i;

    for (i = 0; i < MAX_KIDS; i++) {
        if (kids[i].pid > 0) {
            kid_term(&kids[i]);
        }
    }
}

void
kids_kill_all(void)
{
    int i;

    for (i = 0; i < MAX_KIDS; i++)
        if (kids[i].pid > 0)
            kill(kids[i].pid, SIGKILL);
}

/* Old children keep pointers into the config they were forked with (their
 * own copy); the master switches over.  Each finishes its exchange (the
 * jobs process its tick), gives back the connections it keeps and goes. */
void
kids_new_generation(int n)
{
    int i;

    for (i = 0; i <= nslots; i++) {
        int k = slots[i].kid;
        if (k >= 0) {
            kids[k].slot = -1;
            __atomic_store_n(&pool_shm->kserving[k], 0, __ATOMIC_SEQ_CST);
            kid_term(&kids[k]);
        }
        slots[i].kid = -1;
        slots[i].next_spawn_ms = 0;
        slots[i].backoff_ms = 0;
    }
    nslots = n > MAX_CHILDREN ? MAX_CHILDREN : n;
    for (i = 0; i <= MAX_CHILDREN; i++)
        slots[i].kid = -1;
}

void
kids_close_sps(void)
{
    int i;

    for (i = 0; i < MAX_KIDS; i++)
        if (kids[i].pid > 0 && kids[i].sp >= 0)
            close(kids[i].sp);
}
