/*
 * mockhv_domain_destroy(): the domain goes away under a running device
 * model and the mock answers as Xen does, errno for errno: dying while the
 * device model maps it (listed as dying, nr_vcpus answers, server calls
 * ENOENT), then ESRCH for every call naming it, a bound dom0 port left
 * allocated but unbound (notify dropped, unbind succeeds), -ESHUTDOWN for
 * guest accesses, @releaseDomain and the guest's keys removed in xenstore.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
#include <xen/hvm/ioreq.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID   6
#define NR_VCPU 2
#define WAIT_MS 10000

struct fixture {
    struct mockhv *hv;
    struct test_dm dm;
    bool dm_running;
};

static int setup_with(void **state, bool xenstore)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = DOMID, .nr_vcpus = NR_VCPU, .mem_bytes = 8 << 20, .xenstore = xenstore};

    if (!fx || mockhv_create(&fx->hv, &cfg) || mockhv_setenv(fx->hv))
        return -1;
    if (test_dm_start(&fx->dm, DOMID, HVM_IOREQSRV_BUFIOREQ_ATOMIC))
        return -1;
    fx->dm_running = true;
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int setup_xs(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    /* after the domain went, disabling and destroying fail with ESRCH: harmless */
    if (fx->dm_running)
        test_dm_stop(&fx->dm, true);
    mockhv_destroy(fx->hv);
    free(fx);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* -errno of a libxen* call that returned non-zero, 0 if it succeeded */
#define XERR(call) ((call) ? -errno : 0)

/* Stops the in-process device model: its mappings go, and with them a dying domain. */
static void release_mappings(struct fixture *fx)
{
    test_dm_stop(&fx->dm, true);
    fx->dm_running = false;
    if (mockhv_domain_destroyed(fx->hv))
        assert_int_equal(mockhv_domain_wait_released(fx->hv, WAIT_MS), 0);
}

static void test_domain_info(void **state)
{
    struct fixture *fx = *state;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xc_dominfo_t info[2];
    xc_domaininfo_t list[2];
    uint64_t v;

    assert_non_null(xch);
    assert_int_equal(xc_domain_getinfo(xch, DOMID, 1, info), 1);
    assert_int_equal(info[0].domid, DOMID);
    assert_false(info[0].dying);
    assert_false(mockhv_domain_destroyed(fx->hv));

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_true(mockhv_domain_destroyed(fx->hv));
    /* dying while the device model maps its pages: listed, with the flag */
    assert_true(mockhv_domain_dying(fx->hv));
    assert_int_equal(mockhv_domain_wait_released(fx->hv, 1), -ETIMEDOUT);
    assert_int_equal(xc_domain_getinfo(xch, DOMID, 1, info), 1);
    assert_int_equal(info[0].domid, DOMID);
    assert_true(info[0].dying);
    assert_false(info[0].running);
    assert_int_equal(xc_domain_getinfolist(xch, 0, 2, list), 2);
    assert_int_equal(list[1].domain, DOMID);
    assert_true(list[1].flags & XEN_DOMINF_dying);
    assert_int_equal(XERR(xc_hvm_param_get(xch, DOMID, HVM_PARAM_STORE_EVTCHN, &v)), -ESRCH);

    /* gone once nothing maps it: only dom0 is left */
    release_mappings(fx);
    assert_false(mockhv_domain_dying(fx->hv));
    assert_int_equal(xc_domain_getinfo(xch, DOMID, 1, info), 0);
    assert_int_equal(xc_domain_getinfo(xch, 0, 2, info), 1);
    assert_int_equal(info[0].domid, 0);
    assert_int_equal(xc_domain_getinfolist(xch, 0, 2, list), 1);
    assert_int_equal(list[0].domain, 0);
    assert_int_equal(XERR(xc_hvm_param_get(xch, DOMID, HVM_PARAM_STORE_EVTCHN, &v)), -ESRCH);
    assert_int_equal(XERR(xc_hvm_param_set(xch, DOMID, HVM_PARAM_STORE_EVTCHN, 3)), -ESRCH);
    /* once only */
    assert_int_equal(mockhv_domain_destroy(fx->hv), -ESRCH);
    xc_interface_close(xch);
}

/* Nothing mapped it: the domain goes at once. */
static void test_unmapped_domain_goes_at_once(void **state)
{
    struct fixture *fx = *state;

    release_mappings(fx);
    /* the mock sees the connections close on its own thread */
    assert_int_equal(mockhv_connections_wait(fx->hv, 0, WAIT_MS), 0);
    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_false(mockhv_domain_dying(fx->hv));
}

/*
 * While dying, dm_op still finds the domain (xen/arch/x86/hvm/dm.c checks
 * no is_dying): nr_vcpus answers, every call about a server fails ENOENT
 * (ioreq_server_destroy_all ran); once released, everything fails ESRCH.
 */
static void test_dm_calls_dying_then_gone(void **state)
{
    struct fixture *fx = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    ioservid_t id = fx->dm.id, nid;
    unsigned vcpus = 0;
    uint16_t ids[2];
    evtchn_port_t bport;

    assert_non_null(dmod);
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 1);
    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 0);

    /* the teardown calls a device model makes */
    assert_int_equal(XERR(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 0)), -ENOENT);
    assert_int_equal(
        XERR(xendevicemodel_unmap_io_range_from_ioreq_server(dmod, DOMID, id, 0, 0x3f8, 0x3ff)),
        -ENOENT);
    assert_int_equal(XERR(xendevicemodel_destroy_ioreq_server(dmod, DOMID, id)), -ENOENT);
    assert_int_equal(
        XERR(xendevicemodel_get_ioreq_server_info(dmod, DOMID, id, NULL, NULL, &bport)), -ENOENT);
    assert_int_equal(
        XERR(xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 0, 0x3f8, 0x3ff)),
        -ENOENT);
    /* the domain itself is still found */
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus)), 0);
    assert_int_equal(vcpus, NR_VCPU);
    /* the mock's simplification for the rest */
    assert_int_equal(XERR(xendevicemodel_create_ioreq_server(dmod, DOMID, 1, &nid)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_set_isa_irq_level(dmod, DOMID, 4, 1)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_inject_msi(dmod, DOMID, 0xfee00000, 0x30)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_modified_memory(dmod, DOMID, 1, 1)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_shutdown(dmod, DOMID, SHUTDOWN_poweroff)), -ESRCH);
    assert_int_equal(mockhv_shutdown_reason(fx->hv), -1);

    release_mappings(fx);
    assert_int_equal(XERR(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 0)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_destroy_ioreq_server(dmod, DOMID, id)), -ESRCH);
    assert_int_equal(
        XERR(xendevicemodel_get_ioreq_server_info(dmod, DOMID, id, NULL, NULL, &bport)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_create_ioreq_server(dmod, DOMID, 1, &nid)), -ESRCH);
    xendevicemodel_close(dmod);
}

/* A restricted handle (ioreqd's after deprivileging): its own domain's
 * nr_vcpus answers while dying (no proof of life), its server does not;
 * ESRCH once gone, and still EPERM for any other domain. */
static void test_restricted_handle(void **state)
{
    struct fixture *fx = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    unsigned vcpus;
    evtchn_port_t bport;

    assert_non_null(dmod);
    assert_int_equal(xendevicemodel_restrict(dmod, DOMID), 0);
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus)), 0);
    assert_int_equal(vcpus, NR_VCPU);
    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus)), 0);
    assert_int_equal(
        XERR(xendevicemodel_get_ioreq_server_info(dmod, DOMID, fx->dm.id, NULL, NULL, &bport)),
        -ENOENT);
    release_mappings(fx);
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus)), -ESRCH);
    assert_int_equal(XERR(xendevicemodel_nr_vcpus(dmod, DOMID + 1, &vcpus)), -EPERM);
    xendevicemodel_close(dmod);
}

static void test_foreign_memory(void **state)
{
    struct fixture *fx = *state;
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenforeignmemory_resource_handle *res;
    xen_pfn_t pfn = 1;
    void *addr = NULL, *page;
    int err = 0;

    assert_non_null(fmem);
    page = xenforeignmemory_map(fmem, DOMID, PROT_READ | PROT_WRITE, 1, &pfn, &err);
    assert_non_null(page);
    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);

    assert_null(xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, &err));
    assert_int_equal(errno, ESRCH);
    res = xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, fx->dm.id,
                                        XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
                                        PROT_READ | PROT_WRITE, 0);
    assert_null(res);
    assert_int_equal(errno, ESRCH);
    /* what was mapped stays usable, as a dying domain's pages do */
    memset(page, 0x5a, 4096);
    assert_int_equal(((uint8_t *)page)[4095], 0x5a);
    assert_int_equal(((volatile ioreq_t *)&fx->dm.slots->vcpu_ioreq[0])->state, STATE_IOREQ_NONE);
    assert_int_equal(xenforeignmemory_unmap(fmem, page, 1), 0);
    xenforeignmemory_close(fmem);
}

static void test_event_channels(void **state)
{
    struct fixture *fx = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    ioservid_t id;
    uint32_t remote[2];
    int local[2], loop;

    assert_non_null(dmod);
    assert_non_null(xce);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &id), 0);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1), 0);
    for (unsigned v = 0; v < 2; v++) {
        assert_int_equal(mockhv_server_vcpu_port(fx->hv, id, v, &remote[v]), 0);
        local[v] = xenevtchn_bind_interdomain(xce, DOMID, remote[v]);
        assert_true(local[v] > 0);
    }
    /* the test_dm's vCPU and buffered ports, and these two */
    assert_int_equal(mockhv_bound_ports(fx->hv), NR_VCPU + 1 + 2);
    assert_int_equal(xenevtchn_unbind(xce, (evtchn_port_t)local[1]), 0);

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    /* the remote ends are closed: nothing is bound to the domain any more */
    assert_int_equal(mockhv_bound_ports(fx->hv), 0);
    /* the local end stays ours: notify is dropped, unbind succeeds once */
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)local[0]), 0);
    assert_int_equal(xenevtchn_unbind(xce, (evtchn_port_t)local[0]), 0);
    assert_int_equal(XERR(xenevtchn_unbind(xce, (evtchn_port_t)local[0])), -ENOTCONN);
    /* the domain's ports cannot be bound again, nor new ones made for it */
    assert_int_equal(xenevtchn_bind_interdomain(xce, DOMID, remote[1]), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xenevtchn_bind_unbound_port(xce, DOMID), -1);
    assert_int_equal(errno, ESRCH);
    /* dom0 itself is alive */
    loop = xenevtchn_bind_unbound_port(xce, 0);
    assert_true(loop > 0);
    assert_int_equal(xenevtchn_unbind(xce, (evtchn_port_t)loop), 0);
    /* the test_dm's ports too: its teardown unbinds without error */
    for (unsigned v = 0; v < NR_VCPU; v++)
        assert_int_equal(xenevtchn_unbind(fx->dm.xce, fx->dm.local[v]), 0);
    xenevtchn_close(xce);
    xendevicemodel_close(dmod);
}

struct waiter {
    struct mockhv *hv;
    int rc;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    uint32_t v = 0;

    w->rc = mockhv_pio_in(w->hv, 1, 0x3f8, 1, &v, WAIT_MS);
    return NULL;
}

static void test_guest_accesses(void **state)
{
    struct fixture *fx = *state;
    struct waiter w = {.hv = fx->hv, .rc = 1};
    struct mockhv_irq_record irq;
    struct mockhv_rep rep = {.size = 1, .addr = 0x3f8, .gpa = 0x1000, .count = 2};
    pthread_t t;
    uint64_t v64 = 0;
    uint32_t v = 0;
    char buf[4];

    /* a request the device model takes but never answers: vCPU 1 waits */
    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 0, 0x3f8, 0x3ff),
        0);
    test_dm_set_mode(&fx->dm, TEST_DM_SILENT);
    assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
    while (test_dm_count(&fx->dm) == 0)
        sleep_ms(1);
    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, -ESHUTDOWN);

    assert_int_equal(mockhv_pio_in(fx->hv, 0, 0x3f8, 1, &v, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_pio_out(fx->hv, 1, 0x80, 1, 0, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_mmio_read(fx->hv, 0, 0xfe000000, 4, &v64, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_mmio_write(fx->hv, 0, 0xfe000000, 8, 1, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_cfg_read(fx->hv, 0, 0x18, 0, 4, &v, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_rep(fx->hv, 0, &rep, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, true, 0xa0000, 4, 1, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_invalidate(fx->hv, 0, WAIT_MS), -ESHUTDOWN);
    assert_int_equal(mockhv_ram_read(fx->hv, 0x1000, buf, sizeof(buf)), -ESHUTDOWN);
    assert_int_equal(mockhv_ram_write(fx->hv, 0x1000, buf, sizeof(buf)), -ESHUTDOWN);
    assert_int_equal(mockhv_irq_wait(fx->hv, 0, &irq, WAIT_MS), -ESHUTDOWN);
    assert_false(mockhv_domain_crashed(fx->hv));
}

static bool watch_fired(struct xs_handle *xs, const char *token)
{
    struct pollfd pfd = {.fd = xs_fileno(xs), .events = POLLIN};
    unsigned n;

    while (poll(&pfd, 1, WAIT_MS) == 1) {
        char **ev = xs_read_watch(xs, &n);
        bool match = ev && !strcmp(ev[XS_WATCH_PATH], "@releaseDomain") &&
                     !strcmp(ev[XS_WATCH_TOKEN], token);

        free(ev);
        if (match)
            return true;
    }
    return false;
}

static void test_xenstore_release(void **state)
{
    struct fixture *fx = *state;
    struct xs_handle *xs = xs_open(0);
    char *val = NULL;
    unsigned len;

    assert_non_null(xs);
    assert_true(xs_watch(xs, "@releaseDomain", "rel"));
    /* a new watch fires once at once */
    assert_true(watch_fired(xs, "rel"));
    assert_int_equal(
        mockhv_xenstore_write(fx->hv, "/local/domain/0/device-model/6/state", "running"), 0);
    assert_int_equal(mockhv_xenstore_read(fx->hv, "/local/domain/6/name", &val), 0);
    assert_string_equal(val, "mock-6");
    free(val);

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_true(watch_fired(xs, "rel"));
    assert_null(xs_read(xs, XBT_NULL, "/local/domain/6", &len));
    assert_int_equal(errno, ENOENT);
    assert_null(xs_read(xs, XBT_NULL, "/vm/00000000-0000-4000-8000-000000000006", &len));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(mockhv_xenstore_read(fx->hv, "/local/domain/6/name", &val), -ENOENT);
    /* the device model's own directory is its to remove */
    val = xs_read(xs, XBT_NULL, "/local/domain/0/device-model/6/state", &len);
    assert_non_null(val);
    assert_string_equal(val, "running");
    free(val);
    xs_close(xs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_domain_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dm_calls_dying_then_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_domain_goes_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restricted_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_release, setup_xs, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
