/*
 * One client connection: an xs_client whose send() appends to an output
 * buffer. Input is framed here and handed to xs_ops_request() one whole
 * message at a time. A connection that misbehaves or disconnects is marked
 * dead and freed by the next xs_conns_flush(), never from inside the call
 * chain that found it dead.
 */
#include "xs-conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"
#include "xs-ops.h"

struct xs_conn {
    struct xs_client client; /* attached to set->store while alive */
    struct xs_conn_set *set;
    int fd;
    struct event *ev_read, *ev_write;
    struct evbuffer *in, *out;
    bool dead;
    bool paused; /* not reading: too much unread output */
    struct xs_conn *next;
};

static void conn_kill(struct xs_conn *cn, const char *why)
{
    size_t queued = evbuffer_get_length(cn->out);

    if (cn->dead)
        return;
    if (why)
        log_guest("xenstore: dropping client fd %d: %s", cn->fd, why);
    cn->dead = true;
    cn->set->nr_dead++;
    /* Nothing more is written to a dead connection: let its output go now. */
    evbuffer_drain(cn->out, queued);
    cn->set->out_bytes -= queued;
}

/* Drops the clients with the most output queued until need more bytes fit in the budget. */
static void conns_shed(struct xs_conn_set *set, size_t need)
{
    while (set->out_bytes + need > XS_CONNS_OUT_MAX) {
        struct xs_conn *big = NULL;
        for (struct xs_conn *cn = set->head; cn; cn = cn->next)
            if (!cn->dead && (!big || evbuffer_get_length(cn->out) > evbuffer_get_length(big->out)))
                big = cn;
        if (!big || !evbuffer_get_length(big->out))
            return;
        conn_kill(big, "all clients' output over budget, this one's the most");
    }
}

static void conn_send(struct xs_client *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                      const void *payload, size_t len)
{
    struct xs_conn *cn = container_of(c, struct xs_conn, client);
    struct xsd_sockmsg hdr = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = (uint32_t)len};
    size_t before = evbuffer_get_length(cn->out);

    if (cn->dead)
        return;
    cn->set->nr_sends++;
    if (before + sizeof(hdr) + len > XS_CONN_OUT_MAX) {
        conn_kill(cn, "output queue full (client not reading)");
        return;
    }
    conns_shed(cn->set, sizeof(hdr) + len);
    if (cn->dead)
        return;
    if (evbuffer_add(cn->out, &hdr, sizeof(hdr)) < 0 ||
        (len && evbuffer_add(cn->out, payload, len) < 0)) {
        cn->set->out_bytes += evbuffer_get_length(cn->out) - before;
        conn_kill(cn, "out of memory");
        return;
    }
    cn->set->out_bytes += sizeof(hdr) + len;
}

static const struct xs_client_ops conn_client_ops = {
    .send = conn_send,
};

/* Handles the whole messages buffered so far, unless output backs up. */
static void conn_process(struct xs_conn *cn)
{
    char payload[XENSTORE_PAYLOAD_MAX + 1];
    struct xsd_sockmsg hdr;

    while (!cn->dead && evbuffer_get_length(cn->out) < XS_CONN_OUT_PAUSE) {
        size_t avail = evbuffer_get_length(cn->in);
        if (avail < sizeof(hdr))
            break;
        evbuffer_copyout(cn->in, &hdr, sizeof(hdr));
        if (hdr.len > XENSTORE_PAYLOAD_MAX) {
            conn_kill(cn, "message longer than XENSTORE_PAYLOAD_MAX");
            break;
        }
        if (avail < sizeof(hdr) + hdr.len)
            break;
        evbuffer_drain(cn->in, sizeof(hdr));
        evbuffer_remove(cn->in, payload, hdr.len);
        payload[hdr.len] = '\0';
        xs_ops_request(&cn->client, &hdr, payload);
    }
}

/* Sends what the socket takes now; false if the connection broke. */
static bool conn_write_some(struct xs_conn *cn)
{
    while (evbuffer_get_length(cn->out)) {
        struct evbuffer_iovec vec[16];
        struct iovec iov[16];
        int n = evbuffer_peek(cn->out, -1, NULL, vec, 16);
        if (n > 16)
            n = 16;
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = vec[i].iov_base;
            iov[i].iov_len = vec[i].iov_len;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        /* MSG_NOSIGNAL: a vanished client must not SIGPIPE the embedding process. */
        ssize_t done = sendmsg(cn->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        evbuffer_drain(cn->out, (size_t)done);
        cn->set->out_bytes -= (size_t)done;
    }
    return true;
}

static void conn_free(struct xs_conn *cn)
{
    xs_client_detach(&cn->client);
    if (cn->ev_read)
        event_free(cn->ev_read);
    if (cn->ev_write)
        event_free(cn->ev_write);
    if (cn->in)
        evbuffer_free(cn->in);
    if (cn->out)
        evbuffer_free(cn->out);
    close(cn->fd);
    free(cn);
}

/*
 * One pass over all connections: resume input that was held back, handle
 * whole messages already buffered, write, and reap the dead. Handling a
 * message may queue events for, or kill, connections already passed.
 */
static void conns_flush_pass(struct xs_conn_set *set)
{
    struct xs_conn **pp = &set->head;

    while (*pp) {
        struct xs_conn *cn = *pp;
        if (!cn->dead && cn->paused && evbuffer_get_length(cn->out) < XS_CONN_OUT_PAUSE / 2) {
            cn->paused = false;
            if (event_add(cn->ev_read, NULL) < 0)
                conn_kill(cn, "cannot poll");
        }
        if (!cn->dead && !cn->paused)
            conn_process(cn);
        if (!cn->dead && !conn_write_some(cn))
            conn_kill(cn, NULL);
        if (!cn->dead && !cn->paused && evbuffer_get_length(cn->out) >= XS_CONN_OUT_PAUSE) {
            cn->paused = true;
            event_del(cn->ev_read);
        }
        if (!cn->dead && evbuffer_get_length(cn->out) && event_add(cn->ev_write, NULL) < 0)
            conn_kill(cn, "cannot poll");
        if (cn->dead) {
            *pp = cn->next;
            set->nr--;
            set->nr_dead--;
            conn_free(cn);
            continue;
        }
        pp = &cn->next;
    }
}

void xs_conns_flush(struct xs_conn_set *set)
{
    unsigned long sends;

    /* Until a pass queues nothing new and leaves nothing dead behind. */
    do {
        sends = set->nr_sends;
        conns_flush_pass(set);
    } while (set->nr_dead || sends != set->nr_sends);
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct xs_conn *cn = arg;
    struct xs_conn_set *set = cn->set;

    pthread_mutex_lock(set->lock);
    int n = evbuffer_read(cn->in, fd, XENSTORE_PAYLOAD_MAX);
    if (n == 0) {
        /* Requests that arrived whole before the hang-up still take effect. */
        conn_process(cn);
        conn_kill(cn, NULL);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        conn_kill(cn, NULL);
    }
    xs_conns_flush(set);
    pthread_mutex_unlock(set->lock);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    struct xs_conn *cn = arg;
    struct xs_conn_set *set = cn->set;

    pthread_mutex_lock(set->lock);
    xs_conns_flush(set);
    pthread_mutex_unlock(set->lock);
}

int xs_conn_accept(struct xs_conn_set *set, int fd, unsigned int domid, bool privileged)
{
    struct xs_conn *cn = NULL;

    if (set->nr >= XS_CONN_MAX) {
        log_guest("xenstore: %u clients connected, refusing another", set->nr);
        close(fd);
        return -EMFILE;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        goto fail;
    cn = calloc(1, sizeof(*cn));
    if (!cn)
        goto fail;
    cn->fd = fd;
    cn->set = set;
    cn->in = evbuffer_new();
    cn->out = evbuffer_new();
    cn->ev_read = event_new(set->base, fd, EV_READ | EV_PERSIST, conn_read_cb, cn);
    cn->ev_write = event_new(set->base, fd, EV_WRITE, conn_write_cb, cn);
    if (!cn->in || !cn->out || !cn->ev_read || !cn->ev_write || event_add(cn->ev_read, NULL) < 0)
        goto fail;
    xs_client_attach(set->store, &cn->client, &conn_client_ops, domid, privileged);
    cn->next = set->head;
    set->head = cn;
    set->nr++;
    return 0;
fail:
    if (cn) {
        if (cn->ev_read)
            event_free(cn->ev_read);
        if (cn->ev_write)
            event_free(cn->ev_write);
        if (cn->in)
            evbuffer_free(cn->in);
        if (cn->out)
            evbuffer_free(cn->out);
        free(cn);
    }
    close(fd);
    return -ENOMEM;
}

void xs_conns_close_all(struct xs_conn_set *set)
{
    for (struct xs_conn *cn = set->head; cn; cn = cn->next)
        conn_kill(cn, NULL);
    xs_conns_flush(set);
}
