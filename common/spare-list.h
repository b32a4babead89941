/*
 * A capped stack of finished objects kept for reuse, for records the request
 * path allocates and frees once per request (virtio-blk requests, backend
 * jobs, guest-memory pins): popping one is a load, where malloc of a
 * multi-KiB record walks its bins.
 *
 * A spare object's first pointer-sized bytes hold the link, so its first
 * member must be one that the user sets again after spare_get(). Not
 * thread-safe: the owner's thread or lock guards it.
 */
#ifndef COMMON_SPARE_LIST_H
#define COMMON_SPARE_LIST_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct spare_list {
    void *head;
    unsigned count;
    unsigned max; /* more than this many are freed, not kept */
};

/* A kept object, or NULL when there is none. */
static inline void *spare_get(struct spare_list *l)
{
    void *obj = l->head;

    if (obj) {
        memcpy(&l->head, obj, sizeof(void *));
        l->count--;
    }
    return obj;
}

/* Keeps obj for reuse, or frees it when max are kept already. */
static inline void spare_put(struct spare_list *l, void *obj)
{
    if (l->count >= l->max) {
        free(obj);
        return;
    }
    memcpy(obj, &l->head, sizeof(void *));
    l->head = obj;
    l->count++;
}

/* Frees every kept object. */
static inline void spare_free_all(struct spare_list *l)
{
    void *obj;

    while ((obj = spare_get(l)))
        free(obj);
}

#endif
