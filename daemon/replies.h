/*
 * The control socket's status and stats replies (layout in
 * control-proto.h), written from what the device model is made of.
 */
#ifndef IOREQD_REPLIES_H
#define IOREQD_REPLIES_H

#include "dm-devices.h"
#include "json.h"

struct dm_faults;
struct ioreq_server;
struct ioreq_stats;
struct ioreq_vcpu_stats;
struct pci_bus;

struct reply_sources {
    unsigned domid;
    const char *version;
    struct ioreq_server *srv;
    struct pci_bus *pci; /* may be NULL */
    const struct dm_devices *devs;
};

/* The members of each reply after "ok". 0, or -errno for an error reply. */
int reply_status(const struct reply_sources *src, struct json_buf *out);
int reply_stats(const struct reply_sources *src, struct json_buf *out);

/* The stats reply's request counters, for `nr` vCPUs of `per_vcpu`. */
void reply_ioreq_stats(struct json_buf *b, const struct ioreq_stats *st,
                       const struct ioreq_vcpu_stats *per_vcpu, unsigned nr);
/* "faults": the device-level faults by cause (every cause; NULL counts as all 0). */
void reply_faults(struct json_buf *b, const struct dm_faults *faults);

#endif
