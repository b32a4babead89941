/*
 * Path checks and resolution. Lengths follow xs_wire.h: a relative path as
 * sent may be XENSTORE_REL_PATH_MAX bytes, a resolved absolute path
 * XENSTORE_ABS_PATH_MAX bytes; longer ones are refused with EINVAL.
 */
#include "xs-path.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void xs_path_home(unsigned int domid, char home[XS_HOME_BUF])
{
    snprintf(home, XS_HOME_BUF, "/local/domain/%u", domid);
}

static bool path_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '/' || c == '_' || c == '@';
}

static bool path_syntax_ok(const char *p, size_t len)
{
    if (len == 0)
        return false;
    if (len > 1 && p[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!path_char_ok(p[i]))
            return false;
        if (p[i] == '/' && i + 1 < len && p[i + 1] == '/')
            return false;
    }
    return true;
}

int xs_path_canonical(const char *path, const char *home, bool allow_special, char *out,
                      bool *relative)
{
    size_t len = strnlen(path, XS_PATH_BUF);

    *relative = false;
    if (path[0] == '@') {
        if (!allow_special || len > XENSTORE_ABS_PATH_MAX || !path_syntax_ok(path, len))
            return -EINVAL;
        memcpy(out, path, len + 1);
        return 0;
    }
    if (path[0] == '/') {
        if (len > XENSTORE_ABS_PATH_MAX || !path_syntax_ok(path, len))
            return -EINVAL;
        memcpy(out, path, len + 1);
        return 0;
    }
    /* A relative path: "" and "a/" resolve to a trailing '/', caught below. */
    if (len > XENSTORE_REL_PATH_MAX)
        return -EINVAL;
    int n = snprintf(out, XS_PATH_BUF, "%s/%s", home, path);
    if (n < 0 || n > XENSTORE_ABS_PATH_MAX || !path_syntax_ok(out, (size_t)n) || out[n - 1] == '/')
        return -EINVAL;
    *relative = true;
    return 0;
}

bool xs_path_is_child(const char *child, const char *parent)
{
    size_t plen = strlen(parent);

    if ((child[0] == '@') != (parent[0] == '@'))
        return false;
    if (strcmp(parent, "/") == 0)
        return true;
    return strncmp(child, parent, plen) == 0 && (child[plen] == '\0' || child[plen] == '/');
}

const char *xs_path_strip_home(const char *abs, const char *home)
{
    size_t hlen = strlen(home);

    if (strncmp(abs, home, hlen) == 0 && abs[hlen] == '/')
        return abs + hlen + 1;
    return abs;
}
