/*
 * Permission entries: parsing, formatting and the access decision, as
 * xenstored takes them (docs/misc/xenstore.txt, SET_PERMS).
 */
#include "xs-perms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xs_perm_parse(const char *text, struct xs_perm *out)
{
    unsigned long domid = 0;
    const char *d = text + 1;

    switch (text[0]) {
    case 'n':
        out->access = XS_PERM_NONE;
        break;
    case 'r':
        out->access = XS_PERM_READ;
        break;
    case 'w':
        out->access = XS_PERM_WRITE;
        break;
    case 'b':
        out->access = XS_PERM_READ | XS_PERM_WRITE;
        break;
    default:
        return -EINVAL;
    }
    if (*d == '\0')
        return -EINVAL;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return -EINVAL;
        domid = domid * 10 + (unsigned long)(*d - '0');
        if (domid > 0xffff)
            return -EINVAL;
    }
    out->domid = (uint16_t)domid;
    return 0;
}

size_t xs_perm_format(const struct xs_perm *p, char *buf)
{
    static const char letters[] = {
        [XS_PERM_NONE] = 'n',
        [XS_PERM_READ] = 'r',
        [XS_PERM_WRITE] = 'w',
        [XS_PERM_READ | XS_PERM_WRITE] = 'b',
    };

    return (size_t)sprintf(buf, "%c%u", letters[p->access & 3u], (unsigned int)p->domid);
}

unsigned int xs_perms_access(const struct xs_perms *perms, const struct xs_caller *who)
{
    const unsigned int all = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

    if (who->privileged || who->domid == perms->p[0].domid)
        return all;
    for (unsigned int i = 1; i < perms->nr; i++)
        if (perms->p[i].domid == who->domid)
            return perms->p[i].access;
    return perms->p[0].access;
}

int xs_perms_copy(struct xs_perms *dst, const struct xs_perms *src)
{
    struct xs_perm *p = malloc(src->nr * sizeof(*p));

    if (!p)
        return -ENOMEM;
    memcpy(p, src->p, src->nr * sizeof(*p));
    dst->p = p;
    dst->nr = src->nr;
    return 0;
}

void xs_perms_free(struct xs_perms *perms)
{
    free(perms->p);
    perms->p = NULL;
    perms->nr = 0;
}
