/*
 * gpci: the guest's view of PCI on bus 0, on top of the mock firmware.
 *
 * mockhv_firmware_pci_init() does what hvmloader does (scan, size and
 * assign BARs, enable decode); gpci keeps the result, finds functions and
 * capabilities with bounded walks (a device model is not trusted to end its
 * capability list), and prints an lspci-like listing. Every config access
 * goes through 0xCF8/0xCFC from one vCPU.
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mockhv.h"

#define GPCI_MAX_FUNCS 256 /* 32 devices x 8 functions */

#define GPCI_CAP_ID_MSI    0x05
#define GPCI_CAP_ID_VENDOR 0x09
#define GPCI_CAP_ID_MSIX   0x11

struct gpci_bus {
    struct mockhv *hv;
    unsigned vcpu;
    int timeout_ms;
    size_t nr;
    struct mockhv_pci_func funcs[GPCI_MAX_FUNCS];
};

/* Runs the firmware scan; 0 or -errno. */
int gpci_scan(struct gpci_bus *bus, struct mockhv *hv, unsigned vcpu, int timeout_ms);
/* First function with these IDs (0xffff matches any device), or NULL. */
const struct mockhv_pci_func *gpci_find(const struct gpci_bus *bus, uint16_t vendor,
                                        uint16_t device);

int gpci_cfg_read(const struct gpci_bus *bus, uint16_t bdf, unsigned reg, unsigned size,
                  uint32_t *val);
int gpci_cfg_write(const struct gpci_bus *bus, uint16_t bdf, unsigned reg, unsigned size,
                   uint32_t val);

/*
 * Offset of the first capability with this id that comes after `after` in
 * the list (after = 0: from the start). 0, -ENOENT, or -ELOOP when the list
 * does not end within the 48 entries config space can hold.
 */
int gpci_cap_find(const struct gpci_bus *bus, uint16_t bdf, uint8_t id, uint8_t after,
                  uint8_t *off);

/* Names for the listing; never NULL. */
const char *gpci_class_name(uint32_t class_rev);
const char *gpci_vendor_name(uint16_t vendor);
const char *gpci_device_name(uint16_t vendor, uint16_t device);
const char *gpci_cap_name(uint8_t id);

/*
 * One line per function as `lspci -nn` prints it; verbose adds the BARs and
 * the capability list. Returns 0 or the first config-access error.
 */
int gpci_print(const struct gpci_bus *bus, FILE *out, bool verbose);

static inline unsigned gpci_bdf_dev(uint16_t bdf)
{
    return (bdf >> 3) & 0x1f;
}

static inline unsigned gpci_bdf_fn(uint16_t bdf)
{
    return bdf & 7;
}

#endif
