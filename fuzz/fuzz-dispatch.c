/*
 * Fuzz target: the request dispatcher. A sequence of ioreqs, as a hostile
 * guest (or a corrupt slot) could present them, answered by
 * request_handle() against the full device set, interleaved with buffered
 * rings drained by bufring_drain(), guest RAM contents for data_is_ptr
 * requests and event-loop turns for disk completions.
 *
 * Input: one flags byte (bit 0: run the firmware first, so BARs decode),
 * then records, each an opcode byte and its operands:
 *   0  raw ioreq_t (32 bytes) + vCPU byte
 *   1  shaped request aimed at a registered range or a PCI function
 *   2  buffered ring: read pointer, distance to the write pointer, slots
 *   3  guest RAM write: address, length, bytes
 *   4  event-loop turn
 *   5  virtio-blk driver bring-up over MMIO: features, queue 0 rings, DRIVER_OK
 *   6  virtio-blk queue notification (then an event-loop turn)
 */
#include <stdint.h>
#include <string.h>

#include "bufring.h"
#include "fuzz-env.h"
#include "pci.h"
#include "request.h"
#include "virtio-pci.h"

#define MAX_RECORDS 128

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct dispatch {
    struct fz_env env;
    struct request_ctx ctx;
    struct ioreq_pci_handler pci;
    struct ioreq_vcpu_stats vs;
};

static bool known_io_type(uint8_t type)
{
    return type == IOREQ_TYPE_PIO || type == IOREQ_TYPE_COPY || type == IOREQ_TYPE_PCI_CONFIG;
}

/* Handles one request and checks what request.h promises about the answer. */
static void handle(struct dispatch *d, ioreq_t *req, unsigned vcpu)
{
    ioreq_t before = *req;
    uint64_t malformed = d->env.stats.malformed;

    request_handle(&d->ctx, req, vcpu, &d->vs);

    /* Only data may change: it is all the caller writes back. */
    before.data = req->data;
    FZ_CHECK(memcmp(&before, req, sizeof(*req)) == 0);
    if (known_io_type(req->type) && req->dir == IOREQ_READ && !req->data_is_ptr &&
        (req->size == 1 || req->size == 2 || req->size == 4 || req->size == 8))
        FZ_CHECK(req->data <= io_all_ones(req->size));
    FZ_CHECK(d->env.stats.malformed - malformed <= 1);
}

static void on_buffered(void *opaque, ioreq_t *req)
{
    struct dispatch *d = opaque;

    /* bufring.h: only writes of 1, 2, 4 or 8 bytes, one item each. */
    FZ_CHECK(req->dir == IOREQ_WRITE && req->count == 1);
    FZ_CHECK(req->size == 1 || req->size == 2 || req->size == 4 || req->size == 8);
    handle(d, req, 0);
}

static void op_raw(struct dispatch *d, struct fz_in *in)
{
    ioreq_t req;

    fz_in_bytes(in, &req, sizeof(req));
    handle(d, &req, fz_u8(in));
}

static const uint8_t shaped_types[] = {
    IOREQ_TYPE_PIO,        IOREQ_TYPE_COPY,       IOREQ_TYPE_PCI_CONFIG,
    IOREQ_TYPE_TIMEOFFSET, IOREQ_TYPE_INVALIDATE,
};

static void op_shaped(struct dispatch *d, struct fz_in *in)
{
    uint8_t sel = fz_u8(in), shape = fz_u8(in);
    uint8_t type = shaped_types[sel % sizeof(shaped_types)];
    ioreq_t req = {
        .type = type,
        .size = 1u << (shape & 3),
        .dir = (shape >> 2) & 1,
        .df = (shape >> 3) & 1,
        .data_is_ptr = (shape >> 4) & 1,
        .count = 1,
        .state = STATE_IOREQ_READY,
    };
    uint16_t offset = fz_u16(in);

    if (shape & 0x20)
        req.count = 1 + fz_u8(in) % 16;
    if (type == IOREQ_TYPE_PCI_CONFIG) {
        static const uint8_t devfns[] = {0x00, 0x10, 0x20, 0x08, 0x21};
        uint8_t pick = fz_u8(in);
        uint32_t sbdf = pick < 0xf0 ? devfns[pick % sizeof(devfns)] : fz_u32(in);

        req.addr = (uint64_t)sbdf << 32 | (offset & 0xfff);
    } else {
        enum io_space space = type == IOREQ_TYPE_PIO ? IO_SPACE_PIO : IO_SPACE_MMIO;
        unsigned n = io_range_count(d->env.io, space);
        uint8_t pick = fz_u8(in);
        const struct io_range *r = n ? io_range_at(d->env.io, space, pick % n) : NULL;

        /* Mostly inside a range; now and then straddling its end. */
        req.addr = r ? r->base + offset % (r->len + 8) : offset;
    }
    req.data = req.data_is_ptr ? fz_u32(in) % (FZ_RAM_SIZE + 64) : fz_u64(in);
    handle(d, &req, fz_u8(in) % 4);
}

static void op_bufring(struct dispatch *d, struct fz_in *in)
{
    static _Alignas(4096) buffered_iopage_t pg;
    uint32_t rp = fz_u32(in);
    uint16_t dist = fz_u16(in);
    /* Mostly a plausible distance; its top bit asks for a corrupt pointer pair instead. */
    uint32_t wp = dist & 0x8000 ? fz_u32(in) : rp + dist % (IOREQ_BUFFER_SLOT_NUM + 2);
    uint32_t n = wp - rp < IOREQ_BUFFER_SLOT_NUM ? wp - rp : IOREQ_BUFFER_SLOT_NUM;
    struct bufring_sink sink = {.handle = on_buffered, .opaque = d};
    uint64_t malformed = d->env.stats.malformed;

    memset(&pg, 0, sizeof(pg));
    pg.read_pointer = rp;
    pg.write_pointer = wp;
    for (uint32_t i = 0; i < n && !fz_in_empty(in); i++)
        fz_in_bytes(in, &pg.buf_ioreq[(rp + i) % IOREQ_BUFFER_SLOT_NUM], sizeof(buf_ioreq_t));

    unsigned delivered = bufring_drain(&pg, &sink, &d->env.stats);

    /* Never more than a ring, never past the write pointer. */
    FZ_CHECK(delivered <= IOREQ_BUFFER_SLOT_NUM);
    FZ_CHECK(pg.read_pointer - rp <= IOREQ_BUFFER_SLOT_NUM || pg.read_pointer == wp);
    if (wp - rp > IOREQ_BUFFER_SLOT_NUM)
        FZ_CHECK(d->env.stats.malformed > malformed && delivered == 0);
    else
        FZ_CHECK(pg.read_pointer - rp <= wp - rp);
}

static void op_ram(struct dispatch *d, struct fz_in *in)
{
    uint32_t gpa = fz_u32(in) % FZ_RAM_SIZE;
    size_t len = fz_u8(in);

    if (len > FZ_RAM_SIZE - gpa)
        len = FZ_RAM_SIZE - gpa;
    fz_in_bytes(in, d->env.ram + gpa, len);
}

/* Where virtio-blk's register BAR decodes now, or 0 if it does not. */
static uint64_t vblk_bar(struct dispatch *d)
{
    struct pci_dev *dev = pci_bus_find(d->env.bus, PCI_SBDF(0, 0, 4, 0));

    return dev && dev->bars[VPCI_BAR].mapped != PCI_BAR_UNMAPPED ? dev->bars[VPCI_BAR].mapped : 0;
}

/* A guest MMIO write, the way Xen would hand it over. */
static void mmio_write(struct dispatch *d, uint64_t addr, unsigned size, uint64_t value)
{
    ioreq_t req = {
        .addr = addr,
        .data = value,
        .count = 1,
        .size = size,
        .state = STATE_IOREQ_READY,
        .dir = IOREQ_WRITE,
        .type = IOREQ_TYPE_COPY,
    };

    handle(d, &req, 0);
}

/*
 * What a virtio driver does before it can use a queue (virtio 1.2, 3.1.1),
 * with the features, queue size and ring addresses taken from the input, so
 * that queue processing over the raw backend is reachable from requests.
 */
static void op_virtio_init(struct dispatch *d, struct fz_in *in)
{
    uint64_t common = vblk_bar(d) + VPCI_COMMON_OFF;
    uint32_t feat_lo = fz_u32(in), feat_hi = fz_u8(in);
    uint16_t qsize = fz_u16(in);
    uint32_t desc = fz_u32(in) % FZ_RAM_SIZE, avail = fz_u32(in) % FZ_RAM_SIZE;
    uint32_t used = fz_u32(in) % FZ_RAM_SIZE;

    if (common == VPCI_COMMON_OFF)
        return;
    mmio_write(d, common + VIRTIO_PCI_COMMON_STATUS, 1, 0);
    mmio_write(d, common + VIRTIO_PCI_COMMON_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    mmio_write(d, common + VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
    mmio_write(d, common + VIRTIO_PCI_COMMON_GF, 4, feat_lo);
    mmio_write(d, common + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
    mmio_write(d, common + VIRTIO_PCI_COMMON_GF, 4, feat_hi);
    mmio_write(d, common + VIRTIO_PCI_COMMON_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_SIZE, 2, qsize);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_DESCLO, 4, desc);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, avail);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_USEDLO, 4, used);
    mmio_write(d, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
    mmio_write(d, common + VIRTIO_PCI_COMMON_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                   VIRTIO_STATUS_DRIVER_OK);
}

static void op_virtio_notify(struct dispatch *d, struct fz_in *in)
{
    uint64_t bar = vblk_bar(d);
    uint8_t queue = fz_u8(in);

    if (bar)
        mmio_write(d, bar + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * (queue % 2), 2, queue % 2);
    fz_env_poll(&d->env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct dispatch d;
    struct fz_in in;

    memset(&d, 0, sizeof(d));
    if (fz_env_new(&d.env))
        return 0;
    d.pci = (struct ioreq_pci_handler){
        .cfg_read = pci_bus_cfg_read,
        .cfg_write = pci_bus_cfg_write,
        .opaque = d.env.bus,
    };
    d.ctx = (struct request_ctx){
        .registry = d.env.io,
        .gmem = d.env.gm,
        .pci = &d.pci,
        .stats = &d.env.stats,
    };

    fz_in_init(&in, data, size);
    if (fz_u8(&in) & 1)
        fz_env_firmware(&d.env);
    for (unsigned i = 0; i < MAX_RECORDS && !fz_in_empty(&in); i++) {
        switch (fz_u8(&in) % 7) {
        case 0:
            op_raw(&d, &in);
            break;
        case 1:
            op_shaped(&d, &in);
            break;
        case 2:
            op_bufring(&d, &in);
            break;
        case 3:
            op_ram(&d, &in);
            break;
        case 4:
            fz_env_poll(&d.env);
            break;
        case 5:
            op_virtio_init(&d, &in);
            break;
        default:
            op_virtio_notify(&d, &in);
            break;
        }
    }
    fz_env_free(&d.env);
    return 0;
}
