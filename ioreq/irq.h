/*
 * Interrupt lines and MSI sinks handed to device cores, so a device never
 * knows whether it raises an ISA IRQ on Xen, a PCI INTx pin, or a recorder in
 * a unit test.
 */
#ifndef IOREQ_IRQ_H
#define IOREQ_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_line {
    void (*set_level)(void *opaque, bool level);
    void *opaque;
};

struct msi_sink {
    /* 0 or -errno; a failed injection is logged by the caller. */
    int (*inject)(void *opaque, uint64_t addr, uint32_t data);
    void *opaque;
};

static inline void irq_set_level(const struct irq_line *line, bool level)
{
    if (line && line->set_level)
        line->set_level(line->opaque, level);
}

static inline int msi_inject(const struct msi_sink *sink, uint64_t addr, uint32_t data)
{
    if (!sink || !sink->inject)
        return -1;
    return sink->inject(sink->opaque, addr, data);
}

#endif
