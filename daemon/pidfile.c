/*
 * Atomic pid files. Readers (init scripts, tests) must never see an empty or
 * half-written file, so the pid goes to a temporary file that is renamed into
 * place. The liveness check uses kill(pid, 0): EPERM still means alive.
 */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

pid_t pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    char *end;
    long v;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno || end == buf || (*end && strcmp(end, "\n") != 0) || v <= 0 || v > 0x3fffffff)
        return -EINVAL;
    return (pid_t)v;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int pidfile_write(const char *path, pid_t *owner)
{
    pid_t old = pidfile_read(path);
    size_t len = strlen(path);
    char *tmp = malloc(len + sizeof(".XXXXXX"));
    char text[32];
    int fd = -1, rc;

    if (!tmp)
        return -ENOMEM;
    if (old > 0 && old != getpid() && (kill(old, 0) == 0 || errno == EPERM)) {
        if (owner)
            *owner = old;
        rc = -EEXIST;
        goto out;
    }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".XXXXXX", sizeof(".XXXXXX"));
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    rc = write_all(fd, text, strlen(text));
    if (!rc && fchmod(fd, 0644) < 0)
        rc = -errno;
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    fd = -1;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
out:
    free(tmp);
    return rc;
}

int pidfile_remove(const char *path)
{
    pid_t pid = pidfile_read(path);

    if (pid < 0)
        return pid;
    if (pid != getpid())
        return -ESTALE;
    if (unlink(path) < 0)
        return -errno;
    return 0;
}
