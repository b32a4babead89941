/*
 * The in-process test ioreq server (see test-dm.h).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test-dm.h"

/* Holds the log lock for the whole pass, so that once test_dm_set_drain(false)
 * returns no pass that began earlier can still consume the ring. */
static void drain(struct test_dm *dm)
{
    uint32_t rp, wp;

    if (!dm->buf)
        return;
    pthread_mutex_lock(&dm->lock);
    if (!dm->drain_buffered) {
        pthread_mutex_unlock(&dm->lock);
        return;
    }
    rp = __atomic_load_n(&dm->buf->read_pointer, __ATOMIC_ACQUIRE);
    wp = __atomic_load_n(&dm->buf->write_pointer, __ATOMIC_ACQUIRE);
    while (rp != wp && wp - rp <= IOREQ_BUFFER_SLOT_NUM) {
        buf_ioreq_t b = dm->buf->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
        uint64_t v = b.data;
        unsigned step = 1;

        if (b.size == 3) {
            v |= (uint64_t)dm->buf->buf_ioreq[(rp + 1) % IOREQ_BUFFER_SLOT_NUM].data << 32;
            step = 2;
        }
        if (dm->nr_buffered < TEST_DM_MAX_LOG) {
            dm->buffered_type[dm->nr_buffered] = b.type;
            dm->buffered[dm->nr_buffered++] = v;
        }
        rp += step;
        __atomic_store_n(&dm->buf->read_pointer, rp, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&dm->lock);
}

static void set_state(ioreq_t *slot, uint8_t state)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->state = state;
}

static void serve(struct test_dm *dm, unsigned v)
{
    ioreq_t *slot = &dm->slots->vcpu_ioreq[v];
    ioreq_t q;

    if (slot->state != STATE_IOREQ_READY)
        return;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    q = *slot;
    set_state(slot, STATE_IOREQ_INPROCESS);
    drain(dm);
    pthread_mutex_lock(&dm->lock);
    if (dm->nr_log < TEST_DM_MAX_LOG)
        dm->log[dm->nr_log++] = q;
    pthread_mutex_unlock(&dm->lock);
    switch (__atomic_load_n(&dm->mode, __ATOMIC_ACQUIRE)) {
    case TEST_DM_SILENT:
        return;
    case TEST_DM_BAD_STATE:
        set_state(slot, 5);
        xenevtchn_notify(dm->xce, dm->local[v]);
        return;
    default:
        break;
    }
    if (dm->handler) {
        uint64_t val = dm->handler(dm->opaque, v, &q);
        if (q.dir == IOREQ_READ && !q.data_is_ptr)
            slot->data = val;
    } else if (q.dir == IOREQ_READ && !q.data_is_ptr) {
        slot->data = __atomic_load_n(&dm->read_value, __ATOMIC_ACQUIRE);
    }
    set_state(slot, STATE_IORESP_READY);
    if (__atomic_load_n(&dm->mode, __ATOMIC_ACQUIRE) != TEST_DM_NO_NOTIFY)
        xenevtchn_notify(dm->xce, dm->local[v]);
}

static void *loop(void *arg)
{
    struct test_dm *dm = arg;

    for (;;) {
        struct pollfd pfd[2] = {{.fd = xenevtchn_fd(dm->xce), .events = POLLIN},
                                {.fd = dm->stop_pipe[0], .events = POLLIN}};
        xenevtchn_port_or_error_t port;

        if (poll(pfd, 2, -1) < 0)
            continue;
        if (pfd[1].revents)
            return NULL;
        port = xenevtchn_pending(dm->xce);
        if (port < 0) {
            dm->exit_reason = -1;
            return NULL;
        }
        xenevtchn_unmask(dm->xce, (evtchn_port_t)port);
        if ((evtchn_port_t)port == dm->buf_local)
            drain(dm);
        for (unsigned v = 0; v < dm->nr_vcpus; v++)
            if ((evtchn_port_t)port == dm->local[v])
                serve(dm, v);
    }
}

int test_dm_start(struct test_dm *dm, uint16_t domid, int bufioreq)
{
    return test_dm_start_with(dm, domid, bufioreq, NULL, NULL);
}

int test_dm_start_with(struct test_dm *dm, uint16_t domid, int bufioreq,
                       uint64_t (*handler)(void *opaque, unsigned vcpu, const ioreq_t *q),
                       void *opaque)
{
    evtchn_port_t buf_port = 0;
    void *addr = NULL;
    unsigned first = bufioreq ? 0 : 1;
    int rc;

    memset(dm, 0, sizeof(*dm));
    dm->handler = handler;
    dm->opaque = opaque;
    pthread_mutex_init(&dm->lock, NULL);
    dm->domid = domid;
    dm->drain_buffered = true;
    dm->read_value = 0;
    dm->xce = xenevtchn_open(NULL, 0);
    dm->dmod = xendevicemodel_open(NULL, 0);
    dm->fmem = xenforeignmemory_open(NULL, 0);
    if (!dm->xce || !dm->dmod || !dm->fmem)
        return -errno;
    if (xendevicemodel_nr_vcpus(dm->dmod, domid, &dm->nr_vcpus) ||
        xendevicemodel_create_ioreq_server(dm->dmod, domid, bufioreq, &dm->id))
        return -errno;
    dm->fres = xenforeignmemory_map_resource(dm->fmem, domid, XENMEM_resource_ioreq_server, dm->id,
                                             first, 2 - first, &addr, PROT_READ | PROT_WRITE, 0);
    if (!dm->fres)
        return -errno;
    dm->buf = bufioreq ? addr : NULL;
    dm->slots = (shared_iopage_t *)((char *)addr + (bufioreq ? XC_PAGE_SIZE : 0));
    if (xendevicemodel_get_ioreq_server_info(dm->dmod, domid, dm->id, NULL, NULL, &buf_port) ||
        xendevicemodel_set_ioreq_server_state(dm->dmod, domid, dm->id, 1))
        return -errno;
    for (unsigned v = 0; v < dm->nr_vcpus; v++) {
        rc = xenevtchn_bind_interdomain(dm->xce, domid, dm->slots->vcpu_ioreq[v].vp_eport);
        if (rc < 0)
            return -errno;
        dm->local[v] = (evtchn_port_t)rc;
    }
    if (bufioreq) {
        rc = xenevtchn_bind_interdomain(dm->xce, domid, buf_port);
        if (rc < 0)
            return -errno;
        dm->buf_local = (evtchn_port_t)rc;
    }
    if (pipe(dm->stop_pipe) < 0)
        return -errno;
    return -pthread_create(&dm->thread, NULL, loop, dm);
}

void test_dm_stop(struct test_dm *dm, bool destroy)
{
    ssize_t n = write(dm->stop_pipe[1], "x", 1);

    (void)n;
    pthread_join(dm->thread, NULL);
    close(dm->stop_pipe[0]);
    close(dm->stop_pipe[1]);
    if (destroy) {
        xendevicemodel_set_ioreq_server_state(dm->dmod, dm->domid, dm->id, 0);
        xendevicemodel_destroy_ioreq_server(dm->dmod, dm->domid, dm->id);
    }
    xenforeignmemory_unmap_resource(dm->fmem, dm->fres);
    xenforeignmemory_close(dm->fmem);
    xendevicemodel_close(dm->dmod);
    xenevtchn_close(dm->xce);
    pthread_mutex_destroy(&dm->lock);
}

unsigned test_dm_count(struct test_dm *dm)
{
    unsigned n;

    pthread_mutex_lock(&dm->lock);
    n = dm->nr_log;
    pthread_mutex_unlock(&dm->lock);
    return n;
}

ioreq_t test_dm_get(struct test_dm *dm, unsigned i)
{
    ioreq_t q;

    pthread_mutex_lock(&dm->lock);
    q = dm->log[i];
    pthread_mutex_unlock(&dm->lock);
    return q;
}

void test_dm_set_mode(struct test_dm *dm, enum test_dm_mode mode)
{
    __atomic_store_n(&dm->mode, mode, __ATOMIC_RELEASE);
}

void test_dm_set_read_value(struct test_dm *dm, uint64_t value)
{
    __atomic_store_n(&dm->read_value, value, __ATOMIC_RELEASE);
}

void test_dm_set_drain(struct test_dm *dm, bool drain)
{
    pthread_mutex_lock(&dm->lock);
    dm->drain_buffered = drain;
    pthread_mutex_unlock(&dm->lock);
}

unsigned test_dm_buffered(struct test_dm *dm, unsigned i, uint64_t *value)
{
    unsigned n;

    pthread_mutex_lock(&dm->lock);
    n = dm->nr_buffered;
    if (i < n && value)
        *value = dm->buffered[i];
    pthread_mutex_unlock(&dm->lock);
    return n;
}
