/*
 * Test-only LD_PRELOAD library for the virtio-blk durability test: it logs,
 * in the order they return, the calls a device model makes that write to
 * one file or make it durable, so that a test can check that a FLUSH was
 * backed by a data sync issued after the writes it covers. Killing the
 * process cannot tell that: the page cache survives it.
 *
 * Environment:
 *   IOREQD_SYNC_TRACE_FILE      the file to watch (matched by device and
 *                               inode, whatever descriptor reaches it)
 *   IOREQD_SYNC_TRACE_LOG       the log, appended one line per call
 *   IOREQD_SYNC_TRACE_DELAY_MS  a data sync first waits this long (default
 *                               0), so that a FLUSH completed without
 *                               waiting for its sync is seen before the
 *                               sync returns
 *   IOREQD_SYNC_TRACE_HOLD      a directory holding two FIFOs the test
 *                               made and keeps open for reading and
 *                               writing: a data sync (fsync, fdatasync) of
 *                               the file first writes one byte to
 *                               HOLD/entered, then waits for one byte on
 *                               HOLD/release: a disk that hangs until the
 *                               test lets it go. Once the test closes
 *                               release, syncs pass straight through.
 * Without the first two the library only passes calls through.
 *
 * Lines (times are CLOCK_MONOTONIC nanoseconds at entry and return):
 *   W <call> off=<offset> len=<bytes asked> ret=<result> dsync=<0|1> t0= t1=
 *       write, writev, pwrite, pwritev, pwritev2 (and their 64 names);
 *       dsync=1 when the write was durable by itself (O_DSYNC or O_SYNC
 *       on the descriptor, RWF_DSYNC or RWF_SYNC); offset -1 if unknown
 *   S <call> ret= t0= t1=
 *       fsync, fdatasync on the file; syncfs on its file system; sync
 *   R sync_file_range off= len= flags= ret= t0= t1=
 *       logged, but no data sync: it neither writes metadata back nor
 *       flushes the disk's cache
 *   F fallocate mode= off= len= ret= t0= t1=
 * Lines are formatted here and written with one write(2) each to a file
 * opened O_APPEND, so lines of concurrent threads do not mix. The log is
 * opened and every real function looked up in the constructor, before the
 * daemon installs its seccomp filter; afterwards a call only adds fstat,
 * fcntl, lseek, write, read (for the hold) and (for the delay) poll, which
 * the filter allows.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RWF_DSYNC
#define RWF_DSYNC 0x2
#endif
#ifndef RWF_SYNC
#define RWF_SYNC 0x4
#endif

static int log_fd = -1;
static dev_t watch_dev;
static ino_t watch_ino;
static int delay_ms;
static int hold_entered_fd = -1, hold_release_fd = -1;
static bool hold_over; /* release was closed: hold nothing more */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off64_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off64_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*real_pwritev64v2)(int, const struct iovec *, int, off64_t, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_syncfs)(int);
static void (*real_sync)(void);
static int (*real_sync_file_range)(int, off64_t, off64_t, unsigned);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_fallocate64)(int, int, off64_t, off64_t);

#define LOOKUP(name) (real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name))

/* The test holds both FIFOs open, so neither open waits. */
static void hold_open(const char *dir)
{
    char path[512];

    if (!dir)
        return;
    snprintf(path, sizeof(path), "%s/entered", dir);
    hold_entered_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/release", dir);
    hold_release_fd = open(path, O_RDONLY | O_CLOEXEC);
}

/* One sync waits for the test; concurrent ones each take one release byte. */
static void sync_hold(void)
{
    char c = 'S';
    int saved = errno;

    if (hold_entered_fd < 0 || hold_release_fd < 0 || __atomic_load_n(&hold_over, __ATOMIC_ACQUIRE))
        return;
    (void)syscall(SYS_write, hold_entered_fd, &c, (size_t)1);
    for (;;) {
        long n = syscall(SYS_read, hold_release_fd, &c, (size_t)1);

        if (n == 1)
            break;
        if (n == 0 || errno != EINTR) {
            __atomic_store_n(&hold_over, true, __ATOMIC_RELEASE);
            break;
        }
    }
    errno = saved;
}

__attribute__((constructor)) static void trace_init(void)
{
    const char *file = getenv("IOREQD_SYNC_TRACE_FILE");
    const char *log = getenv("IOREQD_SYNC_TRACE_LOG");
    const char *delay = getenv("IOREQD_SYNC_TRACE_DELAY_MS");
    struct stat st;

    LOOKUP(write);
    LOOKUP(writev);
    LOOKUP(pwrite);
    LOOKUP(pwrite64);
    LOOKUP(pwritev);
    LOOKUP(pwritev64);
    LOOKUP(pwritev2);
    LOOKUP(pwritev64v2);
    LOOKUP(fsync);
    LOOKUP(fdatasync);
    LOOKUP(syncfs);
    LOOKUP(sync);
    LOOKUP(sync_file_range);
    LOOKUP(fallocate);
    LOOKUP(fallocate64);
    if (!file || !log || stat(file, &st) < 0)
        return;
    watch_dev = st.st_dev;
    watch_ino = st.st_ino;
    delay_ms = delay ? atoi(delay) : 0;
    log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    hold_open(getenv("IOREQD_SYNC_TRACE_HOLD"));
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* fd reaches the watched file (same_fs: or only its file system). */
static bool watched(int fd, bool same_fs)
{
    struct stat st;
    int saved = errno;
    bool yes;

    if (log_fd < 0 || fd < 0)
        return false;
    yes = fstat(fd, &st) == 0 && st.st_dev == watch_dev && (same_fs || st.st_ino == watch_ino);
    errno = saved;
    return yes;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    int saved = errno, n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(line))
        (void)syscall(SYS_write, log_fd, line, (size_t)n); /* not through our write() */
    errno = saved;
}

static bool fd_dsync(int fd)
{
    int saved = errno, fl = fcntl(fd, F_GETFL);

    errno = saved;
    return fl >= 0 && (fl & (O_DSYNC | O_SYNC));
}

static off_t fd_pos(int fd)
{
    int saved = errno;
    off_t pos = lseek(fd, 0, SEEK_CUR);

    errno = saved;
    return pos;
}

static size_t iov_bytes(const struct iovec *iov, int cnt)
{
    size_t n = 0;

    for (int i = 0; iov && i < cnt; i++)
        n += iov[i].iov_len;
    return n;
}

static void log_write(const char *call, off_t off, size_t len, ssize_t ret, bool dsync, uint64_t t0)
{
    say("W %s off=%lld len=%zu ret=%zd dsync=%d t0=%" PRIu64 " t1=%" PRIu64 "\n", call,
        (long long)off, len, ret, dsync, t0, now_ns());
}

static void sync_delay(void)
{
    if (delay_ms > 0)
        poll(NULL, 0, delay_ms);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    if (!watched(fd, false))
        return real_write(fd, buf, len);
    off_t off = fd_pos(fd);
    uint64_t t0 = now_ns();
    ssize_t ret = real_write(fd, buf, len);
    log_write("write", off, len, ret, fd_dsync(fd), t0);
    return ret;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!watched(fd, false))
        return real_writev(fd, iov, cnt);
    off_t off = fd_pos(fd);
    uint64_t t0 = now_ns();
    ssize_t ret = real_writev(fd, iov, cnt);
    log_write("writev", off, iov_bytes(iov, cnt), ret, fd_dsync(fd), t0);
    return ret;
}

static ssize_t traced_pwrite(ssize_t (*real)(int, const void *, size_t, off_t), const char *call,
                             int fd, const void *buf, size_t len, off_t off)
{
    if (!watched(fd, false))
        return real(fd, buf, len, off);
    uint64_t t0 = now_ns();
    ssize_t ret = real(fd, buf, len, off);
    log_write(call, off, len, ret, fd_dsync(fd), t0);
    return ret;
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    return traced_pwrite(real_pwrite, "pwrite", fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
    return traced_pwrite(real_pwrite64, "pwrite64", fd, buf, len, off);
}

static ssize_t traced_pwritev(ssize_t (*real)(int, const struct iovec *, int, off_t),
                              const char *call, int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!watched(fd, false))
        return real(fd, iov, cnt, off);
    uint64_t t0 = now_ns();
    ssize_t ret = real(fd, iov, cnt, off);
    log_write(call, off, iov_bytes(iov, cnt), ret, fd_dsync(fd), t0);
    return ret;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return traced_pwritev(real_pwritev, "pwritev", fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
    return traced_pwritev(real_pwritev64, "pwritev64", fd, iov, cnt, off);
}

static ssize_t traced_pwritev2(ssize_t (*real)(int, const struct iovec *, int, off_t, int),
                               const char *call, int fd, const struct iovec *iov, int cnt,
                               off_t off, int flags)
{
    if (!watched(fd, false))
        return real(fd, iov, cnt, off, flags);
    off_t at = off == -1 ? fd_pos(fd) : off;
    uint64_t t0 = now_ns();
    ssize_t ret = real(fd, iov, cnt, off, flags);
    log_write(call, at, iov_bytes(iov, cnt), ret, fd_dsync(fd) || (flags & (RWF_DSYNC | RWF_SYNC)),
              t0);
    return ret;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return traced_pwritev2(real_pwritev2, "pwritev2", fd, iov, cnt, off, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
    return traced_pwritev2(real_pwritev64v2, "pwritev64v2", fd, iov, cnt, off, flags);
}

static int traced_sync(int (*real)(int), const char *call, int fd, bool same_fs)
{
    if (!watched(fd, same_fs))
        return real(fd);
    uint64_t t0 = now_ns();
    if (!same_fs)
        sync_hold();
    sync_delay();
    int ret = real(fd);
    say("S %s ret=%d t0=%" PRIu64 " t1=%" PRIu64 "\n", call, ret, t0, now_ns());
    return ret;
}

int fsync(int fd)
{
    return traced_sync(real_fsync, "fsync", fd, false);
}

int fdatasync(int fd)
{
    return traced_sync(real_fdatasync, "fdatasync", fd, false);
}

int syncfs(int fd)
{
    return traced_sync(real_syncfs, "syncfs", fd, true);
}

void sync(void)
{
    if (log_fd < 0) {
        real_sync();
        return;
    }
    uint64_t t0 = now_ns();
    sync_delay();
    real_sync();
    say("S sync ret=0 t0=%" PRIu64 " t1=%" PRIu64 "\n", t0, now_ns());
}

int sync_file_range(int fd, off64_t off, off64_t len, unsigned flags)
{
    if (!watched(fd, false))
        return real_sync_file_range(fd, off, len, flags);
    uint64_t t0 = now_ns();
    int ret = real_sync_file_range(fd, off, len, flags);
    say("R sync_file_range off=%lld len=%lld flags=%#x ret=%d t0=%" PRIu64 " t1=%" PRIu64 "\n",
        (long long)off, (long long)len, flags, ret, t0, now_ns());
    return ret;
}

static int traced_fallocate(int (*real)(int, int, off_t, off_t), int fd, int mode, off_t off,
                            off_t len)
{
    if (!watched(fd, false))
        return real(fd, mode, off, len);
    uint64_t t0 = now_ns();
    int ret = real(fd, mode, off, len);
    say("F fallocate mode=%#x off=%lld len=%lld ret=%d t0=%" PRIu64 " t1=%" PRIu64 "\n", mode,
        (long long)off, (long long)len, ret, t0, now_ns());
    return ret;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    return traced_fallocate(real_fallocate, fd, mode, off, len);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
    return traced_fallocate(real_fallocate64, fd, mode, off, len);
}
