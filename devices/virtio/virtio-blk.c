/*
 * virtio-blk (virtio 1.2, 5.2).
 *
 * A request is a chain: a 16-byte header {type, reserved, sector} in the
 * readable part, data (readable for OUT, writable for IN), and a status byte
 * as the last writable byte. Each popped chain becomes one backend operation
 * whose completion, on the loop thread, writes the status and fills the
 * chain's used element. Filled elements are published when the backend's
 * pass of completions ends (its batch-done hook) or when a pass over the
 * avail ring ends: one used idx store and at most one notification for
 * everything that finished together, as the driver then takes the whole
 * batch in one interrupt and refills the ring with one kick.
 *
 * Ownership: the device owns its backend and the requests in flight, each of
 * which holds its chain's guest mappings until it completes. Queue state
 * belongs to the transport. A reset does not wait for the backend: requests
 * still in flight are discarded as they complete (their mappings released,
 * nothing written to the chain or the used ring), and the transport hears
 * reset_done after the last, so no request outlives the queues it came from
 * while the loop keeps serving everything else. Guest mistakes in a request's contents
 * get IOERR or UNSUPP for that request; a chain the virtqueue layer rejects,
 * or one without room for a status byte, puts the device into NEEDS_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gmem.h"
#include "log.h"
#include "spare-list.h"
#include "virtio-blk.h"

/*
 * Reads or writes that a pass over the avail ring takes one after the other,
 * each starting where the one before ended, go to the backend as one
 * operation (a run), as a driver that splits a large transfer into
 * requests of its largest size sends them: one system call and one
 * completion for several requests, and a larger transfer for the storage.
 * A run ends at the first request that does not continue it, at the end of
 * the pass, or at these bounds. Not one run for the whole window, as QEMU
 * merges: a 1 MiB transfer in two runs keeps the storage busy with the
 * second while the driver takes the first and queues more, where one
 * run would leave it idle for the driver's whole turn (measured, cache=none,
 * 1 MiB as 16 requests of 64 KiB: runs of up to 1 MiB, 512 KiB, 256 KiB
 * read at 1.10, 1.26 and 1.19 times QEMU's rate, wrote at 0.91, 1.19 and
 * 1.09; through the page cache 512 KiB was as good or better too).
 */
#define VBLK_RUN_MAX_BYTES (512u << 10)
#define VBLK_RUN_MAX_IOVS  1024 /* Linux's IOV_MAX: preadv takes no more */

/* Each data segment may hold a mapping of its own while in flight. */
_Static_assert(VBLK_SEG_MAX <= GMEM_MAPS_HELD_MIN / 2,
               "one maximal request holds at most half the mappings guest memory allows");

struct vblk_queue {
    struct vblk *blk;
    unsigned index;
    bool blocked;       /* out of mapping space: retry when a request completes */
    struct event *kick; /* deferred processing when one pass hit its budget */
};

/* Data requests waiting to go to the backend together (one pass of one queue). */
struct vblk_run {
    struct vblk_req *head, *tail;
    unsigned nr;
    bool in;
    uint64_t next_sector; /* where the next request must start to join */
    uint64_t bytes;
    unsigned iovcnt;
    struct iovec iov[VBLK_RUN_MAX_IOVS]; /* the requests' iovecs end to end, at submission */
};

struct vblk {
    struct virtio_dev vdev;
    struct blk_backend *be;
    uint64_t capacity; /* sectors */
    unsigned num_queues;
    uint64_t features; /* offered */
    uint64_t acked;    /* accepted at FEATURES_OK */
    char serial[VIRTIO_BLK_ID_BYTES];
    unsigned inflight;
    struct gmem *held_gm; /* dirty-log reports held while requests are in flight */
    bool resetting;       /* requests in flight are discarded; reset_done after the last */
    bool broken;          /* reported NEEDS_RESET: no more requests until reset */
    struct vblk_queue queues[VBLK_MAX_QUEUES];
    struct vblk_run run;
    struct vblk_stats stats;
    /* Finished requests kept for the next ones: each is ~10 KiB (a segment
     * table and an iovec per possible descriptor), too big for malloc's
     * fast paths, and a queue depth of them is in use again at once. */
    struct spare_list spare_reqs;
};

#define VBLK_SPARE_REQS 64

struct vblk_req {
    struct vblk *blk; /* first: the spare list's link while kept */
    struct virtq *vq;
    uint8_t *status;      /* last writable byte of the chain */
    uint32_t written;     /* bytes reported in the used ring, status included */
    uint64_t *done_bytes; /* the stat that counts `bytes` on success, or NULL */
    uint64_t bytes;
    bool sync_after;           /* a write in writethrough mode: flush before completing */
    struct vblk_req *run_next; /* the next request of its run */
    uint64_t sector;
    unsigned iovcnt;
    struct iovec iov[VIRTQ_MAX_SEGS];
    struct virtq_req vr;
};

struct vblk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
_Static_assert(sizeof(struct vblk_hdr) == 16, "request header is 16 bytes (5.2.6)");

struct vblk_dwz {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
};
_Static_assert(sizeof(struct vblk_dwz) == 16, "discard/write-zeroes segment is 16 bytes");

static struct vblk *to_blk(struct virtio_dev *vdev)
{
    return container_of(vdev, struct vblk, vdev);
}

static void process_queue(struct vblk *blk, unsigned index);

static struct vblk_req *req_get(struct vblk *blk)
{
    struct vblk_req *req = spare_get(&blk->spare_reqs);

    return req ? req : malloc(sizeof(*req));
}

static void req_put(struct vblk *blk, struct vblk_req *req)
{
    spare_put(&blk->spare_reqs, req);
}

/* Publishes what the queue filled and tells the driver if it wants to know. */
static void publish(struct vblk *blk, struct virtq *vq)
{
    if (vq && virtq_flush(vq))
        virtio_notify_queue(&blk->vdev, vq);
}

/* The backend ended a pass of completions. */
static void on_batch_done(void *opaque)
{
    struct vblk *blk = opaque;

    for (unsigned i = 0; i < blk->num_queues; i++)
        publish(blk, virtio_queue(&blk->vdev, i));
}

/* Returns the chain with its status; publish() shows it to the driver. */
static void finish(struct vblk_req *req, uint8_t status)
{
    struct vblk *blk = req->blk;
    struct virtq *vq = req->vq;

    /* A request from before a reset is discarded: the driver gave its buffers up. */
    if (blk->resetting) {
        virtq_req_release(vq, &req->vr);
        req_put(blk, req);
        return;
    }
    if (status == VIRTIO_BLK_S_IOERR)
        blk->stats.ioerr++;
    else if (status == VIRTIO_BLK_S_UNSUPP)
        blk->stats.unsupp++;
    *req->status = status;
    virtq_req_release(vq, &req->vr);
    (void)virtq_fill(vq, req->vr.head, req->written);
    req_put(blk, req);
}

/* A request in flight is over: ret from the backend. */
static void req_done(struct vblk_req *req, int ret)
{
    struct vblk *blk = req->blk;

    blk->inflight--;
    if (ret < 0)
        log_guest("virtio-blk: request failed: %s", strerror(-ret));
    else if (req->done_bytes)
        *req->done_bytes += req->bytes;
    finish(req, ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/* After completions: what waited for requests in flight to end goes on. */
static void after_done(struct vblk *blk)
{
    if (blk->inflight == 0) {
        gmem_release_dirty(blk->held_gm);
        blk->held_gm = NULL;
    }
    if (blk->resetting) {
        if (blk->inflight == 0) {
            blk->resetting = false;
            virtio_reset_done(&blk->vdev);
        }
        return;
    }
    for (unsigned i = 0; i < blk->num_queues; i++) {
        if (blk->queues[i].blocked) {
            blk->queues[i].blocked = false;
            process_queue(blk, i);
        }
    }
}

static void on_done(void *opaque, int ret)
{
    struct vblk_req *req = opaque;
    struct vblk *blk = req->blk;

    /*
     * A driver that did not accept FLUSH has no way to ask for durability,
     * so every write is stable before it completes (writethrough, 5.2.6.2):
     * the write's completion submits the flush that completes the request.
     */
    if (req->sync_after && ret == 0 && !blk->resetting) {
        req->sync_after = false;
        ret = blk_flush(blk->be, on_done, req);
        if (ret == 0)
            return;
        log_guest("virtio-blk: writethrough flush refused by the backend: %s", strerror(-ret));
    }
    req_done(req, ret);
    after_done(blk);
}

/* A run's one backend operation is over: each of its requests ends with its result. */
static void on_run_done(void *opaque, int ret)
{
    struct vblk_req *req = opaque, *next;
    struct vblk *blk = req->blk;

    for (; req; req = next) {
        next = req->run_next;
        req_done(req, ret);
    }
    after_done(blk);
}

/* A request the backend took is in flight until its callback. */
static void count_inflight(struct vblk_req *req)
{
    /* The first request in flight holds the dirty-log report back until
     * the last completes (gmem_hold_dirty). */
    if (req->blk->inflight++ == 0) {
        req->blk->held_gm = req->vq->gm;
        gmem_hold_dirty(req->blk->held_gm);
    }
}

/* Hands a request to the backend: true if submitted (on_done will finish it). */
static bool submitted(struct vblk_req *req, int rc)
{
    if (rc == 0) {
        count_inflight(req);
        return true;
    }
    log_guest("virtio-blk: request refused by the backend: %s", strerror(-rc));
    return false;
}

/* A request the backend refused ends with IOERR and no data. */
static void req_fail(struct vblk_req *req)
{
    req->written = 1;
    req->done_bytes = NULL;
    finish(req, VIRTIO_BLK_S_IOERR);
}

/* A data request goes to the backend on its own: true if it took it. */
static bool rw_submitted(struct vblk_req *req, bool in)
{
    struct vblk *blk = req->blk;
    uint64_t offset = req->sector * BLK_SECTOR_SIZE;

    return submitted(req, in ? blk_read(blk->be, offset, req->iov, req->iovcnt, on_done, req)
                             : blk_write(blk->be, offset, req->iov, req->iovcnt, on_done, req));
}

/* The waiting run goes to the backend, as one operation if it has several requests. */
static void run_submit(struct vblk *blk)
{
    struct vblk_run *run = &blk->run;
    struct vblk_req *req = run->head, *next;
    uint64_t offset;
    unsigned n = 0;
    int rc;

    if (!req)
        return;
    run->head = run->tail = NULL;
    if (run->nr == 1) {
        if (!rw_submitted(req, run->in))
            req_fail(req);
        return;
    }
    for (struct vblk_req *r = req; r; r = r->run_next) {
        memcpy(&run->iov[n], r->iov, r->iovcnt * sizeof(r->iov[0]));
        n += r->iovcnt;
    }
    offset = req->sector * BLK_SECTOR_SIZE;
    rc = run->in ? blk_read(blk->be, offset, run->iov, n, on_run_done, req)
                 : blk_write(blk->be, offset, run->iov, n, on_run_done, req);
    if (rc) {
        log_guest("virtio-blk: request refused by the backend: %s", strerror(-rc));
        for (; req; req = next) {
            next = req->run_next;
            req_fail(req);
        }
        return;
    }
    blk->stats.merged += run->nr - 1;
    for (struct vblk_req *r = req; r; r = r->run_next)
        count_inflight(r);
}

/*
 * A data request joins the waiting run if it continues it, else the run goes
 * to the backend and a new one starts with it.
 */
static void run_add(struct vblk *blk, struct vblk_req *req, bool in)
{
    struct vblk_run *run = &blk->run;
    uint64_t nr_sectors = req->bytes / BLK_SECTOR_SIZE;

    if (run->head && (run->in != in || run->next_sector != req->sector ||
                      run->bytes + req->bytes > VBLK_RUN_MAX_BYTES ||
                      run->iovcnt + req->iovcnt > VBLK_RUN_MAX_IOVS))
        run_submit(blk);
    req->run_next = NULL;
    if (!run->head) {
        run->head = req;
        run->nr = 0;
        run->in = in;
        run->bytes = 0;
        run->iovcnt = 0;
    } else {
        run->tail->run_next = req;
    }
    run->tail = req;
    run->nr++;
    run->bytes += req->bytes;
    run->iovcnt += req->iovcnt;
    run->next_sector = req->sector + nr_sectors;
}

/* Builds iov over `len` bytes of the chain's readable or writable part from `skip`. */
static unsigned build_iov(struct vblk_req *req, bool writable, uint64_t skip, uint64_t len)
{
    unsigned first = writable ? req->vr.nr_readable : 0;
    unsigned end = writable ? first + req->vr.nr_writable : req->vr.nr_readable;
    unsigned n = 0;

    for (unsigned i = first; i < end && len; i++) {
        const struct virtq_seg *s = &req->vr.seg[i];
        uint64_t take;

        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        take = s->len - skip;
        if (take > len)
            take = len;
        req->iov[n].iov_base = (char *)s->ptr + skip;
        req->iov[n].iov_len = (size_t)take;
        n++;
        len -= take;
        skip = 0;
    }
    return n;
}

static bool sectors_ok(const struct vblk *blk, uint64_t sector, uint64_t nr)
{
    return sector <= blk->capacity && nr <= blk->capacity - sector;
}

/* A data request (IN or OUT): the status it ends with now, or -1 if submitted. */
static int do_rw(struct vblk *blk, struct vblk_req *req, const struct vblk_hdr *hdr, bool in,
                 uint64_t data_out, uint64_t data_in)
{
    uint64_t len = in ? data_in : data_out;

    /* Data flowing the wrong way for this request type. */
    if ((in && data_out) || (!in && data_in))
        return VIRTIO_BLK_S_IOERR;
    if (!in && blk->be->readonly)
        return VIRTIO_BLK_S_IOERR;
    if (len % BLK_SECTOR_SIZE || !sectors_ok(blk, hdr->sector, len / BLK_SECTOR_SIZE)) {
        log_guest("virtio-blk: %s of %llu bytes at sector %llu outside the disk or unaligned",
                  in ? "read" : "write", (unsigned long long)len, (unsigned long long)hdr->sector);
        return VIRTIO_BLK_S_IOERR;
    }
    if (len == 0)
        return VIRTIO_BLK_S_OK;
    req->sector = hdr->sector;
    req->bytes = len;
    if (in) {
        req->iovcnt = build_iov(req, true, 0, len);
        req->written = (uint32_t)len + 1;
        req->done_bytes = &blk->stats.read_bytes;
    } else {
        req->iovcnt = build_iov(req, false, sizeof(*hdr), len);
        req->done_bytes = &blk->stats.write_bytes;
        req->sync_after = !(blk->acked & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    }
    /* A writethrough write completes through its own flush: it runs alone. */
    if (req->sync_after) {
        run_submit(blk);
        if (!rw_submitted(req, in))
            req_fail(req);
    } else {
        run_add(blk, req, in);
    }
    return -1;
}

static int do_dwz(struct vblk *blk, struct vblk_req *req, bool discard, uint64_t data_out,
                  uint64_t data_in)
{
    struct vblk_dwz seg;
    uint32_t flags;
    uint64_t sector, nr;
    int rc;

    if (!(blk->acked & VIRTIO_BIT(discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)))
        return VIRTIO_BLK_S_UNSUPP;
    if (data_in || data_out == 0 || data_out % sizeof(seg))
        return VIRTIO_BLK_S_IOERR;
    /* max_discard_seg = max_write_zeroes_seg = 1 (5.2.6.2). */
    if (data_out > sizeof(seg))
        return VIRTIO_BLK_S_UNSUPP;
    virtq_req_copy_from(&req->vr, sizeof(struct vblk_hdr), &seg, sizeof(seg));
    sector = le64toh(seg.sector);
    nr = le32toh(seg.num_sectors);
    flags = le32toh(seg.flags);
    if ((flags & ~(uint32_t)VIRTIO_BLK_DWZ_F_UNMAP) || (discard && flags))
        return VIRTIO_BLK_S_UNSUPP;
    if (blk->be->readonly || nr > VBLK_MAX_DWZ_SECTORS || !sectors_ok(blk, sector, nr))
        return VIRTIO_BLK_S_IOERR;
    if (discard) {
        blk->stats.discards++;
        rc = blk_discard(blk->be, sector * BLK_SECTOR_SIZE, nr * BLK_SECTOR_SIZE, on_done, req);
    } else {
        blk->stats.write_zeroes++;
        req->sync_after = !(blk->acked & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
        rc = blk_write_zeroes(blk->be, sector * BLK_SECTOR_SIZE, nr * BLK_SECTOR_SIZE,
                              flags & VIRTIO_BLK_DWZ_F_UNMAP, on_done, req);
    }
    return submitted(req, rc) ? -1 : VIRTIO_BLK_S_IOERR;
}

static int do_get_id(struct vblk *blk, struct vblk_req *req, uint64_t data_in)
{
    size_t n = data_in < VIRTIO_BLK_ID_BYTES ? (size_t)data_in : VIRTIO_BLK_ID_BYTES;

    virtq_req_copy_to(&req->vr, 0, blk->serial, n);
    req->written = (uint32_t)n + 1;
    return VIRTIO_BLK_S_OK;
}

/* Takes ownership of req. */
static void handle(struct vblk *blk, struct vblk_req *req)
{
    struct virtq_req *vr = &req->vr;
    struct vblk_hdr hdr;
    uint64_t data_out, data_in;
    int status;

    blk->stats.requests++;
    if (vr->writable_bytes == 0) {
        /* Nowhere to put a status: the driver broke 5.2.6.1. */
        log_guest("virtio-blk: request without a status byte; device needs reset");
        virtq_req_release(req->vq, vr);
        if (virtq_push(req->vq, vr->head, 0) == 0)
            virtio_notify_queue(&blk->vdev, req->vq);
        req_put(blk, req);
        blk->broken = true;
        virtio_needs_reset(&blk->vdev);
        return;
    }
    {
        const struct virtq_seg *last = &vr->seg[vr->nr_readable + vr->nr_writable - 1];
        req->status = (uint8_t *)last->ptr + last->len - 1;
    }
    req->written = 1;
    data_in = vr->writable_bytes - 1;

    if (vr->readable_bytes < sizeof(hdr)) {
        finish(req, VIRTIO_BLK_S_IOERR);
        return;
    }
    virtq_req_copy_from(vr, 0, &hdr, sizeof(hdr));
    hdr.type = le32toh(hdr.type);
    hdr.sector = le64toh(hdr.sector);
    data_out = vr->readable_bytes - sizeof(hdr);

    /* Requests reach the backend in the order the driver made them available. */
    if (hdr.type != VIRTIO_BLK_T_IN && hdr.type != VIRTIO_BLK_T_OUT)
        run_submit(blk);
    switch (hdr.type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        if (hdr.type == VIRTIO_BLK_T_IN)
            blk->stats.reads++;
        else
            blk->stats.writes++;
        status = do_rw(blk, req, &hdr, hdr.type == VIRTIO_BLK_T_IN, data_out, data_in);
        break;
    case VIRTIO_BLK_T_FLUSH:
        blk->stats.flushes++;
        status = submitted(req, blk_flush(blk->be, on_done, req)) ? -1 : VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID:
        blk->stats.get_ids++;
        status = do_get_id(blk, req, data_in);
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        status = do_dwz(blk, req, hdr.type == VIRTIO_BLK_T_DISCARD, data_out, data_in);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    if (status >= 0)
        finish(req, (uint8_t)status);
}

static void take_chains(struct vblk *blk, unsigned index)
{
    struct vblk_queue *q = &blk->queues[index];
    struct virtq *vq = virtio_queue(&blk->vdev, index);
    /* One pass takes at most this many chains; the rest is deferred to the loop. */
    unsigned budget;

    /* A broken queue was reported once; it waits for the driver's reset. */
    if (!vq || !vq->started || virtq_broken(vq) || blk->broken || blk->resetting)
        return;
    budget = 2u * vq->size;
    do {
        virtq_set_notify(vq, false);
        for (;;) {
            struct vblk_req *req;
            int rc;

            if (budget == 0) {
                virtq_set_notify(vq, true);
                if (q->kick)
                    event_active(q->kick, 0, 0);
                return;
            }
            req = req_get(blk);
            if (!req) {
                q->blocked = blk->inflight > 0;
                break;
            }
            req->blk = blk;
            req->vq = vq;
            req->done_bytes = NULL;
            req->bytes = 0;
            req->sync_after = false;
            rc = virtq_pop(vq, &req->vr);
            if (rc) {
                req_put(blk, req);
                if (rc == -ENOMEM)
                    q->blocked = true;
                if (rc == -EINVAL) {
                    virtio_notify_queue(&blk->vdev, vq);
                    virtio_needs_reset(&blk->vdev);
                    return;
                }
                break;
            }
            budget--;
            handle(blk, req);
            if (blk->broken)
                return;
        }
        virtq_set_notify(vq, true);
    } while (!q->blocked && virtq_has_avail(vq));
}

/* Takes what the driver made available; requests that end at once are published together. */
static void process_queue(struct vblk *blk, unsigned index)
{
    take_chains(blk, index);
    run_submit(blk);
    publish(blk, virtio_queue(&blk->vdev, index));
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct vblk_queue *q = arg;

    process_queue(q->blk, q->index);
}

/* --- virtio_dev_ops --- */

static unsigned vblk_num_queues(struct virtio_dev *vdev)
{
    return to_blk(vdev)->num_queues;
}

static uint16_t vblk_queue_max(struct virtio_dev *vdev)
{
    return VBLK_QUEUE_SIZE;
}

static unsigned vblk_cfg_size(struct virtio_dev *vdev)
{
    return VBLK_CFG_SIZE;
}

static uint64_t vblk_features(struct virtio_dev *vdev)
{
    return to_blk(vdev)->features;
}

static int vblk_set_features(struct virtio_dev *vdev, uint64_t features)
{
    struct vblk *blk = to_blk(vdev);

    blk->acked = features & blk->features;
    return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t vblk_cfg_read(struct virtio_dev *vdev, unsigned offset, unsigned size)
{
    struct vblk *blk = to_blk(vdev);
    uint8_t cfg[VBLK_CFG_SIZE] = {0};
    uint32_t v = 0;

    put_le(cfg + VBLK_CFG_CAPACITY, blk->capacity, 8);
    put_le(cfg + VBLK_CFG_SIZE_MAX, VBLK_SIZE_MAX, 4);
    put_le(cfg + VBLK_CFG_SEG_MAX, VBLK_SEG_MAX, 4);
    put_le(cfg + VBLK_CFG_BLK_SIZE, BLK_SECTOR_SIZE, 4);
    put_le(cfg + VBLK_CFG_NUM_QUEUES, blk->num_queues, 2);
    if (blk->features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) {
        put_le(cfg + VBLK_CFG_MAX_DISCARD_SECTORS, VBLK_MAX_DWZ_SECTORS, 4);
        put_le(cfg + VBLK_CFG_MAX_DISCARD_SEG, 1, 4);
        put_le(cfg + VBLK_CFG_DISCARD_SECTOR_ALIGNMENT, VBLK_DISCARD_ALIGN, 4);
    }
    if (blk->features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
        put_le(cfg + VBLK_CFG_MAX_WRITE_ZEROES_SECTORS, VBLK_MAX_DWZ_SECTORS, 4);
        put_le(cfg + VBLK_CFG_MAX_WRITE_ZEROES_SEG, 1, 4);
        cfg[VBLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
    }
    if (offset >= VBLK_CFG_SIZE || size > VBLK_CFG_SIZE - offset || size > 4)
        return 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)cfg[offset + i] << (8 * i);
    return v;
}

static void vblk_cfg_write(struct virtio_dev *vdev, unsigned offset, unsigned size, uint32_t value)
{
    /* Only writeback (CONFIG_WCE) is writable, and it is not offered. */
    log_guest("virtio-blk: write to read-only config offset %u ignored", offset);
}

static void vblk_queue_notify(struct virtio_dev *vdev, unsigned index)
{
    struct vblk *blk = to_blk(vdev);

    if (index < blk->num_queues)
        process_queue(blk, index);
}

static enum virtio_reset vblk_reset(struct virtio_dev *vdev)
{
    struct vblk *blk = to_blk(vdev);

    for (unsigned i = 0; i < blk->num_queues; i++) {
        blk->queues[i].blocked = false;
        if (blk->queues[i].kick)
            event_del(blk->queues[i].kick);
    }
    blk->acked = 0;
    blk->broken = false;
    if (blk->inflight == 0) {
        blk->resetting = false;
        return VIRTIO_RESET_DONE;
    }
    blk->resetting = true;
    return VIRTIO_RESET_PENDING;
}

static void vblk_quiesce(struct virtio_dev *vdev)
{
    blk_drain(to_blk(vdev)->be);
}

static const struct virtio_dev_ops vblk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .num_queues = vblk_num_queues,
    .queue_max = vblk_queue_max,
    .cfg_size = vblk_cfg_size,
    .features = vblk_features,
    .set_features = vblk_set_features,
    .cfg_read = vblk_cfg_read,
    .cfg_write = vblk_cfg_write,
    .queue_notify = vblk_queue_notify,
    .reset = vblk_reset,
    .quiesce = vblk_quiesce,
};

int vblk_new(struct vblk **out, struct blk_backend *be, const struct vblk_params *params,
             char *errbuf, size_t errlen)
{
    struct vblk *blk;
    int rc;

    *out = NULL;
    if (params->num_queues < 1 || params->num_queues > VBLK_MAX_QUEUES) {
        snprintf(errbuf, errlen, "queues must be 1..%u", VBLK_MAX_QUEUES);
        rc = -EINVAL;
        goto out_be;
    }
    if (params->serial && strlen(params->serial) > VIRTIO_BLK_ID_BYTES) {
        snprintf(errbuf, errlen, "serial longer than %u bytes", VIRTIO_BLK_ID_BYTES);
        rc = -EINVAL;
        goto out_be;
    }
    blk = calloc(1, sizeof(*blk));
    if (!blk) {
        snprintf(errbuf, errlen, "out of memory");
        rc = -ENOMEM;
        goto out_be;
    }
    blk->spare_reqs.max = VBLK_SPARE_REQS;
    blk->vdev.ops = &vblk_ops;
    blk->be = be;
    blk_set_batch_done(be, on_batch_done, blk);
    blk->capacity = blk_size(be) / BLK_SECTOR_SIZE;
    blk->num_queues = params->num_queues;
    if (params->serial)
        memcpy(blk->serial, params->serial, strlen(params->serial));
    blk->features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
                    VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
                    VIRTIO_BIT(VIRTIO_BLK_F_MQ);
    if (be->readonly)
        blk->features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    else
        blk->features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
    for (unsigned i = 0; i < blk->num_queues; i++) {
        struct vblk_queue *q = &blk->queues[i];

        q->blk = blk;
        q->index = i;
        if (params->base) {
            q->kick = event_new(params->base, -1, 0, on_kick, q);
            if (!q->kick) {
                snprintf(errbuf, errlen, "out of memory");
                vblk_free(blk);
                return -ENOMEM;
            }
        }
    }
    *out = blk;
    return 0;
out_be:
    blk_free(be);
    return rc;
}

void vblk_free(struct vblk *blk)
{
    if (!blk)
        return;
    blk->resetting = true;
    /* Whatever completes now is discarded: nothing to publish, and the
     * transport may be gone already. */
    blk_set_batch_done(blk->be, NULL, NULL);
    blk_drain(blk->be);
    for (unsigned i = 0; i < VBLK_MAX_QUEUES; i++) {
        if (blk->queues[i].kick)
            event_free(blk->queues[i].kick);
    }
    blk_free(blk->be);
    spare_free_all(&blk->spare_reqs);
    free(blk);
}

struct virtio_dev *vblk_vdev(struct vblk *blk)
{
    return &blk->vdev;
}

struct blk_backend *vblk_backend(struct vblk *blk)
{
    return blk->be;
}

static void on_sync_flush(void *opaque, int ret)
{
    *(int *)opaque = ret;
}

int vblk_flush_sync(struct vblk *blk)
{
    int ret = 0;
    int rc;

    blk_drain(blk->be);
    rc = blk_flush(blk->be, on_sync_flush, &ret);
    if (rc)
        return rc;
    blk_drain(blk->be);
    return ret;
}

void vblk_get_stats(const struct vblk *blk, struct vblk_stats *out)
{
    *out = blk->stats;
}
