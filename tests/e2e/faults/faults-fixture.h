/*
 * The fixture of the storage-fault e2e tests: the real ioreqd on the mock
 * hypervisor serving a virtio-blk disk whose backing storage the test then
 * breaks under it: a small tmpfs that fills up, an image truncated while in
 * use, a loop device whose backing file shrinks (real EIO from the block
 * layer), a read-only filesystem.
 *
 * Ownership: the test prepares the disk (ffx_mount_tmpfs, ffx_make_image,
 * ffx_loop_attach) in f->dir, then ffx_start() runs ioreqd and brings the
 * guest driver up. ffx_teardown() stops ioreqd and fails the test unless it
 * exits 0 on SIGTERM with no sanitizer report in its log, then detaches the
 * loop device and lazily unmounts the tmpfs, so neither outlives a failed
 * test. The whole program runs in a private mount namespace
 * (ffx_private_mounts), so a mount is gone with the process even if it is
 * killed before its teardown.
 */
#ifndef FAULTS_FIXTURE_H
#define FAULTS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm-process.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-blk.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define FFX_DOMID      12
#define FFX_RAM        (64ull << 20)
#define FFX_SEED       0xfa17
#define FFX_SERIAL     "e2e-faults"
#define FFX_TIMEOUT_MS 10000
#define FFX_SKIP       77 /* ctest SKIP_RETURN_CODE */

extern const char *ioreqd_path;

struct ffx {
    char dir[256], mnt[300], log[300], ctl[300];
    char disk[300]; /* what ioreqd serves: an image or a loop device */
    bool mounted;
    int loop_fd; /* the attached loop device, or -1 */
    struct mockhv *hv;
    struct dmproc dm;
    struct gpci_bus *bus;
    struct garena arena;
    struct gvblk blk;
    bool blk_up;
};

/*
 * Moves this process into its own mount namespace, mounts kept private.
 * 0, or -errno (the caller skips: no privilege to mount here).
 */
int ffx_private_mounts(void);
/* Whether a tmpfs can be mounted / a loop device attached here (probes that undo themselves). */
int ffx_can_mount_tmpfs(void);
int ffx_can_attach_loop(void);

/* What sectors [sector, sector + nr) of an image made by ffx_make_image hold. */
void ffx_pattern(uint8_t *buf, uint64_t sector, size_t nr);

/* cmocka setup: a scratch directory and the mock domain. */
int ffx_setup(void **state);
int ffx_teardown(void **state);

/* A tmpfs of `bytes` at f->mnt (f->dir/mnt). */
void ffx_mount_tmpfs(struct ffx *f, uint64_t bytes);
/* The same tmpfs read-only from now on (open for writing fails with EROFS, even for root). */
void ffx_remount_readonly(struct ffx *f);
/* path with `bytes` of the pattern, or sparse (a hole of that size) when !filled. */
void ffx_make_image(const char *path, uint64_t bytes, bool filled);
/* Attaches a loop device over image; f->disk becomes the device's path. */
void ffx_loop_attach(struct ffx *f, const char *image);
/* Drops the cached pages of the loop device, so reads go to its backing file. */
void ffx_loop_drop_cache(struct ffx *f);

/*
 * Runs ioreqd on f->disk (spec_extra: ",readonly=on" or NULL), scans PCI and
 * brings the driver up with `queues` queues and the given features (0: every
 * feature the driver knows).
 */
void ffx_start(struct ffx *f, unsigned queues, const char *spec_extra, uint64_t features);

/* pread of a host file, asserting it read len bytes. */
void ffx_file_read(const char *path, uint64_t off, void *buf, size_t len);

/* The call first, then the status it filled in. */
#define ffx_expect(call, status, want)                                                             \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        assert_int_equal(rc_, 0);                                                                  \
        assert_int_equal((status), (want));                                                        \
    } while (0)

#endif
