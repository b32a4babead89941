/*
 * The PCI bus: type-0 configuration space for each function on bus 0 of
 * segment 0, BAR decoding into the io-range registry, capabilities, MSI,
 * MSI-X and INTx.
 *
 * Ownership: a device embeds a struct pci_dev in its own state (recover it
 * with container_of in the ops), fills its config space and declares its BARs
 * and capabilities with the helpers below, then hands it to pci_bus_add().
 * From then on the bus owns every config access and alone maps and unmaps the
 * BARs; the device sees accesses through its ops. pci_bus_remove() gives the
 * function back; the device frees its own memory afterwards.
 *
 * Config space is data: 4 KiB of bytes plus a per-byte write mask and a
 * per-byte write-1-to-clear mask. A guest write changes only the bits the
 * masks allow, whatever its size or offset. Conventional functions decode
 * 256 bytes; accesses beyond read all-ones and are dropped.
 */
#ifndef DEVICES_PCI_H
#define DEVICES_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "io-range.h"
#include "platform.h"

/* Standard header registers (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CLASS_DEVICE        0x0a
#define PCI_CACHE_LINE_SIZE     0x0c
#define PCI_LATENCY_TIMER       0x0d
#define PCI_HEADER_TYPE         0x0e
#define PCI_BIST                0x0f
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID        0x2e
#define PCI_ROM_ADDRESS         0x30
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3c
#define PCI_INTERRUPT_PIN       0x3d
#define PCI_MIN_GNT             0x3e
#define PCI_MAX_LAT             0x3f
#define PCI_CFG_HEADER_END      0x40

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT        0x0008
#define PCI_STATUS_CAP_LIST         0x0010
#define PCI_STATUS_PARITY           0x0100
#define PCI_STATUS_SIG_TARGET_ABORT 0x0800
#define PCI_STATUS_REC_TARGET_ABORT 0x1000
#define PCI_STATUS_REC_MASTER_ABORT 0x2000
#define PCI_STATUS_SIG_SYSTEM_ERROR 0x4000
#define PCI_STATUS_DETECTED_PARITY  0x8000

#define PCI_BAR_IO_FLAG      0x1
#define PCI_BAR_MEM_TYPE_64  0x4
#define PCI_BAR_MEM_PREFETCH 0x8
#define PCI_ROM_ENABLE       0x1

#define PCI_CAP_ID_MSI  0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11

#define PCI_CFG_SPACE_SIZE     256
#define PCI_CFG_SPACE_EXP_SIZE 4096

/* BARs 0-5, and the expansion ROM as index 6. */
#define PCI_NUM_BARS  6
#define PCI_ROM_SLOT  6
#define PCI_NUM_SLOTS 7

/* A BAR address meaning "not decoded". */
#define PCI_BAR_UNMAPPED UINT64_MAX

#define PCI_MSI_MAX_VECTORS  32
#define PCI_MSIX_MAX_VECTORS 2048

struct pci_bus;
struct pci_dev;

enum pci_bar_type {
    PCI_BAR_NONE,
    PCI_BAR_IO,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64, /* takes this slot and the next */
    PCI_BAR_ROM,   /* only in PCI_ROM_SLOT */
};

/* What a hook that may defer to the generic code did. */
enum pci_hook {
    PCI_HOOK_DEFAULT, /* not handled: the bus applies the generic behaviour */
    PCI_HOOK_HANDLED, /* handled completely by the device */
};

struct pci_dev_ops {
    const char *name;
    /*
     * After placement (dev->sbdf is valid), before the power-on image is
     * taken and the function is routed. 0 or -errno.
     */
    int (*init)(struct pci_dev *dev);
    /* On pci_bus_remove(), after the BARs are unmapped. */
    void (*fini)(struct pci_dev *dev);
    /*
     * Config read: *value holds what the generic code would return; the hook
     * may replace it and return HANDLED. reg/size are validated (size 1, 2 or
     * 4, inside one dword, inside the decoded space).
     */
    enum pci_hook (*cfg_read)(struct pci_dev *dev, unsigned reg, unsigned size, uint32_t *value);
    /* Config write: HANDLED means the generic masked write is skipped (a hook
     * may still call pci_dev_cfg_write_default() itself). */
    enum pci_hook (*cfg_write)(struct pci_dev *dev, unsigned reg, unsigned size, uint32_t value);
    /* Accesses to a decoded BAR, except the MSI-X table and PBA the bus serves. */
    uint64_t (*bar_read)(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size);
    void (*bar_write)(struct pci_dev *dev, unsigned bar, uint64_t offset, unsigned size,
                      uint64_t value);
    /* A BAR was mapped, unmapped or moved; either address may be PCI_BAR_UNMAPPED. */
    void (*bar_moved)(struct pci_dev *dev, unsigned bar, uint64_t old_addr, uint64_t new_addr);
    /* After the generic reset restored power-on config space. */
    void (*reset)(struct pci_dev *dev);
};

struct pci_bar {
    enum pci_bar_type type;
    bool prefetchable;
    uint64_t size;   /* power of two; 0 for no BAR */
    uint64_t mapped; /* address decoded now, or PCI_BAR_UNMAPPED */
    /*
     * Bytes of this slot's register (bit n: byte n) whose last guest write was
     * all-ones. 0xf means the guest is sizing the register, until it writes
     * an address; for a 64-bit BAR the next slot holds the upper half's.
     */
    uint8_t sizing;
    struct pci_dev *dev;
    unsigned index;
    char name[32]; /* "<dev>.bar<n>", the io_range name */
};

struct pci_msi {
    unsigned cap;        /* config offset of the capability, 0 if none */
    unsigned nr_vectors; /* requested (Multiple Message Capable) */
    bool is_64bit;
    bool per_vector_mask;
    uint32_t pending; /* vectors raised while masked */
};

struct pci_msix_entry {
    uint32_t addr_lo;
    uint32_t addr_hi;
    uint32_t data;
    uint32_t ctrl; /* bit 0: vector masked */
};

struct pci_msix {
    unsigned cap; /* config offset, 0 if none */
    unsigned nr_vectors;
    unsigned table_bar;
    uint32_t table_offset;
    unsigned pba_bar;
    uint32_t pba_offset;
    struct pci_msix_entry *table; /* nr_vectors entries */
    uint64_t *pba;                /* pending bits, one per vector */
};

struct pci_dev {
    const struct pci_dev_ops *ops;
    struct pci_bus *bus; /* set while on a bus */
    uint32_t sbdf;
    unsigned cfg_size; /* 256, or 4096 for express functions */

    uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
    uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];     /* 1 = guest-writable bit */
    uint8_t w1cmask[PCI_CFG_SPACE_EXP_SIZE];   /* 1 = write-1-to-clear bit */
    uint8_t reset_cfg[PCI_CFG_SPACE_EXP_SIZE]; /* power-on image, taken by pci_bus_add */
    unsigned cap_end;                          /* next free capability offset */

    struct pci_bar bars[PCI_NUM_SLOTS];
    struct pci_msi msi;
    struct pci_msix msix;

    bool intx_level;    /* the device's INTx request, before masking */
    bool intx_asserted; /* what the platform was last told */
};

/* One BAR range change a config write causes (computed, then applied). */
enum pci_range_op {
    PCI_RANGE_UNMAP,
    PCI_RANGE_MAP,
};

struct pci_range_change {
    enum pci_range_op op;
    unsigned bar;
    enum io_space space;
    uint64_t base;
    uint64_t len;
};

/* --- the bus --- */

/* The lowest slot a device without bdf= gets (see pci_bus_add). */
#define PCI_FIRST_FREE_SLOT 2

struct pci_bus *pci_bus_new(struct io_registry *io, struct dm_platform platform);
/* Removes every function still on the bus (destroy devices first; this is a backstop). */
void pci_bus_free(struct pci_bus *bus);

/*
 * Places dev at devfn (0..255), or in the lowest free slot 2..31 if devfn < 0
 * (function 0; slots 0 and 1 are the host bridge's and the PIIX3's, which
 * Xen's firmware expects there). A slot holds one device: a second one is
 * refused with -EEXIST.
 * Calls ops->init, then the platform's map_pcidev for the SBDF. 0 or -errno,
 * errbuf explaining the failure.
 */
int pci_bus_add(struct pci_bus *bus, struct pci_dev *dev, int devfn, char *errbuf,
                size_t errlen) must_check;
/* Unmaps the BARs, deasserts INTx, unroutes the function, calls ops->fini, releases MSI-X storage.
 */
void pci_bus_remove(struct pci_bus *bus, struct pci_dev *dev);
struct pci_dev *pci_bus_find(struct pci_bus *bus, uint32_t sbdf);

/* The ioreq_pci_handler entry points (ioreq/server.h): opaque is the bus. */
uint32_t pci_bus_cfg_read(void *bus, uint32_t sbdf, unsigned reg, unsigned size);
void pci_bus_cfg_write(void *bus, uint32_t sbdf, unsigned reg, unsigned size, uint32_t value);

/* Decode 0xCF8-0xCFF as the legacy configuration mechanism (#1) through the same code. */
int pci_bus_claim_legacy_pio(struct pci_bus *bus) must_check;

/* "[[SSSS:]BB:]DD.F" or "DD.F": 0 and *devfn, or -EINVAL (only bus 0, segment 0). */
int pci_parse_bdf(const char *text, int *devfn) must_check;
/* The spec's bdf= option: *devfn = -1 (next free slot) if absent; -EINVAL with errbuf if bad. */
struct device_spec;
int pci_spec_placement(struct device_spec *spec, int *devfn, char *errbuf,
                       size_t errlen) must_check;
/* "00:03.0 5853:0001 bar0=io:0xc000+0x100 ..." for inventories: identity, then BARs. */
void pci_dev_describe(const struct pci_dev *dev, char *buf, size_t len);
/* "00:03.0 5853:0001": the function's address and IDs, which never change. */
void pci_dev_identity(const struct pci_dev *dev, char *buf, size_t len);
/*
 * "bar0=io:0xc000+0x100 bar1=mem32:unmapped+0x1000000": every BAR, where it
 * is decoded now (or "unmapped") and its size; "" for a function without BARs.
 */
void pci_dev_bars_describe(const struct pci_dev *dev, char *buf, size_t len);
/* "io", "mem32", "mem64", "rom" or "none". */
const char *pci_bar_type_name(enum pci_bar_type type);

/* --- building a function --- */

/* Zeroes dev; a conventional (256-byte) type-0 function with the standard masks. */
void pci_dev_init(struct pci_dev *dev, const struct pci_dev_ops *ops);
/* Frees MSI-X storage; for a device that fails before (or instead of) pci_bus_remove. */
void pci_dev_release(struct pci_dev *dev);

void pci_dev_set_ids(struct pci_dev *dev, uint16_t vendor, uint16_t device, uint8_t revision,
                     uint32_t class_code /* base << 16 | sub << 8 | prog-if */);
void pci_dev_set_subsystem(struct pci_dev *dev, uint16_t vendor, uint16_t id);
/* pin 1 = INTA# .. 4 = INTD#, 0 = none. */
void pci_dev_set_intx_pin(struct pci_dev *dev, unsigned pin);

/*
 * Declare a BAR. size is a power of two (I/O >= 4, memory >= 16, ROM >= 2 KiB);
 * a 64-bit BAR uses slots bar and bar+1. 0 or -EINVAL.
 */
int pci_dev_add_bar(struct pci_dev *dev, unsigned bar, enum pci_bar_type type, uint64_t size,
                    bool prefetchable) must_check;
static inline int pci_dev_add_io_bar(struct pci_dev *dev, unsigned bar, uint32_t size)
{
    return pci_dev_add_bar(dev, bar, PCI_BAR_IO, size, false);
}
static inline int pci_dev_add_mem32_bar(struct pci_dev *dev, unsigned bar, uint32_t size,
                                        bool prefetchable)
{
    return pci_dev_add_bar(dev, bar, PCI_BAR_MEM32, size, prefetchable);
}
static inline int pci_dev_add_mem64_bar(struct pci_dev *dev, unsigned bar, uint64_t size,
                                        bool prefetchable)
{
    return pci_dev_add_bar(dev, bar, PCI_BAR_MEM64, size, prefetchable);
}
static inline int pci_dev_add_rom_bar(struct pci_dev *dev, uint32_t size)
{
    return pci_dev_add_bar(dev, PCI_ROM_SLOT, PCI_BAR_ROM, size, false);
}

/*
 * Append a capability of `len` bytes (>= 2) to the list: id and next pointer
 * are filled and read-only, the body is zero and read-only until the caller
 * sets masks. Returns its config offset (>= 0x40), or -ENOSPC.
 */
int pci_cap_add(struct pci_dev *dev, uint8_t cap_id, unsigned len) must_check;
/* Offset of the first capability with this id, or 0. Bounded walk. */
unsigned pci_cap_find(const struct pci_dev *dev, uint8_t cap_id);

/* Raw config space accessors for device code: no masks, no side effects. */
uint8_t pci_cfg_get8(const struct pci_dev *dev, unsigned off);
uint16_t pci_cfg_get16(const struct pci_dev *dev, unsigned off);
uint32_t pci_cfg_get32(const struct pci_dev *dev, unsigned off);
void pci_cfg_set8(struct pci_dev *dev, unsigned off, uint8_t v);
void pci_cfg_set16(struct pci_dev *dev, unsigned off, uint16_t v);
void pci_cfg_set32(struct pci_dev *dev, unsigned off, uint32_t v);
/* Write and write-1-to-clear masks over `len` little-endian bytes of `mask`. */
void pci_cfg_set_wmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask);
void pci_cfg_set_w1cmask(struct pci_dev *dev, unsigned off, unsigned len, uint32_t mask);

/* The generic config write, masks and side effects (BARs, INTx, MSI, MSI-X) included. */
void pci_dev_cfg_write_default(struct pci_dev *dev, unsigned reg, unsigned size, uint32_t value);

/* Restore power-on config, unmap BARs, mask MSI-X, drop INTx; then ops->reset. */
void pci_dev_reset(struct pci_dev *dev);

/*
 * The BAR range changes that bring the registry in line with the config space
 * (command register, BAR and ROM registers): unmaps first, then maps. BARs
 * whose address is 0, wraps, or lies outside its space are left unmapped.
 * Returns the number of changes written to out (at most PCI_NUM_SLOTS * 2).
 */
unsigned pci_dev_bar_changes(const struct pci_dev *dev, struct pci_range_change *out);
/* Current decoded address of a BAR per config space, or PCI_BAR_UNMAPPED. */
uint64_t pci_dev_bar_addr(const struct pci_dev *dev, unsigned bar);

/* --- interrupts --- */

/*
 * A function's interrupt routes as the guest has set them up, read without
 * side effects, for inventories (ioreqctl status). Fields of a capability
 * the function lacks are 0.
 */
struct pci_irq_info {
    unsigned intx_pin;  /* 1 = INTA# .. 4 = INTD#, 0: no INTx */
    uint8_t intx_line;  /* Interrupt Line register: the routing firmware noted there */
    bool intx_level;    /* the device's request */
    bool intx_asserted; /* what the platform was last told */
    bool intx_disabled; /* Command register's Interrupt Disable */

    bool has_msi;
    bool msi_enabled;
    uint64_t msi_addr;
    uint16_t msi_data;        /* of vector 0; vector n has the low bits replaced by n */
    unsigned msi_vectors;     /* enabled (Multiple Message Enable), at most msi_max_vectors */
    unsigned msi_max_vectors; /* offered (Multiple Message Capable) */
    uint32_t msi_mask;        /* per-vector Mask bits */
    uint32_t msi_pending;     /* vectors raised while masked */

    bool has_msix;
    bool msix_enabled;
    bool msix_function_mask;  /* Message Control's Function Mask */
    unsigned msix_table_size; /* vectors */
    unsigned msix_table_bar;
    uint32_t msix_table_offset;
    unsigned msix_pba_bar;
    uint32_t msix_pba_offset;
};

/* One MSI-X table entry as the guest wrote it. */
struct pci_msix_vector_info {
    uint64_t addr;
    uint32_t data;
    bool masked;  /* the entry's own Mask bit (the function mask is separate) */
    bool pending; /* its PBA bit */
};

void pci_dev_irq_info(const struct pci_dev *dev, struct pci_irq_info *out);
/* 0, or -EINVAL without MSI-X or past the table. */
int pci_msix_vector_info(const struct pci_dev *dev, unsigned vector,
                         struct pci_msix_vector_info *out) must_check;

/* INTx request level; status Interrupt bit follows it, the pin obeys Interrupt Disable and MSI. */
void pci_set_irq(struct pci_dev *dev, bool level);

/*
 * MSI capability with nr_vectors (1, 2, 4 .. 32), 64-bit addresses and
 * per-vector masking. Returns the capability offset or -errno.
 */
int pci_msi_init(struct pci_dev *dev, unsigned nr_vectors) must_check;
bool pci_msi_enabled(const struct pci_dev *dev);
/* 0 delivered, 1 left pending (masked), -EINVAL (disabled or vector not enabled), or the platform's
 * error. */
int pci_msi_notify(struct pci_dev *dev, unsigned vector);

/*
 * MSI-X with nr_vectors (1..2048); table and PBA live at the given offsets of
 * already-declared memory BARs (8-byte aligned, inside the BAR, not
 * overlapping each other). The bus serves those ranges; the rest of the BAR
 * still goes to bar_read/bar_write. Returns the capability offset or -errno.
 */
int pci_msix_init(struct pci_dev *dev, unsigned nr_vectors, unsigned table_bar,
                  uint32_t table_offset, unsigned pba_bar, uint32_t pba_offset) must_check;
bool pci_msix_enabled(const struct pci_dev *dev);
bool pci_msix_masked(const struct pci_dev *dev, unsigned vector);
/* 0 delivered, 1 left pending (masked), -EINVAL (disabled or vector out of range), or the
 * platform's error. */
int pci_msix_notify(struct pci_dev *dev, unsigned vector);

#endif
