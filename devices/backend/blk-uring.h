/*
 * io_uring for the files of one disk image: vectored reads and writes and
 * data syncs, prepared as requests arrive and handed to the kernel once per
 * turn of the event loop, completions run on the loop through the ring's
 * eventfd. The ring is created disabled, given the image's descriptors as
 * its only (fixed) files, restricted to READV, WRITEV and FSYNC on fixed
 * files with no further registration, and only then enabled: whatever asks
 * it later, it can touch nothing but the image.
 *
 * Loop thread only.
 */
#ifndef DEVICES_BLK_URING_H
#define DEVICES_BLK_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "compiler.h"

struct event_base;
struct blk_uring;

/* res: bytes transferred (possibly short), 0 for a sync, or -errno. */
typedef void (*blk_uring_done_fn)(void *opaque, int res);

/*
 * A ring of `depth` entries over fds[0..nr_fds) (at most 2), or -errno when
 * io_uring is not available here (old kernel, disabled by sysctl, refused
 * by a seccomp filter, no restriction support): the caller then uses
 * threads.
 */
int blk_uring_new(struct blk_uring **out, const int *fds, unsigned nr_fds, unsigned depth,
                  struct event_base *base) must_check;

/*
 * Queue an operation on fixed file `file` (an index into fds). 0, or -EAGAIN
 * when `depth` operations are in flight already (nothing was queued). The
 * iovec array must stay valid until done runs; done always runs later,
 * from the loop, never inside these calls.
 */
int blk_uring_rw(struct blk_uring *u, bool write, unsigned file, const struct iovec *iov,
                 unsigned iovcnt, uint64_t offset, blk_uring_done_fn done, void *opaque) must_check;
int blk_uring_fdatasync(struct blk_uring *u, unsigned file, blk_uring_done_fn done,
                        void *opaque) must_check;

/*
 * Run after each pass over the completion queue that ran callbacks (from
 * the loop or from blk_uring_drain); fn NULL: none.
 */
void blk_uring_set_reaped(struct blk_uring *u, void (*fn)(void *opaque), void *opaque);

/* Operations queued or in the kernel. */
unsigned blk_uring_inflight(const struct blk_uring *u);

/* Submits what is queued and runs every completion until none is in flight. */
void blk_uring_drain(struct blk_uring *u);

/* Drains, then releases the ring (the files stay open: they are the caller's). */
void blk_uring_free(struct blk_uring *u);

#endif
