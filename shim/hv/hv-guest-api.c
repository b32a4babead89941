/*
 * The guest's instructions, turned into ioreqs the way Xen's emulator
 * builds them: in/out of 1, 2 or 4 bytes, MMIO of 1, 2, 4 or 8, config
 * cycles through the 0xCF8/0xCFC pair, rep forms split so that no request's
 * guest buffer crosses a page, and buffered writes (stdvga VRAM, TIMEOFFSET)
 * with Xen's fallback to a synchronous request when the ring is full.
 */
#include <errno.h>

#include "hv-internal.h"

static bool pio_size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4;
}

static bool mmio_size_ok(unsigned size)
{
    return pio_size_ok(size) || size == 8;
}

/* The public API has no infinite wait: HV_TIMEOUT_NONE is the emulated vCPU's alone. */
static int public_timeout(int timeout_ms)
{
    return timeout_ms == HV_TIMEOUT_NONE ? 0 : timeout_ms;
}

int hv_guest_pio(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, bool read,
                 uint32_t *val, int timeout_ms, bool *claimed)
{
    ioreq_t p = {
        .type = IOREQ_TYPE_PIO,
        .addr = port,
        .size = size,
        .count = 1,
        .dir = read ? IOREQ_READ : IOREQ_WRITE,
        .data = read ? 0 : *val,
    };
    int rc;

    if (!pio_size_ok(size) || (unsigned)port + size > 0x10000)
        return -EINVAL;
    rc = hv_guest_send_claimed(hv, vcpu, &p, timeout_ms, claimed);
    if (!rc && read)
        *val = (uint32_t)p.data;
    return rc;
}

int mockhv_pio_in(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, uint32_t *val,
                  int timeout_ms)
{
    return hv_guest_pio(hv, vcpu, port, size, true, val, public_timeout(timeout_ms), NULL);
}

int mockhv_pio_out(struct mockhv *hv, unsigned vcpu, uint16_t port, unsigned size, uint32_t val,
                   int timeout_ms)
{
    return hv_guest_pio(hv, vcpu, port, size, false, &val, public_timeout(timeout_ms), NULL);
}

int hv_guest_mmio(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, bool read,
                  uint64_t *val, int timeout_ms, bool *claimed)
{
    ioreq_t p = {
        .type = IOREQ_TYPE_COPY,
        .addr = addr,
        .size = size,
        .count = 1,
        .dir = read ? IOREQ_READ : IOREQ_WRITE,
        .data = read ? 0 : *val,
    };
    int rc;

    if (!mmio_size_ok(size) || addr + size - 1 < addr)
        return -EINVAL;
    rc = hv_guest_send_claimed(hv, vcpu, &p, timeout_ms, claimed);
    if (!rc && read)
        *val = p.data;
    return rc;
}

int mockhv_mmio_read(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, uint64_t *val,
                     int timeout_ms)
{
    return hv_guest_mmio(hv, vcpu, addr, size, true, val, public_timeout(timeout_ms), NULL);
}

int mockhv_mmio_write(struct mockhv *hv, unsigned vcpu, uint64_t addr, unsigned size, uint64_t val,
                      int timeout_ms)
{
    return hv_guest_mmio(hv, vcpu, addr, size, false, &val, public_timeout(timeout_ms), NULL);
}

static int cfg(struct mockhv *hv, unsigned vcpu, uint16_t bdf, unsigned reg, unsigned size,
               bool read, uint32_t *val, int timeout_ms)
{
    uint32_t cf8 = 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc);
    int rc;

    if (!pio_size_ok(size) || reg >= 256 || (reg & (size - 1)))
        return -EINVAL;
    pthread_mutex_lock(&hv->cfg_lock);
    timeout_ms = public_timeout(timeout_ms);
    rc = hv_guest_pio(hv, vcpu, 0xcf8, 4, false, &cf8, timeout_ms, NULL);
    if (!rc)
        rc = hv_guest_pio(hv, vcpu, (uint16_t)(0xcfc + (reg & 3)), size, read, val, timeout_ms,
                          NULL);
    pthread_mutex_unlock(&hv->cfg_lock);
    return rc;
}

int mockhv_cfg_read(struct mockhv *hv, unsigned vcpu, uint16_t bdf, unsigned reg, unsigned size,
                    uint32_t *val, int timeout_ms)
{
    return cfg(hv, vcpu, bdf, reg, size, true, val, timeout_ms);
}

int mockhv_cfg_write(struct mockhv *hv, unsigned vcpu, uint16_t bdf, unsigned reg, unsigned size,
                     uint32_t val, int timeout_ms)
{
    return cfg(hv, vcpu, bdf, reg, size, false, &val, timeout_ms);
}

/* Items of `size` from gpa (downwards with df) that stay in gpa's page; at
 * least one, so an item straddling a page still goes out alone. */
static uint32_t items_in_page(uint64_t gpa, unsigned size, bool df, uint32_t count)
{
    uint64_t off = gpa & (HV_PAGE_SIZE - 1);
    uint64_t room = df ? off / size + 1 : (HV_PAGE_SIZE - off) / size;

    if (room == 0)
        room = 1;
    return room < count ? (uint32_t)room : count;
}

int mockhv_rep(struct mockhv *hv, unsigned vcpu, const struct mockhv_rep *rep, int timeout_ms)
{
    uint64_t addr = rep->addr, gpa = rep->gpa, len;
    uint32_t left = rep->count;
    int rc = 0;

    timeout_ms = public_timeout(timeout_ms);
    if (rep->mmio ? !mmio_size_ok(rep->size) : !pio_size_ok(rep->size))
        return -EINVAL;
    if (left == 0 || (!rep->mmio && addr + rep->size > 0x10000))
        return -EINVAL;
    len = (uint64_t)rep->size * left;
    pthread_mutex_lock(&hv->lock);
    rc = hv_ram_access(hv, rep->df ? gpa - len + rep->size : gpa, NULL, len, HV_RAM_CHECK);
    pthread_mutex_unlock(&hv->lock);
    if (rc)
        return rc;
    while (left && !rc) {
        uint32_t n = items_in_page(gpa, rep->size, rep->df, left);
        ioreq_t p = {
            .type = rep->mmio ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO,
            .addr = addr,
            .size = rep->size,
            .count = n,
            .df = rep->df,
            .data_is_ptr = 1,
            .dir = rep->dir_read ? IOREQ_READ : IOREQ_WRITE,
            .data = gpa,
        };
        uint64_t step = (uint64_t)n * rep->size;

        rc = hv_guest_send(hv, vcpu, &p, timeout_ms);
        gpa = rep->df ? gpa - step : gpa + step;
        if (rep->mmio)
            addr = rep->df ? addr - step : addr + step;
        left -= n;
    }
    return rc;
}

int mockhv_buf_write(struct mockhv *hv, unsigned vcpu, bool mmio_space, uint64_t addr,
                     unsigned size, uint64_t val, int timeout_ms)
{
    ioreq_t p = {
        .type = mmio_space ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO,
        .addr = addr,
        .size = size,
        .count = 1,
        .dir = IOREQ_WRITE,
        .data = val,
    };
    struct hv_server *s;
    int rc;

    timeout_ms = public_timeout(timeout_ms);
    if (!(mmio_space ? mmio_size_ok(size) : pio_size_ok(size)) || addr >= (1u << 20) ||
        vcpu >= hv->nr_vcpus)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    rc = hv_guest_down(hv);
    if (rc)
        goto out;
    s = hv_route_select(hv, &p);
    if (!s) {
        hv->stats.unclaimed_writes++;
        rc = 0;
        goto out;
    }
    rc = hv_bufring_put(hv, s, &p);
out:
    pthread_mutex_unlock(&hv->lock);
    if (rc == -ENOSPC || rc == -EOPNOTSUPP)
        rc = hv_guest_send(hv, vcpu, &p, timeout_ms);
    return rc;
}

/* Queues vals[*done..n) in runs under one lock and one routing decision,
 * firing the buffered port once per run. With `fallback`, a write that finds
 * the ring full goes out synchronously (Xen); without, it stops there. */
static int buf_batch(struct mockhv *hv, unsigned vcpu, bool mmio_space, uint64_t addr,
                     unsigned size, const uint64_t *vals, size_t n, int timeout_ms, bool fallback,
                     size_t *done)
{
    ioreq_t p = {.size = size, .count = 1, .dir = IOREQ_WRITE};
    size_t i = 0;
    int rc = 0;

    if (!(mmio_space ? mmio_size_ok(size) : pio_size_ok(size)) || addr >= (1u << 20) ||
        vcpu >= hv->nr_vcpus || (n && !vals))
        return -EINVAL;
    while (i < n && !rc) {
        struct hv_server *s;
        size_t queued = 0;

        pthread_mutex_lock(&hv->lock);
        rc = hv_guest_down(hv);
        if (rc) {
            pthread_mutex_unlock(&hv->lock);
            break;
        }
        /* routing may turn p into a config cycle: start from the guest's view */
        p.type = mmio_space ? IOREQ_TYPE_COPY : IOREQ_TYPE_PIO;
        p.addr = addr;
        s = hv_route_select(hv, &p);
        if (!s) {
            hv->stats.unclaimed_writes += n - i;
            i = n;
            pthread_mutex_unlock(&hv->lock);
            break;
        }
        for (; i < n; i++, queued++) {
            p.data = vals[i];
            rc = hv_bufring_queue(s, &p);
            if (rc)
                break;
        }
        if (queued)
            hv_guest_fire(hv, s->buf_port);
        pthread_mutex_unlock(&hv->lock);
        if ((rc == -ENOSPC || rc == -EOPNOTSUPP) && fallback) {
            rc = hv_guest_send(hv, vcpu, &p, timeout_ms);
            if (!rc)
                i++;
        }
    }
    *done = i;
    return rc;
}

int mockhv_buf_write_batch(struct mockhv *hv, unsigned vcpu, bool mmio_space, uint64_t addr,
                           unsigned size, const uint64_t *vals, size_t n, int timeout_ms)
{
    size_t done;

    return buf_batch(hv, vcpu, mmio_space, addr, size, vals, n, public_timeout(timeout_ms), true,
                     &done);
}

long mockhv_buf_try_write_batch(struct mockhv *hv, bool mmio_space, uint64_t addr, unsigned size,
                                const uint64_t *vals, size_t n)
{
    size_t done = 0;
    int rc = buf_batch(hv, 0, mmio_space, addr, size, vals, n, 0, false, &done);

    if (rc && rc != -ENOSPC)
        return rc;
    return (long)done;
}

int mockhv_timeoffset(struct mockhv *hv, int64_t delta)
{
    ioreq_t p = {
        .type = IOREQ_TYPE_TIMEOFFSET,
        .size = 8,
        .count = 1,
        .dir = IOREQ_WRITE,
        .data = (uint64_t)delta,
    };
    int sent = 0;

    pthread_mutex_lock(&hv->lock);
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        struct hv_server *s = &hv->servers[id];
        if (s->used && s->enabled && hv_bufring_put(hv, s, &p) == 0)
            sent++;
    }
    pthread_mutex_unlock(&hv->lock);
    return sent;
}
