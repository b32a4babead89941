/*
 * The mock's guest side against an in-process ioreq server on the drop-in
 * libraries: request fields as Xen fills them, routing between servers,
 * the 0xCF8 latch and PCI_CONFIG encoding, rep splitting, buffered writes,
 * INVALIDATE, timeouts, vCPUs stranded by a destroyed server, Xen's state
 * checks, records, 128 vCPUs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID 5
#define T     10000

struct fx {
    struct mockhv *hv;
    struct test_dm dm;
};

static int setup_n(void **state, unsigned vcpus, int bufioreq)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = vcpus, .mem_bytes = 16 << 20};

    assert_non_null(fx);
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    assert_int_equal(test_dm_start(&fx->dm, DOMID, bufioreq), 0);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_n(state, 4, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
}

static int setup_128(void **state)
{
    return setup_n(state, 128, HVM_IOREQSRV_BUFIOREQ_OFF);
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    test_dm_stop(&fx->dm, true);
    mockhv_destroy(fx->hv);
    free(fx);
    return 0;
}

static void map_pio(struct fx *fx, uint64_t s, uint64_t e)
{
    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 0, s, e), 0);
}

static void map_mmio(struct fx *fx, uint64_t s, uint64_t e)
{
    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 1, s, e), 0);
}

static void test_pio_request_fields(void **state)
{
    struct fx *fx = *state;
    uint32_t v = 0;
    ioreq_t q;

    map_pio(fx, 0x3f8, 0x3ff);
    test_dm_set_read_value(&fx->dm, 0x12345678abcdull);
    assert_int_equal(mockhv_pio_in(fx->hv, 2, 0x3fa, 2, &v, T), 0);
    assert_int_equal(v, 0xabcd); /* truncated to the access size */
    assert_int_equal(test_dm_count(&fx->dm), 1);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.type, IOREQ_TYPE_PIO);
    assert_int_equal(q.addr, 0x3fa);
    assert_int_equal(q.size, 2);
    assert_int_equal(q.count, 1);
    assert_int_equal(q.dir, IOREQ_READ);
    assert_int_equal(q.data_is_ptr, 0);
    assert_int_not_equal(q.vp_eport, 0);

    assert_int_equal(mockhv_pio_out(fx->hv, 0, 0x3f8, 1, 0x41, T), 0);
    q = test_dm_get(&fx->dm, 1);
    assert_int_equal(q.dir, IOREQ_WRITE);
    assert_int_equal(q.data, 0x41);
    /* a slot is back to NONE after completion */
    assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->dm.id, 0, &q, sizeof(q)), 0);
    assert_int_equal(q.state, STATE_IOREQ_NONE);
}

static void test_unclaimed(void **state)
{
    struct fx *fx = *state;
    struct mockhv_stats st;
    uint32_t v = 0;
    uint64_t q = 0;

    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x80, 4, &v, T), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, 0xfe000000, 8, &q, T), 0);
    assert_true(q == ~0ull);
    assert_int_equal(mockhv_pio_out(fx->hv, 0, 0x80, 1, 1, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 0);
    mockhv_get_stats(fx->hv, &st);
    assert_int_equal(st.unclaimed_reads, 2);
    assert_int_equal(st.unclaimed_writes, 1);
}

static void test_bad_arguments(void **state)
{
    struct fx *fx = *state;
    uint32_t v;
    uint64_t q;

    assert_int_equal(mockhv_pio_in(fx->hv, 4, 0x80, 1, &v, T), -EINVAL); /* no vCPU 4 */
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x80, 8, &v, T), -EINVAL); /* Xen never sends it */
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0xffff, 2, &v, T), -EINVAL);
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, 0x1000, 3, &q, T), -EINVAL);
    assert_int_equal(mockhv_cfg_read(fx->hv, 0, 0, 256, 4, &v, T), -EINVAL);
    assert_int_equal(mockhv_cfg_read(fx->hv, 0, 0, 2, 4, &v, T), -EINVAL);
    /* not an argument error: Xen 4.17 drops it as done (test-shim-xen-details) */
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 1u << 20, 4, 0, T), 0);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, false, 0xffff, 2, 0, T), -EINVAL);
}

static void test_route_highest_enabled_server(void **state)
{
    struct fx *fx = *state;
    struct test_dm dm2;
    uint32_t v = 0;

    map_pio(fx, 0x100, 0x10f);
    assert_int_equal(test_dm_start(&dm2, DOMID, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(dm2.id, fx->dm.id + 1);
    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(dm2.dmod, DOMID, dm2.id, 0, 0x108, 0x10f), 0);
    test_dm_set_read_value(&fx->dm, 1);
    test_dm_set_read_value(&dm2, 2);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x108, 1, &v, T), 0);
    assert_int_equal(v, 2);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x100, 1, &v, T), 0);
    assert_int_equal(v, 1);
    /* an access must lie wholly inside one range */
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x10e, 4, &v, T), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm2.dmod, DOMID, dm2.id, 0), 0);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x108, 1, &v, T), 0);
    assert_int_equal(v, 1);
    test_dm_stop(&dm2, true);
}

static void test_pci_config_encoding(void **state)
{
    struct fx *fx = *state;
    uint32_t v = 0;
    ioreq_t q;

    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 0, 0, 5, 2), 0);
    test_dm_set_read_value(&fx->dm, 0xbeef);
    assert_int_equal(mockhv_cfg_read(fx->hv, 1, 0x2a, 0x42, 2, &v, T), 0);
    assert_int_equal(v, 0xbeef);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.type, IOREQ_TYPE_PCI_CONFIG);
    assert_true(q.addr == ((uint64_t)0x2a << 32 | 0x42));
    assert_int_equal(q.size, 2);
    /* other functions belong to nobody */
    assert_int_equal(mockhv_cfg_read(fx->hv, 1, 0x28, 0, 4, &v, T), 0);
    assert_int_equal(v, 0xffffffff);
    /* without the enable bit, 0xCFC is a plain port */
    assert_int_equal(mockhv_pio_out(fx->hv, 0, 0xcf8, 4, 0x2a00, T), 0);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0xcfc, 4, &v, T), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(test_dm_count(&fx->dm), 1);
}

static void test_cf8_owner_sees_latch_writes(void **state)
{
    struct fx *fx = *state;
    ioreq_t q;

    map_pio(fx, 0xcf8, 0xcff);
    assert_int_equal(mockhv_pio_out(fx->hv, 0, 0xcf8, 4, 0x80000000, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.type, IOREQ_TYPE_PIO);
    assert_int_equal(q.addr, 0xcf8);
    /* a config data cycle is looked up by function only, as in Xen: owning
     * the 0xCFC port does not make an unmapped function ours */
    uint32_t v = 0;
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0xcfc, 4, &v, T), 0);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(test_dm_count(&fx->dm), 1);
}

static void test_rep_split_per_page(void **state)
{
    struct fx *fx = *state;
    struct mockhv_rep rep = {
        .mmio = true, .size = 4, .addr = 0xe0000000, .gpa = 0x1ff8, .count = 6};
    ioreq_t q;

    map_mmio(fx, 0xe0000000, 0xe0000fff);
    assert_int_equal(mockhv_rep(fx->hv, 0, &rep, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 2);
    q = test_dm_get(&fx->dm, 0);
    assert_int_equal(q.type, IOREQ_TYPE_COPY);
    assert_int_equal(q.data_is_ptr, 1);
    assert_int_equal(q.count, 2);
    assert_true(q.data == 0x1ff8);
    assert_true(q.addr == 0xe0000000);
    q = test_dm_get(&fx->dm, 1);
    assert_int_equal(q.count, 4);
    assert_true(q.data == 0x2000);
    assert_true(q.addr == 0xe0000008);
    /* a buffer outside RAM is refused before anything is sent */
    rep.gpa = 16 << 20;
    assert_int_equal(mockhv_rep(fx->hv, 0, &rep, T), -EFAULT);
}

static void test_rep_unclaimed_read_fills_ram(void **state)
{
    struct fx *fx = *state;
    struct mockhv_rep rep = {.dir_read = true, .size = 2, .addr = 0x60, .gpa = 0x3000, .count = 4};
    uint8_t buf[10];

    memset(buf, 0, sizeof(buf));
    assert_int_equal(mockhv_ram_write(fx->hv, 0x3000, buf, sizeof(buf)), 0);
    assert_int_equal(mockhv_rep(fx->hv, 0, &rep, T), 0);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x3000, buf, sizeof(buf)), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0xff);
    assert_int_equal(buf[8], 0);
}

static void test_buffered_writes_in_order(void **state)
{
    struct fx *fx = *state;
    struct mockhv_server_info info;

    map_mmio(fx, 0xa0000, 0xbffff);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0xa0000, 4, 0x11111111, T), 0);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0xa0008, 8, 0x2222222233333333ull, T), 0);
    /* a synchronous request is served after the ring is drained */
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, 0xa0010, 4, &(uint64_t){0}, T), 0);
    uint64_t v0 = 0, v1 = 0;
    assert_int_equal(test_dm_buffered(&fx->dm, 0, &v0), 2);
    assert_int_equal(test_dm_buffered(&fx->dm, 1, &v1), 2);
    assert_true(v0 == 0x11111111);
    assert_true(v1 == 0x2222222233333333ull);
    assert_int_equal(mockhv_server_info(fx->hv, fx->dm.id, &info), 0);
    assert_int_equal(info.buffered_sent, 3); /* the qword took two slots */
    /* TIMEOFFSET goes through the ring of every enabled server */
    assert_int_equal(mockhv_timeoffset(fx->hv, -3600), 1);
}

static void test_buffered_full_ring_falls_back(void **state)
{
    struct fx *fx = *state;
    uint32_t rp, wp;

    map_mmio(fx, 0xa0000, 0xbffff);
    test_dm_set_drain(&fx->dm, false);
    for (int i = 0; i < 512; i++)
        assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0xa0000, 2, (uint64_t)i, T), 0);
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->dm.id, &rp, &wp), 0);
    assert_int_equal(wp - rp, 511);
    assert_int_equal(test_dm_count(&fx->dm), 1); /* the 512th went synchronously */
    assert_int_equal(test_dm_get(&fx->dm, 0).type, IOREQ_TYPE_COPY);
}

static void test_invalidate_all_enabled(void **state)
{
    struct fx *fx = *state;
    struct test_dm dm2;

    assert_int_equal(test_dm_start(&dm2, DOMID, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(mockhv_invalidate(fx->hv, 1, T), 0);
    assert_int_equal(test_dm_count(&fx->dm), 1);
    assert_int_equal(test_dm_count(&dm2), 1);
    assert_int_equal(test_dm_get(&dm2, 0).type, IOREQ_TYPE_INVALIDATE);
    test_dm_stop(&dm2, true);
}

static void test_timeout_then_busy_then_recovered(void **state)
{
    struct fx *fx = *state;
    ioreq_t q;
    uint32_t v;

    map_pio(fx, 0x60, 0x64);
    test_dm_set_mode(&fx->dm, TEST_DM_SILENT);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &v, 50), -ETIMEDOUT);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &v, 50), -EBUSY);
    /* other vCPUs are not affected */
    test_dm_set_mode(&fx->dm, TEST_DM_ANSWER);
    assert_int_equal(mockhv_pio_in(fx->hv, 1, 0x60, 1, &v, T), 0);
    /* the late answer frees vCPU 0 */
    assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->dm.id, 0, &q, sizeof(q)), 0);
    q.state = STATE_IORESP_READY;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->dm.id, 0, &q, sizeof(q), false), 0);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &v, T), 0);
}

static void test_answer_without_notify_times_out(void **state)
{
    struct fx *fx = *state;

    map_pio(fx, 0x60, 0x64);
    test_dm_set_mode(&fx->dm, TEST_DM_NO_NOTIFY);
    assert_int_equal(mockhv_pio_in(fx->hv, 3, 0x60, 1, &(uint32_t){0}, 50), -ETIMEDOUT);
}

/*
 * Xen frees a destroyed server's channels without waking the vCPUs
 * sleeping on them (ioreq_server_destroy, wait_for_io): a vCPU whose
 * request was never answered is stranded for good, here -EDEADLK.
 */
static void test_destroy_strands_waiting_vcpu(void **state)
{
    struct fx *fx = *state;
    uint32_t v;

    map_pio(fx, 0x60, 0x64);
    test_dm_set_mode(&fx->dm, TEST_DM_SILENT);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &v, 50), -ETIMEDOUT);
    assert_int_equal(mockhv_vcpu_stranded(fx->hv, 0), -1);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id), 0);
    assert_int_equal(mockhv_vcpu_stranded(fx->hv, 0), fx->dm.id);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &v, T), -EDEADLK);
    assert_int_equal(mockhv_pio_out(fx->hv, 0, 0x80, 1, 0, T), -EDEADLK);
    assert_int_equal(mockhv_invalidate(fx->hv, 0, T), -EDEADLK);
    /* the others did not wait on it */
    assert_int_equal(mockhv_vcpu_stranded(fx->hv, 1), -1);
    assert_int_equal(mockhv_pio_in(fx->hv, 1, 0x60, 1, &v, T), 0);
    assert_int_equal(v, 0xff);
    assert_int_equal(mockhv_vcpu_stranded(fx->hv, 4), -EINVAL);
}

/* Disabling keeps the channels: the answer given after it still wakes the vCPU. */
static void test_disable_strands_nobody(void **state)
{
    struct fx *fx = *state;
    ioreq_t q;
    uint32_t v;

    map_pio(fx, 0x60, 0x64);
    test_dm_set_mode(&fx->dm, TEST_DM_SILENT);
    assert_int_equal(mockhv_pio_in(fx->hv, 2, 0x60, 1, &v, 50), -ETIMEDOUT);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(fx->dm.dmod, DOMID, fx->dm.id, 0), 0);
    assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->dm.id, 2, &q, sizeof(q)), 0);
    q.state = STATE_IORESP_READY;
    q.data = ~0ull;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->dm.id, 2, &q, sizeof(q), false), 0);
    assert_int_equal(mockhv_pio_in(fx->hv, 2, 0x60, 1, &v, T), 0);
    assert_int_equal(v, 0xff); /* disabled: nobody claims the port */
    assert_int_equal(xendevicemodel_destroy_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id), 0);
    assert_int_equal(mockhv_vcpu_stranded(fx->hv, 2), -1);
    assert_int_equal(mockhv_pio_in(fx->hv, 2, 0x60, 1, &v, T), 0);
}

static void test_bad_state_crashes_domain(void **state)
{
    struct fx *fx = *state;

    map_pio(fx, 0x60, 0x64);
    test_dm_set_mode(&fx->dm, TEST_DM_BAD_STATE);
    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x60, 1, &(uint32_t){0}, T), -EIO);
    assert_true(mockhv_domain_crashed(fx->hv));
    assert_int_equal(mockhv_pio_in(fx->hv, 1, 0x80, 1, &(uint32_t){0}, T), -EIO);
}

static void test_records(void **state)
{
    struct fx *fx = *state;
    xendevicemodel_handle *d = fx->dm.dmod;
    struct mockhv_irq_record r;
    struct mockhv_modified m;

    assert_int_equal(xendevicemodel_set_isa_irq_level(d, DOMID, 4, 1), 0);
    assert_int_equal(xendevicemodel_set_pci_intx_level(d, DOMID, 0, 0, 3, 1, 1), 0);
    assert_int_equal(xendevicemodel_inject_msi(d, DOMID, 0xfee00000, 0x4041), 0);
    assert_int_equal(mockhv_irq_wait(fx->hv, 0, &r, T), 0);
    assert_int_equal(r.seq, 1);
    assert_int_equal(r.kind, MOCKHV_IRQ_ISA);
    assert_int_equal(r.irq, 4);
    assert_true(r.level);
    assert_int_equal(mockhv_irq_get(fx->hv, 2, &r), 0);
    assert_int_equal(r.kind, MOCKHV_IRQ_INTX);
    assert_int_equal(r.sbdf, 3 << 3);
    assert_int_equal(r.intx, 1);
    assert_int_equal(mockhv_irq_wait(fx->hv, 2, &r, T), 0);
    assert_int_equal(r.kind, MOCKHV_IRQ_MSI);
    assert_true(r.msi_addr == 0xfee00000);
    assert_int_equal(r.msi_data, 0x4041);
    assert_int_equal(mockhv_irq_wait(fx->hv, 3, &r, 20), -ETIMEDOUT);
    assert_int_equal(mockhv_isa_irq_level(fx->hv, 4), 1);
    assert_int_equal(mockhv_intx_level(fx->hv, 3 << 3, 1), 1);
    /* Xen's argument checks */
    assert_int_equal(xendevicemodel_set_isa_irq_level(d, DOMID, 16, 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_set_pci_intx_level(d, DOMID, 0, 1, 3, 1, 1), -1);
    assert_int_equal(errno, EINVAL);

    /* Outside log-dirty mode Xen ignores modified_memory, checks included. */
    assert_int_equal(xendevicemodel_modified_memory(d, DOMID, ~0ull - 1, 4), 0);
    assert_int_equal(mockhv_modified_last_seq(fx->hv), 0);
    mockhv_set_log_dirty(fx->hv, true);
    assert_int_equal(xendevicemodel_modified_memory(d, DOMID, 0x10, 3), 0);
    assert_int_equal(mockhv_modified_last_seq(fx->hv), 1);
    assert_int_equal(mockhv_modified_get(fx->hv, 1, &m), 0);
    assert_true(m.first_pfn == 0x10 && m.nr == 3);
    assert_int_equal(xendevicemodel_modified_memory(d, DOMID, ~0ull - 1, 4), -1);
    assert_int_equal(errno, EINVAL);

    assert_int_equal(mockhv_shutdown_reason(fx->hv), -1);
    assert_int_equal(xendevicemodel_shutdown(d, DOMID, SHUTDOWN_reboot), 0);
    assert_int_equal(mockhv_shutdown_reason(fx->hv), SHUTDOWN_reboot);
}

struct vjob {
    struct mockhv *hv;
    unsigned vcpu;
    int rc;
};

static void *vcpu_main(void *arg)
{
    struct vjob *j = arg;
    uint32_t v = 0;

    for (int i = 0; i < 20 && !j->rc; i++) {
        j->rc = mockhv_pio_in(j->hv, j->vcpu, 0x3f8, 4, &v, T);
        if (!j->rc && v != 0x5a5a5a5a)
            j->rc = -EBADMSG;
    }
    return NULL;
}

static void test_128_vcpus_concurrently(void **state)
{
    struct fx *fx = *state;
    struct mockhv_server_info info;
    static struct vjob jobs[128];
    static pthread_t th[128];

    assert_int_equal(mockhv_server_info(fx->hv, fx->dm.id, &info), 0);
    assert_int_equal(info.nr_vcpu_ports_bound, 128);
    map_pio(fx, 0x3f8, 0x3ff);
    test_dm_set_read_value(&fx->dm, 0x5a5a5a5a);
    for (unsigned i = 0; i < 128; i++) {
        jobs[i] = (struct vjob){.hv = fx->hv, .vcpu = i};
        assert_int_equal(pthread_create(&th[i], NULL, vcpu_main, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < 128; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].rc, 0);
    }
    assert_int_equal(mockhv_server_info(fx->hv, fx->dm.id, &info), 0);
    assert_true(info.requests_sent == 128 * 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pio_request_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_highest_enabled_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_config_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cf8_owner_sees_latch_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_split_per_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_unclaimed_read_fills_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_writes_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_full_ring_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalidate_all_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_then_busy_then_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_without_notify_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_strands_waiting_vcpu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable_strands_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_state_crashes_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_128_vcpus_concurrently, setup_128, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
