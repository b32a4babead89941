/*
 * The seccomp allow-list of a serving ioreqd: the system calls its libevent
 * loop, the virtio-blk worker threads, libxenstore's reader thread and the
 * Xen libraries make once set-up is over. Anything else kills the whole
 * process (SECCOMP_RET_KILL_PROCESS, the kernel reports SIGSYS), so a
 * compromised device model cannot exec, fork, open sockets to the network,
 * trace or mount.
 */
#ifndef IOREQD_SYSCALL_FILTER_H
#define IOREQD_SYSCALL_FILTER_H

#include "compiler.h"

/*
 * Loads the filter into every thread of the process (TSYNC). Needs
 * no_new_privs or CAP_SYS_ADMIN. Returns the number of system calls
 * allowed, or -errno.
 */
int sysfilter_install(void) must_check;

/* "serving" or, in sanitizer builds, "serving+sanitizer" (see the .c file). */
const char *sysfilter_name(void);

#endif
