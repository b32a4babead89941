/*
 * Life cycle of the mock: one domain (RAM, vCPUs, HVM params), its socket
 * thread, the optional embedded xenstored, and the environment a device
 * model needs to find them. Destroying the mock wakes every waiting vCPU
 * and disconnects every client, so nothing waits on a mock that is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "hv-internal.h"

static int make_paths(struct mockhv *hv, const struct mockhv_config *cfg)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[256];

    if (!cfg->socket || (cfg->xenstore && !cfg->xs_path)) {
        snprintf(tmpl, sizeof(tmpl), "%s/mockxen.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpl))
            return -errno;
        hv->tmpdir = strdup(tmpl);
        if (!hv->tmpdir)
            return -ENOMEM;
    }
    if (cfg->socket)
        hv->sock_path = strdup(cfg->socket);
    else if (asprintf(&hv->sock_path, "%s/hv.sock", hv->tmpdir) < 0)
        hv->sock_path = NULL;
    if (!hv->sock_path)
        return -ENOMEM;
    if (!cfg->xenstore)
        return 0;
    if (cfg->xs_path)
        hv->xs_path = strdup(cfg->xs_path);
    else if (asprintf(&hv->xs_path, "%s/xenstored.sock", hv->tmpdir) < 0)
        hv->xs_path = NULL;
    return hv->xs_path ? 0 : -ENOMEM;
}

static void init_params(struct mockhv *hv)
{
    hv->params[HVM_PARAM_BUFIOREQ_EVTCHN] = 0;
    hv->params[HVM_PARAM_TIMER_MODE] = HVMPTM_delay_for_missed_ticks;
    hv->params[HVM_PARAM_NESTEDHVM] = 0;
    hv->params[HVM_PARAM_PAE_ENABLED] = 1;
    hv->params[HVM_PARAM_HPET_ENABLED] = 1;
    hv->params[HVM_PARAM_IDENT_PT] = 0xfeffc000;
    hv->params[HVM_PARAM_STORE_EVTCHN] = 1;
    hv->params[HVM_PARAM_CONSOLE_EVTCHN] = 2;
}

static void init_vcpus(struct mockhv *hv)
{
    for (unsigned v = 0; v < MOCKHV_MAX_VCPUS; v++) {
        pthread_mutex_init(&hv->vcpus[v].use, NULL);
        hv->vcpus[v].inflight = -1;
        hv->vcpus[v].stuck = -1;
        hv->vcpus[v].wait_word = &hv->vcpus[v].word;
    }
}

int mockhv_create(struct mockhv **out, const struct mockhv_config *cfg)
{
    struct mockhv *hv;
    int rc;

    *out = NULL;
    if (!cfg || cfg->domid == 0 || cfg->domid >= 0x7ff0 || cfg->nr_vcpus == 0 ||
        cfg->nr_vcpus > MOCKHV_MAX_VCPUS || cfg->mem_bytes == 0 || (cfg->mem_bytes & 0xfff) ||
        cfg->mem_bytes > (1ull << 40))
        return -EINVAL;
    hv = calloc(1, sizeof(*hv));
    if (!hv)
        return -ENOMEM;
    pthread_mutex_init(&hv->lock, NULL);
    pthread_mutex_init(&hv->cfg_lock, NULL);
    hv->domid = cfg->domid;
    hv->nr_vcpus = cfg->nr_vcpus;
    hv->ram_fd = -1;
    hv->listen_fd = -1;
    hv->stop_pipe[0] = hv->stop_pipe[1] = -1;
    for (unsigned i = 0; i < HV_MAX_SERVERS; i++)
        hv->servers[i].memfd = -1;
    snprintf(hv->name, sizeof(hv->name), "%s", cfg->name ? cfg->name : "");
    if (!cfg->name)
        snprintf(hv->name, sizeof(hv->name), "mock-%u", cfg->domid);
    init_vcpus(hv);
    hv_records_init(hv);
    init_params(hv);

    rc = make_paths(hv, cfg);
    if (rc)
        goto out;
    rc = hv_memory_init(hv, cfg->mem_bytes);
    if (rc)
        goto out;
    hv->base = event_base_new();
    if (!hv->base) {
        rc = -ENOMEM;
        goto out;
    }
    if (cfg->xenstore) {
        rc = hv_xenstore_start(hv);
        if (rc)
            goto out;
    }
    rc = hv_transport_start(hv);
    if (rc)
        goto out;
    snprintf(hv->env_sock, sizeof(hv->env_sock), "%s=%s", MOCKHV_ENV_SOCKET, hv->sock_path);
    hv->envp[0] = hv->env_sock;
    if (hv->xs_path) {
        snprintf(hv->env_xs, sizeof(hv->env_xs), "%s=%s", MOCKHV_ENV_XENSTORED, hv->xs_path);
        hv->envp[1] = hv->env_xs;
    }
    *out = hv;
    return 0;
out:
    mockhv_destroy(hv);
    return rc;
}

void mockhv_destroy(struct mockhv *hv)
{
    if (!hv)
        return;
    pthread_mutex_lock(&hv->lock);
    hv->stopping = true;
    hv_guest_abort_all(hv);
    pthread_cond_broadcast(&hv->irqs.cond);
    pthread_mutex_unlock(&hv->lock);
    /* the firmware guest's vCPUs are callers of the guest API too */
    hv_hvm_destroy(hv);
    /* callers must have returned from the guest API before the state goes */
    for (unsigned v = 0; v < MOCKHV_MAX_VCPUS; v++) {
        pthread_mutex_lock(&hv->vcpus[v].use);
        pthread_mutex_unlock(&hv->vcpus[v].use);
    }
    hv_transport_stop(hv);
    hv_xenstore_stop(hv);
    pthread_mutex_lock(&hv->lock);
    hv_servers_fini(hv);
    pthread_mutex_unlock(&hv->lock);
    if (hv->base)
        event_base_free(hv->base);
    hv_memory_fini(hv);
    hv_records_fini(hv);
    for (unsigned v = 0; v < MOCKHV_MAX_VCPUS; v++)
        pthread_mutex_destroy(&hv->vcpus[v].use);
    if (hv->tmpdir)
        rmdir(hv->tmpdir);
    free(hv->tmpdir);
    free(hv->sock_path);
    free(hv->xs_path);
    pthread_mutex_destroy(&hv->cfg_lock);
    pthread_mutex_destroy(&hv->lock);
    free(hv);
}

uint16_t mockhv_domid(const struct mockhv *hv)
{
    return hv->domid;
}

unsigned mockhv_nr_vcpus(const struct mockhv *hv)
{
    return hv->nr_vcpus;
}

const char *mockhv_socket_path(const struct mockhv *hv)
{
    return hv->sock_path;
}

const char *mockhv_xenstored_path(const struct mockhv *hv)
{
    return hv->xs_path;
}

const char *const *mockhv_environ(const struct mockhv *hv)
{
    return hv->envp;
}

int mockhv_setenv(const struct mockhv *hv)
{
    if (setenv(MOCKHV_ENV_SOCKET, hv->sock_path, 1) < 0)
        return -errno;
    if (hv->xs_path && setenv(MOCKHV_ENV_XENSTORED, hv->xs_path, 1) < 0)
        return -errno;
    return 0;
}

void mockhv_get_stats(struct mockhv *hv, struct mockhv_stats *out)
{
    pthread_mutex_lock(&hv->lock);
    *out = hv->stats;
    pthread_mutex_unlock(&hv->lock);
}
