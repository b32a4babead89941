/*
 * Fuzz target: split virtqueues and virtio-blk request handling. The input
 * is a guest memory image and a queue layout, plus a short script of device
 * and driver actions: pops and pushes straight on the virtqueue layer, or
 * virtio-blk processing its queue with backend completions in an order the
 * input picks, the driver scribbling on the rings in between, and resets.
 *
 * Checked: every popped chain lies wholly inside guest RAM and adds up to
 * what virtqueue.h reports; a failing pop leaves the queue broken; nothing
 * stays in flight once the backend is drained; every guest mapping taken is
 * given back by the end.
 *
 * Input:
 *   byte 0     bit 0 virtio-blk (else the bare virtqueue), bit 1 indirect,
 *              bit 2 event index, bit 3 ack every blk feature,
 *              bits 4-7 log2 of the queue size (15: a raw 16-bit size follows the header)
 *   bytes 1-6  desc, avail and used ring addresses (16 bits each)
 *   byte 7     bits 0-5 number of 4-byte actions, bit 7 read-only disk
 *   actions    opcode + 3 operand bytes each
 *   the rest   guest RAM image (zero beyond it)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fuzz-env.h"
#include "fake-blk.h"
#include "virtio-blk.h"
#include "virtqueue.h"

#define RAM_SIZE  (16u * 1024)
#define DISK_SIZE (64u * 1024)
#define MAX_HELD  64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct vq_fuzz {
    uint8_t *ram;
    struct gmem *flat;
    struct fz_gmem_count gm;
    struct virtq vq;
    uint16_t size;
    uint64_t desc, avail, used;
    unsigned feats;

    /* blk mode */
    struct event_base *base;
    struct blk_backend *be; /* owned by blk */
    struct vblk *blk;
    struct virtio_transport t;
    unsigned needs_reset, notified;
    uint64_t blk_features;

    /* bare mode: chains popped and not yet pushed */
    struct virtq_req *held[MAX_HELD];
    unsigned nr_held;
};

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct vq_fuzz *f = opaque;

    return index == 0 ? &f->vq : NULL;
}

static void t_notify_queue(void *opaque, unsigned index)
{
    struct vq_fuzz *f = opaque;

    FZ_CHECK(index == 0);
    f->notified++;
}

static void t_notify_config(void *opaque)
{
}

static void t_needs_reset(void *opaque)
{
    struct vq_fuzz *f = opaque;

    f->needs_reset++;
}

/* What virtqueue.h promises about a popped chain. */
static void check_req(struct vq_fuzz *f, const struct virtq_req *req)
{
    uint64_t rd = 0, wr = 0;
    unsigned n = req->nr_readable + req->nr_writable;

    FZ_CHECK(req->head < f->vq.size);
    FZ_CHECK(n <= VIRTQ_MAX_SEGS);
    for (unsigned i = 0; i < n; i++) {
        const struct virtq_seg *s = &req->seg[i];

        FZ_CHECK(s->len > 0);
        FZ_CHECK(s->gpa <= RAM_SIZE && s->len <= RAM_SIZE - s->gpa);
        FZ_CHECK(s->ptr == f->ram + s->gpa);
        if (i < req->nr_readable)
            rd += s->len;
        else
            wr += s->len;
    }
    FZ_CHECK(rd == req->readable_bytes && wr == req->writable_bytes);
    FZ_CHECK(rd + wr <= VIRTQ_MAX_BYTES);
    FZ_CHECK(f->vq.inflight <= f->vq.size);
}

static void start_queue(struct vq_fuzz *f)
{
    if (virtq_start(&f->vq, f->size, f->desc, f->avail, f->used, f->feats) == 0)
        FZ_CHECK(f->vq.started && f->vq.inflight == 0 && !virtq_broken(&f->vq));
    else
        FZ_CHECK(!f->vq.started);
}

static void bare_pop(struct vq_fuzz *f, const uint8_t *op)
{
    struct virtq_req *req = malloc(sizeof(*req));
    uint8_t buf[64];
    int rc;

    if (!req)
        return;
    rc = virtq_pop(&f->vq, req);
    if (rc) {
        FZ_CHECK(rc == -EAGAIN || rc == -EINVAL);
        if (rc == -EINVAL)
            FZ_CHECK(virtq_broken(&f->vq));
        free(req);
        return;
    }
    check_req(f, req);
    /* The device reads the request and writes an answer, as a core would. */
    virtq_req_copy_from(req, op[2], buf, sizeof(buf));
    memset(buf, op[3], sizeof(buf));
    FZ_CHECK(virtq_req_copy_to(req, op[2], buf, op[3] % sizeof(buf)) <= req->writable_bytes);
    if ((op[1] & 1) || f->nr_held == MAX_HELD) {
        virtq_req_release(&f->vq, req);
        FZ_CHECK(virtq_push(&f->vq, req->head, op[2]) == 0);
        free(req);
        return;
    }
    f->held[f->nr_held++] = req;
}

static void bare_push(struct vq_fuzz *f, const uint8_t *op)
{
    if (f->nr_held && !(op[1] & 0x80)) {
        unsigned i = op[1] % f->nr_held;
        struct virtq_req *req = f->held[i];
        int rc;

        f->held[i] = f->held[--f->nr_held];
        virtq_req_release(&f->vq, req);
        rc = virtq_push(&f->vq, req->head, (uint32_t)op[2] << 8 | op[3]);
        /* A restart in between forgot the chain; otherwise it must go back. */
        FZ_CHECK(rc == 0 || !f->vq.started || f->vq.inflight == 0);
        free(req);
        return;
    }
    /* A head the device never popped: refused or accepted, never out of bounds. */
    uint16_t head = (uint16_t)(op[2] | op[3] << 8);
    unsigned inflight = f->vq.inflight;
    int rc = virtq_push(&f->vq, head, 0);

    if (head >= f->vq.size || inflight == 0)
        FZ_CHECK(rc == -EINVAL);
}

static void release_held(struct vq_fuzz *f)
{
    while (f->nr_held) {
        struct virtq_req *req = f->held[--f->nr_held];

        virtq_req_release(&f->vq, req);
        free(req);
    }
}

static void notify_ops(struct vq_fuzz *f, const uint8_t *op)
{
    virtq_set_notify(&f->vq, op[1] & 1);
    (void)virtq_has_avail(&f->vq);
    (void)virtq_needs_notify(&f->vq);
}

static void poke(struct vq_fuzz *f, const uint8_t *op)
{
    f->ram[(op[1] | op[2] << 8) % RAM_SIZE] = op[3];
}

static void run_bare(struct vq_fuzz *f, const uint8_t *op)
{
    switch (op[0] % 6) {
    case 0:
        bare_pop(f, op);
        break;
    case 1:
        bare_push(f, op);
        break;
    case 2:
        poke(f, op);
        break;
    case 3:
        notify_ops(f, op);
        break;
    case 4:
        /* A restart forgets everything in flight (the transport resets the device first). */
        release_held(f);
        virtq_stop(&f->vq);
        start_queue(f);
        break;
    default:
        while (f->vq.started && !virtq_broken(&f->vq) && f->nr_held < MAX_HELD &&
               virtq_has_avail(&f->vq)) {
            uint8_t pop[4] = {0, 0, op[2], op[3]};
            uint64_t before = f->vq.popped + f->vq.malformed;

            bare_pop(f, pop);
            if (f->vq.popped + f->vq.malformed == before)
                break;
        }
        break;
    }
}

static void blk_reset(struct vq_fuzz *f)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    /*
     * What virtio-pci does on a status write of 0, then a driver bringing the
     * queue back once device_status reads 0: here when the backend gave back
     * what was in flight.
     */
    if (vdev->ops->reset(vdev) == VIRTIO_RESET_PENDING)
        vdev->ops->quiesce(vdev);
    FZ_CHECK(fake_blk_pending(fake_blk_of(f->be)) == 0);
    virtq_stop(&f->vq);
    FZ_CHECK(vdev->ops->set_features(vdev, f->blk_features) == 0);
    start_queue(f);
}

static void run_blk(struct vq_fuzz *f, const uint8_t *op)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    switch (op[0] % 7) {
    case 0:
        if (f->vq.started)
            vdev->ops->queue_notify(vdev, 0);
        break;
    case 1:
        fake_blk_complete_pending(fake_blk_of(f->be), op[1], op[2] & 1 ? -EIO : 0);
        /* The device asked for nothing past the end of the disk. */
        FZ_CHECK(fake_blk_of(f->be)->nr_bad == 0);
        break;
    case 2:
        blk_drain(f->be);
        FZ_CHECK(fake_blk_pending(fake_blk_of(f->be)) == 0);
        break;
    case 3:
        poke(f, op);
        break;
    case 4:
        blk_reset(f);
        break;
    case 5:
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        break;
    default:
        notify_ops(f, op);
        break;
    }
}

static int blk_setup(struct vq_fuzz *f, bool readonly, bool ack_all)
{
    struct vblk_params p = {.serial = "fuzz-serial", .num_queues = 1};
    char err[128];

    f->base = event_base_new();
    if (!f->base || fake_blk_new(&f->be, DISK_SIZE, readonly))
        return -ENOMEM;
    if (vblk_new(&f->blk, f->be, &p, err, sizeof(err))) {
        f->be = NULL; /* freed by vblk_new */
        return -ENOMEM;
    }
    f->t = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .opaque = f,
    };
    vblk_vdev(f->blk)->transport = &f->t;
    f->blk_features = ack_all ? vblk_vdev(f->blk)->ops->features(vblk_vdev(f->blk)) : 0;
    FZ_CHECK(vblk_vdev(f->blk)->ops->set_features(vblk_vdev(f->blk), f->blk_features) == 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vq_fuzz *f = calloc(1, sizeof(*f));
    uint8_t hdr[8], ops[63 * 4];
    unsigned nr_ops;
    struct fz_in in;

    if (!f)
        return 0;
    fz_log_quiet();
    fz_in_init(&in, data, size);
    fz_in_bytes(&in, hdr, sizeof(hdr));
    f->size = (uint16_t)(1u << ((hdr[0] >> 4) % 9));
    if (hdr[0] >> 4 == 15)
        f->size = fz_u16(&in);
    f->desc = (uint64_t)(hdr[1] | hdr[2] << 8) % (RAM_SIZE + 0x800);
    f->avail = (uint64_t)(hdr[3] | hdr[4] << 8) % (RAM_SIZE + 0x800);
    f->used = (uint64_t)(hdr[5] | hdr[6] << 8) % (RAM_SIZE + 0x800);
    f->feats = (hdr[0] & 2 ? VIRTQ_FEAT_INDIRECT : 0) | (hdr[0] & 4 ? VIRTQ_FEAT_EVENT_IDX : 0);
    nr_ops = hdr[7] & 0x3f;
    fz_in_bytes(&in, ops, nr_ops * 4);

    /* Exactly RAM_SIZE bytes: a device touching one byte past guest RAM is caught. */
    f->ram = calloc(1, RAM_SIZE);
    f->flat = f->ram ? gmem_flat_new(f->ram, RAM_SIZE) : NULL;
    if (!f->flat)
        goto out;
    fz_in_bytes(&in, f->ram, RAM_SIZE);
    fz_gmem_count_init(&f->gm, f->flat);
    virtq_init(&f->vq, 0, &f->gm.gm);

    if (hdr[0] & 1) {
        if (blk_setup(f, hdr[7] & 0x80, hdr[0] & 8))
            goto out;
    }
    start_queue(f);
    for (unsigned i = 0; i < nr_ops; i++) {
        if (f->blk)
            run_blk(f, &ops[4 * i]);
        else
            run_bare(f, &ops[4 * i]);
    }

    if (f->blk) {
        blk_drain(f->be);
        /* Every popped chain went back (unless the queue was reset under it). */
        FZ_CHECK(!f->vq.started || f->vq.inflight == 0);
    }
    release_held(f);
out:
    if (f->blk)
        vblk_free(f->blk); /* frees the backend */
    else if (f->be)
        blk_free(f->be);
    virtq_stop(&f->vq);
    if (f->flat) {
        FZ_CHECK(f->gm.live == 0);
        gmem_free(f->flat);
    }
    if (f->base)
        event_base_free(f->base);
    free(f->ram);
    free(f);
    return 0;
}
