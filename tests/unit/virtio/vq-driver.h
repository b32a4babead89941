/*
 * A minimal split-virtqueue driver for tests: builds descriptor tables and
 * avail rings in flat guest memory and reads the used ring back, the way a
 * guest driver would. Also a counting wrapper around flat guest memory, so
 * tests can check that every mapping taken is given back.
 */
#ifndef TESTS_VQ_DRIVER_H
#define TESTS_VQ_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"

struct vqd {
    uint8_t *mem;
    uint16_t size;
    uint64_t desc, avail, used;
    uint16_t avail_idx;
    uint16_t next_free;
};

struct vqd_buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
};

void vqd_init(struct vqd *d, uint8_t *mem, uint16_t size, uint64_t desc, uint64_t avail,
              uint64_t used);
void vqd_set_desc(struct vqd *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next);
/* Writes a descriptor into a table at gpa (an indirect table). */
void vqd_set_desc_at(uint8_t *mem, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next);
/* A chain from the next free descriptors; returns its head. */
uint16_t vqd_add_chain(struct vqd *d, const struct vqd_buf *bufs, unsigned n);
/* Put head in the avail ring and publish the new avail idx. */
void vqd_publish(struct vqd *d, uint16_t head);
void vqd_set_avail_idx(struct vqd *d, uint16_t idx);
void vqd_set_avail_ring(struct vqd *d, uint16_t slot, uint16_t head);
void vqd_set_avail_flags(struct vqd *d, uint16_t flags);
void vqd_set_used_event(struct vqd *d, uint16_t ev);
uint16_t vqd_used_idx(const struct vqd *d);
uint16_t vqd_used_flags(const struct vqd *d);
uint16_t vqd_avail_event(const struct vqd *d);
void vqd_used_elem(const struct vqd *d, uint16_t slot, uint32_t *id, uint32_t *len);

/*
 * Flat guest memory that counts maps and unmaps and records
 * gmem_mark_dirty(); with max_live, a map beyond that many live mappings
 * fails with -ENOMEM, as the map cache does when its mapping space is used up.
 */
#define GMEM_COUNT_DIRTY 64
struct gmem_count {
    struct gmem gm;
    struct gmem *inner;
    unsigned maps, unmaps;
    unsigned max_live; /* 0: no limit */
    uint64_t dirty_gpa[GMEM_COUNT_DIRTY];
    size_t dirty_len[GMEM_COUNT_DIRTY];
    unsigned nr_dirty; /* may exceed GMEM_COUNT_DIRTY: only the first are kept */
};
/* Whether a recorded mark covers [gpa, gpa + len). */
bool gmem_count_dirty(const struct gmem_count *c, uint64_t gpa, size_t len);
void gmem_count_init(struct gmem_count *c, struct gmem *inner);

static inline uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

#endif
