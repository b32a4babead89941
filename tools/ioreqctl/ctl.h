/*
 * ioreqctl: inspects and stops ioreqd instances. State and inventory come
 * from xenstore (/local/domain/0/device-model/<domid>/...), live data from
 * the daemon's control socket (protocol in common/control-proto.h and ioreqctl(1)).
 * This header ties the command files together; each command is one file.
 */
#ifndef IOREQCTL_CTL_H
#define IOREQCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compiler.h"

struct json_buf;
struct json_value;

/* Exit codes, documented in ioreqctl(1). */
enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAILURE = 1,
    CTL_EXIT_USAGE = 2,
};

struct ctl_opts {
    bool json;
    int domid;          /* -1 unless --domid */
    const char *socket; /* --socket, or NULL for the default path */
    int timeout_ms;     /* for each exchange with the daemon, and for stop to complete */
    const char *arg;    /* the command's argument (dirty-log on|off), or NULL */
    char socket_buf[128];
};

/* The control socket of opts->domid: --socket or the default path. */
const char *ctl_socket_path(struct ctl_opts *opts);

int ctl_cmd_list(struct ctl_opts *opts);
int ctl_cmd_status(struct ctl_opts *opts);
int ctl_cmd_stats(struct ctl_opts *opts);
int ctl_cmd_stop(struct ctl_opts *opts);
int ctl_cmd_dirty_log(struct ctl_opts *opts);

/*
 * One request on a fresh connection to the control socket. 0 with *reply
 * (an object with "ok": true); -EREMOTEIO with *reply holding the daemon's
 * error object; other -errno with *reply NULL.
 */
int ctl_ask(struct ctl_opts *opts, const char *cmd, struct json_value **reply) must_check;
/* Why the daemon refused: ctl_ask's -EREMOTEIO or another -errno, as safe text. */
void ctl_ask_error(int rc, const struct json_value *reply, char *buf, size_t len);

/* Prints b's JSON text and a newline on stdout; CTL_EXIT_OK or CTL_EXIT_FAILURE. */
int ctl_print_json(struct json_buf *b);
void ctl_err(const char *fmt, ...) printf_like(1, 2);
/* A xenstore value as JSON: a plain decimal number as a number, else a string; NULL as null. */
void ctl_json_xs_value(struct json_buf *b, const char *key, const char *value);

#endif
