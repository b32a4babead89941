/*
 * ioreqctl: the command line (options, command dispatch, exit codes) and
 * the helpers the command files share. See ioreqctl(1).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control-proto.h"
#include "json.h"
#include "ctl-client.h"
#include "ctl-inventory.h"
#include "ctl.h"

#ifndef IOREQD_VERSION
#define IOREQD_VERSION "unknown"
#endif

static const char usage_text[] =
    "usage: ioreqctl [--json] [--socket PATH] [--timeout SECONDS] COMMAND [ARG] [--domid N]\n"
    "commands:\n"
    "  list                 device models found in xenstore\n"
    "  status --domid N     state, inventory and live status of ioreqd for domain N\n"
    "  stats --domid N      request counters from ioreqd's control socket\n"
    "  stop --domid N       stop ioreqd (control socket, else SIGTERM to its pid)\n"
    "  dirty-log [on|off] --domid N\n"
    "                       report writes into guest RAM to Xen's dirty log, or\n"
    "                       stop; without an argument, tell whether it does\n"
    "options:\n"
    "  --json               machine-readable JSON output\n"
    "  --socket PATH        control socket (default " CONTROL_SOCKET_DIR "/<domid>.sock)\n"
    "  --timeout SECONDS    limit for each exchange with ioreqd and for stop (default 10)\n"
    "  --help, --version\n";

static const struct {
    const char *name;
    int (*run)(struct ctl_opts *opts);
    bool needs_domid;
    bool takes_arg; /* one optional argument after the command */
} commands[] = {
    {.name = "list", .run = ctl_cmd_list, .needs_domid = false},
    {.name = "status", .run = ctl_cmd_status, .needs_domid = true},
    {.name = "stats", .run = ctl_cmd_stats, .needs_domid = true},
    {.name = "stop", .run = ctl_cmd_stop, .needs_domid = true},
    {.name = "dirty-log", .run = ctl_cmd_dirty_log, .needs_domid = true, .takes_arg = true},
};

void ctl_err(const char *fmt, ...)
{
    va_list ap;

    fputs("ioreqctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *ctl_socket_path(struct ctl_opts *opts)
{
    if (opts->socket)
        return opts->socket;
    if (control_default_path(opts->socket_buf, sizeof(opts->socket_buf), (unsigned)opts->domid))
        return "";
    return opts->socket_buf;
}

int ctl_print_json(struct json_buf *b)
{
    int rc = json_buf_error(b);

    if (rc) {
        ctl_err("cannot build the JSON output: %s", strerror(-rc));
        return CTL_EXIT_FAILURE;
    }
    fputs(b->data, stdout);
    fputc('\n', stdout);
    return CTL_EXIT_OK;
}

int ctl_ask(struct ctl_opts *opts, const char *cmd, struct json_value **reply)
{
    struct ctl_client c;
    const struct json_value *ok;
    int rc;

    *reply = NULL;
    rc = ctl_client_connect(&c, ctl_socket_path(opts), opts->timeout_ms);
    if (!rc)
        rc = ctl_client_request(&c, cmd, reply);
    ctl_client_close(&c);
    if (rc)
        return rc;
    ok = json_get(*reply, "ok");
    if (!ok || ok->type != JSON_BOOL)
        rc = -EPROTO;
    else if (!ok->boolean)
        return -EREMOTEIO;
    if (rc) {
        json_free(*reply);
        *reply = NULL;
    }
    return rc;
}

void ctl_ask_error(int rc, const struct json_value *reply, char *buf, size_t len)
{
    const struct json_value *e = json_get(reply, "error");

    if (rc == -EREMOTEIO && e && e->type == JSON_STRING)
        json_text(e, buf, len);
    else if (rc == -EPROTO)
        snprintf(buf, len, "malformed reply");
    else
        snprintf(buf, len, "%s", strerror(rc < 0 ? -rc : rc));
}

void ctl_json_xs_value(struct json_buf *b, const char *key, const char *value)
{
    size_t n = value ? strlen(value) : 0;
    bool number = n > 0 && n <= 19 && (value[0] != '0' || n == 1);

    for (size_t i = 0; number && i < n; i++)
        number = value[i] >= '0' && value[i] <= '9';
    if (number)
        json_uint(b, key, strtoull(value, NULL, 10));
    else
        json_string(b, key, value);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("ioreqctl: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'ioreqctl --help'.\n", stderr);
    return CTL_EXIT_USAGE;
}

static bool parse_timeout(const char *text, int *ms)
{
    unsigned long v = 0;

    if (!*text || strlen(text) > 5)
        return false;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v == 0 || v > 3600)
        return false;
    *ms = (int)(v * 1000);
    return true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},
        {"socket", required_argument, NULL, 's'},
        {"domid", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl_opts opts = {.domid = -1, .timeout_ms = 10000};
    unsigned domid;
    int c;

    opterr = 0;
    /* Options may come before or after the command (GNU getopt permutes). */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            opts.json = true;
            break;
        case 's':
            if (!*optarg)
                return usage_error("empty --socket path%s", "");
            opts.socket = optarg;
            break;
        case 'd':
            if (!ctl_parse_domid(optarg, &domid))
                return usage_error("invalid domid '%s'", optarg);
            opts.domid = (int)domid;
            break;
        case 't':
            if (!parse_timeout(optarg, &opts.timeout_ms))
                return usage_error("invalid --timeout '%s' (1 to 3600 seconds)", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return CTL_EXIT_OK;
        case 'V':
            printf("ioreqctl %s\n", IOREQD_VERSION);
            return CTL_EXIT_OK;
        default:
            return usage_error("unknown option or missing argument: '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no command given%s", "");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[optind], commands[i].name))
            continue;
        if (optind + 1 + commands[i].takes_arg < argc)
            return usage_error("unexpected argument '%s'",
                               argv[optind + 1 + commands[i].takes_arg]);
        if (optind + 1 < argc)
            opts.arg = argv[optind + 1];
        if (commands[i].needs_domid && opts.domid < 0)
            return usage_error("%s needs --domid N", commands[i].name);
        if (!commands[i].needs_domid && (opts.domid >= 0 || opts.socket))
            return usage_error("%s takes no --domid or --socket", commands[i].name);
        return commands[i].run(&opts);
    }
    return usage_error("unknown command '%s'", argv[optind]);
}
