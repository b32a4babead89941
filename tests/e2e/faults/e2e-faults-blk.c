/*
 * Storage faults under a running ioreqd: its virtio-blk disk's backing
 * storage fills up, shrinks or fails while the guest uses it. Each case
 * asserts the exact status the guest sees for every request, what the
 * backing file holds, and that the daemon keeps serving (a later request
 * on a healthy path succeeds, SIGTERM ends it with status 0 and no
 * sanitizer report — see ffx_teardown).
 *
 * Usage: e2e-faults-blk IOREQD TEST-NAME
 * Exits 77 (skipped) when the test needs a tmpfs mount or a loop device and
 * this machine does not allow it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "faults-fixture.h"

#define CHUNK     (64u * 1024)
#define CHUNK_SEC (CHUNK / GVBLK_SECTOR)

static const uint8_t zero_chunk[CHUNK];

/* ---- disk full ---- */

#define FULL_TMPFS  (1u << 20)
#define FULL_FILLER (256u * 1024)
#define FULL_DISK   (4u << 20) /* sparse, four times the filesystem */

static void write_file(const char *path, size_t len)
{
    uint8_t *buf = malloc(len);
    FILE *fp = fopen(path, "wx");

    assert_non_null(buf);
    assert_non_null(fp);
    memset(buf, 0x5a, len);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    free(buf);
}

static uint64_t fs_avail(const char *path)
{
    struct statvfs sv;

    assert_int_equal(statvfs(path, &sv), 0);
    return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/*
 * The guest writes 64 KiB chunks from sector 0 into a sparse image on a
 * 1 MiB tmpfs until the filesystem is full; then space is freed and the
 * write that failed is repeated.
 */
static void test_disk_full_then_space_freed(void **state)
{
    struct ffx *f = *state;
    char filler[320];
    uint8_t *data = malloc(CHUNK), *back = malloc(CHUNK);
    uint64_t fit, full_at;
    uint8_t st = 0xff;

    assert_non_null(data);
    assert_non_null(back);
    ffx_mount_tmpfs(f, FULL_TMPFS);
    assert_int_equal(scratch_path(filler, sizeof(filler), f->mnt, "filler"), 0);
    assert_int_equal(scratch_path(f->disk, sizeof(f->disk), f->mnt, "disk.img"), 0);
    write_file(filler, FULL_FILLER);
    ffx_make_image(f->disk, FULL_DISK, false);
    /* tmpfs counts data pages only: exactly this many whole chunks still fit. */
    fit = fs_avail(f->mnt) / CHUNK;
    assert_int_equal(fit, (FULL_TMPFS - FULL_FILLER) / CHUNK);
    ffx_start(f, 2, NULL, 0);
    assert_int_equal(f->blk.capacity, FULL_DISK / GVBLK_SECTOR);

    for (full_at = 0; full_at < FULL_DISK / CHUNK; full_at++) {
        gvblk_fill_pattern(data, CHUNK, 100 + full_at);
        assert_int_equal(gvblk_write(&f->blk, 0, full_at * CHUNK_SEC, data, CHUNK, &st), 0);
        if (st != GVBLK_S_OK)
            break;
    }
    /* Every write that found room completed OK; the first one that did not is IOERR. */
    assert_int_equal(full_at, fit);
    assert_int_equal(st, GVBLK_S_IOERR);
    assert_int_equal(fs_avail(f->mnt), 0);
    assert_true(dmproc_log_has(&f->dm, "request failed: No space left on device"));
    /* The failed request is the request's error, not the device's. */
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);

    /* The chunks that completed are in the file and read back through the other queue. */
    for (uint64_t i = 0; i < full_at; i++) {
        gvblk_fill_pattern(data, CHUNK, 100 + i);
        ffx_file_read(f->disk, i * CHUNK, back, CHUNK);
        assert_memory_equal(back, data, CHUNK);
        memset(back, 0xa5, CHUNK);
        ffx_expect(gvblk_read(&f->blk, 1, i * CHUNK_SEC, back, CHUNK, &st), st, GVBLK_S_OK);
        assert_memory_equal(back, data, CHUNK);
    }
    /* A hole needs no space to be read: zeroes, OK. */
    memset(back, 0xa5, CHUNK);
    ffx_expect(gvblk_read(&f->blk, 1, (FULL_DISK - CHUNK) / GVBLK_SECTOR, back, CHUNK, &st), st,
               GVBLK_S_OK);
    assert_memory_equal(back, zero_chunk, CHUNK);
    /* Zeroing a hole without unmap allocates it (tmpfs has no ZERO_RANGE: zeroes are written). */
    ffx_expect(
        gvblk_write_zeroes(&f->blk, 0, (FULL_DISK - CHUNK) / GVBLK_SECTOR, CHUNK_SEC, false, &st),
        st, GVBLK_S_IOERR);
    /*
     * FLUSH is OK, on either queue. Correct: the flush covers the writes
     * that completed OK, and they are all in tmpfs's page cache, which is
     * its storage; tmpfs allocates at write time, so ENOSPC was reported
     * by the failing write itself (as IOERR) and leaves no deferred
     * writeback error for fdatasync to return. Failing the flush would tell
     * the guest that acknowledged data is lost, which it is not.
     */
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_OK);
    ffx_expect(gvblk_flush(&f->blk, 1, &st), st, GVBLK_S_OK);

    /* Space freed on the host: the write that failed now succeeds, and the next one. */
    assert_int_equal(unlink(filler), 0);
    for (uint64_t i = full_at; i < full_at + 2; i++) {
        gvblk_fill_pattern(data, CHUNK, 100 + i);
        ffx_expect(gvblk_write(&f->blk, 0, i * CHUNK_SEC, data, CHUNK, &st), st, GVBLK_S_OK);
    }
    ffx_expect(gvblk_flush(&f->blk, 1, &st), st, GVBLK_S_OK);
    for (uint64_t i = full_at; i < full_at + 2; i++) {
        gvblk_fill_pattern(data, CHUNK, 100 + i);
        ffx_file_read(f->disk, i * CHUNK, back, CHUNK);
        assert_memory_equal(back, data, CHUNK);
    }
    free(data);
    free(back);
}

/* ---- the image shrinks under the daemon ---- */

#define SHRINK_DISK (4u << 20)
#define SHRINK_TO   (1u << 20)
#define SHRINK_SEC  (SHRINK_TO / GVBLK_SECTOR)

/*
 * What the guest sees of a disk whose storage lost everything from sector
 * SHRINK_SEC on: reads there fail, reads below still return the data.
 * errtext: what the log says the failed reads met.
 */
static void expect_lost_tail(struct ffx *f, const char *errtext)
{
    uint64_t cap = f->blk.capacity;
    uint8_t *buf = malloc(CHUNK), *want = malloc(CHUNK);
    uint8_t st = 0xff;

    assert_non_null(buf);
    assert_non_null(want);
    /*
     * At and past the lost end: IOERR. The sectors exist on the disk the
     * guest was given (capacity stays what it was at open), but their data
     * is gone; zeroes or stale bytes with OK would be silent corruption
     * (5.2.6: the device reports a failed read with VIRTIO_BLK_S_IOERR).
     */
    assert_int_equal(gvblk_read(&f->blk, 0, SHRINK_SEC, buf, 4096, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    assert_int_equal(gvblk_read(&f->blk, 1, cap - 1, buf, GVBLK_SECTOR, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    /* Straddling the end: the half that exists does not make it a success. */
    assert_int_equal(gvblk_read(&f->blk, 0, SHRINK_SEC - 8, buf, 8192, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    assert_true(dmproc_log_has(&f->dm, errtext));
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);

    /* Below the end the data is intact, on both queues. */
    for (unsigned q = 0; q < 2; q++) {
        uint64_t sector = q ? SHRINK_SEC - CHUNK_SEC : 0;

        memset(buf, 0xa5, CHUNK);
        ffx_expect(gvblk_read(&f->blk, q, sector, buf, CHUNK, &st), st, GVBLK_S_OK);
        ffx_pattern(want, sector, CHUNK_SEC);
        assert_memory_equal(buf, want, CHUNK);
    }
    free(buf);
    free(want);
}

static void expect_id(struct ffx *f, unsigned q)
{
    char id[GVBLK_ID_BYTES + 1];
    uint8_t st = 0xff;

    ffx_expect(gvblk_get_id(&f->blk, q, id, &st), st, GVBLK_S_OK);
    assert_string_equal(id, FFX_SERIAL);
}

/*
 * A regular image truncated to a quarter while in use: the backend's read
 * meets end-of-file (a short read, then 0), which must be IOERR.
 */
static void test_truncated_image_reads_are_ioerr(void **state)
{
    struct ffx *f = *state;
    uint8_t buf[GVBLK_SECTOR], back[GVBLK_SECTOR];
    struct stat sb;
    uint8_t st = 0xff;

    assert_int_equal(scratch_path(f->disk, sizeof(f->disk), f->dir, "disk.img"), 0);
    ffx_make_image(f->disk, SHRINK_DISK, true);
    ffx_start(f, 2, NULL, 0);
    assert_int_equal(f->blk.capacity, SHRINK_DISK / GVBLK_SECTOR);
    /* Before: the tail reads fine. */
    ffx_expect(gvblk_read(&f->blk, 0, SHRINK_SEC, buf, sizeof(buf), &st), st, GVBLK_S_OK);
    ffx_pattern(back, SHRINK_SEC, 1);
    assert_memory_equal(buf, back, sizeof(buf));

    assert_int_equal(truncate(f->disk, SHRINK_TO), 0);
    expect_lost_tail(f, "request failed: Input/output error");

    /*
     * A write past the new end of a regular file is OK and grows it again:
     * the sector is inside the disk's capacity and the data is stored. It
     * reads back; the sectors between the old end and it are a hole now and
     * read as the zeroes the file holds.
     */
    gvblk_fill_pattern(buf, sizeof(buf), 0x600d);
    ffx_expect(gvblk_write(&f->blk, 1, 3 * SHRINK_SEC, buf, sizeof(buf), &st), st, GVBLK_S_OK);
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_OK);
    assert_int_equal(stat(f->disk, &sb), 0);
    assert_int_equal(sb.st_size, 3 * SHRINK_TO + GVBLK_SECTOR);
    ffx_file_read(f->disk, 3 * SHRINK_TO, back, sizeof(back));
    assert_memory_equal(back, buf, sizeof(buf));
    ffx_expect(gvblk_read(&f->blk, 0, 3 * SHRINK_SEC, back, sizeof(back), &st), st, GVBLK_S_OK);
    assert_memory_equal(back, buf, sizeof(buf));
    ffx_expect(gvblk_read(&f->blk, 0, 2 * SHRINK_SEC, back, sizeof(back), &st), st, GVBLK_S_OK);
    assert_memory_equal(back, zero_chunk, sizeof(back));
    /* Still past the end of the file: still IOERR. */
    assert_int_equal(gvblk_read(&f->blk, 1, 3 * SHRINK_SEC + 1, back, sizeof(back), &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    expect_id(f, 1);
}

/*
 * A loop device whose backing file is truncated under it: the block layer
 * fails reads past the file's end with EIO (a real I/O error from the
 * storage, not an end-of-file the backend notices itself).
 */
static void test_loop_device_eio(void **state)
{
    struct ffx *f = *state;
    char image[320];
    uint8_t buf[4096], want[4096];
    uint8_t st = 0xff;

    assert_int_equal(scratch_path(image, sizeof(image), f->dir, "backing.img"), 0);
    ffx_make_image(image, SHRINK_DISK, true);
    ffx_loop_attach(f, image);
    ffx_start(f, 2, NULL, 0);
    assert_int_equal(f->blk.capacity, SHRINK_DISK / GVBLK_SECTOR);
    ffx_expect(gvblk_read(&f->blk, 0, SHRINK_SEC, buf, sizeof(buf), &st), st, GVBLK_S_OK);
    ffx_pattern(want, SHRINK_SEC, sizeof(want) / GVBLK_SECTOR);
    assert_memory_equal(buf, want, sizeof(buf));

    assert_int_equal(truncate(image, SHRINK_TO), 0);
    /* Pages the device already cached would still be served; the test is about the storage. */
    ffx_loop_drop_cache(f);
    expect_lost_tail(f, "request failed: Input/output error");

    /* Writes below the end still reach the backing file. */
    gvblk_fill_pattern(buf, sizeof(buf), 0x100b);
    ffx_expect(gvblk_write(&f->blk, 1, 16, buf, sizeof(buf), &st), st, GVBLK_S_OK);
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_OK);
    ffx_file_read(image, 16 * GVBLK_SECTOR, want, sizeof(want));
    assert_memory_equal(want, buf, sizeof(buf));
    expect_id(f, 0);
}

/*
 * A loop device over a sparse file on a tmpfs that is full: a write lands
 * in the device's page cache and completes OK, and only writeback meets
 * ENOSPC. The FLUSH that follows must then fail: the guest was told the
 * data was written, and it never reached the storage.
 */
static void test_loop_device_writeback_error_fails_flush(void **state)
{
    struct ffx *f = *state;
    char image[320], filler[320];
    uint8_t *data = malloc(CHUNK);
    uint8_t st = 0xff;

    assert_non_null(data);
    ffx_mount_tmpfs(f, FULL_TMPFS);
    assert_int_equal(scratch_path(image, sizeof(image), f->mnt, "backing.img"), 0);
    assert_int_equal(scratch_path(filler, sizeof(filler), f->mnt, "filler"), 0);
    ffx_make_image(image, FULL_DISK, false);
    write_file(filler, FULL_TMPFS);
    assert_int_equal(fs_avail(f->mnt), 0);
    ffx_loop_attach(f, image);
    ffx_start(f, 2, NULL, 0);
    assert_int_equal(f->blk.capacity, FULL_DISK / GVBLK_SECTOR);

    gvblk_fill_pattern(data, CHUNK, 0xf1);
    ffx_expect(gvblk_write(&f->blk, 0, 0, data, CHUNK, &st), st, GVBLK_S_OK);
    assert_int_equal(gvblk_flush(&f->blk, 1, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
    expect_id(f, 1);

    /*
     * With room again the same write succeeds and the flush writes it back,
     * but still answers IOERR: once a flush failed, the backend cannot tell
     * which acknowledged writes were lost (test_loop_device_flush_error_is_sticky).
     */
    assert_int_equal(unlink(filler), 0);
    ffx_expect(gvblk_write(&f->blk, 0, 0, data, CHUNK, &st), st, GVBLK_S_OK);
    assert_int_equal(gvblk_flush(&f->blk, 1, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    {
        uint8_t *back = malloc(CHUNK);

        assert_non_null(back);
        ffx_file_read(image, 0, back, CHUNK);
        assert_memory_equal(back, data, CHUNK);
        free(back);
    }
    free(data);
}

/*
 * After a FLUSH failed, a later FLUSH must fail too: Linux reports a
 * writeback error to each open file once and then marks the failed pages
 * clean, so an fdatasync that returns 0 after one that failed proves
 * nothing about the writes acknowledged before it (the backend's
 * durability contract, blk-backend.h). Here that data never reached the
 * backing file: the guest still reads it from the page cache, and after
 * the cache is dropped (as at a host reboot) it is zeroes.
 */
static void test_loop_device_flush_error_is_sticky(void **state)
{
    struct ffx *f = *state;
    char image[320], filler[320];
    uint8_t *data = malloc(CHUNK), *back = malloc(CHUNK);
    uint8_t st = 0xff;

    assert_non_null(data);
    assert_non_null(back);
    ffx_mount_tmpfs(f, FULL_TMPFS);
    assert_int_equal(scratch_path(image, sizeof(image), f->mnt, "backing.img"), 0);
    assert_int_equal(scratch_path(filler, sizeof(filler), f->mnt, "filler"), 0);
    ffx_make_image(image, FULL_DISK, false);
    write_file(filler, FULL_TMPFS);
    ffx_loop_attach(f, image);
    ffx_start(f, 1, NULL, 0);

    gvblk_fill_pattern(data, CHUNK, 0xf2);
    ffx_expect(gvblk_write(&f->blk, 0, 0, data, CHUNK, &st), st, GVBLK_S_OK);
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_IOERR);
    /* The acknowledged write is not on the storage: no flush may say otherwise. */
    ffx_file_read(image, 0, back, CHUNK);
    assert_memory_equal(back, zero_chunk, CHUNK);
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_IOERR);
    free(data);
    free(back);
}

/* ---- read-only ---- */

#define RO_DISK (1u << 20)

static void expect_image_unchanged(const char *path)
{
    uint8_t *got = malloc(RO_DISK), *want = malloc(RO_DISK);
    struct stat sb;

    assert_non_null(got);
    assert_non_null(want);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, RO_DISK);
    ffx_file_read(path, 0, got, RO_DISK);
    ffx_pattern(want, 0, RO_DISK / GVBLK_SECTOR);
    assert_memory_equal(got, want, RO_DISK);
    free(got);
    free(want);
}

/*
 * readonly=on with the image on a read-only filesystem (so an open for
 * writing would fail even as root), and a driver that does not accept
 * VIRTIO_BLK_F_RO: the device itself refuses every request that would
 * change the disk.
 */
static void test_readonly_refuses_raw_writes(void **state)
{
    struct ffx *f = *state;
    uint64_t features = (1ull << GVBLK_F_SEG_MAX) | (1ull << GVBLK_F_BLK_SIZE) |
                        (1ull << GVBLK_F_FLUSH) | (1ull << GVBLK_F_MQ) | (1ull << GVBLK_F_DISCARD) |
                        (1ull << GVBLK_F_WRITE_ZEROES);
    uint8_t buf[8192], want[8192];
    struct gvblk_seg seg = {.sector = 8, .num_sectors = 8};
    struct gvblk_req req, *done;
    uint8_t st = 0xff;

    ffx_mount_tmpfs(f, 2 * RO_DISK);
    assert_int_equal(scratch_path(f->disk, sizeof(f->disk), f->mnt, "disk.img"), 0);
    ffx_make_image(f->disk, RO_DISK, true);
    ffx_remount_readonly(f);
    ffx_start(f, 2, ",readonly=on", features);

    /* Offered, and not accepted by this driver; neither discard nor write-zeroes is offered. */
    assert_true(f->blk.dev.device_features & (1ull << GVBLK_F_RO));
    assert_false(gvirtio_has(&f->blk.dev, GVBLK_F_RO));
    assert_false(gvirtio_has(&f->blk.dev, GVBLK_F_DISCARD));
    assert_false(gvirtio_has(&f->blk.dev, GVBLK_F_WRITE_ZEROES));

    /* OUT: IOERR, with data in one or several descriptors, in range or not. */
    memset(buf, 0x11, sizeof(buf));
    for (unsigned q = 0; q < 2; q++) {
        assert_int_equal(gvblk_write(&f->blk, q, 8, buf, sizeof(buf), &st), 0);
        assert_int_equal(st, GVBLK_S_IOERR);
    }
    assert_int_equal(gvblk_write(&f->blk, 0, 0, buf, GVBLK_SECTOR, &st), 0);
    assert_int_equal(st, GVBLK_S_IOERR);
    /* A raw request the driver builds by hand: the device answers, the driver does not filter. */
    req = (struct gvblk_req){.type = GVBLK_T_OUT, .sector = 1, .buf = buf, .len = GVBLK_SECTOR};
    assert_int_equal(gvblk_submit(&f->blk, 1, &req), 0);
    assert_int_equal(gvblk_kick(&f->blk, 1), 0);
    assert_int_equal(gvblk_complete(&f->blk, 1, &done, FFX_TIMEOUT_MS), 0);
    assert_ptr_equal(done, &req);
    assert_int_equal(req.status, GVBLK_S_IOERR);
    assert_int_equal(req.written, 1);
    /* DISCARD and WRITE_ZEROES were not negotiated (5.2.6: UNSUPP). */
    for (unsigned i = 0; i < 2; i++) {
        req = (struct gvblk_req){
            .type = i ? GVBLK_T_WRITE_ZEROES : GVBLK_T_DISCARD, .buf = &seg, .len = sizeof(seg)};
        assert_int_equal(gvblk_submit(&f->blk, 0, &req), 0);
        assert_int_equal(gvblk_kick(&f->blk, 0), 0);
        assert_int_equal(gvblk_complete(&f->blk, 0, &done, FFX_TIMEOUT_MS), 0);
        assert_int_equal(req.status, GVBLK_S_UNSUPP);
    }
    assert_int_equal(gvblk_needs_reset(&f->blk), 0);
    /* FLUSH has nothing to write and succeeds; reads return the image. */
    ffx_expect(gvblk_flush(&f->blk, 0, &st), st, GVBLK_S_OK);
    ffx_expect(gvblk_read(&f->blk, 1, 8, buf, sizeof(buf), &st), st, GVBLK_S_OK);
    ffx_pattern(want, 8, sizeof(want) / GVBLK_SECTOR);
    assert_memory_equal(buf, want, sizeof(buf));
    expect_id(f, 0);
    expect_image_unchanged(f->disk);
}

/* ---- runner ---- */

enum need {
    NEED_NONE = 0,
    NEED_TMPFS = 1,
    NEED_LOOP = 2,
};

#define T(fn) cmocka_unit_test_setup_teardown(fn, ffx_setup, ffx_teardown)

static const struct {
    const char *name;
    unsigned needs;
} needs[] = {
    {"test_disk_full_then_space_freed", NEED_TMPFS},
    {"test_truncated_image_reads_are_ioerr", NEED_NONE},
    {"test_loop_device_eio", NEED_LOOP},
    {"test_loop_device_writeback_error_fails_flush", NEED_TMPFS | NEED_LOOP},
    {"test_loop_device_flush_error_is_sticky", NEED_TMPFS | NEED_LOOP},
    {"test_readonly_refuses_raw_writes", NEED_TMPFS},
};

/*
 * 0 to run, FFX_SKIP (with the reason printed) when this machine cannot
 * stage the fault, 2 for a name that is no test (a filter matching nothing
 * would pass).
 */
static int check_needs(const char *name)
{
    unsigned want = ~0u;
    int rc = 0;

    for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++)
        if (!strcmp(needs[i].name, name))
            want = needs[i].needs;
    if (want == ~0u) {
        fprintf(stderr, "no test named %s\n", name);
        return 2;
    }
    if (want & NEED_TMPFS) {
        /* The mounts (and the probe's) stay in this process's namespace. */
        rc = ffx_private_mounts();
        if (!rc)
            rc = ffx_can_mount_tmpfs();
        if (rc) {
            printf("SKIP %s: cannot mount a tmpfs here: %s\n", name, strerror(-rc));
            return FFX_SKIP;
        }
    }
    if (want & NEED_LOOP) {
        rc = ffx_can_attach_loop();
        if (rc) {
            printf("SKIP %s: cannot attach a loop device here: %s\n", name, strerror(-rc));
            return FFX_SKIP;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct CMUnitTest tests[] = {
        T(test_disk_full_then_space_freed),
        T(test_truncated_image_reads_are_ioerr),
        T(test_loop_device_eio),
        T(test_loop_device_writeback_error_fails_flush),
        T(test_loop_device_flush_error_is_sticky),
        T(test_readonly_refuses_raw_writes),
    };
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: %s IOREQD TEST-NAME\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    rc = check_needs(argv[2]);
    if (rc)
        return rc;
    cmocka_set_test_filter(argv[2]);
    return cmocka_run_group_tests_name("e2e-faults-blk", tests, NULL, NULL);
}
