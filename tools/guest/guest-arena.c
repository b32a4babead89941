/*
 * garena: bump allocation of guest-physical memory (see guest-arena.h).
 */
#include "guest-arena.h"

#include <errno.h>

void garena_init(struct garena *a, uint64_t base, uint64_t size)
{
    pthread_mutex_init(&a->lock, NULL);
    a->next = base;
    a->limit = base + size;
}

void garena_fini(struct garena *a)
{
    pthread_mutex_destroy(&a->lock);
}

int garena_alloc(struct garena *a, uint64_t size, uint64_t align, uint64_t *gpa)
{
    int rc = -ENOMEM;
    uint64_t start;

    if (!align || (align & (align - 1)))
        return -EINVAL;
    pthread_mutex_lock(&a->lock);
    start = (a->next + align - 1) & ~(align - 1);
    if (start < a->next || size > a->limit || start > a->limit - size)
        goto out;
    a->next = start + size;
    *gpa = start;
    rc = 0;
out:
    pthread_mutex_unlock(&a->lock);
    return rc;
}

uint64_t garena_free_bytes(struct garena *a)
{
    uint64_t left;

    pthread_mutex_lock(&a->lock);
    left = a->limit - a->next;
    pthread_mutex_unlock(&a->lock);
    return left;
}
