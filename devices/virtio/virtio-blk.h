/*
 * virtio-blk device core (virtio 1.2, 5.2): requests from any number of
 * queues turned into asynchronous block-backend operations. Transport
 * independent: plug vblk_vdev() into a transport.
 */
#ifndef DEVICES_VIRTIO_BLK_H
#define DEVICES_VIRTIO_BLK_H

#include <stdint.h>

#include "blk-backend.h"
#include "compiler.h"
#include "virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2
#define VIRTIO_BLK_DWZ_F_UNMAP    1
#define VIRTIO_BLK_ID_BYTES       20

/* Device configuration layout (5.2.4). */
#define VBLK_CFG_CAPACITY                 0
#define VBLK_CFG_SIZE_MAX                 8
#define VBLK_CFG_SEG_MAX                  12
#define VBLK_CFG_GEOMETRY                 16
#define VBLK_CFG_BLK_SIZE                 20
#define VBLK_CFG_TOPOLOGY                 24
#define VBLK_CFG_WRITEBACK                32
#define VBLK_CFG_NUM_QUEUES               34
#define VBLK_CFG_MAX_DISCARD_SECTORS      36
#define VBLK_CFG_MAX_DISCARD_SEG          40
#define VBLK_CFG_DISCARD_SECTOR_ALIGNMENT 44
#define VBLK_CFG_MAX_WRITE_ZEROES_SECTORS 48
#define VBLK_CFG_MAX_WRITE_ZEROES_SEG     52
#define VBLK_CFG_WRITE_ZEROES_MAY_UNMAP   56
#define VBLK_CFG_SIZE                     60

/* What we advertise. */
#define VBLK_SEG_MAX         (VIRTQ_MAX_SEGS - 2) /* header and status take two */
#define VBLK_SIZE_MAX        (512u << 10)         /* keeps a chain under VIRTQ_MAX_BYTES */
#define VBLK_MAX_DWZ_SECTORS (1u << 21)           /* 1 GiB per discard / write zeroes */
#define VBLK_DISCARD_ALIGN   8                    /* sectors: 4 KiB */
#define VBLK_QUEUE_SIZE      256
#define VBLK_MAX_QUEUES      16

struct event_base;
struct vblk;

struct vblk_params {
    const char *serial;      /* up to 20 bytes for GET_ID; NULL for none */
    unsigned num_queues;     /* 1 .. VBLK_MAX_QUEUES */
    struct event_base *base; /* for deferred queue processing; may be NULL */
};

/*
 * Counted as requests arrive, by type (`requests` counts every chain,
 * malformed ones too); bytes only for reads and writes the backend
 * completed successfully; ioerr and unsupp by the status returned (a
 * request discarded by a reset returns none).
 */
struct vblk_stats {
    uint64_t requests, reads, writes, flushes, discards, write_zeroes, get_ids;
    uint64_t read_bytes, write_bytes;
    uint64_t ioerr, unsupp;
    uint64_t merged; /* reads and writes sent to the backend as part of the one before */
};

/* Takes ownership of `be` (also on failure). 0 or -errno with errbuf filled. */
int vblk_new(struct vblk **out, struct blk_backend *be, const struct vblk_params *params,
             char *errbuf, size_t errlen) must_check;
void vblk_free(struct vblk *blk);
struct virtio_dev *vblk_vdev(struct vblk *blk);
struct blk_backend *vblk_backend(struct vblk *blk);
/* Complete every request in flight and make completed writes durable: 0 or -errno. */
int vblk_flush_sync(struct vblk *blk);
void vblk_get_stats(const struct vblk *blk, struct vblk_stats *out);

#endif
