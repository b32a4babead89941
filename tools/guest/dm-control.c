/*
 * dmctl: raw control-socket requests (see dm-control.h).
 */
#include "dm-control.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int dmctl_ask(const char *path, const char *request, char *buf, size_t len, int timeout_ms)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t want = strlen(request), got = 0;
    ssize_t sent;
    int fd, rc = 0;

    if (len < 2 || strlen(path) >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        rc = -errno;
        goto out;
    }
    sent = write(fd, request, want);
    if (sent != (ssize_t)want) {
        rc = sent < 0 ? -errno : -EIO;
        goto out;
    }
    while (got == 0 || buf[got - 1] != '\n') {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (got == len - 1) {
            rc = -EMSGSIZE;
            goto out;
        }
        if (poll(&pfd, 1, timeout_ms) != 1) {
            rc = -ETIMEDOUT;
            goto out;
        }
        n = read(fd, buf + got, len - 1 - got);
        if (n <= 0) {
            rc = n < 0 ? -errno : -ECONNRESET;
            goto out;
        }
        got += (size_t)n;
    }
out:
    buf[got] = '\0';
    close(fd);
    return rc;
}
