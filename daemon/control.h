/*
 * ioreqd's control socket server (protocol in control-proto.h): owns the
 * socket and its connections; the daemon supplies the answers through
 * struct control_ops.
 */
#ifndef IOREQD_CONTROL_H
#define IOREQD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "control-proto.h"
#include "json.h"

struct event_base;

/*
 * The daemon's side. status and stats append the members of the reply
 * object (the "ok" member is already written) and return 0, or -errno for
 * an error reply. stop only asks the daemon to leave its loop: it must not
 * free the control server from inside the call. A NULL op answers
 * "not supported". dirty_log switches the reporting of guest-RAM writes
 * to Xen's dirty log on (1) or off (0), or only tells (-1); it returns
 * whether it is on, or -errno.
 */
struct control_ops {
    int (*status)(void *opaque, struct json_buf *out);
    int (*stats)(void *opaque, struct json_buf *out);
    int (*stop)(void *opaque);
    int (*dirty_log)(void *opaque, int on);
};

struct control_server;

/*
 * Listens on `path` (NULL: no listening socket, connections come only from
 * control_server_adopt). The parent directory is created (0700) if it is
 * missing. A stale socket at `path` is replaced; a live one (another
 * daemon answers) fails with -EADDRINUSE, anything not a socket with
 * -EEXIST. 0 or -errno.
 */
int control_server_new(struct control_server **out, struct event_base *base, const char *path,
                       const struct control_ops *ops, void *opaque) must_check;
/* Serves an already connected stream socket, which the server then owns. 0 or -errno. */
int control_server_adopt(struct control_server *srv, int fd) must_check;
unsigned control_server_nr_clients(const struct control_server *srv);
/*
 * Sends what can be sent without blocking, closes every connection and
 * removes the socket (if it is still the one this server created). NULL is
 * fine.
 */
void control_server_free(struct control_server *srv);

#endif
