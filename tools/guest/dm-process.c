/*
 * dmproc: a device model process on a mock domain (see dm-process.h).
 */
#include "dm-process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

extern char **environ;

#define POLL_MS  10
#define MAX_ARGS 64
#define MAX_ENV  512

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static bool env_is(const char *entry, const char *name)
{
    size_t n = strlen(name);

    return !strncmp(entry, name, n) && entry[n] == '=';
}

/* Whether cfg_env sets or drops the variable of entry ("NAME=value"). */
static bool env_overridden(const char *entry, const char *const *cfg_env)
{
    for (const char *const *c = cfg_env; c && *c; c++) {
        size_t n = strcspn(*c, "=");

        if (!strncmp(entry, *c, n) && entry[n] == '=')
            return true;
    }
    return false;
}

/* Our environment without what the mock decides, plus the mock's. */
static int build_env(struct mockhv *hv, const char *shim_libdir, const char *const *cfg_env,
                     char **env, size_t max, char **ldpath)
{
    const char *old = getenv("LD_LIBRARY_PATH");
    size_t n = 0;

    for (char **e = environ; *e && n + 1 < max; e++)
        if (!env_is(*e, MOCKHV_ENV_SOCKET) && !env_is(*e, MOCKHV_ENV_XENSTORED) &&
            !(shim_libdir && env_is(*e, "LD_LIBRARY_PATH")) && !env_overridden(*e, cfg_env))
            env[n++] = *e;
    for (const char *const *c = cfg_env; c && *c && n + 1 < max; c++)
        if (strchr(*c, '='))
            env[n++] = (char *)*c;
    for (const char *const *e = hv ? mockhv_environ(hv) : NULL; e && *e && n + 1 < max; e++)
        env[n++] = (char *)*e;
    if (shim_libdir && n + 1 < max) {
        if (asprintf(ldpath, "LD_LIBRARY_PATH=%s%s%s", shim_libdir, old && *old ? ":" : "",
                     old && *old ? old : "") < 0)
            return -ENOMEM;
        env[n++] = *ldpath;
    }
    env[n] = NULL;
    return 0;
}

void dmproc_xs_close(struct dmproc *p)
{
    if (p->xs)
        xs_close(p->xs);
    p->xs = NULL;
}

int dmproc_start(struct dmproc *p, struct mockhv *hv, const struct dmproc_config *cfg)
{
    char *argv[MAX_ARGS + 2];
    char *env[MAX_ENV];
    char *ldpath = NULL;
    posix_spawn_file_actions_t fa;
    size_t argc = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    p->domid = hv ? mockhv_domid(hv) : 0;
    snprintf(p->state_path, sizeof(p->state_path), "/local/domain/0/device-model/%u/state",
             p->domid);
    if (cfg->log_path &&
        snprintf(p->log_path, sizeof(p->log_path), "%s", cfg->log_path) >= (int)sizeof(p->log_path))
        return -ENAMETOOLONG;

    /* Our own libxenstore connection finds the mock's xenstored the same way. */
    if (hv) {
        rc = mockhv_setenv(hv);
        if (rc)
            return rc;
        p->xs = xs_open(0);
        if (!p->xs)
            return -errno;
    }

    argv[argc++] = (char *)cfg->program;
    for (const char *const *a = cfg->args; a && *a && argc < MAX_ARGS; a++)
        argv[argc++] = (char *)*a;
    argv[argc] = NULL;
    rc = build_env(hv, cfg->shim_libdir, cfg->env, env, MAX_ENV, &ldpath);
    if (rc)
        goto out;

    posix_spawn_file_actions_init(&fa);
    if (cfg->stdin_null)
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (cfg->log_path) {
        posix_spawn_file_actions_addopen(&fa, 2, cfg->log_path, O_WRONLY | O_CREAT | O_APPEND,
                                         0644);
        if (!cfg->stdout_path)
            posix_spawn_file_actions_adddup2(&fa, 2, 1);
    }
    if (cfg->stdout_path)
        posix_spawn_file_actions_addopen(&fa, 1, cfg->stdout_path, O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
    rc = -posix_spawn(&p->pid, cfg->program, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
out:
    free(ldpath);
    if (rc) {
        p->pid = 0;
        dmproc_xs_close(p);
    }
    return rc;
}

static bool reap(struct dmproc *p)
{
    int st;

    if (!p->pid)
        return true;
    if (waitpid(p->pid, &st, WNOHANG) != p->pid)
        return false;
    p->wstatus = st;
    p->pid = 0;
    return true;
}

int dmproc_state(struct dmproc *p, char *buf, size_t len)
{
    unsigned int n;
    char *v;

    if (!p->xs)
        return -ENOTCONN;
    v = xs_read(p->xs, XBT_NULL, p->state_path, &n);
    if (!v)
        return errno ? -errno : -ENOENT;
    snprintf(buf, len, "%s", v);
    free(v);
    return 0;
}

char *dmproc_xs_read(struct dmproc *p, const char *path)
{
    unsigned int n;

    if (!p->xs) {
        errno = ENOTCONN;
        return NULL;
    }
    return xs_read(p->xs, XBT_NULL, path, &n);
}

int dmproc_wait_for(struct dmproc *p, bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    for (int waited = 0;; waited += POLL_MS) {
        if (cond(arg))
            return 0;
        if (reap(p))
            return -ECHILD;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        sleep_ms(POLL_MS);
    }
}

static bool is_running(void *arg)
{
    char state[32];

    return !dmproc_state(arg, state, sizeof(state)) && !strcmp(state, "running");
}

int dmproc_wait_running(struct dmproc *p, int timeout_ms)
{
    return dmproc_wait_for(p, is_running, p, timeout_ms);
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

int dmproc_wait_exit(struct dmproc *p, int timeout_ms)
{
    int rc = dmproc_wait_for(p, never, NULL, timeout_ms);

    return rc == -ECHILD ? 0 : rc;
}

int dmproc_stop(struct dmproc *p, int sig, int timeout_ms)
{
    if (!p->pid)
        return 0;
    kill(p->pid, sig);
    if (!dmproc_wait_exit(p, timeout_ms))
        return 0;
    kill(p->pid, SIGKILL);
    (void)dmproc_wait_exit(p, 5000);
    return -ETIMEDOUT;
}

bool dmproc_running(struct dmproc *p)
{
    return !reap(p);
}

void dmproc_adopt(struct dmproc *p, pid_t pid)
{
    p->pid = pid;
}

bool dmproc_log_has(const struct dmproc *p, const char *text)
{
    char *log = dmproc_log(p);
    bool found = log && strstr(log, text);

    free(log);
    return found;
}

struct log_wait {
    const struct dmproc *p;
    const char *text;
};

static bool log_holds(void *arg)
{
    struct log_wait *w = arg;

    return dmproc_log_has(w->p, w->text);
}

int dmproc_wait_log(struct dmproc *p, const char *text, int timeout_ms)
{
    struct log_wait w = {.p = p, .text = text};
    int rc = dmproc_wait_for(p, log_holds, &w, timeout_ms);

    /* What it logged just before it ended still counts. */
    if (rc == -ECHILD && dmproc_log_has(p, text))
        rc = 0;
    return rc;
}

void dmproc_fini(struct dmproc *p)
{
    if (p->pid)
        (void)dmproc_stop(p, SIGKILL, 5000);
    dmproc_xs_close(p);
}

void dmproc_describe_status(int wstatus, char *buf, size_t len)
{
    if (WIFEXITED(wstatus))
        snprintf(buf, len, "exited %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(wstatus),
                 strsignal(WTERMSIG(wstatus)));
    else
        snprintf(buf, len, "status %#x", wstatus);
}

int dmproc_run(struct dmproc *p, struct mockhv *hv, const struct dmproc_config *cfg, int timeout_ms)
{
    int rc = dmproc_start(p, hv, cfg);

    if (rc) {
        fprintf(stderr, "cannot start %s: %s\n", cfg->program, strerror(-rc));
        return rc;
    }
    rc = dmproc_wait_running(p, timeout_ms);
    if (rc) {
        dmproc_dump_log(p);
        fprintf(stderr, "%s: no state = running within %d ms\n", cfg->program, timeout_ms);
    }
    return rc;
}

char *dmproc_log(const struct dmproc *p)
{
    char *buf = NULL;
    size_t len = 0, n;
    char chunk[4096];
    FILE *in, *out;

    out = open_memstream(&buf, &len);
    if (!out)
        return NULL;
    in = p->log_path[0] ? fopen(p->log_path, "re") : NULL;
    while (in && (n = fread(chunk, 1, sizeof(chunk), in)) > 0)
        fwrite(chunk, 1, n, out);
    if (in)
        fclose(in);
    if (fclose(out)) {
        free(buf);
        return NULL;
    }
    return buf;
}

void dmproc_dump_log(struct dmproc *p)
{
    char *log = dmproc_log(p);
    char how[64] = "running";

    /* Whether it is still there says much about a guest access that timed out. */
    if (reap(p))
        dmproc_describe_status(p->wstatus, how, sizeof(how));
    fprintf(stderr, "---- %s ----\n%s---- end of log; device model %s ----\n",
            p->log_path[0] ? p->log_path : "log", log ? log : "(unreadable)\n", how);
    free(log);
}

bool dmproc_log_has_sanitizer_report(const struct dmproc *p)
{
    char *log = dmproc_log(p);
    /* "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", UBSan's "runtime error:". */
    bool found = log && (strstr(log, "Sanitizer") || strstr(log, "runtime error"));

    free(log);
    return found;
}

int dmproc_stop_clean(struct dmproc *p, int sig, int timeout_ms)
{
    const char *why = NULL;
    int rc;

    if (sig)
        rc = dmproc_stop(p, sig, timeout_ms);
    else if ((rc = dmproc_wait_exit(p, timeout_ms)))
        (void)dmproc_stop(p, SIGKILL, timeout_ms);
    if (rc) {
        why = "it did not exit in time and was killed";
    } else if (!(WIFEXITED(p->wstatus) && WEXITSTATUS(p->wstatus) == 0)) {
        why = "exit status";
        rc = -ECHILD;
    } else if (dmproc_log_has_sanitizer_report(p)) {
        why = "a sanitizer report in its log";
        rc = -EPROTO;
    }
    if (rc) {
        dmproc_dump_log(p);
        fprintf(stderr, "device model did not stop cleanly: %s\n", why);
    }
    return rc;
}
