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

#include "device.h"
#include "virtio-blk.h"
#include "virtio-pci.h"

struct vblk_pci {
    struct vblk *blk;
    struct vpci *vp;
    char file[256];
    unsigned queues;
    bool readonly;
    const char *cache; /* as given, for its report */
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

static void vblk_pci_report(void *opaque, const struct report_sink *sink)
{
    struct vblk_pci *d = opaque;
    struct vblk_stats st;

    pci_dev_report(vpci_pci_dev(d->vp), sink);
    report_item(sink, REPORT_IDENTITY, "file", d->file);
    report_itemf(sink, REPORT_IDENTITY, "queues", "%u", d->queues);
    if (d->readonly)
        report_item(sink, REPORT_IDENTITY, "readonly", NULL);
    report_item(sink, REPORT_IDENTITY, "cache", d->cache);
    report_item(sink, REPORT_IDENTITY, "aio", blk_raw_engine(vblk_backend(d->blk)));

    vblk_get_stats(d->blk, &st);
    report_counter(sink, "requests", st.requests);
    report_counter(sink, "reads", st.reads);
    report_counter(sink, "writes", st.writes);
    report_counter(sink, "flushes", st.flushes);
    report_counter(sink, "discards", st.discards);
    report_counter(sink, "write_zeroes", st.write_zeroes);
    report_counter(sink, "get_ids", st.get_ids);
    report_counter(sink, "read_bytes", st.read_bytes);
    report_counter(sink, "write_bytes", st.write_bytes);
    report_counter(sink, "io_errors", st.ioerr);
    report_counter(sink, "unsupported", st.unsupp);
    report_counter(sink, "merged", st.merged);
}

const struct device_type virtio_blk_device_type = {
    .name = "virtio-blk",
    .summary = "virtio block device on a raw image",
    .options =
        (const struct device_option[]){
            {.key = "file", .value = "PATH", .required = true},
            {.key = "readonly", .value = "on"},
            {.key = "queues", .value = "N"},
            PCI_BDF_OPTION,
            {.key = "serial", .value = "ID"},
            {.key = "cache", .value = "writeback|none"},
            {.key = "aio", .value = "auto|threads|io_uring"},
            {0},
        },
    .create = vblk_pci_create,
    .check = vblk_pci_check,
    .flush = vblk_pci_flush,
    .destroy = vblk_pci_destroy,
    .report = vblk_pci_report,
};
