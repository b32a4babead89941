/*
 * scratch: private directories for test and demo runs (see scratch-dir.h).
 */
#include "scratch-dir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFTW_FDS 16

int scratch_dir_create(char *dir, size_t len, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(dir, len, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);

    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return mkdtemp(dir) ? 0 : -errno;
}

int scratch_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) ? -errno : 0;
}

int scratch_dir_remove(const char *dir)
{
    /* nftw answers what remove_one did (-errno, errno still set), or -1 with errno. */
    int rc = nftw(dir, remove_one, NFTW_FDS, FTW_DEPTH | FTW_PHYS);

    return rc ? -errno : 0;
}
