/*
 * The io_uring engine of the raw backend (see blk-uring.h).
 *
 * Each operation takes one of `depth` slots, whose index is the SQE's
 * user_data, so a completion finds its callback without an allocation and
 * a CQE the ring invents cannot point anywhere. The completion queue has
 * twice `depth` entries, so it never overflows. SQEs prepared during a turn
 * of the loop go to the kernel together from a deferred event: a batch of
 * virtio requests costs one io_uring_enter, and reads the page cache can
 * serve complete inside it.
 */
#include "blk-uring.h"

#include <errno.h>
#include <event2/event.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define BLK_URING_MAX_FILES 2

struct uring_slot {
    blk_uring_done_fn done; /* NULL: free */
    void *opaque;
    unsigned next_free;
};

struct blk_uring {
    struct io_uring ring;
    bool ring_ok;
    unsigned nr_files;
    int efd;
    struct event *efd_ev;    /* completions */
    struct event *submit_ev; /* queued SQEs go to the kernel */
    bool submit_pending;
    unsigned depth;
    unsigned inflight; /* slots taken */
    unsigned queued;   /* SQEs prepared, not yet submitted */
    unsigned free_head;
    struct uring_slot *slots;
    void (*reaped)(void *opaque); /* after a pass that ran callbacks */
    void *reaped_opaque;
};

#define NO_SLOT UINT32_MAX

static void uring_submit(struct blk_uring *u)
{
    while (u->queued) {
        int n = io_uring_submit(&u->ring);

        if (n > 0) {
            u->queued -= (unsigned)n < u->queued ? (unsigned)n : u->queued;
            continue;
        }
        if (n == -EINTR)
            continue;
        /* -EAGAIN, -EBUSY: the kernel is short of memory or completion space;
         * what is left goes with the next completion (on_completion). */
        if (n != 0 && n != -EAGAIN && n != -EBUSY)
            log_error("blk: io_uring submission failed: %s", strerror(-n));
        break;
    }
}

static void on_submit(evutil_socket_t fd, short what, void *arg)
{
    struct blk_uring *u = arg;

    u->submit_pending = false;
    uring_submit(u);
}

static void slot_put(struct blk_uring *u, unsigned i)
{
    u->slots[i].done = NULL;
    u->slots[i].next_free = u->free_head;
    u->free_head = i;
    u->inflight--;
}

/* Runs every completion there is; returns how many. */
static unsigned reap(struct blk_uring *u)
{
    struct io_uring_cqe *cqe;
    unsigned n = 0;

    while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
        uint64_t i = cqe->user_data;
        int res = cqe->res;

        io_uring_cqe_seen(&u->ring, cqe);
        n++;
        if (i >= u->depth || !u->slots[i].done) {
            log_error("blk: io_uring completion for unknown slot %llu", (unsigned long long)i);
            continue;
        }
        blk_uring_done_fn done = u->slots[i].done;
        void *opaque = u->slots[i].opaque;
        slot_put(u, (unsigned)i);
        done(opaque, res);
    }
    if (n && u->reaped)
        u->reaped(u->reaped_opaque);
    return n;
}

static void on_completion(evutil_socket_t fd, short what, void *arg)
{
    struct blk_uring *u = arg;
    uint64_t count;

    if (read(u->efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: nothing counted since the last read; the ring decides. */
    }
    reap(u);
    /* Callbacks may have queued more (a short transfer's rest, a writethrough sync). */
    if (u->queued && !u->submit_pending) {
        u->submit_pending = true;
        event_active(u->submit_ev, EV_TIMEOUT, 0);
    }
}

static struct io_uring_sqe *sqe_get(struct blk_uring *u, unsigned file, blk_uring_done_fn done,
                                    void *opaque, unsigned *slot)
{
    struct io_uring_sqe *sqe;

    if (file >= u->nr_files || u->free_head == NO_SLOT)
        return NULL;
    sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) {
        /* Every SQ entry is prepared already: hand them over and take one again. */
        uring_submit(u);
        sqe = io_uring_get_sqe(&u->ring);
        if (!sqe)
            return NULL;
    }
    *slot = u->free_head;
    u->free_head = u->slots[*slot].next_free;
    u->slots[*slot].done = done;
    u->slots[*slot].opaque = opaque;
    u->inflight++;
    return sqe;
}

static void sqe_queue(struct blk_uring *u, struct io_uring_sqe *sqe, unsigned slot)
{
    io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
    io_uring_sqe_set_data64(sqe, slot);
    u->queued++;
    if (!u->submit_pending) {
        u->submit_pending = true;
        event_active(u->submit_ev, EV_TIMEOUT, 0);
    }
}

int blk_uring_rw(struct blk_uring *u, bool write, unsigned file, const struct iovec *iov,
                 unsigned iovcnt, uint64_t offset, blk_uring_done_fn done, void *opaque)
{
    unsigned slot;
    struct io_uring_sqe *sqe = sqe_get(u, file, done, opaque, &slot);

    if (!sqe)
        return -EAGAIN;
    if (write)
        io_uring_prep_writev(sqe, (int)file, iov, iovcnt, offset);
    else
        io_uring_prep_readv(sqe, (int)file, iov, iovcnt, offset);
    sqe_queue(u, sqe, slot);
    return 0;
}

int blk_uring_fdatasync(struct blk_uring *u, unsigned file, blk_uring_done_fn done, void *opaque)
{
    unsigned slot;
    struct io_uring_sqe *sqe = sqe_get(u, file, done, opaque, &slot);

    if (!sqe)
        return -EAGAIN;
    io_uring_prep_fsync(sqe, (int)file, IORING_FSYNC_DATASYNC);
    sqe_queue(u, sqe, slot);
    return 0;
}

void blk_uring_set_reaped(struct blk_uring *u, void (*fn)(void *opaque), void *opaque)
{
    u->reaped = fn;
    u->reaped_opaque = opaque;
}

unsigned blk_uring_inflight(const struct blk_uring *u)
{
    return u->inflight;
}

void blk_uring_drain(struct blk_uring *u)
{
    while (u->inflight) {
        struct io_uring_cqe *cqe;

        uring_submit(u);
        if (reap(u))
            continue;
        int rc = io_uring_wait_cqe(&u->ring, &cqe);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN) {
            log_error("blk: waiting for io_uring completions: %s", strerror(-rc));
            return;
        }
    }
}

/* Everything the ring may do once enabled: these operations, on fixed files only. */
static int restrict_ring(struct blk_uring *u)
{
    struct io_uring_restriction res[5];

    memset(res, 0, sizeof(res));
    res[0].opcode = IORING_RESTRICTION_SQE_OP;
    res[0].sqe_op = IORING_OP_READV;
    res[1].opcode = IORING_RESTRICTION_SQE_OP;
    res[1].sqe_op = IORING_OP_WRITEV;
    res[2].opcode = IORING_RESTRICTION_SQE_OP;
    res[2].sqe_op = IORING_OP_FSYNC;
    res[3].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
    res[3].sqe_flags = IOSQE_FIXED_FILE;
    res[4].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
    res[4].sqe_flags = IOSQE_FIXED_FILE;
    /* The raw call: Debian's liburing 2.3 declares io_uring_register_restrictions()
     * and io_uring_enable_rings() but does not export them. */
    return io_uring_register((unsigned)u->ring.ring_fd, IORING_REGISTER_RESTRICTIONS, res, 5);
}

int blk_uring_new(struct blk_uring **out, const int *fds, unsigned nr_fds, unsigned depth,
                  struct event_base *base)
{
    struct io_uring_params p;
    struct blk_uring *u;
    int rc;

    *out = NULL;
    if (nr_fds == 0 || nr_fds > BLK_URING_MAX_FILES || depth == 0 || depth > 4096)
        return -EINVAL;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->efd = -1;
    u->depth = depth;
    u->nr_files = nr_fds;
    u->slots = calloc(depth, sizeof(*u->slots));
    if (!u->slots) {
        rc = -ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < depth; i++)
        u->slots[i].next_free = i + 1 < depth ? i + 1 : NO_SLOT;
    u->free_head = 0;

    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * depth;
    rc = io_uring_queue_init_params(depth, &u->ring, &p);
    if (rc < 0)
        goto fail;
    u->ring_ok = true;
    rc = io_uring_register_files(&u->ring, fds, nr_fds);
    if (rc < 0)
        goto fail;
    u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (u->efd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = io_uring_register_eventfd(&u->ring, u->efd);
    if (rc < 0)
        goto fail;
    rc = restrict_ring(u);
    if (rc < 0)
        goto fail;
    rc = io_uring_register((unsigned)u->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc < 0)
        goto fail;

    u->efd_ev = event_new(base, u->efd, EV_READ | EV_PERSIST, on_completion, u);
    u->submit_ev = event_new(base, -1, 0, on_submit, u);
    if (!u->efd_ev || !u->submit_ev || event_add(u->efd_ev, NULL) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = u;
    return 0;
fail:
    blk_uring_free(u);
    return rc;
}

void blk_uring_free(struct blk_uring *u)
{
    if (!u)
        return;
    if (u->ring_ok) {
        blk_uring_drain(u);
        io_uring_queue_exit(&u->ring);
    }
    if (u->efd_ev)
        event_free(u->efd_ev);
    if (u->submit_ev)
        event_free(u->submit_ev);
    if (u->efd >= 0)
        close(u->efd);
    free(u->slots);
    free(u);
}
