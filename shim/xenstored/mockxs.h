/*
 * mockxs: an embeddable xenstore server for the mock hypervisor.
 *
 * It speaks the xenstore wire protocol (xen/io/xs_wire.h) on a unix socket,
 * so Debian's libxenstore (XENSTORED_PATH=<socket>) and the xenstore-* tools
 * talk to it unchanged. Every socket client is a privileged dom0 client, as
 * with xenstored's own socket. Domains exist only as bookkeeping: introducing
 * one fires @introduceDomain, releasing it fires @releaseDomain.
 *
 * Ownership and threads: the server runs its sockets on the caller's
 * libevent event_base. The direct helpers below (introduce/release, read,
 * write, mkdir, rm, set_perms, directory) may be called from any thread,
 * also while another thread dispatches the base: the store is behind a
 * mutex and pending watch events are flushed by the loop thread after a
 * wake-up. mockxs_new() and mockxs_free() must run on the loop's thread or
 * while the base is not dispatching.
 *
 * All functions returning int give 0 or a negative errno value (-ENOENT,
 * -EINVAL, -EEXIST, -E2BIG, -ENOMEM, ...), as xenstored would report them.
 */
#ifndef MOCKXS_H
#define MOCKXS_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct mockxs;

/*
 * Creates the store (with /, /local, /local/domain, /local/domain/0 and
 * /tool, dom0 introduced) and listens on socket_path, replacing a stale
 * socket file there. Returns NULL with errno set on failure.
 */
struct mockxs *mockxs_new(struct event_base *base, const char *socket_path);

/* Closes every client and the listening socket, unlinks it, frees all. */
void mockxs_free(struct mockxs *xs);

const char *mockxs_socket_path(const struct mockxs *xs);

/*
 * Marks domid as introduced and fires @introduceDomain. -EEXIST if it
 * already is; -EINVAL for domid 0 or >= DOMID_FIRST_RESERVED (0x7ff0).
 * As xenstored, it does not create /local/domain/<domid>: the toolstack does.
 */
int mockxs_introduce_domain(struct mockxs *xs, unsigned int domid);

/* Forgets domid and fires @releaseDomain; -ENOENT if not introduced. */
int mockxs_release_domain(struct mockxs *xs, unsigned int domid);

bool mockxs_domain_introduced(struct mockxs *xs, unsigned int domid);

/*
 * Takes fd (one end of a connected stream socket, e.g. of a socketpair) as
 * domain domid's own connection, the one xenstored serves on the domain's
 * ring: unprivileged, with domid's permissions, quotas and home
 * /local/domain/<domid>. Whoever holds the other end relays the ring. Safe
 * from any thread: the loop's thread takes the connection over at its next
 * wake-up. fd is closed on failure (-EINVAL for domid 0 or a reserved one,
 * -EAGAIN when MOCKXS_ADOPT_MAX hand-overs are already waiting).
 */
#define MOCKXS_ADOPT_MAX 16
int mockxs_adopt_domain_conn(struct mockxs *xs, int fd, unsigned int domid);

/*
 * Direct access, acting as privileged dom0, outside any transaction.
 * Relative paths resolve against /local/domain/0. Changes fire watches
 * exactly as a client's request would.
 */

/* *value is malloc()ed, NUL-terminated beyond *len; free() it. len may be NULL. */
int mockxs_read(struct mockxs *xs, const char *path, char **value, size_t *len);
/* Creates missing parents (owned as their nearest ancestor), as XS_WRITE. */
int mockxs_write(struct mockxs *xs, const char *path, const void *value, size_t len);
int mockxs_write_str(struct mockxs *xs, const char *path, const char *value);
int mockxs_mkdir(struct mockxs *xs, const char *path);
/* Recursive; a missing node is fine if its parent exists (else -ENOENT), as XS_RM. */
int mockxs_rm(struct mockxs *xs, const char *path);
/*
 * perms[0] is the owner and the default for other domains, the rest are
 * per-domain entries, each in xenstore's text form: "n5", "r0", "w3", "b7".
 */
int mockxs_set_perms(struct mockxs *xs, const char *path, const char *const *perms,
                     unsigned int nr_perms);
/* *names is a malloc()ed array of malloc()ed child names; free each, then the array. */
int mockxs_directory(struct mockxs *xs, const char *path, char ***names, unsigned int *nr_names);

#endif
