/* What hv_hypercalls_boot is made of (hc-boot.c, hc-elf.c). */
#ifndef SHIM_HV_HC_BOOT_H
#define SHIM_HV_HC_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "hc-internal.h"

struct hc_elf {
    uint32_t entry;
    uint64_t pstart, pend; /* physical extent of the PT_LOAD segments */
    uint32_t phoff;
    unsigned phnum;
};

/* -ENOEXEC unless img is an image hvmloader's loader would take and its
 * segments fit guest RAM; writes nothing. */
int hc_elf_check(struct hv_hypercalls *h, const uint8_t *img, size_t len, struct hc_elf *out);
/* Copies the segments hc_elf_check accepted. */
int hc_elf_load(struct hv_hypercalls *h, const uint8_t *img, const struct hc_elf *elf);

#endif
