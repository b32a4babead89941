/* ioreqd.conf(5) parsing: accepted syntax and every error with its file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config-file.h"
#include "log.h"

static char errbuf[512];

static int parse(struct ioreqd_settings *s, const char *text)
{
    settings_init(s);
    errbuf[0] = '\0';
    return conf_parse_text(text, "test.conf", s, errbuf, sizeof(errbuf));
}

static void test_full(void **state)
{
    struct ioreqd_settings s;
    int rc = parse(&s, "# ioreqd for guest 5\n"
                       "\n"
                       "domid = 5\n"
                       "   # indented comment\n"
                       "device = uart,port=0x3f8,irq=4,backend=pty\n"
                       "device=uart,port=0x2f8,backend=file:/tmp/a#b\n"
                       "\tlog-level\t=\tdebug  \r\n"
                       "log = syslog\n"
                       "foreground = yes\n"
                       "pidfile = /run/ioreqd-5.pid\n"
                       "control-socket = none\n"
                       "runas = ioreqd:ioreqd\n"
                       "chroot = /var/lib/ioreqd/empty\n"
                       "seccomp = no\n"
                       "poll-us = 100\n"
                       "beside-qemu = yes\n"
                       "dirty-log = on\n");

    assert_int_equal(rc, 0);
    assert_int_equal(s.domid, 5);
    assert_int_equal(s.nr_devices, 2);
    assert_string_equal(s.devices[0].spec, "uart,port=0x3f8,irq=4,backend=pty");
    assert_string_equal(s.devices[0].origin, "test.conf:5");
    assert_string_equal(s.devices[1].spec, "uart,port=0x2f8,backend=file:/tmp/a#b");
    assert_string_equal(s.devices[1].origin, "test.conf:6");
    assert_int_equal(s.log_level, LOG_LVL_DEBUG);
    assert_int_equal(s.log_sink, LOG_SINK_SYSLOG);
    assert_int_equal(s.foreground, 1);
    assert_string_equal(s.pidfile, "/run/ioreqd-5.pid");
    assert_string_equal(s.control_socket, "none");
    assert_string_equal(s.runas, "ioreqd:ioreqd");
    assert_string_equal(s.chroot_dir, "/var/lib/ioreqd/empty");
    assert_int_equal(s.seccomp, 0);
    assert_int_equal(s.poll_us, 100);
    assert_int_equal(s.beside_qemu, IOREQD_QEMU_BESIDE);
    assert_int_equal(s.dirty_log, 1);
    settings_free(&s);
}

static void test_empty(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ""), 0);
    assert_int_equal(s.domid, -1);
    assert_int_equal(s.nr_devices, 0);
    settings_free(&s);
    assert_int_equal(parse(&s, "\n\n# only comments\n"), 0);
    settings_free(&s);
}

static void test_bools(void **state)
{
    static const struct {
        const char *text;
        int value;
    } cases[] = {
        {"foreground = yes", 1}, {"foreground = no", 0}, {"foreground = TRUE", 1},
        {"foreground = off", 0}, {"foreground = 1", 1},  {"foreground = 0", 0},
    };
    struct ioreqd_settings s;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&s, cases[i].text), 0);
        assert_int_equal(s.foreground, cases[i].value);
        settings_free(&s);
    }
}

static void expect_error(const char *text, const char *msg)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, text), -EINVAL);
    assert_string_equal(errbuf, msg);
    settings_free(&s);
}

static void test_errors(void **state)
{
    expect_error("domid = 5\ncolour = blue\n", "test.conf:2: unknown key 'colour'");
    expect_error("\n\ndomid = five\n",
                 "test.conf:3: invalid domid 'five': expected a domain id from 1 to 32751");
    expect_error("domid = 0",
                 "test.conf:1: invalid domid '0': expected a domain id from 1 to 32751");
    expect_error("domid 5\n", "test.conf:1: expected 'key = value', got 'domid 5'");
    expect_error(" = 5\n", "test.conf:1: missing key before '='");
    expect_error("device =   \n", "test.conf:1: missing value for 'device'");
    expect_error("domid = 5\ndomid = 6\n", "test.conf:2: 'domid' already set on line 1");
    expect_error("log = file\n", "test.conf:1: invalid log 'file': expected stderr or syslog");
    expect_error("log-level = chatty\n",
                 "test.conf:1: invalid log-level 'chatty': expected error, warn, info or debug");
    expect_error("foreground = maybe\n",
                 "test.conf:1: invalid foreground 'maybe': expected yes or no");
    expect_error("domid = 5 # guest\n",
                 "test.conf:1: invalid domid '5 # guest': expected a domain id from 1 to 32751");
    expect_error("config = /etc/other.conf\n", "test.conf:1: unknown key 'config'");
    expect_error("Domid = 5\n", "test.conf:1: unknown key 'Domid'");
    expect_error("seccomp = strict\n", "test.conf:1: invalid seccomp 'strict': expected yes or no");
    expect_error("poll-us = 5000\n",
                 "test.conf:1: invalid poll-us '5000': expected 0 to 1000 microseconds");
    expect_error("dirty-log = soon\n", "test.conf:1: invalid dirty-log 'soon': expected on or off");
    expect_error("beside-qemu = sometimes\n",
                 "test.conf:1: invalid beside-qemu 'sometimes': expected yes, no or auto");
    expect_error("runas = a\nrunas = b\n", "test.conf:2: 'runas' already set on line 1");
    expect_error("chroot =\n", "test.conf:1: missing value for 'chroot'");
}

static void test_long_line(void **state)
{
    size_t n = CONF_LINE_MAX + 10;
    char *text = malloc(n + 1);

    memset(text, 'a', n);
    memcpy(text, "device = ", 9);
    text[n] = '\0';
    expect_error(text, "test.conf:1: line longer than 4096 characters");
    free(text);
}

static void test_repeated_device_kept_in_order(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, "device = a\ndevice = b\ndevice = c\n"), 0);
    assert_int_equal(s.nr_devices, 3);
    assert_string_equal(s.devices[0].spec, "a");
    assert_string_equal(s.devices[1].spec, "b");
    assert_string_equal(s.devices[2].spec, "c");
    assert_string_equal(s.devices[2].origin, "test.conf:3");
    settings_free(&s);
}

static void test_file(void **state)
{
    char path[] = "/tmp/ioreqd-conf-XXXXXX";
    int fd = mkstemp(path);
    struct ioreqd_settings s;
    const char text[] = "domid = 9\ndevice = uart\nbogus = 1\n";

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, sizeof(text) - 1), (int)sizeof(text) - 1);
    close(fd);
    settings_init(&s);
    assert_int_equal(conf_parse_file(path, &s, errbuf, sizeof(errbuf)), -EINVAL);
    char expect[256];
    snprintf(expect, sizeof(expect), "%s:3: unknown key 'bogus'", path);
    assert_string_equal(errbuf, expect);
    settings_free(&s);

    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "domid = 9\0x", 11), 11);
    close(fd);
    settings_init(&s);
    assert_int_equal(conf_parse_file(path, &s, errbuf, sizeof(errbuf)), -EINVAL);
    snprintf(expect, sizeof(expect), "%s: configuration file contains a NUL byte", path);
    assert_string_equal(errbuf, expect);
    settings_free(&s);
    unlink(path);

    settings_init(&s);
    assert_int_equal(conf_parse_file(path, &s, errbuf, sizeof(errbuf)), -EINVAL);
    snprintf(expect, sizeof(expect),
             "%s: cannot open configuration file: No such file or directory", path);
    assert_string_equal(errbuf, expect);
    settings_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),      cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bools),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_long_line), cmocka_unit_test(test_repeated_device_kept_in_order),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
