/*
 * Watch lists and matching. Lists are short (capped per client) and kept
 * in registration order, which is the order events go out in.
 */
#include "xs-watch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xs-path.h"

/* What a watch costs: its strings and, roughly, its three heap blocks. */
static size_t watch_bytes(const char *path, const char *token)
{
    return strlen(path) + 1 + strlen(token) + 1 + XS_WATCH_OVERHEAD;
}

int xs_watch_add(struct xs_watch_list *l, const char *path, const char *token, bool relative,
                 unsigned int max, size_t max_bytes, struct xs_watch **out)
{
    struct xs_watch *w;

    for (w = l->head; w; w = w->next)
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
            return -EEXIST;
    if (l->nr >= max || l->bytes + watch_bytes(path, token) > max_bytes)
        return -E2BIG;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = strdup(path);
    w->token = strdup(token);
    if (!w->path || !w->token) {
        free(w->path);
        free(w->token);
        free(w);
        return -ENOMEM;
    }
    w->relative = relative;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->nr++;
    l->bytes += watch_bytes(path, token);
    if (out)
        *out = w;
    return 0;
}

static void watch_free(struct xs_watch *w)
{
    free(w->path);
    free(w->token);
    free(w);
}

int xs_watch_remove(struct xs_watch_list *l, const char *path, const char *token)
{
    struct xs_watch *prev = NULL;

    for (struct xs_watch *w = l->head; w; prev = w, w = w->next) {
        if (strcmp(w->path, path) != 0 || strcmp(w->token, token) != 0)
            continue;
        if (prev)
            prev->next = w->next;
        else
            l->head = w->next;
        if (l->tail == w)
            l->tail = prev;
        l->nr--;
        l->bytes -= watch_bytes(w->path, w->token);
        watch_free(w);
        return 0;
    }
    return -ENOENT;
}

void xs_watch_clear(struct xs_watch_list *l)
{
    struct xs_watch *w = l->head;

    while (w) {
        struct xs_watch *next = w->next;
        watch_free(w);
        w = next;
    }
    l->head = l->tail = NULL;
    l->nr = 0;
    l->bytes = 0;
}

bool xs_watch_matches(const struct xs_watch *w, const char *event_path, bool exact)
{
    if (exact)
        return strcmp(w->path, event_path) == 0;
    return xs_path_is_child(event_path, w->path);
}

int xs_watch_event(const struct xs_watch *w, const char *event_path, const char *home, char *buf,
                   size_t size, size_t *len)
{
    const char *p = w->relative ? xs_path_strip_home(event_path, home) : event_path;
    size_t plen = strlen(p) + 1, tlen = strlen(w->token) + 1;

    if (plen + tlen > size)
        return -E2BIG;
    memcpy(buf, p, plen);
    memcpy(buf + plen, w->token, tlen);
    *len = plen + tlen;
    return 0;
}
