/*
 * What every entry of the device table owes without anyone remembering to
 * add it here: each of its options is documented in ioreqd(8) (argv[1]),
 * and each PCI function it puts on the bus passes the PCI conformance
 * suite. A new device type is checked the moment it is in the table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "fake-hv.h"
#include "gmem.h"
#include "pci-conformance.h"
#include "pci.h"
#include "device-table.h"

static const char *man_path;

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (!fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET)) {
        buf = calloc(1, (size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* The device's entry in DEVICES: from its ".TP\n.B name" to the next entry or section. */
static char *man_entry(const char *man, const char *name)
{
    char head[64];
    const char *start, *end, *next;

    snprintf(head, sizeof(head), ".TP\n.B %s", name);
    for (start = strstr(man, head); start; start = strstr(start + 1, head)) {
        char c = start[strlen(head)];

        /* "host-bridge" must not match a longer name. */
        if (c == '\n' || c == ',' || c == '\\')
            break;
    }
    if (!start)
        return NULL;
    end = start + strlen(head);
    next = strstr(end, "\n.TP\n.B ");
    if (!next || (strstr(end, "\n.PP") && strstr(end, "\n.PP") < next))
        next = strstr(end, "\n.PP");
    if (!next)
        next = strstr(end, "\n.SH");
    if (!next)
        next = end + strlen(end);
    return strndup(start, (size_t)(next - start));
}

static void test_man_page_documents_every_option(void **state)
{
    char *man = read_file(man_path);
    unsigned types = 0;

    assert_non_null(man);
    for (const struct device_type *const *t = device_types; *t; t++, types++) {
        char *entry = man_entry(man, (*t)->name);

        if (!entry)
            fail_msg("ioreqd(8) has no entry for device type %s", (*t)->name);
        for (const struct device_option *o = (*t)->options; o && o->key; o++) {
            char word[64];

            snprintf(word, sizeof(word), "%s%s", o->key, o->value ? "=" : "");
            /* A common option (bdf=) is documented once for all the types that take it. */
            if (!strstr(o->common ? man : entry, word))
                fail_msg("ioreqd(8) does not document %s's option %s", (*t)->name, word);
        }
        free(entry);
    }
    assert_true(types >= 4);
    free(man);
}

/* ---- every PCI function of every type, through the conformance suite ---- */

#define RAM_SIZE (1u << 20)

struct fns {
    struct pci_dev *added[8];
    unsigned nr;
};

static void fn_added(void *opaque, struct pci_dev *dev)
{
    struct fns *f = opaque;

    if (f->nr < ARRAY_SIZE(f->added))
        f->added[f->nr] = dev;
    f->nr++;
}

/*
 * "type" plus each required option and one of each one_of group (the
 * group's first PATH option), given `path`: an image, or a bound datagram
 * socket for a device that wants a peer there.
 */
static void minimal_spec(const struct device_type *t, const char *path, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "%s", t->name);
    unsigned done_groups = 0;

    for (const struct device_option *o = t->options; o && o->key; o++) {
        bool pick = o->required;

        if (o->one_of && !(done_groups & 1u << o->one_of) && o->value &&
            !strcmp(o->value, "PATH")) {
            done_groups |= 1u << o->one_of;
            pick = true;
        }
        if (!pick)
            continue;
        if (!o->value || strcmp(o->value, "PATH"))
            fail_msg("%s: no value to give required option %s=%s; teach minimal_spec", t->name,
                     o->key, o->value ? o->value : "");
        off += (size_t)snprintf(buf + off, len - off, ",%s=%s", o->key, path);
    }
}

/* A datagram socket bound at path, the peer a network backend sends to. */
static int bound_socket(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path));
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* The IDs the function shows at power-on: the suite checks they hold through everything. */
static struct pci_conformance_ids ids_of(const struct pci_dev *d)
{
    return (struct pci_conformance_ids){
        .vendor = pci_cfg_get16(d, PCI_VENDOR_ID),
        .device = pci_cfg_get16(d, PCI_DEVICE_ID),
        .revision = pci_cfg_get8(d, PCI_REVISION_ID),
        .class_code = pci_cfg_get32(d, PCI_REVISION_ID) >> 8,
        .subsystem_vendor = pci_cfg_get16(d, PCI_SUBSYSTEM_VENDOR_ID),
        .subsystem_id = pci_cfg_get16(d, PCI_SUBSYSTEM_ID),
        .interrupt_pin = pci_cfg_get8(d, PCI_INTERRUPT_PIN),
    };
}

static void test_every_pci_function_conforms(void **state)
{
    char image[] = "/tmp/test-device-table-XXXXXX", peer[64];
    int fd = mkstemp(image), peer_fd;
    unsigned pci_types = 0;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    snprintf(peer, sizeof(peer), "%s.peer", image);
    peer_fd = bound_socket(peer);
    for (const struct device_type *const *t = device_types; *t; t++) {
        struct fake_hv fp;
        void *ram = calloc(1, RAM_SIZE);
        struct io_registry *io = io_registry_new();
        struct pci_bus *bus = pci_bus_new(io, fake_hv_init(&fp));
        struct event_base *base = event_base_new();
        struct io_counters counters = {0};
        struct fns fns = {0};
        struct device_env env = {
            .domid = 7,
            .io = io,
            .gmem = gmem_flat_new(ram, RAM_SIZE),
            .pci = bus,
            .hv = fake_hv_init(&fp),
            .base = base,
            .counters = &counters,
        };
        struct device_spec spec;
        char text[512], err[256] = "";
        void *dev = NULL;

        assert_non_null(env.gmem);
        pci_bus_set_listener(bus, &(struct pci_bus_listener){.fn_added = fn_added, .opaque = &fns});
        /* A PATH is an image first; a device that wants a peer there gets a socket. */
        for (unsigned attempt = 0; !dev && attempt < 2; attempt++) {
            minimal_spec(*t, attempt ? peer : image, text, sizeof(text));
            assert_int_equal(device_spec_parse(text, &spec, err, sizeof(err)), 0);
            device_spec_bind(&spec, *t);
            if ((*t)->create(&env, &spec, &dev, err, sizeof(err))) {
                dev = NULL;
                device_spec_free(&spec);
            }
        }
        if (!dev)
            fail_msg("%s: cannot create '%s': %s", (*t)->name, text, err);
        assert_true(fns.nr <= ARRAY_SIZE(fns.added));
        for (unsigned i = 0; i < fns.nr; i++) {
            struct pci_conformance_ids ids = ids_of(fns.added[i]);

            print_message("%s: %02x:%02x.%x %04x:%04x\n", (*t)->name,
                          PCI_SBDF_BUS(fns.added[i]->sbdf), PCI_SBDF_DEV(fns.added[i]->sbdf),
                          PCI_SBDF_FN(fns.added[i]->sbdf), ids.vendor, ids.device);
            /* Every function counts in its device's counters. */
            assert_ptr_equal(fns.added[i]->counters, &counters);
            pci_conformance_run(bus, io, fns.added[i]->sbdf, &ids);
        }
        pci_types += fns.nr ? 1 : 0;
        (*t)->destroy(dev);
        device_spec_free(&spec);
        pci_bus_free(bus);
        io_registry_free(io);
        gmem_free(env.gmem);
        event_base_free(base);
        free(ram);
    }
    unlink(image);
    close(peer_fd);
    unlink(peer);
    /* host-bridge, xen-platform and virtio-blk at least. */
    assert_true(pci_types >= 3);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_man_page_documents_every_option),
        cmocka_unit_test(test_every_pci_function_conforms),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s IOREQD_MAN_PAGE\n", argv[0]);
        return 2;
    }
    man_path = argv[1];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
