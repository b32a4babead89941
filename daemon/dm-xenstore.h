/*
 * ioreqd's xenstore connection: what a toolstack reads from a device model
 * and what ioreqd must clean up again.
 *
 *   /local/domain/0/device-model/<domid>/state      "running" once serving (libxl waits for it),
 *                                                    when ioreqd is the guest's device model
 *   /local/domain/0/device-model/<domid>/ioreqd/... pid, version, device inventory, and
 *                                                    state beside QEMU (the key above is then
 *                                                    QEMU's: it writes it, libxl waits on it)
 *   /local/domain/<domid>/...                        keys devices publish for the guest's
 *                                                    tools (a UART's pty: serial/<n>/tty)
 *
 * Every node this module creates is remembered (each node that did not
 * exist before the write), and dmxs_cleanup() removes those that nobody
 * else wrote into meanwhile, so nothing ioreqd created is left behind and
 * nothing others wrote is removed: a key that existed is never removed,
 * even if ioreqd wrote it.
 *
 * It also watches @releaseDomain on the libevent loop and calls back so the
 * daemon can check whether its guest is gone.
 */
#ifndef IOREQD_DM_XENSTORE_H
#define IOREQD_DM_XENSTORE_H

#include <stdbool.h>

#include "compiler.h"

struct event_base;
struct dmxs;

struct dmxs_callbacks {
    /* Some domain went away: the daemon checks whether it was ours. */
    void (*domain_released)(void *opaque);
    void *opaque;
};

/* xs_open(0) and the @releaseDomain watch on `base`. 0 or -errno. */
int dmxs_open(struct dmxs **out, unsigned domid, struct event_base *base,
              const struct dmxs_callbacks *cb) must_check;
/* Removes what dmxs_cleanup() has not, closes the connection. NULL is fine. */
void dmxs_close(struct dmxs *x);
/*
 * Closes the connection and leaves every node written in place, for a
 * daemon about to restrict its Xen handles: xentoolcore_restrict_all()
 * points libxenstore's socket at /dev/null, after which a request would
 * never get its reply. The toolstack removes the nodes with the domain.
 */
void dmxs_close_keep(struct dmxs *x);
/*
 * The same in two steps, for a restriction that may fail: the connection
 * closes but the nodes written are remembered, so that dmxs_reconnect()
 * lets dmxs_close() remove them after all, or dmxs_close_keep() forgets
 * them. Nothing but those three may be called in between.
 */
void dmxs_disconnect(struct dmxs *x);
int dmxs_reconnect(struct dmxs *x) must_check;

/* "/local/domain/0/device-model/<domid>" */
const char *dmxs_dm_dir(const struct dmxs *x);
/* "/local/domain/<domid>" */
const char *dmxs_guest_dir(const struct dmxs *x);

/*
 * Whether QEMU's "<dm dir>/state" exists and ioreqd did not write it: QEMU
 * (or another device model) serves the domain already. A state key left by
 * an earlier ioreqd that ran alone (its ioreqd/pid there, no ioreqd/state)
 * does not count.
 */
bool dmxs_qemu_state_present(struct dmxs *x);
/*
 * Beside QEMU, ioreqd writes nothing in the device-model directory outside
 * its own "ioreqd/" (-EPERM), and its state key moves there.
 */
void dmxs_set_beside_qemu(struct dmxs *x, bool beside);
/* "<dm dir>/state" alone, "<dm dir>/ioreqd/state" beside QEMU. */
const char *dmxs_state_path(const struct dmxs *x);

/*
 * Writes an absolute path, which must lie below dmxs_dm_dir() or
 * dmxs_guest_dir() (-EPERM otherwise), and remembers it for cleanup.
 * 0 or -errno.
 */
int dmxs_write(struct dmxs *x, const char *path, const char *value) must_check;
/* Same, with a printf-formatted value. */
int dmxs_writef(struct dmxs *x, const char *path, const char *fmt, ...) must_check
    printf_like(3, 4);

/* The value at path (malloc()ed, NUL-terminated), or NULL with errno set. */
char *dmxs_read(struct dmxs *x, const char *path);
/*
 * Removes path, which must lie below dmxs_dm_dir() (-EPERM otherwise):
 * what a previous ioreqd left there. ENOENT is not an error. 0 or -errno.
 */
int dmxs_remove(struct dmxs *x, const char *path) must_check;

/* Removes every node ioreqd created, newest first; ENOENT is not an error. */
void dmxs_cleanup(struct dmxs *x);

/*
 * Delivers watch events still queued and tells whether the connection
 * works: 0, or -errno once xenstored is gone (libxenstore itself does not
 * signal that on the watch descriptor). Never blocks.
 */
int dmxs_check(struct dmxs *x);

/* xs_is_domain_introduced(domid); true also when xenstore cannot tell. */
bool dmxs_domain_introduced(struct dmxs *x);

#endif
