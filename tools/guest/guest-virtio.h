/*
 * gvirtio: a guest driver for the modern virtio-pci transport (virtio 1.2,
 * section 4.1) with split virtqueues (section 2.7), driving a device model
 * through the mock hypervisor's MMIO and config accesses.
 *
 * What it does, in the order the specification asks a driver to (3.1.1):
 * find the vendor capabilities (common, notify, ISR, device config), reset
 * and wait for status 0, ACKNOWLEDGE, DRIVER, negotiate features with
 * VIRTIO_F_VERSION_1 and check that FEATURES_OK stuck, build each queue's
 * descriptor table, available and used rings in guest RAM, give queues their
 * MSI-X vectors, enable them, DRIVER_OK. Requests are chains of buffers in
 * guest RAM; a notify is a write of the queue index to the queue's notify
 * address; completions are found by polling the used ring, and waited for
 * through the interrupts the mock records (MSI-X, or INTx with the ISR read
 * that acknowledges it).
 *
 * The device is not trusted either: used-ring ids and lengths are checked
 * before the driver believes them, every poll and wait is bounded.
 *
 * Threads: each queue has its own lock and may be driven by its own thread
 * (give each such queue its own vCPU, vq->vcpu); set-up runs on one thread.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "guest-arena.h"
#include "guest-pci.h"
#include "mockhv.h"

#define GVIRTIO_VENDOR      0x1af4
#define GVIRTIO_DEVICE_BASE 0x1040 /* + virtio device id (4.1.2.1) */

/* Device status (2.1). */
#define GVIRTIO_S_ACKNOWLEDGE 1
#define GVIRTIO_S_DRIVER      2
#define GVIRTIO_S_DRIVER_OK   4
#define GVIRTIO_S_FEATURES_OK 8
#define GVIRTIO_S_NEEDS_RESET 64
#define GVIRTIO_S_FAILED      128

/* Reserved feature bits (6). */
#define GVIRTIO_F_INDIRECT_DESC 28
#define GVIRTIO_F_EVENT_IDX     29
#define GVIRTIO_F_VERSION_1     32

/* struct virtio_pci_common_cfg (4.1.4.3). */
#define GVIRTIO_COMMON_DFSELECT 0x00
#define GVIRTIO_COMMON_DF       0x04
#define GVIRTIO_COMMON_GFSELECT 0x08
#define GVIRTIO_COMMON_GF       0x0c
#define GVIRTIO_COMMON_MSIX     0x10
#define GVIRTIO_COMMON_NUMQ     0x12
#define GVIRTIO_COMMON_STATUS   0x14
#define GVIRTIO_COMMON_CFGGEN   0x15
#define GVIRTIO_COMMON_Q_SELECT 0x16
#define GVIRTIO_COMMON_Q_SIZE   0x18
#define GVIRTIO_COMMON_Q_MSIX   0x1a
#define GVIRTIO_COMMON_Q_ENABLE 0x1c
#define GVIRTIO_COMMON_Q_NOFF   0x1e
#define GVIRTIO_COMMON_Q_DESC   0x20
#define GVIRTIO_COMMON_Q_DRIVER 0x28
#define GVIRTIO_COMMON_Q_DEVICE 0x30
#define GVIRTIO_COMMON_MIN_LEN  0x38

#define GVIRTIO_MAX_QUEUES 16
#define GVIRTIO_NO_VECTOR  0xffff

enum gvirtio_irq_mode {
    GVIRTIO_IRQ_MSIX, /* one vector for config changes, one per queue */
    GVIRTIO_IRQ_INTX, /* INTA# and the ISR */
    GVIRTIO_IRQ_POLL, /* interrupts ignored; waits poll the used ring */
    /*
     * MSI-X as a Xen HVM guest with event-channel MSIs programs it (Linux's
     * xen_hvm_setup_msi_irqs, XENFEAT_hvm_pirqs): each vector's message
     * names a pirq (vector 0 in the data, the pirq in the address), the
     * pirq is bound to an event channel, and no Mask bit is ever cleared.
     */
    GVIRTIO_IRQ_XEN_PIRQ,
};

struct gvirtio;

/* The MSI address and data Linux writes for a pirq on Xen (xen_msi_compose_msg). */
uint64_t gvirtio_pirq_msi_addr(unsigned pirq);
#define GVIRTIO_PIRQ_MSI_DATA 0x700u /* ExtINT delivery mode, vector 0 */
/* Does this mode program MSI-X? */
bool gvirtio_irq_uses_msix(enum gvirtio_irq_mode mode);

/* One guest buffer of a chain. */
struct gvq_buf {
    uint64_t gpa;
    uint32_t len;
};

struct gvq {
    struct gvirtio *dev;
    unsigned index;
    unsigned vcpu; /* vCPU that notifies and polls for this queue */
    uint16_t size; /* entries, a power of two */
    uint64_t desc; /* guest-physical addresses of the three parts */
    uint64_t avail;
    uint64_t used;
    uint64_t notify; /* guest-physical notify address */
    uint16_t vector; /* MSI-X vector, or GVIRTIO_NO_VECTOR */

    pthread_mutex_t lock;
    uint16_t free_head; /* host-side free list of descriptors */
    uint16_t nr_free;
    uint16_t avail_idx;  /* next available-ring index to publish */
    uint16_t kicked_idx; /* avail_idx at the last notification decision */
    uint16_t last_used;  /* next used-ring index to consume */
    uint16_t *next;      /* descriptor links, [size] */
    uint16_t *chain_len; /* by head, [size] */
    void **tokens;       /* by head, [size]; NULL when free */

    /* Counters. */
    uint64_t added, completed, notifies, suppressed, interrupts;
};

struct gvirtio_opts {
    enum gvirtio_irq_mode irq;
    unsigned vcpu;
    int timeout_ms;
    uint32_t msi_data_base; /* MSI data of vector 0; vector n uses base + n */
    unsigned pirq_base;     /* GVIRTIO_IRQ_XEN_PIRQ: pirq of vector 0; vector n uses base + n */
};

struct gvirtio_region {
    uint64_t addr; /* guest-physical: BAR base + capability offset; 0 if absent */
    uint32_t len;
};

struct gvirtio {
    struct mockhv *hv;
    struct garena *arena;
    const struct gpci_bus *bus;
    struct mockhv_pci_func fn;
    struct gvirtio_opts opts;

    struct gvirtio_region common, isr, device, notify;
    uint32_t notify_mult;
    uint8_t pci_cfg_cap;   /* VIRTIO_PCI_CAP_PCI_CFG capability; 0: none */
    uint8_t msix_cap;      /* 0: none, or not looked for (INTx, polling) */
    unsigned msix_vectors; /* table size */
    uint64_t msix_table;   /* guest-physical */
    uint64_t msix_pba;     /* guest-physical; 0: outside its BAR */
    uint16_t config_vector;

    uint16_t num_queues; /* as the device reports it */
    uint64_t device_features;
    uint64_t features; /* negotiated */
    struct gvq queues[GVIRTIO_MAX_QUEUES];
    unsigned nr_queues; /* set up */
};

/*
 * Finds the capabilities of function fn, resets the device, sets
 * ACKNOWLEDGE and DRIVER and, for GVIRTIO_IRQ_MSIX and _XEN_PIRQ, programs
 * and enables the MSI-X table. 0, -ENODEV (not a modern virtio function or a missing
 * capability), -ETIMEDOUT (reset never completed) or an access error.
 */
int gvirtio_open(struct gvirtio *d, struct mockhv *hv, struct garena *arena,
                 const struct gpci_bus *bus, const struct mockhv_pci_func *fn,
                 const struct gvirtio_opts *opts);
/*
 * gvirtio_open's discovery alone, for tests that drive the transport by
 * hand: the capabilities (the PCI_CFG one included) and the MSI-X table and
 * PBA are found (msix_table 0: no usable MSI-X); the device is not touched
 * (no reset, status, command register or MSI-X writes). 0, -ENODEV (not a
 * modern virtio function or a missing capability), or an access error.
 */
int gvirtio_probe(struct gvirtio *d, struct mockhv *hv, const struct gpci_bus *bus,
                  const struct mockhv_pci_func *fn, const struct gvirtio_opts *opts);
/* Resets the device (queues stop) and frees host-side state. */
void gvirtio_close(struct gvirtio *d);
/* Frees host-side state only, for when the device model is gone. */
void gvirtio_forget(struct gvirtio *d);

/*
 * Accepts (device features & wanted) | VERSION_1 and sets FEATURES_OK.
 * -ENODEV if the device lacks VERSION_1, -EPROTO if FEATURES_OK did not
 * stick (status FAILED is set then).
 */
int gvirtio_negotiate(struct gvirtio *d, uint64_t wanted);
static inline bool gvirtio_has(const struct gvirtio *d, unsigned bit)
{
    return (d->features >> bit) & 1;
}

/* Sets up queue q with at most `size` entries (rounded down to a power of
 * two, bounded by the device's maximum); queues go in order 0, 1, ...
 * -ENOENT for a queue the device does not have, -EINVAL out of order,
 * -ENOSPC when its vector was refused. */
int gvirtio_queue_setup(struct gvirtio *d, unsigned q, uint16_t size);
/*
 * Ring abuse for tests: queue q programmed exactly as given (any size, the
 * three parts anywhere, each address in one 8-byte write) and enabled. The
 * driver keeps the addresses and the notify address in d->queues[q], but no
 * free list: chains go in only through gvq_desc_write and
 * gvq_avail_write_raw. -EBUSY for a queue gvirtio_queue_setup set up.
 */
int gvirtio_queue_setup_raw(struct gvirtio *d, unsigned q, uint16_t size, uint64_t desc,
                            uint64_t avail, uint64_t used);
/* DRIVER_OK; -EIO if the device asks for a reset. */
int gvirtio_driver_ok(struct gvirtio *d);

int gvirtio_status(struct gvirtio *d, uint8_t *status);
int gvirtio_set_status(struct gvirtio *d, uint8_t status);
/*
 * Polls until the device status reads 0, as a driver does after writing 0
 * (a device with requests in flight finishes them first); 0, -ETIMEDOUT
 * after timeout_ms, or an access error.
 */
int gvirtio_wait_reset(struct gvirtio *d, int timeout_ms);
/* Polls (bounded) until every bit of `bits` is set in the device status; 0 or -ETIMEDOUT. */
int gvirtio_wait_status(struct gvirtio *d, uint8_t bits, int timeout_ms);
/*
 * A common configuration field (GVIRTIO_COMMON_*) as it is, for tests that
 * program what a driver should not (a queue size that is no power of two);
 * the driver's own view of the device is not updated.
 */
int gvirtio_common_read(struct gvirtio *d, unsigned off, unsigned size, uint64_t *val);
int gvirtio_common_write(struct gvirtio *d, unsigned off, unsigned size, uint64_t val);
/* Reads the ISR (which acknowledges an INTx interrupt). */
int gvirtio_isr(struct gvirtio *d, uint8_t *isr);
/* Device-specific configuration, consistent across config_generation. */
int gvirtio_config_read(struct gvirtio *d, unsigned off, unsigned size, uint64_t *val);

/* Common configuration and BAR access from the device's vCPU. */
int gvirtio_mmio_read(struct gvirtio *d, unsigned vcpu, uint64_t addr, unsigned size,
                      uint64_t *val);
int gvirtio_mmio_write(struct gvirtio *d, unsigned vcpu, uint64_t addr, unsigned size,
                       uint64_t val);

/*
 * Adds a chain of n_out device-readable then n_in device-writable buffers.
 * token (not NULL) comes back from gvq_get. -ENOSPC if the ring lacks
 * descriptors, -EINVAL for an empty chain, or a guest RAM error.
 */
int gvq_add(struct gvq *vq, const struct gvq_buf *bufs, unsigned n_out, unsigned n_in, void *token);
/*
 * The same chain through an indirect table (2.7.5.3) of n_out + n_in
 * entries that the caller placed at guest-physical `table` (16 bytes an
 * entry, 16-aligned): it takes one ring descriptor. Only when
 * VIRTIO_F_INDIRECT_DESC was negotiated.
 */
int gvq_add_indirect(struct gvq *vq, const struct gvq_buf *bufs, unsigned n_out, unsigned n_in,
                     uint64_t table, void *token);

/*
 * A chain exactly as given, for tests of how a device copes with a broken
 * driver: descriptor i is written with d[i]'s address, length and flags;
 * its next field is the ring index of d[d[i].next] unless literal_next,
 * then d[i].next as it is. n descriptors are taken off the free list and
 * given back when the head comes back, whatever the chain said.
 */
struct gvq_raw_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags; /* VRING_DESC_F_*: NEXT 1, WRITE 2, INDIRECT 4 */
    uint16_t next;
    bool literal_next;
};
int gvq_add_raw(struct gvq *vq, const struct gvq_raw_desc *d, unsigned n, void *token);
/* Descriptor i of the table at guest-physical `table` (the ring's or an indirect one), as given. */
int gvq_desc_write(struct gvq *vq, uint64_t table, uint16_t i, const struct gvq_raw_desc *d);
/* Ring abuse for tests: available-ring entry pos (modulo the size) set to head. */
int gvq_avail_write_raw(struct gvq *vq, uint16_t pos, uint16_t head);
/* Used-ring entry pos (modulo the size) as the device wrote it, unchecked. */
int gvq_used_elem_raw(struct gvq *vq, uint16_t pos, uint32_t *id, uint32_t *len);
/* The ring index descriptor i of the next gvq_add/gvq_add_raw chain will get. */
int gvq_peek_index(struct gvq *vq, unsigned i, uint16_t *index);

/* Notifies the device of what was added, unless it suppressed that. */
int gvq_kick(struct gvq *vq);
/* Ring abuse for tests: notifies whatever the device asked for. */
int gvq_notify(struct gvq *vq);
/* Ring abuse for tests: writes the available index as given; the driver's own count stays. */
int gvq_set_avail_idx_raw(struct gvq *vq, uint16_t idx);
/* The used index the device last published. */
int gvq_used_idx(struct gvq *vq, uint16_t *idx);
/*
 * Takes the next used element: 0 with *token and *len, -EAGAIN when there
 * is none, -EIO when the device returned an id it was never given.
 */
int gvq_get(struct gvq *vq, void **token, uint32_t *len);
/* Waits until the used ring has something; 0 or -ETIMEDOUT. */
int gvq_wait(struct gvq *vq, int timeout_ms);
/* Buffers in flight. */
unsigned gvq_in_flight(struct gvq *vq);

#endif
