/*
 * Drop-in libxenevtchn.so.1 for the mock hypervisor. The handle's fd is the
 * read end of a pipe the mock writes fired ports into, so it behaves like
 * /dev/xen/evtchn: readable when a port fired, 4 bytes per port, each port
 * masked after firing until xenevtchn_unmask. When the mock goes away the
 * pipe reads EOF and xenevtchn_pending fails (-1, ENOTCONN).
 * The mask bits and the notify counters live in an event page shared with
 * the mock (wire.h struct wire_evport): unmask is a compare-and-swap unless
 * a firing is pending (then the mock delivers it, asked by message), and a
 * notification to a vCPU's port wakes the waiting vCPU through a futex,
 * without a message. A mock that offers no page gets messages for both.
 * Like /dev/xen/evtchn, a handle knows the ports it bound: notify on any
 * other port fails with ENOTCONN and unmask ignores it, without a message.
 */
#include <xenevtchn.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim-toolcore.h"
#include "shim-transport.h"

struct xenevtchn_handle {
    Xentoolcore__Active_Handle tc_ah;
    struct shim_conn conn;
    int event_fd;
    struct wire_evport *evp; /* WIRE_EVP_PORTS entries, or NULL */
    /* Ports bound through this handle, a bit each (the mock's dom0 ports
     * are below WIRE_EVP_PORTS): set once a bind succeeded, cleared once
     * unbind did. Atomic, as the handle may be shared by threads. */
    uint64_t bound[WIRE_EVP_PORTS / 64];
};

#define EVP_BYTES (sizeof(struct wire_evport) * WIRE_EVP_PORTS)

/* The event page is an optimisation: without it every call still works. */
static void map_event_page(xenevtchn_handle *xce)
{
    struct wire_req req = {.op = WIRE_OP_EVTCHN_SHARED};
    struct wire_rep rep;
    int fd = -1;
    void *p;

    if (shim_call(&xce->conn, &req, NULL, 0, &rep, NULL, 0, NULL, &fd) < 0 || fd < 0)
        return;
    if (rep.r[0] == EVP_BYTES) {
        p = mmap(NULL, EVP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED)
            xce->evp = p;
    }
    close(fd);
}

static bool port_bound(const xenevtchn_handle *xce, evtchn_port_t port)
{
    return port < WIRE_EVP_PORTS &&
           (__atomic_load_n(&xce->bound[port / 64], __ATOMIC_RELAXED) >> (port % 64) & 1);
}

/* The result of a bind: remembers the port as this handle's. */
static xenevtchn_port_or_error_t remember_port(xenevtchn_handle *xce, int port)
{
    uint64_t a = (uint64_t)port;

    if (port < 0)
        return -1;
    if (port >= WIRE_EVP_PORTS) {
        /* not a port this mock hands out: give it back, report the mock broken */
        shim_simple(&xce->conn, WIRE_OP_EVTCHN_UNBIND, 0, &a, 1, NULL);
        errno = EIO;
        return -1;
    }
    __atomic_fetch_or(&xce->bound[port / 64], 1ull << (port % 64), __ATOMIC_RELAXED);
    return port;
}

#define HANDLE_OF(ah) ((xenevtchn_handle *)((char *)(ah)-offsetof(xenevtchn_handle, tc_ah)))

static int restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    return xenevtchn_restrict(HANDLE_OF(ah), domid);
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    xenevtchn_handle *xce = calloc(1, sizeof(*xce));
    int err;

    if (!xce)
        return NULL;
    xce->event_fd = -1;
    xce->conn.fd = -1;
    xce->tc_ah.restrict_callback = restrict_cb;
    xentoolcore__register_active_handle(&xce->tc_ah);
    if (shim_conn_open(&xce->conn, WIRE_KIND_EVTCHN, !(open_flags & XENEVTCHN_NO_CLOEXEC),
                       &xce->event_fd) < 0 ||
        xce->event_fd < 0) {
        err = errno ? errno : EIO;
        if (xce->conn.fd >= 0)
            shim_conn_close(&xce->conn);
        xentoolcore__deregister_active_handle(&xce->tc_ah);
        free(xce);
        errno = err;
        return NULL;
    }
    map_event_page(xce);
    return xce;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd, unsigned open_flags)
{
    /* inheriting a handle across exec is not supported by the mock */
    errno = ENOSYS;
    return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    xentoolcore__deregister_active_handle(&xce->tc_ah);
    shim_conn_close(&xce->conn);
    if (xce->event_fd >= 0)
        close(xce->event_fd);
    if (xce->evp)
        munmap(xce->evp, EVP_BYTES);
    free(xce);
    return 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    uint64_t a = domid;

    return shim_simple(&xce->conn, WIRE_OP_RESTRICT, 0, &a, 1, NULL) < 0 ? -1 : 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->event_fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct wire_req req = {.op = WIRE_OP_EVTCHN_NOTIFY, .a = {port}};

    /* IOCTL_EVTCHN_NOTIFY: a port this handle did not bind is not connected */
    if (!port_bound(xce, port)) {
        errno = ENOTCONN;
        return -1;
    }
    if (xce->evp && !xce->conn.dead &&
        (__atomic_load_n(&xce->evp[port].state, __ATOMIC_ACQUIRE) & WIRE_EVP_DIRECT)) {
        /* the increment orders the device model's slot writes before the wake-up */
        __atomic_fetch_add(&xce->evp[port].notify, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &xce->evp[port].notify, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
        return 0;
    }
    return shim_send(&xce->conn, &req);
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    if (domid > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    return remember_port(
        xce, shim_simple(&xce->conn, WIRE_OP_EVTCHN_BIND_UNBOUND, (uint16_t)domid, NULL, 0, NULL));
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    uint64_t a = remote_port;

    if (domid > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    return remember_port(xce, shim_simple(&xce->conn, WIRE_OP_EVTCHN_BIND_INTERDOMAIN,
                                          (uint16_t)domid, &a, 1, NULL));
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    uint64_t a = virq;

    return remember_port(xce, shim_simple(&xce->conn, WIRE_OP_EVTCHN_BIND_VIRQ, 0, &a, 1, NULL));
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    uint64_t a = port;

    if (shim_simple(&xce->conn, WIRE_OP_EVTCHN_UNBIND, 0, &a, 1, NULL) < 0)
        return -1;
    if (port < WIRE_EVP_PORTS)
        __atomic_fetch_and(&xce->bound[port / 64], ~(1ull << (port % 64)), __ATOMIC_RELAXED);
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    uint32_t port;
    ssize_t n = read(xce->event_fd, &port, sizeof(port));

    if (n == sizeof(port))
        return (xenevtchn_port_or_error_t)port;
    if (n >= 0)
        errno = ENOTCONN; /* EOF: the mock is gone */
    return -1;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct wire_req req = {.op = WIRE_OP_EVTCHN_UNMASK, .a = {port}};
    uint32_t *st = xce->evp && port < WIRE_EVP_PORTS ? &xce->evp[port].state : NULL;

    /* /dev/xen/evtchn's write() skips ports the file did not bind */
    if (!port_bound(xce, port))
        return 0;
    /* Bounded: the mock changes the word at most once per firing, and
     * falling back to the message is always right. */
    for (int i = 0; st && !xce->conn.dead && i < 16; i++) {
        uint32_t old = __atomic_load_n(st, __ATOMIC_ACQUIRE);

        if (!(old & WIRE_EVP_MASKED))
            return 0;
        if (old & WIRE_EVP_PENDING)
            break; /* one more delivery: only the mock can write the event pipe */
        if (__atomic_compare_exchange_n(st, &old, old & ~WIRE_EVP_MASKED, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 0;
    }
    return shim_send(&xce->conn, &req);
}
