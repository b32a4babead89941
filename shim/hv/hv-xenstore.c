/*
 * The toolstack's part in xenstore, done for the mock domain: the embedded
 * mock xenstored runs on the mock's event loop, the domain is introduced
 * (@introduceDomain fires), and the keys libxl writes for an HVM guest are
 * created with libxl's permissions, including the device-model directory a
 * device model publishes its state in. On destroy the domain is released
 * (@releaseDomain fires) and its keys removed, as `xl destroy` does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv-internal.h"

#ifdef MOCKHV_HAVE_MOCKXS
#include "mockxs.h"

static int wr(struct mockxs *xs, const char *path, const char *val)
{
    return mockxs_write_str(xs, path, val);
}

/* perms "n0" plus read (r) or full (b) access for the guest */
static int perms(struct mockxs *xs, const char *path, uint16_t domid, bool guest_writes)
{
    char own[16], guest[16];
    const char *p[2] = {own, guest};

    if (guest_writes) {
        snprintf(own, sizeof(own), "n%u", domid);
        return mockxs_set_perms(xs, path, p, 1);
    }
    snprintf(own, sizeof(own), "n0");
    snprintf(guest, sizeof(guest), "r%u", domid);
    return mockxs_set_perms(xs, path, p, 2);
}

static int write_toolstack_keys(struct mockhv *hv)
{
    static const char *const guest_dirs[] = {"device",  "control", "data", "drivers",
                                             "feature", "attr",    "error"};
    struct mockxs *xs = hv->xs;
    char dom[64], path[192], val[64], uuid[40], vm[64];
    int rc;

    snprintf(dom, sizeof(dom), "/local/domain/%u", hv->domid);
    snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-%012x", (unsigned)hv->domid);
    snprintf(vm, sizeof(vm), "/vm/%s", uuid);

    rc = mockxs_mkdir(xs, dom);
    rc = rc ? rc : perms(xs, dom, hv->domid, false);
    for (size_t i = 0; !rc && i < sizeof(guest_dirs) / sizeof(guest_dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dom, guest_dirs[i]);
        rc = mockxs_mkdir(xs, path);
        rc = rc ? rc : perms(xs, path, hv->domid, true);
    }
#define KEY(sub, ...)                                                                              \
    do {                                                                                           \
        if (!rc) {                                                                                 \
            snprintf(path, sizeof(path), "%s/%s", dom, sub);                                       \
            snprintf(val, sizeof(val), __VA_ARGS__);                                               \
            rc = wr(xs, path, val);                                                                \
        }                                                                                          \
    } while (0)
    KEY("name", "%s", hv->name);
    KEY("domid", "%u", hv->domid);
    KEY("vm", "%s", vm);
    KEY("memory/static-max", "%llu", (unsigned long long)(hv->ram_bytes >> 10));
    KEY("memory/target", "%llu", (unsigned long long)(hv->ram_bytes >> 10));
    KEY("memory/videoram", "%u", 0);
    KEY("store/port", "%u", 1);
    KEY("control/platform-feature-multiprocessor-suspend", "%u", 1);
    KEY("control/platform-feature-xs_reset_watches", "%u", 1);
    for (unsigned v = 0; !rc && v < hv->nr_vcpus; v++) {
        char sub[48];
        snprintf(sub, sizeof(sub), "cpu/%u/availability", v);
        KEY(sub, "online");
    }
#undef KEY
    if (!rc) {
        snprintf(path, sizeof(path), "%s/name", vm);
        rc = wr(xs, path, hv->name);
    }
    if (!rc) {
        snprintf(path, sizeof(path), "%s/uuid", vm);
        rc = wr(xs, path, uuid);
    }
    rc = rc ? rc : perms(xs, vm, hv->domid, false);
    if (!rc) {
        snprintf(path, sizeof(path), "/local/domain/0/device-model/%u", hv->domid);
        rc = mockxs_mkdir(xs, path);
        rc = rc ? rc : perms(xs, path, hv->domid, false);
    }
    return rc;
}

int hv_xenstore_start(struct mockhv *hv)
{
    int rc;

    hv->xs = mockxs_new(hv->base, hv->xs_path);
    if (!hv->xs)
        return errno ? -errno : -ENOMEM;
    rc = write_toolstack_keys(hv);
    if (!rc)
        rc = mockxs_introduce_domain(hv->xs, hv->domid);
    return rc;
}

/*
 * What libxl does for `xl destroy` in xenstore: the domain is released
 * (xenstored fires @releaseDomain) and the guest's /local/domain/<domid> and
 * /vm/<uuid> trees go. libxl also removes the device model's directory
 * /local/domain/0/device-model/<domid> once it has stopped the device
 * model; the mock leaves that one to the device model, so a test sees what
 * the device model cleans up itself.
 */
void hv_xenstore_release(struct mockhv *hv)
{
    char path[96];

    if (!hv->xs || hv->xs_released)
        return;
    hv->xs_released = true;
    mockxs_release_domain(hv->xs, hv->domid);
    snprintf(path, sizeof(path), "/local/domain/%u", hv->domid);
    mockxs_rm(hv->xs, path);
    snprintf(path, sizeof(path), "/vm/00000000-0000-4000-8000-%012x", (unsigned)hv->domid);
    mockxs_rm(hv->xs, path);
}

void hv_xenstore_stop(struct mockhv *hv)
{
    if (!hv->xs)
        return;
    hv_xenstore_release(hv);
    mockxs_free(hv->xs);
    hv->xs = NULL;
}

int mockhv_xenstore_read(struct mockhv *hv, const char *path, char **value)
{
    if (!hv->xs)
        return -ENODEV;
    return mockxs_read(hv->xs, path, value, NULL);
}

int mockhv_xenstore_write(struct mockhv *hv, const char *path, const char *value)
{
    if (!hv->xs)
        return -ENODEV;
    return mockxs_write_str(hv->xs, path, value);
}

int mockhv_xenstore_drop_clients(struct mockhv *hv)
{
    if (!hv->xs)
        return -ENODEV;
    return mockxs_drop_clients(hv->xs);
}

#else

int mockhv_xenstore_read(struct mockhv *hv, const char *path, char **value)
{
    return -ENODEV;
}

int mockhv_xenstore_write(struct mockhv *hv, const char *path, const char *value)
{
    return -ENODEV;
}

int mockhv_xenstore_drop_clients(struct mockhv *hv)
{
    return -ENODEV;
}

int hv_xenstore_start(struct mockhv *hv)
{
    return -ENOSYS;
}

void hv_xenstore_stop(struct mockhv *hv)
{
}

void hv_xenstore_release(struct mockhv *hv)
{
}

#endif
