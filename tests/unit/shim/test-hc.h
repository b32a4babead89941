/*
 * Shared by the hypercall tests: a mock domain with its hypercall layer,
 * the callbacks recorded, guest memory helpers and the compat (32-bit)
 * structures a 32-bit guest passes, written out here from the ABI.
 */
#ifndef TEST_HC_H
#define TEST_HC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hc-stats.h"
#include "hypercall.h"
#include "mockhv.h"

#define HC_DOMID  7
#define HC_VCPUS  2
#define HC_MEM    (64ull << 20)
#define SCRATCH   0x200000ull /* guest RAM the tests put arguments in */
#define SCRATCH2  0x300000ull
#define HOLE_GFN  0xfdfffull /* in the MMIO hole: not RAM */
#define HVMLOADER "/usr/lib/xen-4.17/boot/hvmloader"
#define SEABIOS   "/usr/share/seabios/bios-256k.bin"

#define HC_MEMORY_OP   12
#define HC_XEN_VERSION 17
#define HC_CONSOLE_IO  18
#define HC_SCHED_OP    29
#define HC_EVTCHN_OP   32
#define HC_HVM_OP      34

struct hc_line {
    unsigned vcpu;
    char text[512];
};

struct hc_fx {
    struct mockhv *hv;
    struct hv_hypercalls *h;
    unsigned nr_lines;
    struct hc_line lines[64];
    unsigned shutdowns;
    unsigned shutdown_vcpu, shutdown_reason;
};

/* compat structures */
struct c_param {
    uint16_t domid, pad;
    uint32_t index;
    uint64_t value;
};
struct c_xatp {
    uint16_t domid, size;
    uint32_t space, idx, gpfn;
};
struct c_reservation {
    uint32_t extent_start, nr_extents, extent_order, mem_flags;
    uint16_t domid, pad;
};
struct c_memmap {
    uint32_t nr_entries, buffer;
};
struct c_poll {
    uint32_t ports, nr_ports;
    uint64_t timeout;
} __attribute__((packed));
struct c_e820 {
    uint64_t addr, size;
    uint32_t type;
} __attribute__((packed));

/* domain with or without xenstore; 0 or -1 */
int hc_fx_setup(struct hc_fx **out, bool xenstore, uint64_t mem);
void hc_fx_teardown(struct hc_fx *fx);
long hc_call(struct hc_fx *fx, unsigned vcpu, unsigned op, uint64_t a0, uint64_t a1, uint64_t a2);
void hc_put(struct hc_fx *fx, uint64_t gpa, const void *buf, size_t len);
void hc_get(struct hc_fx *fx, uint64_t gpa, void *buf, size_t len);
uint32_t hc_get32(struct hc_fx *fx, uint64_t gpa);
uint64_t hc_get64(struct hc_fx *fx, uint64_t gpa);
void hc_put32(struct hc_fx *fx, uint64_t gpa, uint32_t v);
/* HVMOP_get_param / set_param through guest memory at SCRATCH2 */
long hc_get_param(struct hc_fx *fx, uint16_t domid, uint32_t index, uint64_t *value);
long hc_set_param(struct hc_fx *fx, uint16_t domid, uint32_t index, uint64_t value);
/* maps the shared info page at gfn */
long hc_map_shinfo(struct hc_fx *fx, uint64_t gfn);
uint64_t hc_now(struct hc_fx *fx); /* HVMOP_get_time */

#endif
