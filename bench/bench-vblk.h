/* virtio-blk through ioreqd and the guest driver (bench-vblk.c). */
#ifndef BENCH_VBLK_H
#define BENCH_VBLK_H

#include "bench-util.h"

struct bench_vblk_opts {
    struct bench_dm dm; /* ioreqd; the virtio-blk device is added here */
    const char *file;   /* backing file, created (size_mib) if missing */
    unsigned size_mib;
    unsigned run_ms;       /* per pattern */
    const char *disk_opts; /* appended to the device spec, or NULL */
    const char *label;     /* results vblk.<label>.<pattern>.*, or NULL: vblk.<pattern>.* */
    const char *only; /* only patterns whose name contains one of these comma-separated words, or
                         NULL: all */
};

int bench_vblk(const struct bench_vblk_opts *o);

#endif
