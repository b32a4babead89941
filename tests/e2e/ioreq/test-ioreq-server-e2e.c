/*
 * The ioreq server (ioreq/server.c) on the mock hypervisor, in one process:
 * mockhv's socket thread plays Xen, a loop thread runs the server's libevent
 * base, and the test thread plays the guest's vCPUs. The server is only
 * touched while its loop is stopped (it is single-threaded by design).
 */
#include <xenctrl.h>

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <xen/hvm/ioreq.h>

#include "mockhv.h"
#include "server.h"

#define DOMID   7
#define NVCPUS  4
#define TMO     5000
#define SCRATCH 0x510
#define VGA     0xa0000ull
#define SBDF    PCI_SBDF(0, 0, 3, 0)

struct scratch {
    uint32_t writes[16];
    unsigned nr_writes;
};

struct memdev {
    uint8_t bytes[0x1000];
};

struct pci_rec {
    unsigned reads, writes;
    uint32_t sbdf, value;
    unsigned reg, size;
};

struct env {
    struct mockhv *hv;
    struct event_base *base;
    struct io_registry *reg;
    struct ioreq_server *srv;
    pthread_t loop;
    bool running;
    int pipe[2];
    struct event *stop_ev;
    int fatal_calls; /* written by the loop thread */
    int fatal_err;
    struct scratch scratch;
    struct memdev mem;
    struct pci_rec pci;
};

static uint64_t scratch_read(void *opaque, const struct io_access *a)
{
    return 0xc0de0000u | (uint32_t)a->offset << 8 | a->vcpu;
}

static void scratch_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct scratch *s = opaque;

    if (s->nr_writes < 16)
        s->writes[s->nr_writes++] = (uint32_t)v;
}

static const struct io_ops scratch_ops = {.read = scratch_read, .write = scratch_write};

static uint64_t mem_read(void *opaque, const struct io_access *a)
{
    struct memdev *m = opaque;
    uint64_t v = 0;

    for (unsigned i = 0; i < a->size; i++)
        v |= (uint64_t)m->bytes[a->offset + i] << (8 * i);
    return v;
}

static void mem_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct memdev *m = opaque;

    for (unsigned i = 0; i < a->size; i++)
        m->bytes[a->offset + i] = (uint8_t)(v >> (8 * i));
}

static const struct io_ops mem_ops = {.read = mem_read, .write = mem_write};

static uint32_t pci_read(void *opaque, uint32_t sbdf, unsigned reg, unsigned size)
{
    struct pci_rec *p = opaque;

    p->reads++;
    p->sbdf = sbdf;
    p->reg = reg;
    p->size = size;
    return 0xabcd0000u | reg;
}

static void pci_write(void *opaque, uint32_t sbdf, unsigned reg, unsigned size, uint32_t v)
{
    struct pci_rec *p = opaque;

    p->writes++;
    p->sbdf = sbdf;
    p->reg = reg;
    p->size = size;
    p->value = v;
}

static void on_fatal(void *opaque, int err)
{
    struct env *e = opaque;

    __atomic_store_n(&e->fatal_err, err, __ATOMIC_RELAXED);
    __atomic_add_fetch(&e->fatal_calls, 1, __ATOMIC_RELEASE);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct env *e = arg;
    char c;

    if (read(fd, &c, 1) == 1)
        event_base_loopbreak(e->base);
}

static void *loop_main(void *arg)
{
    struct env *e = arg;

    event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void loop_start(struct env *e)
{
    assert_false(e->running);
    assert_int_equal(pthread_create(&e->loop, NULL, loop_main, e), 0);
    e->running = true;
}

static void loop_stop(struct env *e)
{
    if (!e->running)
        return;
    assert_int_equal(write(e->pipe[1], "x", 1), 1);
    pthread_join(e->loop, NULL);
    e->running = false;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct mockhv_config cfg = {
        .domid = DOMID, .nr_vcpus = NVCPUS, .mem_bytes = 16u << 20, .xenstore = false};

    assert_int_equal(mockhv_create(&e->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(e->hv), 0);
    e->base = event_base_new();
    assert_int_equal(pipe(e->pipe), 0);
    e->stop_ev = event_new(e->base, e->pipe[0], EV_READ | EV_PERSIST, on_stop, e);
    assert_int_equal(event_add(e->stop_ev, NULL), 0);

    /* Registered before the server exists: the server mirrors them. */
    e->reg = io_registry_new();
    struct io_range scratch = {.space = IO_SPACE_PIO,
                               .base = SCRATCH,
                               .len = 4,
                               .ops = &scratch_ops,
                               .opaque = &e->scratch,
                               .name = "scratch"};
    struct io_range vga = {.space = IO_SPACE_MMIO,
                           .base = VGA,
                           .len = 0x1000,
                           .ops = &mem_ops,
                           .opaque = &e->mem,
                           .name = "mem"};
    assert_int_equal(io_map(e->reg, &scratch), 0);
    assert_int_equal(io_map(e->reg, &vga), 0);

    struct ioreq_server_params p = {
        .domid = DOMID,
        .registry = e->reg,
        .pci = {.cfg_read = pci_read, .cfg_write = pci_write, .opaque = &e->pci},
        .on_fatal = on_fatal,
        .fatal_opaque = e,
    };
    assert_int_equal(ioreq_server_create(&e->srv, &p, e->base), 0);
    loop_start(e);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;

    loop_stop(e);
    ioreq_server_destroy(e->srv);
    io_registry_free(e->reg);
    event_free(e->stop_ev);
    close(e->pipe[0]);
    close(e->pipe[1]);
    event_base_free(e->base);
    mockhv_destroy(e->hv);
    free(e);
    return 0;
}

static uint16_t server_id(struct env *e)
{
    uint16_t ids[4];

    assert_int_equal(mockhv_servers(e->hv, ids, 4), 1);
    assert_int_equal(ids[0], ioreq_server_id(e->srv));
    return ids[0];
}

static void test_startup(void **state)
{
    struct env *e = *state;
    struct mockhv_server_info info;
    struct mockhv_range r[8];

    uint16_t id = server_id(e);
    assert_int_equal(mockhv_server_info(e->hv, id, &info), 0);
    assert_true(info.enabled);
    assert_int_equal(info.bufioreq_handling, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    assert_true(info.bufioreq_port_bound);
    assert_int_equal(info.nr_vcpus, NVCPUS);
    assert_int_equal(info.nr_vcpu_ports_bound, NVCPUS);
    assert_int_equal(mockhv_bound_ports(e->hv), NVCPUS + 1);
    assert_int_equal(ioreq_server_nr_vcpus(e->srv), NVCPUS);

    assert_int_equal(mockhv_server_ranges(e->hv, id, r, 8), 2);
    bool pio = false, mmio = false;
    for (int i = 0; i < 2; i++) {
        if (r[i].type == MOCKHV_RANGE_PIO && r[i].start == SCRATCH && r[i].end == SCRATCH + 3)
            pio = true;
        if (r[i].type == MOCKHV_RANGE_MMIO && r[i].start == VGA && r[i].end == VGA + 0xfff)
            mmio = true;
    }
    assert_true(pio);
    assert_true(mmio);
}

static void test_pio_every_vcpu(void **state)
{
    struct env *e = *state;
    struct ioreq_vcpu_stats vs[NVCPUS];
    struct ioreq_stats st;
    uint32_t v;

    for (unsigned cpu = 0; cpu < NVCPUS; cpu++) {
        assert_int_equal(mockhv_pio_in(e->hv, cpu, SCRATCH + 1, 2, &v, TMO), 0);
        assert_int_equal(v, 0x0100 | cpu);
        assert_int_equal(mockhv_pio_in(e->hv, cpu, SCRATCH, 4, &v, TMO), 0);
        assert_int_equal(v, 0xc0de0000u | cpu);
        assert_int_equal(mockhv_pio_out(e->hv, cpu, SCRATCH, 4, 0x1000 + cpu, TMO), 0);
    }
    loop_stop(e);
    assert_int_equal(e->scratch.nr_writes, NVCPUS);
    for (unsigned cpu = 0; cpu < NVCPUS; cpu++)
        assert_int_equal(e->scratch.writes[cpu], 0x1000 + cpu);
    ioreq_server_get_stats(e->srv, &st, vs, NVCPUS);
    assert_int_equal(st.nr_vcpus, NVCPUS);
    assert_int_equal(st.sync_requests, 3 * NVCPUS);
    assert_int_equal(st.malformed, 0);
    for (unsigned cpu = 0; cpu < NVCPUS; cpu++) {
        assert_int_equal(vs[cpu].requests, 3);
        assert_int_equal(vs[cpu].by_type[IOREQ_STAT_PIO], 3);
    }
}

static void test_mmio_rep(void **state)
{
    struct env *e = *state;
    uint8_t pattern[16], back[16];
    uint64_t v;

    assert_int_equal(mockhv_mmio_write(e->hv, 1, VGA + 0x10, 8, 0x1122334455667788ull, TMO), 0);
    assert_int_equal(mockhv_mmio_read(e->hv, 2, VGA + 0x14, 4, &v, TMO), 0);
    assert_int_equal(v, 0x11223344);

    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(0x30 + i);
    assert_int_equal(mockhv_ram_write(e->hv, 0x2000, pattern, sizeof(pattern)), 0);
    struct mockhv_rep out = {
        .mmio = true, .size = 4, .addr = VGA + 0x100, .gpa = 0x2000, .count = 4};
    assert_int_equal(mockhv_rep(e->hv, 0, &out, TMO), 0);

    /* As during live migration: Xen records writes, the toolstack told the device model. */
    mockhv_set_log_dirty(e->hv, true);
    ioreq_server_set_dirty_log(e->srv, true);
    uint64_t mod_before = mockhv_modified_last_seq(e->hv);
    struct mockhv_rep in = {
        .mmio = true, .dir_read = true, .size = 4, .addr = VGA + 0x100, .gpa = 0x5000, .count = 4};
    assert_int_equal(mockhv_rep(e->hv, 0, &in, TMO), 0);
    assert_int_equal(mockhv_ram_read(e->hv, 0x5000, back, sizeof(back)), 0);
    assert_memory_equal(back, pattern, sizeof(pattern));
    loop_stop(e);
    assert_memory_equal(&e->mem.bytes[0x100], pattern, sizeof(pattern));

    /* Every write into guest RAM was reported, frame 5 among them. */
    uint64_t last = mockhv_modified_last_seq(e->hv);
    assert_true(last > mod_before);
    bool frame5 = false;
    for (uint64_t s = mod_before + 1; s <= last; s++) {
        struct mockhv_modified m;
        assert_int_equal(mockhv_modified_get(e->hv, s, &m), 0);
        if (m.first_pfn <= 5 && 5 < m.first_pfn + m.nr)
            frame5 = true;
    }
    assert_true(frame5);
}

static void test_pci_config(void **state)
{
    struct env *e = *state;
    struct hv_services plat = ioreq_server_hv(e->srv);
    struct mockhv_range r[8];
    uint32_t v;

    loop_stop(e);
    assert_int_equal(plat.ops->map_pcidev(plat.opaque, SBDF), 0);
    int n = mockhv_server_ranges(e->hv, server_id(e), r, 8);
    assert_int_equal(n, 3);
    bool found = false;
    for (int i = 0; i < n; i++)
        if (r[i].type == MOCKHV_RANGE_PCI && r[i].start == SBDF)
            found = true;
    assert_true(found);
    loop_start(e);

    assert_int_equal(mockhv_cfg_read(e->hv, 0, SBDF & 0xffff, 0x10, 4, &v, TMO), 0);
    assert_int_equal(v, 0xabcd0010);
    assert_int_equal(mockhv_cfg_read(e->hv, 1, SBDF & 0xffff, 0x2, 2, &v, TMO), 0);
    assert_int_equal(v, 0x0002);
    assert_int_equal(mockhv_cfg_write(e->hv, 2, SBDF & 0xffff, 0x4, 2, 0x0106, TMO), 0);
    /* A function nobody mapped: Xen answers all-ones, we see nothing. */
    assert_int_equal(mockhv_cfg_read(e->hv, 0, PCI_SBDF(0, 0, 4, 0), 0, 4, &v, TMO), 0);
    assert_int_equal(v, 0xffffffff);
    loop_stop(e);
    assert_int_equal(e->pci.reads, 2);
    assert_int_equal(e->pci.writes, 1);
    assert_int_equal(e->pci.sbdf, SBDF);
    assert_int_equal(e->pci.reg, 4);
    assert_int_equal(e->pci.size, 2);
    assert_int_equal(e->pci.value, 0x0106);
}

static void test_buffered_before_sync(void **state)
{
    struct env *e = *state;
    struct ioreq_stats st;
    uint64_t v;

    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(mockhv_buf_write(e->hv, 0, false, SCRATCH, 4, 0xb0 + i, TMO), 0);
    assert_int_equal(mockhv_buf_write(e->hv, 0, true, VGA + 8, 8, 0x0102030405060708ull, TMO), 0);
    assert_int_equal(mockhv_pio_out(e->hv, 0, SCRATCH, 4, 0x5e, TMO), 0);
    /* The synchronous read sees the buffered 8-byte write before it. */
    assert_int_equal(mockhv_mmio_read(e->hv, 1, VGA + 8, 8, &v, TMO), 0);
    assert_int_equal(v, 0x0102030405060708ull);
    loop_stop(e);
    assert_int_equal(e->scratch.nr_writes, 4);
    assert_int_equal(e->scratch.writes[0], 0xb1);
    assert_int_equal(e->scratch.writes[1], 0xb2);
    assert_int_equal(e->scratch.writes[2], 0xb3);
    assert_int_equal(e->scratch.writes[3], 0x5e);
    ioreq_server_get_stats(e->srv, &st, NULL, 0);
    assert_int_equal(st.buffered_requests, 4);
    assert_int_equal(st.sync_requests, 2);
}

static void test_timeoffset_invalidate(void **state)
{
    struct env *e = *state;
    struct ioreq_vcpu_stats vs[NVCPUS];
    struct ioreq_stats st;
    uint32_t v;

    assert_int_equal(mockhv_timeoffset(e->hv, -7200), 1);
    assert_int_equal(mockhv_invalidate(e->hv, 2, TMO), 0);
    /* A synchronous request drains the ring first. */
    assert_int_equal(mockhv_pio_in(e->hv, 0, SCRATCH, 1, &v, TMO), 0);
    loop_stop(e);
    ioreq_server_get_stats(e->srv, &st, vs, NVCPUS);
    assert_int_equal(st.timeoffset, -7200);
    assert_int_equal(st.gmem.invalidations, 1);
    assert_int_equal(vs[2].by_type[IOREQ_STAT_INVALIDATE], 1);
}

/* The guest balloons out two frames: Xen invalidates the map cache on the hypercall's return. */
static void test_balloon_invalidates(void **state)
{
    struct env *e = *state;
    struct ioreq_vcpu_stats vs[NVCPUS];
    struct ioreq_stats st;

    assert_int_equal(mockhv_decrease_reservation(e->hv, 1, 0x100, 2, TMO), 2);
    loop_stop(e);
    ioreq_server_get_stats(e->srv, &st, vs, NVCPUS);
    assert_int_equal(st.gmem.invalidations, 1);
    assert_int_equal(vs[1].by_type[IOREQ_STAT_INVALIDATE], 1);
    assert_int_equal(vs[0].by_type[IOREQ_STAT_INVALIDATE], 0);
}

static void test_interrupts(void **state)
{
    struct env *e = *state;
    struct hv_services plat = ioreq_server_hv(e->srv);
    struct mockhv_irq_record rec;

    loop_stop(e);
    uint64_t seq = mockhv_irq_last_seq(e->hv);
    assert_int_equal(plat.ops->set_isa_irq_level(plat.opaque, 4, true), 0);
    assert_int_equal(mockhv_irq_wait(e->hv, seq, &rec, TMO), 0);
    assert_int_equal(rec.kind, MOCKHV_IRQ_ISA);
    assert_int_equal(rec.irq, 4);
    assert_true(rec.level);
    assert_int_equal(mockhv_isa_irq_level(e->hv, 4), 1);

    assert_int_equal(plat.ops->set_pci_intx_level(plat.opaque, SBDF, 1, true), 0);
    assert_int_equal(mockhv_irq_wait(e->hv, rec.seq, &rec, TMO), 0);
    assert_int_equal(rec.kind, MOCKHV_IRQ_INTX);
    assert_int_equal(rec.sbdf, SBDF);
    assert_int_equal(rec.intx, 1);
    assert_true(rec.level);

    assert_int_equal(plat.ops->inject_msi(plat.opaque, 0xfee00000, 0x4041), 0);
    assert_int_equal(mockhv_irq_wait(e->hv, rec.seq, &rec, TMO), 0);
    assert_int_equal(rec.kind, MOCKHV_IRQ_MSI);
    assert_int_equal(rec.msi_addr, 0xfee00000);
    assert_int_equal(rec.msi_data, 0x4041);

    assert_int_equal(plat.ops->set_isa_irq_level(plat.opaque, 16, true), -EINVAL);
    assert_int_equal(plat.ops->set_pci_intx_level(plat.opaque, SBDF, 4, true), -EINVAL);
}

static void test_ranges_follow_registry(void **state)
{
    struct env *e = *state;
    struct mockhv_range r[8];
    uint32_t v;

    loop_stop(e);
    struct io_range extra = {.space = IO_SPACE_PIO,
                             .base = 0x600,
                             .len = 2,
                             .ops = &scratch_ops,
                             .opaque = &e->scratch,
                             .name = "extra"};
    assert_int_equal(io_map(e->reg, &extra), 0);
    assert_int_equal(mockhv_server_ranges(e->hv, server_id(e), r, 8), 3);
    loop_start(e);
    assert_int_equal(mockhv_pio_in(e->hv, 3, 0x601, 1, &v, TMO), 0);
    assert_int_equal(v, 0x03);
    loop_stop(e);
    assert_int_equal(io_unmap(e->reg, IO_SPACE_PIO, 0x600), 0);
    assert_int_equal(mockhv_server_ranges(e->hv, server_id(e), r, 8), 2);
    loop_start(e);
    assert_int_equal(mockhv_pio_in(e->hv, 3, 0x601, 1, &v, TMO), 0);
    assert_int_equal(v, 0xff); /* nobody's now: Xen's all-ones */
}

static void test_hostile_slot_and_ring(void **state)
{
    struct env *e = *state;
    struct ioreq_stats st;
    uint32_t v, rp, wp;
    ioreq_t req, back;

    uint16_t id = server_id(e);
    memset(&req, 0, sizeof(req));
    req.type = IOREQ_TYPE_PIO;
    req.dir = IOREQ_READ;
    req.addr = SCRATCH;
    req.size = 16;
    req.count = 1;
    req.data = 0x1234;
    req.state = STATE_IOREQ_READY;
    assert_int_equal(mockhv_raw_slot_write(e->hv, id, 3, &req, sizeof(req), true), 0);
    assert_int_equal(mockhv_raw_slot_wait(e->hv, id, 3, STATE_IORESP_READY, TMO), 0);
    assert_int_equal(mockhv_raw_slot_read(e->hv, id, 3, &back, sizeof(back)), 0);
    assert_int_equal(back.data, UINT64_MAX);
    assert_int_equal(back.size, 16);
    back.state = STATE_IOREQ_NONE;
    assert_int_equal(mockhv_raw_slot_write(e->hv, id, 3, &back, sizeof(back), false), 0);

    /* A notification with nothing in the slot. */
    assert_int_equal(mockhv_raw_notify(e->hv, id, 2), 0);
    /* Ring pointers a guest could never produce. */
    assert_int_equal(mockhv_raw_buf_pointers(e->hv, id, 10, 10 + 600, true), 0);

    /* Still serving; this also orders after the notifications above. */
    assert_int_equal(mockhv_pio_in(e->hv, 0, SCRATCH, 1, &v, TMO), 0);
    assert_int_equal(v, 0x00);
    loop_stop(e);
    assert_int_equal(mockhv_raw_buf_pointers_get(e->hv, id, &rp, &wp), 0);
    assert_int_equal(rp, wp);
    ioreq_server_get_stats(e->srv, &st, NULL, 0);
    assert_int_equal(st.malformed, 2);
    assert_true(st.spurious_notifications >= 1);
    assert_int_equal(e->scratch.nr_writes, 0);
}

static void test_teardown_clean(void **state)
{
    struct env *e = *state;
    uint16_t ids[4];

    loop_stop(e);
    ioreq_server_destroy(e->srv);
    e->srv = NULL;
    assert_int_equal(mockhv_servers(e->hv, ids, 4), 0);
    assert_int_equal(mockhv_bound_ports(e->hv), 0);
    /* The registry no longer mirrors anywhere. */
    assert_int_equal(io_unmap(e->reg, IO_SPACE_PIO, SCRATCH), 0);
}

/*
 * Requests that reached the server but were not served when it stops (the
 * loop has ended) are answered as from no device and their vCPUs notified
 * before the server goes: Xen wakes a waiting vCPU only by a notification,
 * and a destroyed server strands it for good.
 */
static void test_teardown_answers_waiting_vcpus(void **state)
{
    struct env *e = *state;
    uint32_t v = 0;
    uint64_t v64 = 0;

    loop_stop(e);
    assert_int_equal(mockhv_pio_in(e->hv, 1, SCRATCH, 4, &v, 50), -ETIMEDOUT);
    assert_int_equal(mockhv_mmio_write(e->hv, 2, VGA + 8, 8, 0x1122334455667788ull, 50),
                     -ETIMEDOUT);
    ioreq_server_destroy(e->srv);
    e->srv = NULL;
    for (unsigned vcpu = 0; vcpu < NVCPUS; vcpu++)
        assert_int_equal(mockhv_vcpu_stranded(e->hv, vcpu), -1);
    /* Both vCPUs run on; nothing claims the addresses any more. */
    assert_int_equal(mockhv_pio_in(e->hv, 1, SCRATCH, 4, &v, TMO), 0);
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(mockhv_mmio_read(e->hv, 2, VGA + 8, 8, &v64, TMO), 0);
    assert_int_equal(v64, ~0ull);
    /* The unserved write was dropped, not given to the device. */
    assert_int_equal(e->mem.bytes[8], 0);
}

static void test_hypervisor_gone(void **state)
{
    struct env *e = *state;

    mockhv_destroy(e->hv);
    e->hv = NULL;
    /* Bounded wait for the loop to notice; the outcome is what is asserted. */
    for (int i = 0; i < 500 && !__atomic_load_n(&e->fatal_calls, __ATOMIC_ACQUIRE); i++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    loop_stop(e);
    assert_int_equal(e->fatal_calls, 1);
    assert_true(e->fatal_err < 0);
    /* Teardown against a dead hypervisor reports errors, never hangs. */
    ioreq_server_destroy(e->srv);
    e->srv = NULL;
}

static int teardown_maybe_gone(void **state)
{
    struct env *e = *state;

    if (!e->hv) {
        loop_stop(e);
        io_registry_free(e->reg);
        event_free(e->stop_ev);
        close(e->pipe[0]);
        close(e->pipe[1]);
        event_base_free(e->base);
        free(e);
        return 0;
    }
    return teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_startup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pio_every_vcpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_rep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_before_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeoffset_invalidate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_balloon_invalidates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_follow_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_slot_and_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_teardown_answers_waiting_vcpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_gone, setup, teardown_maybe_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
