/*
 * A report sink that records the counters a device reports, in order, so a
 * test can check every name and value.
 */
#ifndef TESTS_COUNTER_SINK_H
#define TESTS_COUNTER_SINK_H

#include <stdint.h>
#include <string.h>

#include "device-table.h"

#define COUNTER_SINK_MAX 32

struct counter_record {
    char name[32];
    uint64_t value;
};

struct counter_log {
    struct counter_record rec[COUNTER_SINK_MAX];
    unsigned nr;
    unsigned overflow;
};

static inline void counter_log_add(void *opaque, const char *name, uint64_t value)
{
    struct counter_log *l = opaque;

    if (l->nr == COUNTER_SINK_MAX) {
        l->overflow++;
        return;
    }
    strncpy(l->rec[l->nr].name, name, sizeof(l->rec[l->nr].name) - 1);
    l->rec[l->nr].value = value;
    l->nr++;
}

/* Collects dev's counters into a fresh log. */
static inline void counter_log_take(struct counter_log *l, const struct device_type *type,
                                    void *dev)
{
    const struct report_sink sink = {.counter = counter_log_add, .opaque = l};

    memset(l, 0, sizeof(*l));
    type->report(dev, &sink);
}

#endif
