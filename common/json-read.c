/*
 * Recursive-descent JSON parser (RFC 8259) with a depth bound; see
 * json.h. Strings are decoded to UTF-8 (surrogate pairs joined, lone
 * surrogates turned into U+FFFD).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
    const char *p;
    const char *end;
    int err;
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct json_value *parse_value(struct parser *ps, unsigned depth);

static struct json_value *new_value(struct parser *ps, enum json_type type)
{
    struct json_value *v = calloc(1, sizeof(*v));

    if (!v)
        ps->err = -ENOMEM;
    else
        v->type = type;
    return v;
}

static bool take_word(struct parser *ps, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return false;
    ps->p += n;
    return true;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *dst, uint32_t cp)
{
    if (cp < 0x80) {
        dst[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        dst[0] = (char)(0xc0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xe0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        dst[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    dst[0] = (char)(0xf0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    dst[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Parses a string at ps->p (the opening quote); *len gets its decoded length. */
static char *parse_string(struct parser *ps, size_t *len)
{
    const char *s = ps->p + 1;
    size_t n = 0;
    char *out;

    /* The decoded text is never longer than the encoded one. */
    out = malloc((size_t)(ps->end - s) + 1);
    if (!out) {
        ps->err = -ENOMEM;
        return NULL;
    }
    while (s < ps->end && *s != '"') {
        unsigned char c = (unsigned char)*s;
        uint32_t cp, lo;

        if (c < 0x20)
            goto bad;
        if (c != '\\') {
            out[n++] = (char)c;
            s++;
            continue;
        }
        if (ps->end - s < 2)
            goto bad;
        switch (s[1]) {
        case '"':
        case '\\':
        case '/':
            out[n++] = s[1];
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u':
            if (ps->end - s < 6 || hex4(s + 2, &cp))
                goto bad;
            s += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && ps->end - s >= 8 && s[2] == '\\' && s[3] == 'u' &&
                !hex4(s + 4, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            /* "\uXXXX" is 6 bytes, its UTF-8 at most 3; a pair is 12 for 4. */
            n += put_utf8(out + n, cp);
            break;
        default:
            goto bad;
        }
        s += 2;
    }
    if (s >= ps->end)
        goto bad;
    out[n] = '\0';
    ps->p = s + 1;
    *len = n;
    return out;
bad:
    free(out);
    ps->err = -EINVAL;
    return NULL;
}

static struct json_value *parse_number(struct parser *ps)
{
    const char *s = ps->p, *start = ps->p;
    bool integral = true;
    struct json_value *v;
    char text[64];
    size_t n;

    if (s < ps->end && *s == '-')
        s++;
    if (s >= ps->end || *s < '0' || *s > '9')
        goto bad;
    if (*s == '0')
        s++;
    else
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    if (s < ps->end && *s == '.') {
        integral = false;
        s++;
        if (s >= ps->end || *s < '0' || *s > '9')
            goto bad;
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < ps->end && (*s == 'e' || *s == 'E')) {
        integral = false;
        s++;
        if (s < ps->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= ps->end || *s < '0' || *s > '9')
            goto bad;
        while (s < ps->end && *s >= '0' && *s <= '9')
            s++;
    }
    n = (size_t)(s - start);
    if (n >= sizeof(text))
        goto bad; /* no integer or double we care for is that long */
    memcpy(text, start, n);
    text[n] = '\0';
    v = new_value(ps, JSON_NUMBER);
    if (!v)
        return NULL;
    v->d = strtod(text, NULL);
    if (integral) {
        errno = 0;
        if (text[0] == '-') {
            v->i = strtoll(text, NULL, 10);
            v->negative = true;
        } else {
            v->u = strtoull(text, NULL, 10);
        }
        v->is_int = errno == 0;
        /* "-0" is an integer zero. */
        if (v->is_int && v->negative && v->i == 0) {
            v->negative = false;
            v->u = 0;
        }
    }
    ps->p = s;
    return v;
bad:
    ps->err = -EINVAL;
    return NULL;
}

static struct json_value *parse_container(struct parser *ps, unsigned depth, bool object)
{
    struct json_value *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
    struct json_value **tail;
    char close = object ? '}' : ']';

    if (!v)
        return NULL;
    tail = &v->child;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t klen;
        struct json_value *item;

        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                ps->err = -EINVAL;
                break;
            }
            key = parse_string(ps, &klen);
            if (!key)
                break;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                ps->err = -EINVAL;
                break;
            }
            ps->p++;
        }
        item = parse_value(ps, depth + 1);
        if (!item) {
            free(key);
            break;
        }
        item->key = key;
        *tail = item;
        tail = &item->next;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return v;
        }
        ps->err = -EINVAL;
        break;
    }
    if (!ps->err)
        ps->err = -EINVAL;
    json_free(v);
    return NULL;
}

static struct json_value *parse_value(struct parser *ps, unsigned depth)
{
    struct json_value *v;

    if (depth > JSON_READ_MAX_DEPTH) {
        ps->err = -EINVAL;
        return NULL;
    }
    skip_ws(ps);
    if (ps->p >= ps->end) {
        ps->err = -EINVAL;
        return NULL;
    }
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"':
        v = new_value(ps, JSON_STRING);
        if (v) {
            v->str = parse_string(ps, &v->str_len);
            if (!v->str) {
                free(v);
                v = NULL;
            }
        }
        return v;
    case 't':
    case 'f':
        if (take_word(ps, "true") || take_word(ps, "false")) {
            v = new_value(ps, JSON_BOOL);
            if (v)
                v->boolean = ps->p[-4] == 't';
            return v;
        }
        break;
    case 'n':
        if (take_word(ps, "null"))
            return new_value(ps, JSON_NULL);
        break;
    default:
        return parse_number(ps);
    }
    ps->err = -EINVAL;
    return NULL;
}

int json_parse(const char *text, size_t len, struct json_value **out)
{
    struct parser ps = {.p = text, .end = text + len};
    struct json_value *v;

    *out = NULL;
    v = parse_value(&ps, 1);
    if (!v)
        return ps.err ? ps.err : -EINVAL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        json_free(v);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

void json_free(struct json_value *v)
{
    while (v) {
        struct json_value *next = v->next;

        json_free(v->child);
        free(v->key);
        free(v->str);
        free(v);
        v = next;
    }
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (const struct json_value *m = obj->child; m; m = m->next)
        if (!strcmp(m->key, key))
            return m;
    return NULL;
}

const char *json_get_string(const struct json_value *v)
{
    return v && v->type == JSON_STRING ? v->str : NULL;
}

bool json_get_uint(const struct json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->is_int || v->negative)
        return false;
    *out = v->u;
    return true;
}

void json_text(const struct json_value *v, char *buf, size_t len)
{
    size_t n;

    if (!len)
        return;
    if (!v) {
        snprintf(buf, len, "-");
        return;
    }
    switch (v->type) {
    case JSON_NULL:
        snprintf(buf, len, "null");
        break;
    case JSON_BOOL:
        snprintf(buf, len, "%s", v->boolean ? "true" : "false");
        break;
    case JSON_NUMBER:
        if (v->is_int && v->negative)
            snprintf(buf, len, "%" PRId64, v->i);
        else if (v->is_int)
            snprintf(buf, len, "%" PRIu64, v->u);
        else
            snprintf(buf, len, "%g", v->d);
        break;
    case JSON_STRING:
        n = v->str_len < len - 1 ? v->str_len : len - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)v->str[i];
            buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        buf[n] = '\0';
        break;
    case JSON_ARRAY:
        snprintf(buf, len, "[...]");
        break;
    case JSON_OBJECT:
        snprintf(buf, len, "{...}");
        break;
    }
}

void json_emit(struct json_buf *b, const char *key, const struct json_value *v)
{
    if (!v) {
        json_null(b, key);
        return;
    }
    switch (v->type) {
    case JSON_NULL:
        json_null(b, key);
        break;
    case JSON_BOOL:
        json_bool(b, key, v->boolean);
        break;
    case JSON_NUMBER:
        if (v->is_int && v->negative)
            json_int(b, key, v->i);
        else if (v->is_int)
            json_uint(b, key, v->u);
        else
            json_double(b, key, v->d);
        break;
    case JSON_STRING:
        json_stringn(b, key, v->str, v->str_len);
        break;
    case JSON_ARRAY:
        json_begin_array(b, key);
        for (const struct json_value *e = v->child; e; e = e->next)
            json_emit(b, NULL, e);
        json_end_array(b);
        break;
    case JSON_OBJECT:
        json_begin_object(b, key);
        for (const struct json_value *m = v->child; m; m = m->next)
            json_emit(b, m->key, m);
        json_end_object(b);
        break;
    }
}

const struct json_value *json_at(const struct json_value *v, ...)
{
    const char *key;
    va_list ap;

    va_start(ap, v);
    while (v && (key = va_arg(ap, const char *))) {
        if (v->type == JSON_ARRAY) {
            const struct json_value *e = v->child;
            for (long i = strtol(key, NULL, 10); e && i > 0; i--)
                e = e->next;
            v = e;
        } else {
            v = json_get(v, key);
        }
    }
    va_end(ap);
    return v;
}
