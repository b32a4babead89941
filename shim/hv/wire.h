/*
 * The wire protocol between the drop-in libxen* libraries (shim/lib/) and
 * the mock hypervisor (shim/hv/). shim/PROTOCOL.md is the prose version.
 *
 * One SOCK_SEQPACKET unix connection per library handle. Every message is
 * one packet: a fixed header plus a bounded payload; descriptors (guest
 * RAM, ioreq pages, the evtchn event pipe) travel as SCM_RIGHTS. Requests
 * are answered in order with exactly one reply, except the one-way ops
 * (WIRE_OP_EVTCHN_NOTIFY, WIRE_OP_EVTCHN_UNMASK) which are never answered.
 */
#ifndef SHIM_WIRE_H
#define SHIM_WIRE_H

#include <stdint.h>

#define WIRE_MAGIC   0x4d584e31u /* "MXN1" */
#define WIRE_VERSION 1
/* Largest packet either way, header included. */
#define WIRE_MAX_MSG 65536

enum wire_kind {
    WIRE_KIND_EVTCHN = 1,
    WIRE_KIND_FMEM = 2,
    WIRE_KIND_DM = 3,
    WIRE_KIND_XC = 4,
};

enum wire_op {
    /* a[0] = magic, a[1] = version, a[2] = kind. Reply r[0] = mock domid,
     * r[1] = nr vcpus; an EVTCHN hello carries the event pipe's read end. */
    WIRE_OP_HELLO = 1,
    /* all kinds: a[0] = domid to restrict to */
    WIRE_OP_RESTRICT,

    /* evtchn: replies r[0] = local port */
    WIRE_OP_EVTCHN_BIND_INTERDOMAIN, /* domid, a[0] = remote port */
    WIRE_OP_EVTCHN_BIND_UNBOUND,     /* domid */
    WIRE_OP_EVTCHN_BIND_VIRQ,        /* a[0] = virq */
    WIRE_OP_EVTCHN_UNBIND,           /* a[0] = port */
    WIRE_OP_EVTCHN_NOTIFY,           /* a[0] = port; one-way */
    WIRE_OP_EVTCHN_UNMASK,           /* a[0] = port; one-way */

    /* foreignmemory */
    WIRE_OP_FMEM_RAM, /* domid; reply fd, r[0] = bytes, r[1] = low RAM end, r[2] = high RAM start */
    WIRE_OP_FMEM_RESOURCE,      /* domid, a[0] type, a[1] id, a[2] frame, a[3] nr; reply fd, r[0] =
                                   offset of `frame` in the fd */
    WIRE_OP_FMEM_RESOURCE_SIZE, /* domid, a[0] type, a[1] id; r[0] = frames */
    WIRE_OP_FMEM_TRANSLATE,     /* domid, a[0] frames, payload u64 gfns; reply payload
                                   i64 memfd offsets, -1 for frames that are not RAM */

    /* devicemodel: domid in the header, arguments in a[] */
    WIRE_OP_DM_CREATE_SERVER,    /* a[0] handle_bufioreq; r[0] = id */
    WIRE_OP_DM_GET_SERVER_INFO,  /* a[0] id; r[0] = bufioreq port */
    WIRE_OP_DM_MAP_RANGE,        /* a[0] id, a[1] type, a[2] start, a[3] end */
    WIRE_OP_DM_UNMAP_RANGE,      /* same */
    WIRE_OP_DM_MAP_PCIDEV,       /* a[0] id, a[1] seg, a[2] bus, a[3] dev, a[4] fn */
    WIRE_OP_DM_UNMAP_PCIDEV,     /* same */
    WIRE_OP_DM_SET_SERVER_STATE, /* a[0] id, a[1] enabled */
    WIRE_OP_DM_DESTROY_SERVER,   /* a[0] id */
    WIRE_OP_DM_SET_PCI_INTX,     /* a[0] seg, a[1] bus, a[2] dev, a[3] intx, a[4] level */
    WIRE_OP_DM_SET_ISA_IRQ,      /* a[0] irq, a[1] level */
    WIRE_OP_DM_SET_LINK_ROUTE,   /* a[0] link, a[1] irq */
    WIRE_OP_DM_INJECT_MSI,       /* a[0] addr, a[1] data */
    WIRE_OP_DM_TRACK_DIRTY_VRAM, /* a[0] first pfn, a[1] nr, a[2] bitmap bytes; payload
                                    the (nr + 7) / 8 byte bitmap */
    WIRE_OP_DM_MODIFIED_MEMORY,  /* payload: a[0] extents of struct wire_extent */
    WIRE_OP_DM_SET_MEM_TYPE,     /* a[0] type, a[1] first pfn, a[2] nr */
    WIRE_OP_DM_SHUTDOWN,         /* a[0] reason */
    WIRE_OP_DM_RELOCATE_MEMORY,  /* a[0] size, a[1] src gfn, a[2] dst gfn */
    WIRE_OP_DM_PIN_CACHEATTR,    /* a[0] start, a[1] end, a[2] type */
    WIRE_OP_DM_NR_VCPUS,         /* r[0] = vcpus */
    WIRE_OP_DM_MAP_MEM_TYPE,     /* a[0] id, a[1] type, a[2] flags */
    WIRE_OP_DM_INJECT_EVENT,     /* a[0] vcpu, a[1] vector, a[2] type, a[3] error, a[4] insn len,
                                    a[5] extra */
    WIRE_OP_DM_SET_IRQ_LEVEL,    /* a[0] irq, a[1] level */

    /* xenctrl */
    WIRE_OP_XC_DOMAIN_INFO,   /* a[0] first domid, a[1] max; payload struct wire_dominfo[] */
    WIRE_OP_XC_HVM_PARAM_GET, /* domid, a[0] index; r[0] = value */
    WIRE_OP_XC_HVM_PARAM_SET, /* domid, a[0] index, a[1] value */

    /* evtchn: reply fd = the connection's event page (struct wire_evport
     * [WIRE_EVP_PORTS], a memfd), r[0] = its size in bytes */
    WIRE_OP_EVTCHN_SHARED,

    /* xenctrl: domid, a[0] extents, a[1] order, payload u64 first gfn of each */
    WIRE_OP_XC_POPULATE_PHYSMAP,

    WIRE_OP_MAX,
};

struct wire_req {
    uint32_t op;
    uint16_t domid;
    uint16_t pad;
    uint64_t a[6];
    /* followed by a bounded payload (modified-memory extents) */
};

struct wire_rep {
    int32_t ret;  /* >= 0, or -errno */
    uint32_t len; /* payload bytes after this header */
    uint64_t r[4];
};

struct wire_extent {
    uint64_t first_pfn;
    uint32_t nr;
    uint32_t pad;
};

#define WIRE_DOMINFO_HVM      (1u << 0)
#define WIRE_DOMINFO_SHUTDOWN (1u << 1)
#define WIRE_DOMINFO_CRASHED  (1u << 2)
#define WIRE_DOMINFO_RUNNING  (1u << 3)
#define WIRE_DOMINFO_DYING    (1u << 4)

struct wire_dominfo {
    uint32_t domid;
    uint32_t flags;
    uint32_t shutdown_reason;
    uint32_t nr_vcpus; /* max_vcpu_id + 1 */
    uint64_t nr_pages;
    uint64_t max_pages;
    uint32_t ssidref;
    uint32_t pad;
    uint8_t handle[16];
};

/*
 * The event page of an evtchn connection, shared by the mock and the
 * library, one entry per dom0 port number (only this connection's ports
 * mean anything in it). `state` holds /dev/xen/evtchn's per-port mask and
 * pending bits, so the library unmasks without a message unless a firing
 * is pending; `notify` is a counter and futex word: for a port marked
 * DIRECT (set by the mock: bound to an ioreq server's vCPU port) the
 * library notifies by incrementing it and waking the futex, and the
 * waiting vCPU sleeps on it. Both sides treat the page as untrusted.
 */
#define WIRE_EVP_PORTS   4096
#define WIRE_EVP_MASKED  (1u << 0) /* delivered, not unmasked since */
#define WIRE_EVP_PENDING (1u << 1) /* fired while masked */
#define WIRE_EVP_DIRECT  (1u << 2) /* notify through `notify` (mock-owned bit) */

struct wire_evport {
    uint32_t state;
    uint32_t notify;
};

#define WIRE_MAX_EXTENTS ((WIRE_MAX_MSG - sizeof(struct wire_req)) / sizeof(struct wire_extent))
/* FMEM_TRANSLATE's offset for a frame Xen has paged out (privcmd: ENOENT) */
#define WIRE_OFF_PAGED_OUT (-2)
/* extents per XC_POPULATE_PHYSMAP */
#define WIRE_MAX_POPULATE 4096
/* frames per FMEM_TRANSLATE; the reply must fit a client's 4 KiB buffer */
#define WIRE_MAX_TRANSLATE 500

#endif
