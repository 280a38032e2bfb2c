/* pool_sig.c -- signals reach the master's loop through a self-pipe, so
 * all the work (reaping, respawning, reloading) happens outside signal
 * handlers; a child's TERM only sets pool_child_stop. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "pool_int.h"

volatile sig_atomic_t pool_child_stop;

static int sig_pipe[2] = { -1, -1 };

static void
on_signal(int sig)
{
    int           saved = errno;
    unsigned char c = (unsigned char) sig;

    if (write(sig_pipe[1], &c, 1) < 0) {
        /* pipe full: a wakeup is already pending */
    }
    errno = saved;
}

static void
on_child_term(int sig)
{
    (void) sig;
    pool_child_stop = 1;
}

void
set_handler(int sig, void (*fn)(int))
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(sig, &sa, NULL);
}

int
sig_open(void)
{
    if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -1;
    }
    ev_add(sig_pipe[0], EV_SIG, 0);
    return 0;
}

void
sig_master_handlers(void)
{
    set_handler(SIGTERM, on_signal);
    set_handler(SIGINT, on_signal);
    set_handler(SIGQUIT, on_signal);
    set_handler(SIGHUP, on_signal);
    set_handler(SIGCHLD, on_signal);
    set_handler(SIGPIPE, SIG_IGN);
}

void
sig_child_handlers(void)
{
    set_handler(SIGTERM, on_child_term);
    set_handler(SIGINT, on_child_term);
    set_handler(SIGQUIT, on_child_term);
    set_handler(SIGHUP, SIG_IGN);
    set_handler(SIGCHLD, SIG_DFL);
    set_handler(SIGPIPE, SIG_IGN);
}

int
sig_read(unsigned char *sigs, int max)
{
    ssize_t n = read(sig_pipe[0], sigs, (size_t) max);
    return n > 0 ? (int) n : 0;
}

void
sig_close(void)
{
    close(sig_pipe[0]);
    close(sig_pipe[1]);
}
