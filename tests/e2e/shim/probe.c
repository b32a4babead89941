/*
 * A minimal ioreq server built against Debian's real Xen libraries (never
 * the shim), run on the mock with LD_LIBRARY_PATH pointing at the shim: if
 * it works, a third-party device model does too. It follows the start-up
 * order of docs/DESIGN.md, prints "READY <server id>" and serves:
 *   PIO 0x3f8 read: 0x41 + vCPU          PIO 0x3f9: echo the last write
 *   PIO 0x3fa read: buffered requests    PIO 0x3fc read: high half of the last buffered qword
 *   PIO 0x3ff write: tear down and exit 0
 *   MMIO 0xa0000-0xbffff: buffered writes recorded; an 8-byte read returns the last qword
 *   PCI_CONFIG 00:03.0: vendor/device 0x5853 / 0x1234, other registers 0
 * Exit codes: 0 done, 2 set-up failed, 3 a check failed, 4 hypervisor gone, 5 timeout.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xentoolcore.h>
#include <xen/hvm/ioreq.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_VCPUS 128

static xenevtchn_handle *xce;
static xendevicemodel_handle *dmod;
static xenforeignmemory_handle *fmem;
static xenforeignmemory_resource_handle *fres;
static buffered_iopage_t *bufpage;
static shared_iopage_t *slots;
static unsigned nr_vcpus;
static evtchn_port_t local[MAX_VCPUS], buf_local;
static uint16_t domid;
static ioservid_t sid;
static uint32_t echo;
static uint64_t last_qword;
static unsigned buffered_seen;
static int quit;

#define CHECK(cond, code, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "probe: " __VA_ARGS__);                                                \
            fprintf(stderr, " (errno %d %s)\n", errno, strerror(errno));                           \
            exit(code);                                                                            \
        }                                                                                          \
    } while (0)

static void drain_buffered(void)
{
    uint32_t rp = bufpage->read_pointer, wp;

    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    wp = bufpage->write_pointer;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    while (rp != wp && wp - rp <= IOREQ_BUFFER_SLOT_NUM) {
        buf_ioreq_t b = bufpage->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
        uint64_t data = b.data;
        unsigned step = 1;

        if (b.size == 3) {
            data |= (uint64_t)bufpage->buf_ioreq[(rp + 1) % IOREQ_BUFFER_SLOT_NUM].data << 32;
            step = 2;
        }
        if (b.type == IOREQ_TYPE_COPY) {
            last_qword = data;
            buffered_seen++;
        }
        rp += step;
        __atomic_store_n(&bufpage->read_pointer, rp, __ATOMIC_RELEASE);
    }
}

static uint64_t answer(unsigned vcpu, const ioreq_t *q)
{
    if (q->type == IOREQ_TYPE_PIO && q->dir == IOREQ_READ) {
        switch (q->addr) {
        case 0x3f8:
            return 0x41 + vcpu;
        case 0x3f9:
            return echo;
        case 0x3fa:
            return buffered_seen;
        case 0x3fc:
            return last_qword >> 32;
        }
        return ~0ull;
    }
    if (q->type == IOREQ_TYPE_PIO) {
        if (q->addr == 0x3f9)
            echo = (uint32_t)q->data;
        if (q->addr == 0x3ff)
            quit = 1;
        return 0;
    }
    if (q->type == IOREQ_TYPE_COPY && q->dir == IOREQ_READ)
        return q->size == 8 ? last_qword : ~0ull;
    if (q->type == IOREQ_TYPE_PCI_CONFIG && q->dir == IOREQ_READ) {
        /* sbdf 00:03.0 in the top half, register below */
        if ((q->addr >> 32) != (3u << 3))
            return ~0ull;
        return ((q->addr & 0xffc) == 0 ? 0x12345853u : 0u) >> ((q->addr & 3) * 8);
    }
    return 0;
}

static void serve_slot(unsigned vcpu)
{
    ioreq_t *slot = &slots->vcpu_ioreq[vcpu];
    ioreq_t q;

    if (slot->state != STATE_IOREQ_READY)
        return;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    q = *slot;
    slot->state = STATE_IOREQ_INPROCESS;
    drain_buffered();
    if (q.dir == IOREQ_READ && !q.data_is_ptr)
        slot->data = answer(vcpu, &q);
    else
        answer(vcpu, &q);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = STATE_IORESP_READY;
    CHECK(xenevtchn_notify(xce, local[vcpu]) == 0, 4, "notify");
}

static void check_xenstore(void)
{
    struct xs_handle *xs = xs_open(0);
    char path[64];
    unsigned len;
    char *name;

    if (!getenv("XENSTORED_PATH"))
        return;
    CHECK(xs, 2, "xs_open");
    snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
    name = xs_read(xs, XBT_NULL, path, &len);
    CHECK(name && strncmp(name, "probe-guest", len) == 0, 3, "xenstore name");
    free(name);
    xs_close(xs);
}

static void setup(void)
{
    evtchn_port_t buf_port;
    void *addr = NULL;
    int rc;

    xce = xenevtchn_open(NULL, 0);
    dmod = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    CHECK(xce && dmod && fmem, 2, "open handles");
    CHECK(xendevicemodel_nr_vcpus(dmod, domid, &nr_vcpus) == 0 && nr_vcpus <= MAX_VCPUS, 2,
          "nr_vcpus");
    CHECK(xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &sid) == 0,
          2, "create server");
    fres = xenforeignmemory_map_resource(fmem, domid, XENMEM_resource_ioreq_server, sid, 0, 2,
                                         &addr, PROT_READ | PROT_WRITE, 0);
    CHECK(fres, 2, "map_resource");
    bufpage = addr;
    slots = (shared_iopage_t *)((char *)addr + XC_PAGE_SIZE);
    CHECK(xendevicemodel_get_ioreq_server_info(dmod, domid, sid, NULL, NULL, &buf_port) == 0, 2,
          "server info");
    /* Xen publishes the vCPU ports only when the server is enabled */
    CHECK(slots->vcpu_ioreq[0].vp_eport == 0, 3, "vp_eport before enable");
    CHECK(xendevicemodel_set_ioreq_server_state(dmod, domid, sid, 1) == 0, 2, "enable");
    for (unsigned v = 0; v < nr_vcpus; v++) {
        rc = xenevtchn_bind_interdomain(xce, domid, slots->vcpu_ioreq[v].vp_eport);
        CHECK(rc > 0, 2, "bind vcpu %u", v);
        local[v] = (evtchn_port_t)rc;
    }
    rc = xenevtchn_bind_interdomain(xce, domid, buf_port);
    CHECK(rc > 0, 2, "bind buffered port");
    buf_local = (evtchn_port_t)rc;
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, sid, 0, 0x3f8, 0x3ff) == 0, 2,
          "map pio");
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(dmod, domid, sid, 1, 0xa0000, 0xbffff) == 0,
          2, "map mmio");
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(dmod, domid, sid, 0, 0, 3, 0) == 0, 2,
          "map pcidev");
    check_xenstore();
    /* deprivilege, then prove another domain is out of reach */
    CHECK(xentoolcore_restrict_all(domid) == 0, 2, "restrict_all");
    errno = 0;
    CHECK(xendevicemodel_create_ioreq_server(dmod, domid + 1, 0, &(ioservid_t){0}) == -1 &&
              errno == EPERM,
          3, "restricted handle reached another domain");
}

static void teardown(void)
{
    CHECK(xendevicemodel_set_ioreq_server_state(dmod, domid, sid, 0) == 0, 3, "disable");
    CHECK(xendevicemodel_destroy_ioreq_server(dmod, domid, sid) == 0, 3, "destroy");
    for (unsigned v = 0; v < nr_vcpus; v++)
        CHECK(xenevtchn_unbind(xce, local[v]) == 0, 3, "unbind");
    CHECK(xenevtchn_unbind(xce, buf_local) == 0, 3, "unbind buffered");
    xenforeignmemory_unmap_resource(fmem, fres);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
    xenevtchn_close(xce);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2, 2, "usage: probe DOMID");
    domid = (uint16_t)strtoul(argv[1], NULL, 0);
    setup();
    printf("READY %u\n", sid);
    fflush(stdout);
    while (!quit) {
        struct pollfd pfd = {.fd = xenevtchn_fd(xce), .events = POLLIN};
        xenevtchn_port_or_error_t port;

        CHECK(poll(&pfd, 1, 30000) == 1, 5, "no event in 30 s");
        port = xenevtchn_pending(xce);
        CHECK(port >= 0, 4, "pending");
        CHECK(xenevtchn_unmask(xce, (evtchn_port_t)port) == 0, 4, "unmask");
        if ((evtchn_port_t)port == buf_local)
            drain_buffered();
        for (unsigned v = 0; v < nr_vcpus; v++)
            if ((evtchn_port_t)port == local[v])
                serve_slot(v);
    }
    teardown();
    return 0;
}
