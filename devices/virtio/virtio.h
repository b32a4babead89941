/*
 * Virtio devices and transports (virtio 1.2, OASIS).
 *
 * A device core (virtio-blk) implements struct virtio_dev_ops and knows
 * nothing of the transport; a transport (virtio-pci) owns every piece of
 * transport state - status, feature negotiation, queue configuration, the
 * virtqueues themselves, interrupts - and calls the core through its ops.
 * The core reaches back only through struct virtio_transport: to find a
 * queue, to send a used-buffer or configuration notification, or to report
 * that the driver broke the rules (DEVICE_NEEDS_RESET).
 */
#ifndef DEVICES_VIRTIO_H
#define DEVICES_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* Transport and ring feature bits (6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device types (5). */
#define VIRTIO_ID_NET   1
#define VIRTIO_ID_BLOCK 2

#define VIRTIO_BIT(n) ((uint64_t)1 << (n))

struct virtio_dev;

/* What a device core may ask of its transport. */
struct virtio_transport {
    /* Queue `index`, or NULL if out of range. */
    struct virtq *(*queue)(void *opaque, unsigned index);
    /* A used-buffer notification for a queue; the core checks virtq_needs_notify() first. */
    void (*notify_queue)(void *opaque, unsigned index);
    /* The device configuration space changed. */
    void (*notify_config)(void *opaque);
    /* The driver broke the rules: set DEVICE_NEEDS_RESET and tell the driver. */
    void (*needs_reset)(void *opaque);
    /* A reset the core answered VIRTIO_RESET_PENDING to is over: nothing is in flight. */
    void (*reset_done)(void *opaque);
    void *opaque;
};

/* What a device core's reset did. */
enum virtio_reset {
    VIRTIO_RESET_DONE,    /* nothing was in flight: the core is reset */
    VIRTIO_RESET_PENDING, /* requests are still in flight; reset_done() follows the last */
};

struct virtio_dev_ops {
    const char *name;
    uint16_t device_id; /* VIRTIO_ID_* */
    unsigned (*num_queues)(struct virtio_dev *vdev);
    uint16_t (*queue_max)(struct virtio_dev *vdev); /* power of two <= VIRTQ_MAX_SIZE */
    unsigned (*cfg_size)(struct virtio_dev *vdev);
    /* Device-specific feature bits offered; the transport adds its own. */
    uint64_t (*features)(struct virtio_dev *vdev);
    /* The driver's choice at FEATURES_OK: 0, or -EINVAL to refuse it. */
    int (*set_features)(struct virtio_dev *vdev, uint64_t features);
    /* Device config space, offset + size inside cfg_size, size 1, 2 or 4. */
    uint32_t (*cfg_read)(struct virtio_dev *vdev, unsigned offset, unsigned size);
    void (*cfg_write)(struct virtio_dev *vdev, unsigned offset, unsigned size, uint32_t value);
    /* The driver notified queue `index` (already started). */
    void (*queue_notify)(struct virtio_dev *vdev, unsigned index);
    /*
     * Device reset, which never waits for the backend (a slow or hung disk
     * must not stall the loop that serves every other device and vCPU).
     * From the call on the core takes no request, and completions of the
     * requests still in flight are discarded as they come back: they touch
     * neither the queues nor the requests' status bytes and notify nothing.
     * DONE: nothing was in flight. PENDING: the core calls the transport's
     * reset_done() after the last one; calling reset again meanwhile
     * answers PENDING again and changes nothing.
     */
    enum virtio_reset (*reset)(struct virtio_dev *vdev);
    /* Teardown only: blocks until nothing is in flight (a pending reset then completes). */
    void (*quiesce)(struct virtio_dev *vdev);
    /*
     * Optional: the function was unplugged (Xen platform unplug) after a
     * reset; the core moves nothing any more. Without it the transport's
     * function is never unplugged.
     */
    void (*unplug)(struct virtio_dev *vdev);
};

/* Embedded in a device core's state; the transport sets `transport` when it plugs the device. */
struct virtio_dev {
    const struct virtio_dev_ops *ops;
    const struct virtio_transport *transport;
};

static inline struct virtq *virtio_queue(struct virtio_dev *vdev, unsigned index)
{
    const struct virtio_transport *t = vdev->transport;
    return t ? t->queue(t->opaque, index) : NULL;
}

/* Notify the driver of used buffers on vq if it asked for it. */
static inline void virtio_notify_queue(struct virtio_dev *vdev, struct virtq *vq)
{
    const struct virtio_transport *t = vdev->transport;
    if (t && virtq_needs_notify(vq))
        t->notify_queue(t->opaque, vq->index);
}

static inline void virtio_needs_reset(struct virtio_dev *vdev)
{
    const struct virtio_transport *t = vdev->transport;
    if (t)
        t->needs_reset(t->opaque);
}

static inline void virtio_reset_done(struct virtio_dev *vdev)
{
    const struct virtio_transport *t = vdev->transport;
    if (t && t->reset_done)
        t->reset_done(t->opaque);
}

#endif
