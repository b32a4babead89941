/*
 * The modern virtio-pci transport (virtio 1.2, 4.1): a PCI function that
 * carries one virtio device core.
 *
 * Layout: every virtio structure lives in one 64-bit memory BAR, each in its
 * own 4 KiB page, and the MSI-X table and PBA follow in the same BAR:
 *
 *   BAR 4 + 0x0000  common configuration      (VIRTIO_PCI_CAP_COMMON_CFG)
 *         + 0x1000  ISR status                (VIRTIO_PCI_CAP_ISR_CFG)
 *         + 0x2000  device configuration      (VIRTIO_PCI_CAP_DEVICE_CFG)
 *         + 0x3000  notifications, queue n at n * 4 (VIRTIO_PCI_CAP_NOTIFY_CFG)
 *         + 0x4000  MSI-X table, + 0x6000 MSI-X PBA
 *
 * plus a VIRTIO_PCI_CAP_PCI_CFG window in config space. MSI-X has one vector
 * per queue plus one for configuration changes; without MSI-X, interrupts
 * go through INTA# and the ISR.
 *
 * Ownership: the transport owns every piece of transport state (status,
 * features, queue configuration, the virtqueues themselves); the device core
 * is borrowed and must outlive it.
 */
#ifndef DEVICES_VIRTIO_PCI_H
#define DEVICES_VIRTIO_PCI_H

#include <stdint.h>

#include "compiler.h"
#include "gmem.h"
#include "pci.h"
#include "virtio.h"

#define VIRTIO_PCI_VENDOR_ID   0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040
#define VIRTIO_PCI_REVISION    1

/* virtio_pci_cap cfg_type values (4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

/* virtio_pci_cap fields, relative to the capability. */
#define VIRTIO_PCI_CAP_LEN         2
#define VIRTIO_PCI_CAP_CFG_TYPE    3
#define VIRTIO_PCI_CAP_BAR         4
#define VIRTIO_PCI_CAP_ID          5
#define VIRTIO_PCI_CAP_OFFSET      8
#define VIRTIO_PCI_CAP_LENGTH      12
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16 /* notify_off_multiplier */
#define VIRTIO_PCI_CFG_DATA        16 /* pci_cfg_data */

/* Common configuration (4.1.4.3). */
#define VIRTIO_PCI_COMMON_DFSELECT      0x00
#define VIRTIO_PCI_COMMON_DF            0x04
#define VIRTIO_PCI_COMMON_GFSELECT      0x08
#define VIRTIO_PCI_COMMON_GF            0x0c
#define VIRTIO_PCI_COMMON_MSIX          0x10
#define VIRTIO_PCI_COMMON_NUMQ          0x12
#define VIRTIO_PCI_COMMON_STATUS        0x14
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15
#define VIRTIO_PCI_COMMON_Q_SELECT      0x16
#define VIRTIO_PCI_COMMON_Q_SIZE        0x18
#define VIRTIO_PCI_COMMON_Q_MSIX        0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE      0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF        0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO      0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI      0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO     0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI     0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO      0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI      0x34
#define VIRTIO_PCI_COMMON_SIZE          0x38

#define VIRTIO_MSI_NO_VECTOR  0xffff
#define VIRTIO_PCI_ISR_QUEUE  1
#define VIRTIO_PCI_ISR_CONFIG 2

/* Our layout. */
#define VPCI_BAR            4
#define VPCI_BAR_SIZE       0x8000
#define VPCI_COMMON_OFF     0x0000
#define VPCI_ISR_OFF        0x1000
#define VPCI_DEVICE_OFF     0x2000
#define VPCI_NOTIFY_OFF     0x3000
#define VPCI_REGION_SIZE    0x1000
#define VPCI_NOTIFY_MULT    4
#define VPCI_MSIX_TABLE_OFF 0x4000
#define VPCI_MSIX_PBA_OFF   0x6000
/* Queues the notify region can address. */
#define VPCI_MAX_QUEUES (VPCI_REGION_SIZE / VPCI_NOTIFY_MULT)

struct vpci;

/*
 * Put vdev on `bus` at devfn (or the next free slot if devfn < 0), with guest
 * memory gm for its queues. 0 or -errno with errbuf filled.
 */
int vpci_new(struct vpci **out, struct pci_bus *bus, struct gmem *gm, struct virtio_dev *vdev,
             int devfn, char *errbuf, size_t errlen) must_check;
/*
 * The same with an expansion ROM BAR (a boot ROM the firmware may run)
 * holding rom[0 .. rom_len), zero past it; rom is borrowed and must outlive
 * the transport. rom == NULL: no ROM BAR.
 */
int vpci_new_with_rom(struct vpci **out, struct pci_bus *bus, struct gmem *gm,
                      struct virtio_dev *vdev, int devfn, const void *rom, size_t rom_len,
                      char *errbuf, size_t errlen) must_check;
/* Resets the device core, waiting for its requests in flight, takes the function off the bus,
 * frees. */
void vpci_free(struct vpci *vp);
struct pci_dev *vpci_pci_dev(struct vpci *vp);
/* device_status as the driver reads it (non-zero while a reset waits for the backend). */
uint8_t vpci_status(const struct vpci *vp);
/* The negotiated features (valid once FEATURES_OK is set). */
uint64_t vpci_features(const struct vpci *vp);

/* PCI class code for a virtio device type. */
uint32_t vpci_class_code(uint16_t device_id);

#endif
