/*
 * The conformance suite every PCI function runs in its unit test: IDs, header
 * type, read-only and RW1C bits, BAR sizing for every declared BAR, command
 * register decode mapping and unmapping the BARs in the registry, capability
 * chain termination, and hostile accesses (odd sizes, offsets past the
 * decoded space, all-ones everywhere, rewriting capability pointers). It uses
 * cmocka assertions, so call it from inside a cmocka test.
 *
 * The function must already be on `bus`, whose io-range registry is `io`.
 * Afterwards the function has been reset (pci_dev_reset) and the registry
 * holds what it held before.
 */
#ifndef TESTS_PCI_CONFORMANCE_H
#define TESTS_PCI_CONFORMANCE_H

#include <stdint.h>

#include "io-range.h"
#include "pci.h"

struct pci_conformance_ids {
    uint16_t vendor;
    uint16_t device;
    uint8_t revision;
    uint32_t class_code; /* base << 16 | sub << 8 | prog-if */
    uint16_t subsystem_vendor;
    uint16_t subsystem_id;
    uint8_t interrupt_pin; /* 0 none, 1 = INTA# .. */
};

void pci_conformance_run(struct pci_bus *bus, struct io_registry *io, uint32_t sbdf,
                         const struct pci_conformance_ids *ids);

#endif
