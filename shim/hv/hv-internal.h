/*
 * State of the mock hypervisor shared by its modules. Everything below is
 * protected by mockhv.lock unless a field says otherwise; the socket thread
 * and the guest (vCPU) threads both take it, briefly.
 */
#ifndef SHIM_HV_INTERNAL_H
#define SHIM_HV_INTERNAL_H

#include <xenctrl.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/params.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "mockhv.h"
#include "wire.h"

#define HV_PAGE_SIZE           4096u
#define HV_MAX_SERVERS         8   /* MAX_NR_IOREQ_SERVERS */
#define HV_MAX_RANGES          256 /* Xen's MAX_NR_IO_RANGES per rangeset */
#define HV_MAX_PORTS           4096
#define HV_IRQ_HISTORY         4096
#define HV_MOD_HISTORY         4096
#define HV_LOW_RAM_LIMIT       0xe0000000ull /* RAM above continues at 4 GiB */
#define HV_HIGH_RAM_START      0x100000000ull
#define HV_NR_HVM_PARAMS       HVM_NR_PARAMS
#define HV_RANGE_TYPES         3
#define HV_MAX_P2M_OVERRIDES   65536      /* frames moved by relocate_memory or left as holes */
#define HV_VRAM_MAX_FRAMES     (1u << 18) /* track_dirty_vram: GB(1) >> PAGE_SHIFT, as dm.c */
#define HV_MAX_MEM_TYPE_RANGES 65536      /* set_mem_type records (a bound of the mock's) */
#define HV_MAX_CACHEATTR       64         /* pinned cache attribute ranges, Xen's bound */
#define HV_PADDR_BITS          52
/* Pages of the RAM memfd after the RAM (hv-memory.c): Xen's shared info
 * page, then libxl's headroom over the RAM (LIBXL_MAXMEM_CONSTANT, 1 MiB). */
#define HV_XEN_PAGES   1
#define HV_SLACK_PAGES 256
#define HV_EXTRA_PAGES (HV_XEN_PAGES + HV_SLACK_PAGES)

struct event_base;
struct event;
struct mockxs;
struct hv_hvm;

/* A sorted, merged set of inclusive ranges, like Xen's rangeset. */
struct hv_rangeset {
    unsigned nr;
    uint64_t start[HV_MAX_RANGES];
    uint64_t end[HV_MAX_RANGES];
};

/* p2m changes made by relocate_memory: frame -> memfd offset, -1 = hole */
struct hv_p2m_entry {
    uint64_t gfn;
    int64_t off;
};

struct hv_p2m {
    unsigned nr, cap;
    struct hv_p2m_entry *e; /* sorted by gfn */
};

/* The range track_dirty_vram watches (hv-dirty-vram.c). */
struct hv_vram {
    uint64_t first, nr; /* nr = 0: not tracking */
    uint8_t *dirty;     /* (nr + 7) / 8 bytes, bit i = frame first + i written since collected */
};

/* Frames with a memory type or cache attribute a device model set. */
struct hv_mem_range {
    uint64_t first, last; /* inclusive */
    uint32_t type;        /* HVMMEM_* or XEN_DMOP_MEM_CACHEATTR_* */
};

/* set_mem_type records: sorted, disjoint, neighbours of one type merged. */
struct hv_mem_types {
    unsigned nr, cap;
    struct hv_mem_range *r;
};

struct hv_server {
    bool used;
    bool enabled;
    uint16_t id;
    int bufioreq; /* HVM_IOREQSRV_BUFIOREQ_* */
    int memfd;    /* page 0 buffered ring, page 1 slots */
    buffered_iopage_t *buf;
    shared_iopage_t *slots;
    uint32_t vcpu_port[MOCKHV_MAX_VCPUS]; /* guest-side ports */
    uint32_t buf_port;                    /* 0 without buffered ioreqs */
    struct hv_rangeset ranges[HV_RANGE_TYPES];
    uint64_t requests_sent;
    uint64_t buffered_sent;
};

enum hv_port_state { HV_PORT_FREE, HV_PORT_UNBOUND, HV_PORT_INTERDOMAIN, HV_PORT_VIRQ };

/* An event channel end. dom0 ends belong to an evtchn connection; guest ends
 * to an ioreq server (vcpu port or buffered port). */
struct hv_port {
    enum hv_port_state state;
    uint16_t remote_domid; /* for UNBOUND: who may bind it */
    bool peer_is_guest;    /* peer end lives in the guest's table */
    uint32_t peer;         /* peer port number when INTERDOMAIN */
    struct hv_conn *conn;  /* dom0 end: owning evtchn handle */
    bool masked, pending;  /* dom0 end: /dev/xen/evtchn delivery state (in the
                              connection's event page instead when it has one) */
    int server;            /* guest end: server id, -1 none */
    int vcpu;              /* guest end: vCPU, -1 for the buffered port */
};

struct hv_porttable {
    unsigned nr; /* highest used + 1 */
    struct hv_port port[HV_MAX_PORTS];
};

/* An evtchn connection's event page (wire.h struct wire_evport). Held by
 * the connection and by each vCPU sleeping on one of its notify words. */
struct hv_evpage {
    int refs;
    struct wire_evport *port; /* WIRE_EVP_PORTS entries, shared with the library */
};

struct hv_conn {
    struct mockhv *hv;
    int fd;
    enum wire_kind kind;   /* 0 before HELLO */
    int restrict_domid;    /* -1: unrestricted */
    int event_wr;          /* evtchn: write end of the event pipe, -1 */
    struct hv_evpage *evp; /* evtchn: event page once asked for, else NULL */
    struct event *ev;
    struct hv_conn *next;
};

struct hv_vcpu {
    pthread_mutex_t use; /* held by the thread issuing an access from this vCPU */
    int inflight;        /* server id with our request in its slot, -1 */
    /* What a waiting vCPU sleeps on (a futex counter, bumped by each
     * notification, abort and stop): its port's notify word in the device
     * model's event page, or `word` when the port has none. */
    uint32_t word;
    uint32_t *wait_word;
    struct hv_evpage *wait_evp; /* reference held while waiting, or NULL */
    bool aborted;               /* the server went away while we waited */
    int stuck;                  /* server id we timed out on, -1 */
};

struct hv_irq_log {
    uint64_t last_seq;
    struct mockhv_irq_record rec[HV_IRQ_HISTORY];
    bool isa_level[16];
    /* INTx levels per bus 0 device, pin */
    bool intx_level[32][4];
    pthread_cond_t cond;
};

struct mockhv {
    pthread_mutex_t lock;
    pthread_mutex_t cfg_lock; /* 0xCF8 latch users of the guest API */
    uint16_t domid;
    unsigned nr_vcpus;
    char name[64];
    char *sock_path;
    char *xs_path;
    char *tmpdir; /* removed on destroy when we made it */
    char env_sock[300], env_xs[300];
    const char *envp[3];

    /* guest RAM */
    int ram_fd;
    uint8_t *ram;
    uint64_t ram_bytes;
    uint64_t low_end; /* RAM [0, low_end) and [4G, 4G + ram_bytes - low_end) */
    struct hv_p2m p2m;
    uint64_t max_gfn; /* highest frame ever mapped (Xen's max_mapped_pfn) */
    uint64_t p2m_gen; /* bumped (atomically) by every p2m change */
    struct hv_vram vram;
    struct hv_mem_types mem_types;
    struct {
        bool claimed; /* a server claimed HVMMEM_ioreq_server frames */
        uint16_t server;
        uint32_t flags; /* XEN_DMOP_IOREQ_MEM_ACCESS_* */
    } ioreq_mem;
    unsigned nr_cacheattr;
    struct hv_mem_range cacheattr[HV_MAX_CACHEATTR]; /* pinned, in frame order */

    uint64_t params[HV_NR_HVM_PARAMS];
    int shutdown_reason;
    bool crashed;
    /* mockhv_domain_destroy() ran: hypercalls naming the domain fail with
     * ESRCH, guest accesses with -ESHUTDOWN (written under lock, read
     * atomically by mockhv_domain_destroyed) */
    bool gone;
    uint32_t pci_cf8;
    uint64_t mem_type_calls;
    uint64_t pci_link_route[4];

    struct hv_server servers[HV_MAX_SERVERS];
    struct hv_porttable dom0_ports;
    struct hv_porttable guest_ports;
    struct hv_vcpu vcpus[MOCKHV_MAX_VCPUS];
    struct hv_irq_log irqs;
    struct {
        uint64_t last_seq;
        struct mockhv_modified rec[HV_MOD_HISTORY];
    } modified;
    struct mockhv_stats stats;

    /* socket thread */
    pthread_t thread;
    bool thread_running;
    struct event_base *base;
    int listen_fd;
    struct event *listen_ev;
    int stop_pipe[2];
    struct event *stop_ev;
    struct hv_conn *conns;
    int nr_conns;
    bool stopping;
    struct mockxs *xs;
    struct hv_hvm *hvm; /* the firmware guest (shim/hv/cpu/), or NULL */
    bool xs_released;   /* hv_xenstore_release() ran (not under lock: one caller at a time) */
};

/* hv-memory.c (callers hold mockhv.lock) */
enum hv_ram_op { HV_RAM_CHECK, HV_RAM_READ, HV_RAM_WRITE, HV_RAM_FILL_ONES };
int hv_memory_init(struct mockhv *hv, uint64_t bytes);
void hv_memory_fini(struct mockhv *hv);
/* memfd offset of a frame, -1 if it is not RAM */
int64_t hv_p2m_lookup(const struct mockhv *hv, uint64_t gfn);
int hv_p2m_relocate(struct mockhv *hv, uint64_t src, uint64_t dst, uint64_t nr);
/* Frame gfn now shows memfd offset off (-1: a hole), whatever it showed before. */
int hv_p2m_map(struct mockhv *hv, uint64_t gfn, int64_t off);
/* memfd offset of extra page index (< HV_EXTRA_PAGES), else -1 */
int64_t hv_extra_page_offset(const struct mockhv *hv, unsigned index);
/* Page by page through the p2m; -EFAULT (nothing done) unless every page is RAM. */
int hv_ram_access(struct mockhv *hv, uint64_t gpa, void *buf, uint64_t len, enum hv_ram_op op);
int hv_fmem_translate(struct mockhv *hv, const struct wire_req *req, size_t len, void *out,
                      uint32_t *out_len);

/* hv-dirty-vram.c (callers hold mockhv.lock) */
/* WIRE_OP_DM_TRACK_DIRTY_VRAM: the bitmap goes to out, *out_len its bytes. */
int hv_vram_track(struct mockhv *hv, const struct wire_req *req, void *out, uint32_t *out_len);
/* Frames the guest wrote, or newly mapped: dirty if tracked. */
void hv_vram_mark(struct mockhv *hv, uint64_t gfn, uint64_t nr);
/* Frames that stopped being RAM: never reported dirty. */
void hv_vram_forget(struct mockhv *hv, uint64_t gfn, uint64_t nr);
void hv_vram_fini(struct mockhv *hv);

/* hv-memtype.c (callers hold mockhv.lock) */
/* WIRE_OP_DM_SET_MEM_TYPE, WIRE_OP_DM_MAP_MEM_TYPE, WIRE_OP_DM_PIN_CACHEATTR */
int hv_set_mem_type(struct mockhv *hv, uint64_t type, uint64_t first, uint64_t nr);
int hv_map_mem_type(struct mockhv *hv, uint64_t id, uint64_t type, uint64_t flags);
int hv_pin_cacheattr(struct mockhv *hv, uint64_t start, uint64_t end, uint64_t type);
/* HVMMEM_* type of a frame */
uint32_t hv_memtype_of(const struct mockhv *hv, uint64_t gfn);
/* Frames remapped by relocate_memory: back to their default type. */
void hv_memtype_forget(struct mockhv *hv, uint64_t gfn, uint64_t nr);
/* Server id is being destroyed: its claim on the ioreq-server type goes. */
void hv_memtype_server_gone(struct mockhv *hv, uint16_t id);
void hv_memtype_fini(struct mockhv *hv);

/* hv-evtchn.c */
int hv_port_alloc(struct hv_porttable *t, uint32_t *port);
struct hv_port *hv_port_get(struct hv_porttable *t, uint32_t port);
/* Delivers an event to a dom0 end: masks and queues it on its event pipe. */
void hv_dom0_fire(struct mockhv *hv, uint32_t port);
/* The guest raises its end `port` (a server's vcpu or buffered port). */
void hv_guest_fire(struct mockhv *hv, uint32_t port);
/* Closes a guest end (server destroyed): its dom0 peer becomes unbound. */
void hv_guest_port_close(struct mockhv *hv, uint32_t port);
void hv_evtchn_conn_closed(struct mockhv *hv, struct hv_conn *c);
int hv_evtchn_handle(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep);
/* WIRE_OP_EVTCHN_SHARED: creates the connection's event page, *fd_out its memfd. */
int hv_evtchn_shared(struct hv_conn *c, struct wire_rep *rep, int *fd_out);
int hv_bound_ports_locked(struct mockhv *hv);

/* hv-evpage.c */
int hv_evpage_new(struct hv_evpage **out, int *fd_out);
void hv_evpage_get(struct hv_evpage *e);
void hv_evpage_put(struct hv_evpage *e);
/* A port (re)assigned to the page's connection: unmasked, nothing pending. */
void hv_evpage_reset(struct hv_evpage *e, uint32_t port, bool direct);
void hv_evpage_undirect(struct hv_evpage *e, uint32_t port);
/* true: the port was unmasked and is now masked, deliver it; false: marked pending. */
bool hv_evpage_fire(struct hv_evpage *e, uint32_t port);
/* true: a pending mark turned into a delivery (the port stays masked). */
bool hv_evpage_unmask(struct hv_evpage *e, uint32_t port);
void hv_futex_bump(uint32_t *word);
/* 0 woken or the word differs from `seen`, -ETIMEDOUT, -EINTR */
int hv_futex_wait(uint32_t *word, uint32_t seen, const struct timespec *deadline);

/* hv-ioreq-server.c */
int hv_server_handle(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep);
struct hv_server *hv_server_get(struct mockhv *hv, unsigned id);
void hv_servers_fini(struct mockhv *hv);
int hv_fmem_resource(struct mockhv *hv, const struct wire_req *req, struct wire_rep *rep, int *fd);

/* hv-rangeset.c */
bool hv_rangeset_overlaps(const struct hv_rangeset *r, uint64_t s, uint64_t e);
bool hv_rangeset_contains(const struct hv_rangeset *r, uint64_t s, uint64_t e);
int hv_rangeset_add(struct hv_rangeset *r, uint64_t s, uint64_t e);
int hv_rangeset_remove(struct hv_rangeset *r, uint64_t s, uint64_t e);

/* hv-route.c: picks the server for a request (may turn it into PCI_CONFIG). */
struct hv_server *hv_route_select(struct mockhv *hv, ioreq_t *p);

/* hv-pci-latch.c */
void hv_pci_latch_write(struct mockhv *hv, uint16_t port, unsigned size, uint32_t val);
/* true (and p converted to type/addr of PCI_CONFIG routing) for a config data cycle */
bool hv_pci_decode(struct mockhv *hv, const ioreq_t *p, uint64_t *pci_addr);

/* hv-bufring.c */
/* 0 queued, -ENOSPC full (the caller falls back to a synchronous request). */
int hv_bufring_put(struct mockhv *hv, struct hv_server *s, const ioreq_t *p);
/* The same without firing the buffered port: the caller fires it once after
 * a batch (a masked port would only have been marked pending again). */
int hv_bufring_queue(struct hv_server *s, const ioreq_t *p);

/* hv-guest.c */
/* A timeout_ms for the emulated vCPU: no deadline, only the answer or the
 * mock stopping ends the wait (never reachable through the public API). */
#define HV_TIMEOUT_NONE INT_MIN
/* Sends one request from vcpu and waits; lock not held by the caller. */
int hv_guest_send(struct mockhv *hv, unsigned vcpu, ioreq_t *p, int timeout_ms);
/* The same; *claimed (if not NULL) tells whether a server took it. */
int hv_guest_send_claimed(struct mockhv *hv, unsigned vcpu, ioreq_t *p, int timeout_ms,
                          bool *claimed);
/* A device model notified guest port `port` of server s. */
void hv_guest_notified(struct mockhv *hv, struct hv_server *s, int vcpu);
/* Server s is going away: wake its waiters. */
void hv_guest_abort_server(struct mockhv *hv, struct hv_server *s);
void hv_guest_abort_all(struct mockhv *hv);
/* -EIO crashed, -ESHUTDOWN stopping or destroyed, 0 the guest runs. */
int hv_guest_down(const struct mockhv *hv);

/* hv-guest-api.c: one guest access of either guest kind (the C API and the
 * emulated vCPU), checked, routed and waited for; *claimed as above. */
int hv_guest_pio(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, bool read,
                 uint32_t *val, int timeout_ms, bool *claimed);
int hv_guest_mmio(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, bool read,
                  uint64_t *val, int timeout_ms, bool *claimed);

/* cpu/cpu-hvm.c: the firmware guest */
/* Stops and frees it (mockhv_destroy, after waking waiting vCPUs). */
void hv_hvm_destroy(struct mockhv *hv);
/* Its chipset, for interrupts from device models; NULL without one (lock held). */
struct hv_chipset *hv_hvm_chipset(struct mockhv *hv);
/* A device model reported writes to frames [gfn, gfn + nr): the vCPUs drop
 * what they translated from them (lock held; nothing without a firmware guest). */
void hv_hvm_code_modified(struct mockhv *hv, uint64_t gfn, uint64_t nr);

/* hv-records.c */
/* out/out_len: the reply payload (track_dirty_vram's bitmap). */
int hv_records_handle(struct hv_conn *c, const struct wire_req *req, size_t len,
                      struct wire_rep *rep, void *out, uint32_t *out_len);
void hv_records_init(struct mockhv *hv);
void hv_records_fini(struct mockhv *hv);

/* hv-xc.c */
int hv_xc_handle(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep, void *payload,
                 uint32_t *payload_len);

/* hv-transport.c */
int hv_transport_start(struct mockhv *hv);
void hv_transport_stop(struct mockhv *hv);
/* -EPERM if c is restricted to another domain, -ESRCH if domid is not ours. */
int hv_check_domid(const struct hv_conn *c, uint16_t domid);

/* hv-xenstore.c */
int hv_xenstore_start(struct mockhv *hv);
void hv_xenstore_stop(struct mockhv *hv);
/* The toolstack's part of destroying the domain: release it (@releaseDomain)
 * and remove its keys. Called without mockhv.lock. */
void hv_xenstore_release(struct mockhv *hv);

#endif
