/* Reporting a device's items and counters, and rendering them as one line (report.h). */
#include <stdarg.h>
#include <stdio.h>

#include "report.h"

void report_item(const struct report_sink *sink, enum report_class cls, const char *key,
                 const char *value)
{
    if (sink && sink->item)
        sink->item(sink->opaque, cls, key, value);
}

void report_itemf(const struct report_sink *sink, enum report_class cls, const char *key,
                  const char *fmt, ...)
{
    char value[256];
    va_list ap;

    if (!sink || !sink->item)
        return;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    sink->item(sink->opaque, cls, key, value);
}

void report_counter(const struct report_sink *sink, const char *name, uint64_t value)
{
    if (sink && sink->counter)
        sink->counter(sink->opaque, name, value);
}

static void line_item(void *opaque, enum report_class cls, const char *key, const char *value)
{
    struct report_line *l = opaque;
    int n;

    if (!(l->classes & cls) || l->off >= l->len)
        return;
    n = snprintf(l->buf + l->off, l->len - l->off, "%s%s%s%s", l->off ? " " : "", key ? key : "",
                 key && value ? "=" : "", value ? value : "");
    l->off = n < 0 ? l->len : l->off + (size_t)n;
}

const struct report_sink *report_line_init(struct report_line *line, char *buf, size_t len,
                                           unsigned classes)
{
    *line = (struct report_line){
        .sink = {.item = line_item, .opaque = line},
        .buf = buf,
        .len = len,
        .classes = classes,
    };
    if (len)
        buf[0] = '\0';
    return &line->sink;
}
