/*
 * Deprivileging plans (user and group resolution, chroot checks) and the
 * seccomp filter itself, loaded into a forked child: allowed calls work,
 * one outside the list kills the child with SIGSYS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "depriv.h"
#include "syscall-filter.h"

static char errbuf[256];

static int plan(struct depriv_plan *p, const char *runas, const char *dir, bool seccomp)
{
    errbuf[0] = '\0';
    return depriv_plan_init(p, runas, dir, seccomp, errbuf, sizeof(errbuf));
}

static void test_nothing_asked(void **state)
{
    struct depriv_plan p;

    assert_int_equal(plan(&p, NULL, NULL, false), 0);
    assert_false(p.change_user);
    assert_null(p.chroot_dir);
    assert_false(depriv_plan_active(&p));
    depriv_plan_free(&p);
    assert_int_equal(plan(&p, NULL, NULL, true), 0);
    assert_true(depriv_plan_active(&p));
    depriv_plan_free(&p);
}

static void test_users_and_groups(void **state)
{
    struct passwd *pw = getpwnam("nobody");
    struct group *gr = getgrnam("nogroup");
    struct depriv_plan p;

    assert_non_null(pw);
    assert_non_null(gr);
    assert_int_equal(plan(&p, "nobody", NULL, true), 0);
    assert_true(p.change_user);
    assert_int_equal(p.uid, pw->pw_uid);
    assert_int_equal(p.gid, pw->pw_gid); /* the user's primary group */
    depriv_plan_free(&p);

    assert_int_equal(plan(&p, "nobody:nogroup", NULL, true), 0);
    assert_int_equal(p.gid, gr->gr_gid);
    depriv_plan_free(&p);

    /* Numeric ids need no entry in the user database. */
    assert_int_equal(plan(&p, "4242:4343", NULL, true), 0);
    assert_int_equal(p.uid, 4242);
    assert_int_equal(p.gid, 4343);
    depriv_plan_free(&p);
}

static void expect_plan_error(const char *runas, const char *dir, const char *msg)
{
    struct depriv_plan p;

    assert_int_equal(plan(&p, runas, dir, true), -EINVAL);
    if (!strstr(errbuf, msg))
        fail_msg("'%s' does not say '%s'", errbuf, msg);
    depriv_plan_free(&p);
}

static void test_refused(void **state)
{
    expect_plan_error("root", NULL, "must not be root");
    expect_plan_error("0", NULL, "must not be root");
    expect_plan_error("nobody:0", NULL, "must not be root");
    expect_plan_error("nobody:root", NULL, "must not be root");
    expect_plan_error("", NULL, "expected USER or USER:GROUP");
    expect_plan_error(":nogroup", NULL, "expected USER or USER:GROUP");
    expect_plan_error("nobody:", NULL, "expected USER or USER:GROUP");
    expect_plan_error("no-such-user-here", NULL, "no user 'no-such-user-here'");
    expect_plan_error("nobody:no-such-group-here", NULL, "no group 'no-such-group-here'");
    expect_plan_error(NULL, "var/empty", "not an absolute path");
    expect_plan_error(NULL, "/no/such/directory", "not a directory");
    expect_plan_error(NULL, "/etc/passwd", "not a directory");
}

static void test_chroot_dir_kept(void **state)
{
    struct depriv_plan p;

    assert_int_equal(plan(&p, NULL, "/tmp", false), 0);
    assert_string_equal(p.chroot_dir, "/tmp");
    assert_true(depriv_plan_active(&p));
    depriv_plan_free(&p);
    assert_null(p.chroot_dir);
}

/* Runs `call` in a child under the filter; returns the child's wait status. */
static int under_filter(int call)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sysfilter_install() <= 0)
            _exit(100);
        /* Allowed: write(2) and getpid(2). */
        if (write(STDERR_FILENO, "", 0) < 0 || getpid() <= 0)
            _exit(101);
        if (call == 1 && socket(AF_INET, SOCK_STREAM, 0) >= 0)
            _exit(102);
        if (call == 2) {
            char *argv[] = {"/bin/true", NULL};
            execve("/bin/true", argv, NULL);
            _exit(103);
        }
        if (call == 3 && fork() >= 0)
            _exit(104);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_filter(void **state)
{
    int status = under_filter(0);

    /* The allowed calls work and the process exits normally. */
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Sanitizer builds allow clone for LeakSanitizer: fork is only checked in the others. */
    for (int call = 1; call <= (strcmp(sysfilter_name(), "serving") == 0 ? 3 : 2); call++) {
        status = under_filter(call);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
            fail_msg("forbidden call %d: wait status 0x%x, not SIGSYS", call, status);
    }
}

/*
 * libxenforeignmemory (tools/libs/foreignmemory/linux.c) waits usleep(100)
 * between retries of a map whose frames are paged out; glibc's usleep is
 * clock_nanosleep, older ones nanosleep. All three must survive the filter.
 */
static void test_filter_allows_sleeping(void **state)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        struct timespec ts = {.tv_nsec = 1000};

        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sysfilter_install() <= 0)
            _exit(100);
        if (usleep(100) < 0)
            _exit(101);
        if (syscall(SYS_nanosleep, &ts, NULL) < 0)
            _exit(102);
        if (syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL) < 0)
            _exit(103);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("sleeping under the filter: wait status 0x%x", status);
}

static void test_filter_name(void **state)
{
    assert_true(strncmp(sysfilter_name(), "serving", 7) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_asked), cmocka_unit_test(test_users_and_groups),
        cmocka_unit_test(test_refused),       cmocka_unit_test(test_chroot_dir_kept),
        cmocka_unit_test(test_filter),        cmocka_unit_test(test_filter_allows_sleeping),
        cmocka_unit_test(test_filter_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
