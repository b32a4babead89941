/*
 * xenstore path syntax (docs/misc/xenstore.txt): absolute paths start with
 * '/', use only alphanumerics and "-/_@", never "//" or a trailing '/'
 * (except the root). Relative paths are resolved against the caller's home,
 * /local/domain/<domid>. Special watch paths start with '@'.
 */
#ifndef XS_PATH_H
#define XS_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

/* Room for any canonical path, its NUL included. */
#define XS_PATH_BUF (XENSTORE_ABS_PATH_MAX + 1)
/* "/local/domain/65535" */
#define XS_HOME_BUF 24

void xs_path_home(unsigned int domid, char home[XS_HOME_BUF]);

/*
 * Resolves path for a caller whose home is `home` into out (XS_PATH_BUF
 * bytes). allow_special admits "@name" paths (watches). *relative tells
 * whether the caller used a relative path. -EINVAL for a bad path.
 */
int xs_path_canonical(const char *path, const char *home, bool allow_special, char *out,
                      bool *relative);

/* True if child is path itself or lies below it. '@' paths only match '@' paths. */
bool xs_path_is_child(const char *child, const char *parent);

/* The form of abs seen by a client that used a path relative to home. */
const char *xs_path_strip_home(const char *abs, const char *home);

#endif
