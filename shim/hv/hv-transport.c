/*
 * The mock's end of the wire protocol (wire.h, shim/PROTOCOL.md): a
 * SOCK_SEQPACKET listener on the mock's own thread and libevent loop, one
 * connection per library handle, every request handled under mockhv.lock
 * and answered in order. A client that breaks the framing is disconnected;
 * it never takes the mock down. Closing a connection closes its event
 * channel ends, as closing /dev/xen/evtchn does; ioreq servers outlive the
 * connection that created them, as they outlive a crashed device model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hv-internal.h"

#define HV_MAX_CONNS 1024

static uint8_t *rx_buf(void)
{
    static _Thread_local _Alignas(8) uint8_t buf[WIRE_MAX_MSG];
    return buf;
}

static uint8_t *tx_buf(void)
{
    static _Thread_local _Alignas(8) uint8_t buf[WIRE_MAX_MSG];
    return buf;
}

int hv_check_domid(const struct hv_conn *c, uint16_t domid)
{
    if (c->restrict_domid >= 0 && domid != c->restrict_domid)
        return -EPERM;
    if (domid != c->hv->domid || c->hv->gone)
        return -ESRCH;
    return 0;
}

static void conn_close(struct hv_conn *c)
{
    struct mockhv *hv = c->hv;

    for (struct hv_conn **pp = &hv->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    hv->nr_conns--;
    hv_evtchn_conn_closed(hv, c);
    if (c->maps_domain)
        hv_domain_mapper_closed(hv, c);
    if (c->ev)
        event_free(c->ev);
    close(c->fd);
    free(c);
}

static int hello(struct hv_conn *c, const struct wire_req *req, struct wire_rep *rep, int *fd_out,
                 bool *close_fd)
{
    int pfd[2];

    if (c->kind || req->a[0] != WIRE_MAGIC || req->a[1] != WIRE_VERSION ||
        req->a[2] < WIRE_KIND_EVTCHN || req->a[2] > WIRE_KIND_XC)
        return -EPROTO;
    c->kind = (enum wire_kind)req->a[2];
    rep->r[0] = c->hv->domid;
    rep->r[1] = c->hv->nr_vcpus;
    if (c->kind != WIRE_KIND_EVTCHN)
        return 0;
    /* a socket, not a pipe: sending to a closed reader must not raise SIGPIPE */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd) < 0)
        return -errno;
    shutdown(pfd[0], SHUT_WR);
    shutdown(pfd[1], SHUT_RD);
    fcntl(pfd[1], F_SETFL, O_NONBLOCK);
    c->event_wr = pfd[1];
    *fd_out = pfd[0];
    *close_fd = true;
    return 0;
}

static int restrict_conn(struct hv_conn *c, uint64_t domid)
{
    if (c->hv->restrict_error)
        return -c->hv->restrict_error;
    if (c->kind == WIRE_KIND_EVTCHN) {
        /* Linux evtchn: once only, never dom0 or a reserved domid */
        if (c->restrict_domid >= 0)
            return -EACCES;
        if (domid == 0 || domid >= 0x7ff0)
            return -EINVAL;
    } else if (domid >= 0x7ff0 || (c->restrict_domid >= 0 && c->restrict_domid != (int)domid)) {
        /* privcmd: set once, later calls must name the same domain */
        return -EINVAL;
    }
    c->restrict_domid = (int)domid;
    return 0;
}

static bool is_dm_op(uint32_t op)
{
    return op >= WIRE_OP_DM_CREATE_SERVER && op <= WIRE_OP_DM_SET_IRQ_LEVEL;
}

static int dispatch(struct hv_conn *c, const struct wire_req *req, size_t len, struct wire_rep *rep,
                    uint32_t *plen, int *fd_out, bool *close_fd)
{
    struct mockhv *hv = c->hv;
    int rc;

    if (req->op == WIRE_OP_HELLO)
        return hello(c, req, rep, fd_out, close_fd);
    if (!c->kind)
        return -EPROTO;
    if (req->op == WIRE_OP_RESTRICT)
        return restrict_conn(c, req->a[0]);
    switch (c->kind) {
    case WIRE_KIND_EVTCHN:
        if (req->op >= WIRE_OP_EVTCHN_BIND_INTERDOMAIN && req->op <= WIRE_OP_EVTCHN_UNMASK)
            return hv_evtchn_handle(c, req, rep);
        if (req->op == WIRE_OP_EVTCHN_SHARED) {
            rc = hv_evtchn_shared(c, rep, fd_out);
            *close_fd = rc == 0;
            return rc;
        }
        break;
    case WIRE_KIND_FMEM:
        if (req->op < WIRE_OP_FMEM_RAM || req->op > WIRE_OP_FMEM_TRANSLATE)
            break;
        rc = hv_check_domid(c, req->domid);
        if (rc)
            return rc;
        if (req->op == WIRE_OP_FMEM_TRANSLATE)
            return hv_fmem_translate(hv, req, len, tx_buf() + sizeof(*rep), plen);
        if (req->op != WIRE_OP_FMEM_RAM) {
            rc = hv_fmem_resource(hv, req, rep, fd_out);
            c->maps_domain |= rc == 0 && req->op == WIRE_OP_FMEM_RESOURCE;
            return rc;
        }
        c->maps_domain = true;
        rep->r[0] = hv->ram_bytes;
        rep->r[1] = hv->low_end;
        rep->r[2] = HV_HIGH_RAM_START;
        *fd_out = hv->ram_fd;
        return 0;
    case WIRE_KIND_DM:
        if (!is_dm_op(req->op))
            break;
        rc = hv_check_domid(c, req->domid);
        if (rc == -ESRCH && req->domid == hv->domid)
            rc = hv_domain_dying_op(hv, req->op);
        if (rc)
            return rc;
        rc = hv_server_handle(c, req, rep);
        if (rc == -ENOSYS)
            rc = hv_records_handle(c, req, len, rep, tx_buf() + sizeof(*rep), plen);
        return rc;
    case WIRE_KIND_XC:
        if ((req->op >= WIRE_OP_XC_DOMAIN_INFO && req->op <= WIRE_OP_XC_HVM_PARAM_SET) ||
            req->op == WIRE_OP_XC_POPULATE_PHYSMAP)
            return hv_xc_handle(c, req, len, rep, tx_buf() + sizeof(*rep), plen);
        break;
    }
    return -ENOSYS;
}

static int send_reply(int fd, const struct wire_rep *rep, uint32_t plen, int pass_fd)
{
    uint8_t *buf = tx_buf();
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(*rep) + plen};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

    memcpy(buf, rep, sizeof(*rep));
    if (pass_fd >= 0) {
        memset(&cm, 0, sizeof(cm));
        msg.msg_control = cm.space;
        msg.msg_controllen = sizeof(cm.space);
        cm.h.cmsg_level = SOL_SOCKET;
        cm.h.cmsg_type = SCM_RIGHTS;
        cm.h.cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(&cm.h), &pass_fd, sizeof(int));
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* Descriptors a client sends us are never wanted: close them. */
static void drop_fds(struct msghdr *msg)
{
    for (struct cmsghdr *h = CMSG_FIRSTHDR(msg); h; h = CMSG_NXTHDR(msg, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
            size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
    }
}

/* One packet; returns false when the connection must go. */
static bool conn_one(struct hv_conn *c)
{
    struct mockhv *hv = c->hv;
    uint8_t *buf = rx_buf();
    char cbuf[CMSG_SPACE(sizeof(int) * 8)];
    struct iovec iov = {.iov_base = buf, .iov_len = WIRE_MAX_MSG};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct wire_req req;
    struct wire_rep rep = {0};
    uint32_t plen = 0;
    int fd_out = -1;
    bool close_fd = false, ok = true;
    ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    drop_fds(&msg);
    if (n == 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(req))
        return false;
    memcpy(&req, buf, sizeof(req));

    pthread_mutex_lock(&hv->lock);
    rep.ret = dispatch(c, (const struct wire_req *)(void *)buf, (size_t)n, &rep, &plen, &fd_out,
                       &close_fd);
    pthread_mutex_unlock(&hv->lock);
    if (rep.ret == -EPROTO)
        ok = false;
    rep.len = plen;
    if (rep.ret < 0) {
        rep.len = plen = 0;
        if (close_fd)
            close(fd_out);
        close_fd = false;
        fd_out = -1;
    }
    if (ok && req.op != WIRE_OP_EVTCHN_NOTIFY && req.op != WIRE_OP_EVTCHN_UNMASK)
        ok = send_reply(c->fd, &rep, plen, fd_out) == 0;
    if (close_fd)
        close(fd_out);
    return ok;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
    struct hv_conn *c = arg;
    struct mockhv *hv = c->hv;

    /* a bounded batch, so one client cannot starve the others */
    for (int i = 0; i < 64; i++) {
        int avail = 0;
        if (!conn_one(c)) {
            pthread_mutex_lock(&hv->lock);
            conn_close(c);
            pthread_mutex_unlock(&hv->lock);
            return;
        }
        if (recv(fd, &avail, sizeof(avail), MSG_PEEK | MSG_DONTWAIT) < 0)
            return;
    }
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mockhv *hv = arg;
    struct hv_conn *c;
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (cfd < 0)
        return;
    pthread_mutex_lock(&hv->lock);
    c = hv->nr_conns < HV_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        pthread_mutex_unlock(&hv->lock);
        close(cfd);
        return;
    }
    c->hv = hv;
    c->fd = cfd;
    c->restrict_domid = -1;
    c->event_wr = -1;
    c->ev = event_new(hv->base, cfd, EV_READ | EV_PERSIST, conn_cb, c);
    c->next = hv->conns;
    hv->conns = c;
    hv->nr_conns++;
    if (!c->ev || event_add(c->ev, NULL) < 0)
        conn_close(c);
    pthread_mutex_unlock(&hv->lock);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mockhv *hv = arg;

    event_base_loopbreak(hv->base);
}

static void *thread_main(void *arg)
{
    struct mockhv *hv = arg;

    event_base_dispatch(hv->base);
    return NULL;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, rc;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
        listen(fd, 64) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int hv_transport_start(struct mockhv *hv)
{
    int rc;

    hv->listen_fd = listen_on(hv->sock_path);
    if (hv->listen_fd < 0)
        return hv->listen_fd;
    if (pipe2(hv->stop_pipe, O_CLOEXEC) < 0)
        return -errno;
    hv->listen_ev = event_new(hv->base, hv->listen_fd, EV_READ | EV_PERSIST, accept_cb, hv);
    hv->stop_ev = event_new(hv->base, hv->stop_pipe[0], EV_READ, stop_cb, hv);
    if (!hv->listen_ev || !hv->stop_ev || event_add(hv->listen_ev, NULL) < 0 ||
        event_add(hv->stop_ev, NULL) < 0)
        return -ENOMEM;
    rc = pthread_create(&hv->thread, NULL, thread_main, hv);
    if (rc)
        return -rc;
    hv->thread_running = true;
    return 0;
}

void hv_transport_stop(struct mockhv *hv)
{
    if (hv->thread_running) {
        ssize_t n = write(hv->stop_pipe[1], "x", 1);
        (void)n;
        pthread_join(hv->thread, NULL);
        hv->thread_running = false;
    }
    pthread_mutex_lock(&hv->lock);
    while (hv->conns)
        conn_close(hv->conns);
    pthread_mutex_unlock(&hv->lock);
    if (hv->listen_ev)
        event_free(hv->listen_ev);
    if (hv->stop_ev)
        event_free(hv->stop_ev);
    hv->listen_ev = hv->stop_ev = NULL;
    if (hv->listen_fd >= 0) {
        close(hv->listen_fd);
        unlink(hv->sock_path);
    }
    hv->listen_fd = -1;
    for (int i = 0; i < 2; i++)
        if (hv->stop_pipe[i] >= 0)
            close(hv->stop_pipe[i]);
    hv->stop_pipe[0] = hv->stop_pipe[1] = -1;
}

int mockhv_connections(struct mockhv *hv)
{
    int n;

    pthread_mutex_lock(&hv->lock);
    n = hv->nr_conns;
    pthread_mutex_unlock(&hv->lock);
    return n;
}

int mockhv_connections_wait(struct mockhv *hv, int n, int timeout_ms)
{
    const struct timespec step = {.tv_nsec = 1000000};
    long waited = 0;

    if (timeout_ms <= 0)
        timeout_ms = MOCKHV_DEFAULT_TIMEOUT_MS;
    while (mockhv_connections(hv) > n) {
        if (waited++ >= timeout_ms)
            return -ETIMEDOUT;
        nanosleep(&step, NULL);
    }
    return 0;
}

void mockhv_fail_restrict(struct mockhv *hv, int err)
{
    pthread_mutex_lock(&hv->lock);
    hv->restrict_error = err < 0 ? -err : err;
    pthread_mutex_unlock(&hv->lock);
}
