/*
 * The demo's last step: real guest code. mockxen --firmware runs Xen's own
 * hvmloader and SeaBIOS on the mock's emulated x86 vCPU against another
 * ioreqd (host bridge, COM1 into a file, virtio-blk on a 1 MiB disk whose
 * MBR is tools/guest/bootsector.S, embedded at build time). hvmloader scans
 * PCI and assigns ioreqd's BARs, SeaBIOS finds the virtio-blk disk, reads
 * the boot sector and jumps to it; the boot sector prints through ioreqd's
 * UART, reads LBA 1 through int 13h and halts. The demo shows the firmware's
 * lines and checks each part.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FW_DOMID      "1"
#define FW_TIMEOUT_S  "120"
#define FW_WAIT_MS    150000 /* mockxen's own --timeout ends a stuck guest first */
#define FW_DISK_BYTES (1u << 20)

/* What the firmware log lines we show start with (after any prefix). */
static const char *const fw_shown[] = {
    "HVM Loader", "PCI-ISA link", "pci dev", "Invoking SeaBIOS", "found virtio-blk", "Booting from",
};

struct fw_paths {
    char mockxen[PATH_MAX];
    char disk[PATH_MAX];
    char uart[PATH_MAX];
    char fwlog[PATH_MAX];
    char mxlog[PATH_MAX];
    char hv_sock[PATH_MAX];
    char xs_sock[PATH_MAX];
};

/* mockxen of the build tree we run from (tools/mockxen/), else the installed one beside us. */
static int find_mockxen(char *out)
{
    char self[PATH_MAX];
    const char *dir;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n < 0)
        return -errno;
    self[n] = '\0';
    dir = dirname(self);
    snprintf(out, PATH_MAX, "%s/../mockxen/mockxen", dir);
    if (access(out, X_OK))
        snprintf(out, PATH_MAX, "%s/mockxen", dir);
    if (access(out, X_OK)) {
        demo_fail("no mockxen program at %s (%s)", out, strerror(errno));
        return -ENOENT;
    }
    return 0;
}

static int path_in(const struct demo *d, char *out, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", d->dir, name);

    return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* The boot sector at LBA 0, the line it reads back at LBA 1. */
static int write_disk(const char *path)
{
    static const char lba1[] = DEMO_BOOT_LBA1 "\r\n";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, FW_DISK_BYTES) ||
        pwrite(fd, demo_bootsector, sizeof(demo_bootsector), 0) != sizeof(demo_bootsector) ||
        pwrite(fd, lba1, sizeof(lba1), 512) != sizeof(lba1))
        rc = errno ? -errno : -EIO;
    close(fd);
    return rc;
}

/* A whole small file, NUL-terminated; NULL on error. */
static char *slurp(const char *path, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t r;

    if (!buf || fd < 0) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Prints the firmware log's lines worth showing; returns how many. */
static unsigned show_firmware_lines(const char *log)
{
    unsigned shown = 0;

    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);

        for (size_t i = 0; i < sizeof(fw_shown) / sizeof(fw_shown[0]); i++) {
            const char *hit = memmem(line, len, fw_shown[i], strlen(fw_shown[i]));

            if (hit) {
                size_t n = len - (size_t)(hit - line);

                while (n && (hit[n - 1] == '\r' || hit[n - 1] == ' '))
                    n--;
                demo_info("  %.*s", (int)n, hit);
                shown++;
                break;
            }
        }
        line = end ? end + 1 : line + len;
    }
    return shown;
}

static int check_uart(const char *path)
{
    static const char want[] = DEMO_BOOT_RUNNING "\r\n" DEMO_BOOT_LBA1 "\r\n";
    size_t len = 0, wlen = sizeof(want) - 1;
    char *got = slurp(path, &len);
    int rc = 0;

    if (!got) {
        demo_fail("reading %s: %s", path, strerror(errno));
        return -EIO;
    }
    demo_info("ioreqd's COM1 backend file boot-com1.out holds:");
    for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);

        demo_info("  %.*s", (int)(n && line[n - 1] == '\r' ? n - 1 : n), line);
    }
    free(got);
    got = slurp(path, &len);
    /* It ends with what the boot sector printed (SeaBIOS only probes the UART). */
    if (!got || len < wlen || memcmp(got + len - wlen, want, wlen)) {
        demo_fail("the boot sector's lines are not at the end of %s", path);
        rc = -EIO;
    }
    free(got);
    return rc;
}

static void show_tail(const char *path, unsigned lines)
{
    size_t len = 0;
    char *buf = slurp(path, &len);
    char *p;

    if (!buf || !len) {
        free(buf);
        return;
    }
    p = buf + len;
    for (unsigned seen = 0; p > buf; p--)
        if (p[-1] == '\n' && p != buf + len && ++seen > lines)
            break;
    printf("   --- last lines of %s ---\n%s%s", path, p, buf[len - 1] == '\n' ? "" : "\n");
    free(buf);
}

static int run_mockxen(struct demo *d, const struct fw_paths *fp, long *ms, int *wstatus)
{
    char uart[PATH_MAX + 64], blk[PATH_MAX + 64];
    const char *args[40];
    struct timespec t0, t1;
    struct dmproc p = {0};
    unsigned n = 0;
    int rc;

    snprintf(uart, sizeof(uart), "uart,com=1,backend=file:%s", fp->uart);
    snprintf(blk, sizeof(blk), "virtio-blk,file=%s,bdf=03.0", fp->disk);
    args[n++] = "--domid";
    args[n++] = FW_DOMID;
    args[n++] = "--memory";
    args[n++] = "128M";
    args[n++] = "--libdir";
    args[n++] = d->shim_libdir;
    args[n++] = "--socket";
    args[n++] = fp->hv_sock;
    args[n++] = "--xenstore-socket";
    args[n++] = fp->xs_sock;
    args[n++] = "--firmware";
    args[n++] = "--firmware-log";
    args[n++] = fp->fwlog;
    args[n++] = "--timeout";
    args[n++] = FW_TIMEOUT_S;
    args[n++] = "--";
    args[n++] = d->ioreqd;
    args[n++] = "--domid";
    args[n++] = FW_DOMID;
    args[n++] = "--foreground";
    args[n++] = "--log";
    args[n++] = "stderr";
    args[n++] = "--control-socket";
    args[n++] = "none";
    args[n++] = "--device";
    args[n++] = "host-bridge";
    args[n++] = "--device";
    args[n++] = uart;
    args[n++] = "--device";
    args[n++] = blk;
    args[n] = NULL;

    demo_info("%s --domid %s --memory 128M --firmware", fp->mockxen, FW_DOMID);
    demo_info("    --firmware-log firmware.log -- ioreqd --domid %s", FW_DOMID);
    for (unsigned i = n - 6; i < n; i += 2)
        demo_info("    --device %s", args[i + 1]);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = dmproc_start(&p, NULL,
                      &(struct dmproc_config){
                          .program = fp->mockxen,
                          .args = args,
                          .log_path = fp->mxlog,
                          .stdin_null = true,
                      });
    if (rc) {
        demo_fail("starting %s: %s", fp->mockxen, strerror(-rc));
        return rc;
    }
    rc = dmproc_wait_exit(&p, FW_WAIT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *ms = (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    *wstatus = p.wstatus;
    if (rc) {
        demo_fail("mockxen still ran after %d ms; killed", FW_WAIT_MS);
        dmproc_fini(&p);
        return rc;
    }
    dmproc_fini(&p);
    return 0;
}

int demo_firmware_boot(struct demo *d)
{
    struct fw_paths fp;
    char how[64];
    char *log = NULL;
    int wstatus = 0, rc;
    long ms = 0;

    rc = find_mockxen(fp.mockxen);
    if (rc)
        return rc;
    if (path_in(d, fp.disk, "boot.img") || path_in(d, fp.uart, "boot-com1.out") ||
        path_in(d, fp.fwlog, "firmware.log") || path_in(d, fp.mxlog, "mockxen.log") ||
        path_in(d, fp.hv_sock, "fw-mockxen.sock") || path_in(d, fp.xs_sock, "fw-xenstored.sock")) {
        demo_fail("work directory path too long: %s", d->dir);
        return -ENAMETOOLONG;
    }
    rc = write_disk(fp.disk);
    if (rc) {
        demo_fail("creating %s: %s", fp.disk, strerror(-rc));
        return rc;
    }
    demo_info("boot.img: 1 MiB, MBR = tools/guest/bootsector.S, LBA 1 = the line it reads back");

    rc = run_mockxen(d, &fp, &ms, &wstatus);
    log = slurp(fp.fwlog, NULL);
    if (log) {
        demo_info("firmware log (hvmloader, then SeaBIOS), the lines about PCI and the disk:");
        show_firmware_lines(log);
    }
    if (rc)
        goto out;
    dmproc_describe_status(wstatus, how, sizeof(how));
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
        demo_fail("mockxen %s (0: the guest halted; 3: timeout; 4: a vCPU stranded)", how);
        show_tail(fp.mxlog, 20);
        rc = -EIO;
        goto out;
    }
    if (!log || !strstr(log, "pci dev 03:0 bar 20 size")) {
        demo_fail("hvmloader did not assign the BAR of ioreqd's virtio-blk (00:03.0 BAR4)");
        rc = -EIO;
        goto out;
    }
    if (!strstr(log, "found virtio-blk at 00:03.0")) {
        demo_fail("SeaBIOS did not report ioreqd's virtio-blk at 00:03.0");
        rc = -EIO;
        goto out;
    }
    rc = check_uart(fp.uart);
    if (rc)
        goto out;
    demo_info("the guest halted (cli; hlt) and mockxen %s after %ld ms (power-on to halt, "
              "device model start included)",
              how, ms);
out:
    free(log);
    if (!d->opts.keep) {
        unlink(fp.disk);
        unlink(fp.uart);
        unlink(fp.fwlog);
        unlink(fp.mxlog);
        unlink(fp.hv_sock);
        unlink(fp.xs_sock);
    }
    return rc;
}
