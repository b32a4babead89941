/*
 * The "virtio-net" device type: a network card served by the virtio-net
 * core over the virtio-pci transport, on a tap interface or a unix
 * datagram socket.
 *
 *   virtio-net,tap=NAME|socket=PATH[,local=PATH][,mac=XX:XX:XX:XX:XX:XX]
 *              [,queues=N][,mtu=N][,bdf=00:05.0][,romfile=PATH]
 *
 * Without mac= the MAC is 02:49:DH:DL:BB:DF, locally administered and
 * stable: the domid (high, low byte), then the function's PCI bus and
 * devfn. The backend's fds and the option ROM are opened at create time,
 * before ioreqd deprivileges.
 *
 * Ownership: the instance owns the transport, the core and (through the
 * core) the backend; teardown goes transport first, so nothing is popped
 * from queues that are gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"
#include "virtio-net.h"
#include "virtio-pci.h"

/* Largest option ROM we expose: the PCI ROM BAR of a NIC boot ROM is far smaller. */
#define VNET_ROM_MAX (1u << 20)

struct vnet_pci {
    struct vnet *net;
    struct vpci *vp;
    char backend[128]; /* "tap=NAME" or "socket=PATH" */
    char romfile[256];
    void *rom;
    size_t rom_len;
};

/* What a spec asks for, defaults filled in. */
struct vnet_pci_config {
    const char *tap, *socket, *local, *romfile;
    bool have_mac;
    uint8_t mac[6];
    uint64_t queues, mtu;
    int devfn; /* -1: the next free slot */
};

static int parse_mac(const char *text, uint8_t mac[6])
{
    unsigned v[6];
    char end;

    if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) !=
            6 ||
        strlen(text) != 17)
        return -EINVAL;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    /* A NIC's own address is unicast. */
    return (mac[0] & 1) ? -EINVAL : 0;
}

static int vnet_pci_parse(struct device_spec *spec, struct vnet_pci_config *cfg, char *errbuf,
                          size_t errlen)
{
    const char *mac;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    cfg->tap = device_spec_get(spec, "tap");
    cfg->socket = device_spec_get(spec, "socket");
    cfg->local = device_spec_get(spec, "local");
    cfg->romfile = device_spec_get(spec, "romfile");
    if (!!cfg->tap == !!cfg->socket || (cfg->tap && !*cfg->tap) || (cfg->socket && !*cfg->socket)) {
        snprintf(errbuf, errlen, "virtio-net: one of tap=NAME or socket=PATH is required");
        return -EINVAL;
    }
    if (cfg->local && (!cfg->socket || !*cfg->local)) {
        snprintf(errbuf, errlen, "virtio-net: local=PATH goes with socket=PATH");
        return -EINVAL;
    }
    if (cfg->romfile && !*cfg->romfile) {
        snprintf(errbuf, errlen, "virtio-net: romfile= needs a path");
        return -EINVAL;
    }
    mac = device_spec_get(spec, "mac");
    if (mac) {
        if (parse_mac(mac, cfg->mac)) {
            snprintf(errbuf, errlen, "virtio-net: mac=%s: expected a unicast XX:XX:XX:XX:XX:XX",
                     mac);
            return -EINVAL;
        }
        cfg->have_mac = true;
    }
    rc = device_spec_get_uint(spec, "queues", 1, VNET_MAX_PAIRS, 1, &cfg->queues, errbuf, errlen);
    if (rc)
        return rc;
    if (cfg->socket && cfg->queues > 1) {
        snprintf(errbuf, errlen, "virtio-net: the socket backend has one queue pair");
        return -EINVAL;
    }
    rc = device_spec_get_uint(spec, "mtu", 0, VNET_MTU_MAX, 0, &cfg->mtu, errbuf, errlen);
    if (rc)
        return rc;
    if (cfg->mtu && cfg->mtu < VNET_MTU_MIN) {
        snprintf(errbuf, errlen, "virtio-net: mtu=%u: %u to %u, or 0 for none", (unsigned)cfg->mtu,
                 VNET_MTU_MIN, VNET_MTU_MAX);
        return -EINVAL;
    }
    return pci_spec_placement(spec, &cfg->devfn, errbuf, errlen);
}

static int vnet_pci_check(struct device_spec *spec, char *errbuf, size_t errlen)
{
    struct vnet_pci_config cfg;

    return vnet_pci_parse(spec, &cfg, errbuf, errlen);
}

static void vnet_pci_destroy(void *opaque)
{
    struct vnet_pci *d = opaque;

    if (!d)
        return;
    vpci_free(d->vp);
    vnet_free(d->net);
    free(d->rom);
    free(d);
}

/* The whole file, at most VNET_ROM_MAX bytes: 0 or -errno with errbuf filled. */
static int read_rom(struct vnet_pci *d, const char *path, char *errbuf, size_t errlen)
{
    struct stat st;
    ssize_t n;
    int fd, rc = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "virtio-net: romfile %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size > VNET_ROM_MAX) {
        snprintf(errbuf, errlen, "virtio-net: romfile %s: not a file of 1 byte to %u KiB", path,
                 VNET_ROM_MAX >> 10);
        rc = -EINVAL;
        goto out;
    }
    d->rom = malloc((size_t)st.st_size);
    if (!d->rom) {
        rc = -ENOMEM;
        goto out;
    }
    n = read(fd, d->rom, (size_t)st.st_size);
    if (n != st.st_size) {
        snprintf(errbuf, errlen, "virtio-net: romfile %s: short read", path);
        rc = -EIO;
        goto out;
    }
    d->rom_len = (size_t)n;
    snprintf(d->romfile, sizeof(d->romfile), "%s", path);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

static int vnet_pci_create(const struct device_env *env, struct device_spec *spec, void **out,
                           char *errbuf, size_t errlen)
{
    struct vnet_params params = {.base = env->base};
    struct vnet_pci_config cfg;
    struct net_backend *be;
    struct vnet_pci *d;
    char err[200];
    uint32_t sbdf;
    int rc;

    *out = NULL;
    if (!env->pci || !env->gmem || !env->base) {
        snprintf(errbuf, errlen, "virtio-net: needs a PCI bus, guest memory and an event loop");
        return -ENODEV;
    }
    rc = vnet_pci_parse(spec, &cfg, errbuf, errlen);
    if (rc)
        return rc;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    if (cfg.romfile) {
        rc = read_rom(d, cfg.romfile, errbuf, errlen);
        if (rc)
            goto out;
    }
    if (cfg.tap) {
        snprintf(d->backend, sizeof(d->backend), "tap=%s", cfg.tap);
        rc = net_tap_open(&be, cfg.tap, (unsigned)cfg.queues, env->base, err, sizeof(err));
    } else {
        snprintf(d->backend, sizeof(d->backend), "socket=%s", cfg.socket);
        rc = net_socket_open(&be, cfg.socket, cfg.local, env->base, err, sizeof(err));
    }
    if (rc) {
        snprintf(errbuf, errlen, "virtio-net: %s", err);
        goto out;
    }
    params.max_pairs = (unsigned)cfg.queues;
    params.mtu = (uint16_t)cfg.mtu;
    memcpy(params.mac, cfg.mac, 6);
    rc = vnet_new(&d->net, be, &params, err, sizeof(err));
    if (rc) {
        snprintf(errbuf, errlen, "virtio-net: %s", err);
        goto out;
    }
    rc = vpci_new_with_rom(&d->vp, env->pci, env->gmem, vnet_vdev(d->net), cfg.devfn, d->rom,
                           d->rom_len, errbuf, errlen);
    if (rc)
        goto out;
    if (!cfg.have_mac) {
        /* Stable across restarts: who the guest is and where the card sits. */
        sbdf = vpci_pci_dev(d->vp)->sbdf;
        params.mac[0] = 0x02;
        params.mac[1] = 0x49;
        params.mac[2] = (uint8_t)(env->domid >> 8);
        params.mac[3] = (uint8_t)env->domid;
        params.mac[4] = (uint8_t)PCI_SBDF_BUS(sbdf);
        params.mac[5] = (uint8_t)(PCI_SBDF_DEV(sbdf) << 3 | PCI_SBDF_FN(sbdf));
        vnet_set_perm_mac(d->net, params.mac);
    }
    *out = d;
    return 0;
out:
    vnet_pci_destroy(d);
    return rc;
}

static void format_mac(const uint8_t m[6], char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* "<pci> tap=NAME mac=... queues=N [mtu=N] [romfile=...]": the PCI part is the caller's. */
static void vnet_pci_format(const struct vnet_pci *d, const char *pci, const uint8_t mac[6],
                            char *buf, size_t len)
{
    char m[18], mtu[16] = "";

    format_mac(mac, m, sizeof(m));
    if (vnet_mtu(d->net))
        snprintf(mtu, sizeof(mtu), " mtu=%u", vnet_mtu(d->net));
    snprintf(buf, len, "%s %s mac=%s queues=%u%s%s%s", pci, d->backend, m, vnet_max_pairs(d->net),
             mtu, d->romfile[0] ? " romfile=" : "", d->romfile);
}

static void vnet_pci_describe(void *opaque, char *buf, size_t len)
{
    struct vnet_pci *d = opaque;
    char pci[160], line[400];
    uint8_t mac[6];

    pci_dev_describe(vpci_pci_dev(d->vp), pci, sizeof(pci));
    vnet_get_mac(d->net, mac);
    vnet_pci_format(d, pci, mac, line, sizeof(line));
    snprintf(buf, len, "%s link=%s active-queues=%u%s", line, vnet_link_up(d->net) ? "up" : "down",
             vnet_active_pairs(d->net), vnet_enabled(d->net) ? "" : " unplugged");
}

static void vnet_pci_identity(void *opaque, char *buf, size_t len)
{
    struct vnet_pci *d = opaque;
    char pci[32];
    uint8_t mac[6];

    pci_dev_identity(vpci_pci_dev(d->vp), pci, sizeof(pci));
    vnet_get_perm_mac(d->net, mac);
    vnet_pci_format(d, pci, mac, buf, len);
}

static void vnet_pci_counters(void *opaque, const struct device_counter_sink *sink)
{
    struct vnet_pci *d = opaque;
    struct vnet_queue_stats qs;
    struct vnet_stats st;
    char name[48];

    for (unsigned i = 0; vnet_get_queue_stats(d->net, i, &qs); i++) {
        static const char *const what[] = {"rx_frames", "rx_bytes", "tx_frames", "tx_bytes"};
        const uint64_t v[] = {qs.rx_frames, qs.rx_bytes, qs.tx_frames, qs.tx_bytes};

        for (unsigned k = 0; k < 4; k++) {
            snprintf(name, sizeof(name), "q%u_%s", i, what[k]);
            sink->counter(sink->opaque, name, v[k]);
        }
    }
    vnet_get_stats(d->net, &st);
    sink->counter(sink->opaque, "rx_drop_filtered", st.rx_filtered);
    sink->counter(sink->opaque, "rx_drop_oversize", st.rx_oversize);
    sink->counter(sink->opaque, "rx_drop_no_room", st.rx_no_room);
    sink->counter(sink->opaque, "rx_drop_over_mtu", st.rx_over_mtu);
    sink->counter(sink->opaque, "rx_backend_errors", st.rx_backend_errors);
    sink->counter(sink->opaque, "tx_drop_oversize", st.tx_oversize);
    sink->counter(sink->opaque, "tx_drop_runt", st.tx_runt);
    sink->counter(sink->opaque, "tx_drop_bad_header", st.tx_bad_hdr);
    sink->counter(sink->opaque, "tx_backend_full", st.tx_backend_full);
    sink->counter(sink->opaque, "tx_backend_errors", st.tx_backend_errors);
    sink->counter(sink->opaque, "bad_chains", st.bad_chains);
    sink->counter(sink->opaque, "ctrl_ok", st.ctrl_ok);
    sink->counter(sink->opaque, "ctrl_err", st.ctrl_err);
    sink->counter(sink->opaque, "link_changes", st.link_changes);
}

const struct device_type virtio_net_device_type = {
    .name = "virtio-net",
    .summary = "virtio network card: tap=NAME|socket=PATH[,local=PATH][,mac=XX:XX:XX:XX:XX:XX]"
               "[,queues=N][,mtu=N][,bdf=DD.F][,romfile=PATH]",
    .create = vnet_pci_create,
    .check = vnet_pci_check,
    .destroy = vnet_pci_destroy,
    .describe = vnet_pci_describe,
    .identity = vnet_pci_identity,
    .counters = vnet_pci_counters,
};
