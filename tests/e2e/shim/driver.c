/*
 * Runs the probe (built against the real Xen libraries) on the mock with
 * LD_LIBRARY_PATH set to the shim, plays the guest against it and checks
 * every answer and what the probe left registered. Usage: driver PROBE.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mockhv.h"

#define DOMID 7
#define VCPUS 4
#define T     20000

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static pid_t spawn(const char *probe, struct mockhv *hv, int *out_fd)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        const char *libdir = getenv("IOREQD_SHIM_LIBDIR");
        char dom[16];

        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (libdir)
            setenv("LD_LIBRARY_PATH", libdir, 1);
        mockhv_setenv(hv);
        snprintf(dom, sizeof(dom), "%d", DOMID);
        execl(probe, probe, dom, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static int read_ready(int fd, unsigned *sid)
{
    char line[128];
    size_t n = 0;

    while (n < sizeof(line) - 1) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t r;

        if (poll(&pfd, 1, T) != 1)
            return -ETIMEDOUT;
        r = read(fd, line + n, 1);
        if (r <= 0)
            return -EPIPE;
        if (line[n++] == '\n')
            break;
    }
    line[n] = 0;
    return sscanf(line, "READY %u", sid) == 1 ? 0 : -EPROTO;
}

static int wait_exit(pid_t pid)
{
    struct timespec ms = {.tv_nsec = 1000000};
    int status;

    for (int i = 0; i < T; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -ETIMEDOUT;
}

struct vcpu_job {
    struct mockhv *hv;
    unsigned vcpu;
    uint32_t val;
    int rc;
};

static void *vcpu_thread(void *arg)
{
    struct vcpu_job *j = arg;

    for (int i = 0; i < 50 && !j->rc; i++)
        j->rc = mockhv_pio_in(j->hv, j->vcpu, 0x3f8, 1, &j->val, T);
    return NULL;
}

static void guest(struct mockhv *hv, unsigned sid)
{
    struct mockhv_server_info info;
    struct mockhv_range r[8];
    struct vcpu_job jobs[VCPUS];
    pthread_t th[VCPUS];
    uint32_t v = 0;
    uint64_t q = 0;

    EXPECT(mockhv_server_info(hv, (uint16_t)sid, &info) == 0, "server info");
    EXPECT(info.enabled && info.nr_vcpu_ports_bound == VCPUS && info.bufioreq_port_bound,
           "enabled %d ports %u buf %d", info.enabled, info.nr_vcpu_ports_bound,
           info.bufioreq_port_bound);
    EXPECT(mockhv_server_ranges(hv, (uint16_t)sid, r, 8) == 3, "three ranges");
    EXPECT(r[0].type == MOCKHV_RANGE_PIO && r[0].start == 0x3f8 && r[0].end == 0x3ff, "pio range");
    EXPECT(r[1].type == MOCKHV_RANGE_MMIO && r[1].start == 0xa0000 && r[1].end == 0xbffff,
           "mmio range");
    EXPECT(r[2].type == MOCKHV_RANGE_PCI && r[2].start == 0x18, "pci function");

    for (unsigned i = 0; i < VCPUS; i++) {
        jobs[i] = (struct vcpu_job){.hv = hv, .vcpu = i};
        pthread_create(&th[i], NULL, vcpu_thread, &jobs[i]);
    }
    for (unsigned i = 0; i < VCPUS; i++) {
        pthread_join(th[i], NULL);
        EXPECT(jobs[i].rc == 0 && jobs[i].val == 0x41 + i, "vcpu %u: rc %d val %#x", i, jobs[i].rc,
               jobs[i].val);
    }
    EXPECT(mockhv_pio_out(hv, 1, 0x3f9, 1, 0x5a, T) == 0, "outb");
    EXPECT(mockhv_pio_in(hv, 2, 0x3f9, 1, &v, T) == 0 && v == 0x5a, "echo %#x", v);
    EXPECT(mockhv_cfg_read(hv, 0, 0x18, 0, 4, &v, T) == 0 && v == 0x12345853, "cfg id %#x", v);
    EXPECT(mockhv_cfg_read(hv, 0, 0x18, 2, 2, &v, T) == 0 && v == 0x1234, "cfg device %#x", v);
    EXPECT(mockhv_cfg_read(hv, 0, 0x20, 0, 4, &v, T) == 0 && v == 0xffffffff, "unowned cfg %#x", v);
    EXPECT(mockhv_pio_in(hv, 0, 0x80, 1, &v, T) == 0 && v == 0xff, "unclaimed port %#x", v);
    EXPECT(mockhv_buf_write(hv, 0, true, 0xa0000, 4, 0x11111111, T) == 0, "buffered dword");
    EXPECT(mockhv_buf_write(hv, 0, true, 0xa0008, 8, 0x2222222233333333ull, T) == 0,
           "buffered qword");
    EXPECT(mockhv_pio_in(hv, 3, 0x3fa, 1, &v, T) == 0 && v == 2, "buffered seen %u", v);
    EXPECT(mockhv_pio_in(hv, 3, 0x3fc, 4, &v, T) == 0 && v == 0x22222222, "qword high %#x", v);
    EXPECT(mockhv_mmio_read(hv, 1, 0xa0008, 8, &q, T) == 0 && q == 0x2222222233333333ull,
           "mmio qword %#llx", (unsigned long long)q);
    EXPECT(mockhv_invalidate(hv, 0, T) == 0, "invalidate");
    EXPECT(mockhv_pio_out(hv, 0, 0x3ff, 1, 0xff, T) == 0, "quit");
}

int main(int argc, char **argv)
{
    struct mockhv_config cfg = {.domid = DOMID,
                                .nr_vcpus = VCPUS,
                                .mem_bytes = 64 << 20,
                                .xenstore = true,
                                .name = "probe-guest"};
    struct mockhv *hv;
    unsigned sid = 0;
    int fd = -1, rc;
    pid_t pid;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PROBE\n", argv[0]);
        return 2;
    }
    rc = mockhv_create(&hv, &cfg);
    if (rc) {
        fprintf(stderr, "mockhv_create: %s\n", strerror(-rc));
        return 1;
    }
    pid = spawn(argv[1], hv, &fd);
    EXPECT(pid > 0, "spawn");
    rc = read_ready(fd, &sid);
    EXPECT(rc == 0, "probe not ready: %s", strerror(-rc));
    if (!rc)
        guest(hv, sid);
    rc = wait_exit(pid);
    EXPECT(rc == 0, "probe exit %d", rc);
    EXPECT(mockhv_servers(hv, NULL, 0) == 0, "server left behind");
    EXPECT(mockhv_bound_ports(hv) == 0, "ports left bound");
    close(fd);
    mockhv_destroy(hv);
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
