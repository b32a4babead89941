/*
 * Test-only LD_PRELOAD library for the deprivileging tests: it lets a test
 * act from inside a running ioreqd without any test code in ioreqd itself.
 *
 * It wraps xendevicemodel_open and xenforeignmemory_open to remember the
 * handles ioreqd opens, and starts one thread (from its constructor, so
 * before ioreqd deprivileges itself: the thread gets the same ids, chroot
 * and seccomp filter as every other thread) that reads one-byte commands
 * from the FIFO $IOREQD_DEPRIV_HOOK_DIR/cmd and writes one result line per
 * command to $IOREQD_DEPRIV_HOOK_DIR/out:
 *   'r'  use ioreqd's own handles on its guest, on another domain and on
 *        dom0: "own=E other=E dom0=E fmem-other=E" (E: 0 or the errno);
 *   'o'  open a new device-model handle: "open=E" (on the mock that takes
 *        a socket option the filter does not allow: use without it);
 *   'x'  execve("/bin/true"): a filtered ioreqd dies of SIGSYS instead;
 *   's'  socket(AF_INET, SOCK_STREAM): likewise; "socket=FD errno=E" if it
 *        survives.
 * Without IOREQD_DEPRIV_HOOK_DIR the library does nothing but wrap.
 */
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenforeignmemory.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

static xendevicemodel_handle *last_dmod;
static xenforeignmemory_handle *last_fmem;
static int cmd_fd = -1, out_fd = -1;
static unsigned hook_domid;

typedef xendevicemodel_handle *dmod_open_fn(xentoollog_logger *, unsigned);
typedef xenforeignmemory_handle *fmem_open_fn(xentoollog_logger *, unsigned);

xendevicemodel_handle *xendevicemodel_open(xentoollog_logger *logger, unsigned open_flags)
{
    dmod_open_fn *real = (dmod_open_fn *)dlsym(RTLD_NEXT, "xendevicemodel_open");
    xendevicemodel_handle *h = real ? real(logger, open_flags) : NULL;

    if (h)
        __atomic_store_n(&last_dmod, h, __ATOMIC_RELEASE);
    return h;
}

xenforeignmemory_handle *xenforeignmemory_open(xentoollog_logger *logger, unsigned open_flags)
{
    fmem_open_fn *real = (fmem_open_fn *)dlsym(RTLD_NEXT, "xenforeignmemory_open");
    xenforeignmemory_handle *h = real ? real(logger, open_flags) : NULL;

    if (h)
        __atomic_store_n(&last_fmem, h, __ATOMIC_RELEASE);
    return h;
}

/* dprintf(3) would lseek, which the filter forbids: format here, write(2) there. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && write(out_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
        return;
}

static int err_of(int rc)
{
    return rc ? (errno ? errno : -1) : 0;
}

static void report(void)
{
    xendevicemodel_handle *dmod = __atomic_load_n(&last_dmod, __ATOMIC_ACQUIRE);
    xenforeignmemory_handle *fmem = __atomic_load_n(&last_fmem, __ATOMIC_ACQUIRE);
    unsigned nr;
    xen_pfn_t pfn = 0;
    int map_err = 0, own, other, dom0, fmem_other;
    void *p;

    if (!dmod || !fmem) {
        say("no handles\n");
        return;
    }
    errno = 0;
    own = err_of(xendevicemodel_nr_vcpus(dmod, (domid_t)hook_domid, &nr));
    errno = 0;
    other = err_of(xendevicemodel_nr_vcpus(dmod, (domid_t)(hook_domid + 1), &nr));
    errno = 0;
    dom0 = err_of(xendevicemodel_nr_vcpus(dmod, 0, &nr));
    errno = 0;
    p = xenforeignmemory_map(fmem, hook_domid + 1, PROT_READ, 1, &pfn, &map_err);
    fmem_other = p ? 0 : (errno ? errno : -1);
    if (p)
        xenforeignmemory_unmap(fmem, p, 1);
    say("own=%d other=%d dom0=%d fmem-other=%d\n", own, other, dom0, fmem_other);
}

static void open_new(void)
{
    dmod_open_fn *real_open = (dmod_open_fn *)dlsym(RTLD_NEXT, "xendevicemodel_open");
    xendevicemodel_handle *fresh;

    errno = 0;
    fresh = real_open ? real_open(NULL, 0) : NULL;
    say("open=%d\n", fresh ? 0 : (errno ? errno : -1));
    if (fresh)
        xendevicemodel_close(fresh);
}

static void *hook_thread(void *arg)
{
    for (;;) {
        char c;
        ssize_t n = read(cmd_fd, &c, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        if (c == 'r') {
            report();
        } else if (c == 'o') {
            open_new();
        } else if (c == 'x') {
            char *argv[] = {"/bin/true", NULL};
            execve("/bin/true", argv, environ);
            say("execve errno=%d\n", errno);
        } else if (c == 's') {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            say("socket=%d errno=%d\n", fd, fd < 0 ? errno : 0);
        }
    }
}

__attribute__((constructor)) static void hook_init(void)
{
    const char *dir = getenv("IOREQD_DEPRIV_HOOK_DIR");
    const char *domid = getenv("IOREQD_DEPRIV_HOOK_DOMID");
    char path[512];
    pthread_t t;

    if (!dir || !domid)
        return;
    hook_domid = (unsigned)atoi(domid);
    snprintf(path, sizeof(path), "%s/cmd", dir);
    /* O_RDWR: the FIFO never reads EOF while the test has not opened it yet. */
    cmd_fd = open(path, O_RDWR | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/out", dir);
    out_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (cmd_fd < 0 || out_fd < 0 || pthread_create(&t, NULL, hook_thread, NULL) != 0) {
        fprintf(stderr, "depriv-hook: cannot start in %s\n", dir);
        return;
    }
    pthread_detach(t);
}
