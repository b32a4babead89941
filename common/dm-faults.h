/*
 * Device-level faults: guest accesses the emulated hardware refused,
 * dropped or ignored, counted by cause, for `ioreqctl stats` ("faults").
 * Each is also logged, rate-limited, where it happens; the count is what
 * stays. A struct dm_faults is an object its owner (the PCI bus) embeds
 * and hands out; code that has none passes NULL and counts nothing.
 *
 * A new cause is one enum entry and its name in dm-faults.c: names are
 * fixed lower_snake_case strings, part of the stats' JSON.
 */
#ifndef IOREQD_DM_FAULTS_H
#define IOREQD_DM_FAULTS_H

#include <stdint.h>

enum dm_fault {
    DM_FAULT_PCI_NO_FUNCTION,     /* "pci_no_function": config access to a function nothing is at */
    DM_FAULT_PCI_CONFIG_PAST_END, /* "pci_config_past_end": past the function's config space */
    DM_FAULT_PCI_CONFIG_BAD_SIZE, /* "pci_config_bad_size": not 1, 2 or 4 bytes in one dword */
    DM_FAULT_PCI_BAR_REFUSED,     /* "pci_bar_refused": a BAR placed over another range */
    DM_FAULT_MSIX_ACCESS_DROPPED, /* "msix_access_dropped": MSI-X table/PBA access not an aligned
                                   * DWORD or QWORD */
    DM_FAULT_VIRTQ_LOOP,          /* "virtq_loop": a chain longer than its table: a loop */
    DM_FAULT_VIRTQ_BAD_INDEX,     /* "virtq_bad_index": avail idx, head or next out of range */
    DM_FAULT_VIRTQ_BAD_LENGTH,    /* "virtq_bad_length": a chain of more than VIRTQ_MAX_BYTES */
    DM_FAULT_VIRTQ_OUTSIDE_RAM,   /* "virtq_outside_ram": a buffer or table outside guest RAM */
    DM_FAULT_VIRTQ_BAD_LAYOUT,    /* "virtq_bad_layout": indirect misused or sized, or a
                                   * readable buffer after a writable one */
    DM_FAULT_VIRTIO_NOTIFY_IGNORED, /* "virtio_notify_ignored": queue not enabled or not live */
    DM_FAULT_COUNT
};

struct dm_faults {
    uint64_t count[DM_FAULT_COUNT];
};

/* The cause's name in stats, or "unknown". */
const char *dm_fault_name(enum dm_fault cause);

/* Counts one fault; faults may be NULL (nothing counted). */
static inline void dm_fault_count(struct dm_faults *faults, enum dm_fault cause)
{
    if (faults && (unsigned)cause < DM_FAULT_COUNT)
        faults->count[cause]++;
}

#endif
