/*
 * One running device model: the ioreq server for one domain, the PCI bus
 * and the devices on it, the xenstore entries describing them, and the
 * libevent loop serving it all until a signal, the guest's end or a fatal
 * error stops it. main() owns the process matters (arguments, daemonizing,
 * pid file); this module owns the device model's lifetime.
 */
#ifndef IOREQD_IOREQD_H
#define IOREQD_IOREQD_H

#include <stdbool.h>
#include <stddef.h>

#include "dm-devices.h"

struct ioreqd;

struct ioreqd_params {
    unsigned domid;
    struct ioreqd_device_config *devs;
    unsigned nr_devs;
    const char *control_socket; /* ioreqctl's socket; NULL for none */
    /*
     * xenstore stays connected once serving (no --runas): where the guest
     * places the BARs is published then, and kept current. Otherwise it is
     * left out, as it could not be kept current.
     */
    bool xenstore_stays;
    unsigned poll_us; /* the ioreq server's poll window (--poll-us); 0: none */
    /* enum ioreqd_beside_qemu (settings.h); beside-qemu.h says what it changes */
    int beside_qemu;
    bool dirty_log; /* report guest-RAM writes to Xen's dirty log from the start (--dirty-log) */
};

/*
 * Start-up in docs/DESIGN.md's order: xenstore and the guest check, the ioreq
 * server, the PCI bus and the devices, the PCI handler, the control socket,
 * then the inventory and state = running in xenstore. Returns 0, or an enum
 * ioreqd_exit value (USAGE for a device spec the device rejected, FAILURE
 * otherwise) after logging why; on failure everything started is torn down
 * again.
 */
int ioreqd_start(struct ioreqd **out, const struct ioreqd_params *params);

struct depriv_plan;

/*
 * Gives up privileges once start-up is over and before the first request
 * is served (SECURITY in ioreqd(8)). With a user to switch to: closes
 * xenstore (everything was published already), restricts every Xen handle
 * to the guest and starts polling the guest's liveness; then the process
 * side (depriv_apply: chroot, ids, limits, no_new_privs, seccomp).
 * Returns 0 or IOREQD_EXIT_FAILURE after logging why.
 */
int ioreqd_deprivilege(struct ioreqd *d, const struct depriv_plan *plan);

/* Serves until stopped; returns the exit status (0 for an orderly stop). */
int ioreqd_run(struct ioreqd *d);

/* Orderly teardown: devices flushed and destroyed, server destroyed, xenstore cleaned. */
void ioreqd_stop(struct ioreqd *d);

#endif
