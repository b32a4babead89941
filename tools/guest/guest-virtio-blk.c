/*
 * gvblk: virtio-blk requests over gvirtio (see guest-virtio-blk.h).
 * Configuration offsets are struct virtio_blk_config's (virtio 1.2, 5.2.4).
 */
#include "guest-virtio-blk.h"

#include <errno.h>
#include <string.h>

#define CFG_CAPACITY                 0
#define CFG_SEG_MAX                  12
#define CFG_BLK_SIZE                 20
#define CFG_NUM_QUEUES               34
#define CFG_MAX_DISCARD_SECTORS      36
#define CFG_MAX_DISCARD_SEG          40
#define CFG_MAX_WRITE_ZEROES_SECTORS 48
#define CFG_MAX_WRITE_ZEROES_SEG     52

#define HDR_BYTES 16
#define STATUS_AT HDR_BYTES

#define KNOWN_FEATURES                                                                             \
    (1ull << GVBLK_F_SEG_MAX | 1ull << GVBLK_F_BLK_SIZE | 1ull << GVBLK_F_FLUSH |                  \
     1ull << GVBLK_F_RO | 1ull << GVBLK_F_MQ | 1ull << GVBLK_F_DISCARD |                           \
     1ull << GVBLK_F_WRITE_ZEROES | 1ull << GVIRTIO_F_EVENT_IDX)

struct blk_hdr {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
_Static_assert(sizeof(struct blk_hdr) == HDR_BYTES, "5.2.6: 16-byte request header");

static int cfg32(struct gvblk *b, unsigned off, uint32_t *val)
{
    uint64_t v;
    int rc = gvirtio_config_read(&b->dev, off, 4, &v);

    *val = (uint32_t)v;
    return rc;
}

static int read_config(struct gvblk *b)
{
    struct gvirtio *d = &b->dev;
    uint32_t lo, hi;
    uint64_t nq;
    int rc;

    rc = cfg32(b, CFG_CAPACITY, &lo);
    if (!rc)
        rc = cfg32(b, CFG_CAPACITY + 4, &hi);
    if (rc)
        return rc;
    b->capacity = (uint64_t)hi << 32 | lo;
    b->blk_size = GVBLK_SECTOR;
    b->device_queues = 1;
    if (gvirtio_has(d, GVBLK_F_BLK_SIZE) && (rc = cfg32(b, CFG_BLK_SIZE, &b->blk_size)))
        return rc;
    if (gvirtio_has(d, GVBLK_F_SEG_MAX) && (rc = cfg32(b, CFG_SEG_MAX, &b->seg_max)))
        return rc;
    if (gvirtio_has(d, GVBLK_F_MQ)) {
        rc = gvirtio_config_read(d, CFG_NUM_QUEUES, 2, &nq);
        if (rc)
            return rc;
        b->device_queues = (uint16_t)nq;
    }
    if (gvirtio_has(d, GVBLK_F_DISCARD)) {
        rc = cfg32(b, CFG_MAX_DISCARD_SECTORS, &b->max_discard_sectors);
        if (!rc)
            rc = cfg32(b, CFG_MAX_DISCARD_SEG, &b->max_discard_seg);
        if (rc)
            return rc;
    }
    if (gvirtio_has(d, GVBLK_F_WRITE_ZEROES)) {
        rc = cfg32(b, CFG_MAX_WRITE_ZEROES_SECTORS, &b->max_write_zeroes_sectors);
        if (!rc)
            rc = cfg32(b, CFG_MAX_WRITE_ZEROES_SEG, &b->max_write_zeroes_seg);
        if (rc)
            return rc;
    }
    return 0;
}

static int setup_slots(struct gvblk *b, struct gvblk_queue *bq, struct garena *arena)
{
    int rc = 0;

    /* Three ring descriptors a request, or one with an indirect table. */
    bq->nr_slots = b->indirect ? bq->vq->size : bq->vq->size / 3;
    if (bq->nr_slots > GVBLK_MAX_SLOTS)
        bq->nr_slots = GVBLK_MAX_SLOTS;
    for (unsigned s = 0; !rc && s < bq->nr_slots; s++) {
        rc = garena_alloc(arena, HDR_BYTES + 1, 64, &bq->slots[s].hdr);
        if (!rc)
            rc = garena_alloc(arena, GVBLK_MAX_XFER, 4096, &bq->slots[s].data);
        if (!rc && b->indirect)
            rc = garena_alloc(arena, 3 * 16, 16, &bq->slots[s].table);
    }
    return bq->nr_slots ? rc : -ENOSPC;
}

int gvblk_init(struct gvblk *b, struct mockhv *hv, struct garena *arena, const struct gpci_bus *bus,
               const struct mockhv_pci_func *fn, const struct gvblk_opts *opts)
{
    unsigned want;
    int rc;

    memset(b, 0, sizeof(*b));
    b->opts = *opts;
    b->arena = arena;
    if (fn->device != GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID)
        return -ENODEV;
    rc = gvirtio_open(&b->dev, hv, arena, bus, fn, &opts->virtio);
    if (!rc)
        rc = gvirtio_negotiate(&b->dev, (opts->features ? opts->features : KNOWN_FEATURES) |
                                            (opts->indirect ? 1ull << GVIRTIO_F_INDIRECT_DESC : 0));
    if (!rc)
        rc = read_config(b);
    b->indirect = opts->indirect && gvirtio_has(&b->dev, GVIRTIO_F_INDIRECT_DESC);
    if (rc)
        goto out;

    want = opts->nr_queues ? opts->nr_queues : 1;
    if (want > b->device_queues)
        want = b->device_queues;
    if (want > GVIRTIO_MAX_QUEUES)
        want = GVIRTIO_MAX_QUEUES;
    for (unsigned q = 0; q < want; q++) {
        rc = gvirtio_queue_setup(&b->dev, q, opts->queue_size ? opts->queue_size : 128);
        if (rc)
            goto out;
        b->queues[q].vq = &b->dev.queues[q];
        rc = setup_slots(b, &b->queues[q], arena);
        if (rc)
            goto out;
        b->nr_queues++;
    }
    rc = gvirtio_driver_ok(&b->dev);
out:
    if (rc && b->dev.common.addr)
        (void)gvirtio_set_status(&b->dev, GVIRTIO_S_FAILED);
    if (rc)
        gvblk_forget(b);
    return rc;
}

void gvblk_fini(struct gvblk *b)
{
    gvirtio_close(&b->dev);
    b->nr_queues = 0;
}

void gvblk_forget(struct gvblk *b)
{
    gvirtio_forget(&b->dev);
    b->nr_queues = 0;
}

int gvblk_reinit(struct gvblk *b)
{
    struct mockhv_pci_func fn = b->dev.fn;
    struct gvblk_opts opts = b->opts;
    const struct gpci_bus *bus = b->dev.bus;
    struct garena *arena = b->arena;
    struct mockhv *hv = b->dev.hv;
    unsigned vcpus[GVIRTIO_MAX_QUEUES];
    unsigned nq = b->nr_queues;
    int rc;

    for (unsigned q = 0; q < nq; q++)
        vcpus[q] = b->queues[q].vq->vcpu;
    gvblk_fini(b);
    rc = gvblk_init(b, hv, arena, bus, &fn, &opts);
    for (unsigned q = 0; !rc && q < b->nr_queues && q < nq; q++)
        b->queues[q].vq->vcpu = vcpus[q];
    return rc;
}

int gvblk_needs_reset(struct gvblk *b)
{
    uint8_t s;
    int rc = gvirtio_status(&b->dev, &s);

    return rc ? rc : !!(s & GVIRTIO_S_NEEDS_RESET);
}

static bool device_reads(uint32_t type)
{
    return type == GVBLK_T_OUT || type == GVBLK_T_DISCARD || type == GVBLK_T_WRITE_ZEROES;
}

int gvblk_submit(struct gvblk *b, unsigned q, struct gvblk_req *req)
{
    struct mockhv *hv = b->dev.hv;
    struct gvblk_queue *bq;
    struct gvblk_slot *slot = NULL;
    struct gvq_buf bufs[3];
    struct blk_hdr hdr = {.type = req->type, .sector = req->sector};
    uint8_t status = 0xff; /* a device that never writes it is caught */
    unsigned n = 0, n_out;
    int rc;

    if (q >= b->nr_queues || req->len > GVBLK_MAX_XFER || (req->len && !req->buf))
        return -EINVAL;
    bq = &b->queues[q];
    pthread_mutex_lock(&bq->vq->lock);
    for (unsigned s = 0; s < bq->nr_slots; s++) {
        if (!bq->slots[s].req) {
            slot = &bq->slots[s];
            slot->req = req;
            req->slot = s;
            break;
        }
    }
    pthread_mutex_unlock(&bq->vq->lock);
    if (!slot)
        return -EBUSY;

    rc = mockhv_ram_write(hv, slot->hdr, &hdr, sizeof(hdr));
    if (!rc)
        rc = mockhv_ram_write(hv, slot->hdr + STATUS_AT, &status, 1);
    if (!rc && req->len && device_reads(req->type))
        rc = mockhv_ram_write(hv, slot->data, req->buf, req->len);
    if (rc)
        goto out;
    bufs[n++] = (struct gvq_buf){.gpa = slot->hdr, .len = HDR_BYTES};
    if (req->len && device_reads(req->type))
        bufs[n++] = (struct gvq_buf){.gpa = slot->data, .len = req->len};
    n_out = n;
    if (req->len && !device_reads(req->type))
        bufs[n++] = (struct gvq_buf){.gpa = slot->data, .len = req->len};
    bufs[n++] = (struct gvq_buf){.gpa = slot->hdr + STATUS_AT, .len = 1};
    if (b->indirect)
        rc = gvq_add_indirect(bq->vq, bufs, n_out, n - n_out, slot->table, req);
    else
        rc = gvq_add(bq->vq, bufs, n_out, n - n_out, req);
out:
    if (rc) {
        pthread_mutex_lock(&bq->vq->lock);
        slot->req = NULL;
        pthread_mutex_unlock(&bq->vq->lock);
    }
    return rc;
}

int gvblk_kick(struct gvblk *b, unsigned q)
{
    if (q >= b->nr_queues)
        return -EINVAL;
    return gvq_kick(b->queues[q].vq);
}

unsigned gvblk_in_flight(struct gvblk *b, unsigned q)
{
    unsigned n = 0;

    if (q >= b->nr_queues)
        return 0;
    pthread_mutex_lock(&b->queues[q].vq->lock);
    for (unsigned s = 0; s < b->queues[q].nr_slots; s++)
        n += b->queues[q].slots[s].req != NULL;
    pthread_mutex_unlock(&b->queues[q].vq->lock);
    return n;
}

int gvblk_complete(struct gvblk *b, unsigned q, struct gvblk_req **out, int timeout_ms)
{
    struct mockhv *hv = b->dev.hv;
    struct gvblk_queue *bq;
    struct gvblk_slot *slot;
    struct gvblk_req *req;
    void *token;
    uint32_t len;
    int rc;

    if (q >= b->nr_queues)
        return -EINVAL;
    bq = &b->queues[q];
    for (;;) {
        rc = gvq_get(bq->vq, &token, &len);
        if (rc != -EAGAIN)
            break;
        rc = gvq_wait(bq->vq, timeout_ms);
        if (rc)
            return rc;
    }
    if (rc)
        return rc;
    req = token;
    slot = &bq->slots[req->slot];
    req->written = len;
    rc = mockhv_ram_read(hv, slot->hdr + STATUS_AT, &req->status, 1);
    if (!rc && req->len && !device_reads(req->type) && req->status == GVBLK_S_OK)
        rc = mockhv_ram_read(hv, slot->data, req->buf, req->len);
    if (req->status == GVBLK_S_OK) {
        if (req->type == GVBLK_T_IN)
            bq->bytes_read += req->len;
        else if (req->type == GVBLK_T_OUT)
            bq->bytes_written += req->len;
    }
    bq->requests++;
    pthread_mutex_lock(&bq->vq->lock);
    slot->req = NULL;
    pthread_mutex_unlock(&bq->vq->lock);
    *out = req;
    return rc;
}

/* One request through queue q, waited for. */
static int run_one(struct gvblk *b, unsigned q, struct gvblk_req *req, uint8_t *status)
{
    struct gvblk_req *done;
    int rc;

    rc = gvblk_submit(b, q, req);
    if (!rc)
        rc = gvblk_kick(b, q);
    if (!rc)
        rc = gvblk_complete(b, q, &done, b->dev.opts.timeout_ms);
    if (!rc && done != req)
        rc = -EIO; /* someone else's request: the queue is shared without care */
    if (!rc)
        *status = req->status;
    return rc;
}

static int run_data(struct gvblk *b, unsigned q, uint32_t type, uint64_t sector, void *buf,
                    size_t len, uint8_t *status)
{
    int rc = 0;

    if (len % GVBLK_SECTOR)
        return -EINVAL;
    *status = GVBLK_S_OK;
    while (!rc && len && *status == GVBLK_S_OK) {
        uint32_t n = len < GVBLK_MAX_XFER ? (uint32_t)len : GVBLK_MAX_XFER;
        struct gvblk_req req = {.type = type, .sector = sector, .buf = buf, .len = n};

        rc = run_one(b, q, &req, status);
        buf = (char *)buf + n;
        len -= n;
        sector += n / GVBLK_SECTOR;
    }
    return rc;
}

int gvblk_read(struct gvblk *b, unsigned q, uint64_t sector, void *buf, size_t len, uint8_t *status)
{
    return run_data(b, q, GVBLK_T_IN, sector, buf, len, status);
}

int gvblk_write(struct gvblk *b, unsigned q, uint64_t sector, const void *buf, size_t len,
                uint8_t *status)
{
    /* The device only reads an OUT buffer; the cast lets one helper serve both directions. */
    return run_data(b, q, GVBLK_T_OUT, sector, (void *)buf, len, status);
}

int gvblk_flush(struct gvblk *b, unsigned q, uint8_t *status)
{
    struct gvblk_req req = {.type = GVBLK_T_FLUSH};

    return run_one(b, q, &req, status);
}

static int run_segment(struct gvblk *b, unsigned q, uint32_t type, uint64_t sector,
                       uint32_t nr_sectors, uint32_t flags, uint8_t *status)
{
    struct gvblk_seg seg = {.sector = sector, .num_sectors = nr_sectors, .flags = flags};
    struct gvblk_req req = {.type = type, .buf = &seg, .len = sizeof(seg)};

    return run_one(b, q, &req, status);
}

int gvblk_discard(struct gvblk *b, unsigned q, uint64_t sector, uint32_t nr_sectors,
                  uint8_t *status)
{
    return run_segment(b, q, GVBLK_T_DISCARD, sector, nr_sectors, 0, status);
}

int gvblk_write_zeroes(struct gvblk *b, unsigned q, uint64_t sector, uint32_t nr_sectors,
                       bool unmap, uint8_t *status)
{
    return run_segment(b, q, GVBLK_T_WRITE_ZEROES, sector, nr_sectors, unmap ? 1 : 0, status);
}

int gvblk_get_id(struct gvblk *b, unsigned q, char *id, uint8_t *status)
{
    struct gvblk_req req = {.type = GVBLK_T_GET_ID, .buf = id, .len = GVBLK_ID_BYTES};
    int rc;

    memset(id, 0, GVBLK_ID_BYTES + 1);
    rc = run_one(b, q, &req, status);
    id[GVBLK_ID_BYTES] = '\0';
    return rc;
}

const char *gvblk_status_name(uint8_t status)
{
    switch (status) {
    case GVBLK_S_OK:
        return "OK";
    case GVBLK_S_IOERR:
        return "IOERR";
    case GVBLK_S_UNSUPP:
        return "UNSUPP";
    default:
        return "invalid";
    }
}

void gvblk_fill_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    /* Every 512-byte sector of a stream differs from every other. */
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

    for (size_t i = 0; i < len; i++) {
        if (!(i & 7)) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        buf[i] = (uint8_t)(x >> (8 * (i & 7)));
    }
}
