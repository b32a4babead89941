/*
 * Raw block backend: a regular file or a block device, byte for byte.
 *
 * Reads, writes and flushes go to the kernel through a restricted io_uring
 * (blk-uring.c) when this kernel gives one. Everything else, and everything
 * when it does not, is queued to a small pool of worker threads that do the
 * blocking system calls (preadv/pwritev, fdatasync, fallocate or the block
 * ioctls). Finished jobs go on a completion list and an eventfd wakes the
 * event loop, which runs the callbacks; callbacks therefore never run on a
 * worker thread, and the loop never blocks on the disk (except in drain,
 * which exists to wait).
 *
 * cache=none opens the image a second time with O_DIRECT and sends each
 * read or write whose buffers, length and offset meet the file's direct-I/O
 * alignment there, the rest through the page cache; Linux keeps the two
 * views coherent, and a flush syncs the one file behind both.
 *
 * Ownership: the loop thread owns `inflight` and submits and completes jobs.
 * The first job for the workers in a turn of the loop is handed over at
 * once; the others of that turn are staged and handed over together at its
 * end, waking only as many idle workers as the batch needs;
 * the job queue is shared with the workers under `lock`, the completion list
 * under `done_lock`, so that a finishing worker never waits for a queueing
 * one. A flush is an fdatasync issued after it was queued: every write
 * whose completion was delivered before the flush was submitted has already
 * returned from pwritev, so its data is covered.
 */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "blk-backend.h"
#include "blk-uring.h"
#include "log.h"
#include "spare-list.h"

enum raw_op {
    RAW_READ,
    RAW_WRITE,
    RAW_FLUSH,
    RAW_DISCARD,
    RAW_WRITE_ZEROES,
};

/* Most requests have a segment or two: their iovec copy lives in the job. */
#define RAW_JOB_INLINE_IOVS 4
/*
 * The largest transfer tried on the loop thread with RWF_NOWAIT, and the
 * largest read through the page cache given to the io_uring (which copies
 * what the cache holds inside io_uring_enter, on the loop thread too). A
 * copy on the loop holds up everything the loop serves, and copies there
 * run one after the other on one CPU; above this size a hand-off to the
 * workers costs less than the copy and lets the copies of a batch run in
 * parallel.
 */
#define RAW_NOWAIT_MAX_BYTES (16u << 10)
/*
 * A transfer this big keeps the storage (or a CPU copying) busy long enough
 * that running several at once gains little over running them one after
 * the other: a batch of them wakes one worker per RAW_LARGE_PER_WAKE, and
 * the woken ones take the rest in turn, without two context switches each.
 * Smaller jobs wake a worker each, as their latency, not the bandwidth,
 * bounds them. An O_DIRECT transfer of any size wakes a worker of its own:
 * its worker sleeps while the storage works, and the storage serves
 * several at once better than one after the other.
 */
#define RAW_LARGE_JOB_BYTES (32u << 10)
#define RAW_LARGE_PER_WAKE  4
/* Finished jobs kept for reuse (loop thread): one per request in flight. */
#define RAW_SPARE_JOBS 128

struct raw_job {
    struct raw_job *next;
    struct blk_raw *raw;
    enum raw_op op;
    int fd;             /* the buffered or the O_DIRECT descriptor */
    unsigned ring_file; /* the same as an index of the ring's fixed files */
    uint64_t offset;
    uint64_t len; /* discard / write zeroes */
    bool may_unmap;
    unsigned iovcnt;
    struct iovec *iov; /* a copy, advanced by short transfers: iov_inline or allocated */
    struct iovec iov_inline[RAW_JOB_INLINE_IOVS];
    blk_done_fn done;
    void *opaque;
    int ret;
};

struct blk_raw {
    struct blk_backend be; /* first: the ops get this back */
    int fd;
    int dfd;                      /* cache=none: the image opened with O_DIRECT; else -1 */
    uint32_t dio_mem;             /* direct I/O alignment of buffers and lengths */
    uint32_t dio_offset;          /* and of file offsets */
    struct blk_uring *uring;      /* NULL: threads only */
    bool ring_off[3];             /* by raw_op: the kernel cancelled one, threads from now on */
    bool direct_writes_threads;   /* aio=auto: O_DIRECT writes stay on the worker threads */
    bool large_writes_threads;    /* aio=auto: so do large writes through the page cache */
    struct blk_raw_stats stats;   /* loop thread only */
    struct spare_list spare_jobs; /* loop thread only: finished jobs for reuse */
    bool is_blkdev;
    uint64_t size;
    int efd; /* completions -> loop */
    struct event *ev;
    unsigned inflight;  /* loop thread only */
    bool nowait_off[2]; /* loop thread only: RWF_NOWAIT refused for reads / writes */
    /*
     * First failed fdatasync, as -errno (workers: atomic). Linux reports a
     * writeback error once and then marks the pages clean, so a later
     * fdatasync would succeed although the data never reached storage:
     * every flush after a failed one fails too.
     */
    int flush_error;

    /* Jobs for the workers, gathered during a turn of the loop (loop thread only). */
    struct raw_job *staged_head, *staged_tail;
    unsigned nr_staged;
    unsigned staged_wakes; /* workers the staged jobs are worth waking */
    unsigned staged_large; /* large jobs staged since the last hand-over */
    struct event *hand_ev; /* hands the staged jobs over at the end of the turn */
    bool turn_open;        /* a job went over in this turn: the rest wait for hand_ev */

    /* The job queue: `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* jobs queued, or stopping */
    struct raw_job *queue_head, *queue_tail;
    unsigned idle;  /* workers waiting on work_cond */
    unsigned wakes; /* of them, signalled and not yet awake */
    bool stopping;
    /* Finished jobs: `done_lock`, apart, so that finishing never waits for queueing. */
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond; /* a job completed (for drain) */
    struct raw_job *done_head, *done_tail;
    unsigned nr_workers;
    pthread_t workers[BLK_RAW_DIRECT_WORKERS];
};

static struct blk_raw *to_raw(struct blk_backend *be)
{
    return (struct blk_raw *)be;
}

/* Full transfer or -errno; a read that meets end-of-file is an I/O error. */
static int do_rw(struct blk_raw *r, struct raw_job *j)
{
    struct iovec *iov = j->iov;
    unsigned cnt = j->iovcnt;
    uint64_t off = j->offset;

    while (cnt) {
        ssize_t n;

        if (iov->iov_len == 0) {
            iov++;
            cnt--;
            continue;
        }
        n = j->op == RAW_READ ? preadv(j->fd, iov, (int)cnt, (off_t)off)
                              : pwritev(j->fd, iov, (int)cnt, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return j->op == RAW_READ ? -EIO : -ENOSPC;
        off += (uint64_t)n;
        while (n > 0) {
            if ((size_t)n >= iov->iov_len) {
                n -= (ssize_t)iov->iov_len;
                iov++;
                cnt--;
            } else {
                iov->iov_base = (char *)iov->iov_base + n;
                iov->iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
    return 0;
}

static int write_zero_bytes(struct blk_raw *r, uint64_t off, uint64_t len)
{
    static const char zeroes[65536];

    while (len) {
        size_t chunk = len < sizeof(zeroes) ? (size_t)len : sizeof(zeroes);
        ssize_t n = pwrite(r->fd, zeroes, chunk, (off_t)off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENOSPC;
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    return 0;
}

static bool unsupported(int err)
{
    return err == EOPNOTSUPP || err == ENOTTY || err == EINVAL || err == ENOSYS;
}

static int do_discard(struct blk_raw *r, struct raw_job *j)
{
    int rc;

    if (j->len == 0)
        return 0;
    if (r->is_blkdev) {
        uint64_t range[2] = {j->offset, j->len};
        rc = ioctl(r->fd, BLKDISCARD, range);
    } else {
        rc = fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)j->offset,
                       (off_t)j->len);
    }
    /* Discard is a hint: storage that cannot do it has still done its job. */
    if (rc < 0 && !unsupported(errno))
        return -errno;
    return 0;
}

static int do_write_zeroes(struct blk_raw *r, struct raw_job *j)
{
    int rc;

    if (j->len == 0)
        return 0;
    if (r->is_blkdev) {
        uint64_t range[2] = {j->offset, j->len};
        rc = ioctl(r->fd, BLKZEROOUT, range);
    } else {
        int mode = j->may_unmap ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
        rc = fallocate(r->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)j->offset, (off_t)j->len);
    }
    if (rc == 0)
        return 0;
    if (!unsupported(errno))
        return -errno;
    return write_zero_bytes(r, j->offset, j->len);
}

static int run_job(struct blk_raw *r, struct raw_job *j)
{
    switch (j->op) {
    case RAW_READ:
    case RAW_WRITE:
        return do_rw(r, j);
    case RAW_FLUSH: {
        /* Still write back what can be written, but never report success again. */
        while (fdatasync(r->fd) < 0) {
            if (errno != EINTR) {
                int expected = 0;
                __atomic_compare_exchange_n(&r->flush_error, &expected, -errno, false,
                                            __ATOMIC_RELEASE, __ATOMIC_RELAXED);
                break;
            }
        }
        return __atomic_load_n(&r->flush_error, __ATOMIC_ACQUIRE);
    }
    case RAW_DISCARD:
        return do_discard(r, j);
    case RAW_WRITE_ZEROES:
        return do_write_zeroes(r, j);
    }
    return -EINVAL;
}

static void *worker_main(void *arg)
{
    struct blk_raw *r = arg;

    pthread_mutex_lock(&r->lock);
    for (;;) {
        struct raw_job *j;
        uint64_t one = 1;
        bool wake;

        while (!r->queue_head && !r->stopping) {
            r->idle++;
            pthread_cond_wait(&r->work_cond, &r->lock);
            r->idle--;
            if (r->wakes)
                r->wakes--;
        }
        if (!r->queue_head)
            break;
        j = r->queue_head;
        r->queue_head = j->next;
        if (!r->queue_head)
            r->queue_tail = NULL;
        pthread_mutex_unlock(&r->lock);

        j->ret = run_job(r, j);

        pthread_mutex_lock(&r->done_lock);
        j->next = NULL;
        wake = !r->done_head;
        if (r->done_tail)
            r->done_tail->next = j;
        else
            r->done_head = j;
        r->done_tail = j;
        pthread_cond_broadcast(&r->done_cond);
        pthread_mutex_unlock(&r->done_lock);
        /*
         * The counter only wakes the loop; the list is the truth. A list
         * that already held jobs has woken the loop, or its worker is about
         * to, and the loop takes the whole list at once: the jobs of a batch
         * cost the loop one wake-up, not one each.
         */
        if (wake && write(r->efd, &one, sizeof(one)) < 0) {
            /* EAGAIN: the counter is saturated, the loop is awake anyway. */
        }
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Loop thread: a finished job back to the spares (or freed). */
static void job_put(struct blk_raw *r, struct raw_job *j)
{
    if (j->iov != j->iov_inline)
        free(j->iov);
    spare_put(&r->spare_jobs, j);
}

static struct raw_job *job_get(struct blk_raw *r)
{
    struct raw_job *j = spare_get(&r->spare_jobs);

    if (!j)
        return calloc(1, sizeof(*j));
    memset(j, 0, sizeof(*j));
    return j;
}

/* Runs the callbacks of every finished job; loop thread. */
static void deliver(struct blk_raw *r)
{
    struct raw_job *list;

    pthread_mutex_lock(&r->done_lock);
    list = r->done_head;
    r->done_head = r->done_tail = NULL;
    pthread_mutex_unlock(&r->done_lock);

    if (!list)
        return;
    while (list) {
        struct raw_job *j = list;

        list = j->next;
        r->inflight--;
        j->done(j->opaque, j->ret);
        job_put(r, j);
    }
    blk_batch_done(&r->be);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct blk_raw *r = arg;
    uint64_t count;

    /* Activated by submit (EV_TIMEOUT) for a job done on the loop: the
     * counter was not touched, and reading it would only cost a call. */
    if ((what & EV_READ) && read(r->efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: another read got there first; the list decides. */
    }
    deliver(r);
}

static size_t job_bytes(const struct raw_job *j)
{
    size_t total = 0;

    for (unsigned i = 0; i < j->iovcnt; i++)
        total += j->iov[i].iov_len;
    return total;
}

/* Moves past `n` transferred bytes (fewer than the job has). j->iov stays
 * the start of its allocation: the done entries go by moving the rest. */
static void job_advance(struct raw_job *j, size_t n)
{
    unsigned skip = 0;

    j->offset += (uint64_t)n;
    while (skip < j->iovcnt && n >= j->iov[skip].iov_len) {
        n -= j->iov[skip].iov_len;
        skip++;
    }
    memmove(j->iov, j->iov + skip, (j->iovcnt - skip) * sizeof(*j->iov));
    j->iovcnt -= skip;
    if (j->iovcnt && n > 0) {
        j->iov[0].iov_base = (char *)j->iov[0].iov_base + n;
        j->iov[0].iov_len -= n;
    }
}

/*
 * Loop thread: tries a read or write with RWF_NOWAIT, which the kernel
 * refuses (EAGAIN) rather than block, e.g. when the data is not in the page
 * cache. True when the whole transfer is done; otherwise what is left goes
 * to a worker (j->iov and j->offset advanced past what was transferred).
 */
static bool try_nowait(struct blk_raw *r, struct raw_job *j)
{
    bool write = j->op == RAW_WRITE;
    size_t total = job_bytes(j);
    ssize_t n;

    /* Direct I/O does not wait on the page cache: RWF_NOWAIT would only fail. */
    if (r->nowait_off[write] || j->fd == r->dfd || j->iovcnt == 0 || j->iovcnt > IOV_MAX ||
        total > RAW_NOWAIT_MAX_BYTES)
        return false;
    n = write ? pwritev2(j->fd, j->iov, (int)j->iovcnt, (off_t)j->offset, RWF_NOWAIT)
              : preadv2(j->fd, j->iov, (int)j->iovcnt, (off_t)j->offset, RWF_NOWAIT);
    if (n < 0) {
        if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
            r->nowait_off[write] = true;
        return false;
    }
    if ((size_t)n == total) {
        j->ret = 0;
        return true;
    }
    job_advance(j, (size_t)n);
    return false;
}

/*
 * Loop thread: the jobs staged during this turn go to the workers in one
 * go, each woken worker finding its job queued already. One lock for the
 * batch, and no more wake-ups than jobs or idle workers: a woken worker that
 * finds the queue empty costs two context switches for nothing.
 */
static void hand_over(struct blk_raw *r)
{
    unsigned wake;

    if (!r->staged_head)
        return;
    pthread_mutex_lock(&r->lock);
    if (r->queue_tail)
        r->queue_tail->next = r->staged_head;
    else
        r->queue_head = r->staged_head;
    r->queue_tail = r->staged_tail;
    wake = r->idle - r->wakes;
    if (wake > r->staged_wakes)
        wake = r->staged_wakes;
    r->wakes += wake;
    pthread_mutex_unlock(&r->lock);
    r->stats.wakes += wake;
    r->staged_head = r->staged_tail = NULL;
    r->nr_staged = 0;
    r->staged_wakes = 0;
    r->staged_large = 0;
    /* Workers not woken are busy and take the rest when they finish. */
    while (wake--)
        pthread_cond_signal(&r->work_cond);
}

static void on_hand_over(evutil_socket_t fd, short what, void *arg)
{
    struct blk_raw *r = arg;

    hand_over(r);
    r->turn_open = false;
}

/* Loop thread: a job for the workers, handed over at the end of this turn. */
static void queue_to_workers(struct blk_raw *r, struct raw_job *j)
{
    r->stats.threads++;
    j->next = NULL;
    if (r->staged_tail)
        r->staged_tail->next = j;
    else
        r->staged_head = j;
    r->staged_tail = j;
    if ((j->op != RAW_READ && j->op != RAW_WRITE) || j->fd == r->dfd ||
        job_bytes(j) < RAW_LARGE_JOB_BYTES)
        r->staged_wakes++;
    else if (r->staged_large++ % RAW_LARGE_PER_WAKE == 0)
        r->staged_wakes++;
    r->nr_staged++;
    /*
     * The first job of a loop turn goes over at once: a worker starts on it
     * while the loop still answers the vCPU that kicked (on 2 CPUs it would
     * otherwise wait for that vCPU to sleep again, and the storage for it).
     * The others of the turn are gathered and go together at its end.
     */
    if (!r->turn_open) {
        r->turn_open = true;
        event_active(r->hand_ev, EV_TIMEOUT, 0);
        hand_over(r);
    }
}

/* Whether a transfer meets the O_DIRECT descriptor's alignment rules. */
static bool direct_ok(const struct blk_raw *r, const struct raw_job *j)
{
    if (j->offset % r->dio_offset || j->iovcnt > IOV_MAX)
        return false;
    for (unsigned i = 0; i < j->iovcnt; i++)
        if ((uintptr_t)j->iov[i].iov_base % r->dio_mem || j->iov[i].iov_len % r->dio_mem)
            return false;
    return true;
}

/* Loop thread: a job the ring finished (or gave up on) completes now. */
static void ring_finish(struct raw_job *j, int ret)
{
    struct blk_raw *r = j->raw;

    r->inflight--;
    j->done(j->opaque, ret);
    job_put(r, j);
}

static int ring_queue(struct raw_job *j);

static void on_ring_done(void *opaque, int res)
{
    struct raw_job *j = opaque;
    struct blk_raw *r = j->raw;

    /*
     * The kernel could not start a worker to run it: io_uring runs a
     * buffered write or an fsync on a kernel thread of this process, and a
     * deprivileged ioreqd may create none (RLIMIT_NPROC 0). Not an I/O
     * error: this job and every later one of its kind go to our threads.
     */
    if (res == -ECANCELED) {
        if (!r->ring_off[j->op])
            log_info("blk: io_uring could not run a %s (no kernel worker): worker threads "
                     "take them",
                     j->op == RAW_READ    ? "read"
                     : j->op == RAW_WRITE ? "write"
                                          : "flush");
        r->ring_off[j->op] = true;
        queue_to_workers(r, j);
        return;
    }
    if (j->op == RAW_FLUSH) {
        if (res < 0) {
            int expected = 0;
            __atomic_compare_exchange_n(&r->flush_error, &expected, res, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED);
        }
        ring_finish(j, __atomic_load_n(&r->flush_error, __ATOMIC_ACQUIRE));
        return;
    }
    if (res == -EINTR || res == -EAGAIN) {
        res = 0; /* nothing moved: ask again */
    } else if (res < 0) {
        ring_finish(j, res);
        return;
    } else if (res == 0) {
        ring_finish(j, j->op == RAW_READ ? -EIO : -ENOSPC); /* end of file, as do_rw */
        return;
    }
    if ((size_t)res >= job_bytes(j)) {
        ring_finish(j, 0);
        return;
    }
    job_advance(j, (size_t)res);
    if (j->fd == r->dfd && !direct_ok(r, j)) {
        j->fd = r->fd; /* what is left is not aligned for O_DIRECT any more */
        j->ring_file = 0;
    }
    if (ring_queue(j) == 0)
        return;
    /* No slot for the rest: a worker finishes it and completes through the list. */
    queue_to_workers(r, j);
}

static int ring_queue(struct raw_job *j)
{
    struct blk_raw *r = j->raw;
    int rc;

    switch (j->op) {
    case RAW_READ:
    case RAW_WRITE:
        rc = blk_uring_rw(r->uring, j->op == RAW_WRITE, j->ring_file, j->iov, j->iovcnt, j->offset,
                          on_ring_done, j);
        break;
    case RAW_FLUSH:
        rc = blk_uring_fdatasync(r->uring, 0, on_ring_done, j);
        break;
    default:
        return -EOPNOTSUPP;
    }
    if (rc == 0)
        r->stats.ring++;
    return rc;
}

/* Whether a job goes to the io_uring rather than to the workers. */
static bool ring_takes(const struct blk_raw *r, struct raw_job *j)
{
    bool buffered = j->fd != r->dfd;

    if (!r->uring || j->op > RAW_FLUSH || r->ring_off[j->op] || j->iovcnt > IOV_MAX)
        return false;
    if (j->op == RAW_WRITE && !buffered && r->direct_writes_threads)
        return false;
    /*
     * A large transfer through the page cache is a copy that the ring does
     * inside io_uring_enter, on the loop thread, one after the other (or,
     * for a write it cannot do at once, on one kernel worker per file): the
     * workers copy a batch of them in parallel, off the loop.
     */
    if (buffered && job_bytes(j) > RAW_NOWAIT_MAX_BYTES &&
        (j->op == RAW_READ || (j->op == RAW_WRITE && r->large_writes_threads)))
        return false;
    return true;
}

static int submit(struct blk_raw *r, enum raw_op op, uint64_t offset, uint64_t len,
                  const struct iovec *iov, unsigned iovcnt, bool may_unmap, blk_done_fn done,
                  void *opaque)
{
    struct raw_job *j = job_get(r);

    if (!j)
        return -ENOMEM;
    j->iov = j->iov_inline;
    if (iovcnt > RAW_JOB_INLINE_IOVS) {
        j->iov = malloc(iovcnt * sizeof(*iov));
        if (!j->iov) {
            free(j);
            return -ENOMEM;
        }
    }
    if (iovcnt)
        memcpy(j->iov, iov, iovcnt * sizeof(*iov));
    j->raw = r;
    j->op = op;
    j->offset = offset;
    j->len = len;
    j->may_unmap = may_unmap;
    j->iovcnt = iovcnt;
    j->done = done;
    j->opaque = opaque;
    j->fd = r->fd;
    if (r->dfd >= 0 && (op == RAW_READ || op == RAW_WRITE) && direct_ok(r, j)) {
        j->fd = r->dfd;
        j->ring_file = 1;
        r->stats.direct++;
    }

    r->inflight++;
    if (ring_takes(r, j) && ring_queue(j) == 0)
        return 0;
    if ((op == RAW_READ || op == RAW_WRITE) && (!r->uring || r->ring_off[op]) && try_nowait(r, j)) {
        r->stats.nowait++;
        /* done already: completed through the list on the next loop turn,
         * so the callback never runs inside the caller */
        pthread_mutex_lock(&r->done_lock);
        if (r->done_tail)
            r->done_tail->next = j;
        else
            r->done_head = j;
        r->done_tail = j;
        pthread_mutex_unlock(&r->done_lock);
        event_active(r->ev, EV_TIMEOUT, 0);
        return 0;
    }
    queue_to_workers(r, j);
    return 0;
}

static int raw_read(struct blk_backend *be, uint64_t offset, const struct iovec *iov,
                    unsigned iovcnt, blk_done_fn done, void *opaque)
{
    return submit(to_raw(be), RAW_READ, offset, 0, iov, iovcnt, false, done, opaque);
}

static int raw_write(struct blk_backend *be, uint64_t offset, const struct iovec *iov,
                     unsigned iovcnt, blk_done_fn done, void *opaque)
{
    return submit(to_raw(be), RAW_WRITE, offset, 0, iov, iovcnt, false, done, opaque);
}

static int raw_flush(struct blk_backend *be, blk_done_fn done, void *opaque)
{
    return submit(to_raw(be), RAW_FLUSH, 0, 0, NULL, 0, false, done, opaque);
}

static int raw_discard(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                       void *opaque)
{
    return submit(to_raw(be), RAW_DISCARD, offset, len, NULL, 0, false, done, opaque);
}

static int raw_write_zeroes(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                            blk_done_fn done, void *opaque)
{
    return submit(to_raw(be), RAW_WRITE_ZEROES, offset, len, NULL, 0, may_unmap, done, opaque);
}

static uint64_t raw_size(struct blk_backend *be)
{
    return to_raw(be)->size;
}

static void raw_drain(struct blk_backend *be)
{
    struct blk_raw *r = to_raw(be);

    while (r->inflight) {
        /* The ring first: a ring completion may hand the rest of a job to a worker. */
        if (r->uring && blk_uring_inflight(r->uring)) {
            blk_uring_drain(r->uring);
            continue;
        }
        hand_over(r); /* what waits for the end of the turn cannot wait here */
        pthread_mutex_lock(&r->done_lock);
        while (!r->done_head)
            pthread_cond_wait(&r->done_cond, &r->done_lock);
        pthread_mutex_unlock(&r->done_lock);
        deliver(r);
    }
}

static void raw_free(struct blk_backend *be)
{
    struct blk_raw *r = to_raw(be);

    raw_drain(be);
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->work_cond);
    pthread_mutex_unlock(&r->lock);
    for (unsigned i = 0; i < r->nr_workers; i++)
        pthread_join(r->workers[i], NULL);
    blk_uring_free(r->uring);
    spare_free_all(&r->spare_jobs);
    if (r->hand_ev)
        event_free(r->hand_ev);
    if (r->ev)
        event_free(r->ev);
    if (r->efd >= 0)
        close(r->efd);
    if (r->fd >= 0)
        close(r->fd);
    if (r->dfd >= 0)
        close(r->dfd);
    pthread_cond_destroy(&r->done_cond);
    pthread_cond_destroy(&r->work_cond);
    pthread_mutex_destroy(&r->done_lock);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static const struct blk_backend_ops raw_ops = {
    .name = "raw",
    .read = raw_read,
    .write = raw_write,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .size = raw_size,
    .drain = raw_drain,
    .free = raw_free,
};

/*
 * The O_DIRECT descriptor and its alignment: statx says it for files on
 * filesystems that know (Linux 6.1 on); a block device's logical sector
 * size is its rule; otherwise a page, which every filesystem accepts.
 */
static int open_direct(struct blk_raw *r, const char *path, bool readonly, char *errbuf,
                       size_t errlen)
{
    struct statx stx;
    int lbs;

    r->dfd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT);
    if (r->dfd < 0) {
        snprintf(errbuf, errlen, "%s: cache=none: cannot open with O_DIRECT: %s", path,
                 strerror(errno));
        return -errno;
    }
    r->dio_mem = r->dio_offset = 4096;
    if (r->is_blkdev && ioctl(r->dfd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
        r->dio_mem = r->dio_offset = (uint32_t)lbs;
    } else if (statx(r->dfd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
               (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_mem_align &&
               stx.stx_dio_offset_align) {
        r->dio_mem = stx.stx_dio_mem_align;
        r->dio_offset = stx.stx_dio_offset_align;
    }
    /* Lengths are checked against dio_mem too: never below a sector. */
    if (r->dio_mem < BLK_SECTOR_SIZE)
        r->dio_mem = BLK_SECTOR_SIZE;
    if (r->dio_offset < BLK_SECTOR_SIZE)
        r->dio_offset = BLK_SECTOR_SIZE;
    return 0;
}

/* A pass over the ring's completions is a pass of ours. */
static void ring_reaped(void *opaque)
{
    struct blk_raw *r = opaque;

    blk_batch_done(&r->be);
}

static int start_uring(struct blk_raw *r, enum blk_aio aio, struct event_base *base, char *errbuf,
                       size_t errlen)
{
    int fds[2] = {r->fd, r->dfd};
    int rc;

    if (aio == BLK_AIO_THREADS)
        return 0;
    rc = blk_uring_new(&r->uring, fds, r->dfd >= 0 ? 2 : 1, BLK_RAW_URING_DEPTH, base);
    if (rc == 0)
        blk_uring_set_reaped(r->uring, ring_reaped, r);
    /*
     * Measured (BENCHMARKS.md): the kernel runs an O_DIRECT write it cannot
     * issue at once on a worker, one at a time per file, ten times slower
     * than our threads; auto keeps those on threads.
     */
    r->direct_writes_threads = aio == BLK_AIO_AUTO;
    r->large_writes_threads = aio == BLK_AIO_AUTO;
    if (rc == 0)
        return 0;
    if (aio == BLK_AIO_IO_URING) {
        snprintf(errbuf, errlen, "aio=io_uring: no restricted io_uring here: %s", strerror(-rc));
        return rc;
    }
    log_info("blk: io_uring not available (%s): worker threads serve the disk", strerror(-rc));
    return 0;
}

int blk_raw_open(struct blk_backend **out, const char *path, const struct blk_raw_opts *opts,
                 struct event_base *base, char *errbuf, size_t errlen)
{
    static const struct blk_raw_opts defaults = {.cache = BLK_CACHE_WRITEBACK};
    struct blk_raw *r;
    struct stat st;
    unsigned nr_workers;
    bool readonly;
    int rc;

    *out = NULL;
    if (!opts)
        opts = &defaults;
    readonly = opts->readonly;
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    r->be.ops = &raw_ops;
    r->be.readonly = readonly;
    r->efd = -1;
    r->dfd = -1;
    r->spare_jobs.max = RAW_SPARE_JOBS;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->done_lock, NULL);
    pthread_cond_init(&r->work_cond, NULL);
    pthread_cond_init(&r->done_cond, NULL);

    r->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (r->fd < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(r->fd, &st) < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        r->size = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        r->is_blkdev = true;
        if (ioctl(r->fd, BLKGETSIZE64, &r->size) < 0) {
            rc = -errno;
            snprintf(errbuf, errlen, "%s: cannot read the device size: %s", path, strerror(errno));
            goto out;
        }
    } else {
        rc = -EINVAL;
        snprintf(errbuf, errlen, "%s: not a regular file or block device", path);
        goto out;
    }
    if (r->size % BLK_SECTOR_SIZE) {
        rc = -EINVAL;
        snprintf(errbuf, errlen, "%s: size %" PRIu64 " is not a multiple of %u bytes", path,
                 r->size, BLK_SECTOR_SIZE);
        goto out;
    }
    if (opts->cache == BLK_CACHE_NONE) {
        rc = open_direct(r, path, readonly, errbuf, errlen);
        if (rc)
            goto out;
    }

    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "eventfd: %s", strerror(errno));
        goto out;
    }
    r->ev = event_new(base, r->efd, EV_READ | EV_PERSIST, on_event, r);
    r->hand_ev = event_new(base, -1, 0, on_hand_over, r);
    if (!r->ev || !r->hand_ev || event_add(r->ev, NULL) < 0) {
        rc = -ENOMEM;
        snprintf(errbuf, errlen, "cannot watch the completion eventfd");
        goto out;
    }
    rc = start_uring(r, opts->aio, base, errbuf, errlen);
    if (rc)
        goto out;
    nr_workers = r->dfd >= 0 ? BLK_RAW_DIRECT_WORKERS : BLK_RAW_WORKERS;
    for (unsigned i = 0; i < nr_workers; i++) {
        rc = -pthread_create(&r->workers[i], NULL, worker_main, r);
        if (rc) {
            snprintf(errbuf, errlen, "cannot start a disk worker thread: %s", strerror(-rc));
            goto out;
        }
        r->nr_workers++;
    }
    if (r->dfd >= 0)
        log_info("%s: raw disk, %" PRIu64 " bytes%s, %s, cache=none (O_DIRECT, alignment %u/%u)",
                 path, r->size, readonly ? ", read-only" : "", blk_raw_engine(&r->be), r->dio_mem,
                 r->dio_offset);
    else
        log_info("%s: raw disk, %" PRIu64 " bytes%s, %s", path, r->size,
                 readonly ? ", read-only" : "", blk_raw_engine(&r->be));
    *out = &r->be;
    return 0;
out:
    raw_free(&r->be);
    return rc;
}

const char *blk_raw_engine(struct blk_backend *be)
{
    return be && be->ops == &raw_ops && to_raw(be)->uring ? "io_uring" : "threads";
}

void blk_raw_get_stats(struct blk_backend *be, struct blk_raw_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (be && be->ops == &raw_ops) {
        struct blk_raw *r = to_raw(be);

        *out = r->stats;
        pthread_mutex_lock(&r->lock);
        out->idle_workers = r->idle - r->wakes;
        pthread_mutex_unlock(&r->lock);
    }
}
