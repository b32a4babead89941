/*
 * Servers belong to the domain, not to the process: one whose ioreqd
 * crashed stays, enabled, with its ranges, and the vCPU that waited on it
 * waits for good. Its id and pid are recorded in xenstore as soon as the
 * server exists (predecessor_record), so a successor (systemd restarts ioreqd
 * after a crash) destroys it first, answering what it left in the slots:
 * the guest's accesses then reach the new server, and the domain's eight
 * server ids do not run out. A predecessor whose process still runs is
 * left alone.
 */
#ifndef IOREQD_PREDECESSOR_H
#define IOREQD_PREDECESSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "dm-xenstore.h"

/*
 * Destroys the server a previous ioreqd for domid left, unless its process
 * still runs, and removes what it published (beside QEMU the plain state
 * key is QEMU's and stays). Logs what it did; nothing to fail.
 */
void predecessor_retire(struct dmxs *xs, unsigned domid, bool beside_qemu);
/* Written as soon as our server exists: a successor finds it even if we crash now. 0 or -errno. */
int predecessor_record(struct dmxs *xs, uint16_t server_id);

#endif
