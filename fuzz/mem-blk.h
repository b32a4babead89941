/*
 * An in-memory block backend for fuzzing: operations queue up and complete
 * only when the fuzzer says so (in order, or one chosen operation, with
 * success or an error), so completion order is part of the input and every
 * run of an input is the same run. Data moves at completion time, as it
 * would from a worker thread, so buffers the device released too early are
 * caught by the sanitizers.
 */
#ifndef FUZZ_MEM_BLK_H
#define FUZZ_MEM_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "blk-backend.h"

/* 0 or -ENOMEM. The backend is freed by blk_free(). */
int mem_blk_new(struct blk_backend **out, uint64_t size, bool readonly);
unsigned mem_blk_pending(const struct blk_backend *be);
/* Completes the pending operation `index` (modulo the number pending) with ret, or its result. */
void mem_blk_complete(struct blk_backend *be, unsigned index, int ret);

#endif
