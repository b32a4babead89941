/* The control socket's default place and the names of its counters (control-proto.h). */
#include <errno.h>
#include <stdio.h>

#include "control-proto.h"

int control_default_path(char *buf, size_t len, unsigned domid)
{
    int n = snprintf(buf, len, "%s/%u.sock", CONTROL_SOCKET_DIR, domid);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

const char *const control_stats_request_keys[CONTROL_STATS_REQUESTS] = {
    "sync", "buffered", "malformed", "unclaimed", "spurious_notifications",
};

const char *const control_stats_type_keys[CONTROL_STATS_TYPES] = {
    "pio", "copy", "pci_config", "timeoffset", "invalidate", "unknown",
};

const char *const control_stats_mapcache_keys[CONTROL_STATS_MAPCACHE] = {
    "hits", "misses", "evictions", "invalidations", "faults", "mapped_bytes", "dirty_reports",
};

const char *const control_device_request_keys[CONTROL_DEVICE_REQUESTS] = {
    "reads",
    "writes",
    "config_reads",
    "config_writes",
};
