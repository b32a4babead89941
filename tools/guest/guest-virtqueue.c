/*
 * gvq: the driver's half of a split virtqueue (virtio 1.2, 2.7). The
 * descriptor free list and the tokens live on the host side; guest RAM holds
 * only what the device reads (descriptors, available ring) and writes (used
 * ring). Nothing the device wrote is trusted before it is checked.
 */
#include "guest-virtio.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define VRING_DESC_F_NEXT     1
#define VRING_DESC_F_WRITE    2
#define VRING_DESC_F_INDIRECT 4

#define VRING_USED_F_NO_NOTIFY 1

/* Guest-physical offsets inside the three parts (2.7.5, 2.7.6, 2.7.8). */
#define AVAIL_IDX     2
#define AVAIL_RING(i) (4 + 2 * (uint64_t)(i))
#define USED_FLAGS    0
#define USED_IDX      2
#define USED_RING(i)  (4 + 8 * (uint64_t)(i))

struct vring_desc_le {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
_Static_assert(sizeof(struct vring_desc_le) == 16, "2.7.5: 16-byte descriptors");

static int ram_write16(struct mockhv *hv, uint64_t gpa, uint16_t v)
{
    return mockhv_ram_write(hv, gpa, &v, sizeof(v));
}

static int ram_read16(struct mockhv *hv, uint64_t gpa, uint16_t *v)
{
    return mockhv_ram_read(hv, gpa, v, sizeof(*v));
}

/* Ring index of the i-th descriptor on the free list; caller holds the lock. */
static uint16_t free_index(const struct gvq *vq, unsigned i)
{
    uint16_t d = vq->free_head;

    while (i--)
        d = vq->next[d];
    return d;
}

int gvq_peek_index(struct gvq *vq, unsigned i, uint16_t *index)
{
    int rc = 0;

    pthread_mutex_lock(&vq->lock);
    if (i >= vq->nr_free)
        rc = -ENOSPC;
    else
        *index = free_index(vq, i);
    pthread_mutex_unlock(&vq->lock);
    return rc;
}

/* Takes the n descriptors just written off the free list and publishes the chain. */
static int publish(struct gvq *vq, unsigned n, void *token)
{
    struct mockhv *hv = vq->dev->hv;
    uint16_t head = vq->free_head;
    int rc;

    vq->free_head = vq->next[free_index(vq, n - 1)];
    vq->nr_free = (uint16_t)(vq->nr_free - n);
    vq->chain_len[head] = (uint16_t)n;
    vq->tokens[head] = token;

    rc = ram_write16(hv, vq->avail + AVAIL_RING(vq->avail_idx % vq->size), head);
    if (rc)
        return rc;
    /* 2.7.13: the ring entry and the descriptors before the index that publishes them. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    vq->avail_idx++;
    rc = ram_write16(hv, vq->avail + AVAIL_IDX, vq->avail_idx);
    vq->added++;
    return rc;
}

int gvq_add(struct gvq *vq, const struct gvq_buf *bufs, unsigned n_out, unsigned n_in, void *token)
{
    struct mockhv *hv = vq->dev->hv;
    unsigned n = n_out + n_in;
    uint16_t d;
    int rc = 0;

    if (!n || !token)
        return -EINVAL;
    pthread_mutex_lock(&vq->lock);
    if (n > vq->nr_free) {
        rc = -ENOSPC;
        goto out;
    }
    d = vq->free_head;
    for (unsigned i = 0; i < n; i++) {
        struct vring_desc_le desc = {
            .addr = bufs[i].gpa,
            .len = bufs[i].len,
            .flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
                                (i >= n_out ? VRING_DESC_F_WRITE : 0)),
            .next = i + 1 < n ? vq->next[d] : 0,
        };

        rc = mockhv_ram_write(hv, vq->desc + 16 * (uint64_t)d, &desc, sizeof(desc));
        if (rc)
            goto out;
        d = vq->next[d];
    }
    rc = publish(vq, n, token);
out:
    pthread_mutex_unlock(&vq->lock);
    return rc;
}

int gvq_add_indirect(struct gvq *vq, const struct gvq_buf *bufs, unsigned n_out, unsigned n_in,
                     uint64_t table, void *token)
{
    struct mockhv *hv = vq->dev->hv;
    unsigned n = n_out + n_in;
    struct vring_desc_le desc;
    int rc = 0;

    if (!n || !token || (table & 15) || !gvirtio_has(vq->dev, GVIRTIO_F_INDIRECT_DESC))
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        desc = (struct vring_desc_le){
            .addr = bufs[i].gpa,
            .len = bufs[i].len,
            .flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
                                (i >= n_out ? VRING_DESC_F_WRITE : 0)),
            .next = (uint16_t)(i + 1 < n ? i + 1 : 0),
        };
        rc = mockhv_ram_write(hv, table + 16 * (uint64_t)i, &desc, sizeof(desc));
        if (rc)
            return rc;
    }
    desc = (struct vring_desc_le){
        .addr = table,
        .len = 16 * n,
        .flags = VRING_DESC_F_INDIRECT,
    };
    pthread_mutex_lock(&vq->lock);
    if (!vq->nr_free) {
        rc = -ENOSPC;
        goto out;
    }
    rc = mockhv_ram_write(hv, vq->desc + 16 * (uint64_t)vq->free_head, &desc, sizeof(desc));
    if (!rc)
        rc = publish(vq, 1, token);
out:
    pthread_mutex_unlock(&vq->lock);
    return rc;
}

int gvq_desc_write(struct gvq *vq, uint64_t table, uint16_t i, const struct gvq_raw_desc *d)
{
    struct vring_desc_le desc = {
        .addr = d->addr, .len = d->len, .flags = d->flags, .next = d->next};

    return mockhv_ram_write(vq->dev->hv, table + 16 * (uint64_t)i, &desc, sizeof(desc));
}

int gvq_add_raw(struct gvq *vq, const struct gvq_raw_desc *d, unsigned n, void *token)
{
    int rc = 0;

    if (!n || !token)
        return -EINVAL;
    pthread_mutex_lock(&vq->lock);
    if (n > vq->nr_free) {
        rc = -ENOSPC;
        goto out;
    }
    for (unsigned i = 0; i < n; i++) {
        struct gvq_raw_desc desc = d[i];

        if (!desc.literal_next && desc.next < n)
            desc.next = free_index(vq, desc.next);
        rc = gvq_desc_write(vq, vq->desc, free_index(vq, i), &desc);
        if (rc)
            goto out;
    }
    rc = publish(vq, n, token);
out:
    pthread_mutex_unlock(&vq->lock);
    return rc;
}

/* vring_need_event (2.7.10): did new_idx step past the device's avail_event? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

int gvq_kick(struct gvq *vq)
{
    struct gvirtio *d = vq->dev;
    uint16_t old, now, v;
    bool notify;
    int rc;

    pthread_mutex_lock(&vq->lock);
    old = vq->kicked_idx;
    now = vq->avail_idx;
    vq->kicked_idx = now;
    pthread_mutex_unlock(&vq->lock);
    if (old == now)
        return 0;

    /* 2.7.13.3: publish the index before reading the device's suppression state. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (gvirtio_has(d, GVIRTIO_F_EVENT_IDX)) {
        rc = ram_read16(d->hv, vq->used + USED_RING(vq->size), &v); /* avail_event */
        notify = !rc && need_event(v, now, old);
    } else {
        rc = ram_read16(d->hv, vq->used + USED_FLAGS, &v);
        notify = !rc && !(v & VRING_USED_F_NO_NOTIFY);
    }
    if (rc)
        return rc;
    if (!notify) {
        __atomic_fetch_add(&vq->suppressed, 1, __ATOMIC_RELAXED);
        return 0;
    }
    return gvq_notify(vq);
}

int gvq_notify(struct gvq *vq)
{
    __atomic_fetch_add(&vq->notifies, 1, __ATOMIC_RELAXED);
    /* 4.1.4.4.1: without VIRTIO_F_NOTIFICATION_DATA the driver writes the queue index. */
    return gvirtio_mmio_write(vq->dev, vq->vcpu, vq->notify, 2, vq->index);
}

int gvq_set_avail_idx_raw(struct gvq *vq, uint16_t idx)
{
    return ram_write16(vq->dev->hv, vq->avail + AVAIL_IDX, idx);
}

int gvq_avail_write_raw(struct gvq *vq, uint16_t pos, uint16_t head)
{
    if (!vq->size)
        return -EINVAL;
    return ram_write16(vq->dev->hv, vq->avail + AVAIL_RING(pos % vq->size), head);
}

int gvq_used_elem_raw(struct gvq *vq, uint16_t pos, uint32_t *id, uint32_t *len)
{
    uint32_t elem[2];
    int rc;

    if (!vq->size)
        return -EINVAL;
    rc = mockhv_ram_read(vq->dev->hv, vq->used + USED_RING(pos % vq->size), elem, sizeof(elem));
    if (rc)
        return rc;
    *id = elem[0];
    *len = elem[1];
    return 0;
}

int gvq_used_idx(struct gvq *vq, uint16_t *idx)
{
    return ram_read16(vq->dev->hv, vq->used + USED_IDX, idx);
}

int gvq_get(struct gvq *vq, void **token, uint32_t *len)
{
    struct mockhv *hv = vq->dev->hv;
    struct {
        uint32_t id;
        uint32_t len;
    } elem;
    uint16_t idx, d;
    int rc;

    pthread_mutex_lock(&vq->lock);
    rc = ram_read16(hv, vq->used + USED_IDX, &idx);
    if (rc)
        goto out;
    if (idx == vq->last_used) {
        rc = -EAGAIN;
        goto out;
    }
    /* The element is read only after the index that announced it. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    rc = mockhv_ram_read(hv, vq->used + USED_RING(vq->last_used % vq->size), &elem, sizeof(elem));
    if (rc)
        goto out;
    if (elem.id >= vq->size || !vq->tokens[elem.id]) {
        rc = -EIO;
        goto out;
    }
    *token = vq->tokens[elem.id];
    *len = elem.len;
    vq->tokens[elem.id] = NULL;

    /* Give the chain back to the free list. */
    d = (uint16_t)elem.id;
    for (unsigned i = 1; i < vq->chain_len[elem.id]; i++)
        d = vq->next[d];
    vq->next[d] = vq->free_head;
    vq->free_head = (uint16_t)elem.id;
    vq->nr_free = (uint16_t)(vq->nr_free + vq->chain_len[elem.id]);
    vq->last_used++;
    vq->completed++;
    if (gvirtio_has(vq->dev, GVIRTIO_F_EVENT_IDX)) /* used_event: interrupt on the next one */
        rc = ram_write16(hv, vq->avail + AVAIL_RING(vq->size), vq->last_used);
out:
    pthread_mutex_unlock(&vq->lock);
    return rc;
}

unsigned gvq_in_flight(struct gvq *vq)
{
    unsigned n;

    pthread_mutex_lock(&vq->lock);
    n = (unsigned)(vq->size - vq->nr_free);
    pthread_mutex_unlock(&vq->lock);
    return n;
}

static bool used_pending(struct gvq *vq, int *err)
{
    uint16_t idx;
    bool pending;

    pthread_mutex_lock(&vq->lock);
    *err = ram_read16(vq->dev->hv, vq->used + USED_IDX, &idx);
    pending = !*err && idx != vq->last_used;
    pthread_mutex_unlock(&vq->lock);
    return pending;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is this interrupt record ours? For INTx, acknowledge it by reading the ISR. */
static void note_irq(struct gvq *vq, const struct mockhv_irq_record *r)
{
    struct gvirtio *d = vq->dev;
    uint8_t isr;

    if (d->opts.irq == GVIRTIO_IRQ_MSIX && r->kind == MOCKHV_IRQ_MSI &&
        vq->vector != GVIRTIO_NO_VECTOR && r->msi_data == d->opts.msi_data_base + vq->vector)
        __atomic_fetch_add(&vq->interrupts, 1, __ATOMIC_RELAXED);
    /* An event on the vector's pirq: the mock decoded it and the pirq was bound. */
    if (d->opts.irq == GVIRTIO_IRQ_XEN_PIRQ && r->kind == MOCKHV_IRQ_MSI && !r->dropped &&
        vq->vector != GVIRTIO_NO_VECTOR && r->pirq == d->opts.pirq_base + vq->vector)
        __atomic_fetch_add(&vq->interrupts, 1, __ATOMIC_RELAXED);
    if (d->opts.irq == GVIRTIO_IRQ_INTX && r->kind == MOCKHV_IRQ_INTX && r->level &&
        (r->sbdf & 0xffff) == d->fn.bdf) {
        __atomic_fetch_add(&vq->interrupts, 1, __ATOMIC_RELAXED);
        (void)gvirtio_isr(d, &isr);
    }
}

int gvq_wait(struct gvq *vq, int timeout_ms)
{
    struct mockhv *hv = vq->dev->hv;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : MOCKHV_DEFAULT_TIMEOUT_MS);
    struct mockhv_irq_record rec;
    uint64_t seq = mockhv_irq_last_seq(hv);
    int err, rc;

    for (;;) {
        int64_t left;

        /* The record sequence was sampled before the ring: no wake-up is lost. */
        if (used_pending(vq, &err))
            return 0;
        if (err)
            return err;
        left = deadline - now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        /* Short slices in poll mode, or when another waiter consumed our MSI. */
        rc = mockhv_irq_wait(hv, seq, &rec, (int)(left < 50 ? left : 50));
        if (rc == -ETIMEDOUT)
            continue;
        if (rc == -ENOENT) { /* fell behind the bounded history */
            seq = mockhv_irq_last_seq(hv);
            continue;
        }
        if (rc)
            return rc;
        seq = rec.seq;
        note_irq(vq, &rec);
    }
}
