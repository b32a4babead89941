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
 * exit status 0 with no sanitizer report in the log. The environment can be
 * adjusted (LD_PRELOAD, sanitizer options), a program can be run without a
 * mock to see its usage errors, and a device model that daemonized is
 * adopted in place of the launcher whose exit status was kept.
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
    const char *stdout_path; /* stdout alone here instead (truncated); NULL: as log_path */
    /* NULL-terminated; "NAME=value" replaces our NAME, a bare "NAME" drops it; NULL: none */
    const char *const *env;
    bool stdin_null; /* stdin from /dev/null instead of ours */
};

struct dmproc {
    pid_t pid;   /* 0 once reaped */
    int wstatus; /* waitpid() status once reaped */
    uint16_t domid;
    struct xs_handle *xs;
    char state_path[96];
    char log_path[PATH_MAX]; /* cfg->log_path; "" when output was inherited */
};

/* hv NULL: no mock, none of its environment, no xenstore (to see a program's usage errors). */
int dmproc_start(struct dmproc *p, struct mockhv *hv, const struct dmproc_config *cfg);
/* 0 when state = running; -ECHILD if the process exited first (see
 * wstatus), -ETIMEDOUT. */
int dmproc_wait_running(struct dmproc *p, int timeout_ms);
/* The state key: 0 and its value (NUL-terminated, truncated to len), -ENOENT, or
 * -ENOTCONN without xenstore. */
int dmproc_state(struct dmproc *p, char *buf, size_t len);
/* Any xenstore read: malloc()ed value or NULL (errno set). */
char *dmproc_xs_read(struct dmproc *p, const char *path);
/* Sends sig and reaps; after timeout_ms sends SIGKILL and returns -ETIMEDOUT. */
int dmproc_stop(struct dmproc *p, int sig, int timeout_ms);
/* Reaps without signalling, bounded. 0, or -ETIMEDOUT while it still runs. */
int dmproc_wait_exit(struct dmproc *p, int timeout_ms);
/* Whether the process still runs (it is reaped when it has ended). */
bool dmproc_running(struct dmproc *p);
/*
 * Takes over pid in place of the reaped launcher: a device model that
 * detached from the process we started, re-parented to us as a
 * PR_SET_CHILD_SUBREAPER, so that stop and wait work on it.
 */
void dmproc_adopt(struct dmproc *p, pid_t pid);
/* Polls cond(arg): 0 once it holds; -ECHILD if the process exited first, -ETIMEDOUT. */
int dmproc_wait_for(struct dmproc *p, bool (*cond)(void *arg), void *arg, int timeout_ms);
/* 0 once the log holds text; -ECHILD if the process exited first, -ETIMEDOUT. */
int dmproc_wait_log(struct dmproc *p, const char *text, int timeout_ms);
/* Closes our xenstore connection, as before the mock goes away; stop and wait still work. */
void dmproc_xs_close(struct dmproc *p);
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
/* Whether the log holds text. */
bool dmproc_log_has(const struct dmproc *p, const char *text);
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
