/*
 * Watches of one client: (path, token) pairs, matched against the path of
 * every change. A watch set with a relative path gets its events with
 * relative paths too. The list owns its watches.
 */
#ifndef XS_WATCH_H
#define XS_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "compiler.h"

struct xs_watch {
    struct xs_watch *next;
    char *path; /* canonical: absolute or "@special" */
    char *token;
    bool relative;
};

/* What a watch costs beyond its path and token (struct and heap blocks), for max_bytes. */
#define XS_WATCH_OVERHEAD 96

struct xs_watch_list {
    struct xs_watch *head, *tail;
    unsigned int nr;
    size_t bytes; /* paths and tokens with their NULs, plus XS_WATCH_OVERHEAD each */
};

/*
 * -EEXIST for a duplicate (path, token), -E2BIG beyond max watches or
 * max_bytes (as counted in bytes), -ENOMEM.
 */
int xs_watch_add(struct xs_watch_list *l, const char *path, const char *token, bool relative,
                 unsigned int max, size_t max_bytes, struct xs_watch **out) must_check;
/* -ENOENT if there is no such watch. */
int xs_watch_remove(struct xs_watch_list *l, const char *path, const char *token) must_check;
void xs_watch_clear(struct xs_watch_list *l);

/*
 * Whether a change at event_path concerns w: the path itself or anything
 * below it, or, for exact events (nodes removed below a removed node),
 * the path itself only.
 */
bool xs_watch_matches(const struct xs_watch *w, const char *event_path, bool exact);

/* The WATCH_EVENT payload "<path>\0<token>\0" into buf; -E2BIG if over size. */
int xs_watch_event(const struct xs_watch *w, const char *event_path, const char *home, char *buf,
                   size_t size, size_t *len) must_check;

#endif
