/*
 * A guest's memory op that takes frames out of its p2m (decrease_reservation,
 * a frame moved by add_to_physmap, the shared info page moved) makes the
 * vCPU send IOREQ_TYPE_INVALIDATE to the device models before the hypercall
 * returns, as Xen's p2m_remove_page and hvm_hypercall do; ops that only add
 * frames send nothing. A real ioreq server on the drop-in libraries
 * records what it gets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test-dm.h"
#include "test-hc.h"

#define SELF 0x7ff0

struct ifx {
    struct hc_fx *fx;
    struct test_dm dm;
};

static int setup(void **state)
{
    struct ifx *f = calloc(1, sizeof(*f));

    if (!f || hc_fx_setup(&f->fx, false, HC_MEM) || mockhv_setenv(f->fx->hv) ||
        test_dm_start(&f->dm, HC_DOMID, HVM_IOREQSRV_BUFIOREQ_ATOMIC))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct ifx *f = *state;

    test_dm_stop(&f->dm, true);
    hc_fx_teardown(f->fx);
    free(f);
    return 0;
}

static long reservation(struct hc_fx *fx, unsigned vcpu, unsigned op, uint32_t gfn)
{
    struct c_reservation r = {.extent_start = SCRATCH, .nr_extents = 1, .domid = SELF};

    hc_put32(fx, SCRATCH, gfn);
    hc_put(fx, SCRATCH2, &r, sizeof(r));
    return hc_call(fx, vcpu, HC_MEMORY_OP, op, SCRATCH2, 0);
}

static long move(struct hc_fx *fx, uint32_t space, uint32_t idx, uint32_t gpfn)
{
    struct c_xatp x = {.domid = SELF, .space = space, .idx = idx, .gpfn = gpfn};

    hc_put(fx, SCRATCH2, &x, sizeof(x));
    return hc_call(fx, 0, HC_MEMORY_OP, 7, SCRATCH2, 0);
}

static void assert_invalidate(struct test_dm *dm, unsigned i)
{
    ioreq_t q = test_dm_get(dm, i);

    assert_int_equal(q.type, IOREQ_TYPE_INVALIDATE);
    assert_int_equal(q.dir, IOREQ_WRITE);
    assert_int_equal(q.size, 4);
    assert_int_equal(q.data, ~0ull);
}

static void test_invalidate(void **state)
{
    struct ifx *f = *state;
    struct hc_fx *fx = f->fx;

    /* adding frames: nothing to invalidate */
    assert_int_equal(reservation(fx, 0, 6 /* populate */, 0xfc100), 1);
    assert_int_equal(move(fx, 0 /* shared_info */, 0, HOLE_GFN), 0);
    assert_int_equal(test_dm_count(&f->dm), 0);
    /* a hole given back removes nothing */
    assert_int_equal(reservation(fx, 1, 1 /* decrease */, 0xfd500), 1);
    assert_int_equal(test_dm_count(&f->dm), 0);
    /* RAM given back, from vCPU 1: one INVALIDATE before it returns */
    assert_int_equal(reservation(fx, 1, 1, 0x2000), 1);
    assert_int_equal(test_dm_count(&f->dm), 1);
    assert_invalidate(&f->dm, 0);
    /* a frame moved, the shared info page moved */
    assert_int_equal(move(fx, 2 /* gmfn */, 0x2001, 0xfd000), 0);
    assert_int_equal(test_dm_count(&f->dm), 2);
    assert_invalidate(&f->dm, 1);
    assert_int_equal(move(fx, 0, 0, HOLE_GFN - 1), 0);
    assert_int_equal(test_dm_count(&f->dm), 3);
    assert_invalidate(&f->dm, 2);
    /* a failed move removes nothing */
    assert_int_equal(move(fx, 2, 0x2000, 0xfd001), -EINVAL);
    assert_int_equal(test_dm_count(&f->dm), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invalidate, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
