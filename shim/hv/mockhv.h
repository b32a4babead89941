/*
 * mockhv: a mock Xen hypervisor for one HVM domain, and the guest that runs in it.
 *
 * The mock owns the domain (domid, vCPUs, guest RAM as a memfd, HVM params,
 * shutdown state), its ioreq servers (ioreq page + buffered page as memfds,
 * PIO/MMIO/PCI ranges), and event channels. Device models reach it through
 * the drop-in libxen* libraries (shim/lib/) over the unix socket named by
 * MOCKXEN_SOCKET; see shim/PROTOCOL.md. The socket server runs on a thread of
 * its own, started by mockhv_create() and stopped by mockhv_destroy().
 *
 * The guest side is a C API: every access is issued "from vCPU v" and is
 * synchronous with a timeout, so a test fails instead of hanging. (The
 * other kind of guest, real firmware on emulated vCPUs, is at the end:
 * mockhv_hvm_start.) One thread
 * per vCPU may issue accesses concurrently; accesses from the same vCPU are
 * serialised, as a real vCPU can only have one request in flight.
 *
 * Return convention: 0 (or a count) on success, -errno on failure.
 * -ETIMEDOUT: the device model did not answer in time (the vCPU then stays
 * busy, -EBUSY, until the answer arrives and is notified).
 * -EDEADLK: the vCPU is stranded: a device model destroyed the server it
 * was waiting on (in the call or busy after a timeout) without answering
 * and notifying first. As on Xen, nothing wakes it again: every later
 * access from it fails with -EDEADLK (see mockhv_vcpu_stranded).
 * A timeout_ms <= 0 means MOCKHV_DEFAULT_TIMEOUT_MS; there is no infinite wait.
 *
 * Xen's behaviour is kept where device models depend on it: vp_eport is
 * filled in only once a server is enabled; map_resource frame 0 is the
 * buffered ring, frame 1 the slots; 0xCF8 is latched and 0xCFC-0xCFF become
 * IOREQ_TYPE_PCI_CONFIG for functions mapped with map_pcidev; unclaimed
 * reads complete with all-ones and unclaimed writes are dropped; buffered
 * 8-byte writes take two ring slots. The normal guest API never sends what
 * Xen never sends; the mockhv_raw_* calls exist for hostile tests.
 */
#ifndef SHIM_MOCKHV_H
#define SHIM_MOCKHV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MOCKHV_MAX_VCPUS          128 /* one ioreq page holds 128 slots */
#define MOCKHV_DEFAULT_TIMEOUT_MS 10000
#define MOCKHV_ENV_SOCKET         "MOCKXEN_SOCKET"
#define MOCKHV_ENV_XENSTORED      "XENSTORED_PATH"

struct mockhv;

struct mockhv_config {
    uint16_t domid;      /* 1..0x7fef */
    unsigned nr_vcpus;   /* 1..MOCKHV_MAX_VCPUS */
    uint64_t mem_bytes;  /* guest RAM, multiple of 4 KiB; above 0xe0000000 continues at 4 GiB */
    const char *socket;  /* NULL: a fresh path under $TMPDIR (removed on destroy) */
    bool xenstore;       /* run an embedded mock xenstored */
    const char *xs_path; /* its socket; NULL: next to the hv socket */
    const char *name;    /* domain name written to xenstore; NULL: "mock-<domid>" */
};

/* Starts the mock and its socket thread. */
int mockhv_create(struct mockhv **out, const struct mockhv_config *cfg);
/* Stops the thread, wakes every waiting vCPU with -ESHUTDOWN, closes every
 * client connection (their calls then fail, their evtchn fds read EOF). */
void mockhv_destroy(struct mockhv *hv);

uint16_t mockhv_domid(const struct mockhv *hv);
unsigned mockhv_nr_vcpus(const struct mockhv *hv);
const char *mockhv_socket_path(const struct mockhv *hv);
/* NULL when no xenstored is embedded. */
const char *mockhv_xenstored_path(const struct mockhv *hv);
/* NULL-terminated "KEY=value" strings a device model needs (MOCKXEN_SOCKET,
 * and XENSTORED_PATH when embedded); owned by hv. */
const char *const *mockhv_environ(const struct mockhv *hv);
/* setenv() of the same, for clients in this process. */
int mockhv_setenv(const struct mockhv *hv);

/* ---- guest accesses (synchronous, from vCPU `vcpu`) ---- */

/* size 1/2/4 */
int mockhv_pio_in(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, uint32_t *val,
                  int timeout_ms);
int mockhv_pio_out(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, uint32_t val,
                   int timeout_ms);
/* size 1/2/4/8 */
int mockhv_mmio_read(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val,
                     int timeout_ms);
int mockhv_mmio_write(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val,
                      int timeout_ms);

/* PCI config through 0xCF8/0xCFC (type 1, reg < 256, size 1/2/4, naturally
 * aligned). bdf = bus << 8 | dev << 3 | fn. The CF8 latch is shared by the
 * domain, so these hold a lock across the two accesses. */
int mockhv_cfg_read(struct mockhv *hv, unsigned vcpu, uint16_t bdf, unsigned reg, unsigned size,
                    uint32_t *val, int timeout_ms);
int mockhv_cfg_write(struct mockhv *hv, unsigned vcpu, uint16_t bdf, unsigned reg, unsigned size,
                     uint32_t val, int timeout_ms);

/* Rep forms (ins/outs, rep movs to MMIO): data_is_ptr requests whose data is
 * the guest-physical address `gpa`. dir_read: device -> guest RAM. df steps
 * addresses downwards. Split into one request per guest page, as Xen does. */
struct mockhv_rep {
    bool mmio;     /* false: PIO */
    bool dir_read; /* true: IOREQ_READ (device to RAM) */
    bool df;
    unsigned size; /* 1/2/4 (PIO) or 1/2/4/8 (MMIO) */
    uint64_t addr; /* port or MMIO address of the first item */
    uint64_t gpa;  /* guest RAM of the first item */
    uint32_t count;
};
int mockhv_rep(struct mockhv *hv, unsigned vcpu, const struct mockhv_rep *rep, int timeout_ms);

/* Buffered write (what Xen buffers: stdvga VRAM writes, TIMEOFFSET).
 * mmio: IOREQ_TYPE_COPY to the server owning addr; size 1/2/4/8 (8 takes two
 * slots). Falls back to a synchronous request from `vcpu` when the ring is
 * full, as Xen does. Unclaimed: dropped. Above 0xfffff (the ring's 20-bit
 * address field): dropped as done, as Xen 4.17 does (stats.buffered_dropped). */
int mockhv_buf_write(struct mockhv *hv, unsigned vcpu, bool mmio, uint64_t addr, unsigned size,
                     uint64_t val, int timeout_ms);
/* n buffered writes of vals[] to one address, as n mockhv_buf_write calls
 * would make them (same slots, same pointer updates, the same synchronous
 * fallback for a write that finds the ring full), but routed once and put
 * under one lock, with the buffered port fired once per run of queued
 * writes instead of once per write. Returns 0 or the first error. */
int mockhv_buf_write_batch(struct mockhv *hv, unsigned vcpu, bool mmio, uint64_t addr,
                           unsigned size, const uint64_t *vals, size_t n, int timeout_ms);
/* The same without the fallback: queues what fits and returns how many
 * (0 when the ring is full, n for unclaimed writes, which are dropped) or
 * -errno (-EOPNOTSUPP without a buffered ring). For a producer that waits
 * for ring space instead of going synchronous, as a benchmark of the
 * consumer does. */
long mockhv_buf_try_write_batch(struct mockhv *hv, bool mmio, uint64_t addr, unsigned size,
                                const uint64_t *vals, size_t n);
/* IOREQ_TYPE_TIMEOFFSET through the buffered ring of every enabled server
 * with one; returns how many got it. */
int mockhv_timeoffset(struct mockhv *hv, int64_t delta);
/* IOREQ_TYPE_INVALIDATE to every enabled server, one after the other, each
 * waited for from `vcpu`. */
int mockhv_invalidate(struct mockhv *hv, unsigned vcpu, int timeout_ms);
/* The guest's XENMEM_decrease_reservation from `vcpu`: frames gfn.. become
 * holes, up to the first that is not RAM; if any went, INVALIDATE goes to
 * every enabled server on the hypercall's return (mockhv_invalidate from
 * that vCPU), as Xen does. Returns the frames removed or -errno. */
int mockhv_decrease_reservation(struct mockhv *hv, unsigned vcpu, uint64_t gfn, uint64_t nr,
                                int timeout_ms);

/* ---- guest RAM (through the p2m, so relocate_memory is honoured; -EFAULT,
 * with nothing copied, unless every byte is RAM). mockhv_ram_write is the
 * guest's own store: it dirties the frames for track_dirty_vram. ---- */
int mockhv_ram_read(struct mockhv *hv, uint64_t gpa, void *buf, size_t len);
int mockhv_ram_write(struct mockhv *hv, uint64_t gpa, const void *buf, size_t len);
uint64_t mockhv_ram_size(const struct mockhv *hv);
/* Xen's paging: the RAM frame gfn reads as paged out (privcmd's ENOENT, on
 * which libxenforeignmemory sleeps and retries) for the next `lookups`
 * translations a device model asks for, then is back. The guest's own
 * accesses are unaffected. 0, -EINVAL (not RAM), -ENOSPC (16 at once). */
int mockhv_page_out(struct mockhv *hv, uint64_t gfn, unsigned lookups);
/* Lookups left before gfn is paged in again (0: it is in). */
unsigned mockhv_paged_out(struct mockhv *hv, uint64_t gfn);

/* ---- interrupts the device models raised ---- */
enum mockhv_irq_kind {
    MOCKHV_IRQ_ISA,        /* set_isa_irq_level / set_irq_level (GSI): irq, level */
    MOCKHV_IRQ_INTX,       /* set_pci_intx_level: sbdf, intx (0=A), level */
    MOCKHV_IRQ_MSI,        /* inject_msi: msi_addr, msi_data; pirq, dropped, error */
    MOCKHV_IRQ_LINK_ROUTE, /* set_pci_link_route: link (in intx), irq */
};

struct mockhv_irq_record {
    uint64_t seq; /* 1, 2, 3 ... in the order the mock received them */
    enum mockhv_irq_kind kind;
    uint32_t sbdf;
    uint8_t intx;
    uint8_t irq;
    bool level;
    uint64_t msi_addr;
    uint32_t msi_data;
    /* An MSI with vector 0 names a pirq, decoded as Xen's hvm_inject_msi
     * does: destination ID (address bits 12-19) | address bits 40-63 << 8. */
    uint32_t pirq;
    /* Nothing reached the guest: a pirq not bound to an event channel, or
     * one Xen refused (error). */
    bool dropped;
    int error; /* what the hypercall returned: 0, -ERANGE, -EINVAL */
};

/* Highest seq so far (0: none). */
uint64_t mockhv_irq_last_seq(struct mockhv *hv);
/* Record `seq`; -ENOENT if not recorded (yet) or already dropped from the
 * bounded history (the last 4096 records are kept). */
int mockhv_irq_get(struct mockhv *hv, uint64_t seq, struct mockhv_irq_record *out);
/* First record with seq > after_seq, waiting for it up to timeout_ms. */
int mockhv_irq_wait(struct mockhv *hv, uint64_t after_seq, struct mockhv_irq_record *out,
                    int timeout_ms);
/* Current levels. -EINVAL for irq > 15 / intx > 3. */
int mockhv_isa_irq_level(struct mockhv *hv, unsigned irq);
int mockhv_intx_level(struct mockhv *hv, uint32_t sbdf, unsigned intx);
/* ISA IRQ PCI link `link` (0-3, INTA-INTD) is routed to by
 * set_pci_link_route (0: none, as at boot); -EINVAL for link > 3. */
int mockhv_pci_link_route(struct mockhv *hv, unsigned link);
/* The guest binds pirq to an event channel (EVTCHNOP_bind_pirq) or closes
 * it: only MSIs naming a bound pirq reach the guest. -EINVAL for pirq 0 or
 * pirq >= 80 (the domain's nr_pirqs). */
int mockhv_pirq_bind(struct mockhv *hv, unsigned pirq, bool bound);

/* ---- other things the device models reported ---- */
struct mockhv_modified {
    uint64_t seq;
    uint64_t first_pfn;
    uint64_t nr;
};
/* Records of modified_memory, one per extent in the order Xen takes them
 * (last to first), only while log-dirty mode is on. */
uint64_t mockhv_modified_last_seq(struct mockhv *hv);
int mockhv_modified_get(struct mockhv *hv, uint64_t seq, struct mockhv_modified *out);
/* Log-dirty mode on or off, as the toolstack's xc_shadow_control
 * (XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY / _OFF) switches it for live
 * migration; off at creation. */
void mockhv_set_log_dirty(struct mockhv *hv, bool on);
/* -1 while running; the SHUTDOWN_* reason once a device model asked. */
int mockhv_shutdown_reason(struct mockhv *hv);
/* The domain was crashed because a slot's state went backwards or became
 * unknown, as Xen does (domain_crash); every later access fails with -EIO. */
bool mockhv_domain_crashed(struct mockhv *hv);
/*
 * Destroys the domain while device models still run, as `xl destroy` does
 * on Xen; the socket server stays up. The domain's ioreq servers are
 * destroyed and its event channels closed (a dom0 port bound to one stays
 * allocated but unbound: notify does nothing, unbind succeeds); every
 * device-model, foreign-memory, evtchn-bind and HVM-param call naming it
 * then fails with ESRCH and xc_domain_getinfo no longer lists it, except
 * while it is dying (mockhv_domain_dying); guest
 * accesses (and mockhv_ram_*) return -ESHUTDOWN, waiting ones included.
 * With xenstore, the domain is released (@releaseDomain fires) and
 * /local/domain/<domid> and /vm/<uuid> are removed; the device model's own
 * directory under /local/domain/0/device-model/ is left to it.
 * -ESRCH if the domain was already destroyed.
 */
int mockhv_domain_destroy(struct mockhv *hv);
bool mockhv_domain_destroyed(const struct mockhv *hv);
/*
 * Destroyed but still held: as on Xen, a killed domain stays "dying" while
 * a device model maps its pages (here: while a foreign-memory connection
 * that mapped its RAM or ioreq pages stays open). Meanwhile
 * xc_domain_getinfo lists it with the dying flag, xendevicemodel_nr_vcpus
 * still answers and every call about an ioreq server fails with ENOENT
 * (the servers are gone); all else fails with ESRCH as above. Once the
 * last such connection closes, the domain is released: ESRCH everywhere,
 * and xc_domain_getinfo no longer lists it.
 */
bool mockhv_domain_dying(struct mockhv *hv);
/* Waits (up to timeout_ms; <= 0: MOCKHV_DEFAULT_TIMEOUT_MS) until a
 * destroyed domain is released: the mock learns of a connection closing
 * on its own thread, after the client closed it. 0, -ETIMEDOUT, or
 * -EINVAL if the domain was not destroyed. */
int mockhv_domain_wait_released(struct mockhv *hv, int timeout_ms);
int mockhv_hvm_param_get(struct mockhv *hv, unsigned index, uint64_t *val);
int mockhv_hvm_param_set(struct mockhv *hv, unsigned index, uint64_t val);
/* Number of successful set_mem_type calls so far. */
uint64_t mockhv_mem_type_calls(struct mockhv *hv);

/* ---- memory types and cache attributes the device models set ----
 * Records, checked as Xen checks them; guest accesses do not change with
 * them. */
struct mockhv_mem_range {
    uint64_t first, last; /* frames, inclusive */
    uint32_t type;        /* HVMMEM_* or XEN_DMOP_MEM_CACHEATTR_* */
};
/* Frames whose type set_mem_type changed, as ranges in frame order (one
 * range per run of one type), up to max; returns how many there are. */
int mockhv_mem_types(struct mockhv *hv, struct mockhv_mem_range *out, size_t max);
/* HVMMEM_* type of a frame: the one set, else HVMMEM_ram_rw for RAM and
 * HVMMEM_mmio_dm for anything else. relocate_memory resets the frames it
 * touches to that default. */
int mockhv_mem_type(struct mockhv *hv, uint64_t gfn);
/* The server that claimed the HVMMEM_ioreq_server type
 * (map_mem_type_to_ioreq_server) and its XEN_DMOP_IOREQ_MEM_ACCESS_*
 * flags; -ENOENT if none. */
int mockhv_ioreq_mem_claim(struct mockhv *hv, uint16_t *id, uint32_t *flags);
/* Pinned cache attribute ranges (pin_memory_cacheattr) in frame order, up
 * to max; returns how many there are (at most 64). */
int mockhv_cacheattrs(struct mockhv *hv, struct mockhv_mem_range *out, size_t max);

/* ---- inspection of ioreq servers ---- */
enum mockhv_range_type {
    MOCKHV_RANGE_PIO,  /* XEN_DMOP_IO_RANGE_PORT */
    MOCKHV_RANGE_MMIO, /* XEN_DMOP_IO_RANGE_MEMORY */
    MOCKHV_RANGE_PCI,  /* XEN_DMOP_IO_RANGE_PCI, start = end = sbdf */
};

struct mockhv_range {
    enum mockhv_range_type type;
    uint64_t start, end; /* inclusive */
};

struct mockhv_server_info {
    uint16_t id;
    bool enabled;
    int bufioreq_handling; /* HVM_IOREQSRV_BUFIOREQ_* */
    uint32_t bufioreq_port;
    bool bufioreq_port_bound;
    unsigned nr_vcpus;
    unsigned nr_vcpu_ports_bound;
    size_t nr_ranges;
    uint64_t requests_sent; /* synchronous */
    uint64_t buffered_sent; /* ring slots written */
};

/* Ids of existing servers (up to max), returns how many exist. */
int mockhv_servers(struct mockhv *hv, uint16_t *ids, size_t max);
int mockhv_server_info(struct mockhv *hv, uint16_t id, struct mockhv_server_info *out);
/* Ranges of one server (up to max), returns how many it has. */
int mockhv_server_ranges(struct mockhv *hv, uint16_t id, struct mockhv_range *out, size_t max);
/* Guest-side port of vCPU `vcpu` (valid once the server was enabled). */
int mockhv_server_vcpu_port(struct mockhv *hv, uint16_t id, unsigned vcpu, uint32_t *port);
/* Device-model ports currently bound to this domain, over every handle. */
int mockhv_bound_ports(struct mockhv *hv);
/* Id of the server vCPU `vcpu` is stranded on (its request unanswered when
 * a device model destroyed the server), -1 if none, -EINVAL for no such
 * vCPU. Destroying the domain strands nobody: its vCPUs are gone. */
int mockhv_vcpu_stranded(struct mockhv *hv, unsigned vcpu);
/* Client connections currently open (library handles of any kind). */
int mockhv_connections(struct mockhv *hv);
/*
 * Waits until at most `n` connections are open: a process that exited has
 * closed its handles, but the mock's socket thread sees each close a little
 * later. 0, or -ETIMEDOUT after timeout_ms (<= 0: the default).
 */
int mockhv_connections_wait(struct mockhv *hv, int n, int timeout_ms);
/* From now on every RESTRICT fails with -err (0: restores the normal
 * checks), as on a dom0 kernel whose privcmd and evtchn drivers lack the
 * restrict ioctls (ENOTTY): xentoolcore_restrict_all() then fails. */
void mockhv_fail_restrict(struct mockhv *hv, int err);

/* Id of the enabled server that would get an access of `size` at addr
 * (a sbdf for MOCKHV_RANGE_PCI), or -ENOENT. */
int mockhv_owner(struct mockhv *hv, enum mockhv_range_type type, uint64_t addr, unsigned size);

/* The embedded xenstored, as dom0 (-ENODEV without one). *value is
 * malloc()ed and NUL-terminated. */
int mockhv_xenstore_read(struct mockhv *hv, const char *path, char **value);
int mockhv_xenstore_write(struct mockhv *hv, const char *path, const char *value);
/* Closes every client connection of the embedded xenstored (the store
 * stays, new clients are accepted), as when xenstored drops its clients:
 * libxenstore's reader sees EOF. Returns how many were open. */
int mockhv_xenstore_drop_clients(struct mockhv *hv);

struct mockhv_stats {
    uint64_t unclaimed_reads;
    uint64_t unclaimed_writes;
    uint64_t requests; /* synchronous requests completed */
    uint64_t timeouts;
    /* buffered writes Xen 4.17 drops as done: an address above 0xfffff */
    uint64_t buffered_dropped;
};
void mockhv_get_stats(struct mockhv *hv, struct mockhv_stats *out);

/* ---- raw access for hostile tests ----
 * Slots keep what was written. As in Xen, a normal access from a vCPU whose
 * slot is not STATE_IOREQ_NONE crashes the domain, so a test resets the slot
 * (raw write of a NONE state) before using that vCPU normally again. */
/* Copies len (<= sizeof(ioreq_t)) bytes over slot `vcpu` of server `id`,
 * as they are (state included), then optionally notifies the vCPU's port. */
int mockhv_raw_slot_write(struct mockhv *hv, uint16_t id, unsigned vcpu, const void *bytes,
                          size_t len, bool notify);
/* Copies the slot out (len <= sizeof(ioreq_t)). */
int mockhv_raw_slot_read(struct mockhv *hv, uint16_t id, unsigned vcpu, void *bytes, size_t len);
/* Waits until the slot's state byte equals `state` (e.g. STATE_IORESP_READY). */
int mockhv_raw_slot_wait(struct mockhv *hv, uint16_t id, unsigned vcpu, uint8_t state,
                         int timeout_ms);
/* Copies len (<= 8, sizeof(buf_ioreq_t)) bytes over ring slot `slot` (mod 511). */
int mockhv_raw_buf_slot_write(struct mockhv *hv, uint16_t id, unsigned slot, const void *bytes,
                              size_t len);
/* Sets the ring pointers as they are; notify fires the buffered port. */
int mockhv_raw_buf_pointers(struct mockhv *hv, uint16_t id, uint32_t read_ptr, uint32_t write_ptr,
                            bool notify);
int mockhv_raw_buf_pointers_get(struct mockhv *hv, uint16_t id, uint32_t *read_ptr,
                                uint32_t *write_ptr);
/* Fires a vCPU's port (vcpu < nr) or the buffered port (vcpu == ~0u). */
int mockhv_raw_notify(struct mockhv *hv, uint16_t id, unsigned vcpu);

/* ---- firmware: enumerate bus 0 and assign BARs as hvmloader does ---- */
struct mockhv_pci_bar {
    unsigned index; /* BAR register 0..5, 6 for the expansion ROM */
    bool io;
    bool mem64;
    bool prefetch;
    uint64_t size;
    uint64_t base; /* assigned; 0 if it did not fit */
};

struct mockhv_pci_func {
    uint16_t bdf;
    uint16_t vendor, device;
    uint32_t class_rev; /* class << 8 | revision */
    uint8_t header_type;
    uint8_t irq_pin;
    uint8_t irq_line; /* what the pass wrote to PCI_INTERRUPT_LINE (pin != 0) */
    unsigned nr_bars;
    struct mockhv_pci_bar bars[7];
};

/*
 * Does what hvmloader's pci_setup does (hv-firmware.c says what): routes
 * PIRQ links 0-3 to IRQs 5, 10, 11, 5 at 00:01.0, probes all 256 devfns,
 * sets up IDE, PIIX4 ACPI and the primary VGA by class, sizes BARs 0-5 and the ROM, writes INTx
 * lines, places BARs largest first (I/O from 0xc000, memory from 0xf0000000 below 0xfc000000, the
 * hole growing down to 0x80000000 but not over low RAM, 64-bit BARs above RAM past 4 GiB when it is
 * still too small), then enables bus master and the decode each function got. Fills up to max
 * functions; returns how many were found, or -EPROTO when 00:01.0 answers and is not the PIIX3 ISA
 * bridge 8086:7000 or an ACPI PM function is not the PIIX4's 8086:7113
 * (hvmloader asserts both and the guest stops).
 */
int mockhv_firmware_pci_init(struct mockhv *hv, unsigned vcpu, struct mockhv_pci_func *out,
                             size_t max, int timeout_ms);

/* ---- a firmware guest: an emulated x86 vCPU that runs Xen's hvmloader ----
 * The second kind of guest: instead of accesses issued through the calls
 * above, vCPU 0 runs hvmloader (entered as Xen enters it: 32-bit flat
 * protected mode, paging off, ebx = the hvm_start_info) which hands over
 * to the BIOS module (SeaBIOS). What Xen emulates itself (PIC, PIT, RTC,
 * PM timer, IOAPIC, LAPIC, port 0xe9, hypercalls) stays in the mock; every
 * other IN/OUT and MMIO access goes to the ioreq servers exactly as the
 * scripted accesses do, and the vCPU waits for the answer without a
 * timeout, as a real vCPU. See shim/PROTOCOL.md, "The emulated vCPU". */
struct mockhv_hvm_config {
    const char *hvmloader; /* NULL: /usr/lib/xen-4.17/boot/hvmloader */
    const char *bios;      /* NULL: /usr/share/seabios/bios-256k.bin */
    /* Each line the firmware prints (port 0xe9, console_io); NULL: to log_file. */
    void (*log_line)(void *opaque, const char *line, size_t len);
    void *log_opaque;
    void *log_file;          /* a FILE *; NULL: stderr */
    bool count_instructions; /* exact count (slows the guest down): benchmarks */
};

enum mockhv_hvm_state {
    MOCKHV_HVM_RUNNING,
    MOCKHV_HVM_HALTED,   /* HLT with interrupts disabled and nothing pending */
    MOCKHV_HVM_SHUTDOWN, /* SCHEDOP_shutdown or a device model: shutdown_reason */
    MOCKHV_HVM_CRASHED,  /* a triple fault, an undeliverable exception, a bad access... */
    MOCKHV_HVM_STRANDED, /* a vCPU waits on server `server` whose device model is gone */
    MOCKHV_HVM_STOPPED,  /* the mock is stopping */
};

struct mockhv_hvm_result {
    enum mockhv_hvm_state state;
    unsigned vcpu;
    int shutdown_reason; /* SHUTDOWN_* for MOCKHV_HVM_SHUTDOWN */
    int server;          /* MOCKHV_HVM_STRANDED */
    uint32_t eip;        /* where the vCPU was (linear, for a running one) */
    char reason[200];    /* human-readable */
};

struct mockhv_hvm_stats {
    uint64_t ioreq_pio, ioreq_mmio, ioreq_pci_config; /* sent to servers, by type */
    uint64_t unclaimed;                               /* nobody's: all-ones / dropped */
    uint64_t xen_pio, xen_mmio;                       /* handled by Xen's own devices */
    uint64_t hypercalls[64];                          /* by op */
    uint64_t interrupts;                              /* hardware interrupts delivered */
    uint64_t exceptions;                              /* software INT n and exceptions delivered */
    uint64_t exits;                                   /* returns from the emulator (uc_emu_start) */
    uint64_t instructions;                            /* only with count_instructions */
};

/* Loads the firmware and powers on vCPU 0. -EBUSY if already started. */
int mockhv_hvm_start(struct mockhv *hv, const struct mockhv_hvm_config *cfg);
/* Waits up to timeout_ms (< 0: without limit) for the guest to end: 0 with
 * *out filled (a vCPU found stranded ends the wait too), -ETIMEDOUT
 * (out->state MOCKHV_HVM_RUNNING, eip the linear address of the block vCPU
 * 0 last entered), -ENOENT without a firmware guest. */
int mockhv_hvm_wait(struct mockhv *hv, int timeout_ms, struct mockhv_hvm_result *out);
int mockhv_hvm_stats(struct mockhv *hv, struct mockhv_hvm_stats *out);
/* Server id vCPU `vcpu` is waiting on (a request in its slot), or -1. */
int mockhv_vcpu_waiting_on(struct mockhv *hv, unsigned vcpu);

#endif
