/*
 * ioreqd deprivileged on the mock hypervisor: after --runas (and --chroot)
 * the process has no root ids and no capabilities, runs with no_new_privs
 * and the seccomp filter, its Xen handles refuse every domain but its
 * guest, and it still serves the guest (UART and virtio-blk I/O through the
 * filter). A forbidden system call kills it. Stopping under load and the
 * hypervisor going away end it cleanly.
 *
 * Everything is observed from outside (/proc/<pid>/status, the mock's
 * inspection, exit statuses); what must happen inside the daemon is done
 * by a test-only LD_PRELOAD library (depriv-hook.c), never by test code in
 * ioreqd.
 *
 * Usage: e2e-depriv /path/to/ioreqd /path/to/depriv-hook.so [test-name-pattern]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "daemon-fixture.h"
#include "guest-pci.h"
#include "guest-virtio-blk.h"
#include "scratch-dir.h"

#define DOMID     7
#define WAIT_MS   20000
#define COM1      0x3f8
#define UART_SCR  7
#define UART_LSR  5
#define UART_SPEC "uart,port=0x3f8,irq=4,backend=null"
#define RUNAS     "nobody:nogroup"
#define RAM_BYTES (64u << 20)
#define DISK_SIZE (4u << 20)

static const char *ioreqd_path;
static const char *hook_path;

struct fixture {
    struct dfx d;
    char hookdir[96];
    char rootdir[96]; /* chroot */
    char disk[96];
    uid_t uid;
    gid_t gid;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *slurp(const char *path)
{
    static char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");

    if (!fx || !pw || !gr)
        return -1;
    fx->uid = pw->pw_uid;
    fx->gid = gr->gr_gid;
    if (dfx_init(&fx->d, "ioreqd-depriv"))
        return -1;
    /* The deprivileged daemon appends to its stderr file, opened for it by us. */
    chmod(fx->d.dir, 0755);
    if (scratch_path(fx->hookdir, sizeof(fx->hookdir), fx->d.dir, "hook") ||
        scratch_path(fx->rootdir, sizeof(fx->rootdir), fx->d.dir, "root") ||
        scratch_path(fx->disk, sizeof(fx->disk), fx->d.dir, "disk.img"))
        return -1;
    if (mkdir(fx->hookdir, 0755) < 0 || mkdir(fx->rootdir, 0755) < 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    int rc = dfx_fini(&fx->d);

    free(fx);
    return rc;
}

static void start_hv(struct fixture *fx, unsigned nr_vcpus)
{
    dfx_start_hv(&fx->d, DOMID, nr_vcpus, RAM_BYTES);
}

/*
 * Starts ioreqd with args, the hook preloaded or not. A sanitizer runtime
 * must accept a preloaded library ahead of it; LeakSanitizer's exit check
 * needs /proc and ptrace, which a chroot without /proc and an unprivileged
 * user do not give it (`confined`).
 */
static void spawn(struct fixture *fx, const char *const *args, bool hook, bool confined)
{
    char preload[512], hookdir[160], hookdom[64];
    const char *env[] = {confined ? "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"
                                  : "ASAN_OPTIONS=verify_asan_link_order=0",
                         "LD_PRELOAD", /* dropped, unless the hook replaces it below */
                         NULL, NULL, NULL};

    if (hook) {
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", hook_path);
        snprintf(hookdir, sizeof(hookdir), "IOREQD_DEPRIV_HOOK_DIR=%s", fx->hookdir);
        snprintf(hookdom, sizeof(hookdom), "IOREQD_DEPRIV_HOOK_DOMID=%u", DOMID);
        env[1] = preload;
        env[2] = hookdir;
        env[3] = hookdom;
    }
    dfx_spawn(&fx->d, &fx->d.dm, ioreqd_path, args, env);
}

/* Waits for `text` in ioreqd's stderr, failing if it exits first. */
static void wait_log(struct fixture *fx, const char *text)
{
    int rc = dmproc_wait_log(&fx->d.dm, text, WAIT_MS);
    char how[64];

    if (rc) {
        dmproc_dump_log(&fx->d.dm);
        dmproc_describe_status(fx->d.dm.wstatus, how, sizeof(how));
        fail_msg("ioreqd %s before logging '%s'", rc == -ECHILD ? how : "never got there", text);
    }
}

static void make_fifo(struct fixture *fx)
{
    char path[160];

    snprintf(path, sizeof(path), "%s/cmd", fx->hookdir);
    assert_int_equal(mkfifo(path, 0600), 0);
}

struct run_opts {
    bool runas;
    bool chroot;
    bool no_seccomp;
    bool hook;
    const char *extra_device;
};

/* ioreqd in the foreground with a UART (and more), returning once it is deprivileged. */
static void start_ioreqd(struct fixture *fx, const struct run_opts *o)
{
    const char *args[32] = {"--domid",  "7",       "--foreground",     "--log-level", "debug",
                            "--device", UART_SPEC, "--control-socket", fx->d.ctlpath};
    size_t n = 9;

    if (o->extra_device) {
        args[n++] = "--device";
        args[n++] = o->extra_device;
    }
    if (o->runas) {
        args[n++] = "--runas";
        args[n++] = RUNAS;
    }
    if (o->chroot) {
        args[n++] = "--chroot";
        args[n++] = fx->rootdir;
    }
    if (o->no_seccomp)
        args[n++] = "--no-seccomp";
    args[n] = NULL;
    /* Changing users and chroot need root; as anyone else there is nothing to test. */
    if ((o->runas || o->chroot) && geteuid() != 0)
        skip();
    if (o->hook)
        make_fifo(fx);
    spawn(fx, args, o->hook, o->runas || o->chroot);
    wait_log(fx, o->no_seccomp ? "no system-call filter" : "seccomp filter 'serving");
}

static void uart_works(struct fixture *fx, unsigned nr_vcpus)
{
    for (unsigned v = 0; v < nr_vcpus; v++) {
        dfx_pio_out(&fx->d, v, COM1 + UART_SCR, 0x30 + v);
        assert_int_equal(dfx_pio_in(&fx->d, v, COM1 + UART_SCR), 0x30 + v);
    }
    assert_int_equal(dfx_pio_in(&fx->d, 0, COM1 + UART_LSR), 0x60);
}

/* One "Name:\tvalue" line of /proc/<pid>/status, value only. */
static const char *proc_status(pid_t pid, const char *name)
{
    static char value[256];
    char path[64], *line;
    size_t len = strlen(name);

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    for (line = slurp(path); line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            size_t n;
            while (*v == '\t' || *v == ' ')
                v++;
            n = strcspn(v, "\n");
            snprintf(value, sizeof(value), "%.*s", (int)n, v);
            return value;
        }
    }
    fail_msg("no %s in %s", name, path);
    return NULL;
}

/* Soft and hard value of one /proc/<pid>/limits line: "SOFT HARD". */
static const char *proc_limit(pid_t pid, const char *name)
{
    static char value[64];
    char path[64], soft[32], hard[32];
    const char *line;

    snprintf(path, sizeof(path), "/proc/%ld/limits", (long)pid);
    line = strstr(slurp(path), name);
    if (!line || sscanf(line + strlen(name), "%31s %31s", soft, hard) != 2)
        fail_msg("no '%s' in %s", name, path);
    snprintf(value, sizeof(value), "%s %s", soft, hard);
    return value;
}

/* Sends one command to the hook and returns its result line (the hook appends one per command). */
static char *hook_ask(struct fixture *fx, char cmd)
{
    static char line[512];
    char path[160];
    long deadline = now_ms() + WAIT_MS;
    size_t before;
    const char *text;
    int fd;

    snprintf(path, sizeof(path), "%s/out", fx->hookdir);
    before = strlen(slurp(path));
    snprintf(path, sizeof(path), "%s/cmd", fx->hookdir);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, &cmd, 1), 1);
    close(fd);
    snprintf(path, sizeof(path), "%s/out", fx->hookdir);
    for (;;) {
        text = slurp(path);
        if (strlen(text) > before && text[strlen(text) - 1] == '\n')
            break;
        if (!dmproc_running(&fx->d.dm)) {
            dmproc_dump_log(&fx->d.dm);
            fail_msg("ioreqd ended (wait status 0x%x) instead of answering '%c'", fx->d.dm.wstatus,
                     cmd);
        }
        if (now_ms() > deadline) {
            dmproc_dump_log(&fx->d.dm);
            fail_msg("the hook did not answer '%c'", cmd);
        }
        sleep_ms(10);
    }
    snprintf(line, sizeof(line), "%.500s", text + before);
    return line;
}

static void expect_exit(struct fixture *fx, int code)
{
    int status = dfx_wait_exit(&fx->d.dm);

    if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
        dmproc_dump_log(&fx->d.dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), code);
}

static void expect_sigsys(struct fixture *fx)
{
    int status = dfx_wait_exit(&fx->d.dm);

    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS) {
        dmproc_dump_log(&fx->d.dm);
        fail_msg("ioreqd was not killed by SIGSYS (wait status 0x%x)", status);
    }
}

/* ---- tests ---- */

/* No root ids, no capabilities, no_new_privs, the filter, limits; the guest is served. */
static void test_identity(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.runas = true};
    char ids[64], *state_val;
    unsigned len;

    start_hv(fx, 2);
    start_ioreqd(fx, &o);
    snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", (unsigned)fx->uid, (unsigned)fx->uid,
             (unsigned)fx->uid, (unsigned)fx->uid);
    assert_string_equal(proc_status(fx->d.dm.pid, "Uid"), ids);
    snprintf(ids, sizeof(ids), "%u\t%u\t%u\t%u", (unsigned)fx->gid, (unsigned)fx->gid,
             (unsigned)fx->gid, (unsigned)fx->gid);
    assert_string_equal(proc_status(fx->d.dm.pid, "Gid"), ids);
    assert_string_equal(proc_status(fx->d.dm.pid, "Groups"), "");
    assert_string_equal(proc_status(fx->d.dm.pid, "CapInh"), "0000000000000000");
    assert_string_equal(proc_status(fx->d.dm.pid, "CapPrm"), "0000000000000000");
    assert_string_equal(proc_status(fx->d.dm.pid, "CapEff"), "0000000000000000");
    assert_string_equal(proc_status(fx->d.dm.pid, "CapAmb"), "0000000000000000");
    assert_string_equal(proc_status(fx->d.dm.pid, "NoNewPrivs"), "1");
    assert_string_equal(proc_status(fx->d.dm.pid, "Seccomp"), "2"); /* SECCOMP_MODE_FILTER */
    assert_string_equal(proc_limit(fx->d.dm.pid, "Max core file size"), "0 0");
    assert_string_equal(proc_limit(fx->d.dm.pid, "Max processes"), "0 0");
    assert_string_equal(proc_limit(fx->d.dm.pid, "Max open files"), "1024 1024");
    assert_true(dfx_log_has(&fx->d, "Xen handles restricted to domain 7"));

    uart_works(fx, 2);
    /* ioreqctl's socket, created as root, still answers the unprivileged daemon's owner. */
    assert_true(strncmp(dfx_control_ask(&fx->d, "stats\n"), "{\"ok\":true", 10) == 0);
    /* Everything was published before xenstore was closed. */
    state_val = xs_read(fx->d.xs, XBT_NULL, "/local/domain/0/device-model/7/state", &len);
    assert_non_null(state_val);
    assert_string_equal(state_val, "running");
    free(state_val);
}

/*
 * xentoolcore_restrict_all() failing (a dom0 kernel without the restrict
 * ioctls) ends ioreqd with status 1 before it serves unrestricted: nothing
 * it wrote stays in xenstore, above all no state = running that would tell
 * the toolstack a device model serves the guest, and its server is gone.
 */
static void test_restrict_failure_leaves_no_state(void **state)
{
    struct fixture *fx = *state;
    const char *args[] = {
        "--domid", "7",       "--foreground", "--log-level",      "debug",       "--device",
        UART_SPEC, "--runas", RUNAS,          "--control-socket", fx->d.ctlpath, NULL};
    unsigned len;
    uint16_t ids[2];
    void *v;

    if (geteuid() != 0)
        skip();
    start_hv(fx, 2);
    mockhv_fail_restrict(fx->d.hv, ENOTTY);
    spawn(fx, args, false, true);
    expect_exit(fx, 1);
    if (!dfx_log_has(&fx->d, "xentoolcore_restrict_all(7)"))
        dmproc_dump_log(&fx->d.dm);
    assert_true(dfx_log_has(&fx->d, "xentoolcore_restrict_all(7)"));
    v = xs_read(fx->d.xs, XBT_NULL, "/local/domain/0/device-model/7/state", &len);
    free(v);
    assert_null(v);
    v = xs_read(fx->d.xs, XBT_NULL, "/local/domain/0/device-model/7/ioreqd", &len);
    free(v);
    assert_null(v);
    assert_int_equal(mockhv_servers(fx->d.hv, ids, 2), 0);
}

/* The daemon's own handles work for its guest and refuse other domains; no new handle opens. */
static void test_other_domid_refused(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.runas = true, .hook = true};
    char expect[128];

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    uart_works(fx, 1);
    snprintf(expect, sizeof(expect), "own=0 other=%d dom0=%d fmem-other=%d\n", EPERM, EPERM, EPERM);
    assert_string_equal(hook_ask(fx, 'r'), expect);
    /* Asking did not disturb serving. */
    uart_works(fx, 1);
    assert_int_equal(kill(fx->d.dm.pid, SIGTERM), 0);
    expect_exit(fx, 0);
}

/* Without --runas the handles stay unrestricted: the same probe sees it (the test can fail). */
static void test_unrestricted_without_runas(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.hook = true};
    const char *line;
    char expect[128];

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    line = hook_ask(fx, 'r');
    /* Asking about other domains is allowed; the mock just has none: ESRCH, not EPERM. */
    snprintf(expect, sizeof(expect), "own=0 other=%d dom0=%d fmem-other=%d\n", ESRCH, ESRCH, ESRCH);
    assert_string_equal(line, expect);
    assert_string_equal(proc_status(fx->d.dm.pid, "Seccomp"), "2");
    assert_string_equal(proc_status(fx->d.dm.pid, "Uid"), "0\t0\t0\t0");
}

static void test_forbidden_exec_kills(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.runas = true, .hook = true};
    char path[160];

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    uart_works(fx, 1);
    snprintf(path, sizeof(path), "%s/cmd", fx->hookdir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x", 1), 1);
    close(fd);
    expect_sigsys(fx);
    /* /bin/true never ran: it would have exited 0. */
    snprintf(path, sizeof(path), "%s/out", fx->hookdir);
    assert_string_equal(slurp(path), "");
}

static void test_forbidden_socket_kills(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.hook = true}; /* the filter is on by default, even as root */
    char path[160];

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    snprintf(path, sizeof(path), "%s/cmd", fx->hookdir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s", 1), 1);
    close(fd);
    expect_sigsys(fx);
}

/*
 * A guest frame Xen has paged out: libxenforeignmemory sleeps (usleep) and
 * retries the map until it is paged in, under the filter. The guest's rep
 * outsb reads its buffer from such a frame; the daemon serves it and lives.
 */
static void test_paged_out_frame_under_filter(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {0}; /* the filter is on by default, even as root */
    const struct mockhv_rep rep = {.size = 1, .addr = COM1 + UART_SCR, .gpa = 0x7000, .count = 2};
    int status;

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    assert_int_equal(mockhv_ram_write(fx->d.hv, 0x7000, "\x11\x22", 2), 0);
    assert_int_equal(mockhv_page_out(fx->d.hv, 7, 3), 0);
    assert_int_equal(mockhv_rep(fx->d.hv, 0, &rep, WAIT_MS), 0);
    /* the map asked three times while paged out, then once more */
    assert_int_equal(mockhv_paged_out(fx->d.hv, 7), 0);
    /* the scratch register holds the last byte of the buffer */
    assert_int_equal(dfx_pio_in(&fx->d, 0, COM1 + UART_SCR), 0x22);
    uart_works(fx, 1);
    assert_int_equal(waitpid(fx->d.dm.pid, &status, WNOHANG), 0);
}

/* --no-seccomp is the documented escape hatch: the same call then succeeds. */
static void test_no_seccomp_allows(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.runas = true, .no_seccomp = true, .hook = true};
    const char *line;

    start_hv(fx, 1);
    start_ioreqd(fx, &o);
    assert_string_equal(proc_status(fx->d.dm.pid, "Seccomp"), "0");
    assert_string_equal(proc_status(fx->d.dm.pid, "NoNewPrivs"), "1");
    line = hook_ask(fx, 's');
    assert_int_equal(strncmp(line, "socket=", 7), 0);
    assert_true(atoi(line + 7) >= 0);
    /* Without the filter, the user switch alone keeps new Xen handles out of reach. */
    assert_string_equal(hook_ask(fx, 'o'), "open=13\n");
    uart_works(fx, 1);
    assert_int_equal(kill(fx->d.dm.pid, SIGTERM), 0);
    expect_exit(fx, 0);
}

/* The disk's inventory entry: what it is, and no BAR placement that would go stale. */
static void inventory_without_bars(struct fixture *fx)
{
    const char *dir = "/local/domain/0/device-model/7/ioreqd/devices/1";
    char want[PATH_MAX + 64], path[128];
    unsigned len;
    char *v;

    v = xs_read(fx->d.xs, XBT_NULL, dir, &len);
    assert_non_null(v);
    /* aio=auto: io_uring where this kernel gives one, else threads; nothing else */
    snprintf(want, sizeof(want),
             "virtio-blk: 00:05.0 1af4:1042 file=%s queues=1 cache=writeback aio=%s", fx->disk,
             strstr(v, "aio=io_uring") ? "io_uring" : "threads");
    assert_string_equal(v, want);
    free(v);
    snprintf(path, sizeof(path), "%s/bars", dir);
    v = xs_read(fx->d.xs, XBT_NULL, path, &len);
    assert_null(v);
}

/* A chroot to an empty directory, a virtio-blk disk written, flushed, read and discarded. */
static void test_chroot_virtio_blk(void **state)
{
    struct fixture *fx = *state;
    char spec[160], root[PATH_MAX], link[64];
    const struct run_opts o = {.runas = true, .chroot = true, .extra_device = spec};
    struct gpci_bus bus = {0};
    struct garena arena;
    struct gvblk blk;
    struct gvblk_opts bo = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = WAIT_MS, .msi_data_base = 0x40},
        .nr_queues = 2,
        .queue_size = 64,
    };
    const struct mockhv_pci_func *fn;
    static uint8_t out[65536], in[65536], file[65536];
    uint16_t ids[2];
    uint8_t st;
    ssize_t n;
    int fd;

    fd = open(fx->disk, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_SIZE), 0);
    snprintf(spec, sizeof(spec), "virtio-blk,file=%s,bdf=00:05.0", fx->disk);
    start_hv(fx, 2);
    start_ioreqd(fx, &o);
    snprintf(link, sizeof(link), "/proc/%ld/root", (long)fx->d.dm.pid);
    n = readlink(link, root, sizeof(root) - 1);
    assert_true(n > 0);
    root[n] = '\0';
    assert_string_equal(root, fx->rootdir);
    assert_string_equal(proc_status(fx->d.dm.pid, "Seccomp"), "2");
    uart_works(fx, 2);

    assert_int_equal(gpci_scan(&bus, fx->d.hv, 0, WAIT_MS) >= 0, 1);
    fn = gpci_find(&bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    assert_non_null(fn);
    /* xenstore, closed by --runas, has what the disk is but not where its BARs went. */
    inventory_without_bars(fx);
    garena_init(&arena, 1 << 20, RAM_BYTES - (1 << 20));
    assert_int_equal(gvblk_init(&blk, fx->d.hv, &arena, &bus, fn, &bo), 0);
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(gvblk_write(&blk, 0, 16, out, sizeof(out), &st), 0);
    assert_int_equal(st, GVBLK_S_OK);
    assert_int_equal(gvblk_flush(&blk, blk.nr_queues - 1, &st), 0);
    assert_int_equal(st, GVBLK_S_OK);
    assert_int_equal(pread(fd, file, sizeof(file), 16 * 512), (ssize_t)sizeof(file));
    assert_memory_equal(file, out, sizeof(out));
    assert_int_equal(gvblk_read(&blk, blk.nr_queues - 1, 16, in, sizeof(in), &st), 0);
    assert_int_equal(st, GVBLK_S_OK);
    assert_memory_equal(in, out, sizeof(out));
    assert_int_equal(gvblk_write_zeroes(&blk, 0, 16, 8, false, &st), 0);
    assert_int_equal(st, GVBLK_S_OK);
    assert_int_equal(gvblk_read(&blk, 0, 16, in, 4096, &st), 0);
    assert_int_equal(st, GVBLK_S_OK);
    memset(file, 0, 4096);
    assert_memory_equal(in, file, 4096);
    gvblk_fini(&blk);
    garena_fini(&arena);
    close(fd);

    assert_int_equal(kill(fx->d.dm.pid, SIGTERM), 0);
    expect_exit(fx, 0);
    assert_int_equal(mockhv_servers(fx->d.hv, ids, 2), 0);
    assert_int_equal(mockhv_bound_ports(fx->d.hv), 0);
}

struct hammer {
    struct fixture *fx;
    unsigned vcpu;
    volatile bool *stop;
    unsigned long done; /* atomic */
    int error;
};

static void *hammer_thread(void *opaque)
{
    struct hammer *h = opaque;

    while (!__atomic_load_n(h->stop, __ATOMIC_ACQUIRE)) {
        uint32_t v = 0;
        int rc = mockhv_pio_out(h->fx->d.hv, h->vcpu, COM1 + UART_SCR, 1, h->vcpu, WAIT_MS);
        if (!rc)
            rc = mockhv_pio_in(h->fx->d.hv, h->vcpu, COM1 + UART_LSR, 1, &v, WAIT_MS);
        if (rc) {
            h->error = rc;
            break;
        }
        __atomic_add_fetch(&h->done, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* SIGTERM while four vCPUs hammer the daemon: teardown completes, exit 0, nothing left. */
static void sigterm_under_load(struct fixture *fx, bool restricted)
{
    const struct run_opts o = {.runas = restricted};
    enum { NR = 4 };
    /* static: a failing assertion leaves the function while the threads still run */
    static struct hammer h[NR];
    static pthread_t t[NR];
    static volatile bool stop;
    uint16_t ids[2];

    stop = false;
    start_hv(fx, NR);
    start_ioreqd(fx, &o);
    for (unsigned i = 0; i < NR; i++) {
        h[i] = (struct hammer){.fx = fx, .vcpu = i, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
    }
    /* Load first: every vCPU has been served a good number of times. */
    for (unsigned i = 0; i < NR; i++)
        while (__atomic_load_n(&h[i].done, __ATOMIC_ACQUIRE) < 200 && !h[i].error)
            sleep_ms(1);
    for (unsigned i = 0; i < NR; i++)
        assert_int_equal(h[i].error, 0);
    assert_int_equal(kill(fx->d.dm.pid, SIGTERM), 0);
    expect_exit(fx, 0);
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < NR; i++)
        pthread_join(t[i], NULL);
    /*
     * Every request that reached the server was answered before it went
     * (Xen wakes a waiting vCPU only by a notification): no vCPU is
     * stranded, and the accesses after the stop found no device.
     */
    for (unsigned i = 0; i < NR; i++) {
        assert_int_equal(mockhv_vcpu_stranded(fx->d.hv, i), -1);
        assert_int_equal(h[i].error, 0);
    }
    assert_true(dfx_log_has(&fx->d, "received SIGTERM, shutting down"));
    assert_true(dfx_log_has(&fx->d, "stopped (exit status 0)"));
    assert_int_equal(mockhv_servers(fx->d.hv, ids, 2), 0);
    assert_int_equal(mockhv_bound_ports(fx->d.hv), 0);
    unsigned len;
    char *state_val = xs_read(fx->d.xs, XBT_NULL, "/local/domain/0/device-model/7/state", &len);
    if (restricted) {
        /* xenstore was closed before restricting: the keys are the toolstack's to remove. */
        assert_non_null(state_val);
        assert_string_equal(state_val, "running");
    } else {
        assert_null(state_val);
    }
    free(state_val);
}

static void test_sigterm_under_load(void **state)
{
    sigterm_under_load(*state, false);
}

static void test_sigterm_under_load_restricted(void **state)
{
    sigterm_under_load(*state, true);
}

/* The mock hypervisor dies under a restricted daemon: exit 1 with a clear message. */
static void test_hypervisor_killed_restricted(void **state)
{
    struct fixture *fx = *state;
    const struct run_opts o = {.runas = true, .chroot = true};

    start_hv(fx, 2);
    start_ioreqd(fx, &o);
    uart_works(fx, 2);
    dfx_destroy_hv(&fx->d);
    expect_exit(fx, 1);
    assert_true(dfx_log_has(&fx->d, "hypervisor connection failed"));
    assert_true(dfx_log_has(&fx->d, "domain 7 can no longer be served"));
}

/* Mistakes in the deprivileging options are usage errors, found before anything starts. */
static void test_bad_options(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *opt, *value, *message;
    } cases[] = {
        {"--runas", "root", "must not be root"},
        {"--runas", "nobody:root", "must not be root"},
        {"--runas", "no-such-user-here", "no user 'no-such-user-here'"},
        {"--runas", "nobody:no-such-group-here", "no group 'no-such-group-here'"},
        {"--runas", "nobody:", "expected USER or USER:GROUP"},
        {"--chroot", "relative/dir", "not an absolute path"},
        {"--chroot", "/no/such/dir/here", "not a directory"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[] = {"--domid", "7", "--foreground", cases[i].opt, cases[i].value, NULL};
        int status;

        truncate(fx->d.errpath, 0);
        dmproc_fini(&fx->d.dm);
        spawn(fx, args, false, false);
        status = dfx_wait_exit(&fx->d.dm);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 ||
            !dfx_log_has(&fx->d, cases[i].message)) {
            dmproc_dump_log(&fx->d.dm);
            fail_msg("%s %s: want exit 2 and '%s'", cases[i].opt, cases[i].value, cases[i].message);
        }
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restrict_failure_leaves_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_domid_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrestricted_without_runas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_exec_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_socket_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_seccomp_allows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paged_out_frame_under_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chroot_virtio_blk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_under_load_restricted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_killed_restricted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
    };

    if (argc < 3) {
        fprintf(stderr, "usage: %s /path/to/ioreqd /path/to/depriv-hook.so [test-name]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    hook_path = argv[2];
    if (argc > 3)
        cmocka_set_test_filter(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
