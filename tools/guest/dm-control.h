/*
 * dmctl: one raw request line on a device model's control socket (ioreqd's
 * --control-socket) and its one reply line, as bytes, so that a test can
 * check the wire format itself. Bounded: a daemon that stalls makes the call
 * fail instead of hanging it.
 */
#ifndef GUEST_DM_CONTROL_H
#define GUEST_DM_CONTROL_H

#include <stddef.h>

/*
 * Sends request (a line, with its '\n') to the socket at path and reads
 * until the reply's '\n'. 0 with the reply NUL-terminated in buf; -errno
 * from connect or write, -ETIMEDOUT when no byte comes within timeout_ms,
 * -ECONNRESET when the socket closes first, -EMSGSIZE when len is too small.
 */
int dmctl_ask(const char *path, const char *request, char *buf, size_t len, int timeout_ms);

#endif
