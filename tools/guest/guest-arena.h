/*
 * garena: a bump allocator over a window of the mock guest's RAM.
 *
 * The guest drivers need guest-physical memory for split rings, request
 * headers and data buffers. Nothing is ever freed one by one: a driver takes
 * what it needs at set-up time and the whole arena is dropped with the
 * guest. The arena only hands out addresses; contents are read and written
 * with mockhv_ram_read/mockhv_ram_write. Thread-safe, so per-queue threads
 * may allocate while others run.
 */
#ifndef GUEST_ARENA_H
#define GUEST_ARENA_H

#include <pthread.h>
#include <stdint.h>

struct garena {
    pthread_mutex_t lock;
    uint64_t next;  /* first free guest-physical address */
    uint64_t limit; /* one past the last usable address */
};

/* [base, base + size) must lie in guest RAM. */
void garena_init(struct garena *a, uint64_t base, uint64_t size);
void garena_fini(struct garena *a);
/* align: a power of two. 0 or -ENOMEM (nothing taken then). */
int garena_alloc(struct garena *a, uint64_t size, uint64_t align, uint64_t *gpa);
/* Bytes still free. */
uint64_t garena_free_bytes(struct garena *a);

#endif
