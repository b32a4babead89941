/*
 * dfx: the daemon e2e suites' fixture (see daemon-fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "daemon-fixture.h"
#include "dm-control.h"
#include "scratch-dir.h"

int dfx_init(struct dfx *fx, const char *tag)
{
    int rc;

    memset(fx, 0, sizeof(*fx));
    rc = scratch_dir_create(fx->dir, sizeof(fx->dir), tag);
    if (!rc)
        rc = scratch_path(fx->errpath, sizeof(fx->errpath), fx->dir, "stderr");
    if (!rc)
        rc = scratch_path(fx->ctlpath, sizeof(fx->ctlpath), fx->dir, "control.sock");
    return rc;
}

int dfx_fini(struct dfx *fx)
{
    if (getenv("IOREQD_E2E_VERBOSE"))
        dmproc_dump_log(&fx->dm);
    dmproc_fini(&fx->dm);
    if (fx->xs)
        xs_close(fx->xs);
    fx->xs = NULL;
    if (fx->hv)
        mockhv_destroy(fx->hv);
    fx->hv = NULL;
    return fx->dir[0] ? scratch_dir_remove(fx->dir) : 0;
}

void dfx_start_hv(struct dfx *fx, uint16_t domid, unsigned nr_vcpus, uint64_t mem_bytes)
{
    struct mockhv_config cfg = {
        .domid = domid,
        .nr_vcpus = nr_vcpus,
        .mem_bytes = mem_bytes,
        .xenstore = true,
    };

    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    /* This process talks to the mock xenstored with the real libxenstore. */
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    fx->xs = xs_open(0);
    assert_non_null(fx->xs);
}

void dfx_destroy_hv(struct dfx *fx)
{
    xs_close(fx->xs);
    fx->xs = NULL;
    dmproc_xs_close(&fx->dm);
    mockhv_destroy(fx->hv);
    fx->hv = NULL;
}

void dfx_spawn(struct dfx *fx, struct dmproc *p, const char *program, const char *const *args,
               const char *const *env)
{
    assert_int_equal(dmproc_start(p, fx->hv,
                                  &(struct dmproc_config){
                                      .program = program,
                                      .shim_libdir = getenv("IOREQD_SHIM_LIBDIR"),
                                      .args = args,
                                      .log_path = fx->errpath,
                                      .env = env,
                                      .stdin_null = true,
                                  }),
                     0);
}

int dfx_wait_exit(struct dmproc *p)
{
    if (dmproc_wait_exit(p, DFX_WAIT_MS)) {
        dmproc_dump_log(p);
        fail_msg("ioreqd (pid %ld) did not exit", (long)p->pid);
    }
    return p->wstatus;
}

int dfx_signal_and_wait(struct dfx *fx, int sig)
{
    assert_true(fx->dm.pid > 0);
    assert_int_equal(kill(fx->dm.pid, sig), 0);
    return dfx_wait_exit(&fx->dm);
}

bool dfx_log_has(struct dfx *fx, const char *text)
{
    return dmproc_log_has(&fx->dm, text);
}

char *dfx_control_ask(struct dfx *fx, const char *request)
{
    static char reply[65536];

    assert_int_equal(dmctl_ask(fx->ctlpath, request, reply, sizeof(reply), DFX_WAIT_MS), 0);
    return reply;
}

uint32_t dfx_pio_in(struct dfx *fx, unsigned vcpu, uint16_t port)
{
    uint32_t v = 0xdeadbeef;

    assert_int_equal(mockhv_pio_in(fx->hv, vcpu, port, 1, &v, DFX_WAIT_MS), 0);
    return v;
}

void dfx_pio_out(struct dfx *fx, unsigned vcpu, uint16_t port, uint32_t v)
{
    assert_int_equal(mockhv_pio_out(fx->hv, vcpu, port, 1, v, DFX_WAIT_MS), 0);
}
