/* pool_listen.c -- the master's Unix sockets (nginx connects to them) and
 * its pid file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"
#include "pool_int.h"

int        pool_lfds[TUCAI_MAX_LISTEN], pool_nlfds;
static int watching;

/* Binds a Unix socket; a stale file from a dead pool is replaced, a live
 * pool's socket is not stolen. */
static int
bind_unix(const char *path)
{
    struct sockaddr_un sa;
    int                fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        tlog_error("pool: socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
        tlog_error("pool: %s is served by a running pool", path);
        close(fd);
        return -1;
    }
    unlink(path);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || peer_socket_perms(path) != 0 || listen(fd, 511) != 0)
    {
        tlog_error("pool: bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int
listen_open(const tucai_config_t *cfg)
{
    int i;

    for (i = 0; i < cfg->nlisten; i++) {
        if ((pool_lfds[i] = bind_unix(cfg->listen[i])) < 0) {
            while (--i >= 0) {
                close(pool_lfds[i]);
                unlink(cfg->listen[i]);
            }
            return -1;
        }
    }
    pool_nlfds = cfg->nlisten;
    return 0;
}

/* accept only while there is room: the rest waits in the backlog */
void
listen_watch(int want)
{
    int i;

    if (want == watching) {
        return;
    }
    for (i = 0; i < pool_nlfds; i++) {
        if (want)
            ev_add(pool_lfds[i], EV_LISTEN, i);
        else
            ev_del(pool_lfds[i]);
    }
    watching = want;
}

/* nothing new is accepted once the sockets are gone */
void
listen_close(void)
{
    int i;

    for (i = 0; i < pool_nlfds; i++) {
        ev_del(pool_lfds[i]);
        close(pool_lfds[i]);
    }
    pool_nlfds = 0;
    watching = 0;
}

void
listen_close_fds(void)
{
    int i;

    for (i = 0; i < pool_nlfds; i++)
        close(pool_lfds[i]);
}

void
write_pid(const char *path)
{
    FILE *f;

    if (path[0] == '\0')
        return;
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "%d\n", (int) getpid());
        fclose(f);
    }
}

int
same_listen(const tucai_config_t *a, const tucai_config_t *b)
{
    int i;
    if (a->nlisten != b->nlisten)
        return 0;
    for (i = 0; i < a->nlisten; i++) {
        if (strcmp(a->listen[i], b->listen[i]) != 0)
            return 0;
    }
    return 1;
}
