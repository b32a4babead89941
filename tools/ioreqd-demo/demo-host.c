/*
 * The host side of the demo: where the files live, the ioreqd process, and
 * the checks made on what ioreqd wrote to its backends.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if !defined(IOREQD_DEMO_SHIM_LIBDIR) || !defined(IOREQD_DEMO_INSTALLED_IOREQD) ||                 \
    !defined(IOREQD_DEMO_INSTALLED_SHIM_LIBDIR)
#error "the build passes where ioreqd and the drop-in libxen* are, built and installed"
#endif

static void vline(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void demo_step(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("\n== ", fmt, ap);
    va_end(ap);
}

void demo_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("   ", fmt, ap);
    va_end(ap);
}

void demo_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vline("   FAILED: ", fmt, ap);
    va_end(ap);
}

/*
 * --ioreqd, else the ioreqd of the build tree we run from (we are in
 * tools/ioreqd-demo/, it is in daemon/), else the installed one. The drop-in
 * libraries come from the same place as ioreqd unless IOREQD_SHIM_LIBDIR says.
 */
static int find_ioreqd(struct demo *d)
{
    const char *shim = getenv("IOREQD_SHIM_LIBDIR");
    char self[PATH_MAX], shim_dflt[PATH_MAX];
    const char *dir;
    ssize_t n;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -errno;
    self[n] = '\0';
    dir = dirname(self);
    snprintf(shim_dflt, sizeof(shim_dflt), "%s", IOREQD_DEMO_SHIM_LIBDIR);
    if (d->opts.ioreqd) {
        snprintf(d->ioreqd, sizeof(d->ioreqd), "%s", d->opts.ioreqd);
    } else if (snprintf(d->ioreqd, sizeof(d->ioreqd), "%s/../../daemon/ioreqd", dir) > 0 &&
               access(d->ioreqd, X_OK)) {
        snprintf(d->ioreqd, sizeof(d->ioreqd), "%s/%s", dir, IOREQD_DEMO_INSTALLED_IOREQD);
        snprintf(shim_dflt, sizeof(shim_dflt), "%s/%s", dir, IOREQD_DEMO_INSTALLED_SHIM_LIBDIR);
    }
    if (access(d->ioreqd, X_OK)) {
        demo_fail("no ioreqd program at %s (%s); build it or pass --ioreqd PATH", d->ioreqd,
                  strerror(errno));
        return -ENOENT;
    }
    if (realpath(d->ioreqd, self))
        snprintf(d->ioreqd, sizeof(d->ioreqd), "%s", self);
    snprintf(d->shim_libdir, sizeof(d->shim_libdir), "%s", shim && *shim ? shim : shim_dflt);
    return 0;
}

static int make_disk(struct demo *d)
{
    int fd = open(d->disk, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)DEMO_DISK_BYTES))
        rc = -errno;
    close(fd);
    return rc;
}

/* out has PATH_MAX bytes. */
static int in_dir(struct demo *d, char *out, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", d->dir, name);

    if (n < 0 || n >= PATH_MAX) {
        demo_fail("work directory path too long: %s", d->dir);
        return -ENAMETOOLONG;
    }
    return 0;
}

int demo_host_setup(struct demo *d)
{
    const char *tmp = getenv("TMPDIR");
    struct mockhv_config cfg = {
        .domid = DEMO_DOMID,
        .nr_vcpus = d->opts.vcpus,
        .mem_bytes = DEMO_RAM,
        .xenstore = true,
        .name = "ioreqd-demo-guest",
    };
    int rc;

    rc = find_ioreqd(d);
    if (rc)
        return rc;
    snprintf(d->dir, sizeof(d->dir), "%s/ioreqd-demo.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir)) {
        rc = -errno;
        demo_fail("mkdtemp %s: %s", d->dir, strerror(errno));
        d->dir[0] = '\0';
        return rc;
    }
    rc = in_dir(d, d->disk, "disk.img");
    if (!rc)
        rc = in_dir(d, d->uart_out, "com1.out");
    if (!rc)
        rc = in_dir(d, d->log, "ioreqd.log");
    if (!rc)
        rc = in_dir(d, d->hv_sock, "mockxen.sock");
    if (!rc)
        rc = in_dir(d, d->xs_sock, "xenstored.sock");
    if (!rc)
        rc = in_dir(d, d->ctl_sock, "ioreqd.sock");
    if (!rc)
        rc = make_disk(d);
    if (rc) {
        demo_fail("creating %s: %s", d->disk, strerror(-rc));
        return rc;
    }

    cfg.socket = d->hv_sock;
    cfg.xs_path = d->xs_sock;
    rc = mockhv_create(&d->hv, &cfg);
    if (rc) {
        demo_fail("starting the mock hypervisor: %s", strerror(-rc));
        d->hv = NULL;
        return rc;
    }
    demo_info("domain %u: %u vCPU%s, %llu MiB RAM", DEMO_DOMID, d->opts.vcpus,
              d->opts.vcpus > 1 ? "s" : "", (unsigned long long)(DEMO_RAM >> 20));
    demo_info("work directory %s", d->dir);
    for (const char *const *e = mockhv_environ(d->hv); *e; e++)
        demo_info("%s", *e);
    return 0;
}

/* What ioreqd published about its devices (informational: not verified). */
static void show_inventory(struct demo *d)
{
    char path[160];
    char *v;
    unsigned n;

    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/ioreqd/devices", DEMO_DOMID);
    v = dmproc_xs_read(&d->dm, path);
    if (!v)
        return;
    n = (unsigned)strtoul(v, NULL, 10);
    free(v);
    demo_info("its inventory in xenstore (%s/N):", path);
    for (unsigned i = 0; i < n && i < 64; i++) {
        snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/ioreqd/devices/%u",
                 DEMO_DOMID, i);
        v = dmproc_xs_read(&d->dm, path);
        if (v)
            demo_info("  %u  %s", i, v);
        free(v);
    }
}

int demo_start_ioreqd(struct demo *d)
{
    char domid[16], uart[PATH_MAX + 64], blk[PATH_MAX + 64], state[32];
    unsigned queues = d->opts.vcpus < 2 ? 2 : d->opts.vcpus > 4 ? 4 : d->opts.vcpus;
    struct timespec t0, t1;
    const char *args[16];
    unsigned n = 0;
    int rc;

    snprintf(domid, sizeof(domid), "%u", DEMO_DOMID);
    snprintf(uart, sizeof(uart), "uart,com=1,backend=file:%s", d->uart_out);
    snprintf(blk, sizeof(blk), "virtio-blk,file=%s,queues=%u,serial=%s", d->disk, queues,
             DEMO_SERIAL);
    args[n++] = "--domid";
    args[n++] = domid;
    args[n++] = "--foreground";
    args[n++] = "--log";
    args[n++] = "stderr";
    args[n++] = "--control-socket";
    args[n++] = d->ctl_sock;
    args[n++] = "--device";
    args[n++] = "host-bridge";
    args[n++] = "--device";
    args[n++] = "xen-platform";
    args[n++] = "--device";
    args[n++] = uart;
    args[n++] = "--device";
    args[n++] = blk;
    args[n] = NULL;

    demo_info("%s --domid %s --foreground --log stderr", d->ioreqd, domid);
    demo_info("    --control-socket %s", d->ctl_sock);
    for (unsigned i = 8; i < n; i += 2)
        demo_info("    --device %s", args[i]);
    demo_info("(drop-in Xen libraries from %s, log in %s)", d->shim_libdir, d->log);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = dmproc_start(&d->dm, d->hv,
                      &(struct dmproc_config){
                          .program = d->ioreqd,
                          .shim_libdir = d->shim_libdir,
                          .args = args,
                          .log_path = d->log,
                      });
    if (rc) {
        demo_fail("starting %s: %s", d->ioreqd, strerror(-rc));
        return rc;
    }
    d->dm_started = true;
    rc = dmproc_wait_running(&d->dm, DEMO_TIMEOUT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc == -ECHILD) {
        char how[64];

        dmproc_describe_status(d->dm.wstatus, how, sizeof(how));
        demo_fail("ioreqd %s before it was ready", how);
        return rc;
    }
    if (rc) {
        demo_fail("no state = running in xenstore after %d ms", DEMO_TIMEOUT_MS);
        return rc;
    }
    rc = dmproc_state(&d->dm, state, sizeof(state));
    demo_info("ioreqd pid %d: %s = %s after %ld ms", (int)d->dm.pid, d->dm.state_path,
              rc ? "?" : state,
              (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    show_inventory(d);
    return 0;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static void print_escaped(const char *label, const char *buf, size_t len)
{
    fputs("   ", stdout);
    fputs(label, stdout);
    fputc('"', stdout);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            fputc(c, stdout);
    }
    fputs("\"\n", stdout);
}

int demo_check_uart_output(struct demo *d, const char *expect)
{
    size_t want = strlen(expect);
    char buf[256];
    ssize_t n = 0;

    /* ioreqd writes the backend from its own loop: give it a moment, bounded. */
    for (unsigned waited = 0; waited <= 3000; waited += 10) {
        int fd = open(d->uart_out, O_RDONLY | O_CLOEXEC);

        n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
        if (fd >= 0)
            close(fd);
        if (n >= (ssize_t)want)
            break;
        sleep_ms(10);
    }
    if (n < 0) {
        demo_fail("reading %s: %s", d->uart_out, strerror(errno));
        return -EIO;
    }
    print_escaped("backend file com1.out holds: ", buf, (size_t)n);
    if ((size_t)n != want || memcmp(buf, expect, want)) {
        demo_fail("the UART backend does not hold what the guest wrote");
        return -EIO;
    }
    return 0;
}

int demo_check_disk_file(struct demo *d, uint64_t off, const uint8_t *expect, size_t len)
{
    uint8_t *buf = malloc(len);
    int fd = open(d->disk, O_RDONLY | O_CLOEXEC);
    int rc = 0;

    if (!buf || fd < 0) {
        rc = -errno;
        goto out;
    }
    if (pread(fd, buf, len, (off_t)off) != (ssize_t)len)
        rc = -EIO;
    else if (memcmp(buf, expect, len))
        rc = -EILSEQ;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

int demo_stop_ioreqd(struct demo *d)
{
    char how[64], state[32];
    pid_t pid = d->dm.pid;
    int rc;

    rc = dmproc_stop(&d->dm, SIGTERM, DEMO_TIMEOUT_MS);
    if (rc) {
        demo_fail("ioreqd (pid %d) still ran %d ms after SIGTERM; killed", (int)pid,
                  DEMO_TIMEOUT_MS);
        return rc;
    }
    dmproc_describe_status(d->dm.wstatus, how, sizeof(how));
    demo_info("SIGTERM to ioreqd (pid %d): %s", (int)pid, how);
    if (!WIFEXITED(d->dm.wstatus) || WEXITSTATUS(d->dm.wstatus) != 0) {
        demo_fail("ioreqd did not exit 0");
        return -EIO;
    }
    rc = dmproc_state(&d->dm, state, sizeof(state));
    if (rc != -ENOENT) {
        demo_fail("%s still reads \"%s\" after ioreqd exited", d->dm.state_path,
                  rc ? strerror(-rc) : state);
        return -EIO;
    }
    demo_info("%s: gone", d->dm.state_path);
    return 0;
}

void demo_show_log_tail(struct demo *d, unsigned lines)
{
    char buf[16384];
    int fd = open(d->log, O_RDONLY | O_CLOEXEC);
    off_t size;
    ssize_t n;
    char *p;

    if (fd < 0)
        return;
    size = lseek(fd, 0, SEEK_END);
    if (size > (off_t)sizeof(buf) - 1)
        lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
    else
        lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    p = buf + n;
    for (unsigned seen = 0; p > buf; p--)
        if (p[-1] == '\n' && p != buf + n && ++seen > lines)
            break;
    printf("   --- last lines of %s ---\n%s", d->log, p);
    if (buf[n - 1] != '\n')
        fputc('\n', stdout);
}

void demo_host_cleanup(struct demo *d)
{
    if (d->blk_up && d->dm.pid)
        gvblk_fini(&d->blk);
    else if (d->blk_up)
        gvblk_forget(&d->blk);
    if (d->dm_started)
        dmproc_fini(&d->dm);
    if (d->hv)
        mockhv_destroy(d->hv);
    garena_fini(&d->arena);
    if (!d->dir[0])
        return;
    if (d->opts.keep) {
        printf("\nkept %s (disk.img, com1.out, ioreqd.log; boot.img, boot-com1.out, "
               "firmware.log, mockxen.log)\n",
               d->dir);
        return;
    }
    unlink(d->disk);
    unlink(d->uart_out);
    unlink(d->log);
    unlink(d->hv_sock);
    unlink(d->xs_sock);
    unlink(d->ctl_sock);
    rmdir(d->dir);
}
