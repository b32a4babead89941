/*
 * uart-relay SOCKET: a client for a UART's unix-socket backend, for tests
 * that talk to a guest. Connects to SOCKET (waiting up to 60 s for it to
 * appear), copies what the guest sends to stdout, unbuffered, and what
 * arrives on stdin to the guest. Exits 0 when the socket closes, 1 on errors.
 * stdin reaching its end is no reason to stop: a test may have nothing more
 * to say and still want the output.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int connect_retry(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "uart-relay: socket path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    for (int tries = 0; tries < 3000; tries++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
            break;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        close(fd);
        if (errno != ENOENT && errno != ECONNREFUSED)
            break;
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "uart-relay: cannot connect to %s: %s\n", path, strerror(errno));
    return -1;
}

/* Writes all of buf; false on error. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return 0;
        buf += w;
        len -= (size_t)w;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct pollfd p[2];
    char buf[4096];
    int sock;

    if (argc != 2) {
        fprintf(stderr, "usage: uart-relay SOCKET\n");
        return 2;
    }
    sock = connect_retry(argv[1]);
    if (sock < 0)
        return 1;
    p[0] = (struct pollfd){.fd = sock, .events = POLLIN};
    p[1] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
    for (;;) {
        ssize_t n;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[0].revents) {
            n = read(sock, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n < 0;
            if (!write_all(STDOUT_FILENO, buf, (size_t)n))
                return 1;
        }
        if (p[1].revents) {
            n = read(STDIN_FILENO, buf, sizeof(buf));
            if (n <= 0)
                p[1].fd = -1; /* end of input: keep relaying the output */
            else if (!write_all(sock, buf, (size_t)n))
                return 1;
        }
    }
}
