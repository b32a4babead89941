/*
 * Aligned columns for ioreqctl's human-readable output; see ctl-output.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "ctl-output.h"

void ctl_rows_init(struct ctl_rows *t, unsigned cols)
{
    memset(t, 0, sizeof(*t));
    t->cols = cols;
}

static char *safe_copy(const char *s)
{
    size_t n;
    char *c;

    if (!s)
        s = "-";
    n = strlen(s);
    c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)s[i];
        c[i] = (ch && ch < 0x20) || ch == 0x7f ? '?' : (char)ch;
    }
    return c;
}

static void add_row(struct ctl_rows *t, const char *const *cells)
{
    char **row;

    if (t->err)
        return;
    if (t->nr == t->cap) {
        unsigned cap = t->cap ? t->cap * 2 : 16;
        char **p = realloc(t->cells, (size_t)cap * t->cols * sizeof(*p));

        if (!p) {
            t->err = -ENOMEM;
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    row = &t->cells[(size_t)t->nr * t->cols];
    for (unsigned i = 0; i < t->cols; i++) {
        row[i] = safe_copy(cells[i]);
        if (!row[i]) {
            while (i--)
                free(row[i]);
            t->err = -ENOMEM;
            return;
        }
    }
    t->nr++;
}

void ctl_rows_add(struct ctl_rows *t, ...)
{
    const char *cells[16];
    va_list ap;

    va_start(ap, t);
    for (unsigned i = 0; i < t->cols && i < 16; i++)
        cells[i] = va_arg(ap, const char *);
    va_end(ap);
    if (t->cols > 16) {
        t->err = -EINVAL;
        return;
    }
    add_row(t, cells);
}

static bool skipped(const char *key, const char *const *skip)
{
    for (; skip && *skip; skip++)
        if (!strcmp(key, *skip))
            return true;
    return false;
}

void ctl_rows_flatten(struct ctl_rows *t, const char *prefix, const struct json_value *v,
                      const char *const *skip)
{
    char key[256], text[1024];
    unsigned idx = 0;

    if (!v)
        return;
    if (v->type != JSON_OBJECT && v->type != JSON_ARRAY) {
        json_text(v, text, sizeof(text));
        ctl_rows_add(t, prefix ? prefix : "", text);
        return;
    }
    for (const struct json_value *m = v->child; m; m = m->next, idx++) {
        if (m->key && skipped(m->key, skip))
            continue;
        if (m->key)
            snprintf(key, sizeof(key), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", m->key);
        else
            snprintf(key, sizeof(key), "%s%s%u", prefix ? prefix : "", prefix ? "." : "", idx);
        ctl_rows_flatten(t, key, m, NULL);
    }
}

/* Terminal columns of UTF-8 text: one per code point (no wide characters here). */
static size_t width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

int ctl_rows_print(struct ctl_rows *t, FILE *f, const char *indent)
{
    size_t *w;

    if (t->err)
        return t->err;
    w = calloc(t->cols ? t->cols : 1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    for (unsigned r = 0; r < t->nr; r++)
        for (unsigned c = 0; c < t->cols; c++) {
            size_t cw = width(t->cells[(size_t)r * t->cols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    for (unsigned r = 0; r < t->nr; r++) {
        fputs(indent ? indent : "", f);
        for (unsigned c = 0; c < t->cols; c++) {
            const char *cell = t->cells[(size_t)r * t->cols + c];

            fputs(cell, f);
            if (c + 1 < t->cols)
                fprintf(f, "%*s", (int)(w[c] - width(cell) + 2), "");
        }
        fputc('\n', f);
    }
    free(w);
    return 0;
}

void ctl_rows_free(struct ctl_rows *t)
{
    for (size_t i = 0; i < (size_t)t->nr * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    ctl_rows_init(t, t->cols);
}
