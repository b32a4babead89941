/*
 * The client side of the control socket: one connection, requests sent as
 * lines, each reply line read (at most CONTROL_REPLY_MAX bytes, within the
 * timeout) and parsed. A daemon that stalls makes a request fail with
 * -ETIMEDOUT instead of hanging ioreqctl.
 */
#ifndef IOREQCTL_CTL_CLIENT_H
#define IOREQCTL_CTL_CLIENT_H

#include <stddef.h>

#include "compiler.h"

struct json_value;

struct ctl_client {
    int fd;
    int timeout_ms;
    char *buf; /* bytes received and not yet consumed */
    size_t len;
    size_t cap;
};

/* 0 or -errno (-ENOENT, -ECONNREFUSED: nobody serves that socket). */
int ctl_client_connect(struct ctl_client *c, const char *path, int timeout_ms) must_check;
/*
 * Sends `cmd` and parses the reply. 0 with *reply set (an object), or
 * -ETIMEDOUT, -ECONNRESET (closed before a full reply), -EPROTO (not a
 * JSON object, or too long), -errno.
 */
int ctl_client_request(struct ctl_client *c, const char *cmd, struct json_value **reply) must_check;
/* Waits until the daemon closes the connection: 0 or -ETIMEDOUT / -errno. */
int ctl_client_wait_closed(struct ctl_client *c) must_check;
void ctl_client_close(struct ctl_client *c);

#endif
