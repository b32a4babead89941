/*
 * gvblk: a guest virtio-blk driver (virtio 1.2, 5.2) on gvirtio.
 *
 * Each request is a three-part chain (in an indirect table when the caller
 * asks for it and the device offers VIRTIO_F_INDIRECT_DESC): the 16-byte header (type, reserved,
 * sector), the data (device-readable for OUT/DISCARD/WRITE_ZEROES,
 * device-writable for IN/GET_ID; absent for FLUSH) and the one-byte status
 * the device writes. Every queue owns a fixed set of request slots in guest
 * RAM, so many requests can be in flight on several queues at once; the
 * caller's data is copied into and out of the slot's buffer.
 *
 * Asynchronous use: gvblk_submit() as many requests as there are slots,
 * gvblk_kick(), then gvblk_complete() each. The synchronous helpers
 * (gvblk_read, gvblk_write, ...) do one request at a time on one queue.
 */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdint.h>

#include "guest-virtio.h"

#define GVBLK_DEVICE_ID 2

/* Feature bits (5.2.3). */
#define GVBLK_F_SIZE_MAX     1
#define GVBLK_F_SEG_MAX      2
#define GVBLK_F_GEOMETRY     4
#define GVBLK_F_RO           5
#define GVBLK_F_BLK_SIZE     6
#define GVBLK_F_FLUSH        9
#define GVBLK_F_TOPOLOGY     10
#define GVBLK_F_CONFIG_WCE   11
#define GVBLK_F_MQ           12
#define GVBLK_F_DISCARD      13
#define GVBLK_F_WRITE_ZEROES 14

/* Request types and status (5.2.6). */
#define GVBLK_T_IN           0
#define GVBLK_T_OUT          1
#define GVBLK_T_FLUSH        4
#define GVBLK_T_GET_ID       8
#define GVBLK_T_DISCARD      11
#define GVBLK_T_WRITE_ZEROES 13

#define GVBLK_S_OK     0
#define GVBLK_S_IOERR  1
#define GVBLK_S_UNSUPP 2

#define GVBLK_SECTOR    512
#define GVBLK_ID_BYTES  20
#define GVBLK_MAX_XFER  (64 * 1024) /* data bytes of one slot */
#define GVBLK_MAX_SLOTS 64          /* per queue */

/* DISCARD / WRITE_ZEROES segment (5.2.6). */
struct gvblk_seg {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags; /* bit 0: unmap (WRITE_ZEROES) */
};
_Static_assert(sizeof(struct gvblk_seg) == 16, "5.2.6: 16-byte segments");

struct gvblk_req {
    uint32_t type;
    uint64_t sector;
    void *buf;    /* OUT/DISCARD/WRITE_ZEROES: read; IN/GET_ID: filled on completion */
    uint32_t len; /* bytes of buf, <= GVBLK_MAX_XFER */
    /* Completion. */
    uint8_t status;
    uint32_t written; /* bytes the device says it wrote (used.len) */
    void *user;
    /* Driver-private. */
    unsigned slot;
};

struct gvblk_slot {
    uint64_t hdr;   /* guest-physical: header, then status at +16 */
    uint64_t data;  /* GVBLK_MAX_XFER bytes */
    uint64_t table; /* indirect table of 3 entries, when indirect */
    struct gvblk_req *req;
};

struct gvblk_queue {
    struct gvq *vq;
    unsigned nr_slots;
    struct gvblk_slot slots[GVBLK_MAX_SLOTS];
    uint64_t bytes_read, bytes_written, requests;
};

struct gvblk_opts {
    struct gvirtio_opts virtio;
    unsigned nr_queues;  /* wanted; fewer if the device has fewer */
    uint16_t queue_size; /* wanted */
    uint64_t features;   /* wanted on top of VERSION_1; 0: every feature this driver knows */
    bool indirect;       /* put requests in indirect tables if the device offers them */
};

struct gvblk {
    struct gvirtio dev;
    bool indirect;          /* negotiated and used: one ring descriptor per request */
    struct gvblk_opts opts; /* as given to gvblk_init, for gvblk_reinit */
    struct garena *arena;
    uint64_t capacity; /* sectors of 512 bytes */
    uint32_t blk_size;
    uint32_t seg_max;
    uint16_t device_queues;
    uint32_t max_discard_sectors, max_discard_seg;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    unsigned nr_queues;
    struct gvblk_queue queues[GVIRTIO_MAX_QUEUES];
};

/* Brings the device at fn up to DRIVER_OK with its queues and slots. */
int gvblk_init(struct gvblk *b, struct mockhv *hv, struct garena *arena, const struct gpci_bus *bus,
               const struct mockhv_pci_func *fn, const struct gvblk_opts *opts);
void gvblk_fini(struct gvblk *b);
/* Frees the driver's host-side state without touching the device (its model is gone). */
void gvblk_forget(struct gvblk *b);
/*
 * Resets the device and brings it up again as gvblk_init did (new rings:
 * what the old ones held is forgotten). What a driver does after the
 * device set NEEDS_RESET.
 */
int gvblk_reinit(struct gvblk *b);
/* Device status has NEEDS_RESET; 0/1 or an access error. */
int gvblk_needs_reset(struct gvblk *b);

/* -EBUSY when every slot of queue q is in use, -EINVAL for a bad request. */
int gvblk_submit(struct gvblk *b, unsigned q, struct gvblk_req *req);
int gvblk_kick(struct gvblk *b, unsigned q);
/* Requests of queue q submitted and not yet completed. */
unsigned gvblk_in_flight(struct gvblk *b, unsigned q);
/* Next completed request of queue q, waiting up to timeout_ms. */
int gvblk_complete(struct gvblk *b, unsigned q, struct gvblk_req **req, int timeout_ms);

/*
 * One request, waited for; returns 0 with the device's status in *status,
 * or a transport error. Data helpers split at GVBLK_MAX_XFER and stop at
 * the first non-OK status.
 */
int gvblk_read(struct gvblk *b, unsigned q, uint64_t sector, void *buf, size_t len,
               uint8_t *status);
int gvblk_write(struct gvblk *b, unsigned q, uint64_t sector, const void *buf, size_t len,
                uint8_t *status);
int gvblk_flush(struct gvblk *b, unsigned q, uint8_t *status);
int gvblk_discard(struct gvblk *b, unsigned q, uint64_t sector, uint32_t nr_sectors,
                  uint8_t *status);
int gvblk_write_zeroes(struct gvblk *b, unsigned q, uint64_t sector, uint32_t nr_sectors,
                       bool unmap, uint8_t *status);
/* id: GVBLK_ID_BYTES + 1, NUL-terminated. */
int gvblk_get_id(struct gvblk *b, unsigned q, char *id, uint8_t *status);

/* Fills buf with a reproducible stream for `seed` (an xorshift), so a test
 * can check data end to end without keeping a copy of what it wrote. */
void gvblk_fill_pattern(uint8_t *buf, size_t len, uint64_t seed);

const char *gvblk_status_name(uint8_t status);

#endif
