/*
 * The control socket server (protocol in control-proto.h).
 *
 * Every connection owns a fixed input buffer of CONTROL_LINE_MAX bytes and
 * an output queue. Lines are answered only while the queue holds less than
 * CONTROL_OUT_HIGH bytes; above it the connection is not read until the
 * peer has taken its replies, so a connection never holds more than
 * CONTROL_OUT_HIGH + CONTROL_REPLY_MAX bytes. Writes use MSG_NOSIGNAL: a
 * vanished peer is an error return, never SIGPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "dm-faults.h"
#include "log.h"
#include "server.h"

#define CONTROL_OUT_HIGH (64u * 1024)

/* ---- server ---- */

struct control_conn {
    struct control_server *srv;
    struct control_conn *next;
    int fd;
    struct event *rd_ev;
    struct event *wr_ev;
    char in[CONTROL_LINE_MAX];
    size_t in_len;
    char *out; /* replies not yet sent: out[out_off, out_len) */
    size_t out_len;
    size_t out_off;
    size_t out_cap;
    bool eof;     /* the peer sent everything it will send */
    bool closing; /* close once the output is sent */
};

struct control_server {
    struct event_base *base;
    const struct control_ops *ops;
    void *opaque;
    char *path; /* NULL without a listening socket */
    int lfd;
    dev_t sock_dev; /* identity of the socket we bound, so we remove only ours */
    ino_t sock_ino;
    struct event *accept_ev;
    struct event *retry_ev; /* re-arms accept_ev after running out of descriptors */
    struct control_conn *conns;
    unsigned nr_conns;
    struct json_buf reply; /* scratch for one reply */
};

static void conn_free(struct control_conn *c)
{
    struct control_server *srv = c->srv;

    for (struct control_conn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            srv->nr_conns--;
            break;
        }
    }
    if (c->rd_ev)
        event_free(c->rd_ev);
    if (c->wr_ev)
        event_free(c->wr_ev);
    close(c->fd);
    free(c->out);
    free(c);
}

static int conn_queue(struct control_conn *c, const char *data, size_t len)
{
    size_t pending = c->out_len - c->out_off;

    if (c->out_off) {
        memmove(c->out, c->out + c->out_off, pending);
        c->out_len = pending;
        c->out_off = 0;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_len + len;
        char *p = realloc(c->out, cap);

        if (!p)
            return -ENOMEM;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

/* Sends what the socket takes now. 0, or -errno when the connection is dead. */
static int conn_send(struct control_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    /* An idle connection does not keep the memory of a big reply. */
    if (c->out_cap > CONTROL_OUT_HIGH) {
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return 0;
}

static void reply_error(struct json_buf *b, const char *msg)
{
    json_buf_reset(b);
    json_begin_object(b, NULL);
    json_bool(b, "ok", false);
    json_string(b, "error", msg);
    json_end_object(b);
}

/* "dirty-log" with "on", "off" or nothing (only tell): 1, 0, -1; -EINVAL otherwise. */
static int parse_dirty_log(const char *arg)
{
    while (*arg == ' ' || *arg == '\t')
        arg++;
    if (!*arg)
        return -1;
    if (!strcmp(arg, "on"))
        return 1;
    if (!strcmp(arg, "off"))
        return 0;
    return -EINVAL;
}

static void reply_dirty_log(struct control_server *srv, const char *arg)
{
    struct json_buf *b = &srv->reply;
    int on = parse_dirty_log(arg);
    int rc;

    if (on == -EINVAL) {
        reply_error(b, "dirty-log takes on or off");
        return;
    }
    if (!srv->ops->dirty_log) {
        reply_error(b, "not supported");
        return;
    }
    rc = srv->ops->dirty_log(srv->opaque, on);
    if (rc < 0) {
        reply_error(b, strerror(-rc));
        return;
    }
    json_buf_reset(b);
    json_begin_object(b, NULL);
    json_bool(b, "ok", true);
    json_bool(b, "dirty_log", rc > 0);
    json_end_object(b);
}

static void build_reply(struct control_server *srv, const char *cmd)
{
    struct json_buf *b = &srv->reply;
    int (*op)(void *, struct json_buf *) = NULL;
    int rc;

    if (!strcmp(cmd, "status")) {
        op = srv->ops->status;
    } else if (!strcmp(cmd, "stats")) {
        op = srv->ops->stats;
    } else if (!strcmp(cmd, "stop")) {
        if (!srv->ops->stop) {
            reply_error(b, "not supported");
            return;
        }
        rc = srv->ops->stop(srv->opaque);
        if (rc) {
            reply_error(b, strerror(rc < 0 ? -rc : rc));
            return;
        }
        json_buf_reset(b);
        json_begin_object(b, NULL);
        json_bool(b, "ok", true);
        json_end_object(b);
        return;
    } else if (!strncmp(cmd, "dirty-log", 9) && (!cmd[9] || cmd[9] == ' ' || cmd[9] == '\t')) {
        reply_dirty_log(srv, cmd + 9);
        return;
    } else {
        reply_error(b, *cmd ? "unknown command" : "empty request");
        return;
    }
    if (!op) {
        reply_error(b, "not supported");
        return;
    }
    json_buf_reset(b);
    json_begin_object(b, NULL);
    json_bool(b, "ok", true);
    rc = op(srv->opaque, b);
    json_end_object(b);
    if (rc)
        reply_error(b, strerror(rc < 0 ? -rc : rc));
    else if (json_buf_error(b) == -ENOSPC)
        reply_error(b, "reply too large");
    else if (json_buf_error(b))
        reply_error(b, "internal error");
}

static void answer_line(struct control_conn *c, char *line, size_t len)
{
    struct control_server *srv = c->srv;
    struct json_buf *b = &srv->reply;
    char *start = line, *end = line + len;

    if (memchr(line, '\0', len)) {
        reply_error(b, "malformed request");
    } else {
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            end--;
        *end = '\0';
        build_reply(srv, start);
    }
    if (json_buf_error(b) || conn_queue(c, b->data, b->len) || conn_queue(c, "\n", 1)) {
        /* Not even an error reply fits: nothing sensible is left to say. */
        c->closing = true;
        c->in_len = 0;
    }
}

/* Answers the complete lines buffered, as far as the output bound allows. */
static void conn_process(struct control_conn *c)
{
    while (!c->closing && c->out_len - c->out_off < CONTROL_OUT_HIGH) {
        char *nl = memchr(c->in, '\n', c->in_len);
        size_t used;

        if (!nl) {
            if (c->in_len == sizeof(c->in)) {
                reply_error(&c->srv->reply, "request too long");
                if (!conn_queue(c, c->srv->reply.data, c->srv->reply.len))
                    (void)conn_queue(c, "\n", 1);
                c->closing = true;
                c->in_len = 0;
            } else if (c->eof) {
                /* A last line without "\n" is not a request: drop it. */
                c->closing = true;
                c->in_len = 0;
            }
            break;
        }
        used = (size_t)(nl - c->in) + 1;
        answer_line(c, c->in, used - 1);
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
}

/*
 * Answers what can be answered, sends what the socket takes, and arms the
 * events for the rest; false if the connection was closed (c is freed).
 */
static bool conn_update(struct control_conn *c)
{
    bool pending;

    for (;;) {
        conn_process(c);
        if (conn_send(c)) {
            conn_free(c);
            return false;
        }
        pending = c->out_len > c->out_off;
        /* All sent but requests still buffered (held back by the bound): go on. */
        if (pending || c->closing || !memchr(c->in, '\n', c->in_len))
            break;
    }
    if (!pending && c->closing) {
        conn_free(c);
        return false;
    }
    if (pending)
        event_add(c->wr_ev, NULL);
    else
        event_del(c->wr_ev);
    if (!c->closing && !c->eof && c->in_len < sizeof(c->in) &&
        c->out_len - c->out_off < CONTROL_OUT_HIGH)
        event_add(c->rd_ev, NULL);
    else
        event_del(c->rd_ev);
    return true;
}

static void conn_read_cb(evutil_socket_t fd, short what, void *opaque)
{
    struct control_conn *c = opaque;
    ssize_t n;

    if (c->in_len < sizeof(c->in)) {
        n = recv(fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            conn_free(c);
            return;
        }
        if (n == 0)
            c->eof = true;
        c->in_len += (size_t)n;
    }
    conn_update(c);
}

static void conn_write_cb(evutil_socket_t fd, short what, void *opaque)
{
    conn_update(opaque);
}

static int conn_new(struct control_server *srv, int fd)
{
    struct control_conn *c = calloc(1, sizeof(*c));
    int flags;

    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->srv = srv;
    c->fd = fd;
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        int rc = -errno;

        close(fd);
        free(c);
        return rc;
    }
    c->rd_ev = event_new(srv->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
    c->wr_ev = event_new(srv->base, fd, EV_WRITE | EV_PERSIST, conn_write_cb, c);
    c->next = srv->conns;
    srv->conns = c;
    srv->nr_conns++;
    if (!c->rd_ev || !c->wr_ev || event_add(c->rd_ev, NULL) < 0) {
        conn_free(c);
        return -ENOMEM;
    }
    return 0;
}

int control_server_adopt(struct control_server *srv, int fd)
{
    if (fd < 0)
        return -EBADF;
    return conn_new(srv, fd);
}

unsigned control_server_nr_clients(const struct control_server *srv)
{
    return srv->nr_conns;
}

static void refuse_client(struct control_server *srv, int fd)
{
    reply_error(&srv->reply, "too many clients");
    json_buf_end_line(&srv->reply);
    if (!srv->reply.err)
        (void)!send(fd, srv->reply.data, srv->reply.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
}

static void accept_cb(evutil_socket_t lfd, short what, void *opaque)
{
    struct control_server *srv = opaque;
    int fd, rc;

    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        static const struct timeval pause = {.tv_sec = 1};

        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return;
        /*
         * Out of descriptors or memory: the client stays queued, and the
         * listening socket stays readable, so stop watching it for a while
         * rather than spin on it.
         */
        log_warn("control socket: accept: %s; pausing for a second", strerror(errno));
        event_del(srv->accept_ev);
        evtimer_add(srv->retry_ev, &pause);
        return;
    }
    if (srv->nr_conns >= CONTROL_MAX_CLIENTS) {
        log_warn("control socket: more than %u clients, refusing one", CONTROL_MAX_CLIENTS);
        refuse_client(srv, fd);
        return;
    }
    rc = conn_new(srv, fd);
    if (rc)
        log_warn("control socket: cannot serve a client: %s", strerror(-rc));
}

static void accept_retry_cb(evutil_socket_t fd, short what, void *opaque)
{
    struct control_server *srv = opaque;

    event_add(srv->accept_ev, NULL);
}

/* Removes a socket at `path` nobody listens on; -EADDRINUSE if someone does. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    if (errno != ECONNREFUSED)
        return -errno;
    if (unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* The socket's directory, made private if it does not exist (/run/ioreqd). */
static int make_parent(const char *path)
{
    char *dir = strdup(path);
    char *slash;
    int rc = 0;

    if (!dir)
        return -ENOMEM;
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            rc = -errno;
    }
    free(dir);
    return rc;
}

static int server_listen(struct control_server *srv, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int rc;

    if (!*path)
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    rc = make_parent(path);
    if (rc)
        return rc;
    rc = clear_stale(path, &sa);
    if (rc)
        return rc;
    srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv->lfd < 0)
        return -errno;
    if (bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    srv->path = strdup(path);
    if (!srv->path) {
        unlink(path);
        return -ENOMEM;
    }
    /*
     * Until listen() nobody can connect, so the mode the umask gave the
     * socket for this moment is harmless; it is 0600 before anyone can use it.
     */
    if (chmod(path, 0600) < 0 || stat(path, &st) < 0 || listen(srv->lfd, 16) < 0)
        return -errno;
    srv->sock_dev = st.st_dev;
    srv->sock_ino = st.st_ino;
    srv->accept_ev = event_new(srv->base, srv->lfd, EV_READ | EV_PERSIST, accept_cb, srv);
    srv->retry_ev = evtimer_new(srv->base, accept_retry_cb, srv);
    if (!srv->accept_ev || !srv->retry_ev || event_add(srv->accept_ev, NULL) < 0)
        return -ENOMEM;
    return 0;
}

int control_server_new(struct control_server **out, struct event_base *base, const char *path,
                       const struct control_ops *ops, void *opaque)
{
    struct control_server *srv = calloc(1, sizeof(*srv));
    int rc = 0;

    *out = NULL;
    if (!srv)
        return -ENOMEM;
    srv->base = base;
    srv->ops = ops;
    srv->opaque = opaque;
    srv->lfd = -1;
    json_buf_init(&srv->reply, CONTROL_REPLY_MAX);
    if (path) {
        rc = server_listen(srv, path);
        if (rc)
            goto out;
    }
    *out = srv;
out:
    if (rc)
        control_server_free(srv);
    return rc;
}

void control_server_free(struct control_server *srv)
{
    struct stat st;

    if (!srv)
        return;
    while (srv->conns) {
        /* Last words, such as the reply to "stop", if the socket takes them now. */
        (void)conn_send(srv->conns);
        conn_free(srv->conns);
    }
    if (srv->accept_ev)
        event_free(srv->accept_ev);
    if (srv->retry_ev)
        event_free(srv->retry_ev);
    if (srv->lfd >= 0)
        close(srv->lfd);
    if (srv->path && srv->sock_ino && lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev &&
        st.st_ino == srv->sock_ino)
        unlink(srv->path);
    else if (srv->path && !srv->sock_ino)
        unlink(srv->path); /* bound, but set-up failed before we knew its identity */
    free(srv->path);
    json_buf_free(&srv->reply);
    free(srv);
}
