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
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dm-control.h"
#include "hostile-fixture.h"
#include "ioreqd-fixture.h"
#include "scratch-dir.h"

static const char *ioreqd_path;

void hfx_dump_stderr(struct hfx *fx)
{
    dmproc_dump_log(&fx->dm);
}

static void check_no_sanitizer_report(struct hfx *fx)
{
    if (dmproc_log_has_sanitizer_report(&fx->dm)) {
        hfx_dump_stderr(fx);
        fail_msg("ioreqd printed a sanitizer report");
    }
}

int hfx_setup(void **state)
{
    struct hfx *fx = calloc(1, sizeof(*fx));

    if (!fx || scratch_dir_create(fx->dir, sizeof(fx->dir), "ioreqd-hostile") ||
        scratch_path(fx->errpath, sizeof(fx->errpath), fx->dir, "stderr") ||
        scratch_path(fx->ctlpath, sizeof(fx->ctlpath), fx->dir, "control.sock"))
        return -1;
    fx->scr = 0x5a;
    *state = fx;
    return 0;
}

int hfx_teardown(void **state)
{
    struct hfx *fx = *state;
    int rc;

    if (getenv("IOREQD_E2E_VERBOSE"))
        hfx_dump_stderr(fx);
    dmproc_fini(&fx->dm);
    if (fx->hv)
        mockhv_destroy(fx->hv);
    rc = scratch_dir_remove(fx->dir);
    free(fx);
    return rc;
}

static void assert_alive(struct hfx *fx)
{
    if (!dmproc_running(&fx->dm)) {
        char how[64];

        hfx_dump_stderr(fx);
        dmproc_describe_status(fx->dm.wstatus, how, sizeof(how));
        fail_msg("ioreqd is gone (%s)", how);
    }
}

struct hfx_cond {
    struct hfx *fx;
    bool (*cond)(struct hfx *fx, void *arg);
    void *arg;
};

static bool cond_holds(void *opaque)
{
    struct hfx_cond *c = opaque;

    return c->cond(c->fx, c->arg);
}

void hfx_wait_until(struct hfx *fx, bool (*cond)(struct hfx *fx, void *arg), void *arg,
                    const char *what)
{
    struct hfx_cond c = {.fx = fx, .cond = cond, .arg = arg};
    int rc = dmproc_wait_for(&fx->dm, cond_holds, &c, HFX_WAIT_MS);

    if (rc == -ECHILD)
        assert_alive(fx);
    if (rc) {
        hfx_dump_stderr(fx);
        fail_msg("never happened: %s", what);
    }
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
    const char *all[20] = {"uart,port=0x3f8,irq=4,backend=null"};
    const char *no_seccomp[] = {"--no-seccomp", NULL};
    size_t n = 1;
    uint16_t ids[2];

    for (; devices && *devices && n < sizeof(all) / sizeof(all[0]) - 1; devices++)
        all[n++] = *devices;
    all[n] = NULL;
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    e2e_ioreqd_start(&fx->dm, fx->hv,
                     &(struct e2e_ioreqd){
                         .program = ioreqd_path,
                         .domid = 7,
                         .devices = all,
                         .control_socket = fx->ctlpath,
                         .log_level = "info",
                         .more = want_no_seccomp() ? no_seccomp : NULL,
                         .log_path = fx->errpath,
                         .stdin_null = true,
                     },
                     HFX_WAIT_MS);
    assert_int_equal(mockhv_servers(fx->hv, ids, 2), 1);
    fx->id = ids[0];
    hfx_serving(fx);
}

void hfx_ok(struct hfx *fx, int rc)
{
    if (rc)
        hfx_dump_stderr(fx);
    assert_int_equal(rc, 0);
}

uint32_t hfx_in(struct hfx *fx, uint16_t port, unsigned size)
{
    uint32_t v = 0xdeadbeef;

    hfx_ok(fx, mockhv_pio_in(fx->hv, 0, port, size, &v, HFX_WAIT_MS));
    return v;
}

void hfx_out(struct hfx *fx, uint16_t port, unsigned size, uint32_t v)
{
    hfx_ok(fx, mockhv_pio_out(fx->hv, 0, port, size, v, HFX_WAIT_MS));
}

uint64_t hfx_mmio_rd(struct hfx *fx, uint64_t addr, unsigned size)
{
    uint64_t v = 0xdeadbeef;

    hfx_ok(fx, mockhv_mmio_read(fx->hv, 0, addr, size, &v, HFX_WAIT_MS));
    return v;
}

void hfx_mmio_wr(struct hfx *fx, uint64_t addr, unsigned size, uint64_t v)
{
    hfx_ok(fx, mockhv_mmio_write(fx->hv, 0, addr, size, v, HFX_WAIT_MS));
}

uint32_t hfx_cfg_rd(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size)
{
    uint32_t v = 0xdeadbeef;

    hfx_ok(fx, mockhv_cfg_read(fx->hv, 0, bdf, reg, size, &v, HFX_WAIT_MS));
    return v;
}

void hfx_cfg_wr(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    hfx_ok(fx, mockhv_cfg_write(fx->hv, 0, bdf, reg, size, v, HFX_WAIT_MS));
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
    hfx_serving(fx);
    assert_int_equal(dmproc_stop_clean(&fx->dm, SIGTERM, HFX_WAIT_MS), 0);
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
    const char *p;

    assert_int_equal(dmctl_ask(fx->ctlpath, "stats\n", reply, sizeof(reply), HFX_WAIT_MS), 0);
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

    hfx_slot(fx, &cur);
    req->vp_eport = cur.vp_eport;
    req->state = STATE_IOREQ_READY;
    assert_int_equal(mockhv_raw_slot_write(fx->hv, fx->id, HFX_RAW_VCPU, req, sizeof(*req), true),
                     0);
    hfx_ok(fx, mockhv_raw_slot_wait(fx->hv, fx->id, HFX_RAW_VCPU, STATE_IORESP_READY, HFX_WAIT_MS));
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
