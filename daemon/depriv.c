/*
 * Process-side deprivileging. The order matters and is the one QEMU under
 * libxl's dm_restrict and varstored follow: chroot while still root (it
 * needs CAP_SYS_CHROOT), supplementary groups before the gid and the gid
 * before the uid (each needs the privilege the next step gives up), then a
 * check that root cannot be regained, then limits, no_new_privs and last the
 * filter (whose allow-list need not contain any of the calls above).
 */
#include "depriv.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "log.h"
#include "syscall-filter.h"

/* Descriptors a serving daemon needs at most: vCPU ports share one, clients are capped. */
#define DEPRIV_NOFILE_MAX 1024

static int parse_id(const char *text, unsigned long *id)
{
    char *end;

    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    errno = 0;
    *id = strtoul(text, &end, 10);
    if (errno || *end || *id >= (unsigned long)INT_MAX)
        return -EINVAL;
    return 0;
}

static int resolve_user(struct depriv_plan *p, const char *user, char *errbuf, size_t errlen)
{
    struct passwd *pw;
    unsigned long id;

    errno = 0;
    pw = getpwnam(user);
    if (pw) {
        p->uid = pw->pw_uid;
        p->gid = pw->pw_gid;
        return 0;
    }
    if (parse_id(user, &id) == 0) {
        pw = getpwuid((uid_t)id);
        p->uid = (uid_t)id;
        p->gid = pw ? pw->pw_gid : (gid_t)id;
        return 0;
    }
    snprintf(errbuf, errlen, "--runas: no user '%s'", user);
    return -EINVAL;
}

static int resolve_group(struct depriv_plan *p, const char *group, char *errbuf, size_t errlen)
{
    struct group *gr = getgrnam(group);
    unsigned long id;

    if (gr) {
        p->gid = gr->gr_gid;
        return 0;
    }
    if (parse_id(group, &id) == 0) {
        p->gid = (gid_t)id;
        return 0;
    }
    snprintf(errbuf, errlen, "--runas: no group '%s'", group);
    return -EINVAL;
}

int depriv_plan_init(struct depriv_plan *p, const char *runas, const char *chroot_dir, bool seccomp,
                     char *errbuf, size_t errlen)
{
    struct stat st;
    int rc = -EINVAL;

    memset(p, 0, sizeof(*p));
    p->seccomp = seccomp;
    if (runas) {
        char *copy = strdup(runas);
        char *colon;

        if (!copy)
            return -ENOMEM;
        colon = strchr(copy, ':');
        if (colon)
            *colon = '\0';
        if (!copy[0] || (colon && !colon[1])) {
            snprintf(errbuf, errlen, "--runas: expected USER or USER:GROUP, got '%s'", runas);
            free(copy);
            return -EINVAL;
        }
        rc = resolve_user(p, copy, errbuf, errlen);
        if (!rc && colon)
            rc = resolve_group(p, colon + 1, errbuf, errlen);
        free(copy);
        if (rc)
            return rc;
        /* Switching to root would keep every privilege while looking restricted. */
        if (p->uid == 0 || p->gid == 0) {
            snprintf(errbuf, errlen, "--runas %s: the user and group must not be root", runas);
            return -EINVAL;
        }
        p->change_user = true;
        snprintf(p->user, sizeof(p->user), "uid %u, gid %u", (unsigned)p->uid, (unsigned)p->gid);
    }
    if (chroot_dir) {
        if (chroot_dir[0] != '/') {
            snprintf(errbuf, errlen, "--chroot: '%s' is not an absolute path", chroot_dir);
            return -EINVAL;
        }
        if (stat(chroot_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            snprintf(errbuf, errlen, "--chroot: '%s' is not a directory", chroot_dir);
            return -EINVAL;
        }
        p->chroot_dir = strdup(chroot_dir);
        if (!p->chroot_dir)
            return -ENOMEM;
    }
    return 0;
}

void depriv_plan_free(struct depriv_plan *p)
{
    free(p->chroot_dir);
    p->chroot_dir = NULL;
}

bool depriv_plan_active(const struct depriv_plan *p)
{
    return p->change_user || p->chroot_dir || p->seccomp;
}

static int fail(const char *what)
{
    int rc = errno ? -errno : -EIO;

    log_error("deprivileging: %s: %s", what, strerror(-rc));
    return rc;
}

static int enter_chroot(const char *dir)
{
    /* chdir first: a chroot leaving the working directory outside is escapable. */
    if (chdir(dir) < 0 || chroot(".") < 0 || chdir("/") < 0)
        return fail("chroot");
    log_info("deprivileging: chroot to %s", dir);
    return 0;
}

/* Effective and permitted capability sets, straight from the kernel. */
static int capabilities_left(uint64_t *eff, uint64_t *perm)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return -errno;
    *eff = (uint64_t)data[1].effective << 32 | data[0].effective;
    *perm = (uint64_t)data[1].permitted << 32 | data[0].permitted;
    return 0;
}

static int switch_user(const struct depriv_plan *p)
{
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    uint64_t eff = ~0ull, perm = ~0ull;

    if (setgroups(0, NULL) < 0)
        return fail("dropping supplementary groups");
    if (setresgid(p->gid, p->gid, p->gid) < 0)
        return fail("setresgid");
    if (setresuid(p->uid, p->uid, p->uid) < 0)
        return fail("setresuid");
    /* Trust nothing: every id must have changed and root must be out of reach. */
    if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0)
        return fail("reading back the ids");
    if (ruid != p->uid || euid != p->uid || suid != p->uid || rgid != p->gid || egid != p->gid ||
        sgid != p->gid || getgroups(0, NULL) != 0) {
        log_error("deprivileging: the ids did not all change");
        return -EPERM;
    }
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
        log_error("deprivileging: root could be regained");
        return -EPERM;
    }
    if (capabilities_left(&eff, &perm) < 0 || eff || perm) {
        log_error("deprivileging: capabilities left after the user switch");
        return -EPERM;
    }
    log_info("deprivileging: running as %s", p->user);
    return 0;
}

static int lower_limit(int resource, rlim_t max, const char *name)
{
    struct rlimit rl;

    if (getrlimit(resource, &rl) < 0)
        return fail(name);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= max)
        max = rl.rlim_max;
    rl.rlim_cur = rl.rlim_cur < max ? rl.rlim_cur : max;
    rl.rlim_max = max;
    if (setrlimit(resource, &rl) < 0)
        return fail(name);
    return 0;
}

int depriv_apply(const struct depriv_plan *p)
{
    int rc;

    /* syslog(3) stamps local time: load the zone while /etc is reachable and open() allowed. */
    tzset();

    if (p->chroot_dir) {
        rc = enter_chroot(p->chroot_dir);
        if (rc)
            return rc;
    }
    if (p->change_user) {
        rc = switch_user(p);
        if (rc)
            return rc;
        /* Not even a thread more: every thread the daemon needs exists by now. */
        rc = lower_limit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
        if (rc)
            return rc;
    }
    /* A core would hold guest memory. */
    rc = lower_limit(RLIMIT_CORE, 0, "RLIMIT_CORE");
    if (!rc)
        rc = lower_limit(RLIMIT_NOFILE, DEPRIV_NOFILE_MAX, "RLIMIT_NOFILE");
    if (rc)
        return rc;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return fail("PR_SET_DUMPABLE");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail("PR_SET_NO_NEW_PRIVS");
    if (p->seccomp) {
        rc = sysfilter_install();
        if (rc < 0) {
            log_error("deprivileging: cannot install the system-call filter: %s", strerror(-rc));
            return rc;
        }
        log_info("deprivileging: seccomp filter '%s' installed: %d system calls allowed, "
                 "anything else kills the process",
                 sysfilter_name(), rc);
    } else {
        log_warn("deprivileging: no system-call filter (--no-seccomp)");
    }
    return 0;
}
