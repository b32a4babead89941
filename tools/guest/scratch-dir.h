/*
 * scratch: a private directory for one test or demo run, made under $TMPDIR
 * (or /tmp) with a unique name, and removed with everything in it, so runs
 * in parallel never share a socket, log or disk image.
 */
#ifndef GUEST_SCRATCH_DIR_H
#define GUEST_SCRATCH_DIR_H

#include <stddef.h>

/* Makes "<tmp>/<tag>.XXXXXX" and writes its path to dir. 0 or -errno. */
int scratch_dir_create(char *dir, size_t len, const char *tag);
/* dir/name into buf. 0 or -ENAMETOOLONG. */
int scratch_path(char *buf, size_t len, const char *dir, const char *name);
/* Removes dir and all below it, not following links. 0 or -errno. */
int scratch_dir_remove(const char *dir);

#endif
