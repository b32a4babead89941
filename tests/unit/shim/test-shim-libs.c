/*
 * The drop-in libraries' behaviour at the edges: no mock, the mock going
 * away, bad arguments answered with Xen's errors, foreign mappings, event
 * channel masking, domain information and HVM parameters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/hvm/ioreq.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mockhv.h"

#define DOMID 4

static int setup(void **state)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 2, .mem_bytes = 8 << 20};
    struct mockhv *hv;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(hv), 0);
    *state = hv;
    return 0;
}

static int teardown(void **state)
{
    mockhv_destroy(*state);
    return 0;
}

static bool readable(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    return poll(&pfd, 1, 0) == 1;
}

static void test_no_mock(void **state)
{
    unsetenv("MOCKXEN_SOCKET");
    assert_null(xenevtchn_open(NULL, 0));
    assert_int_equal(errno, ENOENT);
    setenv("MOCKXEN_SOCKET", "/nonexistent/mockxen.sock", 1);
    assert_null(xendevicemodel_open(NULL, 0));
    assert_int_equal(errno, ENOENT);
    assert_null(xenforeignmemory_open(NULL, 0));
    assert_null(xc_interface_open(NULL, NULL, 0));
}

static void test_mock_gone(void **state)
{
    struct mockhv *hv = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    unsigned vcpus;
    xen_pfn_t pfn = 1;
    xc_dominfo_t info;
    int port;

    assert_non_null(dmod);
    assert_non_null(fmem);
    assert_non_null(xce);
    assert_non_null(xch);
    port = xenevtchn_bind_unbound_port(xce, DOMID);
    assert_true(port > 0);
    assert_false(readable(xenevtchn_fd(xce)));

    mockhv_destroy(hv);
    *state = NULL;

    assert_true(readable(xenevtchn_fd(xce)));
    assert_int_equal(xenevtchn_pending(xce), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)port), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xendevicemodel_nr_vcpus(dmod, DOMID, &vcpus), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xendevicemodel_set_isa_irq_level(dmod, DOMID, 1, 1), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_null(xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, NULL));
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xc_domain_getinfo(xch, DOMID, 1, &info), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_close(xce), 0);
    assert_int_equal(xendevicemodel_close(dmod), 0);
    assert_int_equal(xenforeignmemory_close(fmem), 0);
    assert_int_equal(xc_interface_close(xch), 0);
}

static void test_server_errors(void **state)
{
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    ioservid_t id, ids[8];
    xen_pfn_t gfn;
    evtchn_port_t port = 99;
    size_t size = 0;
    void *addr = NULL;

    assert_non_null(dmod);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID + 1, 0, &id), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 7, &id), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &id), 0);

    /* resource frames: no buffered ring here, only the slots */
    assert_null(xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id, 0, 1,
                                              &addr, PROT_READ, 0));
    assert_int_equal(errno, ENOENT);
    assert_null(xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id, 1, 2,
                                              &addr, PROT_READ, 0));
    assert_int_equal(errno, EINVAL);
    assert_null(xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id + 1, 1,
                                              1, &addr, PROT_READ, 0));
    assert_int_equal(errno, ENOENT);
    assert_null(xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_grant_table, 0, 0, 1,
                                              &addr, PROT_READ, 0));
    assert_int_equal(errno, EOPNOTSUPP);
    assert_int_equal(
        xenforeignmemory_resource_size(fmem, DOMID, XENMEM_resource_ioreq_server, id, &size), 0);
    assert_int_equal(size, 2 * 4096);

    assert_int_equal(xendevicemodel_get_ioreq_server_info(dmod, DOMID, id, &gfn, NULL, NULL), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    assert_int_equal(xendevicemodel_get_ioreq_server_info(dmod, DOMID, id, NULL, NULL, &port), 0);
    assert_int_equal(port, 0);

    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 0, 10, 9), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 0, 10, 19), 0);
    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 0, 15, 25), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(xendevicemodel_unmap_io_range_from_ioreq_server(dmod, DOMID, id, 1, 10, 19),
                     -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(xendevicemodel_unmap_io_range_from_ioreq_server(dmod, DOMID, id, 0, 12, 13),
                     0);
    assert_int_equal(xendevicemodel_map_pcidev_to_ioreq_server(dmod, DOMID, id, 0, 0, 32, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id + 3, 1), -1);
    assert_int_equal(errno, ENOENT);

    /* at most 8 servers */
    for (int i = 0; i < 7; i++)
        assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &ids[i]), 0);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &ids[7]), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(mockhv_servers(*state, NULL, 0), 8);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dmod, DOMID, id), 0);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dmod, DOMID, id), -1);
    assert_int_equal(errno, ENOENT);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
}

static void test_vp_eport_only_when_enabled(void **state)
{
    struct mockhv *hv = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenforeignmemory_resource_handle *fres;
    shared_iopage_t *slots;
    void *addr = NULL;
    uint32_t port = 0;
    ioservid_t id;

    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 2, &id), 0);
    fres = xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id, 1, 1, &addr,
                                         PROT_READ, 0);
    assert_non_null(fres);
    slots = addr;
    assert_int_equal(slots->vcpu_ioreq[0].vp_eport, 0);
    assert_int_equal(slots->vcpu_ioreq[1].vp_eport, 0);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1), 0);
    assert_int_equal(mockhv_server_vcpu_port(hv, id, 1, &port), 0);
    assert_int_not_equal(port, 0);
    assert_int_equal(slots->vcpu_ioreq[1].vp_eport, port);
    assert_int_not_equal(slots->vcpu_ioreq[0].vp_eport, port);
    xenforeignmemory_unmap_resource(fmem, fres);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
}

static void test_foreign_map(void **state)
{
    struct mockhv *hv = *state;
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xen_pfn_t pfns[3] = {5, 0x100000, 6};
    int err[3] = {1, 1, 1};
    uint8_t *p;

    assert_int_equal(mockhv_ram_write(hv, 5 * 4096 + 7, "hello", 5), 0);
    assert_int_equal(mockhv_ram_write(hv, 6 * 4096, "world", 5), 0);
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ | PROT_WRITE, 3, pfns, err);
    assert_non_null(p);
    assert_int_equal(err[0], 0);
    assert_int_equal(err[1], -EINVAL); /* 4 GiB: no RAM there */
    assert_int_equal(err[2], 0);
    assert_memory_equal(p + 7, "hello", 5);
    assert_memory_equal(p + 2 * 4096, "world", 5);
    p[8] = 'E';
    assert_int_equal(xenforeignmemory_unmap(fmem, p, 3), 0);
    char buf[5];
    assert_int_equal(mockhv_ram_read(hv, 5 * 4096 + 7, buf, 5), 0);
    assert_memory_equal(buf, "hEllo", 5);
    /* without err[], one bad frame fails the whole map */
    assert_null(xenforeignmemory_map(fmem, DOMID, PROT_READ, 3, pfns, NULL));
    assert_int_equal(errno, EINVAL);
    assert_null(xenforeignmemory_map(fmem, DOMID, PROT_READ, 0, pfns, NULL));
    assert_int_equal(errno, EINVAL);
    xenforeignmemory_close(fmem);
}

static bool page_mapped(void *p)
{
    unsigned char v;

    return mincore(p, 4096, &v) == 0;
}

/*
 * map2 with the caller's address: MAP_FIXED maps exactly there, replacing
 * what was there (the caller's pages, or an earlier foreign mapping, as a
 * map cache remaps a bucket); MAP_FIXED_NOREPLACE refuses an occupied
 * range; other flags only shape the mapping.
 */
static void test_foreign_map2_address_and_flags(void **state)
{
    struct mockhv *hv = *state;
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xen_pfn_t pfns[2] = {5, 6}, swapped[2] = {6, 5};
    int err[2] = {1, 1};
    uint8_t *area, *p;
    char buf[4];

    assert_non_null(fmem);
    assert_int_equal(mockhv_ram_write(hv, 5 * 4096, "five", 4), 0);
    assert_int_equal(mockhv_ram_write(hv, 6 * 4096, "six", 3), 0);
    area = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(area != MAP_FAILED);
    memset(area, 0xaa, 4 * 4096);

    p = xenforeignmemory_map2(fmem, DOMID, area + 4096, PROT_READ | PROT_WRITE, MAP_FIXED, 2, pfns,
                              err);
    assert_ptr_equal(p, area + 4096);
    assert_int_equal(err[0], 0);
    assert_int_equal(err[1], 0);
    assert_memory_equal(p, "five", 4);
    assert_memory_equal(p + 4096, "six", 3);
    assert_int_equal(area[4095], 0xaa);
    assert_int_equal(area[3 * 4096], 0xaa);
    p[1] = 'I';
    assert_int_equal(mockhv_ram_read(hv, 5 * 4096, buf, 4), 0);
    assert_memory_equal(buf, "fIve", 4);
    /* remapped in place with other frames */
    p = xenforeignmemory_map2(fmem, DOMID, area + 4096, PROT_READ, MAP_FIXED, 2, swapped, NULL);
    assert_ptr_equal(p, area + 4096);
    assert_memory_equal(p, "six", 3);
    assert_memory_equal(p + 4096, "fIve", 4);
    /* an occupied range is not replaced without MAP_FIXED */
    assert_null(xenforeignmemory_map2(fmem, DOMID, area + 4096, PROT_READ, MAP_FIXED_NOREPLACE, 2,
                                      pfns, err));
    assert_int_equal(errno, EEXIST);
    assert_memory_equal(area + 4096, "six", 3);
    p = xenforeignmemory_map2(fmem, DOMID, area + 4096, PROT_READ, 0, 2, pfns, err);
    assert_non_null(p);
    assert_ptr_not_equal(p, area + 4096);
    assert_memory_equal(p, "fIve", 4);
    assert_int_equal(xenforeignmemory_unmap(fmem, p, 2), 0);
    /* flags that only shape the mapping */
    p = xenforeignmemory_map2(fmem, DOMID, NULL, PROT_READ, MAP_POPULATE | MAP_NORESERVE, 2, pfns,
                              NULL);
    assert_non_null(p);
    assert_memory_equal(p + 4096, "six", 3);
    assert_int_equal(xenforeignmemory_unmap(fmem, p, 2), 0);
    /* MAP_FIXED needs a page-aligned address, as mmap does */
    assert_null(xenforeignmemory_map2(fmem, DOMID, area + 1, PROT_READ, MAP_FIXED, 1, pfns, err));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(area[0], 0xaa);
    assert_int_equal(munmap(area, 4 * 4096), 0);
    xenforeignmemory_close(fmem);
}

/*
 * A map2 that fails after claiming a MAP_FIXED range gives it up: the
 * caller's mapping there is gone, as with privcmd, whatever failed (a bad
 * frame without err[], another domain, a restricted handle, no frame
 * list). Failing before any claim (no pages) leaves it alone; with err[],
 * a bad frame fails only its own page.
 */
static void test_foreign_map2_fixed_failures(void **state)
{
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenforeignmemory_handle *restricted = xenforeignmemory_open(NULL, 0);
    xen_pfn_t good[2] = {5, 6}, bad[2] = {5, 0x100000};
    int err[2] = {1, 1};
    uint8_t *area, *p;

    assert_non_null(fmem);
    assert_non_null(restricted);
    assert_int_equal(xenforeignmemory_restrict(restricted, DOMID), 0);
    area = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(area != MAP_FAILED);

    assert_null(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 0, good, err));
    assert_int_equal(errno, EINVAL);
    assert_true(page_mapped(area));

    p = xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, bad, err);
    assert_ptr_equal(p, area);
    assert_int_equal(err[0], 0);
    assert_int_equal(err[1], -EINVAL);
    assert_true(page_mapped(area + 4096));

    assert_null(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, bad, NULL));
    assert_int_equal(errno, EINVAL);
    assert_false(page_mapped(area));
    assert_false(page_mapped(area + 4096));

    assert_ptr_equal(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, good, err),
                     area);
    assert_null(xenforeignmemory_map2(fmem, DOMID + 1, area, PROT_READ, MAP_FIXED, 2, good, err));
    assert_int_equal(errno, ESRCH);
    assert_false(page_mapped(area));

    assert_ptr_equal(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, good, err),
                     area);
    assert_null(
        xenforeignmemory_map2(restricted, DOMID + 1, area, PROT_READ, MAP_FIXED, 2, good, err));
    assert_int_equal(errno, EPERM);
    assert_false(page_mapped(area));

    assert_ptr_equal(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, good, err),
                     area);
    assert_null(xenforeignmemory_map2(fmem, DOMID, area, PROT_READ, MAP_FIXED, 2, NULL, err));
    assert_int_equal(errno, EFAULT);
    assert_false(page_mapped(area));
    assert_false(page_mapped(area + 4096));

    xenforeignmemory_close(restricted);
    xenforeignmemory_close(fmem);
}

static void test_relocate_memory(void **state)
{
    struct mockhv *hv = *state;
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xen_pfn_t pfn = 0xf1000; /* in the MMIO hole until relocated */
    int err = 1;
    char buf[5];
    uint8_t *p;

    assert_int_equal(mockhv_ram_write(hv, 5 * 4096, "moved", 5), 0);
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, &err);
    assert_non_null(p);
    assert_int_equal(err, -EINVAL);
    xenforeignmemory_unmap(fmem, p, 1);

    assert_int_equal(xendevicemodel_relocate_memory(dmod, DOMID, 2, 5, 0xf1000), 0);
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, &err);
    assert_non_null(p);
    assert_int_equal(err, 0);
    assert_memory_equal(p, "moved", 5);
    xenforeignmemory_unmap(fmem, p, 1);
    /* the source frames are holes now, for the device model and the guest */
    pfn = 6;
    assert_null(xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, NULL));
    assert_int_equal(mockhv_ram_read(hv, 5 * 4096, buf, 5), -EFAULT);
    assert_int_equal(mockhv_ram_read(hv, 0xf1000000, buf, 5), 0);
    assert_memory_equal(buf, "moved", 5);
    /* moving a hole fails and changes nothing */
    assert_int_equal(xendevicemodel_relocate_memory(dmod, DOMID, 1, 5, 7), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(mockhv_ram_read(hv, 7 * 4096, buf, 1), 0);
    /* and back */
    assert_int_equal(xendevicemodel_relocate_memory(dmod, DOMID, 2, 0xf1000, 5), 0);
    assert_int_equal(mockhv_ram_read(hv, 5 * 4096, buf, 5), 0);
    assert_memory_equal(buf, "moved", 5);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
}

static void test_evtchn_masking_loopback(void **state)
{
    xenevtchn_handle *a = xenevtchn_open(NULL, 0), *b = xenevtchn_open(NULL, 0);
    int pa, pb;

    pa = xenevtchn_bind_unbound_port(a, 0);
    assert_true(pa > 0);
    pb = xenevtchn_bind_interdomain(b, 0, (evtchn_port_t)pa);
    assert_true(pb > 0);
    /* binding marks b's end pending once */
    assert_int_equal(xenevtchn_pending(b), pb);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pa), 0);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pa), 0);
    /* b's port is still masked from the first delivery: nothing more yet */
    assert_int_equal(xenevtchn_notify(b, (evtchn_port_t)pb), 0);
    assert_int_equal(xenevtchn_pending(a), pa);
    assert_int_equal(xenevtchn_unmask(b, (evtchn_port_t)pb), 0);
    /* the notifications that came while masked collapse into one */
    assert_int_equal(xenevtchn_pending(b), pb);
    assert_false(readable(xenevtchn_fd(b)));
    assert_int_equal(xenevtchn_unmask(b, (evtchn_port_t)pb), 0);
    assert_false(readable(xenevtchn_fd(b)));

    assert_int_equal(xenevtchn_unbind(b, (evtchn_port_t)pa), -1); /* not b's */
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_bind_interdomain(b, DOMID, 4000), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xenevtchn_unbind(b, (evtchn_port_t)pb), 0);
    assert_int_equal(mockhv_bound_ports(*state), 0);
    xenevtchn_close(a);
    xenevtchn_close(b);
}

/*
 * notify reaches only ports the handle bound, as IOCTL_EVTCHN_NOTIFY
 * (find_evtchn fails: ENOTCONN) does; unmask, a write() to /dev/xen/evtchn,
 * skips other ports and succeeds.
 */
static void test_evtchn_notify_not_bound(void **state)
{
    struct mockhv *hv = *state;
    xenevtchn_handle *a = xenevtchn_open(NULL, 0), *b = xenevtchn_open(NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    uint32_t remote = 0;
    ioservid_t id;
    int pa, pb, pv;

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(dmod);
    /* never bound by anyone, port 0, out of every range */
    assert_int_equal(xenevtchn_notify(a, 1), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_notify(a, 0), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_notify(a, 4096), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_notify(a, 0xffffffffu), -1);
    assert_int_equal(errno, ENOTCONN);

    /* bound by another handle: a loopback pair a <-> b */
    pa = xenevtchn_bind_unbound_port(a, 0);
    assert_true(pa > 0);
    pb = xenevtchn_bind_interdomain(b, 0, (evtchn_port_t)pa);
    assert_true(pb > 0);
    assert_int_equal(xenevtchn_pending(b), pb);
    assert_int_equal(xenevtchn_notify(b, (evtchn_port_t)pa), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pb), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_false(readable(xenevtchn_fd(a)));
    /* unmask skips the other handle's port: b's stays masked */
    assert_int_equal(xenevtchn_unmask(a, (evtchn_port_t)pb), 0);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pa), 0);
    assert_false(readable(xenevtchn_fd(b)));
    assert_int_equal(xenevtchn_unmask(b, (evtchn_port_t)pb), 0);
    assert_int_equal(xenevtchn_pending(b), pb);

    /* unbound already: a vCPU's port (notified without a message while bound) */
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dmod, DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1), 0);
    assert_int_equal(mockhv_server_vcpu_port(hv, id, 0, &remote), 0);
    pv = xenevtchn_bind_interdomain(a, DOMID, remote);
    assert_true(pv > 0);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pv), 0);
    assert_int_equal(xenevtchn_unbind(a, (evtchn_port_t)pv), 0);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pv), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(xenevtchn_unmask(a, (evtchn_port_t)pv), 0);
    assert_int_equal(xenevtchn_unbind(a, (evtchn_port_t)pa), 0);
    assert_int_equal(xenevtchn_notify(a, (evtchn_port_t)pa), -1);
    assert_int_equal(errno, ENOTCONN);
    /* b's end stays b's: notifying it still works (the peer is unbound now) */
    assert_int_equal(xenevtchn_notify(b, (evtchn_port_t)pb), 0);

    xendevicemodel_close(dmod);
    xenevtchn_close(a);
    xenevtchn_close(b);
}

struct guest_read {
    struct mockhv *hv;
    uint32_t val;
    int rc;
};

static void *guest_read_main(void *arg)
{
    struct guest_read *g = arg;

    g->rc = mockhv_pio_in(g->hv, 0, 0x100, 1, &g->val, 20000);
    return NULL;
}

static uint8_t slot_state(ioreq_t *slot)
{
    return __atomic_load_n((uint8_t *)slot + 30, __ATOMIC_ACQUIRE) & 0xf;
}

/*
 * A vCPU's port with the event page: the library unmasks without a message
 * unless a firing is pending, notifies the waiting vCPU directly, and the
 * vCPU still judges the slot on every notification (a notification before
 * the answer leaves it waiting), all with /dev/xen/evtchn's masking.
 */
static void test_evtchn_vcpu_port_direct(void **state)
{
    struct mockhv *hv = *state;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xendevicemodel_handle *dmod = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    xenforeignmemory_resource_handle *fres;
    struct guest_read g = {.hv = hv};
    struct pollfd pfd = {.events = POLLIN};
    shared_iopage_t *slots = NULL;
    ioreq_t *slot;
    pthread_t thr;
    ioservid_t id;
    int port;

    assert_non_null(xce);
    assert_non_null(dmod);
    assert_non_null(fmem);
    pfd.fd = xenevtchn_fd(xce);
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dmod, DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    fres = xenforeignmemory_map_resource(fmem, DOMID, XENMEM_resource_ioreq_server, id, 1, 1,
                                         (void **)&slots, PROT_READ | PROT_WRITE, 0);
    assert_non_null(fres);
    assert_int_equal(xendevicemodel_map_io_range_to_ioreq_server(dmod, DOMID, id, 0, 0x100, 0x107),
                     0);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1), 0);
    slot = &slots->vcpu_ioreq[0];
    port = xenevtchn_bind_interdomain(xce, DOMID, slot->vp_eport);
    assert_true(port > 0);
    /* binding fires the port once; it stays masked: the request is only pending */
    assert_int_equal(xenevtchn_pending(xce), port);
    assert_int_equal(pthread_create(&thr, NULL, guest_read_main, &g), 0);
    while (slot_state(slot) != STATE_IOREQ_READY)
        sched_yield();
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* unmasking turns the pending mark into one delivery */
    assert_int_equal(xenevtchn_unmask(xce, (evtchn_port_t)port), 0);
    assert_int_equal(xenevtchn_pending(xce), port);
    assert_int_equal(xenevtchn_unmask(xce, (evtchn_port_t)port), 0);
    /* a notification before the answer: the vCPU looks, and keeps waiting */
    slot->state = STATE_IOREQ_INPROCESS;
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)port), 0);
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)port), 0);
    slot->data = 0x5a;
    __atomic_store_n((uint8_t *)slot + 30,
                     (uint8_t)((((uint8_t *)slot)[30] & 0xf0) | STATE_IORESP_READY),
                     __ATOMIC_RELEASE);
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)port), 0);
    assert_int_equal(pthread_join(thr, NULL), 0);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.val, 0x5a);
    assert_int_equal(slot_state(slot), STATE_IOREQ_NONE);
    assert_int_equal(mockhv_domain_crashed(hv), false);
    /* unmasked before the next request: it is delivered at once */
    assert_int_equal(pthread_create(&thr, NULL, guest_read_main, &g), 0);
    assert_int_equal(xenevtchn_pending(xce), port);
    assert_int_equal(slot_state(slot), STATE_IOREQ_READY);
    /*
     * Destroying the server does not answer the waiting vCPU: as on Xen
     * (ioreq_server_destroy frees the channel it sleeps on without waking
     * it) it is stranded, and stays so.
     */
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dmod, DOMID, id), 0);
    assert_int_equal(pthread_join(thr, NULL), 0);
    assert_int_equal(g.rc, -EDEADLK);
    assert_int_equal(mockhv_vcpu_stranded(hv, 0), id);
    assert_int_equal(mockhv_pio_in(hv, 0, 0x100, 1, &g.val, 20000), -EDEADLK);
    assert_int_equal(mockhv_vcpu_stranded(hv, 1), -1);
    assert_int_equal(mockhv_pio_in(hv, 1, 0x100, 1, &g.val, 20000), 0);
    assert_int_equal(g.val, 0xff);
    xenforeignmemory_unmap_resource(fmem, fres);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
    xenevtchn_close(xce);
}

static void test_xc(void **state)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    xc_dominfo_t info[4];
    xc_domaininfo_t dl[4];
    uint64_t v = 0;
    unsigned long ul = 0;

    assert_non_null(xch);
    assert_int_equal(xc_domain_getinfo(xch, 0, 4, info), 2);
    assert_int_equal(info[0].domid, 0);
    assert_int_equal(info[1].domid, DOMID);
    assert_true(info[1].hvm);
    assert_int_equal(info[1].nr_online_vcpus, 2);
    assert_int_equal(info[1].max_vcpu_id, 1);
    assert_int_equal(info[1].nr_pages, (8 << 20) / 4096);
    assert_int_equal(xc_domain_getinfo(xch, 1, 1, info), 1);
    assert_int_equal(info[0].domid, DOMID);
    assert_int_equal(xc_domain_getinfo(xch, DOMID + 1, 1, info), 0);
    assert_int_equal(xc_domain_getinfolist(xch, DOMID, 4, dl), 1);
    assert_true(dl[0].flags & XEN_DOMINF_hvm_guest);

    assert_int_equal(xc_hvm_param_set(xch, DOMID, HVM_PARAM_TIMER_MODE, 3), 0);
    assert_int_equal(xc_hvm_param_get(xch, DOMID, HVM_PARAM_TIMER_MODE, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(xc_get_hvm_param(xch, DOMID, HVM_PARAM_TIMER_MODE, &ul), 0);
    assert_int_equal(ul, 3);
    assert_int_equal(xc_hvm_param_get(xch, DOMID, HVM_NR_PARAMS, &v), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xc_hvm_param_get(xch, DOMID + 1, 0, &v), -1);
    assert_int_equal(errno, ESRCH);
    /* what a device model imports but the mock cannot do fails cleanly */
    assert_int_equal(xc_physdev_map_pirq(xch, DOMID, 0, &(int){0}), -1);
    assert_int_equal(errno, ENOSYS);
    xc_interface_close(xch);
}

static void test_gnttab(void **state)
{
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    uint32_t ref = 1;

    assert_non_null(g);
    assert_int_equal(xengnttab_set_max_grants(g, 1), 0);
    assert_null(xengnttab_map_domain_grant_refs(g, 1, DOMID, &ref, PROT_READ));
    assert_int_equal(errno, ENOSYS);
    assert_int_equal(xengnttab_close(g), 0);
    assert_null(xengntshr_open(NULL, 0));
    assert_int_equal(errno, ENOSYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mock_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vp_eport_only_when_enabled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_map2_address_and_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_map2_fixed_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relocate_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_masking_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_notify_not_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evtchn_vcpu_port_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gnttab, setup, teardown),
        cmocka_unit_test(test_no_mock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
