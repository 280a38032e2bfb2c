/*
 * peer.c -- only nginx may talk to the pool.
 *
 * The frame carries the role, subject and school nginx verified from the
 * token, and the pool believes them: whoever can connect to a pool socket
 * is trusted as much as nginx.  So the sockets are 0660 (owner and group
 * configurable: the nginx workers' group), and the master checks every
 * accepted connection's credentials (SO_PEERCRED) against the pool's own
 * uid, [pool] peer_users and peer_groups (default: socket_group), closing
 * and logging anyone else before a byte is read.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

#define PEER_MAX 16

static uid_t  uids[PEER_MAX];
static gid_t  gids[PEER_MAX];
static int    nuids, ngids;
static uid_t  sock_uid = (uid_t) -1;
static gid_t  sock_gid = (gid_t) -1;
static mode_t sock_mode = 0660;

static int
numeric(const char *s, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return *end == '\0' && errno == 0;
}

static int
user_id(const char *name, uid_t *out)
{
    unsigned long  n;
    struct passwd *pw;
    if (numeric(name, &n)) {
        *out = (uid_t) n;
        return 0;
    }
    if ((pw = getpwnam(name)) == NULL) {
        tlog_error("pool: unknown user \"%s\"", name);
        return -1;
    }
    *out = pw->pw_uid;
    return 0;
}

static int
group_id(const char *name, gid_t *out)
{
    unsigned long n;
    struct group *gr;
    if (numeric(name, &n)) {
        *out = (gid_t) n;
        return 0;
    }
    if ((gr = getgrnam(name)) == NULL) {
        tlog_error("pool: unknown group \"%s\"", name);
        return -1;
    }
    *out = gr->gr_gid;
    return 0;
}

int
peer_setup(const tucai_config_t *cfg)
{
    char  buf[sizeof(cfg->peer_users) > sizeof(cfg->peer_groups)
             ? sizeof(cfg->peer_users)
             : sizeof(cfg->peer_groups)];
    char *tok, *save;
    uid_t u[PEER_MAX], su = (uid_t) -1;
    gid_t g[PEER_MAX], sg = (gid_t) -1;
    int   nu = 0, ng = 0;

    if ((cfg->socket_owner[0] && user_id(cfg->socket_owner, &su) != 0)
        || (cfg->socket_group[0] && group_id(cfg->socket_group, &sg) != 0))
    {
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", cfg->peer_users);
    for (tok = strtok_r(buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save))
    {
        if (nu == PEER_MAX || user_id(tok, &u[nu++]) != 0)
            return -1;
    }
    snprintf(buf, sizeof(buf), "%s",
        cfg->peer_groups[0] ? cfg->peer_groups : cfg->socket_group);
    for (tok = strtok_r(buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save))
    {
        if (ng == PEER_MAX || group_id(tok, &g[ng++]) != 0)
            return -1;
    }
    memcpy(uids, u, sizeof(u));
    memcpy(gids, g, sizeof(g));
    nuids = nu;
    ngids = ng;
    sock_uid = su;
    sock_gid = sg;
    sock_mode = (mode_t) cfg->socket_mode;
    return 0;
}

int
peer_socket_perms(const char *path)
{
    if ((sock_uid != (uid_t) -1 || sock_gid != (gid_t) -1)
        && chown(path, sock_uid, sock_gid) != 0)
    {
        tlog_error("pool: chown %s: %s", path, strerror(errno));
        return -1;
    }
    if (chmod(path, sock_mode) != 0) {
        tlog_error("pool: chmod %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int
peer_allowed(int fd)
{
    static time_t   last_log;
    static unsigned suppressed;
    struct ucred    cr;
    socklen_t       len = sizeof(cr);
    int             i;
    time_t          now;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
        tlog_warn("pool: SO_PEERCRED: %s", strerror(errno));
        return 0;
    }
    if (cr.uid == geteuid())
        return 1;
    for (i = 0; i < nuids; i++)
        if (cr.uid == uids[i])
            return 1;
    for (i = 0; i < ngids; i++)
        if (cr.gid == gids[i])
            return 1;

    /* one line a second at most: a local flood must not fill the disk */
    now = time(NULL);
    if (now != last_log) {
        tlog_warn("pool: refused a connection from pid %d uid %u gid %u"
                  " (not nginx: see [pool] peer_users/peer_groups)%s",
            (int) cr.pid, (unsigned) cr.uid, (unsigned) cr.gid,
            suppressed ? " (and earlier ones not logged)" : "");
        last_log = now;
        suppressed = 0;
    } else {
        suppressed++;
    }
    return 0;
}
