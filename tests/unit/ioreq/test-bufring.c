/*
 * The buffered ring on an in-memory page: decoding, 8-byte writes over two
 * slots, wrapping the slot array, and pointers Xen never produces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bufring.h"

#define N IOREQ_BUFFER_SLOT_NUM

struct got {
    ioreq_t req[BUFRING_DRAIN_MAX_SLOTS + N];
    uint32_t read_pointer[BUFRING_DRAIN_MAX_SLOTS + N]; /* as each request arrived */
    unsigned n;
    /* refilling: the producer adds one write per request delivered while there is room */
    buffered_iopage_t *pg;
};

static void put(buffered_iopage_t *pg, uint32_t ptr, uint8_t type, int dir, unsigned size_log2,
                uint32_t addr, uint32_t data);

static void sink_handle(void *opaque, ioreq_t *req)
{
    struct got *g = opaque;

    if (g->pg) {
        g->read_pointer[g->n] = g->pg->read_pointer;
        if (g->pg->write_pointer - g->pg->read_pointer < N) {
            put(g->pg, g->pg->write_pointer, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x81, 0x5a);
            g->pg->write_pointer++;
        }
    }
    g->req[g->n++] = *req;
    req->data = 0xdead; /* the sink's copy is private */
}

struct ring {
    buffered_iopage_t *pg;
    struct got got;
    struct bufring_sink sink;
    struct ioreq_stats stats;
};

static int setup(void **state)
{
    struct ring *r = calloc(1, sizeof(*r));

    r->pg = aligned_alloc(4096, 4096);
    memset(r->pg, 0, 4096);
    r->sink.handle = sink_handle;
    r->sink.opaque = &r->got;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct ring *r = *state;

    free(r->pg);
    free(r);
    return 0;
}

/* Produce one slot as Xen does, without moving the write pointer. */
static void put(buffered_iopage_t *pg, uint32_t ptr, uint8_t type, int dir, unsigned size_log2,
                uint32_t addr, uint32_t data)
{
    buf_ioreq_t *b = &pg->buf_ioreq[ptr % N];

    memset(b, 0, sizeof(*b));
    b->type = type;
    b->dir = dir;
    b->size = size_log2;
    b->addr = addr;
    b->data = data;
}

static void test_empty(void **state)
{
    struct ring *r = *state;

    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    r->pg->read_pointer = r->pg->write_pointer = 300;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->stats.malformed, 0);
    assert_int_equal(r->pg->read_pointer, 300);
}

static void test_in_order(void **state)
{
    struct ring *r = *state;

    put(r->pg, 0, IOREQ_TYPE_COPY, IOREQ_WRITE, 0, 0xa0000, 0x12);
    put(r->pg, 1, IOREQ_TYPE_COPY, IOREQ_WRITE, 1, 0xa0002, 0x3456);
    put(r->pg, 2, IOREQ_TYPE_PIO, IOREQ_WRITE, 2, 0x3c4, 0x789abcde);
    r->pg->write_pointer = 3;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 3);
    assert_int_equal(r->pg->read_pointer, 3);
    assert_int_equal(r->pg->write_pointer, 3);
    assert_int_equal(r->got.n, 3);

    ioreq_t *q = r->got.req;
    assert_int_equal(q[0].type, IOREQ_TYPE_COPY);
    assert_int_equal(q[0].addr, 0xa0000);
    assert_int_equal(q[0].size, 1);
    assert_int_equal(q[0].data, 0x12);
    assert_int_equal(q[0].count, 1);
    assert_int_equal(q[0].dir, IOREQ_WRITE);
    assert_int_equal(q[0].data_is_ptr, 0);
    assert_int_equal(q[1].addr, 0xa0002);
    assert_int_equal(q[1].size, 2);
    assert_int_equal(q[1].data, 0x3456);
    assert_int_equal(q[2].type, IOREQ_TYPE_PIO);
    assert_int_equal(q[2].addr, 0x3c4);
    assert_int_equal(q[2].size, 4);
    assert_int_equal(q[2].data, 0x789abcde);
    /* The sink scribbling on its copy does not reach the page. */
    assert_int_equal(r->pg->buf_ioreq[2].data, 0x789abcde);
    assert_int_equal(r->stats.buffered_requests, 3);
    assert_int_equal(r->stats.malformed, 0);
}

static void test_quad_and_wrap(void **state)
{
    struct ring *r = *state;

    /* Slots 509, 510, then 0, 1 of the array: the 8-byte write straddles the end. */
    r->pg->read_pointer = r->pg->write_pointer = N - 2;
    put(r->pg, N - 2, IOREQ_TYPE_COPY, IOREQ_WRITE, 0, 0xb8000, 0x77);
    put(r->pg, N - 1, IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 3, 0, 0xfffff1f0);
    put(r->pg, N, IOREQ_TYPE_TIMEOFFSET, IOREQ_WRITE, 3, 0, 0xffffffff);
    put(r->pg, N + 1, IOREQ_TYPE_COPY, IOREQ_WRITE, 2, 0xb8004, 0xcafe);
    r->pg->write_pointer = N + 2;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 3);
    assert_int_equal(r->pg->read_pointer, N + 2);
    assert_int_equal(r->got.req[0].data, 0x77);
    assert_int_equal(r->got.req[1].type, IOREQ_TYPE_TIMEOFFSET);
    assert_int_equal(r->got.req[1].size, 8);
    assert_int_equal(r->got.req[1].data, 0xfffffffffffff1f0ull);
    assert_int_equal(r->got.req[2].addr, 0xb8004);
    assert_int_equal(r->got.req[2].data, 0xcafe);
    assert_int_equal(r->stats.buffered_requests, 3);

    /* Pointers wrapping 2^32 still index correctly. */
    r->pg->read_pointer = r->pg->write_pointer = UINT32_MAX;
    put(r->pg, UINT32_MAX, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x80, 1);
    put(r->pg, 0, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x80, 2);
    r->pg->write_pointer = 1;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 2);
    assert_int_equal(r->pg->read_pointer, 1);
    assert_int_equal(r->got.req[3].data, 1);
    assert_int_equal(r->got.req[4].data, 2);
}

static void test_full_ring_bounded(void **state)
{
    struct ring *r = *state;

    for (uint32_t i = 0; i < N; i++)
        put(r->pg, i, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x80, i & 0xff);
    r->pg->write_pointer = N;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), N);
    assert_int_equal(r->pg->read_pointer, N);
    assert_int_equal(r->got.req[N - 1].data, (N - 1) & 0xff);
    assert_int_equal(r->stats.malformed, 0);
}

/*
 * The producer refills the ring while it is drained: the drain goes on with
 * the new writes, up to its budget, handing slots back once per run; what
 * is over the budget stays for the next call.
 */
static void test_refill_bounded(void **state)
{
    struct ring *r = *state;
    const uint32_t k = 100, budget = BUFRING_DRAIN_MAX_SLOTS;

    r->got.pg = r->pg;
    for (uint32_t i = 0; i < k; i++)
        put(r->pg, i, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x80, i & 0xff);
    r->pg->write_pointer = k;

    /* each delivered write is replaced by a new one while the ring has room */
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), budget);
    assert_int_equal(r->pg->read_pointer, budget);
    assert_int_equal(r->pg->write_pointer, budget + k);
    /* nothing handed back within a run of 64, all of it at its end */
    assert_int_equal(r->got.read_pointer[0], 0);
    assert_int_equal(r->got.read_pointer[BUFRING_RUN_SLOTS - 1], 0);
    assert_int_equal(r->got.read_pointer[BUFRING_RUN_SLOTS], BUFRING_RUN_SLOTS);
    assert_int_equal(r->got.read_pointer[budget - 1],
                     budget / BUFRING_RUN_SLOTS * BUFRING_RUN_SLOTS);
    assert_int_equal(r->got.req[k - 1].addr, 0x80);
    assert_int_equal(r->got.req[k].addr, 0x81);
    assert_int_equal(r->got.req[k].data, 0x5a);

    /* what is over the budget waits for the next call */
    r->got.pg = NULL;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), k);
    assert_int_equal(r->pg->read_pointer, budget + k);
    assert_int_equal(r->stats.buffered_requests, budget + k);
    assert_int_equal(r->stats.malformed, 0);
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
}

static void test_bad_pointers(void **state)
{
    struct ring *r = *state;

    /* Write pointer far ahead: nothing delivered, the ring resynchronised. */
    r->pg->read_pointer = 10;
    r->pg->write_pointer = 10 + N + 1;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->stats.malformed, 1);
    assert_int_equal(r->pg->read_pointer, 10 + N + 1);
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->stats.malformed, 1);

    /* Read pointer ahead of write. */
    r->pg->read_pointer = 50;
    r->pg->write_pointer = 40;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->stats.malformed, 2);
    assert_int_equal(r->pg->read_pointer, 40);

    r->pg->read_pointer = 0;
    r->pg->write_pointer = UINT32_MAX;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->stats.malformed, 3);
    assert_int_equal(r->pg->read_pointer, UINT32_MAX);
    assert_int_equal(r->got.n, 0);
}

static void test_bad_entries(void **state)
{
    struct ring *r = *state;

    /* A read (nobody would get the answer), then a good write. */
    put(r->pg, 0, IOREQ_TYPE_PIO, IOREQ_READ, 0, 0x80, 0);
    put(r->pg, 1, IOREQ_TYPE_PIO, IOREQ_WRITE, 0, 0x81, 5);
    r->pg->write_pointer = 2;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 1);
    assert_int_equal(r->got.req[0].addr, 0x81);
    assert_int_equal(r->pg->read_pointer, 2);
    assert_int_equal(r->stats.malformed, 1);

    /* The first half of an 8-byte write as the last pending slot. */
    put(r->pg, 2, IOREQ_TYPE_COPY, IOREQ_WRITE, 3, 0xa0000, 1);
    r->pg->write_pointer = 3;
    assert_int_equal(bufring_drain(r->pg, &r->sink, &r->stats), 0);
    assert_int_equal(r->pg->read_pointer, 3);
    assert_int_equal(r->stats.malformed, 2);
    assert_int_equal(r->stats.buffered_requests, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quad_and_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_ring_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refill_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pointers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_entries, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
