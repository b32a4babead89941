/*
 * Names of the device-level fault causes (see dm-faults.h).
 */
#include "dm-faults.h"

static const char *const names[DM_FAULT_COUNT] = {
    [DM_FAULT_PCI_NO_FUNCTION] = "pci_no_function",
    [DM_FAULT_PCI_CONFIG_PAST_END] = "pci_config_past_end",
    [DM_FAULT_PCI_CONFIG_BAD_SIZE] = "pci_config_bad_size",
    [DM_FAULT_PCI_BAR_REFUSED] = "pci_bar_refused",
    [DM_FAULT_MSIX_ACCESS_DROPPED] = "msix_access_dropped",
    [DM_FAULT_VIRTQ_LOOP] = "virtq_loop",
    [DM_FAULT_VIRTQ_BAD_INDEX] = "virtq_bad_index",
    [DM_FAULT_VIRTQ_BAD_LENGTH] = "virtq_bad_length",
    [DM_FAULT_VIRTQ_OUTSIDE_RAM] = "virtq_outside_ram",
    [DM_FAULT_VIRTQ_BAD_LAYOUT] = "virtq_bad_layout",
    [DM_FAULT_VIRTIO_NOTIFY_IGNORED] = "virtio_notify_ignored",
};

const char *dm_fault_name(enum dm_fault cause)
{
    if ((unsigned)cause >= DM_FAULT_COUNT || !names[cause])
        return "unknown";
    return names[cause];
}
