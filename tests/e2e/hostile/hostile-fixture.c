/*
 * See hostile-fixture.h. The daemon runs in the foreground with its stderr
 * in a file of the test's private directory, which is also where its
 * control socket lives, so cases can run in parallel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hostile-fixture.h"

extern char **environ;

static const char *ioreqd_path;

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
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    size_t got = 0;
    ssize_t n;

    while (fd >= 0 && got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    if (fd >= 0)
        close(fd);
    buf[got] = '\0';
    return buf;
}

void hfx_dump_stderr(struct hfx *fx)
{
    const char *log = slurp(fx->errpath);
    size_t len = strlen(log);

    /* The end is what matters; a flood case logs a lot (rate-limited). */
    if (len > 16384)
        log += len - 16384;
    fprintf(stderr, "---- ioreqd stderr (tail) ----\n%s\n------------------------------\n", log);
}

static void check_no_sanitizer_report(struct hfx *fx)
{
    const char *log = slurp(fx->errpath);

    if (strstr(log, "ERROR: AddressSanitizer") || strstr(log, "runtime error:") ||
        strstr(log, "ERROR: LeakSanitizer")) {
        hfx_dump_stderr(fx);
        fail_msg("ioreqd printed a sanitizer report");
    }
}

int hfx_setup(void **state)
{
    struct hfx *fx = calloc(1, sizeof(*fx));

    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/ioreqd-hostile-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->errpath, sizeof(fx->errpath), "%s/stderr", fx->dir);
    snprintf(fx->ctlpath, sizeof(fx->ctlpath), "%s/control.sock", fx->dir);
    fx->scr = 0x5a;
    *state = fx;
    return 0;
}

int hfx_teardown(void **state)
{
    struct hfx *fx = *state;
    char cmd[128];

    if (fx->pid > 0) {
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
    }
    if (getenv("IOREQD_E2E_VERBOSE"))
        hfx_dump_stderr(fx);
    if (fx->hv)
        mockhv_destroy(fx->hv);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", fx->dir);
    free(fx);
    return 0;
}

static char **child_env(struct hfx *fx)
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
    for (const char *const *e = mockhv_environ(fx->hv); *e && n < 510; e++)
        env[n++] = (char *)*e;
    env[n] = NULL;
    return env;
}

static void assert_alive(struct hfx *fx)
{
    int status;
    pid_t r = waitpid(fx->pid, &status, WNOHANG);

    if (r != 0) {
        hfx_dump_stderr(fx);
        fx->pid = 0;
        fail_msg("ioreqd is gone (wait status 0x%x)", r > 0 ? status : -1);
    }
}

void hfx_wait_until(struct hfx *fx, bool (*cond)(struct hfx *fx, void *arg), void *arg,
                    const char *what)
{
    long deadline = now_ms() + HFX_WAIT_MS;

    while (!cond(fx, arg)) {
        assert_alive(fx);
        if (now_ms() > deadline) {
            hfx_dump_stderr(fx);
            fail_msg("never happened: %s", what);
        }
        sleep_ms(1);
    }
}

static bool is_running(struct hfx *fx, void *arg)
{
    char path[64], *v = NULL;
    bool running;

    (void)arg;
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u/state", HFX_DOMID);
    running = mockhv_xenstore_read(fx->hv, path, &v) == 0 && strcmp(v, "running") == 0;
    free(v);
    return running;
}

/*
 * In a sanitizer build LeakSanitizer stops the world at exit with a tracer
 * that the system-call filter rightly forbids, and the exit never ends; the
 * filter is not what this suite tests, so such builds run without it when
 * the binary offers that.
 */
static bool want_no_seccomp(void)
{
#if HOSTILE_SANITIZE
    static int offered = -1;

    if (offered < 0) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1 | grep -q -- --no-seccomp", ioreqd_path);
        offered = system(cmd) == 0;
    }
    return offered == 1;
#else
    return false;
#endif
}

void hfx_start(struct hfx *fx, unsigned nr_vcpus, const char *const *devices)
{
    struct mockhv_config cfg = {
        .domid = HFX_DOMID, .nr_vcpus = nr_vcpus, .mem_bytes = HFX_RAM, .xenstore = true};
    const char *argv[40] = {ioreqd_path,
                            "--domid",
                            "7",
                            "--foreground",
                            "--log-level",
                            "info",
                            "--control-socket",
                            fx->ctlpath,
                            "--device",
                            "uart,port=0x3f8,irq=4,backend=null"};
    size_t n = 10;
    uint16_t ids[2];

    if (want_no_seccomp())
        argv[n++] = "--no-seccomp";

    for (; devices && *devices && n < 37; devices++) {
        argv[n++] = "--device";
        argv[n++] = *devices;
    }
    argv[n] = NULL;
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    fx->pid = fork();
    assert_true(fx->pid >= 0);
    if (fx->pid == 0) {
        int fd = open(fx->errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDWR);
        if (fd < 0 || null < 0)
            _exit(126);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        execve(ioreqd_path, (char **)argv, child_env(fx));
        _exit(127);
    }
    hfx_wait_until(fx, is_running, NULL, "ioreqd running");
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 1);
    fx->id = ids[0];
    hfx_serving(fx);
}

uint32_t hfx_in(struct hfx *fx, uint16_t port, unsigned size)
{
    uint32_t v = 0xdeadbeef;
    int rc = mockhv_pio_in(fx->hv, 0, port, size, &v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
    return v;
}

void hfx_out(struct hfx *fx, uint16_t port, unsigned size, uint32_t v)
{
    int rc = mockhv_pio_out(fx->hv, 0, port, size, v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
}

uint64_t hfx_mmio_rd(struct hfx *fx, uint64_t addr, unsigned size)
{
    uint64_t v = 0xdeadbeef;
    int rc = mockhv_mmio_read(fx->hv, 0, addr, size, &v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
    return v;
}

void hfx_mmio_wr(struct hfx *fx, uint64_t addr, unsigned size, uint64_t v)
{
    int rc = mockhv_mmio_write(fx->hv, 0, addr, size, v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
}

uint32_t hfx_cfg_rd(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size)
{
    uint32_t v = 0xdeadbeef;
    int rc = mockhv_cfg_read(fx->hv, 0, bdf, reg, size, &v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
    return v;
}

void hfx_cfg_wr(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    int rc = mockhv_cfg_write(fx->hv, 0, bdf, reg, size, v, HFX_WAIT_MS);

    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
}

void hfx_ram_wr(struct hfx *fx, uint64_t gpa, const void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_write(fx->hv, gpa, buf, len), 0);
}

void hfx_ram_rd(struct hfx *fx, uint64_t gpa, void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_read(fx->hv, gpa, buf, len), 0);
}

void hfx_serving(struct hfx *fx)
{
    assert_alive(fx);
    check_no_sanitizer_report(fx);
    assert_false(mockhv_domain_crashed(fx->hv));
    fx->scr = (uint8_t)(fx->scr * 5 + 17);
    hfx_out(fx, HFX_COM1 + HFX_SCR, 1, fx->scr);
    assert_int_equal(hfx_in(fx, HFX_COM1 + HFX_SCR, 1), fx->scr);
    /* The raw vCPU serves normally too, once its slot is handed back. */
    if (mockhv_nr_vcpus(fx->hv) > HFX_RAW_VCPU) {
        uint32_t v = 0;
        assert_int_equal(
            mockhv_pio_in(fx->hv, HFX_RAW_VCPU, HFX_COM1 + HFX_SCR, 1, &v, HFX_WAIT_MS), 0);
        assert_int_equal(v, fx->scr);
    }
    assert_alive(fx);
}

void hfx_finish(struct hfx *fx)
{
    long deadline = now_ms() + HFX_WAIT_MS;
    int status;

    hfx_serving(fx);
    assert_int_equal(kill(fx->pid, SIGTERM), 0);
    for (;;) {
        pid_t r = waitpid(fx->pid, &status, WNOHANG);
        if (r == fx->pid)
            break;
        assert_int_equal(r, 0);
        if (now_ms() > deadline) {
            hfx_dump_stderr(fx);
            fail_msg("ioreqd did not stop on SIGTERM");
        }
        sleep_ms(5);
    }
    fx->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        hfx_dump_stderr(fx);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_no_sanitizer_report(fx);
}

static uint64_t json_uint(const char *json, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(json, pat);
    if (!p)
        fail_msg("no %s in stats: %s", key, json);
    return strtoull(p + strlen(pat), NULL, 10);
}

void hfx_stats(struct hfx *fx, struct hfx_stats *st)
{
    static char reply[65536];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    size_t got = 0;
    const char *p;

    assert_true(fd >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fx->ctlpath);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, "stats\n", 6), 6);
    while (got == 0 || reply[got - 1] != '\n') {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        assert_int_equal(poll(&pfd, 1, HFX_WAIT_MS), 1);
        n = read(fd, reply + got, sizeof(reply) - 1 - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    reply[got] = '\0';
    close(fd);
    assert_true(strncmp(reply, "{\"ok\":true", 10) == 0);
    st->sync = json_uint(reply, "sync");
    st->buffered = json_uint(reply, "buffered");
    st->malformed = json_uint(reply, "malformed");
    st->unclaimed = json_uint(reply, "unclaimed");
    st->spurious = json_uint(reply, "spurious_notifications");
    /* by_type has a "timeoffset" count too; the value comes after "mapcache". */
    p = strstr(reply, "\"mapcache\"");
    assert_non_null(p);
    p = strstr(p, "\"timeoffset\":");
    assert_non_null(p);
    st->timeoffset = strtoll(p + 13, NULL, 10);
}

void hfx_slot(struct hfx *fx, ioreq_t *req)
{
    assert_int_equal(mockhv_raw_slot_read(fx->hv, fx->id, HFX_RAW_VCPU, req, sizeof(*req)), 0);
}

void hfx_slot_state(struct hfx *fx, uint8_t state, bool notify)
{
    ioreq_t cur;

    hfx_slot(fx, &cur);
    cur.state = state & 0xf;
    /* Only the byte holding state and the flags (offset 30) changes. */
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, HFX_RAW_VCPU, &cur, sizeof(cur), notify),
                     0);
}

void hfx_raw(struct hfx *fx, ioreq_t *req)
{
    ioreq_t cur;
    int rc;

    hfx_slot(fx, &cur);
    req->vp_eport = cur.vp_eport;
    req->state = STATE_IOREQ_READY;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, HFX_RAW_VCPU, req, sizeof(*req), true),
                     0);
    rc = mockhv_raw_slot_wait(fx->hv, fx->id, HFX_RAW_VCPU, STATE_IORESP_READY, HFX_WAIT_MS);
    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
    hfx_slot(fx, req);
    hfx_slot_state(fx, STATE_IOREQ_NONE, false);
}

int hfx_main(int argc, char **argv, const struct CMUnitTest *tests, size_t nr)
{
    static struct CMUnitTest picked[256];
    const char *pattern = argc > 2 ? argv[2] : "*";
    size_t n = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s /path/to/ioreqd [name-pattern]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    for (size_t i = 0; i < nr && n < 256; i++) {
        const char *name = strncmp(tests[i].name, "test_", 5) ? tests[i].name : tests[i].name + 5;
        if (fnmatch(pattern, name, 0) == 0)
            picked[n++] = tests[i];
    }
    /* A pattern that selects nothing is a broken test registration, not a pass. */
    if (n == 0) {
        fprintf(stderr, "no test matches '%s'\n", pattern);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    return _cmocka_run_group_tests(argv[0], picked, n, NULL, NULL);
}
