/*
 * Fuzz target: PCI configuration space. A sequence of config reads and
 * writes (any function, offset and size, valid or not), BAR accesses, legacy
 * 0xCF8/0xCFC cycles and firmware passes against the full device set, with
 * the bus's promises checked after every step: read-only IDs never change,
 * answers fit their size, and every BAR the bus believes decoded is in the
 * io-range registry exactly where config space says.
 *
 * Input: records, each an opcode byte and its operands:
 *   0  config read:  function, register, size
 *   1  config write: function, register, size, value
 *   2  BAR access: space, range, offset, size, direction, value
 *   3  legacy cycle: 0xCF8 address, then a 0xCFC+n access
 *   4  firmware pass (size and place every BAR, enable decode)
 *   5  event-loop turn
 */
#include <stdint.h>
#include <string.h>

#include "fuzz-env.h"
#include "pci.h"

#define MAX_RECORDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Functions that exist (host bridge, xen-platform, virtio-blk) and some that do not. */
static const uint8_t devfns[] = {0x00, 0x10, 0x20, 0x08, 0x11, 0xff};

static uint32_t pick_sbdf(struct fz_in *in)
{
    uint8_t pick = fz_u8(in);

    return pick < 0xf0 ? devfns[pick % sizeof(devfns)] : fz_u32(in);
}

static unsigned pick_size(struct fz_in *in)
{
    uint8_t b = fz_u8(in);

    /* Mostly legal sizes; the top values try everything up to 8. */
    return b < 0xf0 ? 1u << (b % 3) : b & 0xf;
}

static unsigned legal(unsigned size)
{
    return size == 1 || size == 2 || size == 4;
}

struct ids {
    bool present;
    uint32_t id;   /* vendor | device << 16 */
    uint8_t htype; /* header type */
};

/* IDs and header type are read-only: no guest write may change them. */
static void check_ids(struct fz_env *env, const struct ids *ids)
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        if (!ids[devfn].present)
            continue;
        FZ_CHECK(pci_bus_cfg_read(env->bus, devfn, PCI_VENDOR_ID, 4) == ids[devfn].id);
        FZ_CHECK(pci_bus_cfg_read(env->bus, devfn, PCI_HEADER_TYPE, 1) == ids[devfn].htype);
    }
}

/* What the bus says is decoded is what the registry serves. */
static void check_bars(struct fz_env *env)
{
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        struct pci_dev *dev = pci_bus_find(env->bus, devfn);

        if (!dev)
            continue;
        for (unsigned i = 0; i < PCI_NUM_SLOTS; i++) {
            const struct pci_bar *bar = &dev->bars[i];
            enum io_space space = bar->type == PCI_BAR_IO ? IO_SPACE_PIO : IO_SPACE_MMIO;
            bool found = false;

            if (bar->mapped == PCI_BAR_UNMAPPED)
                continue;
            FZ_CHECK(bar->type != PCI_BAR_NONE);
            for (unsigned r = 0; r < io_range_count(env->io, space); r++) {
                const struct io_range *range = io_range_at(env->io, space, r);

                if (range->base == bar->mapped) {
                    FZ_CHECK(range->opaque == bar && range->len == bar->size);
                    found = true;
                }
            }
            FZ_CHECK(found);
        }
    }
}

static void op_cfg(struct fz_env *env, struct fz_in *in, bool write)
{
    uint32_t sbdf = pick_sbdf(in);
    unsigned reg = fz_u16(in) & 0x1fff;
    unsigned size = pick_size(in);

    if (write) {
        pci_bus_cfg_write(env->bus, sbdf, reg, size, fz_u32(in));
        return;
    }
    uint32_t v = pci_bus_cfg_read(env->bus, sbdf, reg, size);
    if (legal(size))
        FZ_CHECK(v <= io_all_ones(size));
    if (!pci_bus_find(env->bus, sbdf) && legal(size))
        FZ_CHECK(v == io_all_ones(size));
}

static void op_bar(struct fz_env *env, struct fz_in *in)
{
    uint8_t shape = fz_u8(in);
    enum io_space space = shape & 1 ? IO_SPACE_MMIO : IO_SPACE_PIO;
    unsigned n = io_range_count(env->io, space);
    const struct io_range *r = n ? io_range_at(env->io, space, fz_u8(in) % n) : NULL;
    uint32_t off = fz_u32(in);
    uint64_t addr = r ? r->base + off % (r->len + 8) : off;
    unsigned size = 1u << ((shape >> 1) & 3);
    uint64_t v;

    if (shape & 0x10) {
        io_dispatch_write(env->io, space, addr, size, 0, fz_u64(in));
    } else {
        io_dispatch_read(env->io, space, addr, size, 0, &v);
        FZ_CHECK(v <= io_all_ones(size));
    }
}

static void op_legacy(struct fz_env *env, struct fz_in *in)
{
    uint32_t cf8 = fz_u32(in);
    uint8_t shape = fz_u8(in);
    unsigned size = 1u << (shape & 3);
    uint64_t port = 0xcfc + ((shape >> 2) & 3), v;

    /* Usually a well-formed enabled address; bit 7 of shape keeps the raw value. */
    if (!(shape & 0x80))
        cf8 = 0x80000000u | (cf8 & 0x0000fffcu);
    io_dispatch_write(env->io, IO_SPACE_PIO, 0xcf8, 4, 0, cf8);
    if (shape & 0x40) {
        io_dispatch_write(env->io, IO_SPACE_PIO, port, size, 0, fz_u32(in));
    } else {
        io_dispatch_read(env->io, IO_SPACE_PIO, port, size, 0, &v);
        FZ_CHECK(v <= io_all_ones(size));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fz_env env;
    static struct ids ids[256];
    struct fz_in in;

    if (fz_env_new(&env))
        return 0;
    for (unsigned devfn = 0; devfn < 256; devfn++) {
        ids[devfn].present = pci_bus_find(env.bus, devfn) != NULL;
        ids[devfn].id = pci_bus_cfg_read(env.bus, devfn, PCI_VENDOR_ID, 4);
        ids[devfn].htype = (uint8_t)pci_bus_cfg_read(env.bus, devfn, PCI_HEADER_TYPE, 1);
    }

    fz_in_init(&in, data, size);
    for (unsigned i = 0; i < MAX_RECORDS && !fz_in_empty(&in); i++) {
        switch (fz_u8(&in) % 6) {
        case 0:
            op_cfg(&env, &in, false);
            break;
        case 1:
            op_cfg(&env, &in, true);
            break;
        case 2:
            op_bar(&env, &in);
            break;
        case 3:
            op_legacy(&env, &in);
            break;
        case 4:
            fz_env_firmware(&env);
            break;
        default:
            fz_env_poll(&env);
            break;
        }
        check_bars(&env);
    }
    check_ids(&env, ids);
    fz_env_free(&env);
    return 0;
}
