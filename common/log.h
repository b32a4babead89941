/*
 * Logging for ioreqd: one sink (stderr or syslog) per process, a level
 * threshold, and a rate-limited form for anything a guest can trigger, so a
 * hostile guest cannot flood dom0's logs.
 */
#ifndef IOREQD_LOG_H
#define IOREQD_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_sink { LOG_SINK_STDERR, LOG_SINK_SYSLOG };

void log_init(const char *ident, enum log_sink sink, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_parse_level(const char *name);

void log_msg(enum log_level level, const char *fmt, ...) printf_like(2, 3);

/*
 * Token bucket for messages a guest can cause: at most `burst` messages,
 * refilled at one per `interval_ms`. Messages over the budget are counted
 * and the count is reported with the next message that gets through.
 */
struct log_ratelimit {
    uint64_t last_ms;
    uint32_t tokens;
    uint32_t suppressed;
};

bool log_ratelimit_allow(struct log_ratelimit *rl, uint32_t *suppressed_out);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Rate-limited message, one budget per call site. */
#define log_limited(level, ...)                                                                    \
    do {                                                                                           \
        static struct log_ratelimit rl_;                                                           \
        uint32_t dropped_;                                                                         \
        if (log_ratelimit_allow(&rl_, &dropped_)) {                                                \
            if (dropped_)                                                                          \
                log_msg(level, "(%u similar messages suppressed)", dropped_);                      \
            log_msg(level, __VA_ARGS__);                                                           \
        }                                                                                          \
    } while (0)

/* What a guest can trigger: a warning, rate-limited. */
#define log_guest(...) log_limited(LOG_LVL_WARN, __VA_ARGS__)

#endif
