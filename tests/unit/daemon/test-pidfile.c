/* Pid files: content, atomic replacement, refusal while the owner lives, guarded removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pidfile.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    strcpy(dir, "/tmp/ioreqd-pid-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/ioreqd.pid", dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(path);
    return rmdir(dir);
}

static void put(const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
}

static void test_write_read_remove(void **state)
{
    char buf[32], expect[32];
    struct stat st;
    int fd;
    ssize_t n;

    assert_int_equal(pidfile_write(path, NULL), 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    snprintf(expect, sizeof(expect), "%ld\n", (long)getpid());
    assert_string_equal(buf, expect);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(pidfile_read(path), getpid());
    /* Rewriting our own file is fine. */
    assert_int_equal(pidfile_write(path, NULL), 0);
    assert_int_equal(pidfile_remove(path), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(pidfile_remove(path), -ENOENT);
}

static void test_live_owner_refused(void **state)
{
    pid_t child = fork();
    pid_t owner = 0;
    char text[32];

    assert_true(child >= 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    snprintf(text, sizeof(text), "%ld\n", (long)child);
    put(text);
    assert_int_equal(pidfile_write(path, &owner), -EEXIST);
    assert_int_equal(owner, child);
    /* Not ours: left alone. */
    assert_int_equal(pidfile_remove(path), -ESTALE);
    assert_int_equal(pidfile_read(path), child);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* The owner is dead: a stale file is replaced. */
    assert_int_equal(pidfile_write(path, NULL), 0);
    assert_int_equal(pidfile_read(path), getpid());
    assert_int_equal(pidfile_remove(path), 0);
}

static void test_malformed(void **state)
{
    put("");
    assert_int_equal(pidfile_read(path), -EINVAL);
    put("12abc\n");
    assert_int_equal(pidfile_read(path), -EINVAL);
    put("-5\n");
    assert_int_equal(pidfile_read(path), -EINVAL);
    put("0\n");
    assert_int_equal(pidfile_read(path), -EINVAL);
    put("4242");
    assert_int_equal(pidfile_read(path), 4242);
    /* Garbage is not an owner: it gets replaced. */
    put("garbage\n");
    assert_int_equal(pidfile_write(path, NULL), 0);
    assert_int_equal(pidfile_read(path), getpid());
    assert_int_equal(pidfile_remove(path), 0);
}

static void test_no_temp_left(void **state)
{
    char bad[160];

    /* A directory that does not exist: an error, and nothing created. */
    snprintf(bad, sizeof(bad), "%s/missing/ioreqd.pid", dir);
    assert_int_equal(pidfile_write(bad, NULL), -ENOENT);
    assert_int_equal(pidfile_write(path, NULL), 0);
    /* Only the pid file itself is in the directory. */
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(pidfile_remove(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_read_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_temp_left, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
