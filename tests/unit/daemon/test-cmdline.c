/* Command-line parsing: settings, actions and the exact error texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "cmdline.h"
#include "log.h"

static char errbuf[256];

static int parse(struct ioreqd_settings *s, char **argv)
{
    int argc = 0;

    while (argv[argc])
        argc++;
    settings_init(s);
    errbuf[0] = '\0';
    return cmdline_parse(argc, argv, s, errbuf, sizeof(errbuf));
}

#define ARGV(...) ((char *[]){"ioreqd", __VA_ARGS__, NULL})

static void test_full(void **state)
{
    struct ioreqd_settings s;
    int rc = parse(&s, ARGV("--domid", "7", "--device", "uart,port=0x3f8", "-D", "uart,port=0x2f8",
                            "--config", "/etc/ioreqd.conf", "--foreground", "--pidfile",
                            "/run/x.pid", "--log", "syslog", "--log-level", "debug",
                            "--control-socket", "/run/c.sock"));

    assert_int_equal(rc, CMDLINE_RUN);
    assert_int_equal(s.domid, 7);
    assert_int_equal(s.nr_devices, 2);
    assert_string_equal(s.devices[0].spec, "uart,port=0x3f8");
    assert_string_equal(s.devices[0].origin, "--device");
    assert_string_equal(s.devices[1].spec, "uart,port=0x2f8");
    assert_string_equal(s.config_path, "/etc/ioreqd.conf");
    assert_int_equal(s.foreground, 1);
    assert_string_equal(s.pidfile, "/run/x.pid");
    assert_int_equal(s.log_sink, LOG_SINK_SYSLOG);
    assert_int_equal(s.log_level, LOG_LVL_DEBUG);
    assert_string_equal(s.control_socket, "/run/c.sock");
    settings_free(&s);
}

static void test_defaults_unset(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("-d", "1")), CMDLINE_RUN);
    assert_int_equal(s.domid, 1);
    assert_int_equal(s.nr_devices, 0);
    assert_int_equal(s.foreground, -1);
    assert_int_equal(s.log_sink, -1);
    assert_int_equal(s.log_level, -1);
    assert_null(s.pidfile);
    assert_null(s.config_path);
    assert_null(s.runas);
    assert_null(s.chroot_dir);
    assert_int_equal(s.seccomp, -1);
    assert_int_equal(s.poll_us, -1);
    assert_int_equal(s.beside_qemu, -1);
    assert_int_equal(s.dirty_log, -1);
    settings_free(&s);
}

static void test_beside_qemu(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("-d", "2", "--beside-qemu", "yes")), CMDLINE_RUN);
    assert_int_equal(s.beside_qemu, IOREQD_QEMU_BESIDE);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-d", "2", "--beside-qemu=no")), CMDLINE_RUN);
    assert_int_equal(s.beside_qemu, IOREQD_QEMU_ALONE);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-d", "2", "--beside-qemu", "auto")), CMDLINE_RUN);
    assert_int_equal(s.beside_qemu, IOREQD_QEMU_DETECT);
    settings_free(&s);
}

static void test_deprivileging_options(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("-d", "2", "--runas", "ioreqd:kvm", "--chroot", "/var/empty",
                                    "--no-seccomp")),
                     CMDLINE_RUN);
    assert_string_equal(s.runas, "ioreqd:kvm");
    assert_string_equal(s.chroot_dir, "/var/empty");
    assert_int_equal(s.seccomp, 0);
    settings_free(&s);
}

static void test_equals_form_and_hex(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("--domid=0x10", "--log=stderr")), CMDLINE_RUN);
    assert_int_equal(s.domid, 16);
    assert_int_equal(s.log_sink, LOG_SINK_STDERR);
    settings_free(&s);
}

static void test_help_version(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("--help")), CMDLINE_HELP);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-V")), CMDLINE_VERSION);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("--version", "--help")), CMDLINE_HELP);
    settings_free(&s);
}

static void expect_error(char **argv, const char *msg)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, argv), -EINVAL);
    assert_string_equal(errbuf, msg);
    settings_free(&s);
}

static void test_bad_domid(void **state)
{
    expect_error(ARGV("--domid", "abc"),
                 "invalid value 'abc' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", "0"),
                 "invalid value '0' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", "32752"),
                 "invalid value '32752' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", "-3"),
                 "invalid value '-3' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", " 3"),
                 "invalid value ' 3' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", "3x"),
                 "invalid value '3x' for --domid: expected a domain id from 1 to 32751");
    expect_error(ARGV("--domid", "99999999999999999999"),
                 "invalid value '99999999999999999999' for --domid: expected a domain id from 1 "
                 "to 32751");
}

static void test_bad_options(void **state)
{
    expect_error(ARGV("--bogus"), "unknown option '--bogus'");
    expect_error(ARGV("-x"), "unknown option '-x'");
    expect_error(ARGV("--domid"), "option '--domid' needs an argument");
    expect_error(ARGV("-d"), "option '-d' needs an argument");
    expect_error(ARGV("-d", "3", "extra"), "unexpected argument 'extra'");
    expect_error(ARGV("--log", "file"),
                 "invalid value 'file' for --log: expected stderr or syslog");
    expect_error(ARGV("--log-level", "loud"),
                 "invalid value 'loud' for --log-level: expected error, warn, info or debug");
    expect_error(ARGV("--device", ""), "--device needs a device spec: TYPE[,KEY=VALUE]...");
    expect_error(ARGV("--pidfile", ""), "--pidfile needs a file name");
    expect_error(ARGV("--control-socket", ""), "--control-socket needs a path or 'none'");
    expect_error(ARGV("--foreground=yes"), "option '--foreground' takes no argument");
    expect_error(ARGV("--runas", ""), "--runas needs a value");
    expect_error(ARGV("--chroot", ""), "--chroot needs a value");
    expect_error(ARGV("--runas"), "option '--runas' needs an argument");
    expect_error(ARGV("--no-seccomp=1"), "option '--no-seccomp' takes no argument");
    expect_error(ARGV("--beside-qemu", "maybe"),
                 "invalid value 'maybe' for --beside-qemu: expected yes, no or auto");
    expect_error(ARGV("--domid", "1", "-Fx"), "unknown option '-x'");
}

static void test_poll_us(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("-d", "2", "--poll-us", "50")), CMDLINE_RUN);
    assert_int_equal(s.poll_us, 50);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-d", "2", "--poll-us=1000")), CMDLINE_RUN);
    assert_int_equal(s.poll_us, 1000);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-d", "2", "--poll-us", "0")), CMDLINE_RUN);
    assert_int_equal(s.poll_us, 0);
    settings_free(&s);
    expect_error(ARGV("--poll-us", "1001"),
                 "invalid --poll-us '1001': expected 0 to 1000 microseconds");
    expect_error(ARGV("--poll-us", "-5"),
                 "invalid --poll-us '-5': expected 0 to 1000 microseconds");
    expect_error(ARGV("--poll-us", "0x10"),
                 "invalid --poll-us '0x10': expected 0 to 1000 microseconds");
    expect_error(ARGV("--poll-us", "10us"),
                 "invalid --poll-us '10us': expected 0 to 1000 microseconds");
    expect_error(ARGV("--poll-us"), "option '--poll-us' needs an argument");
}

static void test_dirty_log(void **state)
{
    struct ioreqd_settings s;

    assert_int_equal(parse(&s, ARGV("-d", "2", "--dirty-log", "on")), CMDLINE_RUN);
    assert_int_equal(s.dirty_log, 1);
    settings_free(&s);
    assert_int_equal(parse(&s, ARGV("-d", "2", "--dirty-log=off")), CMDLINE_RUN);
    assert_int_equal(s.dirty_log, 0);
    settings_free(&s);
    expect_error(ARGV("--dirty-log", "later"),
                 "invalid value 'later' for --dirty-log: expected on or off");
    expect_error(ARGV("--dirty-log"), "option '--dirty-log' needs an argument");
}

static void test_reentrant(void **state)
{
    struct ioreqd_settings s;

    /* A failed parse must not leave getopt half-way for the next one. */
    expect_error(ARGV("-d", "1", "--bogus", "-F"), "unknown option '--bogus'");
    assert_int_equal(parse(&s, ARGV("-F", "-d", "2")), CMDLINE_RUN);
    assert_int_equal(s.domid, 2);
    assert_int_equal(s.foreground, 1);
    settings_free(&s);
}

static void test_merge(void **state)
{
    struct ioreqd_settings base, over;

    settings_init(&base);
    settings_init(&over);
    base.domid = 3;
    base.log_level = LOG_LVL_WARN;
    base.foreground = 0;
    assert_int_equal(settings_add_device(&base, "uart", "f:1"), 0);
    assert_int_equal(settings_set_string(&base.pidfile, "/a"), 0);
    assert_int_equal(settings_set_string(&base.runas, "a"), 0);
    base.seccomp = 1;
    base.poll_us = 20;
    over.domid = 4;
    assert_int_equal(settings_set_string(&over.pidfile, "/b"), 0);
    assert_int_equal(settings_set_string(&over.chroot_dir, "/c"), 0);

    settings_merge(&base, &over);
    assert_int_equal(base.domid, 4);
    assert_int_equal(base.log_level, LOG_LVL_WARN);
    assert_int_equal(base.foreground, 0);
    assert_string_equal(base.pidfile, "/b");
    assert_string_equal(base.runas, "a");
    assert_string_equal(base.chroot_dir, "/c");
    assert_int_equal(base.seccomp, 1); /* unset in over: the file's value stays */
    assert_int_equal(base.poll_us, 20);
    assert_int_equal(base.nr_devices, 1); /* over had none: the file's stay */
    assert_string_equal(base.devices[0].origin, "f:1");
    assert_null(over.pidfile);

    assert_int_equal(settings_add_device(&over, "uart,port=0x2f8", "--device"), 0);
    settings_merge(&base, &over);
    assert_int_equal(base.nr_devices, 1); /* over's replace the file's */
    assert_string_equal(base.devices[0].spec, "uart,port=0x2f8");
    assert_int_equal(over.nr_devices, 0);
    settings_free(&base);
    settings_free(&over);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults_unset),
        cmocka_unit_test(test_deprivileging_options),
        cmocka_unit_test(test_poll_us),
        cmocka_unit_test(test_dirty_log),
        cmocka_unit_test(test_beside_qemu),
        cmocka_unit_test(test_equals_form_and_hex),
        cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_bad_domid),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_reentrant),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
