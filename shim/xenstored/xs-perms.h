/*
 * xenstore node permissions. A node carries a list of (domid, access)
 * entries: entry 0 names the owner and gives the access of every domain not
 * listed after it; later entries give listed domains their access. The
 * owner and privileged callers (dom0 and the socket) have full access.
 * Text form, one per entry: 'n' none, 'r' read, 'w' write, 'b' both,
 * followed by the decimal domid ("n0", "r5").
 */
#ifndef XS_PERMS_H
#define XS_PERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

#define XS_PERM_NONE  0u
#define XS_PERM_READ  1u
#define XS_PERM_WRITE 2u
#define XS_PERM_OWNER 4u

/* Highest real domid + 1 (DOMID_FIRST_RESERVED in xen.h). */
#define XS_DOMID_LIMIT 0x7ff0u

struct xs_perm {
    uint16_t domid;
    uint8_t access; /* XS_PERM_READ | XS_PERM_WRITE */
};

struct xs_perms {
    struct xs_perm *p; /* p[0] is the owner entry; never empty */
    unsigned int nr;
};

/* Who asks: domid and whether it bypasses permission checks. */
struct xs_caller {
    unsigned int domid;
    bool privileged;
};

/* Parses one "r5"-style entry; -EINVAL if malformed or domid > 65535. */
int xs_perm_parse(const char *text, struct xs_perm *out) must_check;
/* Writes the text form of p into buf (at least 8 bytes); returns its length. */
size_t xs_perm_format(const struct xs_perm *p, char *buf);

/* Access mask (XS_PERM_*, OWNER included) the caller has on a node. */
unsigned int xs_perms_access(const struct xs_perms *perms, const struct xs_caller *who);

int xs_perms_copy(struct xs_perms *dst, const struct xs_perms *src) must_check;
void xs_perms_free(struct xs_perms *perms);

#endif
