/*
 * JSON (RFC 8259) for the control socket's replies, written by ioreqd and
 * read and written again by ioreqctl: one writer (json-write.c) and one
 * reader (json-read.c), so both sides speak the same dialect.
 */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define JSON_MAX_DEPTH 16 /* nesting of objects and arrays the writer allows */

/* ---- writing ---- */

/*
 * A bounded, growable buffer being filled with one JSON value. Writers
 * never fail on the spot: the first error (-ENOMEM, -ENOSPC past `max`,
 * -EINVAL for misuse such as a key inside an array) sticks, later writes
 * are ignored, and json_buf_error() reports it at the end.
 */
struct json_buf {
    char *data; /* NUL-terminated text, len bytes */
    size_t len;
    size_t cap;
    size_t max;        /* bytes the text may reach */
    int err;           /* first error, 0 if none */
    unsigned depth;    /* open objects and arrays */
    uint32_t is_array; /* bit d: the container at depth d is an array */
    uint32_t has_item; /* bit d: the container at depth d has a member (bit 0: the top value) */
};

void json_buf_init(struct json_buf *b, size_t max);
/* Empties the buffer (keeping its memory) and clears the error. */
void json_buf_reset(struct json_buf *b);
void json_buf_free(struct json_buf *b);
/* Ends the text with "\n", for a protocol of one value per line. */
void json_buf_end_line(struct json_buf *b);
/* 0, or the first error; -EINVAL too if containers are still open. */
int json_buf_error(const struct json_buf *b);

/*
 * JSON writers. Inside an object `key` names the member and must not be
 * NULL; inside an array and for the top value it must be NULL. Strings are
 * escaped; bytes that are not valid UTF-8 become U+FFFD.
 */
void json_begin_object(struct json_buf *b, const char *key);
void json_end_object(struct json_buf *b);
void json_begin_array(struct json_buf *b, const char *key);
void json_end_array(struct json_buf *b);
/* A NULL value is written as null. */
void json_string(struct json_buf *b, const char *key, const char *value);
void json_stringn(struct json_buf *b, const char *key, const char *value, size_t len);
void json_uint(struct json_buf *b, const char *key, uint64_t value);
void json_int(struct json_buf *b, const char *key, int64_t value);
/* Non-finite values are written as null. */
void json_double(struct json_buf *b, const char *key, double value);
void json_bool(struct json_buf *b, const char *key, bool value);
void json_null(struct json_buf *b, const char *key);

/* ---- reading: one reply of the control socket parsed into a tree ---- */

/*
 * The input comes from another process: depth, size and number ranges are
 * checked, never trusted. A parsed tree can be written out again through
 * the writer (json_emit), so ioreqctl's --json output passes the daemon's
 * data through.
 */
/* Below JSON_MAX_DEPTH, so a parsed reply can be written again inside a wrapper. */
#define JSON_READ_MAX_DEPTH 12

enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    char *key;                /* member name inside an object, else NULL */
    struct json_value *child; /* first element or member */
    struct json_value *next;  /* next sibling */
    bool boolean;
    /* Numbers: an integer in [INT64_MIN, UINT64_MAX] sets is_int. */
    bool is_int;
    bool negative; /* is_int: the value is `i`, else `u` */
    uint64_t u;
    int64_t i;
    double d;
    char *str; /* decoded UTF-8, NUL-terminated; str_len bytes (may hold NULs) */
    size_t str_len;
};

/* 0, -EINVAL for text that is not exactly one JSON value, -ENOMEM. */
int json_parse(const char *text, size_t len, struct json_value **out) must_check;
void json_free(struct json_value *v);

/* The member `key` of an object, or NULL. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
/* The string value, or NULL if v is not a string. */
const char *json_get_string(const struct json_value *v);
/* true and *out for a non-negative integer. */
bool json_get_uint(const struct json_value *v, uint64_t *out);
/*
 * The value at a path of object keys and array indices, NULL-terminated:
 * json_at(stats, "per_vcpu", "1", "pio", NULL). NULL if a step is missing.
 */
const struct json_value *json_at(const struct json_value *v, ...);
/*
 * A scalar as one line of text for a terminal: strings with control bytes
 * replaced by '?', integers in decimal, true/false/null. Arrays and objects
 * give "[...]" / "{...}". Always NUL-terminated.
 */
void json_text(const struct json_value *v, char *buf, size_t len);

/* Writes v under `key` (see the writers above); NULL v writes null. */
void json_emit(struct json_buf *b, const char *key, const struct json_value *v);

#endif
