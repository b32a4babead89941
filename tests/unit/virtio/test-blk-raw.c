/*
 * Raw block backend on a temporary file: data in and out, completions on
 * the event loop, flush, discard, write zeroes, read-only, range checks,
 * rejected images, and I/O errors. The same cases run once per engine and
 * cache mode, named by the first argument: threads (the default), io_uring,
 * none-threads, none-io_uring. A mode this machine cannot give (no io_uring,
 * no O_DIRECT on /tmp's filesystem) exits 77, which ctest reports as
 * skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "blk-backend.h"

#define IMG_SIZE (1u << 20)
#define SKIP     77

/* The mode under test; readonly is set per case. */
static struct blk_raw_opts mode = {.aio = BLK_AIO_THREADS};

struct fx {
    char path[64];
    struct event_base *base;
    struct blk_backend *be;
    unsigned done;
    int last_ret;
    int rets[128];
};

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + (off >> 9));
}

static void make_image(const char *path, size_t size)
{
    uint8_t *buf = malloc(size);
    int fd;

    assert_non_null(buf);
    for (size_t i = 0; i < size; i++)
        buf[i] = pattern(i);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    close(fd);
    free(buf);
}

static int setup_ro(void **state, bool readonly)
{
    struct fx *f = calloc(1, sizeof(*f));
    char err[256];
    int fd;

    assert_non_null(f);
    snprintf(f->path, sizeof(f->path), "/tmp/test-blk-raw-XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    make_image(f->path, IMG_SIZE);
    f->base = event_base_new();
    assert_non_null(f->base);
    struct blk_raw_opts o = mode;

    o.readonly = readonly;
    assert_int_equal(blk_raw_open(&f->be, f->path, &o, f->base, err, sizeof(err)), 0);
    assert_string_equal(blk_raw_engine(f->be),
                        mode.aio == BLK_AIO_IO_URING ? "io_uring" : "threads");
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_ro(state, false);
}

static int setup_readonly(void **state)
{
    return setup_ro(state, true);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    blk_free(f->be);
    event_base_free(f->base);
    unlink(f->path);
    free(f);
    return 0;
}

static void done_cb(void *opaque, int ret)
{
    struct fx *f = opaque;

    if (f->done < 128)
        f->rets[f->done] = ret;
    f->done++;
    f->last_ret = ret;
}

/* A result that belongs to one operation, whatever order completions arrive in. */
struct slot {
    struct fx *f;
    int ret;
};

static void slot_cb(void *opaque, int ret)
{
    struct slot *s = opaque;

    s->ret = ret;
    s->f->done++;
}

static void wait_done(struct fx *f, unsigned n)
{
    while (f->done < n)
        assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0);
    assert_int_equal(f->done, n);
}

static void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/*
 * Data in the page cache (the image was just written) is read and written
 * on the loop with RWF_NOWAIT: the completion is already queued when the
 * submission returns, so one non-blocking loop turn delivers it, where a
 * worker would need the loop to wait. Still never inside the submission.
 */
static void test_cached_on_loop(void **state)
{
    struct fx *f = *state;
    uint8_t a[4096], b[4096], c[4096];
    struct iovec ia = {a, sizeof(a)}, ib = {b, sizeof(b)};

    file_read(f, 4096, c, sizeof(c)); /* cached for sure */
    assert_int_equal(blk_read(f->be, 4096, &ia, 1, done_cb, f), 0);
    assert_int_equal(f->done, 0);
    assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), 0);
    assert_int_equal(f->done, 1);
    assert_int_equal(f->last_ret, 0);
    assert_memory_equal(a, c, sizeof(a));

    memset(b, 0x5c, sizeof(b));
    assert_int_equal(blk_write(f->be, 4096, &ib, 1, done_cb, f), 0);
    assert_int_equal(f->done, 1);
    wait_done(f, 2);
    assert_int_equal(f->last_ret, 0);
    file_read(f, 4096, c, sizeof(c));
    assert_memory_equal(b, c, sizeof(b));
    /* a flush after a completed write still goes to a worker and succeeds */
    assert_int_equal(blk_flush(f->be, done_cb, f), 0);
    wait_done(f, 3);
    assert_int_equal(f->last_ret, 0);
}

static void test_size(void **state)
{
    struct fx *f = *state;

    assert_int_equal(blk_size(f->be), IMG_SIZE);
    assert_false(f->be->readonly);
    assert_string_equal(f->be->ops->name, "raw");
}

static void test_read_iov(void **state)
{
    struct fx *f = *state;
    uint8_t a[1000], b[3096];
    struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};

    assert_int_equal(blk_read(f->be, 8192, iov, 2, done_cb, f), 0);
    /* Completions arrive through the loop, never inside the submission. */
    assert_int_equal(f->done, 0);
    wait_done(f, 1);
    assert_int_equal(f->last_ret, 0);
    for (unsigned i = 0; i < sizeof(a); i++)
        assert_int_equal(a[i], pattern(8192 + i));
    for (unsigned i = 0; i < sizeof(b); i++)
        assert_int_equal(b[i], pattern(8192 + sizeof(a) + i));
}

static void test_write_then_file(void **state)
{
    struct fx *f = *state;
    uint8_t w[2048], r[2048];
    struct iovec iov[3] = {{w, 512}, {w + 512, 0}, {w + 512, 1536}};

    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(0xa5 ^ i);
    assert_int_equal(blk_write(f->be, IMG_SIZE - 2048, iov, 3, done_cb, f), 0);
    wait_done(f, 1);
    assert_int_equal(f->last_ret, 0);
    file_read(f, IMG_SIZE - 2048, r, sizeof(r));
    assert_memory_equal(r, w, sizeof(w));
}

static void test_many_in_flight(void **state)
{
    struct fx *f = *state;
    static uint8_t bufs[64][512];
    uint8_t r[512];

    for (unsigned n = 0; n < 64; n++) {
        struct iovec iov = {bufs[n], 512};

        memset(bufs[n], (int)n + 1, 512);
        assert_int_equal(blk_write(f->be, (uint64_t)n * 4096, &iov, 1, done_cb, f), 0);
    }
    wait_done(f, 64);
    for (unsigned n = 0; n < 64; n++)
        assert_int_equal(f->rets[n], 0);
    assert_int_equal(blk_flush(f->be, done_cb, f), 0);
    wait_done(f, 65);
    assert_int_equal(f->last_ret, 0);
    for (unsigned n = 0; n < 64; n++) {
        file_read(f, (uint64_t)n * 4096, r, 512);
        assert_memory_equal(r, bufs[n], 512);
        /* The neighbours are untouched. */
        file_read(f, (uint64_t)n * 4096 + 512, r, 1);
        assert_int_equal(r[0], pattern((uint64_t)n * 4096 + 512));
    }
}

/* Counts passes: callbacks since the last batch-done hook, hooks, empty hooks. */
struct passes {
    struct fx *f;
    unsigned since_hook, hooks, empty_hooks, largest;
};

static void pass_cb(void *opaque, int ret)
{
    struct passes *p = opaque;

    assert_int_equal(ret, 0);
    p->since_hook++;
    p->f->done++;
}

static void pass_hook(void *opaque)
{
    struct passes *p = opaque;

    if (p->since_hook == 0)
        p->empty_hooks++;
    if (p->since_hook > p->largest)
        p->largest = p->since_hook;
    p->since_hook = 0;
    p->hooks++;
}

/*
 * Every pass of completions ends with the batch-done hook, before the loop
 * waits again: no completion is left without a hook after it, and no hook
 * runs for a pass that completed nothing. Through the loop and through drain.
 */
static void test_batch_hook(void **state)
{
    struct fx *f = *state;
    static uint8_t bufs[48][4096] __attribute__((aligned(4096)));
    struct passes p = {.f = f};

    blk_set_batch_done(f->be, pass_hook, &p);
    for (unsigned i = 0; i < 32; i++) {
        struct iovec iov = {bufs[i], sizeof(bufs[i])};

        if (i % 2)
            assert_int_equal(blk_write(f->be, (uint64_t)i * 4096, &iov, 1, pass_cb, &p), 0);
        else
            assert_int_equal(blk_read(f->be, (uint64_t)i * 4096, &iov, 1, pass_cb, &p), 0);
    }
    assert_int_equal(p.hooks, 0); /* never inside the submission */
    while (f->done < 32) {
        assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0);
        assert_int_equal(p.since_hook, 0);
    }
    assert_int_equal(f->done, 32);
    assert_true(p.hooks >= 1 && p.hooks <= 32);
    assert_int_equal(p.empty_hooks, 0);
    /* Through drain: the same rule. */
    for (unsigned i = 32; i < 48; i++) {
        struct iovec iov = {bufs[i], sizeof(bufs[i])};

        assert_int_equal(blk_read(f->be, (uint64_t)i * 4096, &iov, 1, pass_cb, &p), 0);
    }
    assert_int_equal(blk_flush(f->be, pass_cb, &p), 0);
    blk_drain(f->be);
    assert_int_equal(f->done, 49);
    assert_int_equal(p.since_hook, 0);
    assert_int_equal(p.empty_hooks, 0);
    /* Without a hook nothing is called. */
    blk_set_batch_done(f->be, NULL, NULL);
    struct iovec iov = {bufs[0], 4096};
    unsigned hooks = p.hooks;
    assert_int_equal(blk_read(f->be, 0, &iov, 1, pass_cb, &p), 0);
    blk_drain(f->be);
    assert_int_equal(f->done, 50);
    assert_int_equal(p.hooks, hooks);
}

/*
 * The first job of a loop turn goes to a worker at once; the others of the
 * turn go over at its end, in one hand-over, and large transfers through
 * the page cache wake one worker per four: of sixteen 64 KiB writes
 * submitted together the first wakes one worker inside its submission and
 * the other fifteen at most four, the woken ones taking the rest in turn.
 * With cache=none they go to the storage, which serves them side by side:
 * sixteen idle workers, sixteen wakes. Sixteen small ones may wake one
 * each. All complete.
 */
/* Waits (up to 5 s) until `n` workers wait for a job: they start asynchronously. */
static void wait_idle_workers(struct fx *f, unsigned n)
{
    struct blk_raw_stats st;

    for (unsigned i = 0; i < 5000; i++) {
        blk_raw_get_stats(f->be, &st);
        if (st.idle_workers == n)
            return;
        usleep(1000);
    }
    fail_msg("%u of %u workers idle", st.idle_workers, n);
}

static void test_worker_wakes(void **state)
{
    struct fx *f = *state;
    static uint8_t big[16][65536] __attribute__((aligned(4096)));
    static uint8_t small[16][4096] __attribute__((aligned(4096)));
    struct blk_raw_stats st0, st1;

    if (mode.aio != BLK_AIO_THREADS)
        skip();
    wait_idle_workers(f, mode.cache == BLK_CACHE_NONE ? BLK_RAW_DIRECT_WORKERS : BLK_RAW_WORKERS);
    blk_raw_get_stats(f->be, &st0);
    for (unsigned i = 0; i < 16; i++) {
        struct iovec iov = {big[i], sizeof(big[i])};

        memset(big[i], (int)i + 1, sizeof(big[i]));
        assert_int_equal(blk_write(f->be, (uint64_t)i * 65536, &iov, 1, done_cb, f), 0);
    }
    blk_raw_get_stats(f->be, &st1);
    assert_int_equal(st1.wakes - st0.wakes, 1); /* the first job's worker, at once */
    wait_done(f, 16);
    blk_raw_get_stats(f->be, &st1);
    assert_int_equal(st1.threads - st0.threads, 16);
    if (mode.cache == BLK_CACHE_NONE) {
        assert_int_equal(st1.direct - st0.direct, 16);
        assert_int_equal(st1.wakes - st0.wakes, 16);
    } else {
        assert_true(st1.wakes - st0.wakes <= 1 + 4);
    }
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(f->rets[i], 0);
    uint8_t back[65536];
    file_read(f, 15 * 65536, back, sizeof(back));
    assert_memory_equal(back, big[15], sizeof(back));

    /* Flushes (always on a worker) and small reads: never more wakes than jobs. */
    st0 = st1;
    for (unsigned i = 0; i < 16; i++) {
        struct iovec iov = {small[i], sizeof(small[i])};

        assert_int_equal(blk_flush(f->be, done_cb, f), 0);
        assert_int_equal(blk_read(f->be, (uint64_t)i * 4096, &iov, 1, done_cb, f), 0);
    }
    wait_done(f, 48);
    blk_raw_get_stats(f->be, &st1);
    assert_true(st1.wakes - st0.wakes <= st1.threads - st0.threads);
    assert_true(st1.threads - st0.threads >= 16); /* the flushes at least */
}

/*
 * aio=auto with the page cache: small reads and writes go to the ring, and
 * large ones to the workers, which copy a batch in parallel where the ring
 * would copy them one by one on the loop thread.
 */
static void test_auto_large_buffered_on_threads(void **state)
{
    struct fx *f = *state;
    static uint8_t big[65536] __attribute__((aligned(4096)));
    static uint8_t small[4096] __attribute__((aligned(4096)));
    struct blk_raw_opts o = {.aio = BLK_AIO_AUTO, .cache = BLK_CACHE_WRITEBACK};
    struct iovec ib = {big, sizeof(big)}, is = {small, sizeof(small)};
    struct blk_raw_stats st;
    struct blk_backend *be;
    char err[256];

    if (mode.aio != BLK_AIO_IO_URING || mode.cache != BLK_CACHE_WRITEBACK)
        skip();
    assert_int_equal(blk_raw_open(&be, f->path, &o, f->base, err, sizeof(err)), 0);
    assert_string_equal(blk_raw_engine(be), "io_uring");
    memset(big, 0xa7, sizeof(big));
    memset(small, 0x3c, sizeof(small));
    assert_int_equal(blk_write(be, 65536, &ib, 1, done_cb, f), 0);
    assert_int_equal(blk_write(be, 0, &is, 1, done_cb, f), 0);
    wait_done(f, 2);
    blk_raw_get_stats(be, &st);
    assert_int_equal(st.threads, 1);
    assert_int_equal(st.ring, 1);
    assert_int_equal(blk_read(be, 65536, &ib, 1, done_cb, f), 0);
    assert_int_equal(blk_read(be, 0, &is, 1, done_cb, f), 0);
    wait_done(f, 4);
    blk_raw_get_stats(be, &st);
    assert_int_equal(st.threads, 2);
    assert_int_equal(st.ring, 2);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(f->rets[i], 0);
    assert_int_equal(big[65535], 0xa7);
    assert_int_equal(small[4095], 0x3c);
    blk_free(be);
    uint8_t back[65536];
    file_read(f, 65536, back, sizeof(back));
    assert_memory_equal(back, big, sizeof(back));
}

static void test_write_zeroes(void **state)
{
    struct fx *f = *state;
    uint8_t r[8192], zero[8192] = {0};

    struct slot a = {f, 1}, b = {f, 1};

    assert_int_equal(blk_write_zeroes(f->be, 65536, 8192, false, slot_cb, &a), 0);
    assert_int_equal(blk_write_zeroes(f->be, 131072, 8192, true, slot_cb, &b), 0);
    wait_done(f, 2);
    assert_int_equal(a.ret, 0);
    assert_int_equal(b.ret, 0);
    file_read(f, 65536, r, sizeof(r));
    assert_memory_equal(r, zero, sizeof(r));
    file_read(f, 131072, r, sizeof(r));
    assert_memory_equal(r, zero, sizeof(r));
    file_read(f, 65536 + 8192, r, 1);
    assert_int_equal(r[0], pattern(65536 + 8192));
    file_read(f, 65535, r, 1);
    assert_int_equal(r[0], pattern(65535));
}

static void test_discard(void **state)
{
    struct fx *f = *state;
    uint8_t r[1];

    assert_int_equal(blk_discard(f->be, 4096, 4096, done_cb, f), 0);
    assert_int_equal(blk_discard(f->be, 0, 0, done_cb, f), 0);
    wait_done(f, 2);
    assert_int_equal(f->rets[0], 0);
    assert_int_equal(f->rets[1], 0);
    /* Outside the range nothing changed; inside, a discard promises nothing. */
    file_read(f, 8192, r, 1);
    assert_int_equal(r[0], pattern(8192));
    file_read(f, 4095, r, 1);
    assert_int_equal(r[0], pattern(4095));
    assert_int_equal(blk_size(f->be), IMG_SIZE);
}

static void test_out_of_range(void **state)
{
    struct fx *f = *state;
    uint8_t b[1024];
    struct iovec iov = {b, sizeof(b)};

    assert_int_equal(blk_read(f->be, IMG_SIZE - 512, &iov, 1, done_cb, f), -EINVAL);
    assert_int_equal(blk_write(f->be, IMG_SIZE, &iov, 1, done_cb, f), -EINVAL);
    assert_int_equal(blk_read(f->be, UINT64_MAX - 100, &iov, 1, done_cb, f), -EINVAL);
    assert_int_equal(blk_discard(f->be, IMG_SIZE - 512, 1024, done_cb, f), -EINVAL);
    assert_int_equal(blk_write_zeroes(f->be, 512, UINT64_MAX, false, done_cb, f), -EINVAL);
    /* Refused submissions never complete. */
    assert_int_equal(f->done, 0);
    iov.iov_len = 512;
    assert_int_equal(blk_read(f->be, IMG_SIZE - 512, &iov, 1, done_cb, f), 0);
    wait_done(f, 1);
    assert_int_equal(f->last_ret, 0);
}

static void test_readonly(void **state)
{
    struct fx *f = *state;
    uint8_t b[512];
    struct iovec iov = {b, sizeof(b)};

    assert_true(f->be->readonly);
    assert_int_equal(blk_write(f->be, 0, &iov, 1, done_cb, f), -EROFS);
    assert_int_equal(blk_discard(f->be, 0, 512, done_cb, f), -EROFS);
    assert_int_equal(blk_write_zeroes(f->be, 0, 512, true, done_cb, f), -EROFS);
    assert_int_equal(blk_read(f->be, 512, &iov, 1, done_cb, f), 0);
    assert_int_equal(blk_flush(f->be, done_cb, f), 0);
    wait_done(f, 2);
    assert_int_equal(f->rets[0], 0);
    assert_int_equal(f->rets[1], 0);
    assert_int_equal(b[0], pattern(512));
}

static void test_drain(void **state)
{
    struct fx *f = *state;
    static uint8_t b[32][512];

    for (unsigned n = 0; n < 32; n++) {
        struct iovec iov = {b[n], 512};
        assert_int_equal(blk_read(f->be, (uint64_t)n * 512, &iov, 1, done_cb, f), 0);
    }
    blk_drain(f->be);
    assert_int_equal(f->done, 32);
    for (unsigned n = 0; n < 32; n++) {
        assert_int_equal(f->rets[n], 0);
        assert_int_equal(b[n][3], pattern((uint64_t)n * 512 + 3));
    }
}

/* The descriptor the backend holds on the image, found through /proc. */
static int backend_fd(struct fx *f)
{
    char link[PATH_MAX], target[PATH_MAX];
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;

    assert_non_null(d);
    while ((e = readdir(d))) {
        ssize_t n;

        snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
        n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (strcmp(target, f->path) == 0)
            found = atoi(e->d_name);
    }
    closedir(d);
    assert_true(found >= 0);
    return found;
}

static void test_io_errors(void **state)
{
    struct fx *f = *state;
    int fd = backend_fd(f);
    int saved = dup(fd);
    int pipefd[2];
    uint8_t b[512];
    struct iovec iov = {b, sizeof(b)};

    /* Swap the image for a pipe: every operation fails, each with its own error. */
    struct slot sr = {f, 1}, sw = {f, 1}, sf = {f, 1}, sz = {f, 1};

    assert_int_equal(pipe(pipefd), 0);
    assert_true(dup2(pipefd[0], fd) == fd);
    assert_int_equal(blk_read(f->be, 0, &iov, 1, slot_cb, &sr), 0);
    assert_int_equal(blk_write(f->be, 0, &iov, 1, slot_cb, &sw), 0);
    assert_int_equal(blk_flush(f->be, slot_cb, &sf), 0);
    assert_int_equal(blk_write_zeroes(f->be, 0, 512, false, slot_cb, &sz), 0);
    blk_drain(f->be);
    assert_int_equal(f->done, 4);
    assert_int_equal(sr.ret, -ESPIPE);
    assert_int_equal(sw.ret, -ESPIPE);
    assert_int_equal(sf.ret, -EINVAL);
    assert_true(sz.ret < 0);
    f->done = 0;

    /* The backend is still usable once the image is back. */
    assert_true(dup2(saved, fd) == fd);
    close(saved);
    close(pipefd[0]);
    close(pipefd[1]);
    assert_int_equal(blk_read(f->be, 1024, &iov, 1, done_cb, f), 0);
    wait_done(f, 1);
    assert_int_equal(f->rets[0], 0);
    assert_int_equal(b[0], pattern(1024));
}

static void test_reject_images(void **state)
{
    struct event_base *base = event_base_new();
    struct blk_backend *be = (void *)1;
    struct blk_raw_opts ro = mode;
    char path[64] = "/tmp/test-blk-raw-bad-XXXXXX";
    char err[256];
    int fd = mkstemp(path);

    ro.readonly = true;
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1000), 0);
    close(fd);
    assert_int_equal(blk_raw_open(&be, path, &mode, base, err, sizeof(err)), -EINVAL);
    assert_null(be);
    assert_non_null(strstr(err, "size 1000 is not a multiple of 512 bytes"));
    assert_non_null(strstr(err, path));
    unlink(path);

    assert_int_equal(blk_raw_open(&be, path, &mode, base, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, path));
    assert_int_equal(blk_raw_open(&be, "/dev/null", &ro, base, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file or block device"));

    /* An empty image is a valid (if useless) disk. */
    strcpy(path, "/tmp/test-blk-raw-bad-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(blk_raw_open(&be, path, &ro, base, err, sizeof(err)), 0);
    assert_int_equal(blk_size(be), 0);
    blk_free(be);
    unlink(path);
    event_base_free(base);
}

static bool threads_writeback(void)
{
    return mode.aio == BLK_AIO_THREADS && mode.cache == BLK_CACHE_WRITEBACK;
}

/*
 * Many reads and writes at once through the ring: every one lands, all
 * through io_uring, and a flush after them succeeds.
 */
static void test_ring_in_flight(void **state)
{
    struct fx *f = *state;
    static uint8_t bufs[96][4096] __attribute__((aligned(4096)));
    struct slot slots[96];
    struct blk_raw_stats st;

    if (mode.aio != BLK_AIO_IO_URING)
        skip();
    for (unsigned i = 0; i < 96; i++) {
        struct iovec iov = {bufs[i], sizeof(bufs[i])};

        slots[i] = (struct slot){f, 1};
        if (i % 2) {
            memset(bufs[i], (int)i, sizeof(bufs[i]));
            assert_int_equal(blk_write(f->be, (uint64_t)i * 4096, &iov, 1, slot_cb, &slots[i]), 0);
        } else {
            assert_int_equal(blk_read(f->be, (uint64_t)i * 4096, &iov, 1, slot_cb, &slots[i]), 0);
        }
    }
    assert_int_equal(f->done, 0); /* never inside the submission */
    wait_done(f, 96);
    for (unsigned i = 0; i < 96; i++) {
        assert_int_equal(slots[i].ret, 0);
        if (!(i % 2))
            assert_int_equal(bufs[i][5], pattern((uint64_t)i * 4096 + 5));
    }
    assert_int_equal(blk_flush(f->be, done_cb, f), 0);
    wait_done(f, 97);
    assert_int_equal(f->last_ret, 0);
    blk_raw_get_stats(f->be, &st);
    assert_int_equal(st.ring, 97);
    assert_int_equal(st.threads, 0);
    uint8_t back[4096];
    file_read(f, 5 * 4096, back, sizeof(back));
    assert_memory_equal(back, bufs[5], sizeof(back));
}

/* The image shrank behind the backend's back: reading past its end is an I/O error. */
static void test_short_file_is_eio(void **state)
{
    struct fx *f = *state;
    static uint8_t b[4096] __attribute__((aligned(4096)));
    struct iovec iov = {b, sizeof(b)};

    assert_int_equal(truncate(f->path, IMG_SIZE / 2), 0);
    assert_int_equal(blk_read(f->be, IMG_SIZE / 2 + 8192, &iov, 1, done_cb, f), 0);
    wait_done(f, 1);
    assert_int_equal(f->last_ret, -EIO);
    /* Half inside: what is inside is read, the rest is the error. */
    assert_int_equal(blk_read(f->be, IMG_SIZE / 2 - 2048, &iov, 1, done_cb, f), 0);
    wait_done(f, 2);
    assert_int_equal(f->last_ret, -EIO);
    assert_int_equal(b[0], pattern(IMG_SIZE / 2 - 2048));
}

/*
 * cache=none: a transfer aligned for O_DIRECT goes to the direct
 * descriptor, an unaligned one through the page cache, and each sees what
 * the other wrote.
 */
static void test_direct_aligned_or_not(void **state)
{
    struct fx *f = *state;
    static uint8_t al[8192] __attribute__((aligned(4096)));
    static uint8_t raw[8192 + 1];
    uint8_t *un = raw + 1; /* never 512-aligned */
    struct blk_raw_stats st0, st1;

    if (mode.cache != BLK_CACHE_NONE)
        skip();
    blk_raw_get_stats(f->be, &st0);
    memset(al, 0xa1, sizeof(al));
    assert_int_equal(blk_write(f->be, 65536, &(struct iovec){al, 8192}, 1, done_cb, f), 0);
    wait_done(f, 1);
    assert_int_equal(f->last_ret, 0);
    blk_raw_get_stats(f->be, &st1);
    assert_int_equal(st1.direct, st0.direct + 1);
    /* Read back unaligned: through the page cache, which sees the direct write. */
    assert_int_equal(blk_read(f->be, 65536, &(struct iovec){un, 8192}, 1, done_cb, f), 0);
    wait_done(f, 2);
    assert_int_equal(f->last_ret, 0);
    blk_raw_get_stats(f->be, &st0);
    assert_int_equal(st0.direct, st1.direct);
    for (unsigned i = 0; i < 8192; i++)
        assert_int_equal(un[i], 0xa1);
    /* Written unaligned, read back aligned (direct): the same bytes. */
    memset(un, 0x3c, 8192);
    assert_int_equal(blk_write(f->be, 65536, &(struct iovec){un, 8192}, 1, done_cb, f), 0);
    wait_done(f, 3);
    assert_int_equal(blk_read(f->be, 65536, &(struct iovec){al, 8192}, 1, done_cb, f), 0);
    wait_done(f, 4);
    assert_int_equal(f->last_ret, 0);
    blk_raw_get_stats(f->be, &st1);
    assert_int_equal(st1.direct, st0.direct + 1);
    for (unsigned i = 0; i < 8192; i++)
        assert_int_equal(al[i], 0x3c);
    /* Aligned memory at an offset that is not: the page cache again. */
    assert_int_equal(blk_read(f->be, 512, &(struct iovec){al, 4096}, 1, done_cb, f), 0);
    wait_done(f, 5);
    blk_raw_get_stats(f->be, &st0);
    assert_true(st0.direct == st1.direct || st0.direct == st1.direct + 1); /* 512-byte rule */
    assert_int_equal(al[0], pattern(512));
}

/* Runs only in the threads/writeback mode: these look at that engine's own paths. */
static void test_cached_on_loop_mode(void **state)
{
    if (!threads_writeback())
        skip();
    test_cached_on_loop(state);
}

static void test_io_errors_mode(void **state)
{
    if (!threads_writeback())
        skip();
    test_io_errors(state);
}

/* Whether this machine gives the mode at all; 0 when it does. */
static int probe_mode(void)
{
    char path[] = "/tmp/test-blk-raw-probe-XXXXXX";
    struct event_base *base = event_base_new();
    struct blk_backend *be;
    char err[256];
    int fd = mkstemp(path), rc;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 65536), 0);
    close(fd);
    rc = blk_raw_open(&be, path, &mode, base, err, sizeof(err));
    if (rc == 0)
        blk_free(be);
    else
        fprintf(stderr, "test-blk-raw: mode not available here: %s\n", err);
    unlink(path);
    event_base_free(base);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_iov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_on_loop_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_then_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_wakes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_large_buffered_on_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_zeroes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly, setup_readonly, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_errors_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_file_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_aligned_or_not, setup, teardown),
        cmocka_unit_test(test_reject_images),
    };
    const char *name = argc > 1 ? argv[1] : "threads";

    if (!strcmp(name, "threads") || !strcmp(name, "none-threads")) {
        mode.aio = BLK_AIO_THREADS;
    } else if (!strcmp(name, "io_uring") || !strcmp(name, "none-io_uring")) {
        mode.aio = BLK_AIO_IO_URING;
    } else {
        fprintf(stderr, "usage: %s [threads|io_uring|none-threads|none-io_uring]\n", argv[0]);
        return 2;
    }
    mode.cache = !strncmp(name, "none-", 5) ? BLK_CACHE_NONE : BLK_CACHE_WRITEBACK;
    if (probe_mode())
        return SKIP;
    return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
