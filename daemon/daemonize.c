/*
 * Classic double fork. The launching process keeps two pipes open: the
 * daemon's stderr (copied to ours, so start-up errors reach whoever launched
 * us) and a one-byte status channel. The status byte, not EOF on stderr,
 * decides when the launcher exits, so a child process inheriting the
 * daemon's stderr cannot keep the launcher waiting.
 */
#include "daemonize.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "settings.h"

static void copy_out(int fd)
{
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(STDERR_FILENO, buf, (size_t)n) < 0)
            break;
}

/* The launching process: relay messages until the status arrives. */
static _Noreturn void launcher_wait(pid_t child, int msg_fd, int status_fd)
{
    struct pollfd fds[2] = {
        {.fd = status_fd, .events = POLLIN},
        {.fd = msg_fd, .events = POLLIN},
    };
    unsigned char status = IOREQD_EXIT_FAILURE;
    int nfds = 2;

    /* The middle process exits right after the second fork. */
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
    for (;;) {
        if (poll(fds, (nfds_t)nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (nfds == 2 && fds[1].revents) {
            char buf[4096];
            ssize_t n = read(msg_fd, buf, sizeof(buf));
            if (n > 0) {
                if (write(STDERR_FILENO, buf, (size_t)n) < 0)
                    nfds = 1;
            } else if (n == 0 || errno != EINTR) {
                nfds = 1;
            }
        }
        if (fds[0].revents) {
            ssize_t n = read(status_fd, &status, 1);
            if (n < 0 && errno == EINTR)
                continue;
            if (n != 1)
                status = IOREQD_EXIT_FAILURE;
            break;
        }
    }
    /* Whatever was written before the status byte is already in the pipe. */
    if (fcntl(msg_fd, F_SETFL, O_NONBLOCK) == 0)
        copy_out(msg_fd);
    if (status != 0 && status != IOREQD_EXIT_USAGE)
        status = IOREQD_EXIT_FAILURE;
    _exit(status);
}

static int redirect(int fd, const char *path, int flags)
{
    int nfd = open(path, flags | O_CLOEXEC);
    int rc = 0;

    if (nfd < 0)
        return -errno;
    if (dup2(nfd, fd) < 0)
        rc = -errno;
    close(nfd);
    return rc;
}

int daemonize_start(struct daemonize *d)
{
    int msg[2], status[2];
    pid_t pid;

    d->status_fd = -1;
    d->saved_stderr = -1;
    if (pipe2(msg, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(status, O_CLOEXEC) < 0) {
        int rc = -errno;
        close(msg[0]);
        close(msg[1]);
        return rc;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(msg[0]);
        close(msg[1]);
        close(status[0]);
        close(status[1]);
        return rc;
    }
    if (pid > 0) {
        close(msg[1]);
        close(status[1]);
        launcher_wait(pid, msg[0], status[0]);
    }

    close(msg[0]);
    close(status[0]);
    if (setsid() < 0)
        _exit(IOREQD_EXIT_FAILURE);
    pid = fork();
    if (pid < 0)
        _exit(IOREQD_EXIT_FAILURE);
    if (pid > 0)
        _exit(0);

    /* The daemon: no controlling terminal, cannot acquire one. */
    if (chdir("/") < 0)
        _exit(IOREQD_EXIT_FAILURE);
    umask(022);
    d->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    if (redirect(STDIN_FILENO, "/dev/null", O_RDONLY) ||
        redirect(STDOUT_FILENO, "/dev/null", O_WRONLY) || dup2(msg[1], STDERR_FILENO) < 0)
        _exit(IOREQD_EXIT_FAILURE);
    close(msg[1]);
    d->status_fd = status[1];
    return 0;
}

void daemonize_done(struct daemonize *d, int status, bool keep_stderr)
{
    unsigned char byte = (unsigned char)status;

    if (d->status_fd < 0)
        return;
    fflush(stderr);
    if (keep_stderr && d->saved_stderr >= 0) {
        if (dup2(d->saved_stderr, STDERR_FILENO) < 0)
            keep_stderr = false;
    }
    /* stdout is /dev/null already; nothing is opened, as the daemon may be in a chroot by now. */
    if (!keep_stderr)
        (void)dup2(STDOUT_FILENO, STDERR_FILENO);
    /* After stderr is detached, so the launcher's final drain sees everything. */
    while (write(d->status_fd, &byte, 1) < 0 && errno == EINTR)
        ;
    close(d->status_fd);
    d->status_fd = -1;
    if (d->saved_stderr >= 0)
        close(d->saved_stderr);
    d->saved_stderr = -1;
}
