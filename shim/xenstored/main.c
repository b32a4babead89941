/*
 * mock-xenstored: the mock xenstore server as a program. Serves one unix
 * socket until SIGTERM or SIGINT; with --daemon it detaches once the
 * socket is listening, so clients may connect as soon as it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mockxs.h"

struct opts {
    const char *socket;
    const char *pidfile;
    bool daemon;
    int log_level;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mock-xenstored --socket PATH [--daemon] [--pidfile FILE]\n"
               "                      [--log-level error|warn|info|debug]\n");
}

/* 0 to run, 1 to exit 0 (--help), -1 for a usage error. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},  {"daemon", no_argument, NULL, 'd'},
        {"pidfile", required_argument, NULL, 'p'}, {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int c;

    o->log_level = LOG_LVL_INFO;
    while ((c = getopt_long(argc, argv, "s:dp:l:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->socket = optarg;
            break;
        case 'd':
            o->daemon = true;
            break;
        case 'p':
            o->pidfile = optarg;
            break;
        case 'l':
            o->log_level = log_parse_level(optarg);
            if (o->log_level < 0) {
                fprintf(stderr, "mock-xenstored: unknown log level '%s'\n", optarg);
                return -1;
            }
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mock-xenstored: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->socket || !*o->socket) {
        fprintf(stderr, "mock-xenstored: --socket PATH is required\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

/* A daemon changes directory to "/": keep relative paths meaning what they meant. */
static char *absolute(const char *path)
{
    char cwd[PATH_MAX];
    char *out;

    if (path[0] == '/')
        return strdup(path);
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    if (asprintf(&out, "%s/%s", cwd, path) < 0)
        return NULL;
    return out;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0)
        return -errno;
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    log_info("signal %d: shutting down", (int)sig);
    event_base_loopbreak(arg);
}

/*
 * Forks; the parent waits for the child to report over a pipe that it
 * listens (or failed) and exits with that status. Returns the write end in
 * the child.
 */
static int daemonize(void)
{
    int p[2];
    pid_t pid;
    char status = 1;

    if (pipe(p) < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        if (read(p[0], &status, 1) != 1)
            status = 1;
        _exit(status);
    }
    close(p[0]);
    if (setsid() < 0)
        return -1;
    if (chdir("/") < 0)
        return -1;
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    return p[1];
}

static void report(int fd, char status)
{
    if (fd >= 0) {
        if (write(fd, &status, 1) != 1)
            log_warn("cannot report start-up status");
        close(fd);
    }
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct event_base *base = NULL;
    struct event *sigterm = NULL, *sigint = NULL;
    struct mockxs *xs = NULL;
    char *socket_path = NULL, *pidfile = NULL;
    int status_fd = -1, rc = 1;

    switch (parse_args(argc, argv, &o)) {
    case 1:
        return 0;
    case -1:
        return 2;
    }
    log_init("mock-xenstored", o.daemon ? LOG_SINK_SYSLOG : LOG_SINK_STDERR, o.log_level);
    socket_path = absolute(o.socket);
    pidfile = o.pidfile ? absolute(o.pidfile) : NULL;
    if (!socket_path || (o.pidfile && !pidfile)) {
        log_error("cannot resolve paths: %s", strerror(errno));
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.daemon) {
        status_fd = daemonize();
        if (status_fd < 0) {
            log_error("cannot daemonize: %s", strerror(errno));
            goto out;
        }
    }
    base = event_base_new();
    if (!base) {
        log_error("cannot create the event loop");
        goto out;
    }
    xs = mockxs_new(base, socket_path);
    if (!xs) {
        log_error("cannot serve %s: %s", socket_path, strerror(errno));
        goto out;
    }
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    if (!sigterm || !sigint || evsignal_add(sigterm, NULL) < 0 || evsignal_add(sigint, NULL) < 0) {
        log_error("cannot catch signals");
        goto out;
    }
    if (pidfile && write_pidfile(pidfile) < 0) {
        log_error("cannot write %s: %s", pidfile, strerror(errno));
        goto out;
    }
    log_info("serving xenstore on %s", socket_path);
    report(status_fd, 0);
    status_fd = -1;
    if (event_base_dispatch(base) < 0) {
        log_error("event loop failed");
        goto out;
    }
    rc = 0;
out:
    report(status_fd, 1);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    mockxs_free(xs);
    if (pidfile && rc == 0)
        unlink(pidfile);
    if (base)
        event_base_free(base);
    free(socket_path);
    free(pidfile);
    return rc;
}
