/*
 * One process-wide sink: logging is configured once by main() and the level
 * is read on every call, so it is kept in two plain variables.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define RATELIMIT_BURST       10
#define RATELIMIT_INTERVAL_MS 1000

static enum log_sink log_sink = LOG_SINK_STDERR;
static enum log_level log_level = LOG_LVL_INFO;
static const char *log_ident = "ioreqd";

static const char *const level_names[] = {
    [LOG_LVL_ERROR] = "error",
    [LOG_LVL_WARN] = "warn",
    [LOG_LVL_INFO] = "info",
    [LOG_LVL_DEBUG] = "debug",
};

void log_init(const char *ident, enum log_sink sink, enum log_level level)
{
    log_ident = ident;
    log_sink = sink;
    log_level = level;
    if (sink == LOG_SINK_SYSLOG)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

enum log_level log_get_level(void)
{
    return log_level;
}

int log_parse_level(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const int syslog_prio[] = {
        [LOG_LVL_ERROR] = LOG_ERR,
        [LOG_LVL_WARN] = LOG_WARNING,
        [LOG_LVL_INFO] = LOG_INFO,
        [LOG_LVL_DEBUG] = LOG_DEBUG,
    };
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    if (log_sink == LOG_SINK_SYSLOG) {
        vsyslog(syslog_prio[level], fmt, ap);
    } else {
        char line[1024];
        vsnprintf(line, sizeof(line), fmt, ap);
        /* One fprintf per line keeps lines whole when threads log at once. */
        fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level], line);
    }
    va_end(ap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, uint32_t *suppressed_out)
{
    uint64_t now = now_ms();

    if (rl->last_ms == 0) {
        rl->last_ms = now;
        rl->tokens = RATELIMIT_BURST;
    }
    uint64_t refill = (now - rl->last_ms) / RATELIMIT_INTERVAL_MS;
    if (refill) {
        rl->tokens = refill >= RATELIMIT_BURST ? RATELIMIT_BURST
                     : rl->tokens + (uint32_t)refill > RATELIMIT_BURST
                         ? RATELIMIT_BURST
                         : rl->tokens + (uint32_t)refill;
        rl->last_ms += refill * RATELIMIT_INTERVAL_MS;
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return false;
    }
    rl->tokens--;
    *suppressed_out = rl->suppressed;
    rl->suppressed = 0;
    return true;
}
