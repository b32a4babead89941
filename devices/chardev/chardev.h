/*
 * Character backends for serial devices, non-blocking on the daemon's
 * libevent loop:
 *   pty          a new pseudo-terminal; its path is chardev_pty_path()
 *   unix:PATH    a listening unix stream socket; one client at a time
 *   file:PATH    output appended to a file, no input
 *   stdio        the daemon's stdin/stdout; stdin that is a regular file is
 *                read to its end, /dev/null gives no input (said once)
 *   null         output discarded, no input
 *
 * Output never blocks and is never lost silently. Bytes go into a bounded
 * buffer flushed when the descriptor is writable; when the buffer is full,
 * chardev_write() takes fewer bytes (the device shows it: a UART keeps THRE
 * clear) and client->writable() says when to try again. When nobody is there
 * to read (no unix client, pty closed by its reader) or the reader has made no
 * progress for CHARDEV_STALL_MS, bytes are accepted and dropped, and counted
 * in out_dropped. Input is pulled: the backend reads only as much as
 * client->can_receive() allows and pauses until chardev_accept_input().
 */
#ifndef DEVICES_CHARDEV_H
#define DEVICES_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct event_base;
struct chardev;

#define CHARDEV_BUF_SIZE 4096
#define CHARDEV_STALL_MS 2000

struct chardev_client {
    size_t (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *buf, size_t len); /* len <= can_receive() */
    void (*writable)(void *opaque);
    void *opaque;
};

struct chardev_stats {
    uint64_t out_bytes;   /* written to the descriptor (or discarded by null) */
    uint64_t out_dropped; /* accepted while nobody could read them */
    uint64_t in_bytes;
    bool connected;
};

/* spec is one of the forms above; 0 or -errno with errbuf explaining. */
int chardev_open(struct chardev **out, const char *spec, struct event_base *base,
                 const struct chardev_client *client, char *errbuf, size_t errlen) must_check;
/* Writes what it can without blocking, counts the rest as dropped, closes. */
void chardev_close(struct chardev *cd);

/* Bytes taken (0..len): buffered, written, or dropped-and-counted. */
size_t chardev_write(struct chardev *cd, const uint8_t *buf, size_t len);
/* The client can take input again. */
void chardev_accept_input(struct chardev *cd);
/* Try to push buffered output now; 0 if nothing is left, else -EAGAIN. */
int chardev_flush(struct chardev *cd);

const char *chardev_pty_path(const struct chardev *cd);
void chardev_get_stats(const struct chardev *cd, struct chardev_stats *out);

#endif
