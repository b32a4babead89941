/*
 * The "virtio-blk" device type: a raw image (file or block device) served
 * by the virtio-blk core over the virtio-pci transport.
 *
 *   virtio-blk,file=PATH[,readonly=on][,queues=N][,bdf=00:05.0][,serial=ID]
 *              [,cache=writeback|none][,aio=auto|threads|io_uring]
 *
 * Ownership: the instance owns the transport, the core and (through the
 * core) the backend; teardown goes transport first, so the core has drained
 * every request before its queues disappear.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "virtio-blk.h"
#include "virtio-pci.h"

struct vblk_pci {
    struct vblk *blk;
    struct vpci *vp;
    char file[256];
    unsigned queues;
    bool readonly;
    const char *cache; /* as given, for describe */
};

static void vblk_pci_destroy(void *opaque)
{
    struct vblk_pci *d = opaque;

    if (!d)
        return;
    vpci_free(d->vp);
    vblk_free(d->blk);
    free(d);
}

/* cache= and aio=: the backend's options, or -EINVAL with a message. */
static int parse_backend_opts(struct device_spec *spec, struct blk_raw_opts *o, char *errbuf,
                              size_t errlen)
{
    const char *cache = device_spec_get(spec, "cache");
    const char *aio = device_spec_get(spec, "aio");

    if (!cache || !strcmp(cache, "writeback")) {
        o->cache = BLK_CACHE_WRITEBACK;
    } else if (!strcmp(cache, "none")) {
        o->cache = BLK_CACHE_NONE;
    } else {
        snprintf(errbuf, errlen, "virtio-blk: cache=%s: expected writeback or none", cache);
        return -EINVAL;
    }
    if (!aio || !strcmp(aio, "auto")) {
        o->aio = BLK_AIO_AUTO;
    } else if (!strcmp(aio, "threads")) {
        o->aio = BLK_AIO_THREADS;
    } else if (!strcmp(aio, "io_uring")) {
        o->aio = BLK_AIO_IO_URING;
    } else {
        snprintf(errbuf, errlen, "virtio-blk: aio=%s: expected auto, threads or io_uring", aio);
        return -EINVAL;
    }
    return 0;
}

/* What a spec asks for, defaults filled in. */
struct vblk_pci_config {
    const char *file;
    const char *serial; /* NULL: none */
    uint64_t queues;
    struct blk_raw_opts backend; /* readonly, cache, aio */
    int devfn;                   /* -1: the next free slot */
};

static int vblk_pci_parse(struct device_spec *spec, struct vblk_pci_config *cfg, char *errbuf,
                          size_t errlen)
{
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->file = device_spec_get(spec, "file");
    if (!cfg->file || !*cfg->file) {
        snprintf(errbuf, errlen, "virtio-blk: file=PATH is required");
        return -EINVAL;
    }
    rc = device_spec_get_bool(spec, "readonly", false, &cfg->backend.readonly, errbuf, errlen);
    if (rc)
        return rc;
    rc = device_spec_get_uint(spec, "queues", 1, VBLK_MAX_QUEUES, 1, &cfg->queues, errbuf, errlen);
    if (rc)
        return rc;
    rc = parse_backend_opts(spec, &cfg->backend, errbuf, errlen);
    if (rc)
        return rc;
    rc = pci_spec_placement(spec, &cfg->devfn, errbuf, errlen);
    if (rc)
        return rc;
    cfg->serial = device_spec_get(spec, "serial");
    if (cfg->serial && strlen(cfg->serial) > VIRTIO_BLK_ID_BYTES) {
        snprintf(errbuf, errlen, "virtio-blk: serial longer than %u bytes", VIRTIO_BLK_ID_BYTES);
        return -EINVAL;
    }
    return 0;
}

static int vblk_pci_check(struct device_spec *spec, char *errbuf, size_t errlen)
{
    struct vblk_pci_config cfg;

    return vblk_pci_parse(spec, &cfg, errbuf, errlen);
}

static int vblk_pci_create(const struct device_env *env, struct device_spec *spec, void **out,
                           char *errbuf, size_t errlen)
{
    struct vblk_params params = {.base = env->base};
    struct vblk_pci_config cfg;
    struct blk_backend *be;
    struct vblk_pci *d;
    char err[200];
    int rc;

    *out = NULL;
    if (!env->pci || !env->gmem || !env->base) {
        snprintf(errbuf, errlen, "virtio-blk: needs a PCI bus, guest memory and an event loop");
        return -ENODEV;
    }
    rc = vblk_pci_parse(spec, &cfg, errbuf, errlen);
    if (rc)
        return rc;
    params.serial = cfg.serial;
    params.num_queues = (unsigned)cfg.queues;

    d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(errbuf, errlen, "virtio-blk: out of memory");
        return -ENOMEM;
    }
    snprintf(d->file, sizeof(d->file), "%s", cfg.file);
    d->queues = params.num_queues;
    d->readonly = cfg.backend.readonly;

    d->cache = cfg.backend.cache == BLK_CACHE_NONE ? "none" : "writeback";
    rc = blk_raw_open(&be, cfg.file, &cfg.backend, env->base, err, sizeof(err));
    if (rc) {
        snprintf(errbuf, errlen, "virtio-blk: %s", err);
        goto out;
    }
    rc = vblk_new(&d->blk, be, &params, err, sizeof(err));
    if (rc) {
        snprintf(errbuf, errlen, "virtio-blk: %s", err);
        goto out;
    }
    rc = vpci_new(&d->vp, env->pci, env->gmem, vblk_vdev(d->blk), cfg.devfn, env->counters, errbuf,
                  errlen);
    if (rc)
        goto out;
    *out = d;
    return 0;
out:
    vblk_pci_destroy(d);
    return rc;
}

static int vblk_pci_flush(void *opaque)
{
    struct vblk_pci *d = opaque;

    return vblk_flush_sync(d->blk);
}

/* "<pci> file=... queues=N [readonly] cache=... aio=...": the PCI part is the caller's. */
static void vblk_pci_format(const struct vblk_pci *d, const char *pci, char *buf, size_t len)
{
    snprintf(buf, len, "%s file=%s queues=%u%s cache=%s aio=%s", pci, d->file, d->queues,
             d->readonly ? " readonly" : "", d->cache, blk_raw_engine(vblk_backend(d->blk)));
}

static void vblk_pci_describe(void *opaque, char *buf, size_t len)
{
    struct vblk_pci *d = opaque;
    char pci[160];

    pci_dev_describe(vpci_pci_dev(d->vp), pci, sizeof(pci));
    vblk_pci_format(d, pci, buf, len);
}

static void vblk_pci_identity(void *opaque, char *buf, size_t len)
{
    struct vblk_pci *d = opaque;
    char pci[32];

    pci_dev_identity(vpci_pci_dev(d->vp), pci, sizeof(pci));
    vblk_pci_format(d, pci, buf, len);
}

static void vblk_pci_counters(void *opaque, const struct device_counter_sink *sink)
{
    struct vblk_pci *d = opaque;
    struct vblk_stats st;

    vblk_get_stats(d->blk, &st);
    sink->counter(sink->opaque, "requests", st.requests);
    sink->counter(sink->opaque, "reads", st.reads);
    sink->counter(sink->opaque, "writes", st.writes);
    sink->counter(sink->opaque, "flushes", st.flushes);
    sink->counter(sink->opaque, "discards", st.discards);
    sink->counter(sink->opaque, "write_zeroes", st.write_zeroes);
    sink->counter(sink->opaque, "get_ids", st.get_ids);
    sink->counter(sink->opaque, "read_bytes", st.read_bytes);
    sink->counter(sink->opaque, "write_bytes", st.write_bytes);
    sink->counter(sink->opaque, "io_errors", st.ioerr);
    sink->counter(sink->opaque, "unsupported", st.unsupp);
}

const struct device_type virtio_blk_device_type = {
    .name = "virtio-blk",
    .summary = "virtio block device on a raw image: file=PATH[,readonly=on][,queues=N]"
               "[,bdf=DD.F][,serial=ID][,cache=writeback|none][,aio=auto|threads|io_uring]",
    .create = vblk_pci_create,
    .check = vblk_pci_check,
    .flush = vblk_pci_flush,
    .destroy = vblk_pci_destroy,
    .describe = vblk_pci_describe,
    .identity = vblk_pci_identity,
    .counters = vblk_pci_counters,
};
