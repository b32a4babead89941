/* Starting ioreqd in an e2e test (ioreqd-fixture.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ioreqd-fixture.h"

/* Appends the non-NULL ones of a and b; -E2BIG when args is full. */
static int add(const char *args[E2E_IOREQD_MAX_ARGS], size_t *n, const char *a, const char *b)
{
    if (*n + 2 >= E2E_IOREQD_MAX_ARGS)
        return -E2BIG;
    if (a)
        args[(*n)++] = a;
    if (b)
        args[(*n)++] = b;
    return 0;
}

int e2e_ioreqd_args(const struct e2e_ioreqd *o, char domid[16],
                    const char *args[E2E_IOREQD_MAX_ARGS])
{
    size_t n = 0;
    int rc;

    snprintf(domid, 16, "%u", o->domid);
    rc = add(args, &n, "--domid", domid);
    if (!rc)
        rc = add(args, &n, "--foreground", NULL);
    if (!rc && o->log_level)
        rc = add(args, &n, "--log-level", o->log_level);
    if (!rc && o->log)
        rc = add(args, &n, "--log", o->log);
    if (!rc && o->control_socket)
        rc = add(args, &n, "--control-socket", o->control_socket);
    for (const char *const *d = o->devices; !rc && d && *d; d++)
        rc = add(args, &n, "--device", *d);
    for (const char *const *m = o->more; !rc && m && *m; m++)
        rc = add(args, &n, *m, NULL);
    args[n] = NULL;
    return rc;
}

void e2e_ioreqd_spawn(struct dmproc *dm, struct mockhv *hv, const struct e2e_ioreqd *o)
{
    const char *args[E2E_IOREQD_MAX_ARGS];
    char domid[16];

    assert_int_equal(e2e_ioreqd_args(o, domid, args), 0);
    assert_int_equal(dmproc_start(dm, hv,
                                  &(struct dmproc_config){
                                      .program = o->program,
                                      .shim_libdir = getenv("IOREQD_SHIM_LIBDIR"),
                                      .args = args,
                                      .log_path = o->log_path,
                                      .env = o->env,
                                      .stdin_null = o->stdin_null,
                                  }),
                     0);
}

void e2e_ioreqd_start(struct dmproc *dm, struct mockhv *hv, const struct e2e_ioreqd *o,
                      int timeout_ms)
{
    e2e_ioreqd_spawn(dm, hv, o);
    if (dmproc_wait_running(dm, timeout_ms)) {
        dmproc_dump_log(dm);
        fail_msg("ioreqd did not reach state running");
    }
}
