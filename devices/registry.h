/*
 * The device table: every device type ioreqd can emulate, in one explicit,
 * ordered array (registry.c). A device spec on the command line or in the
 * config file looks like "uart,port=0x3f8,irq=4,backend=pty" — the type
 * name, then key=value options.
 */
#ifndef DEVICES_REGISTRY_H
#define DEVICES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "gmem.h"
#include "io-range.h"
#include "platform.h"

struct event_base;
struct pci_bus;

#define DEVICE_SPEC_MAX_OPTS 32

struct device_opt {
    char *key;
    char *value; /* "" for a bare flag */
    int used;    /* set by device_spec_get; unused options are errors */
};

struct device_spec {
    char *type;
    struct device_opt opts[DEVICE_SPEC_MAX_OPTS];
    unsigned nr_opts;
};

/* What a device is created in. All of it outlives the device. */
struct device_env {
    uint16_t domid;
    struct io_registry *io;
    struct gmem *gmem;
    struct pci_bus *pci;
    struct dm_platform platform;
    struct event_base *base;
    /* Publish key (relative to the device's own xenstore dir) = value; may be NULL. */
    int (*publish)(void *opaque, const char *key, const char *value);
    void *publish_opaque;
};

/*
 * Where a device reports its counters: one call per counter. Names are
 * fixed lower_snake_case strings; values only grow while the device lives.
 */
struct device_counter_sink {
    void (*counter)(void *opaque, const char *name, uint64_t value);
    void *opaque;
};

struct device_type {
    const char *name;
    const char *summary; /* one line for --help and ioreqd(8) */
    /*
     * 0 or -errno. On error the device writes a one-line explanation into
     * errbuf (errlen bytes, always NUL-terminated), or leaves it empty when
     * strerror(-rc) says it all. Options it reads are marked used.
     */
    int (*create)(const struct device_env *env, struct device_spec *spec, void **dev, char *errbuf,
                  size_t errlen);
    /*
     * Optional: checks the options and their values as create() would,
     * creating nothing (no file, socket or terminal is opened), and marks
     * the options it reads used. 0 or -EINVAL with errbuf filled. A type
     * without it is checked by creating it on a scratch bus with no
     * hypervisor (device_spec_check), so its create() must then have no
     * effect outside the process.
     */
    int (*check)(struct device_spec *spec, char *errbuf, size_t errlen);
    /* Make every completed write durable (backends): called on teardown. */
    int (*flush)(void *dev);
    void (*destroy)(void *dev);
    /* One line describing the instance now (BDF, BARs, backend, state), for ioreqctl status. */
    void (*describe)(void *dev, char *buf, size_t len);
    /*
     * Optional: one line of what the instance is and where, which stays
     * true while it lives (BDF and IDs, ports, IRQ, backend, image): no
     * counter, nothing the guest sets. It is what the xenstore inventory
     * holds. Without it the inventory holds the identity of the device's
     * PCI functions (pci_dev_identity), or nothing.
     */
    void (*identity)(void *dev, char *buf, size_t len);
    /* Optional: report the instance's counters (ioreqctl stats), on the loop thread. */
    void (*counters)(void *dev, const struct device_counter_sink *sink);
    /*
     * Optional: the ISA IRQs the instance drives, bit n for IRQ n (PCI INTx
     * and MSI are not ISA IRQs). Without it: none.
     */
    uint16_t (*isa_irqs)(void *dev);
};

/* The table, NULL-terminated. */
extern const struct device_type *const device_types[];
const struct device_type *device_type_find(const char *name);

/*
 * Checks a parsed spec against its type before anything is started: every
 * option known, every value valid (type->check, or a scratch creation).
 * 0; -EINVAL with errbuf filled, "uart device has no option 'bogus'" for an
 * option the device does not know; -ENOMEM. The options' used marks are
 * cleared again, so create() can mark them afresh.
 */
int device_spec_check(const struct device_type *type, struct device_spec *spec, char *errbuf,
                      size_t errlen) must_check;

/* "type,key=value,..." → spec; 0 or -EINVAL with errbuf filled. */
int device_spec_parse(const char *text, struct device_spec *spec, char *errbuf,
                      size_t errlen) must_check;
void device_spec_free(struct device_spec *spec);
/* The option's value (marking it used), or NULL. */
const char *device_spec_get(struct device_spec *spec, const char *key);
/* The first option no device_spec_get() asked for, or NULL. */
const char *device_spec_unused(const struct device_spec *spec);
/*
 * Typed options. Absent: *out = dflt and 0. Present but malformed or out of
 * [min, max]: -EINVAL with errbuf naming the option. Numbers are decimal or
 * 0x-hex; booleans are on/off, yes/no, true/false, 1/0, or a bare flag (on).
 */
int device_spec_get_uint(struct device_spec *spec, const char *key, uint64_t min, uint64_t max,
                         uint64_t dflt, uint64_t *out, char *errbuf, size_t errlen) must_check;
int device_spec_get_bool(struct device_spec *spec, const char *key, bool dflt, bool *out,
                         char *errbuf, size_t errlen) must_check;

#endif
