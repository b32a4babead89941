/*
 * A small JSON reader for ioreqctl: parses one reply of the control socket
 * into a tree, answers lookups, and writes a tree (or part of it) back out
 * through the control module's JSON writer, so --json output can pass the
 * daemon's data through. The input comes from another process: depth,
 * size and number ranges are checked, never trusted.
 */
#ifndef IOREQCTL_CTL_JSON_H
#define IOREQCTL_CTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

struct control_buf;

/* Below CONTROL_JSON_DEPTH, so a parsed reply can be written again inside a wrapper. */
#define CTL_JSON_MAX_DEPTH 12

enum ctl_json_type {
    CTL_JSON_NULL,
    CTL_JSON_BOOL,
    CTL_JSON_NUMBER,
    CTL_JSON_STRING,
    CTL_JSON_ARRAY,
    CTL_JSON_OBJECT,
};

struct ctl_json {
    enum ctl_json_type type;
    char *key;              /* member name inside an object, else NULL */
    struct ctl_json *child; /* first element or member */
    struct ctl_json *next;  /* next sibling */
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
int ctl_json_parse(const char *text, size_t len, struct ctl_json **out) must_check;
void ctl_json_free(struct ctl_json *v);

/* The member `key` of an object, or NULL. */
const struct ctl_json *ctl_json_get(const struct ctl_json *obj, const char *key);
/* The string value, or NULL if v is not a string. */
const char *ctl_json_string(const struct ctl_json *v);
/* true and *out for a non-negative integer. */
bool ctl_json_uint(const struct ctl_json *v, uint64_t *out);
/*
 * The value at a path of object keys and array indices, NULL-terminated:
 * ctl_json_at(stats, "per_vcpu", "1", "pio", NULL). NULL if a step is missing.
 */
const struct ctl_json *ctl_json_at(const struct ctl_json *v, ...);
/*
 * A scalar as one line of text for a terminal: strings with control bytes
 * replaced by '?', integers in decimal, true/false/null. Arrays and objects
 * give "[...]" / "{...}". Always NUL-terminated.
 */
void ctl_json_text(const struct ctl_json *v, char *buf, size_t len);

/* Writes v under `key` (see control_json_*); NULL v writes null. */
void ctl_json_emit(struct control_buf *b, const char *key, const struct ctl_json *v);

#endif
