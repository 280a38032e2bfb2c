/* peer.h -- who may talk to the pool: socket ownership/mode and the
 * SO_PEERCRED check of every connection (README "Security"). */
#ifndef TUCAI_PEER_H
#define TUCAI_PEER_H

#include "config.h"

/* Resolves [pool] socket_owner/socket_group/peer_users/peer_groups;
 * -1 (logged) when a name is unknown.  Called at start and on reload. */
int peer_setup(const tucai_config_t *cfg);
/* Applies socket_mode and owner/group to a freshly bound socket. */
int peer_socket_perms(const char *path);
/* 1 when the connected peer is allowed; else logs (rate-limited), 0. */
int peer_allowed(int fd);

#endif
