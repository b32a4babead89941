/*
 * The synchronous slot protocol on an in-memory ioreq page: only READY is
 * taken, the copy is private, and completion writes data and state only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "slot.h"

static ioreq_t *page_new(void)
{
    ioreq_t *page = aligned_alloc(4096, 4096);

    memset(page, 0, 4096);
    for (unsigned v = 0; v < 4096 / sizeof(ioreq_t); v++)
        page[v].vp_eport = 100 + v;
    return page;
}

static void post(ioreq_t *slot)
{
    slot->addr = 0x3f8;
    slot->data = 0x41;
    slot->count = 1;
    slot->size = 1;
    slot->type = IOREQ_TYPE_PIO;
    slot->dir = IOREQ_WRITE;
    slot->df = 1;
    slot->data_is_ptr = 0;
    slot->state = STATE_IOREQ_READY;
}

static void test_not_ready(void **state)
{
    ioreq_t *page = page_new();
    ioreq_t copy, before;
    uint8_t states[] = {STATE_IOREQ_NONE, STATE_IOREQ_INPROCESS, STATE_IORESP_READY, 4, 9, 15};

    for (unsigned i = 0; i < sizeof(states); i++) {
        post(&page[3]);
        page[3].state = states[i];
        memcpy(&before, &page[3], sizeof(before));
        memset(&copy, 0xa5, sizeof(copy));
        assert_false(slot_take(&page[3], &copy));
        /* A spurious notification leaves the slot exactly as it was. */
        assert_memory_equal(&page[3], &before, sizeof(before));
    }
    free(page);
}

static void test_take_and_complete(void **state)
{
    ioreq_t *page = page_new();
    ioreq_t copy;

    post(&page[5]);
    assert_true(slot_take(&page[5], &copy));
    assert_int_equal(page[5].state, STATE_IOREQ_INPROCESS);
    assert_int_equal(copy.state, STATE_IOREQ_READY);
    assert_int_equal(copy.addr, 0x3f8);
    assert_int_equal(copy.data, 0x41);
    assert_int_equal(copy.count, 1);
    assert_int_equal(copy.size, 1);
    assert_int_equal(copy.type, IOREQ_TYPE_PIO);
    assert_int_equal(copy.dir, IOREQ_WRITE);
    assert_int_equal(copy.df, 1);
    assert_int_equal(copy.vp_eport, 105);

    /* The guest-influenced page changes under us: the copy does not. */
    page[5].size = 16;
    page[5].count = 0xffffffff;
    page[5].addr = 0;
    assert_int_equal(copy.size, 1);
    assert_int_equal(copy.count, 1);
    assert_int_equal(copy.addr, 0x3f8);

    /* Taken once: a second notification finds it in process. */
    assert_false(slot_take(&page[5], &copy));

    slot_complete(&page[5], 0x1234);
    assert_int_equal(page[5].state, STATE_IORESP_READY);
    assert_int_equal(page[5].data, 0x1234);
    /* Only data and state are written back. */
    assert_int_equal(page[5].size, 16);
    assert_int_equal(page[5].count, 0xffffffff);
    assert_int_equal(page[5].type, IOREQ_TYPE_PIO);
    assert_int_equal(page[5].df, 1);
    assert_int_equal(page[5].vp_eport, 105);
    /* Neighbours untouched. */
    assert_int_equal(page[4].state, STATE_IOREQ_NONE);
    assert_int_equal(page[6].state, STATE_IOREQ_NONE);
    assert_int_equal(page[6].data, 0);
    free(page);
}

static void test_copy_keeps_checked_state(void **state)
{
    ioreq_t *page = page_new();
    ioreq_t copy;

    /* Flags sharing the state byte survive the state change. */
    post(&page[0]);
    page[0].data_is_ptr = 1;
    page[0].dir = IOREQ_READ;
    assert_true(slot_take(&page[0], &copy));
    assert_int_equal(page[0].data_is_ptr, 1);
    assert_int_equal(page[0].dir, IOREQ_READ);
    assert_int_equal(page[0].df, 1);
    assert_int_equal(copy.data_is_ptr, 1);
    assert_int_equal(copy.dir, IOREQ_READ);
    slot_complete(&page[0], 7);
    assert_int_equal(page[0].data_is_ptr, 1);
    assert_int_equal(page[0].dir, IOREQ_READ);
    assert_int_equal(page[0].state, STATE_IORESP_READY);
    free(page);
}

static void test_eport(void **state)
{
    ioreq_t *page = page_new();

    assert_int_equal(slot_eport(&page[0]), 100);
    assert_int_equal(slot_eport(&page[127]), 227);
    free(page);
}

/* A server going away answers READY and INPROCESS as no device would, and nothing else. */
static void test_refuse(void **state)
{
    ioreq_t *page = page_new();
    uint8_t idle[] = {STATE_IOREQ_NONE, STATE_IORESP_READY, 4, 9, 15};
    ioreq_t before;

    for (unsigned i = 0; i < sizeof(idle); i++) {
        post(&page[2]);
        page[2].state = idle[i];
        memcpy(&before, &page[2], sizeof(before));
        assert_false(slot_refuse(&page[2]));
        assert_memory_equal(&page[2], &before, sizeof(before));
    }
    /* a write keeps its data */
    post(&page[2]);
    assert_true(slot_refuse(&page[2]));
    assert_int_equal(page[2].state, STATE_IORESP_READY);
    assert_int_equal(page[2].data, 0x41);
    /* a read, ready or taken and never answered: all-ones */
    post(&page[2]);
    page[2].dir = IOREQ_READ;
    assert_true(slot_refuse(&page[2]));
    assert_int_equal(page[2].state, STATE_IORESP_READY);
    assert_int_equal(page[2].data, ~0ull);
    post(&page[2]);
    page[2].dir = IOREQ_READ;
    page[2].state = STATE_IOREQ_INPROCESS;
    assert_true(slot_refuse(&page[2]));
    assert_int_equal(page[2].state, STATE_IORESP_READY);
    assert_int_equal(page[2].data, ~0ull);
    /* a rep read into guest RAM: its data is the address, left alone */
    post(&page[2]);
    page[2].dir = IOREQ_READ;
    page[2].data_is_ptr = 1;
    page[2].data = 0x1000;
    assert_true(slot_refuse(&page[2]));
    assert_int_equal(page[2].data, 0x1000);
    assert_int_equal(page[2].vp_eport, 102);
    assert_int_equal(page[2].addr, 0x3f8);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_ready), cmocka_unit_test(test_take_and_complete),
        cmocka_unit_test(test_refuse),    cmocka_unit_test(test_copy_keeps_checked_state),
        cmocka_unit_test(test_eport),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
