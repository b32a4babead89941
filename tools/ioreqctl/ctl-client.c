/*
 * Control-socket client; see ctl-client.h. Every wait goes through poll()
 * with the caller's timeout, and writes use MSG_NOSIGNAL, so a stuck or
 * vanished daemon is an error, never a hang or SIGPIPE.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control-proto.h"
#include "json.h"
#include "ctl-client.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` until `deadline`; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        long long left = deadline - now_ms();
        int n;

        if (left < 0)
            return -ETIMEDOUT;
        n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

int ctl_client_connect(struct ctl_client *c, const char *path, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = timeout_ms;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int rc = -errno;

        close(c->fd);
        c->fd = -1;
        return rc;
    }
    return 0;
}

static int send_all(struct ctl_client *c, const char *data, size_t len, long long deadline)
{
    while (len) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        int rc;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            rc = wait_fd(c->fd, POLLOUT, deadline);
            if (rc)
                return rc;
            continue;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads more bytes into c->buf; 0, -ECONNRESET at EOF, -EPROTO past the limit. */
static int fill(struct ctl_client *c, long long deadline)
{
    ssize_t n;
    int rc;

    if (c->len >= CONTROL_REPLY_MAX + 1)
        return -EPROTO;
    if (c->cap - c->len < 4096) {
        size_t cap = c->cap ? c->cap * 2 : 8192;
        char *p;

        if (cap > CONTROL_REPLY_MAX + 4096)
            cap = CONTROL_REPLY_MAX + 4096;
        p = realloc(c->buf, cap);
        if (!p)
            return -ENOMEM;
        c->buf = p;
        c->cap = cap;
    }
    for (;;) {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return -ECONNRESET;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        rc = wait_fd(c->fd, POLLIN, deadline);
        if (rc)
            return rc;
    }
}

int ctl_client_request(struct ctl_client *c, const char *cmd, struct json_value **reply)
{
    long long deadline = now_ms() + c->timeout_ms;
    size_t scanned = 0;
    char *nl;
    int rc;

    *reply = NULL;
    rc = send_all(c, cmd, strlen(cmd), deadline);
    if (!rc)
        rc = send_all(c, "\n", 1, deadline);
    if (rc)
        return rc;
    while (!(nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL)) {
        scanned = c->len;
        rc = fill(c, deadline);
        if (rc)
            return rc;
    }
    if ((size_t)(nl - c->buf) > CONTROL_REPLY_MAX)
        return -EPROTO;
    rc = json_parse(c->buf, (size_t)(nl - c->buf), reply);
    c->len -= (size_t)(nl - c->buf) + 1;
    memmove(c->buf, nl + 1, c->len);
    if (rc == -EINVAL || (!rc && (*reply)->type != JSON_OBJECT)) {
        json_free(*reply);
        *reply = NULL;
        return -EPROTO;
    }
    return rc;
}

int ctl_client_wait_closed(struct ctl_client *c)
{
    long long deadline = now_ms() + c->timeout_ms;
    int rc;

    for (;;) {
        c->len = 0; /* anything more the daemon says does not matter now */
        rc = fill(c, deadline);
        if (rc == -ECONNRESET)
            return 0;
        if (rc)
            return rc;
    }
}

void ctl_client_close(struct ctl_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}
