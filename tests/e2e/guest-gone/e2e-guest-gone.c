/*
 * The guest's domain destroyed under a running ioreqd, as `xl destroy` does
 * (mockhv_domain_destroy): the hypervisor forgets the domain, its ioreq
 * server and event channels go, xenstore fires @releaseDomain; the domain
 * stays dying while ioreqd maps its pages. ioreqd must notice (through
 * @releaseDomain, or when restricted by asking about its own server, which
 * is gone while nr_vcpus still answers), tear down with every teardown call
 * failing ENOENT or ESRCH without a warning
 * or an error in its log, remove what it owns in xenstore when it still can,
 * and exit 0. A device model of another domain (on a mock of its own: the
 * mock runs one domain) is not disturbed.
 *
 * Waits are bounded and the bounds are the assertions: ioreqd learns of
 * the destruction at once from xenstore, or within its 2-second liveness
 * tick when restricted; EXIT_MS leaves room for a slow sanitizer build.
 *
 * Usage: e2e-guest-gone /path/to/ioreqd /path/to/mockxen [test-name-pattern]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dm-process.h"
#include "ioreqd-fixture.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID     7
#define OTHER     8
#define WAIT_MS   20000
#define EXIT_MS   10000
#define COM1      0x3f8
#define UART_SCR  7
#define UART_SPEC "uart,port=0x3f8,irq=4,backend=null"
#define RAM_BYTES (16u << 20)
#define DM_DIR(d) "/local/domain/0/device-model/" #d

static const char *ioreqd_path;
static const char *mockxen_path;

struct fixture {
    char dir[64];
    struct mockhv *hv, *other_hv;
    struct dmproc dm, other_dm;
    char log[96], other_log[96], ctl[96], other_ctl[96];
};

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));

    if (!fx || scratch_dir_create(fx->dir, sizeof(fx->dir), "ioreqd-guest-gone"))
        return -1;
    /* a deprivileged ioreqd keeps writing to its log file, opened for it by us */
    chmod(fx->dir, 0755);
    if (scratch_path(fx->log, sizeof(fx->log), fx->dir, "ioreqd.log") ||
        scratch_path(fx->other_log, sizeof(fx->other_log), fx->dir, "other.log") ||
        scratch_path(fx->ctl, sizeof(fx->ctl), fx->dir, "ctl.sock") ||
        scratch_path(fx->other_ctl, sizeof(fx->other_ctl), fx->dir, "other-ctl.sock"))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    int rc;

    dmproc_fini(&fx->dm);
    dmproc_fini(&fx->other_dm);
    if (fx->hv)
        mockhv_destroy(fx->hv);
    if (fx->other_hv)
        mockhv_destroy(fx->other_hv);
    rc = scratch_dir_remove(fx->dir);
    free(fx);
    return rc;
}

static struct mockhv *start_hv(uint16_t domid)
{
    struct mockhv_config cfg = {
        .domid = domid, .nr_vcpus = 2, .mem_bytes = RAM_BYTES, .xenstore = true};
    struct mockhv *hv = NULL;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    return hv;
}

/* ioreqd in the foreground for domid with a UART, once it serves. */
static void start_ioreqd(struct dmproc *dm, struct mockhv *hv, const char *log, const char *ctl,
                         bool restricted)
{
    const char *devices[] = {UART_SPEC, NULL};
    const char *runas[] = {"--runas", "nobody:nogroup", NULL};

    e2e_ioreqd_start(dm, hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = mockhv_domid(hv),
                         .devices = devices,
                         .control_socket = ctl,
                         .log_level = "debug",
                         .more = restricted ? runas : NULL,
                         .log_path = log,
                     },
                     WAIT_MS);
}

static bool log_has(const struct dmproc *dm, const char *text)
{
    char *log = dmproc_log(dm);
    bool found = log && strstr(log, text);

    free(log);
    return found;
}

/* Waits (bounded) for text in the log; fails if ioreqd exits first. */
static void wait_log(struct dmproc *dm, const char *text)
{
    for (long waited = 0; waited < WAIT_MS; waited += 10) {
        if (log_has(dm, text))
            return;
        if (dmproc_wait_exit(dm, 0) == 0)
            break;
        sleep_ms(10);
    }
    dmproc_dump_log(dm);
    fail_msg("ioreqd never logged '%s'", text);
}

/* Lines of ioreqd's log at warning or error level that mention ESRCH. */
static int esrch_complaints(const struct dmproc *dm)
{
    char *log = dmproc_log(dm), *save = NULL;
    int n = 0;

    assert_non_null(log);
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        bool loud = strstr(line, ": warn: ") || strstr(line, ": error: ");
        if (loud && (strstr(line, strerror(ESRCH)) || strstr(line, "ESRCH"))) {
            fprintf(stderr, "complaint: %s\n", line);
            n++;
        }
    }
    free(log);
    return n;
}

static void uart_works(struct mockhv *hv, uint8_t v)
{
    uint32_t got = 0;

    assert_int_equal(mockhv_pio_out(hv, 0, COM1 + UART_SCR, 1, v, WAIT_MS), 0);
    assert_int_equal(mockhv_pio_in(hv, 1, COM1 + UART_SCR, 1, &got, WAIT_MS), 0);
    assert_int_equal(got, v);
}

static bool xs_exists(struct mockhv *hv, const char *path)
{
    char *v = NULL;
    int rc = mockhv_xenstore_read(hv, path, &v);

    free(v);
    assert_true(rc == 0 || rc == -ENOENT);
    return rc == 0;
}

/* After the domain is gone: ioreqd exits 0 by itself, quietly, leaving nothing bound. */
static void expect_clean_exit(struct fixture *fx)
{
    int rc = dmproc_stop_clean(&fx->dm, 0, EXIT_MS);

    assert_int_equal(rc, 0);
    assert_true(log_has(&fx->dm, "domain 7 is gone, shutting down"));
    assert_int_equal(esrch_complaints(&fx->dm), 0);
    /*
     * The teardown calls met the dying domain (held by ioreqd's own
     * mappings until then): its servers gone (ENOENT), and said so at
     * debug level only.
     */
    assert_true(log_has(&fx->dm, "debug: ioreq: destroy ioreq server: No such file or directory"));
    assert_int_equal(mockhv_bound_ports(fx->hv), 0);
    /* and, its mappings gone, let the domain go: no zombie */
    assert_int_equal(mockhv_domain_wait_released(fx->hv, EXIT_MS), 0);
    /* every handle closed: the mock sees each connection go, on its own thread */
    assert_int_equal(mockhv_connections_wait(fx->hv, 0, EXIT_MS), 0);
}

static void test_unrestricted(void **state)
{
    struct fixture *fx = *state;

    fx->hv = start_hv(DOMID);
    start_ioreqd(&fx->dm, fx->hv, fx->log, fx->ctl, false);
    uart_works(fx->hv, 0x5a);
    assert_true(xs_exists(fx->hv, DM_DIR(7) "/state"));
    assert_true(xs_exists(fx->hv, DM_DIR(7) "/ioreqd/pid"));

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    expect_clean_exit(fx);
    /* ioreqd removed what it wrote (the mock leaves that directory alone) */
    assert_false(xs_exists(fx->hv, DM_DIR(7) "/state"));
    assert_false(xs_exists(fx->hv, DM_DIR(7) "/ioreqd/pid"));
    assert_false(xs_exists(fx->hv, "/local/domain/7/name"));
    /* it left through the normal teardown, not an error path */
    assert_true(log_has(&fx->dm, "stopped (exit status 0)"));
}

static void test_restricted(void **state)
{
    struct fixture *fx = *state;

    /* changing users needs root; as anyone else there is nothing to test */
    if (geteuid() != 0 || !getpwnam("nobody") || !getgrnam("nogroup"))
        skip();
    /* LeakSanitizer cannot inspect a process that changed users */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
    fx->hv = start_hv(DOMID);
    start_ioreqd(&fx->dm, fx->hv, fx->log, fx->ctl, true);
    wait_log(&fx->dm, "deprivileging: Xen handles restricted to domain 7");
    uart_works(fx->hv, 0xa5);

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    expect_clean_exit(fx);
    assert_true(log_has(&fx->dm, "stopped (exit status 0)"));
}

/* How many times text occurs in the log. */
static int log_count(const struct dmproc *dm, const char *text)
{
    char *log = dmproc_log(dm);
    int n = 0;

    for (const char *p = log; p && (p = strstr(p, text)); p += strlen(text))
        n++;
    free(log);
    return n;
}

/*
 * xenstored drops its clients (libxenstore's reader sees EOF and says
 * nothing): an unrestricted ioreqd, which learns of its domain's end from
 * @releaseDomain, says so once, serves on, and finds its domain's end by
 * asking the hypervisor as a restricted one does.
 */
static void test_xenstore_lost(void **state)
{
    struct fixture *fx = *state;

    fx->hv = start_hv(DOMID);
    start_ioreqd(&fx->dm, fx->hv, fx->log, fx->ctl, false);
    uart_works(fx->hv, 0x3c);
    assert_true(mockhv_xenstore_drop_clients(fx->hv) >= 1);
    wait_log(&fx->dm, "xenstore connection lost");
    uart_works(fx->hv, 0x3d);

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    assert_int_equal(dmproc_stop_clean(&fx->dm, 0, EXIT_MS), 0);
    assert_true(log_has(&fx->dm, "domain 7 is gone, shutting down"));
    assert_true(log_has(&fx->dm, "stopped (exit status 0)"));
    assert_int_equal(log_count(&fx->dm, "xenstore connection lost"), 1);
    assert_int_equal(esrch_complaints(&fx->dm), 0);
    assert_int_equal(mockhv_bound_ports(fx->hv), 0);
}

static void test_other_domain_unaffected(void **state)
{
    struct fixture *fx = *state;
    uint16_t ids[2];

    fx->hv = start_hv(DOMID);
    fx->other_hv = start_hv(OTHER);
    start_ioreqd(&fx->dm, fx->hv, fx->log, fx->ctl, false);
    start_ioreqd(&fx->other_dm, fx->other_hv, fx->other_log, fx->other_ctl, false);
    uart_works(fx->hv, 0x11);
    uart_works(fx->other_hv, 0x22);

    assert_int_equal(mockhv_domain_destroy(fx->hv), 0);
    expect_clean_exit(fx);
    /* the other one still serves its guest, then stops normally */
    assert_true(dmproc_wait_exit(&fx->other_dm, 0) == -ETIMEDOUT);
    uart_works(fx->other_hv, 0x33);
    assert_false(log_has(&fx->other_dm, "is gone"));
    assert_true(xs_exists(fx->other_hv, DM_DIR(8) "/state"));
    assert_int_equal(mockhv_servers(fx->other_hv, ids, 2), 1);
    assert_int_equal(dmproc_stop_clean(&fx->other_dm, SIGTERM, EXIT_MS), 0);
    assert_int_equal(mockhv_servers(fx->other_hv, ids, 2), 0);
}

/* `destroy-domain` in a mockxen script, ioreqd as mockxen's device model. */
static void test_mockxen_script(void **state)
{
    struct fixture *fx = *state;
    char script[128], cmd[1024];
    FILE *f;
    int status;

    assert_int_equal(scratch_path(script, sizeof(script), fx->dir, "script"), 0);
    f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "wait-owner pio 0x3f8\n"
               "outb 0x3ff 0x42\n"
               "inb 0x3ff\n"
               "expect 0x42\n"
               "destroy-domain\n"
               /* mockxen stops the device model when the script ends: give
                  ioreqd time to see @releaseDomain first (it takes ms) */
               "sleep-ms 2000\n"
               "servers\n"
               "inb 0x3ff\n");
    fclose(f);
    /* the last access fails: the guest is gone (status 1), and mockxen says why */
    snprintf(cmd, sizeof(cmd),
             "'%s' --domid 7 --vcpus 1 --script '%s' -- '%s' --domid 7 --foreground "
             "--control-socket none --device " UART_SPEC " > '%s' 2>&1",
             mockxen_path, script, ioreqd_path, fx->log);
    status = system(cmd);
    snprintf(fx->dm.log_path, sizeof(fx->dm.log_path), "%s", fx->log);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        dmproc_dump_log(&fx->dm);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    assert_true(log_has(&fx->dm, "inb: "
                                 "Cannot send after transport endpoint shutdown"));
    assert_true(log_has(&fx->dm, "domain 7 is gone, shutting down"));
    assert_false(log_has(&fx->dm, "destroy-domain:"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unrestricted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restricted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xenstore_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_domain_unaffected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mockxen_script, setup, teardown),
    };

    if (argc < 3) {
        fprintf(stderr, "usage: %s /path/to/ioreqd /path/to/mockxen [test-name]\n", argv[0]);
        return 2;
    }
    ioreqd_path = argv[1];
    mockxen_path = argv[2];
    if (argc > 3)
        cmocka_set_test_filter(argv[3]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
