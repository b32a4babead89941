/*
 * What a device is (device.h): its spec, its options, its report as a line.
 *
 * Device specs: "type,key=value,key2=value2,flag". The type and keys are
 * lower-case names; a value runs to the next single comma, and ",," stands
 * for a literal comma inside a value (paths may contain one). A bare key is a
 * flag with the value "". Each key may appear once.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "device.h"

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Copies one comma-terminated field, turning ",," into ','. *pos moves past
 * the terminator; *more says whether a comma (so another field) followed.
 */
static char *take_field(const char **pos, bool *more)
{
    const char *p = *pos;
    size_t n = 0;
    char *out = malloc(strlen(p) + 1);

    if (!out)
        return NULL;
    while (*p) {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        }
        out[n++] = *p++;
    }
    out[n] = '\0';
    *more = *p == ',';
    *pos = *more ? p + 1 : p;
    return out;
}

static bool valid_name(const char *s, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

int device_spec_parse(const char *text, struct device_spec *spec, char *errbuf, size_t errlen)
{
    const char *pos = text;
    char *field = NULL;
    bool more = false;
    int rc = -EINVAL;

    memset(spec, 0, sizeof(*spec));
    if (!text || !*text) {
        snprintf(errbuf, errlen, "empty device spec");
        goto out;
    }
    field = take_field(&pos, &more);
    if (!field) {
        rc = -ENOMEM;
        goto out;
    }
    if (!valid_name(field, strlen(field))) {
        snprintf(errbuf, errlen, "bad device type '%s' (expected a name like 'uart')", field);
        goto out;
    }
    spec->type = field;
    field = NULL;

    while (more) {
        struct device_opt *opt;
        char *eq;

        field = take_field(&pos, &more);
        if (!field) {
            rc = -ENOMEM;
            goto out;
        }
        if (!*field) {
            snprintf(errbuf, errlen, "%s: empty option", spec->type);
            goto out;
        }
        eq = strchr(field, '=');
        if (!valid_name(field, eq ? (size_t)(eq - field) : strlen(field))) {
            snprintf(errbuf, errlen, "%s: bad option '%s' (expected key=value)", spec->type, field);
            goto out;
        }
        if (spec->nr_opts == DEVICE_SPEC_MAX_OPTS) {
            snprintf(errbuf, errlen, "%s: more than %d options", spec->type, DEVICE_SPEC_MAX_OPTS);
            goto out;
        }
        opt = &spec->opts[spec->nr_opts];
        if (eq)
            *eq = '\0';
        for (unsigned i = 0; i < spec->nr_opts; i++) {
            if (!strcmp(spec->opts[i].key, field)) {
                snprintf(errbuf, errlen, "%s: option '%s' given twice", spec->type, field);
                goto out;
            }
        }
        opt->value = strdup(eq ? eq + 1 : "");
        if (!opt->value) {
            rc = -ENOMEM;
            goto out;
        }
        opt->key = field;
        opt->used = 0;
        field = NULL;
        spec->nr_opts++;
    }
    return 0;
out:
    if (rc == -ENOMEM)
        snprintf(errbuf, errlen, "out of memory");
    free(field);
    device_spec_free(spec);
    return rc;
}

void device_spec_free(struct device_spec *spec)
{
    free(spec->type);
    for (unsigned i = 0; i < spec->nr_opts; i++) {
        free(spec->opts[i].key);
        free(spec->opts[i].value);
    }
    memset(spec, 0, sizeof(*spec));
}

/* key is one of the options spec's type lists (or spec is not bound). */
static bool declared(const struct device_spec *spec, const char *key)
{
    if (!spec->declared)
        return true;
    for (const struct device_option *o = spec->declared; o->key; o++)
        if (!strcmp(o->key, key))
            return true;
    return false;
}

const char *device_spec_get(struct device_spec *spec, const char *key)
{
    if (!declared(spec, key)) {
        /* The type's option list is what users are told: an option not on it does not exist. */
        log_error("%s: reads option '%s', which its type does not list", spec->type, key);
        return NULL;
    }
    for (unsigned i = 0; i < spec->nr_opts; i++) {
        if (!strcmp(spec->opts[i].key, key)) {
            spec->opts[i].used = 1;
            return spec->opts[i].value;
        }
    }
    return NULL;
}

const char *device_spec_unused(const struct device_spec *spec)
{
    for (unsigned i = 0; i < spec->nr_opts; i++)
        if (!spec->opts[i].used)
            return spec->opts[i].key;
    return NULL;
}

int device_spec_get_uint(struct device_spec *spec, const char *key, uint64_t min, uint64_t max,
                         uint64_t dflt, uint64_t *out, char *errbuf, size_t errlen)
{
    const char *v = device_spec_get(spec, key), *digits;
    unsigned long long x = 0;
    char *end = NULL;
    int base = 10;

    if (!v) {
        *out = dflt;
        return 0;
    }
    /* Decimal or 0x-hex only: a leading zero is not octal here. */
    digits = v;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        digits = v + 2;
        base = 16;
    }
    errno = 0;
    if (base == 16 ? isxdigit((unsigned char)*digits) : isdigit((unsigned char)*digits))
        x = strtoull(digits, &end, base);
    if (!end || *end || errno || x < min || x > max) {
        snprintf(errbuf, errlen, "%s: bad value '%s' for %s (expected %llu..%llu)", spec->type, v,
                 key, (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
    }
    *out = x;
    return 0;
}

int device_spec_get_bool(struct device_spec *spec, const char *key, bool dflt, bool *out,
                         char *errbuf, size_t errlen)
{
    static const char *const yes[] = {"", "on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};
    const char *v = device_spec_get(spec, key);

    if (!v) {
        *out = dflt;
        return 0;
    }
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (!strcmp(v, yes[i])) {
            *out = true;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        if (!strcmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    snprintf(errbuf, errlen, "%s: bad value '%s' for %s (expected on or off)", spec->type, v, key);
    return -EINVAL;
}
void device_spec_bind(struct device_spec *spec, const struct device_type *type)
{
    spec->declared = type->options;
}

void device_options_text(const struct device_type *type, char *buf, size_t len)
{
    size_t off = 0;

    if (len)
        buf[0] = '\0';
    for (const struct device_option *o = type->options; o && o->key && off < len; o++) {
        bool alternative = o->one_of && o != type->options && o[-1].one_of == o->one_of;
        bool optional = !o->required && !o->one_of;
        int n = snprintf(buf + off, len - off, "%s%s%s%s%s%s", optional ? "[" : "",
                         alternative ? "|" : ",", o->key, o->value ? "=" : "",
                         o->value ? o->value : "", optional ? "]" : "");
        off = n < 0 ? len : off + (size_t)n;
    }
}

static void report_line(const struct device_type *type, void *dev, char *buf, size_t len,
                        unsigned classes)
{
    struct report_line line;
    const struct report_sink *sink = report_line_init(&line, buf, len, classes);

    if (type->report)
        type->report(dev, sink);
}

void device_describe(const struct device_type *type, void *dev, char *buf, size_t len)
{
    report_line(type, dev, buf, len, REPORT_ALL);
}

void device_identity(const struct device_type *type, void *dev, char *buf, size_t len)
{
    report_line(type, dev, buf, len, REPORT_IDENTITY);
}
