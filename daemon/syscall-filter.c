/*
 * The allow-list, built from what a serving ioreqd really calls (strace -f
 * of the daemon on the mock hypervisor under load: vCPUs hammering the
 * UART, virtio-blk reads, writes, flushes and discards, the control socket,
 * every way of stopping). Grouped by who needs them, so that a call can be
 * traced back to its reason. Arguments are not filtered, except socket()'s
 * family (local sockets only, for syslog): the kernel's own permission checks (the daemon runs as
 * an unprivileged user, in a chroot) bound what the remaining calls reach; the list removes the
 * calls that reach new kernel surface (exec, fork, ptrace, mount, bpf, keyrings, network sockets,
 * namespaces, module loading ...).
 *
 * Sanitizer builds add what LeakSanitizer's check at exit needs (it stops
 * the threads with ptrace from a cloned helper). Such builds are for
 * testing only, and their log line names the wider set.
 */
#include "syscall-filter.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "compiler.h"

#if defined(__SANITIZE_ADDRESS__)
#define SYSFILTER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SYSFILTER_SANITIZER 1
#endif
#endif

static const int allowed[] = {
    /* the libevent loop: epoll, signals delivered as events, timers (clock_gettime leaves
     * the vDSO for some clock sources, Xen's among them) */
    SCMP_SYS(epoll_wait),
    SCMP_SYS(epoll_pwait),
    SCMP_SYS(epoll_ctl),
    SCMP_SYS(poll),
    SCMP_SYS(read),
    SCMP_SYS(write),
    SCMP_SYS(writev), /* virtio-net: a frame from the guest's buffers to a tap */
    SCMP_SYS(close),
    SCMP_SYS(fcntl),
    SCMP_SYS(clock_gettime),
    SCMP_SYS(gettimeofday),
    SCMP_SYS(rt_sigaction), /* libevent restores the stop signals' handlers at teardown */
    SCMP_SYS(rt_sigprocmask),
    SCMP_SYS(rt_sigreturn),
    SCMP_SYS(restart_syscall),
    /* the Xen libraries: ioctls and mappings of /dev/xen/{privcmd,evtchn,hypercall} on
     * Xen (the hypervisor holds them to the guest after restriction), messages carrying
     * shared-memory descriptors on the mock */
    SCMP_SYS(ioctl),
    SCMP_SYS(sendmsg),
    SCMP_SYS(recvmsg),
    SCMP_SYS(sendto), /* syslog(3), libxenstore */
    SCMP_SYS(recvfrom),
    SCMP_SYS(mmap),
    SCMP_SYS(munmap),
    SCMP_SYS(madvise),
    /* libxenforeignmemory waits usleep(100) between retries of a map whose frames Xen has
     * paged out (privcmd's MMAPBATCH_V2 fails ENOENT for them): glibc's usleep is
     * clock_nanosleep, older ones nanosleep */
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    /* malloc: heap and arenas of the worker threads */
    SCMP_SYS(brk),
    SCMP_SYS(mprotect),
    SCMP_SYS(mremap),
    /* the control socket (ioreqctl) and unix-socket character backends take clients */
    SCMP_SYS(accept4),
    /* virtio-blk: worker threads and their completion eventfd, the raw-file backend
     * (fallocate and the BLK* ioctls for DISCARD and WRITE_ZEROES) */
    SCMP_SYS(futex),
    SCMP_SYS(preadv),
    SCMP_SYS(preadv2),
    SCMP_SYS(pwritev2),
    SCMP_SYS(pwritev),
    SCMP_SYS(pwrite64),
    SCMP_SYS(fdatasync),
    SCMP_SYS(fallocate),
    /* the raw backend's io_uring (set up before the filter, restricted to reads, writes
     * and syncs of the image itself: blk-uring.c) */
    SCMP_SYS(io_uring_enter),
    /* a thread started during set-up may run its own start-up code only after the filter
     * is in: glibc registers its robust list and rseq area then */
    SCMP_SYS(set_robust_list),
    SCMP_SYS(rseq),
    /* teardown: threads exit, libxenstore's reader thread is cancelled (tgkill) and
     * joined, the control socket and the pid file are checked and removed when the
     * daemon still may, stderr is pointed at /dev/null after a detached start */
    SCMP_SYS(exit),
    SCMP_SYS(exit_group),
    SCMP_SYS(tgkill),
    SCMP_SYS(getpid),
    SCMP_SYS(gettid),
    SCMP_SYS(newfstatat),
    SCMP_SYS(openat),
    SCMP_SYS(unlink),
    SCMP_SYS(dup2),
};

#ifdef SYSFILTER_SANITIZER
static const int allowed_sanitizer[] = {
    /* LeakSanitizer: a cloned tracer stops every thread with ptrace, lists them from
     * /proc/self/task, reads registers and memory; the scan reads /proc/self/maps */
    SCMP_SYS(clone),
    SCMP_SYS(clone3),
    SCMP_SYS(ptrace),
    SCMP_SYS(wait4),
    SCMP_SYS(prctl),
    SCMP_SYS(getppid),
    SCMP_SYS(sigaltstack),
    SCMP_SYS(kill),
    SCMP_SYS(open),
    SCMP_SYS(lseek),
    SCMP_SYS(getdents64),
    SCMP_SYS(getdents),
    SCMP_SYS(readlink),
    SCMP_SYS(readlinkat),
    SCMP_SYS(pread64),
    SCMP_SYS(process_vm_readv),
    SCMP_SYS(sched_yield),
    SCMP_SYS(nanosleep),
    SCMP_SYS(clock_nanosleep),
    SCMP_SYS(prlimit64),
    SCMP_SYS(getrlimit),
    SCMP_SYS(sched_getaffinity),
    SCMP_SYS(pipe2),
    SCMP_SYS(dup),
    SCMP_SYS(fstat),
    SCMP_SYS(statx),
    SCMP_SYS(uname),
};
#endif

const char *sysfilter_name(void)
{
#ifdef SYSFILTER_SANITIZER
    return "serving+sanitizer";
#else
    return "serving";
#endif
}

static int add_all(scmp_filter_ctx ctx, const int *nrs, size_t n, int *count)
{
    for (size_t i = 0; i < n; i++) {
        /* A call this architecture lacks resolves negative; the list is shared. */
        if (nrs[i] < 0)
            continue;
        int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
        if (rc && rc != -EEXIST)
            return rc;
        (*count)++;
    }
    return 0;
}

int sysfilter_install(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    int count = 0;
    int rc;

    if (!ctx)
        return -ENOMEM;
    /* Threads started during set-up (disk workers, libxenstore's reader) get it too. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    if (!rc)
        rc = add_all(ctx, allowed, ARRAY_SIZE(allowed), &count);
    /* syslog(3) reconnects to /dev/log by itself after an error: local sockets only. */
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    if (!rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0);
    if (!rc)
        count += 2;
#ifdef SYSFILTER_SANITIZER
    if (!rc)
        rc = add_all(ctx, allowed_sanitizer, ARRAY_SIZE(allowed_sanitizer), &count);
#endif
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    return rc ? rc : count;
}
