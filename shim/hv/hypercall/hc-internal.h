/*
 * State of the hypercall layer (one per mock domain) shared by its files.
 *
 * Locks: `lock` covers the memory bookkeeping, the shared info page's
 * event bits and the waiters' condition; it is taken before mockhv.lock
 * (guest RAM, p2m, HVM params), never after. `console_lock` covers the
 * console line buffer only. No lock is held while a hv_hypercall_config
 * callback runs, except console_lock around console_line.
 *
 * The guest is 32-bit (hvmloader, SeaBIOS): structures are read in Xen's
 * compat layouts (xen/include/compat, packed to 4 bytes), pointers and
 * unsigned longs are 32 bits, and the shared info page is in the 32-bit
 * format Xen latches when a 32-bit guest asks for its hypercall page
 * (hvm_latch_shinfo_size).
 */
#ifndef SHIM_HV_HC_INTERNAL_H
#define SHIM_HV_HC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hc-stats.h"
#include "hv-internal.h"
#include "hypercall.h"

#define HC_LEGACY_VCPUS 32   /* XEN_LEGACY_MAX_VCPUS: vcpu_info slots in the shared info page */
#define HC_2L_PORTS     1024 /* 2-level event channels of a 32-bit guest: 32 words of 32 bits */
#define HC_PORT_BUCKET  64   /* Xen allocates a domain's ports 64 at a time (EVTCHNS_PER_BUCKET) */
#define HC_MAX_E820     8
#define HC_PBUF_SIZE    200 /* DOMAIN_PBUF_SIZE */
#define HC_SLACK_PAGES  256 /* libxl's headroom over the RAM: LIBXL_MAXMEM_CONSTANT, 1 MiB */
/* What one call handles where Xen would go on through continuations. */
#define HC_CONSOLE_MAX (64u * 1024)
#define HC_MEMOP_MAX   65536u     /* extents of one reservation call */
#define HC_MEMOP_PAGES (1u << 20) /* pages of one reservation call */
/* SCHEDOP_block without an event: the vCPU looks at its interrupts again after this. */
#define HC_BLOCK_SLICE_NS 10000000ull

/* Xen's special pages (tools/libs/guest/xg_dom_x86.c, xenguest.h). */
#define HC_NR_SPECIAL         8
#define HC_SPECIAL_END        0xff000u
#define HC_SPECIAL_PFN(i)     (HC_SPECIAL_END - HC_NR_SPECIAL + (i))
#define HC_SPECIAL_PAGING     0
#define HC_SPECIAL_ACCESS     1
#define HC_SPECIAL_SHARING    2
#define HC_SPECIAL_BUFIOREQ   3
#define HC_SPECIAL_XENSTORE   4
#define HC_SPECIAL_IOREQ      5
#define HC_SPECIAL_IDENT_PT   6
#define HC_SPECIAL_CONSOLE    7
#define HC_IOREQ_SERVER_PAGES 8 /* below the special pages: hvm_info's reserved_mem_pgstart */

/* struct e820entry as Xen's ABI has it (packed, 20 bytes). */
struct hc_e820 {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct hc_e820) == 20, "e820entry is 20 bytes");

/* The relay between the guest's xenstore ring and the embedded xenstored. */
struct hc_xsbridge {
    int fd;      /* our end of the domain's connection to mockxs, -1: none */
    int wake_fd; /* eventfd: pump the ring now, or stop */
    pthread_t thread;
    bool running;
    bool stop;
    bool want_write; /* the socket took only part of the requests: poll for POLLOUT */
    bool want_read;  /* the response ring has room: poll for POLLIN */
    uint8_t *ring;   /* the ring page (a pinned headroom page), NULL before boot */
    uint32_t port;   /* the guest's end */
};

struct hv_hypercalls {
    struct mockhv *hv;
    struct hv_hypercall_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* broadcast on every event delivery and on interrupt_waits */
    uint64_t events;     /* bumped with each broadcast */
    bool stopping;       /* hv_hypercalls_interrupt_waits ran: nothing blocks any more */
    bool booted;

    /* Xen's system time: CLOCK_MONOTONIC since create; the TSC the vCPU
     * reads is the host's (unicorn's RDTSC is QEMU's cpu_get_host_ticks). */
    uint64_t mono0_ns, wall0_ns, tsc0, tsc_hz;
    uint32_t tsc_mul;
    int8_t tsc_shift;

    /* The shared info page: a page of the RAM memfd behind the RAM, wherever mapped. */
    uint8_t *shinfo;
    int64_t shinfo_off;

    /* Memory bookkeeping of XENMEM_*: the domain's pages and its maximum;
     * headroom pages in use (populated) and pinned (the special pages, which
     * xenstored and xenconsoled keep mapped). */
    uint64_t tot_pages, max_pages;
    /* p2m entries removed by the guest's memory ops (p2m_remove_page): the
     * vCPU then asks the device models to invalidate their map caches */
    uint64_t p2m_removals;
    int64_t slack_off; /* memfd offset of the headroom's first page */
    bool slack_used[HC_SLACK_PAGES];
    bool slack_pinned[HC_SLACK_PAGES];
    unsigned nr_e820;
    struct hc_e820 e820[HC_MAX_E820];
    uint32_t shutdown_code;

    pthread_mutex_t console_lock;
    unsigned pbuf_idx;
    char pbuf[HC_PBUF_SIZE];

    struct hc_xsbridge xs;
    struct hv_hypercall_stats stats;
};

/* hypercall.c: guest memory, all or nothing; -EFAULT unless every byte is RAM. */
int hc_read(struct hv_hypercalls *h, uint64_t gpa, void *buf, uint64_t len);
int hc_write(struct hv_hypercalls *h, uint64_t gpa, const void *buf, uint64_t len);
int hc_check(struct hv_hypercalls *h, uint64_t gpa, uint64_t len);
/* 0: domid names the calling domain (DOMID_SELF or its own id); else
 * Xen's answer for another domain (dom0 exists but is not an HVM target). */
int hc_domain(const struct hv_hypercalls *h, uint16_t domid, int other_rc);
void hc_count(struct hv_hypercalls *h, uint64_t *counter);

/* hc-shinfo.c (callers hold lock) */
int hc_shinfo_init(struct hv_hypercalls *h);
uint64_t hc_system_time(const struct hv_hypercalls *h);
void hc_time_update(struct hv_hypercalls *h, unsigned vcpu);
/* XENMAPSPACE_shared_info: the page moves to gfn. */
int hc_shinfo_map(struct hv_hypercalls *h, uint64_t gfn);
/* 2-level set_pending for the guest's port, then wakes the waiters. */
void hc_evtchn_set_pending(struct hv_hypercalls *h, uint32_t port);
bool hc_evtchn_pending(const struct hv_hypercalls *h, uint32_t port);
bool hc_upcall_pending(const struct hv_hypercalls *h, unsigned vcpu);
void hc_upcall_unmask(struct hv_hypercalls *h, unsigned vcpu);
void hc_wake(struct hv_hypercalls *h);
/* Xen's scale for ticks_per_sec (set_time_scale): ns = (ticks << shift) * mul >> 32. */
void hc_time_scale(uint64_t ticks_per_sec, uint32_t *mul, int8_t *shift);

/* The hypercalls, args already cut to the 32-bit ABI. */
long hc_xen_version(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);
long hc_memory_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);
long hc_hvm_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);
long hc_sched_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);
long hc_event_channel_op(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);
long hc_console_io(struct hv_hypercalls *h, unsigned vcpu, const uint32_t *a);

/* hc-memory.c (callers hold lock) */
/* The headroom's pages, appended to the RAM memfd at creation. */
int hc_slack_init(struct hv_hypercalls *h);
/* A page of the headroom for frame gfn (zeroed); -ENOMEM when none is left. */
int hc_slack_populate(struct hv_hypercalls *h, uint64_t gfn, bool pinned, int64_t *off);

/* hc-xsbridge.c */
int hc_xs_start(struct hv_hypercalls *h, uint8_t *ring, uint32_t port);
void hc_xs_stop(struct hv_hypercalls *h);
/* The guest notified its xenstore port, or waits on it: pump the ring. */
void hc_xs_kick(struct hv_hypercalls *h);
/* Lock held; the guest polls port: the store port is set pending again
 * when the response ring holds bytes the guest has not read. */
void hc_xs_poll_locked(struct hv_hypercalls *h, uint32_t port);

#endif
