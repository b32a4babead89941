/*
 * ioreqd(8): process matters only. Arguments and the configuration file
 * become settings, device specs (types, options and their values) are
 * checked against the device table before anything is started, so typing
 * mistakes are usage errors (exit 2) even without a hypervisor, then
 * the process detaches unless --foreground, writes its pid file and hands
 * over to the device model (ioreqd.c), which deprivileges itself before the
 * launcher is told that start-up succeeded.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "cmdline.h"
#include "config-file.h"
#include "control.h"
#include "daemonize.h"
#include "depriv.h"
#include "ioreqd.h"
#include "log.h"
#include "pidfile.h"
#include "device-table.h"
#include "settings.h"

#ifndef IOREQD_VERSION
#define IOREQD_VERSION "unknown"
#endif

static const char prog[] = "ioreqd";

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", prog, msg, prog);
    return IOREQD_EXIT_USAGE;
}

static void print_help(void)
{
    cmdline_usage(stdout, prog);
    printf("\nDevice types:\n");
    for (const struct device_type *const *t = device_types; *t; t++) {
        char opts[512];

        device_options_text(*t, opts, sizeof(opts));
        printf("  %s%s\n      %s\n", (*t)->name, opts, (*t)->summary ? (*t)->summary : "");
    }
}

/* Command line over configuration file. */
static int load_settings(int argc, char **argv, struct ioreqd_settings *s)
{
    struct ioreqd_settings cli;
    char errbuf[1024];
    int rc;

    settings_init(&cli);
    rc = cmdline_parse(argc, argv, &cli, errbuf, sizeof(errbuf));
    if (rc == -ENOMEM) {
        fprintf(stderr, "%s: out of memory\n", prog);
        rc = IOREQD_EXIT_FAILURE;
        goto out;
    }
    if (rc < 0) {
        rc = usage_error(errbuf);
        goto out;
    }
    if (rc == CMDLINE_HELP) {
        print_help();
        rc = -1;
        goto out;
    }
    if (rc == CMDLINE_VERSION) {
        printf("%s %s\n", prog, IOREQD_VERSION);
        rc = -1;
        goto out;
    }
    if (cli.config_path) {
        rc = conf_parse_file(cli.config_path, s, errbuf, sizeof(errbuf));
        if (rc) {
            fprintf(stderr, "%s: %s\n", prog, rc == -ENOMEM ? "out of memory" : errbuf);
            rc = rc == -ENOMEM ? IOREQD_EXIT_FAILURE : IOREQD_EXIT_USAGE;
            goto out;
        }
    }
    settings_merge(s, &cli);
    rc = 0;
    if (s->domid < 0)
        rc = usage_error("no domain given: use --domid N or 'domid = N' in the configuration file");
out:
    settings_free(&cli);
    return rc;
}

static int parse_devices(const struct ioreqd_settings *s, struct device_spec *specs,
                         struct ioreqd_device_config *devs)
{
    char errbuf[512];
    int rc;

    for (unsigned i = 0; i < s->nr_devices; i++) {
        const struct settings_device *sd = &s->devices[i];
        errbuf[0] = '\0';
        if (device_spec_parse(sd->spec, &specs[i], errbuf, sizeof(errbuf))) {
            fprintf(stderr, "%s: %s: bad device spec '%s': %s\n", prog, sd->origin, sd->spec,
                    errbuf);
            return IOREQD_EXIT_USAGE;
        }
        devs[i].spec = &specs[i];
        devs[i].origin = sd->origin;
        if (!device_type_find(specs[i].type)) {
            fprintf(stderr, "%s: %s: unknown device type '%s' (known:", prog, sd->origin,
                    specs[i].type);
            for (const struct device_type *const *t = device_types; *t; t++)
                fprintf(stderr, " %s", (*t)->name);
            fprintf(stderr, ")\n");
            return IOREQD_EXIT_USAGE;
        }
        /* Options and values too, before anything touches Xen. */
        rc = device_spec_check(device_type_find(specs[i].type), &specs[i], errbuf, sizeof(errbuf));
        if (rc) {
            fprintf(stderr, "%s: %s: %s\n", prog, sd->origin,
                    rc == -ENOMEM ? "out of memory" : errbuf);
            return rc == -ENOMEM ? IOREQD_EXIT_FAILURE : IOREQD_EXIT_USAGE;
        }
    }
    return 0;
}

/* The daemon changes directory to /, so a relative pid file is made absolute first. */
static int absolute_path(char **path)
{
    char cwd[PATH_MAX];
    char *abs;

    if ((*path)[0] == '/')
        return 0;
    if (!getcwd(cwd, sizeof(cwd)))
        return -errno;
    abs = malloc(strlen(cwd) + strlen(*path) + 2);
    if (!abs)
        return -ENOMEM;
    sprintf(abs, "%s/%s", cwd, *path);
    free(*path);
    *path = abs;
    return 0;
}

int main(int argc, char **argv)
{
    struct ioreqd_settings s;
    struct device_spec *specs = NULL;
    struct ioreqd_device_config *devs = NULL;
    struct daemonize dz = {.status_fd = -1, .saved_stderr = -1};
    struct ioreqd_params params = {0};
    struct depriv_plan plan = {0};
    char errbuf[512];
    char control_path[128];
    struct ioreqd *d = NULL;
    bool pidfile_written = false;
    int sink, level;
    int code, rc;

    /* A vanished peer on a socket or the launcher's pipe is an error return, not death. */
    signal(SIGPIPE, SIG_IGN);
    settings_init(&s);
    code = load_settings(argc, argv, &s);
    if (code) {
        code = code < 0 ? IOREQD_EXIT_OK : code;
        goto out;
    }
    specs = calloc(s.nr_devices + 1, sizeof(*specs));
    devs = calloc(s.nr_devices + 1, sizeof(*devs));
    if (!specs || !devs) {
        fprintf(stderr, "%s: out of memory\n", prog);
        code = IOREQD_EXIT_FAILURE;
        goto out;
    }
    code = parse_devices(&s, specs, devs);
    if (code)
        goto out;
    if (s.pidfile && (rc = absolute_path(&s.pidfile))) {
        fprintf(stderr, "%s: pid file %s: %s\n", prog, s.pidfile, strerror(-rc));
        code = IOREQD_EXIT_FAILURE;
        goto out;
    }

    if (!s.control_socket) {
        if (control_default_path(control_path, sizeof(control_path), (unsigned)s.domid) ||
            settings_set_string(&s.control_socket, control_path)) {
            fprintf(stderr, "%s: out of memory\n", prog);
            code = IOREQD_EXIT_FAILURE;
            goto out;
        }
    } else if (strcmp(s.control_socket, "none") != 0 && (rc = absolute_path(&s.control_socket))) {
        fprintf(stderr, "%s: control socket %s: %s\n", prog, s.control_socket, strerror(-rc));
        code = IOREQD_EXIT_FAILURE;
        goto out;
    }

    rc = depriv_plan_init(&plan, s.runas, s.chroot_dir, s.seccomp != 0, errbuf, sizeof(errbuf));
    if (rc) {
        code = rc == -ENOMEM ? IOREQD_EXIT_FAILURE : usage_error(errbuf);
        if (rc == -ENOMEM)
            fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }

    level = s.log_level >= 0 ? s.log_level : LOG_LVL_INFO;
    sink = s.log_sink >= 0 ? s.log_sink : s.foreground == 1 ? LOG_SINK_STDERR : LOG_SINK_SYSLOG;
    if (s.foreground == 1) {
        log_init(prog, sink, level);
    } else {
        /* Until start-up is over, messages go to whoever launched us. */
        log_init(prog, LOG_SINK_STDERR, level);
        rc = daemonize_start(&dz);
        if (rc) {
            log_error("cannot detach: %s", strerror(-rc));
            code = IOREQD_EXIT_FAILURE;
            goto out;
        }
    }

    if (s.pidfile) {
        pid_t owner = 0;
        rc = pidfile_write(s.pidfile, &owner);
        if (rc == -EEXIST) {
            log_error("pid file %s names running process %ld: is ioreqd already running?",
                      s.pidfile, (long)owner);
        } else if (rc) {
            log_error("cannot write pid file %s: %s", s.pidfile, strerror(-rc));
        }
        if (rc) {
            code = IOREQD_EXIT_FAILURE;
            goto out;
        }
        pidfile_written = true;
    }

    params = (struct ioreqd_params){
        .domid = (unsigned)s.domid,
        .devs = devs,
        .nr_devs = s.nr_devices,
        .control_socket = strcmp(s.control_socket, "none") ? s.control_socket : NULL,
        .xenstore_stays = !plan.change_user,
        .poll_us = s.poll_us > 0 ? (unsigned)s.poll_us : 0,
        .beside_qemu = s.beside_qemu >= 0 ? s.beside_qemu : IOREQD_QEMU_DETECT,
        .dirty_log = s.dirty_log > 0,
    };
    code = ioreqd_start(&d, &params);
    if (code)
        goto out;
    /* syslog(3) connects now: neither the chroot nor the filter allows it later. */
    if (sink == LOG_SINK_SYSLOG)
        openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    code = ioreqd_deprivilege(d, &plan);
    if (code) {
        ioreqd_stop(d);
        goto out;
    }
    daemonize_done(&dz, IOREQD_EXIT_OK, sink == LOG_SINK_STDERR);
    if (s.foreground != 1 && sink == LOG_SINK_SYSLOG)
        log_init(prog, sink, level);

    code = ioreqd_run(d);
    ioreqd_stop(d);
    log_info("stopped (exit status %d)", code);
out:
    if (pidfile_written && (rc = pidfile_remove(s.pidfile)) && rc != -ENOENT)
        log_warn("cannot remove pid file %s: %s", s.pidfile, strerror(-rc));
    daemonize_done(&dz, code, false);
    for (unsigned i = 0; specs && i < s.nr_devices; i++)
        device_spec_free(&specs[i]);
    free(specs);
    free(devs);
    depriv_plan_free(&plan);
    settings_free(&s);
    return code;
}
