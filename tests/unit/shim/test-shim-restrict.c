/*
 * xentoolcore_restrict_all (Debian's real libxentoolcore) reaches every
 * handle of the drop-in libraries, and the mock enforces it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>

#include <errno.h>
#include <sys/mman.h>

#include "mockhv.h"

#define DOMID 9

static void test_restrict_all(void **state)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 2, .mem_bytes = 1 << 20};
    struct mockhv *hv;
    xendevicemodel_handle *dmod, *late;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    xc_interface *xch;
    xc_dominfo_t info[4];
    ioservid_t id;
    xen_pfn_t pfn = 0;
    uint32_t remote = 0;
    int port;
    void *p;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(hv), 0);
    dmod = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    xce = xenevtchn_open(NULL, 0);
    xch = xc_interface_open(NULL, NULL, 0);
    assert_non_null(dmod);
    assert_non_null(fmem);
    assert_non_null(xce);
    assert_non_null(xch);

    /* before: another domain does not exist */
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID + 1, 0, &id), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xc_domain_getinfo(xch, 0, 4, info), 2);

    assert_int_equal(xentoolcore_restrict_all(DOMID), 0);

    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID + 1, 0, &id), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(xendevicemodel_create_ioreq_server(dmod, DOMID, 0, &id), 0);
    assert_null(xenforeignmemory_map(fmem, DOMID + 1, PROT_READ, 1, &pfn, NULL));
    assert_int_equal(errno, EPERM);
    p = xenforeignmemory_map(fmem, DOMID, PROT_READ, 1, &pfn, NULL);
    assert_non_null(p);
    xenforeignmemory_unmap(fmem, p, 1);
    /* /dev/xen/evtchn refuses with EACCES, not privcmd's EPERM: interdomain
     * binds to another domain, unbound ports and virqs for any domain */
    assert_int_equal(xenevtchn_bind_interdomain(xce, DOMID + 1, 1), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(xenevtchn_bind_interdomain(xce, 0, 1), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(xenevtchn_bind_unbound_port(xce, 0), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(xenevtchn_bind_unbound_port(xce, DOMID), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(xenevtchn_bind_virq(xce, 0), -1);
    assert_int_equal(errno, EACCES);
    /* its own domain's ports stay reachable */
    assert_int_equal(xenevtchn_bind_interdomain(xce, DOMID, 4000), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dmod, DOMID, id, 1), 0);
    assert_int_equal(mockhv_server_vcpu_port(hv, id, 1, &remote), 0);
    port = xenevtchn_bind_interdomain(xce, DOMID, remote);
    assert_true(port > 0);
    assert_int_equal(xenevtchn_notify(xce, (evtchn_port_t)port), 0);
    assert_int_equal(xenevtchn_unbind(xce, (evtchn_port_t)port), 0);
    /* the real xenctrl handle is neutered, not restricted */
    assert_int_equal(xc_domain_getinfo(xch, 0, 4, info), -1);
    assert_int_equal(errno, ENOTTY);

    /* repeating: evtchn refuses, privcmd-like handles accept the same domain */
    assert_int_equal(xenevtchn_restrict(xce, DOMID), -1);
    assert_int_equal(errno, EACCES);
    assert_int_equal(xendevicemodel_restrict(dmod, DOMID), 0);
    assert_int_equal(xendevicemodel_restrict(dmod, DOMID + 1), -1);
    assert_int_equal(errno, EINVAL);

    /* a handle opened afterwards is not restricted */
    late = xendevicemodel_open(NULL, 0);
    assert_non_null(late);
    assert_int_equal(xendevicemodel_create_ioreq_server(late, DOMID + 1, 0, &id), -1);
    assert_int_equal(errno, ESRCH);

    xendevicemodel_close(late);
    xc_interface_close(xch);
    xenevtchn_close(xce);
    xenforeignmemory_close(fmem);
    xendevicemodel_close(dmod);
    mockhv_destroy(hv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restrict_all),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
