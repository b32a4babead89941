/*
 * The mock guest's script language (mockxen --script): one access or
 * action per line, run in order from vCPU 0 unless `vcpu N` says otherwise.
 * See man/mockxen.1 for the commands.
 */
#ifndef MOCKXEN_SCRIPT_H
#define MOCKXEN_SCRIPT_H

#include <signal.h>
#include <stdio.h>

#include "mockhv.h"

enum script_status {
    SCRIPT_OK = 0,
    SCRIPT_FAILED = 1, /* an access failed or an expectation did not hold */
    SCRIPT_SYNTAX = 2, /* a line could not be understood */
};

/* Runs the script from `in`, results to `out`, diagnostics to stderr
 * prefixed with `name:line:`. Stops at the first failure, and the wait
 * commands give up early once *peer_gone is set (the device model mockxen
 * started has exited). Returns a script_status, or the status given to
 * `quit`. */
int script_run(struct mockhv *hv, FILE *in, const char *name, FILE *out,
               const volatile sig_atomic_t *peer_gone);

#endif
