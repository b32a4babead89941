/*
 * Line-oriented parser for ioreqd.conf(5). Deliberately small: no quoting,
 * no includes, no trailing comments (a '#' may be part of a file name in a
 * device spec). Scalar keys may appear once; "device" may repeat and keeps
 * its order, with its line recorded so that a bad spec found later (when the
 * device table parses it) still points at the right line.
 */
#include "config-file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Files are meant to be short; bound what a mistaken path can make us read. */
#define CONF_FILE_MAX (1024 * 1024)

enum conf_key {
    CONF_DOMID,
    CONF_DEVICE,
    CONF_FOREGROUND,
    CONF_PIDFILE,
    CONF_LOG,
    CONF_LOG_LEVEL,
    CONF_CONTROL_SOCKET,
    CONF_RUNAS,
    CONF_CHROOT,
    CONF_SECCOMP,
    CONF_POLL_US,
    CONF_BESIDE_QEMU,
    CONF_DIRTY_LOG,
    CONF_NR_KEYS,
};

static const char *const conf_key_names[CONF_NR_KEYS] = {
    [CONF_DOMID] = "domid",
    [CONF_DEVICE] = "device",
    [CONF_FOREGROUND] = "foreground",
    [CONF_PIDFILE] = "pidfile",
    [CONF_LOG] = "log",
    [CONF_LOG_LEVEL] = "log-level",
    [CONF_CONTROL_SOCKET] = "control-socket",
    [CONF_RUNAS] = "runas",
    [CONF_CHROOT] = "chroot",
    [CONF_SECCOMP] = "seccomp",
    [CONF_POLL_US] = "poll-us",
    [CONF_BESIDE_QEMU] = "beside-qemu",
    [CONF_DIRTY_LOG] = "dirty-log",
};

struct conf_parser {
    const char *name;
    unsigned line;
    struct ioreqd_settings *s;
    unsigned seen[CONF_NR_KEYS]; /* line of the first occurrence, 0 if none */
    char *errbuf;
    size_t errlen;
};

static int conf_error(struct conf_parser *p, const char *fmt, ...) printf_like(2, 3);

static int conf_error(struct conf_parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->errbuf, p->errlen, "%s:%u: %s", p->name, p->line, msg);
    return -EINVAL;
}

static int find_key(const char *key)
{
    for (int i = 0; i < CONF_NR_KEYS; i++)
        if (strcmp(key, conf_key_names[i]) == 0)
            return i;
    return -1;
}

static char *trim(char *start, char *end)
{
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    *end = '\0';
    return start;
}

static int conf_apply(struct conf_parser *p, int key, const char *value)
{
    struct ioreqd_settings *s = p->s;
    char origin[64 + 16];

    switch (key) {
    case CONF_DOMID:
        if (settings_parse_domid(value, &s->domid))
            return conf_error(p, "invalid domid '%s': expected a domain id from 1 to 32751", value);
        return 0;
    case CONF_DEVICE:
        snprintf(origin, sizeof(origin), "%.64s:%u", p->name, p->line);
        return settings_add_device(s, value, origin);
    case CONF_FOREGROUND:
        if (settings_parse_bool(value, &s->foreground))
            return conf_error(p, "invalid foreground '%s': expected yes or no", value);
        return 0;
    case CONF_PIDFILE:
        return settings_set_string(&s->pidfile, value);
    case CONF_LOG:
        if (settings_parse_log_sink(value, &s->log_sink))
            return conf_error(p, "invalid log '%s': expected stderr or syslog", value);
        return 0;
    case CONF_CONTROL_SOCKET:
        return settings_set_string(&s->control_socket, value);
    case CONF_RUNAS:
        return settings_set_string(&s->runas, value);
    case CONF_CHROOT:
        return settings_set_string(&s->chroot_dir, value);
    case CONF_SECCOMP:
        if (settings_parse_bool(value, &s->seccomp))
            return conf_error(p, "invalid seccomp '%s': expected yes or no", value);
        return 0;
    case CONF_POLL_US:
        if (settings_parse_poll_us(value, &s->poll_us))
            return conf_error(p, "invalid poll-us '%s': expected 0 to %d microseconds", value,
                              SETTINGS_POLL_US_MAX);
        return 0;
    case CONF_BESIDE_QEMU:
        if (settings_parse_beside_qemu(value, &s->beside_qemu))
            return conf_error(p, "invalid beside-qemu '%s': expected yes, no or auto", value);
        return 0;
    case CONF_DIRTY_LOG:
        if (settings_parse_bool(value, &s->dirty_log))
            return conf_error(p, "invalid dirty-log '%s': expected on or off", value);
        return 0;
    case CONF_LOG_LEVEL:
        if (settings_parse_log_level(value, &s->log_level))
            return conf_error(p, "invalid log-level '%s': expected error, warn, info or debug",
                              value);
        return 0;
    }
    return -EINVAL;
}

/* `line` is writable and NUL-terminated, without its newline. */
static int conf_line(struct conf_parser *p, char *line, size_t len)
{
    char *eq, *key, *value;
    int k;

    if (len > CONF_LINE_MAX)
        return conf_error(p, "line longer than %d characters", CONF_LINE_MAX);
    key = trim(line, line + len);
    if (*key == '\0' || *key == '#')
        return 0;
    eq = strchr(key, '=');
    if (!eq)
        return conf_error(p, "expected 'key = value', got '%s'", key);
    value = trim(eq + 1, key + strlen(key));
    key = trim(key, eq);
    if (*key == '\0')
        return conf_error(p, "missing key before '='");
    k = find_key(key);
    if (k < 0)
        return conf_error(p, "unknown key '%s'", key);
    if (*value == '\0')
        return conf_error(p, "missing value for '%s'", key);
    if (k != CONF_DEVICE && p->seen[k])
        return conf_error(p, "'%s' already set on line %u", key, p->seen[k]);
    if (!p->seen[k])
        p->seen[k] = p->line;
    return conf_apply(p, k, value);
}

int conf_parse_text(const char *text, const char *name, struct ioreqd_settings *s, char *errbuf,
                    size_t errlen)
{
    struct conf_parser p = {.name = name, .s = s, .errbuf = errbuf, .errlen = errlen};
    size_t total = strlen(text);
    char *copy = malloc(total + 1);
    char *cur, *end;
    int rc = 0;

    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, total + 1);
    cur = copy;
    end = copy + total;
    while (cur < end) {
        char *nl = memchr(cur, '\n', (size_t)(end - cur));
        size_t len = nl ? (size_t)(nl - cur) : (size_t)(end - cur);

        p.line++;
        cur[len] = '\0';
        rc = conf_line(&p, cur, len);
        if (rc)
            goto out;
        cur += len + 1;
    }
out:
    free(copy);
    return rc;
}

int conf_parse_file(const char *path, struct ioreqd_settings *s, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t len;
    int rc = -EINVAL;

    if (!f) {
        snprintf(errbuf, errlen, "%s: cannot open configuration file: %s", path, strerror(errno));
        return -EINVAL;
    }
    buf = malloc(CONF_FILE_MAX + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    len = fread(buf, 1, CONF_FILE_MAX + 1, f);
    if (ferror(f)) {
        snprintf(errbuf, errlen, "%s: cannot read configuration file: %s", path, strerror(errno));
        goto out;
    }
    if (len > CONF_FILE_MAX) {
        snprintf(errbuf, errlen, "%s: configuration file larger than %d bytes", path,
                 CONF_FILE_MAX);
        goto out;
    }
    if (memchr(buf, '\0', len)) {
        snprintf(errbuf, errlen, "%s: configuration file contains a NUL byte", path);
        goto out;
    }
    buf[len] = '\0';
    rc = conf_parse_text(buf, path, s, errbuf, errlen);
out:
    free(buf);
    fclose(f);
    return rc;
}
