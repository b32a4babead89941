/*
 * Plain bookkeeping for struct ioreqd_settings, plus the value parsers both
 * front ends share so that "domid = 5" and "--domid 5" accept exactly the
 * same text.
 */
#include "settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

void settings_init(struct ioreqd_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->domid = -1;
    s->foreground = -1;
    s->log_sink = -1;
    s->log_level = -1;
    s->seccomp = -1;
    s->poll_us = -1;
    s->beside_qemu = -1;
    s->dirty_log = -1;
}

static void free_devices(struct ioreqd_settings *s)
{
    for (unsigned i = 0; i < s->nr_devices; i++) {
        free(s->devices[i].spec);
        free(s->devices[i].origin);
    }
    free(s->devices);
    s->devices = NULL;
    s->nr_devices = 0;
}

void settings_free(struct ioreqd_settings *s)
{
    free_devices(s);
    free(s->pidfile);
    free(s->config_path);
    free(s->control_socket);
    free(s->runas);
    free(s->chroot_dir);
    settings_init(s);
}

int settings_set_string(char **field, const char *value)
{
    char *copy = strdup(value);

    if (!copy)
        return -ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

int settings_add_device(struct ioreqd_settings *s, const char *spec, const char *origin)
{
    struct settings_device *grown;
    char *spec_copy = strdup(spec);
    char *origin_copy = strdup(origin);
    int rc = -ENOMEM;

    if (!spec_copy || !origin_copy)
        goto out;
    grown = realloc(s->devices, (s->nr_devices + 1) * sizeof(*grown));
    if (!grown)
        goto out;
    s->devices = grown;
    s->devices[s->nr_devices].spec = spec_copy;
    s->devices[s->nr_devices].origin = origin_copy;
    s->nr_devices++;
    return 0;
out:
    free(spec_copy);
    free(origin_copy);
    return rc;
}

static void move_string(char **dst, char **src)
{
    if (*src) {
        free(*dst);
        *dst = *src;
        *src = NULL;
    }
}

void settings_merge(struct ioreqd_settings *base, struct ioreqd_settings *over)
{
    if (over->domid >= 0)
        base->domid = over->domid;
    if (over->foreground >= 0)
        base->foreground = over->foreground;
    if (over->log_sink >= 0)
        base->log_sink = over->log_sink;
    if (over->log_level >= 0)
        base->log_level = over->log_level;
    move_string(&base->pidfile, &over->pidfile);
    move_string(&base->config_path, &over->config_path);
    move_string(&base->control_socket, &over->control_socket);
    move_string(&base->runas, &over->runas);
    move_string(&base->chroot_dir, &over->chroot_dir);
    if (over->seccomp >= 0)
        base->seccomp = over->seccomp;
    if (over->poll_us >= 0)
        base->poll_us = over->poll_us;
    if (over->beside_qemu >= 0)
        base->beside_qemu = over->beside_qemu;
    if (over->dirty_log >= 0)
        base->dirty_log = over->dirty_log;
    if (over->nr_devices) {
        free_devices(base);
        base->devices = over->devices;
        base->nr_devices = over->nr_devices;
        over->devices = NULL;
        over->nr_devices = 0;
    }
}

int settings_parse_domid(const char *text, int *domid)
{
    char *end;
    unsigned long v;

    /* strtoul accepts a sign and leading blanks; a domid has neither. */
    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(text, &end, 0);
    if (errno || *end || v == 0 || v >= SETTINGS_DOMID_LIMIT)
        return -EINVAL;
    *domid = (int)v;
    return 0;
}

int settings_parse_bool(const char *text, int *value)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *value = 1;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *value = 0;
            return 0;
        }
    }
    return -EINVAL;
}

int settings_parse_log_sink(const char *text, int *sink)
{
    if (strcmp(text, "stderr") == 0)
        *sink = LOG_SINK_STDERR;
    else if (strcmp(text, "syslog") == 0)
        *sink = LOG_SINK_SYSLOG;
    else
        return -EINVAL;
    return 0;
}

int settings_parse_log_level(const char *text, int *level)
{
    int v = log_parse_level(text);

    if (v < 0)
        return -EINVAL;
    *level = v;
    return 0;
}

int settings_parse_poll_us(const char *text, int *poll_us)
{
    char *end;
    unsigned long v;

    /* strtoul accepts a sign and leading blanks; a duration has neither. */
    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v > SETTINGS_POLL_US_MAX)
        return -EINVAL;
    *poll_us = (int)v;
    return 0;
}

int settings_parse_beside_qemu(const char *text, int *value)
{
    int yes;

    if (text && !strcasecmp(text, "auto")) {
        *value = IOREQD_QEMU_DETECT;
        return 0;
    }
    if (settings_parse_bool(text, &yes))
        return -EINVAL;
    *value = yes ? IOREQD_QEMU_BESIDE : IOREQD_QEMU_ALONE;
    return 0;
}
