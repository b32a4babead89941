/*
 * Block backends: where a virtual disk's sectors live.
 *
 * Every operation is asynchronous: it is queued and completes later through
 * its callback, always on the event-loop thread, so disk I/O never blocks the
 * loop. Submission either queues the operation (0; the callback will run
 * exactly once) or refuses it (-errno; the callback never runs).
 *
 * Completions come in passes: a backend runs the callbacks of everything
 * that finished since its last pass, then calls the batch-done hook once
 * (blk_set_batch_done), so that a device publishes them to its driver
 * together (one used-ring update, one interrupt) rather than one by one.
 * Every pass that ran a callback ends with the hook before the loop waits
 * again.
 *
 * Durability contract: flush completes only after the data of every write
 * that completed before the flush was submitted is on stable storage.
 * Errors are per operation; a failed operation leaves the backend usable.
 */
#ifndef DEVICES_BLK_BACKEND_H
#define DEVICES_BLK_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "compiler.h"

#define BLK_SECTOR_SIZE 512u

struct event_base;
struct blk_backend;

/* ret: 0, or -errno of the failed operation. */
typedef void (*blk_done_fn)(void *opaque, int ret);
/* After a pass of completion callbacks. */
typedef void (*blk_batch_fn)(void *opaque);

struct blk_backend_ops {
    const char *name;
    /* The iovec array is copied; the buffers must stay valid until done runs. */
    int (*read)(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                blk_done_fn done, void *opaque);
    int (*write)(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
                 blk_done_fn done, void *opaque);
    int (*flush)(struct blk_backend *be, blk_done_fn done, void *opaque);
    /* A hint: the range may read back as anything afterwards. */
    int (*discard)(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                   void *opaque);
    /* The range reads back as zeroes; may_unmap allows freeing its storage. */
    int (*write_zeroes)(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                        blk_done_fn done, void *opaque);
    /* Bytes, a multiple of BLK_SECTOR_SIZE. */
    uint64_t (*size)(struct blk_backend *be);
    /* Wait for every queued operation and run its callback, from the loop thread. */
    void (*drain)(struct blk_backend *be);
    /* Drains, then frees. */
    void (*free)(struct blk_backend *be);
};

struct blk_backend {
    const struct blk_backend_ops *ops;
    bool readonly;
    blk_batch_fn batch_done; /* NULL: nobody asked */
    void *batch_opaque;
};

/* The hook run after each pass of completions (fn NULL: none). */
void blk_set_batch_done(struct blk_backend *be, blk_batch_fn fn, void *opaque);

/* For backends: a pass of completion callbacks is over. */
static inline void blk_batch_done(struct blk_backend *be)
{
    if (be->batch_done)
        be->batch_done(be->batch_opaque);
}

/*
 * Checked entry points: a range past the end is -EINVAL, a write to a
 * read-only backend -EROFS, both refused without calling the backend.
 */
int blk_read(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
             blk_done_fn done, void *opaque) must_check;
int blk_write(struct blk_backend *be, uint64_t offset, const struct iovec *iov, unsigned iovcnt,
              blk_done_fn done, void *opaque) must_check;
int blk_flush(struct blk_backend *be, blk_done_fn done, void *opaque) must_check;
int blk_discard(struct blk_backend *be, uint64_t offset, uint64_t len, blk_done_fn done,
                void *opaque) must_check;
int blk_write_zeroes(struct blk_backend *be, uint64_t offset, uint64_t len, bool may_unmap,
                     blk_done_fn done, void *opaque) must_check;
uint64_t blk_size(struct blk_backend *be);
void blk_drain(struct blk_backend *be);
void blk_free(struct blk_backend *be);

/*
 * Worker threads of a raw backend. Through the page cache a transfer is a
 * copy, bound by the CPUs: a few threads keep them busy. With cache=none a
 * worker waits for the storage for each transfer, and only as many
 * transfers are with the storage as workers are waiting: a queue depth's
 * worth of them keeps it as busy as the guest asks.
 */
#define BLK_RAW_WORKERS        4
#define BLK_RAW_DIRECT_WORKERS 16
/* Operations a raw backend's io_uring keeps in flight (more wait for a slot in workers). */
#define BLK_RAW_URING_DEPTH 128

enum blk_cache {
    BLK_CACHE_WRITEBACK, /* through the host page cache */
    BLK_CACHE_NONE,      /* O_DIRECT where the request's buffers and offset allow it */
};

enum blk_aio {
    BLK_AIO_AUTO,     /* io_uring if this kernel gives a restricted ring (O_DIRECT writes
                       * excepted), else threads */
    BLK_AIO_THREADS,  /* the worker pool only */
    BLK_AIO_IO_URING, /* io_uring or fail to open */
};

struct blk_raw_opts {
    bool readonly;
    enum blk_cache cache;
    enum blk_aio aio;
};

/*
 * A raw image: a regular file or a block device. Reads, writes and flushes
 * go through io_uring or a small pool of worker threads (discards and
 * write-zeroes always through the threads), completions delivered to
 * `base`. opts NULL: writeback cache, aio auto, read-write. 0, or -errno
 * with errbuf explaining (missing file, size not a multiple of 512, ...).
 */
int blk_raw_open(struct blk_backend **out, const char *path, const struct blk_raw_opts *opts,
                 struct event_base *base, char *errbuf, size_t errlen) must_check;

/* "io_uring" or "threads": what a raw backend opened with. */
const char *blk_raw_engine(struct blk_backend *be);

/* Where a raw backend's operations went (loop thread). */
struct blk_raw_stats {
    uint64_t ring;         /* submissions to io_uring, remainders of short transfers included */
    uint64_t threads;      /* jobs queued to the worker pool */
    uint64_t wakes;        /* workers woken for them (the others were busy, or not needed) */
    uint64_t nowait;       /* reads and writes done on the loop with RWF_NOWAIT */
    uint64_t direct;       /* reads and writes sent to the O_DIRECT descriptor */
    unsigned idle_workers; /* workers waiting for a job now */
};
void blk_raw_get_stats(struct blk_backend *be, struct blk_raw_stats *out);

#endif
