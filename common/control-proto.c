/* The control socket's default place (control-proto.h). */
#include <errno.h>
#include <stdio.h>

#include "control-proto.h"

int control_default_path(char *buf, size_t len, unsigned domid)
{
    int n = snprintf(buf, len, "%s/%u.sock", CONTROL_SOCKET_DIR, domid);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
