/*
 * The shared fuzzing fixture (see fuzz-env.h). Devices are created through
 * the device table with the same specs a user would give ioreqd, so the
 * fuzzers exercise exactly what the daemon builds.
 */
#define _GNU_SOURCE /* memfd_create */
#include "fuzz-env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pci.h"
#include "device-table.h"

void fz_check_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
    abort();
}

void fz_log_quiet(void)
{
    static bool done;

    if (!done) {
        log_init("fuzz", LOG_SINK_STDERR, LOG_LVL_ERROR);
        done = true;
    }
}

size_t fz_in_bytes(struct fz_in *in, void *buf, size_t len)
{
    size_t n = len < in->left ? len : in->left;

    memcpy(buf, in->p, n);
    memset((uint8_t *)buf + n, 0, len - n);
    in->p += n;
    in->left -= n;
    return n;
}

uint8_t fz_u8(struct fz_in *in)
{
    uint8_t v;

    fz_in_bytes(in, &v, 1);
    return v;
}

/* Little-endian, like everything the guest produces. */
static uint64_t fz_le(struct fz_in *in, unsigned bytes)
{
    uint8_t b[8];
    uint64_t v = 0;

    fz_in_bytes(in, b, bytes);
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

uint16_t fz_u16(struct fz_in *in)
{
    return (uint16_t)fz_le(in, 2);
}

uint32_t fz_u32(struct fz_in *in)
{
    return (uint32_t)fz_le(in, 4);
}

uint64_t fz_u64(struct fz_in *in)
{
    return fz_le(in, 8);
}

/* --- disk image --- */

int fz_disk_path(char *buf, size_t len)
{
    static int fd = -1;

    if (fd < 0) {
        int f = memfd_create("fuzz-disk", MFD_CLOEXEC);

        if (f < 0)
            return -errno;
        if (ftruncate(f, FZ_DISK_SIZE) < 0) {
            int rc = -errno;
            close(f);
            return rc;
        }
        fd = f;
    }
    snprintf(buf, len, "/proc/self/fd/%d", fd);
    return 0;
}

/* --- the device set --- */

static int create_dev(struct fz_env *env, const struct device_env *denv, enum fz_dev slot,
                      const char *text)
{
    struct device_spec spec;
    const struct device_type *type;
    char err[256] = "";
    int rc;

    rc = device_spec_parse(text, &spec, err, sizeof(err));
    if (rc)
        goto fail;
    type = device_type_find(spec.type);
    rc = type ? type->create(denv, &spec, &env->dev[slot], err, sizeof(err)) : -ENOENT;
    device_spec_free(&spec);
    if (rc)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "fuzz: cannot create '%s': %s (%s)\n", text, err, strerror(-rc));
    return rc;
}

static const char *const dev_types[FZ_DEV_COUNT] = {
    [FZ_DEV_HOST_BRIDGE] = "host-bridge",
    [FZ_DEV_XEN_PLATFORM] = "xen-platform",
    [FZ_DEV_UART] = "uart",
    [FZ_DEV_VIRTIO_BLK] = "virtio-blk",
};

int fz_env_new(struct fz_env *env)
{
    char disk[64], blk_spec[128];
    struct device_env denv;
    struct hv_services hv;
    int rc;

    memset(env, 0, sizeof(*env));
    fz_log_quiet();
    rc = fz_disk_path(disk, sizeof(disk));
    if (rc)
        return rc;
    snprintf(blk_spec, sizeof(blk_spec), "virtio-blk,file=%s,bdf=00:04.0,serial=fuzz", disk);
    const char *specs[FZ_DEV_COUNT] = {
        [FZ_DEV_HOST_BRIDGE] = "host-bridge,cf8=on",
        [FZ_DEV_XEN_PLATFORM] = "xen-platform,bdf=00:02.0",
        [FZ_DEV_UART] = "uart,com=1,backend=null",
        [FZ_DEV_VIRTIO_BLK] = blk_spec,
    };

    env->ram = calloc(1, FZ_RAM_SIZE);
    env->io = io_registry_new();
    env->base = event_base_new();
    if (!env->ram || !env->io || !env->base) {
        rc = -ENOMEM;
        goto out;
    }
    env->gm = gmem_flat_new(env->ram, FZ_RAM_SIZE);
    hv = fake_hv_init(&env->hv);
    env->bus = pci_bus_new(env->io, hv);
    if (!env->gm || !env->bus) {
        rc = -ENOMEM;
        goto out;
    }
    denv = (struct device_env){
        .domid = 1,
        .io = env->io,
        .gmem = env->gm,
        .pci = env->bus,
        .hv = hv,
        .base = env->base,
    };
    for (unsigned i = 0; i < FZ_DEV_COUNT; i++) {
        rc = create_dev(env, &denv, i, specs[i]);
        if (rc)
            goto out;
    }
    env->stats.nr_vcpus = 1;
    return 0;
out:
    fz_env_free(env);
    return rc;
}

void fz_env_free(struct fz_env *env)
{
    /* No device asked the hypervisor for something Xen refuses. */
    FZ_CHECK(env->hv.nr_bad == 0);
    for (int i = FZ_DEV_COUNT - 1; i >= 0; i--) {
        if (env->dev[i])
            device_type_find(dev_types[i])->destroy(env->dev[i]);
        env->dev[i] = NULL;
    }
    if (env->bus)
        pci_bus_free(env->bus);
    if (env->gm)
        gmem_free(env->gm);
    if (env->io)
        io_registry_free(env->io);
    if (env->base)
        event_base_free(env->base);
    free(env->ram);
    memset(env, 0, sizeof(*env));
}

void fz_env_poll(struct fz_env *env)
{
    event_base_loop(env->base, EVLOOP_NONBLOCK);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

void fz_env_firmware(struct fz_env *env)
{
    uint64_t pio = FZ_PIO_WINDOW, mmio = FZ_MMIO_WINDOW;

    for (uint32_t devfn = 0; devfn < 256; devfn++) {
        struct pci_dev *dev = pci_bus_find(env->bus, devfn);

        if (!dev)
            continue;
        for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
            const struct pci_bar *bar = &dev->bars[i];
            unsigned reg = PCI_BASE_ADDRESS_0 + 4 * i;
            uint64_t addr;

            if (bar->type == PCI_BAR_IO) {
                addr = pio = align_up(pio, bar->size);
                pio += bar->size;
            } else if (bar->type == PCI_BAR_MEM32 || bar->type == PCI_BAR_MEM64) {
                addr = mmio = align_up(mmio, bar->size);
                mmio += bar->size;
            } else {
                continue;
            }
            pci_bus_cfg_write(env->bus, devfn, reg, 4, (uint32_t)addr);
            if (bar->type == PCI_BAR_MEM64) {
                pci_bus_cfg_write(env->bus, devfn, reg + 4, 4, (uint32_t)(addr >> 32));
                i++;
            }
        }
        pci_bus_cfg_write(env->bus, devfn, PCI_COMMAND, 2,
                          PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
    }
}

static int cnt_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    return gmem_read(((struct fz_gmem_count *)opaque)->inner, gpa, buf, len);
}

static int cnt_write(void *opaque, uint64_t gpa, const void *buf, size_t len)
{
    return gmem_write(((struct fz_gmem_count *)opaque)->inner, gpa, buf, len);
}

static int cnt_map(void *opaque, uint64_t gpa, size_t len, int prot, void **ptr)
{
    struct fz_gmem_count *c = opaque;
    int rc;

    if (c->limit && c->live >= c->limit)
        return -ENOMEM;
    rc = gmem_map(c->inner, gpa, len, prot, ptr);
    if (rc == 0)
        c->live++;
    return rc;
}

static void cnt_unmap(void *opaque, void *ptr, size_t len)
{
    struct fz_gmem_count *c = opaque;

    c->live--;
    FZ_CHECK(c->live >= 0);
    gmem_unmap(c->inner, ptr, len);
}

static void cnt_invalidate(void *opaque)
{
    gmem_invalidate(((struct fz_gmem_count *)opaque)->inner);
}

static void cnt_stats(void *opaque, struct gmem_stats *out)
{
    gmem_get_stats(((struct fz_gmem_count *)opaque)->inner, out);
}

static void cnt_free(void *opaque)
{
}

static const struct gmem_ops cnt_ops = {
    .read = cnt_read,
    .write = cnt_write,
    .map = cnt_map,
    .unmap = cnt_unmap,
    .invalidate = cnt_invalidate,
    .stats = cnt_stats,
    .free = cnt_free,
};

void fz_gmem_count_init(struct fz_gmem_count *c, struct gmem *inner)
{
    *c = (struct fz_gmem_count){.gm = {.ops = &cnt_ops, .opaque = c}, .inner = inner};
}
