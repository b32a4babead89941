/*
 * The "virtio-net" device type as ioreqd creates it from a spec: option
 * checking, the PCI function (conformance suite), the MAC derived from the
 * domid and PCI address, the option ROM BAR (sized, and reading the file's
 * bytes), the describe/identity lines and the counters. The backend is the
 * datagram socket, with the test holding the peer end.
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fake-platform.h"
#include "io-range.h"
#include "pci-conformance.h"
#include "registry.h"
#include "virtio-net.h"
#include "virtio-pci.h"

#define MEM_SIZE (1u << 20)
#define SBDF     PCI_SBDF(0, 0, 6, 0)
#define ROM_ADDR 0xfd000000u
#define ROM_LEN  5000u /* an 8 KiB ROM BAR */

extern const struct device_type virtio_net_device_type;
extern const struct device_type xen_platform_device_type;

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct io_registry *io;
    struct fake_platform fp;
    struct pci_bus *bus;
    struct event_base *base;
    int peer;
    char dir[64], peer_path[96], rom_path[96];
    void *dev;
};

static void counter(void *opaque, const char *name, uint64_t value)
{
    char *out = opaque;
    size_t n = strlen(out);

    snprintf(out + n, 4096 - n, "%s=%llu ", name, (unsigned long long)value);
}

static int create(struct fx *f, const char *text, char *errbuf, size_t errlen)
{
    struct device_env env = {
        .domid = 7, .io = f->io, .gmem = f->gm, .pci = f->bus, .base = f->base};
    struct device_spec spec;
    int rc;

    assert_int_equal(device_spec_parse(text, &spec, errbuf, errlen), 0);
    rc = device_spec_check(&virtio_net_device_type, &spec, errbuf, errlen);
    if (rc == 0) {
        rc = virtio_net_device_type.create(&env, &spec, &f->dev, errbuf, errlen);
        if (rc == 0)
            assert_null(device_spec_unused(&spec));
    }
    device_spec_free(&spec);
    return rc;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    uint8_t rom[ROM_LEN];
    FILE *fp;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/test-vnet-pci-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->peer_path, sizeof(f->peer_path), "%s/peer", f->dir);
    snprintf(f->rom_path, sizeof(f->rom_path), "%s/rom", f->dir);
    f->peer = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(f->peer >= 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->peer_path);
    assert_int_equal(bind(f->peer, (struct sockaddr *)&sa, sizeof(sa)), 0);
    for (unsigned i = 0; i < ROM_LEN; i++)
        rom[i] = (uint8_t)(i * 31 + (i >> 8));
    rom[0] = 0x55; /* a PCI expansion ROM starts 55 aa */
    rom[1] = 0xaa;
    fp = fopen(f->rom_path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(rom, 1, ROM_LEN, fp), ROM_LEN);
    fclose(fp);

    f->mem = calloc(1, MEM_SIZE);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->io = io_registry_new();
    f->bus = pci_bus_new(f->io, fake_platform_init(&f->fp));
    f->base = event_base_new();
    assert_non_null(f->bus);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->dev)
        virtio_net_device_type.destroy(f->dev);
    pci_bus_free(f->bus);
    io_registry_free(f->io);
    gmem_free(f->gm);
    event_base_free(f->base);
    close(f->peer);
    unlink(f->peer_path);
    unlink(f->rom_path);
    rmdir(f->dir);
    free(f->mem);
    free(f);
    return 0;
}

static void expect_refused(struct fx *f, const char *text, const char *msg)
{
    char err[256] = "";

    assert_int_equal(create(f, text, err, sizeof(err)), -EINVAL);
    assert_null(f->dev);
    assert_string_equal(err, msg);
}

static void test_spec_errors(void **state)
{
    struct fx *f = *state;

    expect_refused(f, "virtio-net", "virtio-net: one of tap=NAME or socket=PATH is required");
    expect_refused(f, "virtio-net,tap=t0,socket=/x",
                   "virtio-net: one of tap=NAME or socket=PATH is required");
    expect_refused(f, "virtio-net,tap=t0,local=/x", "virtio-net: local=PATH goes with socket=PATH");
    expect_refused(f, "virtio-net,socket=/x,mac=01:00:00:00:00:01",
                   "virtio-net: mac=01:00:00:00:00:01: expected a unicast XX:XX:XX:XX:XX:XX");
    expect_refused(f, "virtio-net,socket=/x,mac=02:00:00:00:00",
                   "virtio-net: mac=02:00:00:00:00: expected a unicast XX:XX:XX:XX:XX:XX");
    expect_refused(f, "virtio-net,socket=/x,queues=2",
                   "virtio-net: the socket backend has one queue pair");
    expect_refused(f, "virtio-net,socket=/x,mtu=60",
                   "virtio-net: mtu=60: 68 to 65535, or 0 for none");
    expect_refused(f, "virtio-net,socket=/x,bogus=1", "virtio-net device has no option 'bogus'");
}

static void test_function_mac_and_lines(void **state)
{
    struct fx *f = *state;
    const struct pci_conformance_ids ids = {
        .vendor = 0x1af4,
        .device = 0x1041,
        .revision = 1,
        .class_code = 0x020000,
        .subsystem_vendor = 0x1af4,
        .subsystem_id = 1,
        .interrupt_pin = 1,
    };
    char text[256], err[256] = "", line[512], counters[4096] = "";
    struct device_counter_sink sink = {.counter = counter, .opaque = counters};

    snprintf(text, sizeof(text), "virtio-net,socket=%s,bdf=00:06.0,mtu=9000", f->peer_path);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    pci_conformance_run(f->bus, f->io, SBDF, &ids);

    /* 02:49, domid 7, bus 0, devfn 6.0. */
    snprintf(text, sizeof(text),
             "00:06.0 1af4:1041 socket=%s mac=02:49:00:07:00:30 queues=1 mtu=9000", f->peer_path);
    virtio_net_device_type.identity(f->dev, line, sizeof(line));
    assert_string_equal(line, text);
    virtio_net_device_type.describe(f->dev, line, sizeof(line));
    assert_non_null(
        strstr(line, "mac=02:49:00:07:00:30 queues=1 mtu=9000 link=up active-queues=1"));
    virtio_net_device_type.counters(f->dev, &sink);
    assert_string_equal(
        counters, "q0_rx_frames=0 q0_rx_bytes=0 q0_tx_frames=0 q0_tx_bytes=0 "
                  "rx_drop_filtered=0 rx_drop_oversize=0 rx_drop_no_room=0 rx_drop_over_mtu=0 "
                  "rx_backend_errors=0 tx_drop_oversize=0 tx_drop_runt=0 "
                  "tx_drop_bad_header=0 tx_backend_full=0 tx_backend_errors=0 "
                  "bad_chains=0 ctrl_ok=0 ctrl_err=0 link_changes=0 ");
}

static void test_given_mac(void **state)
{
    struct fx *f = *state;
    char text[256], err[256] = "", line[512];

    snprintf(text, sizeof(text), "virtio-net,socket=%s,mac=52:54:00:12:34:56", f->peer_path);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    virtio_net_device_type.identity(f->dev, line, sizeof(line));
    assert_non_null(strstr(line, " mac=52:54:00:12:34:56 "));
}

/* local=PATH: our end is bound there, so a peer can send first; the peer's frames arrive. */
static void test_socket_local_path(void **state)
{
    struct fx *f = *state;
    char text[300], err[256] = "", local[128];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;

    snprintf(local, sizeof(local), "%s/local", f->dir);
    snprintf(text, sizeof(text), "virtio-net,socket=%s,local=%s", f->peer_path, local);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    assert_int_equal(stat(local, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    memcpy(sa.sun_path, local, strlen(local));
    /* Connected to its peer, our end takes the peer's datagrams. */
    assert_int_equal(sendto(f->peer, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)), 1);
    virtio_net_device_type.destroy(f->dev);
    f->dev = NULL;
    unlink(local);
}

static uint32_t cfg_rd(struct fx *f, unsigned reg)
{
    return pci_bus_cfg_read(f->bus, SBDF, reg, 4);
}

static void cfg_wr(struct fx *f, unsigned reg, unsigned size, uint32_t v)
{
    pci_bus_cfg_write(f->bus, SBDF, reg, size, v);
}

static uint64_t rom_rd(struct fx *f, uint64_t off, unsigned size)
{
    uint64_t v = 0;

    io_dispatch_read(f->io, IO_SPACE_MMIO, ROM_ADDR + off, size, 0, &v);
    return v;
}

static void test_rom_bar(void **state)
{
    struct fx *f = *state;
    char text[256], err[256] = "", line[512];
    FILE *fp = fopen(f->rom_path, "rb");
    uint8_t rom[ROM_LEN];

    assert_non_null(fp);
    assert_int_equal(fread(rom, 1, ROM_LEN, fp), ROM_LEN);
    fclose(fp);
    snprintf(text, sizeof(text), "virtio-net,socket=%s,bdf=00:06.0,romfile=%s", f->peer_path,
             f->rom_path);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    virtio_net_device_type.identity(f->dev, line, sizeof(line));
    assert_non_null(strstr(line, " romfile="));

    /* Sizing: 5000 bytes round up to an 8 KiB ROM BAR. */
    cfg_wr(f, PCI_ROM_ADDRESS, 4, 0xfffff800u);
    assert_int_equal(cfg_rd(f, PCI_ROM_ADDRESS), 0xffffe000u);
    cfg_wr(f, PCI_ROM_ADDRESS, 4, ROM_ADDR | PCI_ROM_ENABLE);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(rom_rd(f, 0, 2), 0xaa55);
    for (unsigned i = 0; i < ROM_LEN; i += 97)
        assert_int_equal(rom_rd(f, i, 1), rom[i]);
    assert_int_equal(rom_rd(f, 100, 4), (uint32_t)rom[100] | (uint32_t)rom[101] << 8 |
                                            (uint32_t)rom[102] << 16 | (uint32_t)rom[103] << 24);
    /* Past the file, inside the BAR: zeroes. */
    assert_int_equal(rom_rd(f, ROM_LEN, 4), 0);
    assert_int_equal(rom_rd(f, 8192 - 4, 4), 0);
    /* Disabled: nothing decodes there any more, the bus reads all-ones. */
    cfg_wr(f, PCI_ROM_ADDRESS, 4, ROM_ADDR);
    assert_int_equal(rom_rd(f, 0, 2), 0xffff);
}

/*
 * iPXE's ROM for this card as Debian's ipxe-qemu ships it (scripts/deps.sh
 * installs it): the ROM BAR holds it whole, and what the firmware checks
 * before running it reads right: 55 aa, and a PCI data structure naming
 * 1af4:1041 with an x86 (type 0) image.
 */
static void test_rom_ipxe(void **state)
{
    struct fx *f = *state;
    static const char rom_path[] = "/usr/lib/ipxe/virtio-net.rom";
    char text[256], err[256] = "";
    uint32_t pcir;

    snprintf(text, sizeof(text), "virtio-net,socket=%s,bdf=00:06.0,romfile=%s", f->peer_path,
             rom_path);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    cfg_wr(f, PCI_ROM_ADDRESS, 4, 0xfffff800u);
    /* 75,776 bytes: a 128 KiB BAR. */
    assert_int_equal(cfg_rd(f, PCI_ROM_ADDRESS), 0xfffe0000u);
    cfg_wr(f, PCI_ROM_ADDRESS, 4, ROM_ADDR | PCI_ROM_ENABLE);
    cfg_wr(f, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
    assert_int_equal(rom_rd(f, 0, 2), 0xaa55);
    pcir = (uint32_t)rom_rd(f, 0x18, 2);
    assert_int_equal(rom_rd(f, pcir, 4), 0x52494350); /* "PCIR" */
    assert_int_equal(rom_rd(f, pcir + 4, 4), 0x10411af4);
    assert_int_equal(rom_rd(f, pcir + 0x14, 1), 0); /* code type: x86 BIOS */
}

static void test_rom_missing(void **state)
{
    struct fx *f = *state;
    char text[256], err[256] = "", want[300];

    snprintf(text, sizeof(text), "virtio-net,socket=%s,romfile=%s/none", f->peer_path, f->dir);
    assert_int_equal(create(f, text, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "virtio-net: romfile %s/none: No such file or directory", f->dir);
    assert_string_equal(err, want);
    assert_null(f->dev);
}

static void test_socket_peer_missing(void **state)
{
    struct fx *f = *state;
    char text[256], err[256] = "", want[300];

    snprintf(text, sizeof(text), "virtio-net,socket=%s/nobody", f->dir);
    assert_int_equal(create(f, text, err, sizeof(err)), -ENOENT);
    snprintf(want, sizeof(want), "virtio-net: connect %s/nobody: No such file or directory",
             f->dir);
    assert_string_equal(err, want);
}

/*
 * The guest's PV drivers ask the platform device to unplug emulated NICs
 * (port 0x10, bit 1): the card leaves the bus and moves nothing, as Xen's
 * QEMU removes its ethernet functions.
 */
static void test_platform_unplugs_nic(void **state)
{
    struct fx *f = *state;
    struct device_env env = {
        .domid = 7, .io = f->io, .gmem = f->gm, .pci = f->bus, .base = f->base};
    char text[256], err[256] = "", line[512];
    struct device_spec spec;
    struct pci_dev *card;
    void *xp = NULL;

    assert_int_equal(device_spec_parse("xen-platform,bdf=03.0", &spec, err, sizeof(err)), 0);
    assert_int_equal(xen_platform_device_type.create(&env, &spec, &xp, err, sizeof(err)), 0);
    device_spec_free(&spec);
    snprintf(text, sizeof(text), "virtio-net,socket=%s,bdf=00:06.0", f->peer_path);
    assert_int_equal(create(f, text, err, sizeof(err)), 0);
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID), 0x10411af4);
    card = pci_bus_find(f->bus, PCI_SBDF_DEVFN(SBDF));
    assert_non_null(card);

    /* Disks only: the card stays. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 0x1));
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID), 0x10411af4);
    /* NICs: it is gone from the bus, and says so. */
    assert_true(io_dispatch_write(f->io, IO_SPACE_PIO, 0x10, 2, 0, 0x2));
    assert_int_equal(cfg_rd(f, PCI_VENDOR_ID), 0xffffffffu);
    assert_null(pci_bus_find(f->bus, PCI_SBDF_DEVFN(SBDF)));
    virtio_net_device_type.describe(f->dev, line, sizeof(line));
    assert_non_null(strstr(line, " link=down active-queues=1 unplugged"));
    /* The platform device itself stays. */
    assert_non_null(pci_bus_find(f->bus, 3 << 3));
    /* ioreqctl status still lists the card's function: its MSI-X table is gone, not read. */
    {
        struct pci_msix_vector_info vi;

        assert_int_equal(pci_msix_vector_info(card, 0, &vi), -EINVAL);
    }
    /* Destroying the card afterwards is safe. */
    virtio_net_device_type.destroy(f->dev);
    f->dev = NULL;
    xen_platform_device_type.destroy(xp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spec_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_mac_and_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_mac, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rom_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rom_ipxe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rom_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_peer_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket_local_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_platform_unplugs_nic, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
