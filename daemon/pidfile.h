/*
 * The pid file: written atomically (a temporary file in the same directory,
 * renamed over the target), refused while another live process owns it, and
 * removed on exit only if it still names us.
 */
#ifndef IOREQD_PIDFILE_H
#define IOREQD_PIDFILE_H

#include <sys/types.h>

#include "compiler.h"

/*
 * Writes getpid() to `path`. 0, -EEXIST if the file names another process
 * that is still alive (its pid in *owner if owner is not NULL), or another
 * -errno from the file system.
 */
int pidfile_write(const char *path, pid_t *owner) must_check;

/* Removes `path` if it names this process. 0, -ESTALE if it names another, or -errno. */
int pidfile_remove(const char *path);

/* The pid stored in `path`, or -errno (-EINVAL for a malformed file). */
pid_t pidfile_read(const char *path);

#endif
