/*
 * The real ioreqd binary serving a domain of the mock hypervisor: register
 * accesses through a UART, concurrent vCPUs, buffered and synchronous
 * requests in order, the xenstore contract with the toolstack, teardown on
 * every stop signal, daemonizing, and the hypervisor going away.
 *
 * Usage: e2e-daemon /path/to/ioreqd [test-name-pattern]
 *
 * Waits are bounded (a hung daemon fails the test instead of hanging it) but
 * nothing asserts on how long anything took.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "mockhv.h"

#define DOMID     7
#define WAIT_MS   20000
#define COM1      0x3f8
#define UART_SCR  7 /* scratch register */
#define UART_LSR  5
#define UART_IIR  2
#define UART_LCR  3
#define UART_DLL  0
#define UART_DLM  1
#define UART_SPEC "uart,port=0x3f8,irq=4,backend=null"

extern char **environ;

static const char *ioreqd_path;

struct fixture {
    struct mockhv *hv;
    pid_t pid; /* ioreqd, or the launcher when detached */
    char dir[64];
    char errpath[96];
    char ctlpath[96]; /* control socket, private to the test */
    struct xs_handle *xs;
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
    int fd = open(path, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void dump_stderr(struct fixture *fx)
{
    fprintf(stderr, "---- ioreqd stderr ----\n%s-----------------------\n", slurp(fx->errpath));
}

static void start_hv(struct fixture *fx, unsigned nr_vcpus)
{
    struct mockhv_config cfg = {
        .domid = DOMID,
        .nr_vcpus = nr_vcpus,
        .mem_bytes = 64 << 20,
        .xenstore = true,
    };

    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    /* This process talks to the mock xenstored with the real libxenstore. */
    assert_int_equal(setenv("XENSTORED_PATH", mockhv_xenstored_path(fx->hv), 1), 0);
    fx->xs = xs_open(0);
    assert_non_null(fx->xs);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/ioreqd-e2e-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->errpath, sizeof(fx->errpath), "%s/stderr", fx->dir);
    snprintf(fx->ctlpath, sizeof(fx->ctlpath), "%s/control.sock", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    if (fx->pid > 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
    }
    if (getenv("IOREQD_E2E_VERBOSE"))
        dump_stderr(fx);
    if (fx->xs)
        xs_close(fx->xs);
    if (fx->hv)
        mockhv_destroy(fx->hv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

/* The child's environment: ours, the drop-in libraries first, the mock's variables. */
static char **child_env(struct fixture *fx)
{
    static char libpath[1024];
    static char *env[512];
    const char *shim = getenv("IOREQD_SHIM_LIBDIR");
    const char *old = getenv("LD_LIBRARY_PATH");
    size_t n = 0;

    for (char **e = environ; *e && n < 400; e++)
        if (strncmp(*e, "LD_LIBRARY_PATH=", 16) && strncmp(*e, "MOCKXEN_SOCKET=", 15) &&
            strncmp(*e, "XENSTORED_PATH=", 15))
            env[n++] = *e;
    snprintf(libpath, sizeof(libpath), "LD_LIBRARY_PATH=%s%s%s", shim ? shim : "", old ? ":" : "",
             old ? old : "");
    env[n++] = libpath;
    if (fx->hv)
        for (const char *const *e = mockhv_environ(fx->hv); *e && n < 510; e++)
            env[n++] = (char *)*e;
    env[n] = NULL;
    return env;
}

/* Runs ioreqd with args (NULL-terminated), stderr to fx->errpath. */
static pid_t spawn(struct fixture *fx, const char *const *args)
{
    const char *argv[32] = {ioreqd_path};
    char **env = child_env(fx);
    size_t n = 1;
    pid_t pid;

    while (*args && n < 31)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(fx->errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        if (fd < 0 || null < 0)
            _exit(126);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execve(ioreqd_path, (char **)argv, env);
        _exit(127);
    }
    return pid;
}

/* Waits for pid to exit (bounded); returns its wait status. */
static int wait_exit(struct fixture *fx, pid_t pid)
{
    long deadline = now_ms() + WAIT_MS;
    int status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        assert_int_equal(r, 0);
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("ioreqd (pid %ld) did not exit", (long)pid);
        }
        sleep_ms(10);
    }
}

static char *xs_getf(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *xs_getf(struct fixture *fx, const char *fmt, ...)
{
    static char value[1024];
    char path[256];
    unsigned len;
    va_list ap;
    char *v;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    v = xs_read(fx->xs, XBT_NULL, path, &len);
    if (!v)
        return NULL;
    snprintf(value, sizeof(value), "%s", v);
    free(v);
    return value;
}

static bool xs_exists(struct fixture *fx, const char *path)
{
    unsigned len;
    void *v = xs_read(fx->xs, XBT_NULL, path, &len);

    free(v);
    return v != NULL;
}

/* Waits until `path` reads `value`, failing early if ioreqd exits. */
static void wait_xs_value(struct fixture *fx, pid_t pid, const char *path, const char *value)
{
    long deadline = now_ms() + WAIT_MS;

    assert_true(xs_watch(fx->xs, path, "wait"));
    for (;;) {
        unsigned len;
        char *v = xs_read(fx->xs, XBT_NULL, path, &len);
        bool done = v && strcmp(v, value) == 0;
        struct pollfd pfd = {.fd = xs_fileno(fx->xs), .events = POLLIN};
        char **vec;
        int status;

        free(v);
        if (done)
            break;
        if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
            dump_stderr(fx);
            fail_msg("ioreqd exited (status 0x%x) before %s = %s", status, path, value);
        }
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("%s never became '%s'", path, value);
        }
        poll(&pfd, 1, 50);
        while ((vec = xs_check_watch(fx->xs)))
            free(vec);
    }
    xs_unwatch(fx->xs, path, "wait");
    while (xs_check_watch(fx->xs))
        ;
}

static const char *state_path(void)
{
    static char path[64];
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", DOMID);
    return path;
}

/* ioreqd in the foreground with these devices, serving once this returns. */
static void start_ioreqd(struct fixture *fx, const char *const *devices)
{
    const char *args[24] = {"--domid",          "7",        "--foreground", "--log-level", "debug",
                            "--control-socket", fx->ctlpath};
    size_t n = 7;

    for (; devices && *devices && n < 22; devices++) {
        args[n++] = "--device";
        args[n++] = *devices;
    }
    args[n] = NULL;
    fx->pid = spawn(fx, args);
    wait_xs_value(fx, fx->pid, state_path(), "running");
}

static uint32_t pio_in(struct fixture *fx, unsigned vcpu, uint16_t port)
{
    uint32_t v = 0xdeadbeef;
    assert_int_equal(mockhv_pio_in(fx->hv, vcpu, port, 1, &v, WAIT_MS), 0);
    return v;
}

static void pio_out(struct fixture *fx, unsigned vcpu, uint16_t port, uint32_t v)
{
    assert_int_equal(mockhv_pio_out(fx->hv, vcpu, port, 1, v, WAIT_MS), 0);
}

/* ---- tests ---- */

static void test_uart_registers(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    struct mockhv_range ranges[16];
    uint16_t ids[4];
    int nr;

    start_hv(fx, 1);
    start_ioreqd(fx, devs);

    /* The UART's eight ports are routed to ioreqd's one server. */
    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 1);
    nr = mockhv_server_ranges(fx->hv, ids[0], ranges, 16);
    assert_true(nr >= 1);
    bool found = false;
    for (int i = 0; i < nr; i++)
        if (ranges[i].type == MOCKHV_RANGE_PIO && ranges[i].start == COM1 &&
            ranges[i].end == COM1 + 7)
            found = true;
    assert_true(found);

    /* Power-on state of a 16550A: transmitter empty, no interrupt pending. */
    assert_int_equal(pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_IIR), 0x01);
    /* Scratch register keeps what it is given. */
    pio_out(fx, 0, COM1 + UART_SCR, 0xa5);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_SCR), 0xa5);
    pio_out(fx, 0, COM1 + UART_SCR, 0x5a);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_SCR), 0x5a);
    /* Divisor latch behind DLAB. */
    pio_out(fx, 0, COM1 + UART_LCR, 0x83);
    pio_out(fx, 0, COM1 + UART_DLL, 0x0c);
    pio_out(fx, 0, COM1 + UART_DLM, 0x01);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_DLL), 0x0c);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_DLM), 0x01);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_LCR), 0x83);
    pio_out(fx, 0, COM1 + UART_LCR, 0x03);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_LCR), 0x03);
    /* A port nobody claimed is answered by the mock with all-ones. */
    assert_int_equal(pio_in(fx, 0, 0x3f0), 0xff);
}

struct vcpu_job {
    struct fixture *fx;
    unsigned vcpu;
    uint16_t base;
    unsigned iterations;
    unsigned mismatches;
    int error;
};

static void *vcpu_thread(void *opaque)
{
    struct vcpu_job *job = opaque;

    for (unsigned k = 0; k < job->iterations; k++) {
        uint32_t want = (job->vcpu * 37 + k * 11) & 0xff, got = 0;
        int rc = mockhv_pio_out(job->fx->hv, job->vcpu, job->base + UART_SCR, 1, want, WAIT_MS);
        if (!rc)
            rc = mockhv_pio_in(job->fx->hv, job->vcpu, job->base + UART_SCR, 1, &got, WAIT_MS);
        if (rc) {
            job->error = rc;
            break;
        }
        if (got != want)
            job->mismatches++;
    }
    return NULL;
}

static void test_concurrent_vcpus(void **state)
{
    struct fixture *fx = *state;
    static const uint16_t bases[] = {0x3f8, 0x2f8, 0x3e8, 0x2e8};
    const char *devs[] = {
        "uart,port=0x3f8,irq=4,backend=null", "uart,port=0x2f8,irq=3,backend=null",
        "uart,port=0x3e8,irq=5,backend=null", "uart,port=0x2e8,irq=6,backend=null", NULL};
    struct vcpu_job jobs[4];
    pthread_t threads[4];
    struct mockhv_server_info info;
    uint16_t id;

    start_hv(fx, 4);
    start_ioreqd(fx, devs);
    /* Each vCPU owns one UART's scratch register, so every value read is exact. */
    for (unsigned i = 0; i < 4; i++) {
        jobs[i] = (struct vcpu_job){.fx = fx, .vcpu = i, .base = bases[i], .iterations = 500};
        assert_int_equal(pthread_create(&threads[i], NULL, vcpu_thread, &jobs[i]), 0);
    }
    for (unsigned i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].error, 0);
        assert_int_equal(jobs[i].mismatches, 0);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(pio_in(fx, i, bases[i] + UART_SCR), (i * 37 + 499 * 11) & 0xff);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_int_equal(mockhv_server_info(fx->hv, id, &info), 0);
    assert_int_equal(info.nr_vcpus, 4);
    assert_int_equal(info.nr_vcpu_ports_bound, 4);
    assert_true(info.requests_sent >= 4 * 500 * 2 + 4);
}

static void test_buffered_then_sync_ordering(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    struct mockhv_server_info info;
    uint16_t id;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    /*
     * Buffered writes to the scratch register, a synchronous read every few:
     * it must see the last buffered value, because ioreqd drains the ring
     * before serving a synchronous request.
     */
    for (unsigned i = 0; i < 2000; i++) {
        assert_int_equal(
            mockhv_buf_write(fx->hv, i & 1, false, COM1 + UART_SCR, 1, i & 0xff, WAIT_MS), 0);
        if (i % 7 == 6)
            assert_int_equal(pio_in(fx, (i >> 3) & 1, COM1 + UART_SCR), i & 0xff);
    }
    /* A synchronous write, then buffered ones, then a read: program order holds. */
    pio_out(fx, 0, COM1 + UART_SCR, 0x11);
    assert_int_equal(mockhv_buf_write(fx->hv, 0, false, COM1 + UART_SCR, 1, 0x22, WAIT_MS), 0);
    assert_int_equal(mockhv_buf_write(fx->hv, 1, false, COM1 + UART_SCR, 1, 0x33, WAIT_MS), 0);
    assert_int_equal(pio_in(fx, 1, COM1 + UART_SCR), 0x33);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_int_equal(mockhv_server_info(fx->hv, id, &info), 0);
    assert_true(info.buffered_sent > 0);
}

static void test_xenstore_inventory(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    const char *dm = "/local/domain/0/device-model/7";
    char pid[16];
    uint16_t id;

    start_hv(fx, 3);
    start_ioreqd(fx, devs);
    snprintf(pid, sizeof(pid), "%ld", (long)fx->pid);
    assert_int_equal(mockhv_servers(fx->hv, &id, 1), 1);
    assert_string_equal(xs_getf(fx, "%s/state", dm), "running");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/pid", dm), pid);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/version", dm), "0.1.0");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/vcpus", dm), "3");
    char sid[16];
    snprintf(sid, sizeof(sid), "%u", (unsigned)id);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/server-id", dm), sid);
    assert_string_equal(xs_getf(fx, "%s/ioreqd/devices", dm), "1");
    assert_string_equal(xs_getf(fx, "%s/ioreqd/devices/0/type", dm), "uart");
    assert_true(strncmp(xs_getf(fx, "%s/ioreqd/devices/0", dm), "uart", 4) == 0);
}

/* Stop with `sig`; everything ioreqd set up must be gone, and nothing else. */
static void stop_and_check_clean(struct fixture *fx, int sig)
{
    const char *devs[] = {UART_SPEC, NULL};
    const char *dm = "/local/domain/0/device-model/7";
    char path[128];
    uint16_t ids[4];
    int status;

    start_hv(fx, 2);
    /* Something another tool wrote before: it must survive ioreqd's cleanup. */
    snprintf(path, sizeof(path), "%s/other-tool", dm);
    assert_true(xs_write(fx->xs, XBT_NULL, path, "keep", 4));
    start_ioreqd(fx, devs);
    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 1);
    assert_true(mockhv_bound_ports(fx->hv) >= 3);

    assert_int_equal(kill(fx->pid, sig), 0);
    status = wait_exit(fx, fx->pid);
    fx->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        dump_stderr(fx);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(mockhv_servers(fx->hv, ids, 4), 0);
    assert_int_equal(mockhv_bound_ports(fx->hv), 0);
    snprintf(path, sizeof(path), "%s/state", dm);
    assert_false(xs_exists(fx, path));
    snprintf(path, sizeof(path), "%s/ioreqd", dm);
    assert_false(xs_exists(fx, path));
    assert_string_equal(xs_getf(fx, "%s/other-tool", dm), "keep");
    assert_non_null(strstr(slurp(fx->errpath), "shutting down"));
}

static void test_sigterm_teardown(void **state)
{
    stop_and_check_clean(*state, SIGTERM);
}

static void test_sighup_teardown(void **state)
{
    stop_and_check_clean(*state, SIGHUP);
}

static void test_sigint_teardown(void **state)
{
    stop_and_check_clean(*state, SIGINT);
}

static void test_no_keys_left_when_dir_was_new(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    int status;

    start_hv(fx, 1);
    /* libxl (and the mock) create the directory; a toolstack that does not leaves it to us. */
    assert_true(xs_rm(fx->xs, XBT_NULL, "/local/domain/0/device-model/7"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7"));
    start_ioreqd(fx, devs);
    assert_true(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd/pid"));
    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    status = wait_exit(fx, fx->pid);
    fx->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7"));
}

static void test_uart_pty_published(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {"uart,port=0x3f8,irq=4,backend=pty", NULL};
    char tty[128], buf[8];
    struct termios raw;
    size_t got = 0;
    int fd, status;

    start_hv(fx, 1);
    start_ioreqd(fx, devs);
    /* Where `xl console -t serial` looks, and in the device's inventory line. */
    assert_non_null(xs_getf(fx, "/local/domain/7/serial/0/tty"));
    snprintf(tty, sizeof(tty), "%s", xs_getf(fx, "/local/domain/7/serial/0/tty"));
    assert_true(strncmp(tty, "/dev/pts/", 9) == 0);
    assert_non_null(strstr(xs_getf(fx, "/local/domain/0/device-model/7/ioreqd/devices/0"), tty));

    /* The guest's bytes come out of that terminal. */
    fd = open(tty, O_RDWR | O_NOCTTY);
    assert_true(fd >= 0);
    assert_int_equal(tcgetattr(fd, &raw), 0);
    cfmakeraw(&raw);
    assert_int_equal(tcsetattr(fd, TCSANOW, &raw), 0);
    pio_out(fx, 0, COM1, 'h');
    pio_out(fx, 0, COM1, 'i');
    while (got < 2) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, 2);
    assert_memory_equal(buf, "hi", 2);
    close(fd);

    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    status = wait_exit(fx, fx->pid);
    fx->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_false(xs_exists(fx, "/local/domain/7/serial/0"));
    /* The toolstack's own keys for the guest are untouched. */
    assert_true(xs_exists(fx, "/local/domain/7/name"));
}

/*
 * @releaseDomain fires for every domain that goes; ioreqd must only stop when
 * the hypervisor agrees its own guest is gone. Xenstore forgetting the
 * domain while the hypervisor still runs it is not enough.
 */
static void test_release_of_live_domain_keeps_serving(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    long deadline;

    start_hv(fx, 1);
    start_ioreqd(fx, devs);
    pio_out(fx, 0, COM1 + UART_SCR, 0x42);
    assert_true(xs_release_domain(fx->xs, DOMID));
    deadline = now_ms() + WAIT_MS;
    while (!strstr(slurp(fx->errpath), "still runs it: serving on")) {
        if (now_ms() > deadline) {
            dump_stderr(fx);
            fail_msg("ioreqd did not react to @releaseDomain");
        }
        sleep_ms(10);
    }
    assert_int_equal(waitpid(fx->pid, NULL, WNOHANG), 0);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_SCR), 0x42);
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");
}

/* One request line on the control socket, one reply line back. */
static char *control_ask(struct fixture *fx, const char *request)
{
    static char reply[65536];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t got = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->ctlpath);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, request, strlen(request)), (int)strlen(request));
    while (got == 0 || reply[got - 1] != '\n') {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;
        assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
        n = read(fd, reply + got, sizeof(reply) - 1 - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    reply[got] = '\0';
    close(fd);
    return reply;
}

static void test_control_socket(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    const char *second[] = {"--domid", "7", "--foreground", "--control-socket", fx->ctlpath, NULL};
    struct stat st;
    char expect[64];
    char *reply;
    int status;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    /* Only root (the owner) may talk to it. */
    assert_int_equal(stat(fx->ctlpath, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);

    reply = control_ask(fx, "status\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    assert_non_null(strstr(reply, "\"domid\":7"));
    snprintf(expect, sizeof(expect), "\"pid\":%ld", (long)fx->pid);
    assert_non_null(strstr(reply, expect));
    assert_non_null(strstr(reply, "\"vcpus\":2"));
    assert_non_null(strstr(reply, "\"type\":\"uart\""));

    pio_out(fx, 1, COM1 + UART_SCR, 1);
    reply = control_ask(fx, "stats\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    assert_non_null(strstr(reply, "\"per_vcpu\""));

    /* A second daemon for the same socket refuses to start. */
    status = wait_exit(fx, spawn(fx, second));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(slurp(fx->errpath), "is in use"));
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");

    /* ioreqctl stop: an orderly exit, socket removed. */
    reply = control_ask(fx, "stop\n");
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    status = wait_exit(fx, fx->pid);
    fx->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(access(fx->ctlpath, F_OK), -1);
    assert_false(xs_exists(fx, state_path()));
}

static void test_hypervisor_gone(void **state)
{
    struct fixture *fx = *state;
    const char *devs[] = {UART_SPEC, NULL};
    int status;

    start_hv(fx, 2);
    start_ioreqd(fx, devs);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    xs_close(fx->xs);
    fx->xs = NULL;
    mockhv_destroy(fx->hv);
    fx->hv = NULL;

    status = wait_exit(fx, fx->pid);
    fx->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        dump_stderr(fx);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(slurp(fx->errpath), "hypervisor connection failed"));
}

static void test_daemonized(void **state)
{
    struct fixture *fx = *state;
    char pidfile[128], pidtext[16];
    const char *args[] = {"--domid",          "7",         "--device", UART_SPEC,
                          "--pidfile",        pidfile,     "--log",    "stderr",
                          "--control-socket", fx->ctlpath, NULL};
    pid_t launcher, daemon_pid;
    int status;

    snprintf(pidfile, sizeof(pidfile), "%s/ioreqd.pid", fx->dir);
    start_hv(fx, 1);
    /* The detached daemon is re-parented to us, so its exit status can be checked. */
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    launcher = spawn(fx, args);
    status = wait_exit(fx, launcher);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        dump_stderr(fx);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* The launcher returns only once the daemon serves: no waiting here. */
    assert_string_equal(xs_getf(fx, "%s", state_path()), "running");
    daemon_pid = (pid_t)atol(slurp(pidfile));
    assert_true(daemon_pid > 0);
    assert_true(daemon_pid != launcher);
    snprintf(pidtext, sizeof(pidtext), "%ld", (long)daemon_pid);
    assert_string_equal(xs_getf(fx, "/local/domain/0/device-model/7/ioreqd/pid"), pidtext);
    assert_int_equal(pio_in(fx, 0, COM1 + UART_LSR), 0x60);
    /* A session of its own, which it does not lead: it can never get a controlling tty. */
    assert_true(getsid(daemon_pid) > 0);
    assert_true(getsid(daemon_pid) != getsid(0));
    assert_true(getsid(daemon_pid) != daemon_pid);

    fx->pid = daemon_pid;
    assert_int_equal(kill(daemon_pid, SIGTERM), 0);
    status = wait_exit(fx, daemon_pid);
    fx->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(access(pidfile, F_OK), -1);
    assert_false(xs_exists(fx, state_path()));
    /* --log stderr kept the launcher's stderr open for the daemon's later messages. */
    assert_non_null(strstr(slurp(fx->errpath), "shutting down"));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_daemonized_start_failure(void **state)
{
    struct fixture *fx = *state;
    const char *bad_option[] = {
        "--domid",          "7",         "--device", "uart,port=0x3f8,bogus-option=1",
        "--control-socket", fx->ctlpath, NULL};
    const char *no_domain[] = {"--domid",          "9",         "--device", UART_SPEC,
                               "--control-socket", fx->ctlpath, NULL};
    int status;

    start_hv(fx, 1);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    /* A spec the device rejects: usage error, reported by the launcher. */
    status = wait_exit(fx, spawn(fx, bad_option));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 2)
        dump_stderr(fx);
    assert_int_equal(WEXITSTATUS(status), 2);
    assert_non_null(strstr(slurp(fx->errpath), "bogus-option"));
    /* A domain the hypervisor does not have: run-time failure. */
    status = wait_exit(fx, spawn(fx, no_domain));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 1)
        dump_stderr(fx);
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_non_null(strstr(slurp(fx->errpath), "domain 9"));
    /* The daemons that failed are gone (reaped by us as subreaper). */
    while (waitpid(-1, &status, WNOHANG) > 0)
        ;
    uint16_t ids[2];
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 0);
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/state"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/7/ioreqd"));
    assert_false(xs_exists(fx, "/local/domain/0/device-model/9"));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_uart_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_vcpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffered_then_sync_ordering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint_teardown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_keys_left_when_dir_was_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uart_pty_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_of_live_domain_keeps_serving, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hypervisor_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemonized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_daemonized_start_failure, setup, teardown),
    };

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/ioreqd [test-name]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    if (argc > 2)
        cmocka_set_test_filter(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
