/*
 * The control socket's protocol, spoken by ioreqd (daemon/control.c) and
 * ioreqctl: a unix stream socket, mode 0600, by default
 * /run/ioreqd/<domid>.sock, through which ioreqctl(1) asks a running
 * daemon for live data and tells it to stop.
 *
 * Protocol (also in ioreqctl(1)):
 *   request  one line, terminated by "\n" (a "\r" before it is ignored,
 *            as are blanks around the word): "status", "stats", "stop", or
 *            "dirty-log" alone or followed by a blank and "on" or "off";
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
 * Members of the replies (daemon/replies.c writes them; the lists of
 * counters below name them for both sides):
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
 *   stats   "vcpus": n,
 *           "requests": {control_stats_request_keys},
 *           "by_type": {control_stats_type_keys},
 *           "per_vcpu": [{"vcpu","requests",control_stats_type_keys}, ...],
 *           "mapcache": {control_stats_mapcache_keys},
 *           "timeoffset": seconds;
 *           "faults": {"pci_no_function", "pci_config_past_end", ...}
 *           (every cause of dm-faults.h, in its order, 0 included);
 *           and "devices": an array of {"index", "type",
 *           "requests": {control_device_request_keys},
 *           and, when the device counts things,
 *           "counters": {name: unsigned integer, ...}}.
 *   dirty-log  "dirty_log": whether guest-RAM writes are reported to Xen's
 *           dirty log, after the switch if one was asked for ("status"
 *           has it too);
 *   stop    nothing more: the daemon has been asked to stop; it closes the
 *           connection when it leaves its loop.
 */
#ifndef COMMON_CONTROL_PROTO_H
#define COMMON_CONTROL_PROTO_H

#include <stddef.h>

#include "compiler.h"

#define CONTROL_SOCKET_DIR  "/run/ioreqd"
#define CONTROL_LINE_MAX    256        /* bytes of one request line, "\n" included */
#define CONTROL_REPLY_MAX   (1u << 20) /* bytes of one reply line */
#define CONTROL_MAX_CLIENTS 16

/*
 * Counters of the stats reply, each list in the order it is written:
 * requests (sync ... spurious_notifications), request types (pio ...
 * unknown), map cache (hits ... dirty_reports), a device's requests
 * (reads ... config_writes).
 */
#define CONTROL_STATS_REQUESTS  5
#define CONTROL_STATS_TYPES     6
#define CONTROL_STATS_MAPCACHE  7
#define CONTROL_DEVICE_REQUESTS 4
extern const char *const control_stats_request_keys[CONTROL_STATS_REQUESTS];
extern const char *const control_stats_type_keys[CONTROL_STATS_TYPES];
extern const char *const control_stats_mapcache_keys[CONTROL_STATS_MAPCACHE];
extern const char *const control_device_request_keys[CONTROL_DEVICE_REQUESTS];

/* "/run/ioreqd/<domid>.sock" into buf; 0 or -ENAMETOOLONG. */
int control_default_path(char *buf, size_t len, unsigned domid) must_check;

#endif
