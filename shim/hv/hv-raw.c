/*
 * Raw access to a server's shared pages for hostile tests: put any bytes in
 * a slot or the buffered ring, set the ring pointers to anything, fire any
 * port. Nothing here is checked against what Xen would send; that is the point.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "hv-internal.h"

static struct hv_server *lock_server(struct mockhv *hv, uint16_t id)
{
    struct hv_server *s;

    pthread_mutex_lock(&hv->lock);
    s = hv_server_get(hv, id);
    if (!s)
        pthread_mutex_unlock(&hv->lock);
    return s;
}

int mockhv_raw_slot_write(struct mockhv *hv, uint16_t id, unsigned vcpu, const void *bytes,
                          size_t len, bool notify)
{
    struct hv_server *s;

    if (vcpu >= hv->nr_vcpus || len > sizeof(ioreq_t))
        return -EINVAL;
    s = lock_server(hv, id);
    if (!s)
        return -ENOENT;
    memcpy(&s->slots->vcpu_ioreq[vcpu], bytes, len);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (notify)
        hv_guest_fire(hv, s->vcpu_port[vcpu]);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int mockhv_raw_slot_read(struct mockhv *hv, uint16_t id, unsigned vcpu, void *bytes, size_t len)
{
    struct hv_server *s;

    if (vcpu >= hv->nr_vcpus || len > sizeof(ioreq_t))
        return -EINVAL;
    s = lock_server(hv, id);
    if (!s)
        return -ENOENT;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(bytes, &s->slots->vcpu_ioreq[vcpu], len);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

/* Polls: the device model may answer without notifying, which is what some
 * hostile tests look for. Bounded by timeout_ms. */
int mockhv_raw_slot_wait(struct mockhv *hv, uint16_t id, unsigned vcpu, uint8_t state,
                         int timeout_ms)
{
    struct timespec ts = {.tv_nsec = 1000000};

    if (timeout_ms <= 0)
        timeout_ms = MOCKHV_DEFAULT_TIMEOUT_MS;
    for (int waited = 0; waited <= timeout_ms; waited++) {
        uint8_t b[sizeof(ioreq_t)];
        int rc = mockhv_raw_slot_read(hv, id, vcpu, b, sizeof(b));

        if (rc)
            return rc;
        if ((b[30] & 0xf) == state)
            return 0;
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}

int mockhv_raw_buf_slot_write(struct mockhv *hv, uint16_t id, unsigned slot, const void *bytes,
                              size_t len)
{
    struct hv_server *s;

    if (len > sizeof(buf_ioreq_t))
        return -EINVAL;
    s = lock_server(hv, id);
    if (!s)
        return -ENOENT;
    memcpy(&s->buf->buf_ioreq[slot % IOREQ_BUFFER_SLOT_NUM], bytes, len);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int mockhv_raw_buf_pointers(struct mockhv *hv, uint16_t id, uint32_t read_ptr, uint32_t write_ptr,
                            bool notify)
{
    struct hv_server *s = lock_server(hv, id);

    if (!s)
        return -ENOENT;
    __atomic_store_n(&s->buf->read_pointer, read_ptr, __ATOMIC_RELEASE);
    __atomic_store_n(&s->buf->write_pointer, write_ptr, __ATOMIC_RELEASE);
    if (notify && s->buf_port)
        hv_guest_fire(hv, s->buf_port);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int mockhv_raw_buf_pointers_get(struct mockhv *hv, uint16_t id, uint32_t *read_ptr,
                                uint32_t *write_ptr)
{
    struct hv_server *s = lock_server(hv, id);

    if (!s)
        return -ENOENT;
    *read_ptr = __atomic_load_n(&s->buf->read_pointer, __ATOMIC_ACQUIRE);
    *write_ptr = __atomic_load_n(&s->buf->write_pointer, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int mockhv_raw_notify(struct mockhv *hv, uint16_t id, unsigned vcpu)
{
    struct hv_server *s;
    int rc = 0;

    if (vcpu != ~0u && vcpu >= hv->nr_vcpus)
        return -EINVAL;
    s = lock_server(hv, id);
    if (!s)
        return -ENOENT;
    if (vcpu == ~0u && !s->buf_port)
        rc = -ENOENT;
    else
        hv_guest_fire(hv, vcpu == ~0u ? s->buf_port : s->vcpu_port[vcpu]);
    pthread_mutex_unlock(&hv->lock);
    return rc;
}
