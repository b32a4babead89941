/*
 * The transport's floor: the wake-up chain of one mock ioreq, with nothing
 * else on it. On the mock a synchronous request travels
 *   vCPU thread --(4-byte port number on the evtchn stream socket)--> device
 *   model process --(UNMASK and NOTIFY, one SOCK_SEQPACKET packet each, the
 *   size of struct wire_req)--> the mock's socket thread --(mutex + condition
 *   variable)--> the vCPU thread.
 * This replays exactly those hops between two processes with plain blocking
 * system calls: no event loop, no libraries, no ioreq page. What the real
 * thing costs above this is software, not the transport.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-floor.h"
#include "bench-util.h"
#include "wire.h"

struct floor_hv {
    int wire_fd;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool notified;
    bool stop;
};

/* The device model's side: read a port, unmask it, notify it. */
static void floor_dm(int ev_fd, int wire_fd)
{
    uint32_t port;

    while (read(ev_fd, &port, sizeof(port)) == (ssize_t)sizeof(port)) {
        struct wire_req unmask = {.op = WIRE_OP_EVTCHN_UNMASK, .a = {port}};
        struct wire_req notify = {.op = WIRE_OP_EVTCHN_NOTIFY, .a = {port}};

        if (send(wire_fd, &unmask, sizeof(unmask), MSG_NOSIGNAL) < 0 ||
            send(wire_fd, &notify, sizeof(notify), MSG_NOSIGNAL) < 0)
            break;
    }
    _exit(0);
}

/* The mock's socket thread: wake the vCPU on NOTIFY. */
static void *floor_hv_thread(void *arg)
{
    struct floor_hv *h = arg;
    struct wire_req req;

    while (recv(h->wire_fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req)) {
        if (req.op != WIRE_OP_EVTCHN_NOTIFY)
            continue;
        pthread_mutex_lock(&h->lock);
        h->notified = true;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
    }
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct bench_floor {
    struct floor_hv h;
    int ev_fd;
    pid_t pid;
    pthread_t thr;
};

struct bench_floor *bench_floor_new(void)
{
    struct bench_floor *f = calloc(1, sizeof(*f));
    int ev[2], wire[2];

    if (!f)
        bench_die("out of memory");
    pthread_mutex_init(&f->h.lock, NULL);
    pthread_cond_init(&f->h.cond, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, ev) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, wire))
        bench_die("socketpair: %s", strerror(errno));
    f->pid = fork();
    if (f->pid < 0)
        bench_die("fork: %s", strerror(errno));
    if (f->pid == 0) {
        close(ev[0]);
        close(wire[0]);
        floor_dm(ev[1], wire[1]);
    }
    close(ev[1]);
    close(wire[1]);
    f->ev_fd = ev[0];
    f->h.wire_fd = wire[0];
    if (pthread_create(&f->thr, NULL, floor_hv_thread, &f->h))
        bench_die("pthread_create failed");
    return f;
}

/* One round trip, in nanoseconds. */
uint64_t bench_floor_once(struct bench_floor *f)
{
    uint32_t port = 1;
    uint64_t t0 = bench_now_ns();

    pthread_mutex_lock(&f->h.lock);
    f->h.notified = false;
    if (send(f->ev_fd, &port, sizeof(port), MSG_NOSIGNAL) != (ssize_t)sizeof(port))
        bench_die("floor: send: %s", strerror(errno));
    while (!f->h.notified && !f->h.stop)
        pthread_cond_wait(&f->h.cond, &f->h.lock);
    pthread_mutex_unlock(&f->h.lock);
    if (f->h.stop)
        bench_die("floor: peer went away");
    return bench_now_ns() - t0;
}

void bench_floor_free(struct bench_floor *f)
{
    shutdown(f->ev_fd, SHUT_RDWR);
    close(f->ev_fd);
    waitpid(f->pid, NULL, 0);
    shutdown(f->h.wire_fd, SHUT_RDWR);
    pthread_join(f->thr, NULL);
    close(f->h.wire_fd);
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
