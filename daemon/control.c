/*
 * The control socket server and its JSON writer (protocol in control.h).
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

/* ---- JSON buffer ---- */

void control_buf_init(struct control_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void control_buf_reset(struct control_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
    b->err = 0;
    b->depth = 0;
    b->is_array = 0;
    b->has_item = 0;
}

void control_buf_free(struct control_buf *b)
{
    free(b->data);
    control_buf_init(b, b->max);
}

int control_buf_error(const struct control_buf *b)
{
    if (b->err)
        return b->err;
    return b->depth ? -EINVAL : 0;
}

static void buf_fail(struct control_buf *b, int err)
{
    if (!b->err)
        b->err = err;
}

static void buf_put(struct control_buf *b, const char *s, size_t n)
{
    if (b->err)
        return;
    if (n > b->max || b->len > b->max - n) {
        buf_fail(b, -ENOSPC);
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p) {
            buf_fail(b, -ENOMEM);
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(struct control_buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}

/* RFC 3629: the length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void buf_put_string(struct control_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_put(b, "\"", 1);
    while (i < n && !b->err) {
        unsigned char c = p[i];
        size_t run = i, seq;
        char esc[8];

        /* Copy the longest run that needs no escaping in one go. */
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            buf_put(b, s + i, run - i);
            i = run;
            continue;
        }
        switch (c) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                buf_puts(b, esc);
                break;
            }
            seq = utf8_seq_len(p + i, n - i);
            if (!seq) {
                buf_puts(b, "\\ufffd");
                break;
            }
            buf_put(b, s + i, seq);
            i += seq;
            continue;
        }
        i++;
    }
    buf_put(b, "\"", 1);
}

/* The separator and key before a value; false if the value must not be written. */
static bool json_member(struct control_buf *b, const char *key)
{
    uint32_t bit = 1u << b->depth;
    bool in_array = b->is_array & bit;

    if (b->err)
        return false;
    if (b->depth == 0 ? key != NULL || (b->has_item & 1) : in_array ? key != NULL : key == NULL) {
        buf_fail(b, -EINVAL);
        return false;
    }
    if (b->depth > 0 && (b->has_item & bit))
        buf_put(b, ",", 1);
    b->has_item |= bit;
    if (key) {
        buf_put_string(b, key, strlen(key));
        buf_put(b, ":", 1);
    }
    return !b->err;
}

static void json_open(struct control_buf *b, const char *key, bool array)
{
    uint32_t bit;

    if (!json_member(b, key))
        return;
    if (b->depth + 1 >= CONTROL_JSON_DEPTH) {
        buf_fail(b, -EINVAL);
        return;
    }
    b->depth++;
    bit = 1u << b->depth;
    b->has_item &= ~bit;
    if (array)
        b->is_array |= bit;
    else
        b->is_array &= ~bit;
    buf_put(b, array ? "[" : "{", 1);
}

static void json_close(struct control_buf *b, bool array)
{
    if (b->err)
        return;
    if (b->depth == 0 || !(b->is_array & (1u << b->depth)) != !array) {
        buf_fail(b, -EINVAL);
        return;
    }
    b->depth--;
    buf_put(b, array ? "]" : "}", 1);
}

void control_json_begin_object(struct control_buf *b, const char *key)
{
    json_open(b, key, false);
}

void control_json_end_object(struct control_buf *b)
{
    json_close(b, false);
}

void control_json_begin_array(struct control_buf *b, const char *key)
{
    json_open(b, key, true);
}

void control_json_end_array(struct control_buf *b)
{
    json_close(b, true);
}

void control_json_stringn(struct control_buf *b, const char *key, const char *value, size_t len)
{
    if (!json_member(b, key))
        return;
    if (value)
        buf_put_string(b, value, len);
    else
        buf_puts(b, "null");
}

void control_json_string(struct control_buf *b, const char *key, const char *value)
{
    control_json_stringn(b, key, value, value ? strlen(value) : 0);
}

void control_json_uint(struct control_buf *b, const char *key, uint64_t value)
{
    char num[24];

    if (!json_member(b, key))
        return;
    snprintf(num, sizeof(num), "%llu", (unsigned long long)value);
    buf_puts(b, num);
}

void control_json_int(struct control_buf *b, const char *key, int64_t value)
{
    char num[24];

    if (!json_member(b, key))
        return;
    snprintf(num, sizeof(num), "%lld", (long long)value);
    buf_puts(b, num);
}

void control_json_double(struct control_buf *b, const char *key, double value)
{
    char num[32];

    if (!json_member(b, key))
        return;
    if (!isfinite(value)) {
        buf_puts(b, "null");
        return;
    }
    snprintf(num, sizeof(num), "%.17g", value);
    buf_puts(b, num);
}

void control_json_bool(struct control_buf *b, const char *key, bool value)
{
    if (json_member(b, key))
        buf_puts(b, value ? "true" : "false");
}

void control_json_null(struct control_buf *b, const char *key)
{
    if (json_member(b, key))
        buf_puts(b, "null");
}

/* Names of enum ioreq_stat_type in the JSON, in enum order. */
static const char *const stat_type_names[IOREQ_STAT_TYPES] = {
    [IOREQ_STAT_PIO] = "pio",
    [IOREQ_STAT_COPY] = "copy",
    [IOREQ_STAT_PCI_CONFIG] = "pci_config",
    [IOREQ_STAT_TIMEOFFSET] = "timeoffset",
    [IOREQ_STAT_INVALIDATE] = "invalidate",
    [IOREQ_STAT_UNKNOWN] = "unknown",
};

void control_json_ioreq_stats(struct control_buf *b, const struct ioreq_stats *st,
                              const struct ioreq_vcpu_stats *per_vcpu, unsigned nr)
{
    uint64_t total[IOREQ_STAT_TYPES] = {0};

    control_json_uint(b, "vcpus", st->nr_vcpus);
    control_json_begin_object(b, "requests");
    control_json_uint(b, "sync", st->sync_requests);
    control_json_uint(b, "buffered", st->buffered_requests);
    control_json_uint(b, "malformed", st->malformed);
    control_json_uint(b, "unclaimed", st->unclaimed);
    control_json_uint(b, "spurious_notifications", st->spurious_notifications);
    control_json_end_object(b);

    for (unsigned v = 0; v < nr; v++)
        for (unsigned t = 0; t < IOREQ_STAT_TYPES; t++)
            total[t] += per_vcpu[v].by_type[t];
    control_json_begin_object(b, "by_type");
    for (unsigned t = 0; t < IOREQ_STAT_TYPES; t++)
        control_json_uint(b, stat_type_names[t], total[t]);
    control_json_end_object(b);

    control_json_begin_array(b, "per_vcpu");
    for (unsigned v = 0; v < nr; v++) {
        control_json_begin_object(b, NULL);
        control_json_uint(b, "vcpu", v);
        control_json_uint(b, "requests", per_vcpu[v].requests);
        for (unsigned t = 0; t < IOREQ_STAT_TYPES; t++)
            control_json_uint(b, stat_type_names[t], per_vcpu[v].by_type[t]);
        control_json_end_object(b);
    }
    control_json_end_array(b);

    control_json_begin_object(b, "mapcache");
    control_json_uint(b, "hits", st->gmem.hits);
    control_json_uint(b, "misses", st->gmem.misses);
    control_json_uint(b, "evictions", st->gmem.evictions);
    control_json_uint(b, "invalidations", st->gmem.invalidations);
    control_json_uint(b, "faults", st->gmem.faults);
    control_json_uint(b, "mapped_bytes", st->gmem.mapped_bytes);
    control_json_uint(b, "dirty_reports", st->gmem.dirty_reports);
    control_json_end_object(b);
    control_json_int(b, "timeoffset", st->timeoffset);
}

void control_json_faults(struct control_buf *b, const struct dm_faults *faults)
{
    control_json_begin_object(b, "faults");
    for (unsigned c = 0; c < DM_FAULT_COUNT; c++)
        control_json_uint(b, dm_fault_name((enum dm_fault)c), faults ? faults->count[c] : 0);
    control_json_end_object(b);
}

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
    struct control_buf reply; /* scratch for one reply */
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

static void reply_error(struct control_buf *b, const char *msg)
{
    control_buf_reset(b);
    control_json_begin_object(b, NULL);
    control_json_bool(b, "ok", false);
    control_json_string(b, "error", msg);
    control_json_end_object(b);
}

static void build_reply(struct control_server *srv, const char *cmd)
{
    struct control_buf *b = &srv->reply;
    int (*op)(void *, struct control_buf *) = NULL;
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
        control_buf_reset(b);
        control_json_begin_object(b, NULL);
        control_json_bool(b, "ok", true);
        control_json_end_object(b);
        return;
    } else {
        reply_error(b, *cmd ? "unknown command" : "empty request");
        return;
    }
    if (!op) {
        reply_error(b, "not supported");
        return;
    }
    control_buf_reset(b);
    control_json_begin_object(b, NULL);
    control_json_bool(b, "ok", true);
    rc = op(srv->opaque, b);
    control_json_end_object(b);
    if (rc)
        reply_error(b, strerror(rc < 0 ? -rc : rc));
    else if (control_buf_error(b) == -ENOSPC)
        reply_error(b, "reply too large");
    else if (control_buf_error(b))
        reply_error(b, "internal error");
}

static void answer_line(struct control_conn *c, char *line, size_t len)
{
    struct control_server *srv = c->srv;
    struct control_buf *b = &srv->reply;
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
    if (control_buf_error(b) || conn_queue(c, b->data, b->len) || conn_queue(c, "\n", 1)) {
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
    buf_put(&srv->reply, "\n", 1);
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

int control_default_path(char *buf, size_t len, unsigned domid)
{
    int n = snprintf(buf, len, "%s/%u.sock", CONTROL_SOCKET_DIR, domid);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
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
    control_buf_init(&srv->reply, CONTROL_REPLY_MAX);
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
    control_buf_free(&srv->reply);
    free(srv);
}
