/*
 * getopt_long front end. getopt keeps its state in globals, so every parse
 * starts with a full reset (optind = 0) and its own messages are switched
 * off: errors are reported through errbuf in one consistent form.
 */
#include "cmdline.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum {
    OPT_LOG_LEVEL = 0x100,
    OPT_CONTROL_SOCKET,
    OPT_RUNAS,
    OPT_CHROOT,
    OPT_NO_SECCOMP,
    OPT_POLL_US,
    OPT_BESIDE_QEMU,
    OPT_DIRTY_LOG,
};

static const struct option long_options[] = {
    {.name = "domid", .has_arg = required_argument, .val = 'd'},
    {.name = "device", .has_arg = required_argument, .val = 'D'},
    {.name = "config", .has_arg = required_argument, .val = 'c'},
    {.name = "foreground", .has_arg = no_argument, .val = 'F'},
    {.name = "pidfile", .has_arg = required_argument, .val = 'p'},
    {.name = "log", .has_arg = required_argument, .val = 'l'},
    {.name = "log-level", .has_arg = required_argument, .val = OPT_LOG_LEVEL},
    {.name = "control-socket", .has_arg = required_argument, .val = OPT_CONTROL_SOCKET},
    {.name = "runas", .has_arg = required_argument, .val = OPT_RUNAS},
    {.name = "chroot", .has_arg = required_argument, .val = OPT_CHROOT},
    {.name = "no-seccomp", .has_arg = no_argument, .val = OPT_NO_SECCOMP},
    {.name = "poll-us", .has_arg = required_argument, .val = OPT_POLL_US},
    {.name = "beside-qemu", .has_arg = required_argument, .val = OPT_BESIDE_QEMU},
    {.name = "dirty-log", .has_arg = required_argument, .val = OPT_DIRTY_LOG},
    {.name = "help", .has_arg = no_argument, .val = 'h'},
    {.name = "version", .has_arg = no_argument, .val = 'V'},
    {0},
};

static const char short_options[] = ":d:D:c:Fp:l:hV";

void cmdline_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --domid N [--device SPEC]... [options]\n"
            "Serve emulated devices to Xen HVM guest N as an ioreq server.\n"
            "\n"
            "  -d, --domid N          domain to serve (1-32751)\n"
            "  -D, --device SPEC      add a device: TYPE[,KEY=VALUE]... (repeatable)\n"
            "  -c, --config FILE      read settings from FILE (see ioreqd.conf(5));\n"
            "                         options given here override the file\n"
            "  -F, --foreground       do not detach from the terminal\n"
            "  -p, --pidfile FILE     write the daemon's pid to FILE\n"
            "  -l, --log SINK         stderr or syslog (default: stderr in the\n"
            "                         foreground, syslog when detached)\n"
            "      --log-level LEVEL  error, warn, info (default) or debug\n"
            "      --control-socket PATH\n"
            "                         ioreqctl's socket (default /run/ioreqd/N.sock;\n"
            "                         'none' for no socket)\n"
            "      --runas USER[:GROUP]\n"
            "                         after set-up, restrict the Xen handles to domain N\n"
            "                         and run as USER (see SECURITY in ioreqd(8))\n"
            "      --chroot DIR       after set-up, chroot into DIR\n"
            "      --no-seccomp       do not install the system-call filter\n"
            "      --poll-us N        after each request, poll for the next one for up\n"
            "                         to N microseconds (0-1000) before sleeping\n"
            "      --beside-qemu yes|no|auto\n"
            "                         whether QEMU serves the guest too (default auto:\n"
            "                         when its device-model state key exists)\n"
            "      --dirty-log on|off report writes into guest RAM to Xen's dirty log\n"
            "                         from the start (default off: the toolstack turns\n"
            "                         it on for a live migration, ioreqctl dirty-log)\n"
            "  -h, --help             show this help and exit\n"
            "  -V, --version          show the version and exit\n"
            "\n"
            "Exit status: 0 on an orderly stop, 1 on a start-up or run-time failure,\n"
            "2 for a bad command line, configuration file or device spec.\n",
            prog);
}

static int bad_value(char *errbuf, size_t errlen, const char *opt, const char *value,
                     const char *expect)
{
    snprintf(errbuf, errlen, "invalid value '%s' for %s: expected %s", value, opt, expect);
    return -EINVAL;
}

/* getopt's '?' covers unknown options and "--flag=value" for a flag alike. */
static int bad_option(const char *arg, char *errbuf, size_t errlen)
{
    const char *eq = strchr(arg, '=');

    if (strncmp(arg, "--", 2) != 0) {
        snprintf(errbuf, errlen, "unknown option '-%c'", optopt);
        return -EINVAL;
    }
    for (const struct option *o = long_options; eq && o->name; o++) {
        if (o->has_arg == no_argument && strlen(o->name) == (size_t)(eq - arg - 2) &&
            strncmp(arg + 2, o->name, (size_t)(eq - arg - 2)) == 0) {
            snprintf(errbuf, errlen, "option '--%s' takes no argument", o->name);
            return -EINVAL;
        }
    }
    snprintf(errbuf, errlen, "unknown option '%s'", arg);
    return -EINVAL;
}

int cmdline_parse(int argc, char *const argv[], struct ioreqd_settings *s, char *errbuf,
                  size_t errlen)
{
    enum cmdline_action action = CMDLINE_RUN;
    int opt, rc;

    optind = 0; /* GNU: full re-initialisation */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (opt) {
        case 'd':
            if (settings_parse_domid(optarg, &s->domid))
                return bad_value(errbuf, errlen, "--domid", optarg, "a domain id from 1 to 32751");
            break;
        case 'D':
            if (!*optarg) {
                snprintf(errbuf, errlen, "--device needs a device spec: TYPE[,KEY=VALUE]...");
                return -EINVAL;
            }
            rc = settings_add_device(s, optarg, "--device");
            if (rc)
                return rc;
            break;
        case 'c':
            rc = settings_set_string(&s->config_path, optarg);
            if (rc)
                return rc;
            break;
        case 'F':
            s->foreground = 1;
            break;
        case 'p':
            if (!*optarg) {
                snprintf(errbuf, errlen, "--pidfile needs a file name");
                return -EINVAL;
            }
            rc = settings_set_string(&s->pidfile, optarg);
            if (rc)
                return rc;
            break;
        case 'l':
            if (settings_parse_log_sink(optarg, &s->log_sink))
                return bad_value(errbuf, errlen, "--log", optarg, "stderr or syslog");
            break;
        case OPT_LOG_LEVEL:
            if (settings_parse_log_level(optarg, &s->log_level))
                return bad_value(errbuf, errlen, "--log-level", optarg,
                                 "error, warn, info or debug");
            break;
        case OPT_CONTROL_SOCKET:
            if (!*optarg) {
                snprintf(errbuf, errlen, "--control-socket needs a path or 'none'");
                return -EINVAL;
            }
            rc = settings_set_string(&s->control_socket, optarg);
            if (rc)
                return rc;
            break;
        case OPT_RUNAS:
        case OPT_CHROOT:
            if (!*optarg) {
                snprintf(errbuf, errlen, "%s needs a value",
                         opt == OPT_RUNAS ? "--runas" : "--chroot");
                return -EINVAL;
            }
            rc = settings_set_string(opt == OPT_RUNAS ? &s->runas : &s->chroot_dir, optarg);
            if (rc)
                return rc;
            break;
        case OPT_NO_SECCOMP:
            s->seccomp = 0;
            break;
        case OPT_POLL_US:
            if (settings_parse_poll_us(optarg, &s->poll_us)) {
                snprintf(errbuf, errlen, "invalid --poll-us '%s': expected 0 to %d microseconds",
                         optarg, SETTINGS_POLL_US_MAX);
                return -EINVAL;
            }
            break;
        case OPT_BESIDE_QEMU:
            if (settings_parse_beside_qemu(optarg, &s->beside_qemu))
                return bad_value(errbuf, errlen, "--beside-qemu", optarg, "yes, no or auto");
            break;
        case OPT_DIRTY_LOG:
            if (settings_parse_bool(optarg, &s->dirty_log))
                return bad_value(errbuf, errlen, "--dirty-log", optarg, "on or off");
            break;
        case 'h':
            action = CMDLINE_HELP;
            break;
        case 'V':
            if (action != CMDLINE_HELP)
                action = CMDLINE_VERSION;
            break;
        case ':':
            snprintf(errbuf, errlen, "option '%s' needs an argument", argv[optind - 1]);
            return -EINVAL;
        default:
            return bad_option(argv[optind - 1], errbuf, errlen);
        }
    }
    if (optind < argc) {
        snprintf(errbuf, errlen, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    return action;
}
