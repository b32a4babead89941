/*
 * Character backends (see chardev.h). One struct serves every kind; the kind
 * decides how the descriptors are opened and what losing the reader means:
 * a unix client is closed and the socket listens again, a pty whose reader
 * went away is polled once a second until someone opens it again, a file or
 * stdout that fails stops taking output (dropped, counted).
 *
 * Descriptors epoll refuses (EPERM: regular files, /dev/null and other
 * devices without poll support) never block, so they get no readiness
 * event: a zero timeout stands in for "ready", re-armed while there is work.
 * Standard input that is /dev/null, or otherwise cannot be polled and is no
 * regular file, gives no input; a regular file is read to its end.
 */
#define _GNU_SOURCE /* accept4, ptsname_r */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <event2/event.h>

#include "chardev.h"
#include "log.h"

#define CHARDEV_READ_CHUNK 256
#define CHARDEV_POLL_MS    1000

enum chardev_kind {
    CHARDEV_NULL,
    CHARDEV_FILE,
    CHARDEV_STDIO,
    CHARDEV_PTY,
    CHARDEV_UNIX,
};

struct chardev {
    enum chardev_kind kind;
    struct event_base *base;
    struct chardev_client client;
    int in_fd, out_fd; /* -1 when absent; equal for pty and unix clients */
    bool in_ready;     /* in_fd cannot be polled and never blocks: ev_in is a timer */
    bool out_ready;    /* likewise out_fd and ev_out */
    bool arm_failed;   /* an event could not be added; said once */
    int listen_fd;
    bool connected;      /* someone can read our output */
    bool stalled;        /* reader made no progress for CHARDEV_STALL_MS: dropping */
    bool want_writable;  /* the client was refused bytes and waits for writable() */
    bool input_paused;   /* the client had no room; waiting for chardev_accept_input */
    bool input_ended;    /* stdin reached its end: no more input, output goes on */
    uint64_t stall_mark; /* out_bytes when the stall timer was armed */
    struct event *ev_in, *ev_out, *ev_listen, *ev_stall, *ev_poll;
    uint8_t buf[CHARDEV_BUF_SIZE]; /* ring of output not yet written */
    size_t head, len;
    char *path; /* pty or socket path */
    int stdin_flags, stdout_flags;
    struct chardev_stats stats;
};

static const struct timeval tv_now; /* zero: at the loop's next turn */

static void ms_to_tv(unsigned ms, struct timeval *tv)
{
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

static const char *cd_name(const struct chardev *cd)
{
    return cd->path ? cd->path : "";
}

/*
 * event_add, failing only without memory or for a descriptor the loop
 * cannot watch; the caller decides what is lost, this says it once.
 */
static bool arm(struct chardev *cd, struct event *ev, const struct timeval *tv, const char *what)
{
    if (event_add(ev, tv) == 0)
        return true;
    if (!cd->arm_failed)
        log_error("serial backend %s: cannot wait for %s", cd_name(cd), what);
    cd->arm_failed = true;
    return false;
}

/* Whether epoll (libevent's backend here) can watch fd; it refuses what never blocks. */
static bool fd_pollable(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    bool ok;

    if (ep < 0)
        return true; /* cannot tell: event_add will */
    ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
    close(ep);
    return ok;
}

static bool fd_is_dev_null(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

static ssize_t out_write(struct chardev *cd, const void *p, size_t n)
{
    if (cd->kind == CHARDEV_UNIX)
        return send(cd->out_fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    return write(cd->out_fd, p, n);
}

static void notify_writable(struct chardev *cd)
{
    if (cd->want_writable && cd->client.writable) {
        cd->want_writable = false;
        cd->client.writable(cd->client.opaque);
    }
}

static void start_input(struct chardev *cd)
{
    if (cd->ev_in && cd->connected && !cd->input_paused && !cd->input_ended)
        arm(cd, cd->ev_in, cd->in_ready ? &tv_now : NULL, "input"); /* else no input */
}

/* The reader is gone: whatever is buffered is lost, and counted. */
static void disconnect(struct chardev *cd, const char *why)
{
    if (!cd->connected)
        return;
    log_info("serial backend %s: reader gone (%s)%s", cd_name(cd), why,
             cd->len ? ", buffered output dropped" : "");
    cd->stats.out_dropped += cd->len;
    cd->len = 0;
    cd->head = 0;
    cd->connected = false;
    cd->stalled = false;
    if (cd->ev_in)
        event_del(cd->ev_in);
    if (cd->ev_out)
        event_del(cd->ev_out);
    if (cd->ev_stall)
        event_del(cd->ev_stall);
    if (cd->kind == CHARDEV_UNIX && cd->in_fd >= 0) {
        event_free(cd->ev_in);
        event_free(cd->ev_out);
        cd->ev_in = cd->ev_out = NULL;
        close(cd->in_fd);
        cd->in_fd = cd->out_fd = -1;
    }
    if (cd->kind == CHARDEV_PTY && cd->ev_poll) {
        struct timeval tv;
        ms_to_tv(CHARDEV_POLL_MS, &tv);
        arm(cd, cd->ev_poll, &tv, "a new reader"); /* else output stays dropped */
    }
    notify_writable(cd); /* output is accepted (and dropped) again */
}

static void arm_stall(struct chardev *cd)
{
    struct timeval tv;

    if (!cd->ev_stall || event_pending(cd->ev_stall, EV_TIMEOUT, NULL))
        return;
    cd->stall_mark = cd->stats.out_bytes;
    ms_to_tv(CHARDEV_STALL_MS, &tv);
    arm(cd, cd->ev_stall, &tv, "a stalled reader"); /* else a stalled reader is not noticed */
}

/* Writes the ring out as far as the descriptor takes it. */
static void flush_ring(struct chardev *cd)
{
    while (cd->len && cd->connected) {
        size_t run = CHARDEV_BUF_SIZE - cd->head;
        ssize_t n;
        if (run > cd->len)
            run = cd->len;
        n = out_write(cd, cd->buf + cd->head, run);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (n <= 0) {
            disconnect(cd, n < 0 ? strerror(errno) : "write returned 0");
            return;
        }
        cd->head = (cd->head + (size_t)n) % CHARDEV_BUF_SIZE;
        cd->len -= (size_t)n;
        cd->stats.out_bytes += (uint64_t)n;
        cd->stalled = false;
    }
    if (!cd->len)
        cd->head = 0;
    if (cd->ev_out && cd->connected) {
        if (!cd->len)
            event_del(cd->ev_out);
        else if (!arm(cd, cd->ev_out, cd->out_ready ? &tv_now : NULL, "output room"))
            disconnect(cd, "cannot wait for output room"); /* dropped and counted from now */
    }
}

static void on_out(evutil_socket_t fd, short what, void *opaque)
{
    struct chardev *cd = opaque;

    flush_ring(cd);
    if (cd->len < CHARDEV_BUF_SIZE)
        notify_writable(cd);
}

static void on_stall(evutil_socket_t fd, short what, void *opaque)
{
    struct chardev *cd = opaque;

    if (!cd->connected || cd->len < CHARDEV_BUF_SIZE)
        return;
    if (cd->stats.out_bytes != cd->stall_mark) {
        arm_stall(cd); /* slow but moving: keep waiting */
        return;
    }
    /* Keep what is buffered for the reader, drop (and count) what follows. */
    log_info("serial backend %s: reader stalled, dropping output until it reads again",
             cd_name(cd));
    cd->stalled = true;
    notify_writable(cd);
}

size_t chardev_write(struct chardev *cd, const uint8_t *buf, size_t len)
{
    size_t n, done = 0;

    if (cd->kind == CHARDEV_NULL) {
        cd->stats.out_bytes += len;
        return len;
    }
    if (!cd->connected || cd->stalled) {
        cd->stats.out_dropped += len;
        return len;
    }
    /* Nothing queued: write straight through. */
    if (!cd->len) {
        ssize_t w = out_write(cd, buf, len);
        if (w > 0) {
            done = (size_t)w;
            cd->stats.out_bytes += done;
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            disconnect(cd, strerror(errno));
            cd->stats.out_dropped += len;
            return len;
        }
    }
    n = len - done;
    if (n > CHARDEV_BUF_SIZE - cd->len)
        n = CHARDEV_BUF_SIZE - cd->len;
    for (size_t i = 0; i < n; i++)
        cd->buf[(cd->head + cd->len + i) % CHARDEV_BUF_SIZE] = buf[done + i];
    cd->len += n;
    done += n;
    if (cd->len)
        flush_ring(cd);
    if (done < len) {
        cd->want_writable = true;
        arm_stall(cd);
    }
    return done;
}

static void on_in(evutil_socket_t fd, short what, void *opaque)
{
    struct chardev *cd = opaque;
    uint8_t buf[CHARDEV_READ_CHUNK];
    size_t room = cd->client.can_receive ? cd->client.can_receive(cd->client.opaque) : 0;
    ssize_t n;

    if (!room) {
        cd->input_paused = true;
        event_del(cd->ev_in);
        return;
    }
    n = read(cd->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
    if (n > 0) {
        cd->stats.in_bytes += (uint64_t)n;
        if (cd->client.receive)
            cd->client.receive(cd->client.opaque, buf, (size_t)n);
        if (cd->in_ready)
            start_input(cd); /* a timer fires once: more of the file next turn */
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (cd->in_ready)
            start_input(cd);
        return;
    }
    if (cd->kind == CHARDEV_STDIO) {
        /* stdin ended (or failed): output goes on. */
        log_info("serial backend stdio: %s of standard input, no more input for the guest",
                 n == 0 ? "end" : "read error");
        cd->input_ended = true;
        event_del(cd->ev_in);
        return;
    }
    disconnect(cd, n == 0 ? "end of file" : strerror(errno));
}

void chardev_accept_input(struct chardev *cd)
{
    if (!cd || !cd->input_paused)
        return;
    cd->input_paused = false;
    start_input(cd);
}

/* A pty whose reader left: has someone opened it again? */
static void on_poll(evutil_socket_t fd, short what, void *opaque)
{
    struct chardev *cd = opaque;
    struct pollfd p = {.fd = cd->in_fd, .events = POLLIN};
    struct timeval tv;

    if (cd->connected)
        return;
    if (poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP)) {
        cd->connected = true;
        log_info("serial backend %s: reader attached", cd->path);
        start_input(cd);
        notify_writable(cd);
        return;
    }
    ms_to_tv(CHARDEV_POLL_MS, &tv);
    arm(cd, cd->ev_poll, &tv, "a new reader");
}

/* Readiness events, or for a descriptor that is always ready a timer armed with tv_now. */
static int attach_fd_events(struct chardev *cd)
{
    if (cd->in_fd >= 0) {
        cd->ev_in = cd->in_ready ? evtimer_new(cd->base, on_in, cd)
                                 : event_new(cd->base, cd->in_fd, EV_READ | EV_PERSIST, on_in, cd);
        if (!cd->ev_in)
            return -ENOMEM;
    }
    if (cd->out_fd >= 0) {
        cd->ev_out = cd->out_ready
                         ? evtimer_new(cd->base, on_out, cd)
                         : event_new(cd->base, cd->out_fd, EV_WRITE | EV_PERSIST, on_out, cd);
        if (!cd->ev_out)
            return -ENOMEM;
    }
    return 0;
}

static void on_accept(evutil_socket_t fd, short what, void *opaque)
{
    struct chardev *cd = opaque;
    int c = accept4(cd->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (c < 0)
        return;
    if (cd->connected) {
        log_warn("serial backend %s: second client refused", cd->path);
        close(c);
        return;
    }
    cd->in_fd = cd->out_fd = c;
    if (attach_fd_events(cd)) {
        close(c);
        cd->in_fd = cd->out_fd = -1;
        return;
    }
    cd->connected = true;
    start_input(cd);
    notify_writable(cd);
}

static int set_nonblock(int fd, int *saved)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0)
        return -errno;
    if (saved)
        *saved = fl;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

static int open_pty(struct chardev *cd, char *errbuf, size_t errlen)
{
    char name[128];
    struct termios t;
    int fd = posix_openpt(O_RDWR | O_NOCTTY);

    if (fd < 0 || grantpt(fd) || unlockpt(fd) || ptsname_r(fd, name, sizeof(name)))
        goto fail;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || set_nonblock(fd, NULL))
        goto fail;
    /* Raw: bytes pass unchanged both ways, no echo back into the guest. */
    if (tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    cd->path = strdup(name);
    if (!cd->path) {
        close(fd);
        return -ENOMEM;
    }
    cd->in_fd = cd->out_fd = fd;
    cd->ev_poll = evtimer_new(cd->base, on_poll, cd);
    if (!cd->ev_poll)
        return -ENOMEM;
    cd->connected = true; /* a fresh pty buffers until someone reads */
    return attach_fd_events(cd);
fail:
    snprintf(errbuf, errlen, "cannot create a pty: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -errno ? -errno : -EIO;
}

static int open_unix(struct chardev *cd, const char *path, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc;

    if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(errbuf, errlen, "unix socket path '%s' is empty or too long", path);
        return -EINVAL;
    }
    strcpy(sa.sun_path, path);
    /* A socket left by an earlier run is replaced; anything else is not ours. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
        rc = -errno;
        snprintf(errbuf, errlen, "cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    cd->listen_fd = fd;
    cd->path = strdup(path);
    cd->ev_listen = event_new(cd->base, fd, EV_READ | EV_PERSIST, on_accept, cd);
    if (!cd->path || !cd->ev_listen || event_add(cd->ev_listen, NULL))
        return -ENOMEM;
    return 0;
}

static int open_file(struct chardev *cd, const char *path, char *errbuf, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0640);

    if (fd < 0) {
        int rc = -errno;
        snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return rc;
    }
    cd->out_fd = fd;
    cd->out_ready = !fd_pollable(fd); /* a regular file */
    cd->path = strdup(path);
    cd->connected = true;
    if (!cd->path)
        return -ENOMEM;
    return attach_fd_events(cd);
}

/*
 * A detached ioreqd has both on /dev/null: no input, output discarded. Said
 * once, at info level, since it may well be what was wanted.
 */
static int open_stdio(struct chardev *cd)
{
    struct stat st;

    cd->in_fd = STDIN_FILENO;
    cd->out_fd = STDOUT_FILENO;
    if (set_nonblock(STDIN_FILENO, &cd->stdin_flags) ||
        set_nonblock(STDOUT_FILENO, &cd->stdout_flags)) {
        cd->in_fd = cd->out_fd = -1;
        return -EBADF;
    }
    cd->path = strdup("stdio");
    cd->connected = true;
    if (!cd->path)
        return -ENOMEM;
    if (fd_is_dev_null(STDIN_FILENO)) {
        log_info("serial backend stdio: standard input is /dev/null: no input for the guest");
        cd->in_fd = -1;
    } else if (!fd_pollable(STDIN_FILENO)) {
        if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
            log_info("serial backend stdio: standard input is a regular file: read to its end "
                     "as the guest's input");
            cd->in_ready = true;
        } else {
            log_info("serial backend stdio: standard input cannot be polled: no input for the "
                     "guest");
            cd->in_fd = -1;
        }
    }
    if (fd_is_dev_null(STDOUT_FILENO))
        log_info("serial backend stdio: standard output is /dev/null: the guest's output is "
                 "discarded");
    cd->out_ready = !fd_pollable(STDOUT_FILENO);
    return attach_fd_events(cd);
}

int chardev_open(struct chardev **out, const char *spec, struct event_base *base,
                 const struct chardev_client *client, char *errbuf, size_t errlen)
{
    struct chardev *cd = calloc(1, sizeof(*cd));
    int rc;

    if (!cd)
        return -ENOMEM;
    cd->base = base;
    cd->client = *client;
    cd->in_fd = cd->out_fd = cd->listen_fd = -1;
    cd->stdin_flags = cd->stdout_flags = -1;
    if (spec[0] && strcmp(spec, "null") && strcmp(spec, "stdio") && strcmp(spec, "pty") &&
        strncmp(spec, "unix:", 5) && strncmp(spec, "file:", 5)) {
        snprintf(errbuf, errlen, "unknown backend '%s' (pty, unix:PATH, file:PATH, stdio, null)",
                 spec);
        rc = -EINVAL;
        goto out;
    }
    if (strcmp(spec, "null") && !base) {
        snprintf(errbuf, errlen, "backend '%s' needs an event loop", spec);
        rc = -EINVAL;
        goto out;
    }
    if (!strcmp(spec, "null") || !spec[0]) {
        cd->kind = CHARDEV_NULL;
        cd->connected = true;
        rc = 0;
        goto ok;
    }
    cd->ev_stall = evtimer_new(base, on_stall, cd);
    if (!cd->ev_stall) {
        rc = -ENOMEM;
        goto out;
    }
    if (!strcmp(spec, "pty")) {
        cd->kind = CHARDEV_PTY;
        rc = open_pty(cd, errbuf, errlen);
    } else if (!strcmp(spec, "stdio")) {
        cd->kind = CHARDEV_STDIO;
        rc = open_stdio(cd);
        if (rc)
            snprintf(errbuf, errlen, "cannot use stdin/stdout");
    } else if (!strncmp(spec, "unix:", 5)) {
        cd->kind = CHARDEV_UNIX;
        rc = open_unix(cd, spec + 5, errbuf, errlen);
    } else {
        cd->kind = CHARDEV_FILE;
        rc = open_file(cd, spec + 5, errbuf, errlen);
    }
    if (rc)
        goto out;
    start_input(cd);
ok:
    *out = cd;
    return 0;
out:
    chardev_close(cd);
    return rc;
}

int chardev_flush(struct chardev *cd)
{
    if (!cd)
        return 0;
    flush_ring(cd);
    return cd->len ? -EAGAIN : 0;
}

void chardev_close(struct chardev *cd)
{
    if (!cd)
        return;
    flush_ring(cd);
    cd->stats.out_dropped += cd->len;
    if (cd->ev_in)
        event_free(cd->ev_in);
    if (cd->ev_out)
        event_free(cd->ev_out);
    if (cd->ev_listen)
        event_free(cd->ev_listen);
    if (cd->ev_stall)
        event_free(cd->ev_stall);
    if (cd->ev_poll)
        event_free(cd->ev_poll);
    switch (cd->kind) {
    case CHARDEV_STDIO:
        if (cd->stdin_flags >= 0)
            fcntl(STDIN_FILENO, F_SETFL, cd->stdin_flags);
        if (cd->stdout_flags >= 0)
            fcntl(STDOUT_FILENO, F_SETFL, cd->stdout_flags);
        break;
    case CHARDEV_UNIX:
        if (cd->in_fd >= 0)
            close(cd->in_fd);
        if (cd->listen_fd >= 0) {
            close(cd->listen_fd);
            if (cd->path)
                unlink(cd->path);
        }
        break;
    case CHARDEV_PTY:
    case CHARDEV_FILE:
        if (cd->out_fd >= 0)
            close(cd->out_fd);
        break;
    case CHARDEV_NULL:
        break;
    }
    free(cd->path);
    free(cd);
}

const char *chardev_pty_path(const struct chardev *cd)
{
    return cd && cd->kind == CHARDEV_PTY ? cd->path : NULL;
}

void chardev_get_stats(const struct chardev *cd, struct chardev_stats *out)
{
    *out = cd->stats;
    out->connected = cd->connected;
}
