/*
 * The buffered ring as the mock writes it: slot encoding, 8-byte writes in
 * two slots, full and hostile pointers, rebasing for atomic servers, and
 * the buffered port firing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "hv-internal.h"
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

#define DOMID 3

struct fx {
    struct mockhv *hv;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    xenforeignmemory_resource_handle *fres;
    buffered_iopage_t *ring; /* the device model's view */
    ioservid_t id;
    evtchn_port_t buf_local;
};

static int setup_mode(void **state, int mode)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = 1 << 20};
    evtchn_port_t port;
    void *addr = NULL;

    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    fx->dmod = xendevicemodel_open(NULL, 0);
    fx->fmem = xenforeignmemory_open(NULL, 0);
    fx->xce = xenevtchn_open(NULL, 0);
    assert_non_null(fx->dmod);
    assert_int_equal(xendevicemodel_create_ioreq_server(fx->dmod, DOMID, mode, &fx->id), 0);
    fx->fres = xenforeignmemory_map_resource(fx->fmem, DOMID, XENMEM_resource_ioreq_server, fx->id,
                                             0, 1, &addr, PROT_READ | PROT_WRITE, 0);
    assert_non_null(fx->fres);
    fx->ring = addr;
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(fx->dmod, DOMID, fx->id, NULL, NULL, &port), 0);
    int local = xenevtchn_bind_interdomain(fx->xce, DOMID, port);
    assert_true(local > 0);
    fx->buf_local = (evtchn_port_t)local;
    /* binding marks the port pending once: consume it */
    assert_int_equal(xenevtchn_pending(fx->xce), local);
    assert_int_equal(xenevtchn_unmask(fx->xce, fx->buf_local), 0);
    *state = fx;
    return 0;
}

static int setup(void **state)
{
    return setup_mode(state, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
}

static int setup_legacy(void **state)
{
    return setup_mode(state, HVM_IOREQSRV_BUFIOREQ_LEGACY);
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    xenforeignmemory_unmap_resource(fx->fmem, fx->fres);
    xenforeignmemory_close(fx->fmem);
    xendevicemodel_close(fx->dmod);
    xenevtchn_close(fx->xce);
    mockhv_destroy(fx->hv);
    free(fx);
    return 0;
}

static int put(struct fx *fx, unsigned size, uint64_t addr, uint64_t data)
{
    ioreq_t p = {.type = IOREQ_TYPE_COPY,
                 .dir = IOREQ_WRITE,
                 .size = size,
                 .count = 1,
                 .addr = addr,
                 .data = data};
    int rc;

    pthread_mutex_lock(&fx->hv->lock);
    rc = hv_bufring_put(fx->hv, hv_server_get(fx->hv, fx->id), &p);
    pthread_mutex_unlock(&fx->hv->lock);
    return rc;
}

/* Unmask is a one-way message, so a firing may be delivered a moment
 * later; waiting is bounded and the delivery is certain. */
static bool port_fired(struct fx *fx)
{
    struct pollfd pfd = {.fd = xenevtchn_fd(fx->xce), .events = POLLIN};

    if (poll(&pfd, 1, 10000) != 1)
        return false;
    assert_int_equal(xenevtchn_pending(fx->xce), (int)fx->buf_local);
    assert_int_equal(xenevtchn_unmask(fx->xce, fx->buf_local), 0);
    return true;
}

static void test_slot_encoding(void **state)
{
    struct fx *fx = *state;
    buf_ioreq_t b;

    assert_int_equal(put(fx, 2, 0xa1234, 0xbeef), 0);
    b = fx->ring->buf_ioreq[0];
    assert_int_equal(b.type, IOREQ_TYPE_COPY);
    assert_int_equal(b.dir, IOREQ_WRITE);
    assert_int_equal(b.size, 1);
    assert_int_equal(b.addr, 0xa1234);
    assert_int_equal(b.data, 0xbeef);
    assert_int_equal(fx->ring->write_pointer, 1);
    assert_true(port_fired(fx));

    assert_int_equal(put(fx, 8, 0xa0008, 0x1122334455667788ull), 0);
    assert_int_equal(fx->ring->write_pointer, 3);
    assert_int_equal(fx->ring->buf_ioreq[1].size, 3);
    assert_int_equal(fx->ring->buf_ioreq[1].data, 0x55667788);
    assert_int_equal(fx->ring->buf_ioreq[2].data, 0x11223344);
    assert_int_equal(put(fx, 3, 0xa0000, 0), -EINVAL);
}

static void test_full_and_hostile_pointers(void **state)
{
    struct fx *fx = *state;

    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, 0, 510, false), 0);
    assert_int_equal(put(fx, 8, 0xa0000, 1), -ENOSPC); /* needs two slots */
    assert_int_equal(put(fx, 4, 0xa0000, 1), 0);       /* the last slot */
    assert_int_equal(put(fx, 1, 0xa0000, 1), -ENOSPC);
    /* a read pointer ahead of the write pointer reads as a full ring */
    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, 9, 3, false), 0);
    assert_int_equal(put(fx, 1, 0xa0000, 1), -ENOSPC);
    assert_int_equal(fx->ring->write_pointer, 3);
}

static void test_atomic_rebase(void **state)
{
    struct fx *fx = *state;
    uint32_t rp, wp;

    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, 1022, 1022, false), 0);
    assert_int_equal(put(fx, 4, 0xa0000, 7), 0);
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->id, &rp, &wp), 0);
    assert_int_equal(rp, 0);
    assert_int_equal(wp, 1);
    assert_int_equal(fx->ring->buf_ioreq[1022 % IOREQ_BUFFER_SLOT_NUM].data, 7);
}

static void test_legacy_no_rebase(void **state)
{
    struct fx *fx = *state;
    uint32_t rp, wp;

    assert_int_equal(mockhv_raw_buf_pointers(fx->hv, fx->id, 1022, 1022, false), 0);
    assert_int_equal(put(fx, 4, 0xa0000, 7), 0);
    assert_int_equal(mockhv_raw_buf_pointers_get(fx->hv, fx->id, &rp, &wp), 0);
    assert_int_equal(rp, 1022);
    assert_int_equal(wp, 1023);
}

static void test_raw_slot_write(void **state)
{
    struct fx *fx = *state;
    uint8_t junk[8] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};

    assert_int_equal(mockhv_raw_buf_slot_write(fx->hv, fx->id, 511 + 5, junk, sizeof(junk)), 0);
    assert_memory_equal(&fx->ring->buf_ioreq[5], junk, sizeof(junk));
    assert_int_equal(mockhv_raw_buf_slot_write(fx->hv, fx->id, 0, junk, 9), -EINVAL);
    assert_int_equal(mockhv_raw_notify(fx->hv, fx->id, ~0u), 0);
    assert_true(port_fired(fx));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slot_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_and_hostile_pointers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_rebase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_no_rebase, setup_legacy, teardown),
        cmocka_unit_test_setup_teardown(test_raw_slot_write, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
