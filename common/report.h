/*
 * How a device reports itself: once, to a sink of keys and values. What it
 * is (identity), where the guest placed it (placement), what the guest and
 * traffic change (state) and what only grows (counters) go through the same
 * call; the xenstore inventory, ioreqctl's status and stats and the logs
 * each render the part they show (report_line for one line of text).
 *
 * An item is "key=value", a bare value (key NULL: "00:03.0") or a flag
 * (value NULL: "readonly"). Keys and counter names are fixed strings;
 * counter names are lower_snake_case and their values only grow while the
 * device lives.
 */
#ifndef COMMON_REPORT_H
#define COMMON_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

enum report_class {
    REPORT_IDENTITY = 1u << 0,  /* stays true while it lives: address, IDs, ports, backend */
    REPORT_PLACEMENT = 1u << 1, /* where the guest placed it: BARs */
    REPORT_STATE = 1u << 2,     /* what the guest and traffic change now */
};
#define REPORT_ALL (REPORT_IDENTITY | REPORT_PLACEMENT | REPORT_STATE)

struct report_sink {
    /* May be NULL: items are not wanted. */
    void (*item)(void *opaque, enum report_class cls, const char *key, const char *value);
    /* May be NULL: counters are not wanted. */
    void (*counter)(void *opaque, const char *name, uint64_t value);
    void *opaque;
};

void report_item(const struct report_sink *sink, enum report_class cls, const char *key,
                 const char *value);
/* An item whose value is formatted; values longer than 255 bytes are cut. */
void report_itemf(const struct report_sink *sink, enum report_class cls, const char *key,
                  const char *fmt, ...) printf_like(4, 5);
void report_counter(const struct report_sink *sink, const char *name, uint64_t value);

/*
 * Renders the items of the classes in `classes`, in the order reported,
 * separated by one blank, into buf: always NUL-terminated, cut to fit.
 */
struct report_line {
    struct report_sink sink;
    char *buf;
    size_t len;
    size_t off;
    unsigned classes;
};

/* Starts an empty line in buf (len > 0); returns the sink to report into. */
const struct report_sink *report_line_init(struct report_line *line, char *buf, size_t len,
                                           unsigned classes);

#endif
