/*
 * The transport's floor: the wake-up chain of one mock ioreq, with nothing
 * else on it. On the mock a synchronous request travels
 *   vCPU thread --(4-byte port number on the evtchn stream socket, the port
 *   masked in the shared event page)--> device model process --(unmask: a
 *   compare-and-swap on the page; notify: increment of the port's notify
 *   word and FUTEX_WAKE)--> the vCPU thread sleeping on that word.
 * (shim/PROTOCOL.md, "Event channels"; shim/hv/hv-evpage.c.) This replays
 * exactly those hops between two processes with plain blocking system calls:
 * no event loop, no libraries, no ioreq page. What the real thing costs
 * above this is software, not the transport.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-floor.h"
#include "bench-util.h"
#include "wire.h"

#define FLOOR_PORT 1

/* The device model's side: read a port, unmask it, notify it. */
static void floor_dm(int ev_fd, struct wire_evport *evp)
{
    uint32_t port;

    while (read(ev_fd, &port, sizeof(port)) == (ssize_t)sizeof(port)) {
        struct wire_evport *e = &evp[FLOOR_PORT];
        uint32_t old = __atomic_load_n(&e->state, __ATOMIC_ACQUIRE);

        __atomic_compare_exchange_n(&e->state, &old, old & ~WIRE_EVP_MASKED, false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        __atomic_fetch_add(&e->notify, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &e->notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    }
    _exit(0);
}

struct bench_floor {
    struct wire_evport *evp; /* shared with the peer, as the event page is */
    int ev_fd;
    pid_t pid;
};

struct bench_floor *bench_floor_new(void)
{
    struct bench_floor *f = calloc(1, sizeof(*f));
    int ev[2];

    if (!f)
        bench_die("out of memory");
    f->evp = mmap(NULL, sizeof(*f->evp) * WIRE_EVP_PORTS, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f->evp == MAP_FAILED)
        bench_die("mmap: %s", strerror(errno));
    f->evp[FLOOR_PORT].state = WIRE_EVP_DIRECT;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, ev))
        bench_die("socketpair: %s", strerror(errno));
    f->pid = fork();
    if (f->pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (f->pid == 0) {
        close(ev[0]);
        floor_dm(ev[1], f->evp);
    }
    close(ev[1]);
    f->ev_fd = ev[0];
    return f;
}

/* One round trip, in nanoseconds. */
uint64_t bench_floor_once(struct bench_floor *f)
{
    struct wire_evport *e = &f->evp[FLOOR_PORT];
    uint32_t port = FLOOR_PORT, seen;
    uint64_t t0 = bench_now_ns();

    seen = __atomic_load_n(&e->notify, __ATOMIC_ACQUIRE);
    __atomic_fetch_or(&e->state, WIRE_EVP_MASKED, __ATOMIC_ACQ_REL);
    if (send(f->ev_fd, &port, sizeof(port), MSG_NOSIGNAL) != (ssize_t)sizeof(port))
        bench_die("floor: send: %s", strerror(errno));
    while (__atomic_load_n(&e->notify, __ATOMIC_ACQUIRE) == seen) {
        struct timespec deadline;

        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += BENCH_TIMEOUT_MS / 1000;
        if (syscall(SYS_futex, &e->notify, FUTEX_WAIT_BITSET, seen, &deadline, NULL,
                    FUTEX_BITSET_MATCH_ANY) < 0 &&
            errno == ETIMEDOUT)
            bench_die("floor: peer went away");
    }
    return bench_now_ns() - t0;
}

void bench_floor_free(struct bench_floor *f)
{
    shutdown(f->ev_fd, SHUT_RDWR);
    close(f->ev_fd);
    waitpid(f->pid, NULL, 0);
    munmap(f->evp, sizeof(*f->evp) * WIRE_EVP_PORTS);
    free(f);
}

int bench_floor(unsigned long count, unsigned long warmup)
{
    struct bench_floor *f = bench_floor_new();
    struct bench_samples s;
    uint64_t t_all = bench_now_ns();

    if (bench_samples_init(&s, count))
        bench_die("out of memory");
    for (unsigned long i = 0; i < count + warmup; i++) {
        uint64_t ns = bench_floor_once(f);

        if (warmup && i == warmup - 1)
            t_all = bench_now_ns();
        if (i >= warmup)
            bench_samples_add(&s, ns);
    }
    t_all = bench_now_ns() - t_all;

    bench_result("rtt.floor.median_ns", (double)bench_samples_quantile(&s, 0.5));
    bench_result("rtt.floor.p99_ns", (double)bench_samples_quantile(&s, 0.99));
    bench_result("rtt.floor.count", (double)s.n);
    bench_result("rtt.floor.per_s", (double)s.n * 1e9 / (double)t_all);
    bench_floor_free(f);
    bench_samples_fini(&s);
    return 0;
}
