/*
 * dmproc: runs a device model process (ioreqd, or any ioreq server) against
 * a mock domain, as a toolstack would: with the mock's environment and the
 * drop-in libraries first on LD_LIBRARY_PATH, waiting for
 * /local/domain/0/device-model/<domid>/state = running in xenstore, and
 * stopping it with a signal. The xenstore connection is Debian's
 * libxenstore talking to the mock's embedded xenstored (XENSTORED_PATH).
 *
 * Waits are bounded: a device model that dies or never gets ready makes the
 * call fail with its exit status kept, instead of a hang.
 *
 * For tests: dmproc_run() and dmproc_stop_clean() print the device model's
 * log (and how it ended) to stderr when they fail, and a clean stop means
 * exit status 0 with no sanitizer report in the log.
 */
#ifndef GUEST_DM_PROCESS_H
#define GUEST_DM_PROCESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mockhv.h"

struct xs_handle;

struct dmproc_config {
    const char *program;     /* path of the device model */
    const char *shim_libdir; /* prepended to LD_LIBRARY_PATH; NULL: unchanged */
    const char *const *args; /* NULL-terminated, after argv[0]; NULL: none */
    const char *log_path;    /* stdout and stderr go here; NULL: inherited */
};

struct dmproc {
    pid_t pid;   /* 0 once reaped */
    int wstatus; /* waitpid() status once reaped */
    uint16_t domid;
    struct xs_handle *xs;
    char state_path[96];
    char log_path[PATH_MAX]; /* cfg->log_path; "" when output was inherited */
};

int dmproc_start(struct dmproc *p, struct mockhv *hv, const struct dmproc_config *cfg);
/* 0 when state = running; -ECHILD if the process exited first (see
 * wstatus), -ETIMEDOUT. */
int dmproc_wait_running(struct dmproc *p, int timeout_ms);
/* The state key: 0 and its value (NUL-terminated, truncated to len), or -ENOENT. */
int dmproc_state(struct dmproc *p, char *buf, size_t len);
/* Any xenstore read: malloc()ed value or NULL (errno set). */
char *dmproc_xs_read(struct dmproc *p, const char *path);
/* Sends sig and reaps; after timeout_ms sends SIGKILL and returns -ETIMEDOUT. */
int dmproc_stop(struct dmproc *p, int sig, int timeout_ms);
/* Reaps without signalling, bounded. 0, or -ETIMEDOUT while it still runs. */
int dmproc_wait_exit(struct dmproc *p, int timeout_ms);
/* Kills a still running process, closes xenstore. */
void dmproc_fini(struct dmproc *p);
/* "exited 0", "killed by signal 9", ... */
void dmproc_describe_status(int wstatus, char *buf, size_t len);

/* dmproc_start, then dmproc_wait_running; on failure the log and the exit status go to stderr. */
int dmproc_run(struct dmproc *p, struct mockhv *hv, const struct dmproc_config *cfg,
               int timeout_ms);
/* The whole log file, malloc()ed and NUL-terminated ("" without a log); NULL (errno set). */
char *dmproc_log(const struct dmproc *p);
/* The log to stderr between marker lines, then whether the process still runs or how it ended. */
void dmproc_dump_log(struct dmproc *p);
/* Whether the log holds a report of ASan, LSan or UBSan. */
bool dmproc_log_has_sanitizer_report(const struct dmproc *p);
/*
 * Sends sig (0: none, something else stops the process) and waits for the
 * exit: 0 for exit status 0 and a log without a sanitizer report; -ETIMEDOUT
 * (the process was killed), -ECHILD (another exit status or a signal) or
 * -EPROTO (a sanitizer report). Prints the log on failure.
 */
int dmproc_stop_clean(struct dmproc *p, int sig, int timeout_ms);

#endif
