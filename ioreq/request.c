/*
 * The request arithmetic (docs/DESIGN.md, "How one request flows").
 *
 * Semantics of the ioreq fields, as Xen produces them:
 *  - PIO: the port never steps; with data_is_ptr (rep ins/outs) the guest
 *    buffer steps by size per item, backwards when df is set;
 *  - COPY (MMIO): the device address steps like the buffer; without
 *    data_is_ptr, a write repeats `data` (rep stos) and a read keeps the last
 *    item;
 *  - PCI_CONFIG: addr carries the SBDF in bits 63..32 and the register in
 *    bits 31..0, one item of 1, 2 or 4 bytes;
 *  - TIMEOFFSET carries seconds in data; INVALIDATE asks to drop every
 *    cached guest mapping.
 * The shape of a request is validated up front (size, count, address spans
 * that would wrap or leave the port space), so a malformed one touches no
 * device and no guest memory. Guest memory behind data_is_ptr is checked item
 * by item, as Xen does: a buffer that leaves guest RAM partway stops the rep
 * there, with the earlier items done.
 */
#include "request.h"

#include <inttypes.h>
#include <stdbool.h>

#include "log.h"

#define PCI_CFG_SPACE_SIZE 4096u

enum ioreq_stat_type request_stat_type(uint8_t type)
{
    switch (type) {
    case IOREQ_TYPE_PIO:
        return IOREQ_STAT_PIO;
    case IOREQ_TYPE_COPY:
        return IOREQ_STAT_COPY;
    case IOREQ_TYPE_PCI_CONFIG:
        return IOREQ_STAT_PCI_CONFIG;
    case IOREQ_TYPE_TIMEOFFSET:
        return IOREQ_STAT_TIMEOFFSET;
    case IOREQ_TYPE_INVALIDATE:
        return IOREQ_STAT_INVALIDATE;
    default:
        return IOREQ_STAT_UNKNOWN;
    }
}

static bool size_valid(uint32_t size, uint32_t max)
{
    return (size == 1 || size == 2 || size == 4 || size == 8) && size <= max;
}

/* The answer to a request that is not carried out: reads see all-ones. */
static void request_refuse(struct request_ctx *ctx, ioreq_t *req, const char *why)
{
    ctx->stats->malformed++;
    log_guest("ioreq: refused type %u dir %u size %" PRIu32 " count %" PRIu32 " addr 0x%" PRIx64
              ": %s",
              (unsigned)req->type, (unsigned)req->dir, req->size, req->count, req->addr, why);
    if (req->dir == IOREQ_READ && !req->data_is_ptr)
        req->data = io_all_ones(size_valid(req->size, 8) ? req->size : 8);
}

/* Does [start - span, start + size) (df) or [start, start + span + size) fit in 64 bits? */
static bool span_fits(uint64_t start, uint64_t span, uint32_t size, bool df)
{
    if (df)
        return start >= span && start + (size - 1) >= start;
    uint64_t end = start + span;
    return end >= start && end + (size - 1) >= end;
}

static uint64_t item_addr(uint64_t start, uint64_t i, uint32_t size, bool df)
{
    return df ? start - i * size : start + i * size;
}

/* Guest memory is little-endian whatever the host is. */
static void to_le(uint8_t *b, uint64_t v, uint32_t size)
{
    for (uint32_t i = 0; i < size; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t from_le(const uint8_t *b, uint32_t size)
{
    uint64_t v = 0;

    for (uint32_t i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Why a PIO or COPY request cannot be carried out, or NULL. */
static const char *io_check(const ioreq_t *req, bool pio)
{
    uint32_t size = req->size, count = req->count;
    bool df = req->df;

    if (!size_valid(size, pio ? 4 : 8))
        return "bad size";
    if (count == 0 || count > REQUEST_MAX_COUNT)
        return "bad count";

    uint64_t span = (uint64_t)(count - 1) * size;
    if (pio) {
        if (req->addr > REQUEST_PIO_LIMIT - (size - 1))
            return "port out of range";
    } else if (!span_fits(req->addr, span, size, df)) {
        return "address wraps";
    }
    if (req->data_is_ptr && !span_fits(req->data, span, size, df))
        return "buffer wraps";
    return NULL;
}

static void request_io(struct request_ctx *ctx, ioreq_t *req, unsigned vcpu, enum io_space space)
{
    bool pio = space == IO_SPACE_PIO;
    uint32_t size = req->size, count = req->count;
    bool df = req->df, ptr = req->data_is_ptr, rd = req->dir == IOREQ_READ;
    bool unclaimed = false;
    const char *why = io_check(req, pio);

    if (why) {
        request_refuse(ctx, req, why);
        return;
    }

    for (uint32_t i = 0; i < count; i++) {
        uint64_t dev = pio ? req->addr : item_addr(req->addr, i, size, df);
        uint64_t buf = ptr ? item_addr(req->data, i, size, df) : 0;
        uint8_t bytes[8];
        uint64_t v;

        if (rd) {
            if (!io_dispatch_read(ctx->registry, space, dev, size, vcpu, &v))
                unclaimed = true;
            if (!ptr) {
                req->data = v;
                continue;
            }
            to_le(bytes, v, size);
            if (gmem_write(ctx->gmem, buf, bytes, size)) {
                request_refuse(ctx, req, "buffer not in guest RAM");
                break;
            }
        } else {
            if (ptr) {
                if (gmem_read(ctx->gmem, buf, bytes, size)) {
                    request_refuse(ctx, req, "buffer not in guest RAM");
                    break;
                }
                v = from_le(bytes, size);
            } else {
                v = req->data & io_all_ones(size);
            }
            if (!io_dispatch_write(ctx->registry, space, dev, size, vcpu, v))
                unclaimed = true;
        }
    }
    if (unclaimed)
        ctx->stats->unclaimed++;
}

/*
 * One access with the value in data, what nearly every trapped mov is: the
 * checks of io_check for count 1, without the loop and guest memory.
 */
static void request_io_one(struct request_ctx *ctx, ioreq_t *req, unsigned vcpu,
                           enum io_space space)
{
    bool pio = space == IO_SPACE_PIO;
    uint32_t size = req->size;
    uint64_t v;

    if (!size_valid(size, pio ? 4 : 8)) {
        request_refuse(ctx, req, "bad size");
        return;
    }
    if (pio && req->addr > REQUEST_PIO_LIMIT - (size - 1)) {
        request_refuse(ctx, req, "port out of range");
        return;
    }
    if (!pio && !span_fits(req->addr, 0, size, false)) {
        request_refuse(ctx, req, "address wraps");
        return;
    }
    if (req->dir == IOREQ_READ) {
        if (!io_dispatch_read(ctx->registry, space, req->addr, size, vcpu, &v))
            ctx->stats->unclaimed++;
        req->data = v;
    } else if (!io_dispatch_write(ctx->registry, space, req->addr, size, vcpu,
                                  req->data & io_all_ones(size))) {
        ctx->stats->unclaimed++;
    }
}

static void request_pci(struct request_ctx *ctx, ioreq_t *req)
{
    uint32_t sbdf = (uint32_t)(req->addr >> 32);
    uint32_t reg = (uint32_t)(req->addr & 0xffffffffu);
    uint32_t size = req->size;
    const struct ioreq_pci_handler *pci = ctx->pci;

    const char *why = NULL;

    if (!size_valid(size, 4))
        why = "bad config size";
    else if (req->count != 1 || req->data_is_ptr)
        why = "bad config count";
    else if (reg >= PCI_CFG_SPACE_SIZE || size > PCI_CFG_SPACE_SIZE - reg)
        why = "config register out of range";
    if (why) {
        request_refuse(ctx, req, why);
        return;
    }

    if (req->dir == IOREQ_READ) {
        if (pci && pci->cfg_read) {
            req->data = pci->cfg_read(pci->opaque, sbdf, reg, size) & io_all_ones(size);
        } else {
            req->data = io_all_ones(size);
            ctx->stats->unclaimed++;
        }
    } else {
        if (pci && pci->cfg_write)
            pci->cfg_write(pci->opaque, sbdf, reg, size, (uint32_t)(req->data & io_all_ones(size)));
        else
            ctx->stats->unclaimed++;
    }
}

void request_handle(struct request_ctx *ctx, ioreq_t *req, unsigned vcpu,
                    struct ioreq_vcpu_stats *vs)
{
    if (vs) {
        vs->requests++;
        vs->by_type[request_stat_type(req->type)]++;
    }

    switch (req->type) {
    case IOREQ_TYPE_PIO:
    case IOREQ_TYPE_COPY: {
        enum io_space space = req->type == IOREQ_TYPE_PIO ? IO_SPACE_PIO : IO_SPACE_MMIO;

        if (req->count == 1 && !req->data_is_ptr)
            request_io_one(ctx, req, vcpu, space);
        else
            request_io(ctx, req, vcpu, space);
        break;
    }
    case IOREQ_TYPE_PCI_CONFIG:
        request_pci(ctx, req);
        break;
    case IOREQ_TYPE_TIMEOFFSET:
        ctx->stats->timeoffset = (int64_t)req->data;
        break;
    case IOREQ_TYPE_INVALIDATE:
        gmem_invalidate(ctx->gmem);
        break;
    default:
        /* Still answered: an unanswered slot would hang the vCPU. */
        request_refuse(ctx, req, "unknown type");
        break;
    }
}
