/*
 * mockxen: run one mock Xen domain (the mock hypervisor plus an embedded
 * mock xenstored), print the environment a device model needs, optionally
 * start device models in it (each command after a `--`), and optionally
 * play the guest from a script or boot real firmware (--firmware).
 * Exit status: the script's (0 success, 1 failure, 2 syntax error), the
 * firmware's (0 halted or powered off, 1 failure, 3 timeout, 4 stranded),
 * else the command's, else 0 after SIGINT/SIGTERM; 2 for bad usage, 3 when
 * the mock cannot start.
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

#include "firmware.h"
#include "mockhv.h"
#include "script.h"

#define MAX_COMMANDS 8

#ifndef MOCKXEN_DEFAULT_LIBDIR
#define MOCKXEN_DEFAULT_LIBDIR ""
#endif

struct opts {
    struct mockhv_config cfg;
    const char *script;
    const char *libdir;
    char **command[MAX_COMMANDS]; /* each NULL-terminated */
    unsigned nr_commands;
    bool firmware;
    struct firmware_opts fw;
    const char *firmware_log;
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
               "               [--libdir DIR] [--script FILE|-]\n"
               "               [--firmware [--hvmloader PATH] [--bios PATH] [--firmware-log FILE]\n"
               "                [--timeout SECONDS] [--count-instructions]]\n"
               "               [-- COMMAND [ARG...]]...\n");
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

/* The rest of argv: commands separated by "--" (getopt consumed the first). */
static int split_commands(int argc, char **argv, struct opts *o)
{
    int i = optind;

    while (i < argc) {
        if (o->nr_commands == MAX_COMMANDS) {
            fprintf(stderr, "mockxen: at most %d commands\n", MAX_COMMANDS);
            return -1;
        }
        if (!strcmp(argv[i], "--")) {
            fprintf(stderr, "mockxen: an empty command between two --\n");
            return -1;
        }
        o->command[o->nr_commands++] = &argv[i];
        while (i < argc && strcmp(argv[i], "--"))
            i++;
        if (i < argc) {
            argv[i] = NULL; /* ends this command */
            i++;
            if (i == argc) {
                fprintf(stderr, "mockxen: a -- without a command after it\n");
                return -1;
            }
        }
    }
    return 0;
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
        {"firmware", no_argument, NULL, 'F'},
        {"hvmloader", required_argument, NULL, 'H'},
        {"bios", required_argument, NULL, 'B'},
        {"firmware-log", required_argument, NULL, 'G'},
        {"timeout", required_argument, NULL, 'T'},
        {"count-instructions", no_argument, NULL, 'C'},
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
        case 'F':
            o->firmware = true;
            break;
        case 'H':
            o->fw.hvmloader = optarg;
            break;
        case 'B':
            o->fw.bios = optarg;
            break;
        case 'G':
            o->firmware_log = optarg;
            break;
        case 'T':
            if (parse_uint(optarg, 86400 * 365, &v) || v == 0) {
                fprintf(stderr, "mockxen: --timeout: seconds, 1 or more, not %s\n", optarg);
                return -1;
            }
            o->fw.timeout_s = (unsigned)v;
            break;
        case 'C':
            o->fw.count_instructions = true;
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
    if (o->firmware && o->script) {
        fprintf(stderr, "mockxen: --firmware and --script are two kinds of guest: one at a time\n");
        return -1;
    }
    if (!o->firmware && (o->fw.hvmloader || o->fw.bios || o->firmware_log || o->fw.timeout_s ||
                         o->fw.count_instructions)) {
        fprintf(stderr, "mockxen: --hvmloader, --bios, --firmware-log, --timeout and "
                        "--count-instructions go with --firmware\n");
        return -1;
    }
    return split_commands(argc, argv, o);
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

static pid_t start_command(const struct opts *o, char **command, struct mockhv *hv)
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
    execvp(command[0], command);
    fprintf(stderr, "mockxen: cannot run %s: %s\n", command[0], strerror(errno));
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

static void stop_commands(struct firmware_dm *dms, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (dms[i].pid > 0)
            dms[i].status = stop_command(dms[i].pid);
}

static int run_firmware(struct opts *o, struct mockhv *hv, struct firmware_dm *dms, unsigned n)
{
    FILE *log = stderr;
    int status;

    if (o->firmware_log) {
        log = fopen(o->firmware_log, "w");
        if (!log) {
            fprintf(stderr, "mockxen: %s: %s\n", o->firmware_log, strerror(errno));
            return FIRMWARE_FAILED;
        }
    }
    o->fw.log = log;
    status = firmware_run(hv, &o->fw, dms, n, &got_signal);
    /* the guest goes first: no vCPU is left waiting on a device model */
    stop_commands(dms, n);
    mockhv_destroy(hv);
    if (log != stderr)
        fclose(log);
    return status;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct sigaction sa = {.sa_handler = on_signal};
    struct sigaction sa_child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
    struct firmware_dm dms[MAX_COMMANDS];
    struct mockhv *hv;
    int rc, status;

    if (parse_args(argc, argv, &o))
        return 2;
    if (o.firmware && !o.nr_commands) {
        fprintf(stderr, "mockxen: --firmware needs a device model (-- COMMAND)\n");
        return 2;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa_child, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = mockhv_create(&hv, &o.cfg);
    if (rc) {
        fprintf(stderr, "mockxen: cannot start the mock hypervisor: %s\n", strerror(-rc));
        return o.firmware ? FIRMWARE_FAILED : 3;
    }
    for (const char *const *e = mockhv_environ(hv); *e; e++)
        printf("%s\n", *e);
    if (shim_libdir(&o))
        printf("LD_LIBRARY_PATH=%s\n", shim_libdir(&o));
    fflush(stdout);
    for (unsigned i = 0; i < o.nr_commands; i++) {
        dms[i].status = 0;
        dms[i].pid = start_command(&o, o.command[i], hv);
        if (dms[i].pid < 0) {
            fprintf(stderr, "mockxen: fork: %s\n", strerror(errno));
            stop_commands(dms, i);
            mockhv_destroy(hv);
            return o.firmware ? FIRMWARE_FAILED : 3;
        }
    }
    if (o.firmware)
        return run_firmware(&o, hv, dms, o.nr_commands);
    if (o.script) {
        FILE *in = strcmp(o.script, "-") ? fopen(o.script, "r") : stdin;
        if (!in) {
            fprintf(stderr, "mockxen: %s: %s\n", o.script, strerror(errno));
            status = 2;
        } else {
            status = script_run(hv, in, strcmp(o.script, "-") ? o.script : "stdin", stdout,
                                o.nr_commands ? &child_exited : NULL);
            if (in != stdin)
                fclose(in);
        }
        stop_commands(dms, o.nr_commands);
    } else {
        status = wait_for_end(o.nr_commands ? dms[0].pid : -1);
        /* the first command's status; the others end with it */
        for (unsigned i = 1; i < o.nr_commands; i++)
            stop_command(dms[i].pid);
    }
    mockhv_destroy(hv);
    return status;
}
