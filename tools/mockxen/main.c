/*
 * mockxen: run one mock Xen domain (the mock hypervisor plus an embedded
 * mock xenstored), print the environment a device model needs, optionally
 * start a device model in it, and optionally play the guest from a script.
 * Exit status: the script's (0 success, 1 failure, 2 syntax error), else
 * the command's, else 0 after SIGINT/SIGTERM; 2 for bad usage, 3 when the
 * mock cannot start.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mockhv.h"
#include "script.h"

#ifndef MOCKXEN_DEFAULT_LIBDIR
#define MOCKXEN_DEFAULT_LIBDIR ""
#endif

struct opts {
    struct mockhv_config cfg;
    const char *script;
    const char *libdir;
    char **command;
};

static volatile sig_atomic_t got_signal;
static volatile sig_atomic_t child_exited;

static void on_signal(int sig)
{
    got_signal = sig;
}

static void on_child(int sig)
{
    child_exited = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mockxen --domid N [--vcpus N] [--memory SIZE] [--name NAME]\n"
               "               [--socket PATH] [--xenstore-socket PATH] [--no-xenstore]\n"
               "               [--libdir DIR] [--script FILE|-] [-- COMMAND [ARG...]]\n");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    uint64_t v, mult = 1ull << 20; /* plain numbers are MiB, as xl's memory= */

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *s == '-')
        return -1;
    switch (*end) {
    case 'k':
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    case 'b':
    case 'B':
        mult = 1;
        end++;
        break;
    }
    if (*end || v > (UINT64_MAX >> 30))
        return -1;
    *out = v * mult;
    return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    errno = 0;
    *out = strtoul(s, &end, 0);
    return errno || end == s || *end || *s == '-' || *out > max ? -1 : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"domid", required_argument, NULL, 'd'},
        {"vcpus", required_argument, NULL, 'v'},
        {"memory", required_argument, NULL, 'm'},
        {"name", required_argument, NULL, 'n'},
        {"socket", required_argument, NULL, 's'},
        {"xenstore-socket", required_argument, NULL, 'x'},
        {"no-xenstore", no_argument, NULL, 'X'},
        {"libdir", required_argument, NULL, 'L'},
        {"script", required_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    unsigned long v;
    int c;

    o->cfg.nr_vcpus = 1;
    o->cfg.mem_bytes = 128ull << 20;
    o->cfg.xenstore = true;
    while ((c = getopt_long(argc, argv, "+d:v:m:n:s:x:XL:S:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (parse_uint(optarg, 0x7fef, &v) || v == 0) {
                fprintf(stderr, "mockxen: --domid: 1 to 32751, not %s\n", optarg);
                return -1;
            }
            o->cfg.domid = (uint16_t)v;
            break;
        case 'v':
            if (parse_uint(optarg, MOCKHV_MAX_VCPUS, &v) || v == 0) {
                fprintf(stderr, "mockxen: --vcpus: 1 to %d, not %s\n", MOCKHV_MAX_VCPUS, optarg);
                return -1;
            }
            o->cfg.nr_vcpus = (unsigned)v;
            break;
        case 'm':
            if (parse_size(optarg, &o->cfg.mem_bytes) || o->cfg.mem_bytes == 0 ||
                (o->cfg.mem_bytes & 0xfff)) {
                fprintf(stderr, "mockxen: --memory: a size such as 256M or 1G, not %s\n", optarg);
                return -1;
            }
            break;
        case 'n':
            o->cfg.name = optarg;
            break;
        case 's':
            o->cfg.socket = optarg;
            break;
        case 'x':
            o->cfg.xs_path = optarg;
            break;
        case 'X':
            o->cfg.xenstore = false;
            break;
        case 'L':
            o->libdir = optarg;
            break;
        case 'S':
            o->script = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!o->cfg.domid) {
        fprintf(stderr, "mockxen: --domid is required\n");
        usage(stderr);
        return -1;
    }
    if (optind < argc)
        o->command = &argv[optind];
    return 0;
}

/* LD_LIBRARY_PATH for the command: the drop-in libraries first. */
static const char *shim_libdir(const struct opts *o)
{
    const char *d = o->libdir ? o->libdir : getenv("MOCKXEN_LIBDIR");
    struct stat st;

    if (d && *d)
        return d;
    if (*MOCKXEN_DEFAULT_LIBDIR && stat(MOCKXEN_DEFAULT_LIBDIR, &st) == 0)
        return MOCKXEN_DEFAULT_LIBDIR;
    return NULL;
}

static pid_t start_command(const struct opts *o, struct mockhv *hv)
{
    const char *libdir = shim_libdir(o);
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    mockhv_setenv(hv);
    if (libdir) {
        const char *old = getenv("LD_LIBRARY_PATH");
        char *v;
        if (asprintf(&v, "%s%s%s", libdir, old && *old ? ":" : "", old ? old : "") < 0)
            _exit(127);
        setenv("LD_LIBRARY_PATH", v, 1);
    }
    execvp(o->command[0], o->command);
    fprintf(stderr, "mockxen: cannot run %s: %s\n", o->command[0], strerror(errno));
    _exit(127);
}

static int exit_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* SIGTERM, then SIGKILL after 10 s: a command never outlives mockxen. */
static int stop_command(pid_t pid)
{
    struct timespec ms = {.tv_nsec = 10000000};
    int status;

    kill(pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return exit_status(status);
        nanosleep(&ms, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return exit_status(status);
}

/* No script: serve until the command ends or a signal arrives. */
static int wait_for_end(pid_t pid)
{
    int status;

    for (;;) {
        if (got_signal)
            return pid > 0 ? (stop_command(pid), 0) : 0;
        if (pid > 0) {
            pid_t r = waitpid(pid, &status, 0);
            if (r == pid)
                return exit_status(status);
            if (r < 0 && errno != EINTR)
                return 1;
        } else {
            pause();
        }
    }
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct sigaction sa = {.sa_handler = on_signal};
    struct sigaction sa_child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
    struct mockhv *hv;
    pid_t pid = -1;
    int rc, status;

    if (parse_args(argc, argv, &o))
        return 2;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa_child, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = mockhv_create(&hv, &o.cfg);
    if (rc) {
        fprintf(stderr, "mockxen: cannot start the mock hypervisor: %s\n", strerror(-rc));
        return 3;
    }
    for (const char *const *e = mockhv_environ(hv); *e; e++)
        printf("%s\n", *e);
    if (shim_libdir(&o))
        printf("LD_LIBRARY_PATH=%s\n", shim_libdir(&o));
    fflush(stdout);
    if (o.command) {
        pid = start_command(&o, hv);
        if (pid < 0) {
            fprintf(stderr, "mockxen: fork: %s\n", strerror(errno));
            mockhv_destroy(hv);
            return 3;
        }
    }
    if (o.script) {
        FILE *in = strcmp(o.script, "-") ? fopen(o.script, "r") : stdin;
        if (!in) {
            fprintf(stderr, "mockxen: %s: %s\n", o.script, strerror(errno));
            status = 2;
        } else {
            status = script_run(hv, in, strcmp(o.script, "-") ? o.script : "stdin", stdout,
                                pid > 0 ? &child_exited : NULL);
            if (in != stdin)
                fclose(in);
        }
        if (pid > 0)
            stop_command(pid);
    } else {
        status = wait_for_end(pid);
    }
    mockhv_destroy(hv);
    return status;
}
