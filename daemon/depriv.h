/*
 * Giving up what set-up needed once the device model serves its guest, in
 * the order libxl's dm_restrict and varstored use (see SECURITY in
 * ioreqd(8)). The Xen side (xentoolcore_restrict_all, closing xenstore)
 * belongs to ioreqd.c; this module owns the process side: chroot, group and
 * user ids, resource limits, no_new_privs and the system-call filter.
 *
 * Everything that needs the user database or the file system is resolved
 * by depriv_plan_init() at start-up, while /etc is still reachable and a
 * mistake is still a usage error; depriv_apply() then only makes system
 * calls.
 */
#ifndef IOREQD_DEPRIV_H
#define IOREQD_DEPRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "compiler.h"

struct depriv_plan {
    bool change_user; /* --runas given: restrict Xen handles, switch ids */
    uid_t uid;
    gid_t gid;
    char user[64];    /* "name(uid):group(gid)", for messages */
    char *chroot_dir; /* absolute, owned; NULL for none */
    bool seccomp;
};

/*
 * Resolves `runas` ("user", "user:group", numeric ids allowed; NULL for no
 * change), checks that `chroot_dir` (NULL for none) is an absolute path to
 * a directory. 0, -EINVAL with a message in errbuf, or -ENOMEM.
 */
int depriv_plan_init(struct depriv_plan *p, const char *runas, const char *chroot_dir, bool seccomp,
                     char *errbuf, size_t errlen) must_check;
void depriv_plan_free(struct depriv_plan *p);

/* True if depriv_apply() has anything to do. */
bool depriv_plan_active(const struct depriv_plan *p);

/*
 * chroot (if asked), supplementary groups dropped, gid then uid switched
 * (if asked) and checked to be irrevocable, resource limits lowered,
 * PR_SET_NO_NEW_PRIVS, then the system-call filter (if asked) in every
 * thread. Logs each step; 0 or -errno after logging why (the caller must
 * then stop: the process is in an unknown state).
 */
int depriv_apply(const struct depriv_plan *p) must_check;

#endif
