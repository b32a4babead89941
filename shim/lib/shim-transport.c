/*
 * Client side of the mock's socket: connect, HELLO, and synchronous
 * request/reply over SOCK_SEQPACKET with descriptors in SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim-transport.h"

static int fail(int err)
{
    errno = err;
    return -1;
}

static int connect_mock(bool cloexec)
{
    const char *path = getenv("MOCKXEN_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = SHIM_REPLY_TIMEOUT_S};
    int fd, err;

    /* no mock: as if /dev/xen/privcmd did not exist */
    if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
        return fail(ENOENT);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0), 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = errno == ECONNREFUSED ? ENOENT : errno;
        close(fd);
        return fail(err);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

int shim_conn_open(struct shim_conn *c, enum wire_kind kind, bool cloexec, int *fd_out)
{
    struct wire_req req = {.op = WIRE_OP_HELLO, .a = {WIRE_MAGIC, WIRE_VERSION, kind}};
    struct wire_rep rep;
    int rc;

    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->fd = connect_mock(cloexec);
    if (c->fd < 0) {
        rc = errno;
        pthread_mutex_destroy(&c->lock);
        return fail(rc);
    }
    if (shim_call(c, &req, NULL, 0, &rep, NULL, 0, NULL, fd_out) < 0) {
        rc = errno;
        shim_conn_close(c);
        return fail(rc);
    }
    c->domid = (uint16_t)rep.r[0];
    c->nr_vcpus = (unsigned)rep.r[1];
    if (fd_out && *fd_out >= 0 && !cloexec)
        fcntl(*fd_out, F_SETFD, 0);
    return 0;
}

void shim_conn_close(struct shim_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    pthread_mutex_destroy(&c->lock);
}

static int send_locked(struct shim_conn *c, const struct wire_req *req, const void *payload,
                       size_t plen)
{
    struct iovec iov[2] = {{.iov_base = (void *)req, .iov_len = sizeof(*req)},
                           {.iov_base = (void *)payload, .iov_len = plen}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = plen ? 2 : 1};

    if (c->dead || c->fd < 0)
        return fail(ENOTCONN);
    if (sizeof(*req) + plen > WIRE_MAX_MSG)
        return fail(E2BIG);
    if (sendmsg(c->fd, &msg, MSG_NOSIGNAL) < 0) {
        c->dead = true;
        return fail(ENOTCONN);
    }
    return 0;
}

static void take_fds(struct msghdr *msg, int *fd_out)
{
    for (struct cmsghdr *h = CMSG_FIRSTHDR(msg); h; h = CMSG_NXTHDR(msg, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (fd_out && *fd_out < 0)
                *fd_out = fd;
            else
                close(fd);
        }
    }
}

static int recv_locked(struct shim_conn *c, struct wire_rep *rep, void *rbuf, size_t rmax,
                       size_t *rlen, int *fd_out)
{
    /* The header lands in *rep and the payload straight in the caller's
     * buffer (a dirty-VRAM bitmap is up to 32 KiB); payload past rmax, which
     * no caller expects, in a scratch buffer, dropped. */
    uint8_t spill[4096];
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    struct iovec iov[3] = {{.iov_base = rep, .iov_len = sizeof(*rep)},
                           {.iov_base = rbuf, .iov_len = rbuf ? rmax : 0},
                           {.iov_base = spill, .iov_len = sizeof(spill)}};
    struct msghdr msg = {
        .msg_iov = iov, .msg_iovlen = 3, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n;

    do {
        n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        take_fds(&msg, fd_out);
    if (n < (ssize_t)sizeof(*rep) || (msg.msg_flags & MSG_TRUNC)) {
        /* EOF, error, timeout or garbage: the mock is gone for us */
        c->dead = true;
        if (fd_out && *fd_out >= 0) {
            close(*fd_out);
            *fd_out = -1;
        }
        return fail(ENOTCONN);
    }
    if (rep->len > (size_t)n - sizeof(*rep))
        rep->len = (uint32_t)((size_t)n - sizeof(*rep));
    if (rlen)
        *rlen = !rbuf ? 0 : rep->len < rmax ? rep->len : rmax;
    return 0;
}

int shim_call(struct shim_conn *c, struct wire_req *req, const void *payload, size_t plen,
              struct wire_rep *rep, void *rbuf, size_t rmax, size_t *rlen, int *fd_out)
{
    int rc;

    if (fd_out)
        *fd_out = -1;
    pthread_mutex_lock(&c->lock);
    rc = send_locked(c, req, payload, plen);
    if (!rc)
        rc = recv_locked(c, rep, rbuf, rmax, rlen, fd_out);
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        return -1;
    if (rep->ret < 0) {
        if (fd_out && *fd_out >= 0) {
            close(*fd_out);
            *fd_out = -1;
        }
        return fail(-rep->ret);
    }
    return rep->ret;
}

int shim_send(struct shim_conn *c, const struct wire_req *req)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    rc = send_locked(c, req, NULL, 0);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int shim_simple(struct shim_conn *c, uint32_t op, uint16_t domid, const uint64_t *args,
                unsigned nargs, struct wire_rep *rep)
{
    struct wire_req req = {.op = op, .domid = domid};
    struct wire_rep local;

    for (unsigned i = 0; i < nargs && i < 6; i++)
        req.a[i] = args[i];
    return shim_call(c, &req, NULL, 0, rep ? rep : &local, NULL, 0, NULL, NULL);
}
