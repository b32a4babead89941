/*
 * The io-range registry: which emulated device answers a port-I/O or MMIO
 * address. One registry object per daemon (and per test), one sorted table
 * per address space, binary-searched on every request.
 *
 * Ownership: the registry copies each struct io_range; `ops` and `opaque`
 * stay owned by the device. A handler may map or unmap ranges from inside
 * read()/write() (a BAR moving while its command register is written); the
 * registry never touches an entry after calling into it.
 */
#ifndef IOREQ_IO_RANGE_H
#define IOREQ_IO_RANGE_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

enum io_space {
    IO_SPACE_PIO,
    IO_SPACE_MMIO,
    IO_SPACE_COUNT,
};

/* One access as a device sees it. */
struct io_access {
    uint64_t addr;   /* absolute address in its space */
    uint64_t offset; /* addr - range base */
    unsigned size;   /* 1, 2, 4 or 8 */
    unsigned vcpu;   /* issuing vCPU, for devices with per-CPU state */
};

struct io_ops {
    uint64_t (*read)(void *opaque, const struct io_access *access);
    void (*write)(void *opaque, const struct io_access *access, uint64_t value);
};

/*
 * Accesses dispatched to the ranges of one owner (a device), kept by the
 * owner so that they outlive a range being unmapped or moved. Dispatch adds
 * one to reads or writes before calling the device, nothing more: owners
 * read them on the loop thread that dispatches.
 */
struct io_counter {
    uint64_t reads;
    uint64_t writes;
};

/*
 * One device's counters, kept by whoever created the device and handed to
 * it: accesses dispatched to its ranges (each range it maps names `io`),
 * and config cycles to its PCI functions (counted by the PCI bus).
 */
struct io_counters {
    struct io_counter io;
    struct io_counter cfg;
};

struct io_range {
    enum io_space space;
    uint64_t base;
    uint64_t len;
    const struct io_ops *ops;
    void *opaque;
    const char *name; /* for logs and inspection; must outlive the mapping */
    /*
     * Where this range's accesses are counted (its device's); must outlive
     * the mapping. NULL: the registry's own unowned counter.
     */
    struct io_counter *counter;
};

/*
 * Mirrors the registry to the hypervisor (xendevicemodel_map_io_range_to_
 * ioreq_server on Xen). map() failing makes io_map() fail and leaves the
 * registry unchanged.
 */
struct io_listener {
    int (*map)(void *opaque, const struct io_range *range);
    void (*unmap)(void *opaque, const struct io_range *range);
    void *opaque;
};

struct io_registry;

struct io_registry *io_registry_new(void);
void io_registry_free(struct io_registry *reg);
/* The listener is copied; NULL removes it. */
void io_registry_set_listener(struct io_registry *reg, const struct io_listener *listener);

/* Accesses to ranges mapped with no counter. */
const struct io_counter *io_registry_unowned(const struct io_registry *reg);

/*
 * 0, or -EINVAL (zero length, wraps, bad space, no ops, a PIO range beyond
 * port 0xffff), -EEXIST (overlaps), -ENOMEM, or the listener's error.
 */
int io_map(struct io_registry *reg, const struct io_range *range) must_check;
/* 0 or -ENOENT. */
int io_unmap(struct io_registry *reg, enum io_space space, uint64_t base);

/* Number of ranges in one space, and the i-th in address order (for inspection). */
unsigned io_range_count(const struct io_registry *reg, enum io_space space);
const struct io_range *io_range_at(const struct io_registry *reg, enum io_space space, unsigned i);

/*
 * Dispatch one access. Only accesses of size 1, 2, 4 or 8 lying wholly inside
 * one range reach a device. A read that reaches nothing returns false and
 * sets *value to all-ones of `size`; a write to nothing returns false.
 */
bool io_dispatch_read(struct io_registry *reg, enum io_space space, uint64_t addr, unsigned size,
                      unsigned vcpu, uint64_t *value);
bool io_dispatch_write(struct io_registry *reg, enum io_space space, uint64_t addr, unsigned size,
                       unsigned vcpu, uint64_t value);

static inline uint64_t io_all_ones(unsigned size)
{
    return size >= 8 ? ~(uint64_t)0 : (((uint64_t)1 << (size * 8)) - 1);
}

#endif
