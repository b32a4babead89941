/*
 * What a device is, for the device itself and for whoever creates it: its
 * type (struct device_type: options, create, report ...), the environment
 * it is created in, and its spec. A device spec on the command line or in
 * the config file looks like "uart,port=0x3f8,irq=4,backend=pty": the type
 * name, then key=value options. Devices include this header; the table of
 * every type is device-table.h's.
 */
#ifndef DEVICES_DEVICE_H
#define DEVICES_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "gmem.h"
#include "io-range.h"
#include "hv-services.h"
#include "report.h"

struct event_base;
struct pci_bus;

#define DEVICE_SPEC_MAX_OPTS 32

struct device_opt {
    char *key;
    char *value; /* "" for a bare flag */
    int used;    /* set by device_spec_get; unused options are errors */
};

/*
 * One option a device type takes: the only place its syntax is written.
 * --help shows it, ioreqd(8) is checked against it (test-device-table),
 * and device_spec_get() refuses to read an option its type does not list.
 */
struct device_option {
    const char *key;
    const char *value; /* what it takes, as --help shows it ("PATH", "on", "1-4"); NULL: a flag */
    bool required;
    /* Nonzero: exactly one of the adjacent options with this number is required (tap=|socket=). */
    unsigned char one_of;
    bool common; /* documented once for every device that takes it (bdf=), not per device */
};

struct device_spec {
    char *type;
    struct device_opt opts[DEVICE_SPEC_MAX_OPTS];
    unsigned nr_opts;
    /* The options its type lists, once bound (device_spec_bind); NULL: not checked. */
    const struct device_option *declared;
};

/* What a device is created in. All of it outlives the device. */
struct device_env {
    uint16_t domid;
    struct io_registry *io;
    struct gmem *gmem;
    struct pci_bus *pci;
    struct hv_services hv;
    struct event_base *base;
    /*
     * Where the device's accesses are counted (may be NULL): every range it
     * maps names counters->io, every PCI function it adds has them
     * (pci_dev_set_counters). Kept by the creator, outliving the device.
     */
    struct io_counters *counters;
    /* Publish key (relative to the device's own xenstore dir) = value; may be NULL. */
    int (*publish)(void *opaque, const char *key, const char *value);
    void *publish_opaque;
};

struct device_type {
    const char *name;
    const char *summary; /* one line for --help: what it is */
    /* Every option create() and check() read, ending with a {NULL} entry. */
    const struct device_option *options;
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
    /*
     * Optional: the instance reports itself (report.h), on the loop thread:
     * its PCI functions first (pci_dev_report), then its own items (ports,
     * IRQ, backend, image as identity; what the guest and traffic change as
     * state) and its counters. The xenstore inventory holds its identity,
     * ioreqctl status all its items, ioreqctl stats its counters.
     */
    void (*report)(void *dev, const struct report_sink *sink);
    /*
     * Optional: the ISA IRQs the instance drives, bit n for IRQ n (PCI INTx
     * and MSI are not ISA IRQs). Without it: none.
     */
    uint16_t (*isa_irqs)(void *dev);
};

/* From now on spec reads only the options type lists (device_spec_get). */
void device_spec_bind(struct device_spec *spec, const struct device_type *type);
/* ",file=PATH[,readonly=on]...": type's options as --help shows them after its name. */
void device_options_text(const struct device_type *type, char *buf, size_t len);

/* The instance's report as one line: every item (ioreqctl status), or its identity (xenstore). */
void device_describe(const struct device_type *type, void *dev, char *buf, size_t len);
void device_identity(const struct device_type *type, void *dev, char *buf, size_t len);

/* "type,key=value,..." → spec; 0 or -EINVAL with errbuf filled. */
int device_spec_parse(const char *text, struct device_spec *spec, char *errbuf,
                      size_t errlen) must_check;
void device_spec_free(struct device_spec *spec);
/*
 * The option's value (marking it used), or NULL. An option the bound type
 * does not list reads as absent, and the device's bug is logged.
 */
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
