/* The transport floor benchmark (bench-floor.c). */
#ifndef BENCH_FLOOR_H
#define BENCH_FLOOR_H

#include <stdint.h>

struct bench_floor;

/* Forks the peer process and starts the "socket thread". */
struct bench_floor *bench_floor_new(void);
/* One round trip over the replayed chain, in nanoseconds. */
uint64_t bench_floor_once(struct bench_floor *f);
void bench_floor_free(struct bench_floor *f);

/* Standalone: count timed round trips after warmup untimed ones. */
int bench_floor(unsigned long count, unsigned long warmup);

#endif
