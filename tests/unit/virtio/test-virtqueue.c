/*
 * Split virtqueue: normal and indirect chains, notification suppression both
 * ways, and every malformed chain the device must survive.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "gmem-cache.h"
#include "virtqueue.h"
#include "vq-driver.h"

#define MEM_SIZE (1u << 20)
#define DESC     0x1000
#define AVAIL    0x3000
#define USED     0x4000
#define BUF      0x10000

struct fx {
    uint8_t *mem;
    size_t mem_size;
    struct gmem *flat;
    struct gmem_count gm;
    struct virtq vq;
    struct vqd d;
    struct virtq_req req;
};

static struct fx *fx_new(size_t mem_size, uint16_t size, unsigned feats)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->mem_size = mem_size;
    f->mem = calloc(1, mem_size);
    assert_non_null(f->mem);
    f->flat = gmem_flat_new(f->mem, mem_size);
    assert_non_null(f->flat);
    gmem_count_init(&f->gm, f->flat);
    vqd_init(&f->d, f->mem, size, DESC, AVAIL, USED);
    virtq_init(&f->vq, 3, &f->gm.gm);
    assert_int_equal(virtq_start(&f->vq, size, DESC, AVAIL, USED, feats), 0);
    return f;
}

static void fx_free(struct fx *f)
{
    virtq_stop(&f->vq);
    /* Every mapping taken was given back. */
    assert_int_equal(f->gm.maps, f->gm.unmaps);
    gmem_free(f->flat);
    free(f->mem);
    free(f);
}

static int setup(void **state)
{
    *state = fx_new(MEM_SIZE, 8, VIRTQ_FEAT_INDIRECT);
    return 0;
}

static int setup_no_indirect(void **state)
{
    *state = fx_new(MEM_SIZE, 8, 0);
    return 0;
}

static int setup_event_idx(void **state)
{
    *state = fx_new(MEM_SIZE, 8, VIRTQ_FEAT_EVENT_IDX);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* The chain came back with 0 bytes and the queue is broken for `err`. */
static void assert_rejected(struct fx *f, uint16_t head, enum virtq_error err)
{
    uint32_t id, len;

    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_true(virtq_broken(&f->vq));
    assert_int_equal(f->vq.error, err);
    assert_int_equal(vqd_used_idx(&f->d), 1);
    vqd_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
    assert_int_equal(f->vq.inflight, 0);
    assert_int_equal(f->vq.malformed, 1);
    /* Broken until the next start, and nothing more is consumed. */
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(vqd_used_idx(&f->d), 1);
}

/*
 * The used ring stays mapped while the queue runs, so every store the device
 * makes into it is marked dirty as it happens: the element and the index on
 * push, the flags when notifications are switched, avail_event with EVENT_IDX.
 */
static void test_used_ring_stores_marked_dirty(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {.addr = BUF, .len = 64, .writable = true};
    uint16_t head;

    f->gm.nr_dirty = 0;
    for (unsigned i = 0; i < 10; i++) { /* past the ring's end: slot 1 the second time */
        head = vqd_add_chain(&f->d, &b, 1);
        vqd_publish(&f->d, head);
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, head, 64), 0);
        assert_true(gmem_count_dirty(&f->gm, USED + 4 + 8 * (i % 8), 8)); /* the element */
        assert_true(gmem_count_dirty(&f->gm, USED + 2, 2));               /* used idx */
    }
    f->gm.nr_dirty = 0;
    virtq_set_notify(&f->vq, false);
    assert_true(gmem_count_dirty(&f->gm, USED, 2)); /* used flags */
    /* Nothing outside the used ring. */
    for (unsigned i = 0; i < f->gm.nr_dirty; i++)
        assert_true(f->gm.dirty_gpa[i] >= USED && f->gm.dirty_gpa[i] < USED + 4 + 8 * 8 + 2);
}

static void test_avail_event_marked_dirty(void **state)
{
    struct fx *f = *state;
    struct vqd_buf b = {.addr = BUF, .len = 64, .writable = true};
    uint16_t head = vqd_add_chain(&f->d, &b, 1);

    f->gm.nr_dirty = 0;
    vqd_publish(&f->d, head);
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(vqd_avail_event(&f->d), 1);
    assert_true(gmem_count_dirty(&f->gm, USED + 4 + 8 * 8, 2));
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, head, 0), 0);
}

static void test_sizes(void **state)
{
    struct fx *f = *state;

    assert_false(virtq_size_valid(0));
    assert_true(virtq_size_valid(1));
    assert_false(virtq_size_valid(3));
    assert_false(virtq_size_valid(96));
    assert_true(virtq_size_valid(256));
    assert_true(virtq_size_valid(32768));
    assert_false(virtq_size_valid(65536));
    assert_int_equal(virtq_start(&f->vq, 3, DESC, AVAIL, USED, 0), -EINVAL);
    assert_false(f->vq.started);
    assert_int_equal(virtq_start(&f->vq, 0, DESC, AVAIL, USED, 0), -EINVAL);
    /* Misaligned parts (2.7 alignment table). */
    assert_int_equal(virtq_start(&f->vq, 8, DESC + 8, AVAIL, USED, 0), -EINVAL);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL + 1, USED, 0), -EINVAL);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED + 2, 0), -EINVAL);
    /* Rings outside guest RAM, or straddling its end. */
    assert_int_equal(virtq_start(&f->vq, 8, MEM_SIZE, AVAIL, USED, 0), -EFAULT);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, MEM_SIZE - 32, 0), -EFAULT);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, MEM_SIZE - 8, USED, 0), -EFAULT);
    assert_false(f->vq.started);
    /* Not started: nothing to pop, nothing to push. */
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EAGAIN);
    assert_int_equal(virtq_push(&f->vq, 0, 0), -EINVAL);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED, 0), 0);
}

static void test_normal_chain(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {
        {BUF, 16, false},
        {BUF + 0x1000, 512, true},
        {BUF + 0x2000, 1, true},
    };
    uint32_t id, len;
    uint16_t head;

    assert_int_equal(virtq_pop(&f->vq, &f->req), -EAGAIN);
    assert_false(virtq_has_avail(&f->vq));
    head = vqd_add_chain(&f->d, bufs, 3);
    vqd_publish(&f->d, head);
    assert_true(virtq_has_avail(&f->vq));

    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(f->req.head, 0);
    assert_int_equal(f->req.nr_readable, 1);
    assert_int_equal(f->req.nr_writable, 2);
    assert_int_equal(f->req.readable_bytes, 16);
    assert_int_equal(f->req.writable_bytes, 513);
    assert_int_equal(f->req.seg[0].gpa, BUF);
    assert_int_equal(f->req.seg[0].len, 16);
    assert_ptr_equal(f->req.seg[0].ptr, f->mem + BUF);
    assert_int_equal(f->req.seg[1].gpa, BUF + 0x1000);
    assert_int_equal(f->req.seg[1].len, 512);
    assert_ptr_equal(f->req.seg[1].ptr, f->mem + BUF + 0x1000);
    assert_int_equal(f->req.seg[2].len, 1);
    assert_ptr_equal(f->req.seg[2].ptr, f->mem + BUF + 0x2000);
    assert_int_equal(f->vq.inflight, 1);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EAGAIN);

    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, head, 513), 0);
    assert_int_equal(vqd_used_idx(&f->d), 1);
    vqd_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 513);
    assert_int_equal(f->vq.inflight, 0);
    /* Pushing more than was popped, or a head outside the queue, is refused. */
    assert_int_equal(virtq_push(&f->vq, head, 1), -EINVAL);
    assert_int_equal(vqd_used_idx(&f->d), 1);
}

static void test_push_bad_head(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf b = {BUF, 8, false};

    vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, 8, 0), -EINVAL);
    assert_int_equal(virtq_push(&f->vq, 0, 0), 0);
}

static void test_wraparound(void **state)
{
    struct fx *f = *state;

    /* 40 chains through an 8-entry queue: indices wrap the rings five times. */
    for (unsigned n = 0; n < 40; n++) {
        const struct vqd_buf bufs[] = {{BUF + 64 * n, 32, false}, {BUF + 0x8000 + n, 1, true}};
        uint16_t head = vqd_add_chain(&f->d, bufs, 2);
        uint32_t id, len;

        vqd_publish(&f->d, head);
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        assert_int_equal(f->req.head, head);
        assert_int_equal(f->req.seg[0].gpa, BUF + 64 * n);
        assert_int_equal(f->req.seg[1].gpa, BUF + 0x8000 + n);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, head, n), 0);
        assert_int_equal(vqd_used_idx(&f->d), n + 1);
        vqd_used_elem(&f->d, (uint16_t)n, &id, &len);
        assert_int_equal(id, head);
        assert_int_equal(len, n);
    }
    assert_int_equal(f->vq.popped, 40);
    assert_int_equal(f->vq.pushed, 40);
}

static void test_several_in_flight(void **state)
{
    struct fx *f = *state;
    uint16_t heads[8];
    uint32_t id, len;

    for (unsigned n = 0; n < 8; n++) {
        const struct vqd_buf b = {BUF + 0x100 * n, 0x100, n & 1};
        heads[n] = vqd_add_chain(&f->d, &b, 1);
        vqd_publish(&f->d, heads[n]);
    }
    struct virtq_req *reqs = calloc(8, sizeof(*reqs));
    assert_non_null(reqs);
    for (unsigned n = 0; n < 8; n++) {
        assert_int_equal(virtq_pop(&f->vq, &reqs[n]), 0);
        assert_int_equal(reqs[n].head, heads[n]);
        assert_int_equal(reqs[n].nr_writable, n & 1);
    }
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EAGAIN);
    assert_int_equal(f->vq.inflight, 8);
    /* Completed out of order: used ring order is completion order. */
    for (int n = 7; n >= 0; n--) {
        virtq_req_release(&f->vq, &reqs[n]);
        assert_int_equal(virtq_push(&f->vq, reqs[n].head, (uint32_t)n * 10), 0);
    }
    for (unsigned k = 0; k < 8; k++) {
        vqd_used_elem(&f->d, (uint16_t)k, &id, &len);
        assert_int_equal(id, heads[7 - k]);
        assert_int_equal(len, (7 - k) * 10);
    }
    free(reqs);
}

static void test_zero_length_skipped(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {{BUF, 16, false}, {0xffffffff0ull, 0, false}, {BUF, 1, true}};

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 3));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(f->req.nr_readable, 1);
    assert_int_equal(f->req.nr_writable, 1);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, f->req.head, 1), 0);
}

static void test_copy_helpers(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {
        {BUF, 3, false}, {BUF + 0x100, 5, false}, {BUF + 0x200, 2, true}, {BUF + 0x300, 4, true}};
    uint8_t out[16];

    memcpy(f->mem + BUF, "abc", 3);
    memcpy(f->mem + BUF + 0x100, "defgh", 5);
    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 4));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(virtq_req_copy_from(&f->req, 0, out, sizeof(out)), 8);
    assert_memory_equal(out, "abcdefgh", 8);
    assert_int_equal(virtq_req_copy_from(&f->req, 2, out, 3), 3);
    assert_memory_equal(out, "cde", 3);
    assert_int_equal(virtq_req_copy_from(&f->req, 8, out, 3), 0);
    assert_int_equal(virtq_req_copy_to(&f->req, 1, "XYZW", 4), 4);
    assert_memory_equal(f->mem + BUF + 0x200, "\0X", 2);
    assert_memory_equal(f->mem + BUF + 0x300, "YZW\0", 4);
    assert_int_equal(virtq_req_copy_to(&f->req, 4, "0123", 4), 2);
    assert_memory_equal(f->mem + BUF + 0x300, "YZ01", 4);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, f->req.head, 6), 0);
}

static void test_indirect(void **state)
{
    struct fx *f = *state;
    const uint64_t table = 0x8000;

    vqd_set_desc_at(f->mem, table, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
    vqd_set_desc_at(f->mem, table, 2, BUF + 0x100, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    vqd_set_desc_at(f->mem, table, 1, BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
    /* The write flag on the descriptor naming the table is ignored (2.7.5.3.2). */
    vqd_set_desc(&f->d, 5, table, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    vqd_publish(&f->d, 5);

    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(f->req.head, 5);
    assert_int_equal(f->req.nr_readable, 1);
    assert_int_equal(f->req.nr_writable, 2);
    assert_int_equal(f->req.seg[0].gpa, BUF);
    assert_int_equal(f->req.seg[1].gpa, BUF + 0x100);
    assert_int_equal(f->req.seg[1].len, 4096);
    assert_int_equal(f->req.seg[2].gpa, BUF + 0x2000);
    assert_int_equal(f->req.writable_bytes, 4097);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, 5, 4097), 0);
    assert_false(virtq_broken(&f->vq));
}

static void test_indirect_not_negotiated(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, 0, 0);
    vqd_set_desc(&f->d, 2, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 2);
    assert_rejected(f, 2, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_nested(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc_at(f->mem, 0x8000, 1, 0x9000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_set_desc_at(f->mem, 0x9000, 0, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
    vqd_set_desc(&f->d, 1, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 1);
    assert_rejected(f, 1, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_bad_len(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, 0, 0);
    vqd_set_desc(&f->d, 0, 0x8000, 40, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_zero_len(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 0, 0x8000, 0, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_too_big(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 0, 0x8000, 16 * (VIRTQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_with_next(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, 0, 0);
    vqd_set_desc(&f->d, 0, 0x8000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&f->d, 1, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_not_head(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, 0, 0);
    vqd_set_desc(&f->d, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&f->d, 1, 0x8000, 16, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_unmapped(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 0, MEM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_UNMAPPED);
}

static void test_indirect_loop(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc_at(f->mem, 0x8000, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
    vqd_set_desc(&f->d, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_CHAIN_LEN);
}

static void test_indirect_next_out_of_table(void **state)
{
    struct fx *f = *state;

    vqd_set_desc_at(f->mem, 0x8000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
    vqd_set_desc_at(f->mem, 0x8000, 2, BUF, 1, VIRTQ_DESC_F_WRITE, 0);
    vqd_set_desc(&f->d, 0, 0x8000, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_NEXT);
}

static void test_loop(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 3, BUF, 16, VIRTQ_DESC_F_NEXT, 4);
    vqd_set_desc(&f->d, 4, BUF, 16, VIRTQ_DESC_F_NEXT, 3);
    vqd_publish(&f->d, 3);
    assert_rejected(f, 3, VIRTQ_ERR_CHAIN_LEN);
}

static void test_self_loop(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 6, BUF, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 6);
    vqd_publish(&f->d, 6);
    assert_rejected(f, 6, VIRTQ_ERR_CHAIN_LEN);
}

static void test_next_out_of_range(void **state)
{
    struct fx *f = *state;

    vqd_set_desc(&f->d, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 8);
    vqd_publish(&f->d, 0);
    assert_rejected(f, 0, VIRTQ_ERR_NEXT);
}

static void test_head_out_of_range(void **state)
{
    struct fx *f = *state;

    vqd_publish(&f->d, 8);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(f->vq.error, VIRTQ_ERR_HEAD);
    /* No chain to give back: the used ring is untouched. */
    assert_int_equal(vqd_used_idx(&f->d), 0);
    assert_int_equal(f->vq.inflight, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
}

static void test_unmapped_buffer(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {{BUF, 16, false}, {MEM_SIZE + 0x1000, 512, true}};

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 2));
    assert_rejected(f, 0, VIRTQ_ERR_UNMAPPED);
}

static void test_buffer_straddles_end(void **state)
{
    struct fx *f = *state;
    /* The first byte is RAM, the last is not: checked over the full length. */
    const struct vqd_buf bufs[] = {{BUF, 16, false}, {MEM_SIZE - 256, 512, true}};

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 2));
    assert_rejected(f, 0, VIRTQ_ERR_UNMAPPED);
}

static void test_buffer_wraps_address_space(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {{UINT64_MAX - 7, 16, false}};

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 1));
    assert_rejected(f, 0, VIRTQ_ERR_UNMAPPED);
}

static void test_write_before_read(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf bufs[] = {{BUF, 1, true}, {BUF + 16, 16, false}};

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 2));
    assert_rejected(f, 0, VIRTQ_ERR_ORDER);
}

static void test_avail_jump(void **state)
{
    struct fx *f = *state;

    vqd_set_avail_idx(&f->d, 9);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(f->vq.error, VIRTQ_ERR_AVAIL_JUMP);
    assert_int_equal(f->vq.last_avail, 0);
    assert_int_equal(vqd_used_idx(&f->d), 0);
    assert_false(virtq_has_avail(&f->vq));
    /* A restart (device reset) clears it. */
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED, 0), 0);
    assert_false(virtq_broken(&f->vq));
}

static void test_avail_exactly_full(void **state)
{
    struct fx *f = *state;

    /* size chains outstanding is legal; size + 1 is not. */
    for (unsigned n = 0; n < 8; n++) {
        const struct vqd_buf b = {BUF + n, 1, true};
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    }
    for (unsigned n = 0; n < 8; n++) {
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, f->req.head, 0), 0);
    }
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EAGAIN);
}

static void test_overrun(void **state)
{
    struct fx *f = *state;
    struct virtq_req *reqs = calloc(8, sizeof(*reqs));
    const struct vqd_buf b = {BUF, 1, true};

    assert_non_null(reqs);
    for (unsigned n = 0; n < 8; n++) {
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
        assert_int_equal(virtq_pop(&f->vq, &reqs[n]), 0);
    }
    /* A ninth chain while eight are in flight: heads were reused. */
    vqd_publish(&f->d, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(f->vq.error, VIRTQ_ERR_OVERRUN);
    assert_int_equal(f->vq.inflight, 8);
    for (unsigned n = 0; n < 8; n++) {
        virtq_req_release(&f->vq, &reqs[n]);
        assert_int_equal(virtq_push(&f->vq, reqs[n].head, 0), 0);
    }
    free(reqs);
}

static void test_chain_too_long(void **state)
{
    struct fx *f = fx_new(MEM_SIZE, 512, 0);
    uint32_t id, len;

    /* VIRTQ_MAX_SEGS + 1 descriptors, each fine, in a 512-entry queue. */
    for (unsigned i = 0; i <= VIRTQ_MAX_SEGS; i++)
        vqd_set_desc(&f->d, (uint16_t)i, BUF + i, 1,
                     i < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE
                                        : VIRTQ_DESC_F_WRITE,
                     (uint16_t)(i + 1));
    vqd_publish(&f->d, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(f->vq.error, VIRTQ_ERR_CHAIN_LEN);
    vqd_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);

    /* Exactly VIRTQ_MAX_SEGS is accepted. */
    assert_int_equal(virtq_start(&f->vq, 512, DESC, AVAIL, USED, 0), 0);
    vqd_init(&f->d, f->mem, 512, DESC, AVAIL, USED);
    for (unsigned i = 0; i < VIRTQ_MAX_SEGS; i++)
        vqd_set_desc(&f->d, (uint16_t)i, BUF + i, 1,
                     i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE
                                            : VIRTQ_DESC_F_WRITE,
                     (uint16_t)(i + 1));
    vqd_publish(&f->d, 0);
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(f->req.nr_writable, VIRTQ_MAX_SEGS);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, 0, 0), 0);
    fx_free(f);
}

static void test_chain_too_many_bytes(void **state)
{
    /* Lazily zeroed: the pages are never touched. */
    struct fx *f = fx_new(VIRTQ_MAX_BYTES + (2u << 20), 8, 0);
    const struct vqd_buf bufs[] = {
        {0x100000, VIRTQ_MAX_BYTES / 2, false},
        {0x100000, VIRTQ_MAX_BYTES / 2, true},
        {0x100000, 1, true},
    };

    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 3));
    assert_int_equal(virtq_pop(&f->vq, &f->req), -EINVAL);
    assert_int_equal(f->vq.error, VIRTQ_ERR_CHAIN_BYTES);
    assert_int_equal(vqd_used_idx(&f->d), 1);

    /* Exactly VIRTQ_MAX_BYTES is accepted. */
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED, 0), 0);
    vqd_init(&f->d, f->mem, 8, DESC, AVAIL, USED);
    vqd_publish(&f->d, vqd_add_chain(&f->d, bufs, 2));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    assert_int_equal(f->req.readable_bytes + f->req.writable_bytes, VIRTQ_MAX_BYTES);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_push(&f->vq, f->req.head, 0), 0);
    fx_free(f);
}

/* Device -> driver: NO_INTERRUPT without EVENT_IDX. */
static void test_interrupt_suppression_flag(void **state)
{
    struct fx *f = *state;

    for (unsigned n = 0; n < 3; n++) {
        const struct vqd_buf b = {BUF, 1, true};
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, f->req.head, 1), 0);
        vqd_set_avail_flags(&f->d, n == 1 ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0);
        assert_int_equal(virtq_needs_notify(&f->vq), n != 1);
    }
}

/* Device -> driver: used_event with EVENT_IDX (2.7.10). */
static void test_interrupt_suppression_event_idx(void **state)
{
    struct fx *f = *state;
    bool expect[6];

    /* The driver asks to hear only when used idx passes 3, then 4. */
    vqd_set_used_event(&f->d, 3);
    /* Flags are ignored with EVENT_IDX. */
    vqd_set_avail_flags(&f->d, VIRTQ_AVAIL_F_NO_INTERRUPT);
    for (unsigned n = 0; n < 6; n++) {
        const struct vqd_buf b = {BUF, 1, true};
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, f->req.head, 1), 0);
        if (n == 4)
            vqd_set_used_event(&f->d, 4);
        expect[n] = virtq_needs_notify(&f->vq);
    }
    /* used idx 1: first decision always notifies; 2, 3: not past 3; 4: passed 3;
     * 5: event 4 passed by 4->5; 6: event 4 already passed before. */
    assert_true(expect[0]);
    assert_false(expect[1]);
    assert_false(expect[2]);
    assert_true(expect[3]);
    assert_true(expect[4]);
    assert_false(expect[5]);
}

/* Batched pushes: one decision covers several used entries. */
static void test_event_idx_batch(void **state)
{
    struct fx *f = *state;

    /* The first decision (nothing used yet) makes the next ones relative to 0. */
    assert_true(virtq_needs_notify(&f->vq));
    vqd_set_used_event(&f->d, 1);
    for (unsigned n = 0; n < 4; n++) {
        const struct vqd_buf b = {BUF, 1, true};
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    }
    for (unsigned n = 0; n < 4; n++) {
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        assert_int_equal(virtq_push(&f->vq, f->req.head, 1), 0);
    }
    /* old 0 (from the first call above), now 4, event 1: 1 lies in (0, 4]. */
    assert_true(virtq_needs_notify(&f->vq));
    assert_false(virtq_needs_notify(&f->vq));
}

/*
 * Filled elements stay invisible until a flush publishes them all with one
 * used idx store; a push publishes what was filled before it too, in order.
 */
static void test_fill_flush(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf b = {BUF, 1, true};
    uint16_t heads[5];
    uint32_t id, len;

    for (unsigned n = 0; n < 5; n++)
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    for (unsigned n = 0; n < 5; n++) {
        assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
        virtq_req_release(&f->vq, &f->req);
        heads[n] = f->req.head;
    }
    assert_int_equal(virtq_flush(&f->vq), 0); /* nothing filled: no store */
    assert_int_equal(f->vq.flushes, 0);
    /* Completed out of order: 3, 1, 4. */
    assert_int_equal(virtq_fill(&f->vq, heads[3], 30), 0);
    assert_int_equal(virtq_fill(&f->vq, heads[1], 10), 0);
    assert_int_equal(virtq_fill(&f->vq, heads[4], 40), 0);
    assert_int_equal(vqd_used_idx(&f->d), 0);
    assert_int_equal(f->vq.inflight, 2);
    assert_int_equal(virtq_flush(&f->vq), 3);
    assert_int_equal(vqd_used_idx(&f->d), 3);
    assert_int_equal(f->vq.flushes, 1);
    vqd_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, heads[3]);
    assert_int_equal(len, 30);
    vqd_used_elem(&f->d, 2, &id, &len);
    assert_int_equal(id, heads[4]);
    assert_int_equal(len, 40);
    /* One decision covers the batch. */
    assert_true(virtq_needs_notify(&f->vq));
    /* A fill, then a push: both published by the push's one store. */
    assert_int_equal(virtq_fill(&f->vq, heads[0], 1), 0);
    assert_int_equal(virtq_push(&f->vq, heads[2], 2), 0);
    assert_int_equal(vqd_used_idx(&f->d), 5);
    assert_int_equal(f->vq.flushes, 2);
    vqd_used_elem(&f->d, 3, &id, &len);
    assert_int_equal(id, heads[0]);
    vqd_used_elem(&f->d, 4, &id, &len);
    assert_int_equal(id, heads[2]);
    assert_int_equal(f->vq.inflight, 0);
    assert_int_equal(f->vq.pushed, 5);
    /* Nothing in flight: a fill is refused and nothing moves. */
    assert_int_equal(virtq_fill(&f->vq, heads[0], 1), -EINVAL);
    assert_int_equal(virtq_flush(&f->vq), 0);
    assert_int_equal(vqd_used_idx(&f->d), 5);
}

/* A stop forgets filled elements: a restarted queue publishes none of them. */
static void test_fill_then_stop(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf b = {BUF, 1, true};

    vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(virtq_fill(&f->vq, f->req.head, 1), 0);
    virtq_stop(&f->vq);
    assert_int_equal(virtq_flush(&f->vq), 0);
    vqd_init(&f->d, f->mem, 8, DESC, AVAIL, USED);
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED, 0), 0);
    assert_int_equal(f->vq.filled, 0);
    assert_int_equal(virtq_flush(&f->vq), 0);
    assert_int_equal(vqd_used_idx(&f->d), 0);
}

/* Driver -> device: NO_NOTIFY without EVENT_IDX. */
static void test_notify_suppression_flag(void **state)
{
    struct fx *f = *state;

    assert_int_equal(vqd_used_flags(&f->d), 0);
    virtq_set_notify(&f->vq, false);
    assert_int_equal(vqd_used_flags(&f->d), VIRTQ_USED_F_NO_NOTIFY);
    virtq_set_notify(&f->vq, true);
    assert_int_equal(vqd_used_flags(&f->d), 0);
}

/* Driver -> device: avail_event with EVENT_IDX. */
static void test_notify_suppression_event_idx(void **state)
{
    struct fx *f = *state;

    for (unsigned n = 0; n < 3; n++) {
        const struct vqd_buf b = {BUF, 1, true};
        vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    }
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(vqd_avail_event(&f->d), 1);
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(vqd_avail_event(&f->d), 2);
    /* Disabled: avail_event stays put while the device keeps popping. */
    virtq_set_notify(&f->vq, false);
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    assert_int_equal(vqd_avail_event(&f->d), 2);
    assert_int_equal(vqd_used_flags(&f->d), 0);
    virtq_set_notify(&f->vq, true);
    assert_int_equal(vqd_avail_event(&f->d), 3);
    assert_false(virtq_has_avail(&f->vq));
    for (uint16_t h = 0; h < 3; h++)
        assert_int_equal(virtq_push(&f->vq, h, 1), 0);
}

static void test_stop_restart(void **state)
{
    struct fx *f = *state;
    const struct vqd_buf b = {BUF, 1, true};

    vqd_publish(&f->d, vqd_add_chain(&f->d, &b, 1));
    assert_int_equal(virtq_pop(&f->vq, &f->req), 0);
    virtq_req_release(&f->vq, &f->req);
    virtq_stop(&f->vq);
    assert_false(f->vq.started);
    assert_int_equal(virtq_push(&f->vq, 0, 1), -EINVAL);
    assert_false(virtq_needs_notify(&f->vq));
    assert_int_equal(virtq_start(&f->vq, 8, DESC, AVAIL, USED, 0), 0);
    assert_int_equal(f->vq.last_avail, 0);
    assert_int_equal(f->vq.used_idx, 0);
    assert_int_equal(vqd_used_idx(&f->d), 0);
}

/*
 * A guest with fragmented memory may put every data segment of one
 * virtio-blk request in a different MiB of RAM; each then pins a map-cache
 * bucket of its own. With the daemon's default cache that request must pop,
 * not be taken for a buffer outside RAM.
 */
#define SPREAD_RAM ((size_t)600 << 20)

static void *spread_map(void *opaque, uint64_t gfn, size_t nr, int *err)
{
    if ((gfn + nr) * GMEM_PAGE_SIZE > SPREAD_RAM)
        return NULL;
    for (size_t i = 0; i < nr; i++)
        err[i] = 0;
    return (uint8_t *)opaque + gfn * GMEM_PAGE_SIZE;
}

static void spread_unmap(void *opaque, void *addr, size_t nr)
{
}

static void test_spread_chain_fits_default_cache(void **state)
{
    static const struct gmem_mapper_ops ops = {.map = spread_map, .unmap = spread_unmap};
    static struct vqd_buf bufs[VIRTQ_MAX_SEGS];
    static struct virtq_req req;
    uint8_t *ram = mmap(NULL, SPREAD_RAM, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    struct gmem_mapper m = {.ops = &ops, .opaque = ram};
    struct gmem *gm;
    struct vqd d;
    struct virtq vq;

    assert_true(ram != MAP_FAILED);
    gm = gmem_cache_new(&m, 0, 0);
    assert_non_null(gm);
    vqd_init(&d, ram, 256, 0x0, 0x1000, 0x2000);
    virtq_init(&vq, 0, gm);
    assert_int_equal(virtq_start(&vq, 256, 0x0, 0x1000, 0x2000, 0), 0);
    bufs[0] = (struct vqd_buf){.addr = 0x10000, .len = 16};
    for (unsigned i = 1; i < VIRTQ_MAX_SEGS - 1; i++)
        bufs[i] = (struct vqd_buf){.addr = (uint64_t)(i + 1) << 21, .len = 4096, .writable = true};
    bufs[VIRTQ_MAX_SEGS - 1] = (struct vqd_buf){.addr = 0x20000, .len = 1, .writable = true};
    vqd_publish(&d, vqd_add_chain(&d, bufs, VIRTQ_MAX_SEGS));

    assert_int_equal(virtq_pop(&vq, &req), 0);
    assert_int_equal(req.nr_readable + req.nr_writable, VIRTQ_MAX_SEGS);
    assert_false(virtq_broken(&vq));
    virtq_req_release(&vq, &req);
    assert_int_equal(virtq_push(&vq, req.head, 1), 0);
    assert_int_equal(vqd_used_idx(&d), 1);
    virtq_stop(&vq);
    gmem_free(gm);
    munmap(ram, SPREAD_RAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_used_ring_stores_marked_dirty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_avail_event_marked_dirty, setup_event_idx, teardown),
        cmocka_unit_test_setup_teardown(test_normal_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_bad_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wraparound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_several_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_length_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup_no_indirect, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_bad_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_zero_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_with_next, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_not_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_unmapped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_next_out_of_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unmapped_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_straddles_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_wraps_address_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_before_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_avail_jump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_avail_exactly_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrun, setup, teardown),
        cmocka_unit_test(test_chain_too_long),
        cmocka_unit_test(test_spread_chain_fits_default_cache),
        cmocka_unit_test(test_chain_too_many_bytes),
        cmocka_unit_test_setup_teardown(test_interrupt_suppression_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_suppression_event_idx, setup_event_idx,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_event_idx_batch, setup_event_idx, teardown),
        cmocka_unit_test_setup_teardown(test_fill_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_then_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_suppression_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_suppression_event_idx, setup_event_idx,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
