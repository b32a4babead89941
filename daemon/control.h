/*
 * ioreqd's control socket: a unix stream socket, mode 0600, by default
 * /run/ioreqd/<domid>.sock, through which ioreqctl(1) asks a running
 * daemon for live data and tells it to stop. The module owns the socket,
 * its connections and the JSON encoding; the daemon owns the answers, which
 * it supplies through struct control_ops.
 *
 * Protocol (also in ioreqctl(1)):
 *   request  one line, terminated by "\n" (a "\r" before it is ignored,
 *            as are blanks around the word): "status", "stats" or "stop";
 *   reply    exactly one line per request: a JSON object (RFC 8259, UTF-8)
 *            followed by "\n". Success: {"ok":true, ...members...}.
 *            Failure: {"ok":false,"error":"<text>"}.
 *   The connection stays open for more requests; replies come in request
 *   order. A request line longer than CONTROL_LINE_MAX bytes gets the error
 *   reply "request too long" and the connection is closed. Unknown words,
 *   empty lines and lines holding NUL bytes get an error reply and the
 *   connection stays usable. At most CONTROL_MAX_CLIENTS connections are
 *   served at once; one more gets "too many clients" and is closed.
 *   A client that does not read its replies is not read from either, so
 *   the memory one connection holds is bounded.
 *
 * Members of the replies (the daemon's ops produce them):
 *   status  domid, pid, version, vcpus, server_id, and "devices": an array
 *           of {"index", "type", "description"} with, for a PCI device,
 *           "pci": an array of functions, each
 *             {"bdf", "id",
 *              "bars": [{"bar","type","prefetchable","address"|null,"size"}],
 *              "intx": {"pin"|null,"line","level","asserted","disabled"},
 *              "msi": null | {"enabled","address","data","vectors",
 *                             "max_vectors","mask","pending"},
 *              "msix": null | {"enabled","function_mask","table_size",
 *                              "table_bar","table_offset","pba_bar",
 *                              "pba_offset","vectors": [{"vector","address",
 *                              "data","masked","pending"}, ...]}}
 *           (MSI-X vectors in use only: programmed or unmasked);
 *           other members may follow.
 *   stats   what control_json_ioreq_stats() writes:
 *             "vcpus": n,
 *             "requests": {"sync","buffered","malformed","unclaimed",
 *                          "spurious_notifications"},
 *             "by_type": {"pio","copy","pci_config","timeoffset",
 *                         "invalidate","unknown"},
 *             "per_vcpu": [{"vcpu","requests","pio",...,"unknown"}, ...],
 *             "mapcache": {"hits","misses","evictions","invalidations",
 *                          "faults","mapped_bytes","dirty_reports"},
 *             "timeoffset": seconds;
 *           what control_json_faults() writes:
 *             "faults": {"pci_no_function", "pci_config_past_end", ...}
 *           (every cause of dm-faults.h, in its order, 0 included);
 *           and "devices": an array of {"index", "type",
 *           "requests": {"reads","writes","config_reads","config_writes"},
 *           and, when the device counts things,
 *           "counters": {name: unsigned integer, ...}}.
 *   stop    nothing more: the daemon has been asked to stop; it closes the
 *           connection when it leaves its loop.
 */
#ifndef IOREQD_CONTROL_H
#define IOREQD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct event_base;
struct dm_faults;
struct ioreq_stats;
struct ioreq_vcpu_stats;

#define CONTROL_SOCKET_DIR  "/run/ioreqd"
#define CONTROL_LINE_MAX    256        /* bytes of one request line, "\n" included */
#define CONTROL_REPLY_MAX   (1u << 20) /* bytes of one reply line */
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_JSON_DEPTH  16 /* nesting of objects and arrays */

/*
 * A bounded, growable buffer being filled with one JSON value. Writers
 * never fail on the spot: the first error (-ENOMEM, -ENOSPC past `max`,
 * -EINVAL for misuse such as a key inside an array) sticks, later writes
 * are ignored, and control_buf_error() reports it at the end.
 */
struct control_buf {
    char *data; /* NUL-terminated text, len bytes */
    size_t len;
    size_t cap;
    size_t max;        /* bytes the text may reach */
    int err;           /* first error, 0 if none */
    unsigned depth;    /* open objects and arrays */
    uint32_t is_array; /* bit d: the container at depth d is an array */
    uint32_t has_item; /* bit d: the container at depth d has a member (bit 0: the top value) */
};

void control_buf_init(struct control_buf *b, size_t max);
/* Empties the buffer (keeping its memory) and clears the error. */
void control_buf_reset(struct control_buf *b);
void control_buf_free(struct control_buf *b);
/* 0, or the first error; -EINVAL too if containers are still open. */
int control_buf_error(const struct control_buf *b);

/*
 * JSON writers. Inside an object `key` names the member and must not be
 * NULL; inside an array and for the top value it must be NULL. Strings are
 * escaped; bytes that are not valid UTF-8 become U+FFFD.
 */
void control_json_begin_object(struct control_buf *b, const char *key);
void control_json_end_object(struct control_buf *b);
void control_json_begin_array(struct control_buf *b, const char *key);
void control_json_end_array(struct control_buf *b);
/* A NULL value is written as null. */
void control_json_string(struct control_buf *b, const char *key, const char *value);
void control_json_stringn(struct control_buf *b, const char *key, const char *value, size_t len);
void control_json_uint(struct control_buf *b, const char *key, uint64_t value);
void control_json_int(struct control_buf *b, const char *key, int64_t value);
/* Non-finite values are written as null. */
void control_json_double(struct control_buf *b, const char *key, double value);
void control_json_bool(struct control_buf *b, const char *key, bool value);
void control_json_null(struct control_buf *b, const char *key);

/* The stats members listed above, for `nr` vCPUs of `per_vcpu`. */
void control_json_ioreq_stats(struct control_buf *b, const struct ioreq_stats *st,
                              const struct ioreq_vcpu_stats *per_vcpu, unsigned nr);

/* "faults": the device-level faults by cause (every cause; NULL counts as all 0). */
void control_json_faults(struct control_buf *b, const struct dm_faults *faults);

/*
 * The daemon's side. status and stats append the members of the reply
 * object (the "ok" member is already written) and return 0, or -errno for
 * an error reply. stop only asks the daemon to leave its loop: it must not
 * free the control server from inside the call. A NULL op answers
 * "not supported".
 */
struct control_ops {
    int (*status)(void *opaque, struct control_buf *out);
    int (*stats)(void *opaque, struct control_buf *out);
    int (*stop)(void *opaque);
};

struct control_server;

/* "/run/ioreqd/<domid>.sock" into buf; 0 or -ENAMETOOLONG. */
int control_default_path(char *buf, size_t len, unsigned domid) must_check;

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
