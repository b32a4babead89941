/*
 * The JSON writer (json.h): a bounded buffer filled member by member, the
 * first error kept. The control socket's replies and ioreqctl's --json
 * output are written with it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_buf_init(struct json_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void json_buf_reset(struct json_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->err = 0;
    b->depth = 0;
    b->is_array = 0;
    b->has_item = 0;
}

void json_buf_free(struct json_buf *b)
{
    free(b->data);
    json_buf_init(b, b->max);
}

int json_buf_error(const struct json_buf *b)
{
    if (b->err)
        return b->err;
    return b->depth ? -EINVAL : 0;
}

static void buf_fail(struct json_buf *b, int err)
{
    if (!b->err)
        b->err = err;
}

static void buf_put(struct json_buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (n > b->max || b->len > b->max - n) {
        buf_fail(b, -ENOSPC);
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p) {
            buf_fail(b, -ENOMEM);
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(struct json_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

void json_buf_end_line(struct json_buf *b)
{
    buf_put(b, "\n", 1);
}

/* RFC 3629: the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void buf_put_string(struct json_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_put(b, "\"", 1);
    while (i < n && !b->err) {
        unsigned char c = p[i];
        size_t run = i, seq;
        char esc[8];

        /* Copy the longest run that needs no escaping in one go. */
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            buf_put(b, s + i, run - i);
            i = run;
            continue;
        }
        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                buf_puts(b, esc);
                break;
            }
            seq = utf8_seq_len(p + i, n - i);
            if (!seq) {
                buf_puts(b, "\\ufffd");
                break;
            }
            buf_put(b, s + i, seq);
            i += seq;
            continue;
        }
        i++;
    }
    buf_put(b, "\"", 1);
}

/* The separator and key before a value; false if the value must not be written. */
static bool json_member(struct json_buf *b, const char *key)
{
    uint32_t bit = 1u << b->depth;
    bool in_array = b->is_array & bit;

    if (b->err)
        return false;
    if (b->depth == 0 ? key != NULL || (b->has_item & 1) : in_array ? key != NULL : key == NULL) {
        buf_fail(b, -EINVAL);
        return false;
    }
    if (b->depth > 0 && (b->has_item & bit))
        buf_put(b, ",", 1);
    b->has_item |= bit;
    if (key) {
        buf_put_string(b, key, strlen(key));
        buf_put(b, ":", 1);
    }
    return !b->err;
}

static void json_open(struct json_buf *b, const char *key, bool array)
{
    uint32_t bit;

    if (!json_member(b, key))
        return;
    if (b->depth + 1 >= JSON_MAX_DEPTH) {
        buf_fail(b, -EINVAL);
        return;
    }
    b->depth++;
    bit = 1u << b->depth;
    b->has_item &= ~bit;
    if (array)
        b->is_array |= bit;
    else
        b->is_array &= ~bit;
    buf_put(b, array ? "[" : "{", 1);
}

static void json_close(struct json_buf *b, bool array)
{
    if (b->err)
        return;
    if (b->depth == 0 || !(b->is_array & (1u << b->depth)) != !array) {
        buf_fail(b, -EINVAL);
        return;
    }
    b->depth--;
    buf_put(b, array ? "]" : "}", 1);
}

void json_begin_object(struct json_buf *b, const char *key)
{
    json_open(b, key, false);
}

void json_end_object(struct json_buf *b)
{
    json_close(b, false);
}

void json_begin_array(struct json_buf *b, const char *key)
{
    json_open(b, key, true);
}

void json_end_array(struct json_buf *b)
{
    json_close(b, true);
}

void json_stringn(struct json_buf *b, const char *key, const char *value, size_t len)
{
    if (!json_member(b, key))
        return;
    if (value)
        buf_put_string(b, value, len);
    else
        buf_puts(b, "null");
}

void json_string(struct json_buf *b, const char *key, const char *value)
{
    json_stringn(b, key, value, value ? strlen(value) : 0);
}

void json_uint(struct json_buf *b, const char *key, uint64_t value)
{
    char num[24];

    if (!json_member(b, key))
        return;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
    buf_puts(b, num);
}

void json_int(struct json_buf *b, const char *key, int64_t value)
{
    char num[24];

    if (!json_member(b, key))
        return;
    snprintf(num, sizeof(num), "%lld", (long long)value);
    buf_puts(b, num);
}

void json_double(struct json_buf *b, const char *key, double value)
{
    char num[32];

    if (!json_member(b, key))
        return;
    if (!isfinite(value)) {
        buf_puts(b, "null");
        return;
    }
    snprintf(num, sizeof(num), "%.17g", value);
    buf_puts(b, num);
}

void json_bool(struct json_buf *b, const char *key, bool value)
{
    if (json_member(b, key))
        buf_puts(b, value ? "true" : "false");
}

void json_null(struct json_buf *b, const char *key)
{
    if (json_member(b, key))
        buf_puts(b, "null");
}
