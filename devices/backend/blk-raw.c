/*
 * Raw block backend: a regular file or a block device, byte for byte.
 *
 * Operations are queued to a small pool of worker threads that do the
 * blocking system calls (preadv/pwritev, fdatasync, fallocate or the block
 * ioctls). Finished jobs go on a completion list and an eventfd wakes the
 * event loop, which runs the callbacks; callbacks therefore never run on a
 * worker thread, and the loop never blocks on the disk (except in drain,
 * which exists to wait).
 *
 * Ownership: the loop thread owns `inflight` and submits and completes jobs;
 * the job queue and the completion list are shared with the workers under
 * `lock`. A flush is an fdatasync issued after it was queued: every write
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
#include "log.h"

enum raw_op {
    RAW_READ,
    RAW_WRITE,
    RAW_FLUSH,
    RAW_DISCARD,
    RAW_WRITE_ZEROES,
};

struct raw_job {
    struct raw_job *next;
    enum raw_op op;
    uint64_t offset;
    uint64_t len; /* discard / write zeroes */
    bool may_unmap;
    unsigned iovcnt;
    struct iovec *iov; /* a copy, advanced by short transfers */
    blk_done_fn done;
    void *opaque;
    int ret;
};

struct blk_raw {
    struct blk_backend be; /* first: the ops get this back */
    int fd;
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

    pthread_mutex_t lock;
    pthread_cond_t work_cond; /* jobs queued, or stopping */
    pthread_cond_t done_cond; /* a job completed (for drain) */
    struct raw_job *queue_head, *queue_tail;
    struct raw_job *done_head, *done_tail;
    bool stopping;
    unsigned nr_workers;
    pthread_t workers[BLK_RAW_WORKERS];
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
        n = j->op == RAW_READ ? preadv(r->fd, iov, (int)cnt, (off_t)off)
                              : pwritev(r->fd, iov, (int)cnt, (off_t)off);
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

        while (!r->queue_head && !r->stopping)
            pthread_cond_wait(&r->work_cond, &r->lock);
        if (!r->queue_head)
            break;
        j = r->queue_head;
        r->queue_head = j->next;
        if (!r->queue_head)
            r->queue_tail = NULL;
        pthread_mutex_unlock(&r->lock);

        j->ret = run_job(r, j);

        pthread_mutex_lock(&r->lock);
        j->next = NULL;
        if (r->done_tail)
            r->done_tail->next = j;
        else
            r->done_head = j;
        r->done_tail = j;
        pthread_cond_broadcast(&r->done_cond);
        /* The counter only wakes the loop; the list is the truth. */
        if (write(r->efd, &one, sizeof(one)) < 0) {
            /* EAGAIN: the counter is saturated, the loop is awake anyway. */
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* Runs the callbacks of every finished job; loop thread. */
static void deliver(struct blk_raw *r)
{
    struct raw_job *list;

    pthread_mutex_lock(&r->lock);
    list = r->done_head;
    r->done_head = r->done_tail = NULL;
    pthread_mutex_unlock(&r->lock);

    while (list) {
        struct raw_job *j = list;

        list = j->next;
        r->inflight--;
        j->done(j->opaque, j->ret);
        free(j->iov);
        free(j);
    }
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    struct blk_raw *r = arg;
    uint64_t count;

    if (read(r->efd, &count, sizeof(count)) < 0) {
        /* EAGAIN: another read got there first; the list decides. */
    }
    deliver(r);
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
    size_t total = 0;
    ssize_t n;

    if (r->nowait_off[write] || j->iovcnt == 0 || j->iovcnt > IOV_MAX)
        return false;
    for (unsigned i = 0; i < j->iovcnt; i++)
        total += j->iov[i].iov_len;
    n = write ? pwritev2(r->fd, j->iov, (int)j->iovcnt, (off_t)j->offset, RWF_NOWAIT)
              : preadv2(r->fd, j->iov, (int)j->iovcnt, (off_t)j->offset, RWF_NOWAIT);
    if (n < 0) {
        if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
            r->nowait_off[write] = true;
        return false;
    }
    if ((size_t)n == total) {
        j->ret = 0;
        return true;
    }
    /* j->iov stays the start of its allocation: drop the done entries by moving the rest */
    j->offset += (uint64_t)n;
    unsigned skip = 0;
    while (skip < j->iovcnt && (size_t)n >= j->iov[skip].iov_len) {
        n -= (ssize_t)j->iov[skip].iov_len;
        skip++;
    }
    memmove(j->iov, j->iov + skip, (j->iovcnt - skip) * sizeof(*j->iov));
    j->iovcnt -= skip;
    if (j->iovcnt && n > 0) {
        j->iov[0].iov_base = (char *)j->iov[0].iov_base + n;
        j->iov[0].iov_len -= (size_t)n;
    }
    return false;
}

static int submit(struct blk_raw *r, enum raw_op op, uint64_t offset, uint64_t len,
                  const struct iovec *iov, unsigned iovcnt, bool may_unmap, blk_done_fn done,
                  void *opaque)
{
    struct raw_job *j = calloc(1, sizeof(*j));

    if (!j)
        return -ENOMEM;
    if (iovcnt) {
        j->iov = malloc(iovcnt * sizeof(*iov));
        if (!j->iov) {
            free(j);
            return -ENOMEM;
        }
        memcpy(j->iov, iov, iovcnt * sizeof(*iov));
    }
    j->op = op;
    j->offset = offset;
    j->len = len;
    j->may_unmap = may_unmap;
    j->iovcnt = iovcnt;
    j->done = done;
    j->opaque = opaque;

    r->inflight++;
    if ((op == RAW_READ || op == RAW_WRITE) && try_nowait(r, j)) {
        /* done already: completed through the list on the next loop turn,
         * so the callback never runs inside the caller */
        pthread_mutex_lock(&r->lock);
        if (r->done_tail)
            r->done_tail->next = j;
        else
            r->done_head = j;
        r->done_tail = j;
        pthread_mutex_unlock(&r->lock);
        event_active(r->ev, EV_READ, 0);
        return 0;
    }
    pthread_mutex_lock(&r->lock);
    if (r->queue_tail)
        r->queue_tail->next = j;
    else
        r->queue_head = j;
    r->queue_tail = j;
    pthread_cond_signal(&r->work_cond);
    pthread_mutex_unlock(&r->lock);
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
        pthread_mutex_lock(&r->lock);
        while (!r->done_head)
            pthread_cond_wait(&r->done_cond, &r->lock);
        pthread_mutex_unlock(&r->lock);
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
    if (r->ev)
        event_free(r->ev);
    if (r->efd >= 0)
        close(r->efd);
    if (r->fd >= 0)
        close(r->fd);
    pthread_cond_destroy(&r->done_cond);
    pthread_cond_destroy(&r->work_cond);
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

int blk_raw_open(struct blk_backend **out, const char *path, bool readonly, struct event_base *base,
                 char *errbuf, size_t errlen)
{
    struct blk_raw *r;
    struct stat st;
    int rc;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    r->be.ops = &raw_ops;
    r->be.readonly = readonly;
    r->efd = -1;
    pthread_mutex_init(&r->lock, NULL);
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

    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "eventfd: %s", strerror(errno));
        goto out;
    }
    r->ev = event_new(base, r->efd, EV_READ | EV_PERSIST, on_event, r);
    if (!r->ev || event_add(r->ev, NULL) < 0) {
        rc = -ENOMEM;
        snprintf(errbuf, errlen, "cannot watch the completion eventfd");
        goto out;
    }
    for (unsigned i = 0; i < BLK_RAW_WORKERS; i++) {
        rc = -pthread_create(&r->workers[i], NULL, worker_main, r);
        if (rc) {
            snprintf(errbuf, errlen, "cannot start a disk worker thread: %s", strerror(-rc));
            goto out;
        }
        r->nr_workers++;
    }
    log_info("%s: raw disk, %" PRIu64 " bytes%s", path, r->size, readonly ? ", read-only" : "");
    *out = &r->be;
    return 0;
out:
    raw_free(&r->be);
    return rc;
}
