/*
 * The storage-fault fixture (see faults-fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "faults-fixture.h"

#include "ioreqd-fixture.h"

const char *ioreqd_path;

int ffx_private_mounts(void)
{
    if (unshare(CLONE_NEWNS) < 0)
        return -errno;
    /* Nothing mounted here propagates back to the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    return 0;
}

static int mount_tmpfs(const char *dir, uint64_t bytes)
{
    char opts[64];

    snprintf(opts, sizeof(opts), "size=%llu,mode=0700", (unsigned long long)bytes);
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    return 0;
}

int ffx_can_mount_tmpfs(void)
{
    char dir[256];
    int rc = scratch_dir_create(dir, sizeof(dir), "e2e-faults-probe");

    if (rc)
        return rc;
    rc = mount_tmpfs(dir, 1 << 20);
    if (!rc)
        umount2(dir, MNT_DETACH);
    scratch_dir_remove(dir);
    return rc;
}

/* An attach that may work on the next try: the device was taken, or is still being torn down. */
static bool loop_transient(int err)
{
    return err == -EBUSY || err == -ENXIO;
}

/* Attaches a free loop device over fd with autoclear: 0 and the device's fd, or -errno. */
static int loop_attach(int backing, char *path, size_t len, int *out)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int rc = -EBUSY;

    if (ctl < 0)
        return -errno;
    /*
     * Another process may take the free device between asking and
     * attaching, or one it just released may still be detaching (ENXIO on
     * open): ask again, a bounded number of times.
     */
    for (int tries = 0; tries < 50 && loop_transient(rc); tries++) {
        struct loop_config lc = {.fd = (uint32_t)backing};
        int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
        int fd;

        if (tries)
            usleep(10 * 1000);
        if (nr < 0) {
            rc = -errno;
            continue;
        }
        snprintf(path, len, "/dev/loop%d", nr);
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            rc = -errno; /* ENOENT: no node for it in a container's /dev */
            continue;
        }
        lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(fd, LOOP_CONFIGURE, &lc) == 0) {
            *out = fd;
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
    }
    close(ctl);
    return rc;
}

static void loop_detach(int fd)
{
    /* Autoclear detaches on the last close anyway; this makes it immediate. */
    ioctl(fd, LOOP_CLR_FD, 0);
    close(fd);
}

int ffx_can_attach_loop(void)
{
    char dir[256], img[300], dev[64];
    int rc = scratch_dir_create(dir, sizeof(dir), "e2e-faults-probe");
    int backing, fd;

    if (rc)
        return rc;
    rc = scratch_path(img, sizeof(img), dir, "probe.img");
    backing = rc ? -1 : open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (backing < 0 || ftruncate(backing, 1 << 20) < 0) {
        rc = rc ? rc : -errno;
        goto out;
    }
    rc = loop_attach(backing, dev, sizeof(dev), &fd);
    if (!rc)
        loop_detach(fd);
out:
    if (backing >= 0)
        close(backing);
    scratch_dir_remove(dir);
    return rc;
}

void ffx_pattern(uint8_t *buf, uint64_t sector, size_t nr)
{
    for (size_t i = 0; i < nr; i++)
        gvblk_fill_pattern(buf + i * GVBLK_SECTOR, GVBLK_SECTOR, FFX_SEED + sector + i);
}

void ffx_make_image(const char *path, uint64_t bytes, bool filled)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    uint8_t chunk[64 * 1024];

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
    for (uint64_t off = 0; filled && off < bytes; off += sizeof(chunk)) {
        size_t n = bytes - off < sizeof(chunk) ? (size_t)(bytes - off) : sizeof(chunk);

        ffx_pattern(chunk, off / GVBLK_SECTOR, n / GVBLK_SECTOR);
        assert_int_equal(pwrite(fd, chunk, n, (off_t)off), (ssize_t)n);
    }
    assert_int_equal(close(fd), 0);
}

void ffx_file_read(const char *path, uint64_t off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

void ffx_mount_tmpfs(struct ffx *f, uint64_t bytes)
{
    int rc;

    assert_int_equal(scratch_path(f->mnt, sizeof(f->mnt), f->dir, "mnt"), 0);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    rc = mount_tmpfs(f->mnt, bytes);
    if (rc)
        fail_msg("mount -t tmpfs %s: %s", f->mnt, strerror(-rc));
    f->mounted = true;
}

void ffx_remount_readonly(struct ffx *f)
{
    assert_true(f->mounted);
    if (mount(NULL, f->mnt, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        fail_msg("remounting %s read-only: %s", f->mnt, strerror(errno));
}

void ffx_loop_attach(struct ffx *f, const char *image)
{
    int backing = open(image, O_RDWR | O_CLOEXEC);
    int rc;

    assert_true(backing >= 0);
    rc = loop_attach(backing, f->disk, sizeof(f->disk), &f->loop_fd);
    /* The device holds its own reference to the file. */
    close(backing);
    if (rc)
        fail_msg("attaching a loop device over %s: %s", image, strerror(-rc));
}

void ffx_loop_drop_cache(struct ffx *f)
{
    assert_true(f->loop_fd >= 0);
    assert_int_equal(ioctl(f->loop_fd, BLKFLSBUF, 0), 0);
}

int ffx_setup(void **state)
{
    struct ffx *f = calloc(1, sizeof(*f));
    struct mockhv_config hc = {
        .domid = FFX_DOMID,
        .nr_vcpus = 2,
        .mem_bytes = FFX_RAM,
        .xenstore = true,
    };

    assert_non_null(f);
    f->loop_fd = -1;
    assert_int_equal(scratch_dir_create(f->dir, sizeof(f->dir), "e2e-faults"), 0);
    assert_int_equal(scratch_path(f->log, sizeof(f->log), f->dir, "ioreqd.log"), 0);
    assert_int_equal(scratch_path(f->ctl, sizeof(f->ctl), f->dir, "ioreqd.sock"), 0);
    assert_int_equal(mockhv_create(&f->hv, &hc), 0);
    *state = f;
    return 0;
}

/* A guest-side step that failed: ioreqd's log says why, or whether it is gone. */
static void expect_step(struct ffx *f, int rc, const char *what)
{
    if (rc) {
        dmproc_dump_log(&f->dm);
        fail_msg("%s: %s", what, strerror(-rc));
    }
}

void ffx_start(struct ffx *f, unsigned queues, const char *spec_extra, uint64_t features)
{
    char blk[400];
    const char *devices[] = {"host-bridge", blk, NULL};
    struct gvblk_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = FFX_TIMEOUT_MS, .msi_data_base = 0x60},
        .nr_queues = queues,
        .queue_size = 64,
        .features = features,
    };
    const struct mockhv_pci_func *fn;

    snprintf(blk, sizeof(blk), "virtio-blk,file=%s,queues=%u,serial=%s%s", f->disk, queues,
             FFX_SERIAL, spec_extra ? spec_extra : "");
    e2e_ioreqd_start(&f->dm, f->hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = FFX_DOMID,
                         .devices = devices,
                         .control_socket = f->ctl,
                         .log = "stderr",
                         .log_path = f->log,
                     },
                     FFX_TIMEOUT_MS);
    f->bus = calloc(1, sizeof(*f->bus));
    assert_non_null(f->bus);
    garena_init(&f->arena, 1 << 20, FFX_RAM - (1 << 20));
    expect_step(f, gpci_scan(f->bus, f->hv, 0, FFX_TIMEOUT_MS), "PCI scan");
    fn = gpci_find(f->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    assert_non_null(fn);
    expect_step(f, gvblk_init(&f->blk, f->hv, &f->arena, f->bus, fn, &opts), "virtio-blk bring-up");
    f->blk_up = true;
    assert_int_equal(f->blk.nr_queues, queues);
    for (unsigned q = 0; q < f->blk.nr_queues; q++)
        f->blk.queues[q].vq->vcpu = q % 2;
}

int ffx_teardown(void **state)
{
    struct ffx *f = *state;
    int rc = 0;

    if (f->blk_up && f->dm.pid)
        gvblk_fini(&f->blk);
    else if (f->blk_up)
        gvblk_forget(&f->blk);
    if (f->dm.pid)
        rc = dmproc_stop_clean(&f->dm, SIGTERM, FFX_TIMEOUT_MS);
    dmproc_fini(&f->dm);
    mockhv_destroy(f->hv);
    if (f->bus)
        garena_fini(&f->arena);
    if (f->loop_fd >= 0)
        loop_detach(f->loop_fd);
    /* Lazy: whatever still holds the mount cannot keep it attached. */
    if (f->mounted && umount2(f->mnt, MNT_DETACH) < 0 && !rc) {
        fprintf(stderr, "umount %s: %s\n", f->mnt, strerror(errno));
        rc = -1;
    }
    if (scratch_dir_remove(f->dir) && !rc)
        rc = -1;
    free(f->bus);
    free(f);
    return rc;
}
