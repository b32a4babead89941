/*
 * Detaching from the launching process the way a toolstack expects: the
 * command it ran exits only once the daemon is serving (status 0) or has
 * failed (its exit status, with the daemon's messages copied to its stderr),
 * so a caller such as libxl or an init script sees start-up failures.
 *
 * Between daemonize_start() and daemonize_done() the daemon's stderr is a
 * pipe to the waiting parent; afterwards stdin, stdout and stderr point to
 * /dev/null, or stderr is restored if logging to stderr was asked for.
 */
#ifndef IOREQD_DAEMONIZE_H
#define IOREQD_DAEMONIZE_H

#include <stdbool.h>

#include "compiler.h"

struct daemonize {
    int status_fd; /* write end of the status pipe, -1 when done */
    int saved_stderr;
};

/*
 * Double fork with setsid in between, chdir("/"). Returns 0 in the daemon;
 * the launching process does not return: it waits for daemonize_done() and
 * exits with the status reported (1 if the daemon died without reporting).
 * -errno if forking or the pipes failed (still in the launching process).
 */
int daemonize_start(struct daemonize *d) must_check;

/* Reports `status` to the launching process and detaches stdio. Idempotent. */
void daemonize_done(struct daemonize *d, int status, bool keep_stderr);

#endif
