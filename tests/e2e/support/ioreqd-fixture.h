/*
 * Starting ioreqd in an e2e test, written once: the command line from what
 * the test wants (domain, devices, control socket, log options, anything
 * more), the process run by dmproc against the mock as a toolstack would,
 * and, where asked, the bounded wait for state = running. Failures print
 * ioreqd's log and fail the cmocka test.
 */
#ifndef TESTS_E2E_IOREQD_FIXTURE_H
#define TESTS_E2E_IOREQD_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "dm-process.h"

struct e2e_ioreqd {
    const char *program;        /* ioreqd's path */
    unsigned domid;             /* --domid */
    const char *const *devices; /* each after --device, NULL-terminated; NULL: none */
    const char *control_socket; /* --control-socket; NULL: none */
    const char *log_level;      /* --log-level; NULL: ioreqd's default */
    const char *log;            /* --log; NULL: ioreqd's default */
    const char *const *more;    /* further arguments, NULL-terminated; NULL: none */
    const char *log_path;       /* ioreqd's stdout and stderr; NULL: inherited */
    const char *const *env;     /* as struct dmproc_config's */
    bool stdin_null;            /* stdin from /dev/null */
};

/* Room for the arguments e2e_ioreqd_args() builds. */
#define E2E_IOREQD_MAX_ARGS 64

/*
 * ioreqd's arguments (after argv[0]) into args, NULL-terminated; domid is
 * the caller's buffer for the number. 0, or -E2BIG.
 */
int e2e_ioreqd_args(const struct e2e_ioreqd *o, char domid[16],
                    const char *args[E2E_IOREQD_MAX_ARGS]);
/* Starts ioreqd for hv's domain; fails the test if it cannot be started. */
void e2e_ioreqd_spawn(struct dmproc *dm, struct mockhv *hv, const struct e2e_ioreqd *o);
/* e2e_ioreqd_spawn, then state = running within timeout_ms, or the log and a failed test. */
void e2e_ioreqd_start(struct dmproc *dm, struct mockhv *hv, const struct e2e_ioreqd *o,
                      int timeout_ms);

#endif
