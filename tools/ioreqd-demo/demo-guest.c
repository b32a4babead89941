/*
 * The demo's guest program: firmware PCI enumeration, a line through the
 * UART, and a write / flush / read-back round on the virtio disk with
 * requests in flight on every queue at once.
 */
#include "demo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int demo_guest_lspci(struct demo *d)
{
    int rc = gpci_scan(&d->bus, d->hv, 0, DEMO_TIMEOUT_MS);

    if (rc) {
        demo_fail("PCI scan: %s", strerror(-rc));
        return rc;
    }
    d->devices_found = (unsigned)d->bus.nr;
    demo_info("firmware scanned bus 0, assigned BARs, enabled decode: %zu function%s", d->bus.nr,
              d->bus.nr == 1 ? "" : "s");
    putchar('\n');
    rc = gpci_print(&d->bus, stdout, true);
    fflush(stdout);
    if (rc) {
        demo_fail("reading capabilities: %s", strerror(-rc));
        return rc;
    }
    if (!gpci_find(&d->bus, 0x8086, 0x1237) || !gpci_find(&d->bus, 0x5853, 0x0001) ||
        !gpci_find(&d->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID)) {
        demo_fail("expected the host bridge, the Xen platform device and a virtio-blk disk");
        return -ENODEV;
    }
    return 0;
}

int demo_guest_uart(struct demo *d)
{
    int rc = guart_init(&d->uart, d->hv, 0, DEMO_COM1, DEMO_TIMEOUT_MS);

    if (!rc)
        rc = guart_puts(&d->uart, DEMO_HELLO);
    d->uart_bytes = d->uart.tx_bytes;
    if (rc) {
        demo_fail("COM1 at %#x: %s", DEMO_COM1, strerror(-rc));
        return rc;
    }
    demo_info("guest wrote \"hello from the guest\\r\\n\" to COM1 (port %#x), %" PRIu64
              " bytes, polling LSR.THRE before each",
              DEMO_COM1, d->uart.tx_bytes);
    return demo_check_uart_output(d, DEMO_HELLO);
}

static const char *feature_names(const struct gvirtio *v, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {GVIRTIO_F_VERSION_1, "VERSION_1"},
        {GVIRTIO_F_EVENT_IDX, "EVENT_IDX"},
        {GVBLK_F_SEG_MAX, "SEG_MAX"},
        {GVBLK_F_BLK_SIZE, "BLK_SIZE"},
        {GVBLK_F_FLUSH, "FLUSH"},
        {GVBLK_F_MQ, "MQ"},
        {GVBLK_F_DISCARD, "DISCARD"},
        {GVBLK_F_WRITE_ZEROES, "WRITE_ZEROES"},
        {GVBLK_F_RO, "RO"},
    };
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && used < len; i++)
        if (gvirtio_has(v, names[i].bit))
            used +=
                (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", names[i].name);
    return buf;
}

static int disk_up(struct demo *d)
{
    const struct mockhv_pci_func *fn =
        gpci_find(&d->bus, GVIRTIO_VENDOR, GVIRTIO_DEVICE_BASE + GVBLK_DEVICE_ID);
    struct gvblk_opts opts = {
        .virtio = {.irq = GVIRTIO_IRQ_MSIX, .timeout_ms = DEMO_TIMEOUT_MS, .msi_data_base = 0x40},
        .nr_queues = 4,
        .queue_size = 128,
    };
    char feats[160], id[GVBLK_ID_BYTES + 1];
    uint8_t st;
    int rc;

    rc = gvblk_init(&d->blk, d->hv, &d->arena, &d->bus, fn, &opts);
    if (rc) {
        demo_fail("virtio-blk at %02x:%02x.%u: %s", fn->bdf >> 8, gpci_bdf_dev(fn->bdf),
                  gpci_bdf_fn(fn->bdf), strerror(-rc));
        return rc;
    }
    d->blk_up = true;
    for (unsigned q = 0; q < d->blk.nr_queues; q++)
        d->blk.queues[q].vq->vcpu = q % d->opts.vcpus;
    demo_info("virtio-blk %02x:%02x.%u: DRIVER_OK, features %s", fn->bdf >> 8,
              gpci_bdf_dev(fn->bdf), gpci_bdf_fn(fn->bdf),
              feature_names(&d->blk.dev, feats, sizeof(feats)));
    demo_info("capacity %" PRIu64 " sectors (%" PRIu64 " MiB), block size %u, %u queue%s of %u, "
              "MSI-X with %u vectors",
              d->blk.capacity, d->blk.capacity >> 11, d->blk.blk_size, d->blk.nr_queues,
              d->blk.nr_queues == 1 ? "" : "s", d->blk.queues[0].vq->size, d->blk.dev.msix_vectors);
    rc = gvblk_get_id(&d->blk, 0, id, &st);
    if (rc || st != GVBLK_S_OK || strcmp(id, DEMO_SERIAL)) {
        demo_fail("GET_ID: %s, status %s, id \"%s\"", strerror(-rc), gvblk_status_name(st), id);
        return rc ? rc : -EIO;
    }
    demo_info("GET_ID: \"%s\"", id);
    return 0;
}

/*
 * Every request of one pass (chunks of GVBLK_MAX_XFER, spread round-robin
 * over the queues from queue `shift` on) is submitted and kicked before the
 * first is waited for.
 */
static int disk_pass(struct demo *d, uint32_t type, uint8_t *data, size_t len, unsigned shift)
{
    size_t nr = len / GVBLK_MAX_XFER;
    struct gvblk_req *reqs = calloc(nr, sizeof(*reqs));
    unsigned nq = d->blk.nr_queues, in_flight = 0;
    int rc = 0;

    if (!reqs)
        return -ENOMEM;
    for (size_t i = 0; i < nr && !rc; i++) {
        reqs[i] = (struct gvblk_req){
            .type = type,
            .sector = i * (GVBLK_MAX_XFER / GVBLK_SECTOR),
            .buf = data + i * GVBLK_MAX_XFER,
            .len = GVBLK_MAX_XFER,
        };
        rc = gvblk_submit(&d->blk, (unsigned)((i + shift) % nq), &reqs[i]);
    }
    for (unsigned q = 0; q < nq && !rc; q++) {
        in_flight += gvblk_in_flight(&d->blk, q);
        rc = gvblk_kick(&d->blk, q);
    }
    if (in_flight > d->max_in_flight)
        d->max_in_flight = in_flight;
    for (size_t i = 0; i < nr && !rc; i++) {
        struct gvblk_req *done;

        rc = gvblk_complete(&d->blk, (unsigned)((i + shift) % nq), &done, DEMO_TIMEOUT_MS);
        if (!rc && done->status != GVBLK_S_OK) {
            demo_fail("%s of sector %" PRIu64 ": status %s", type == GVBLK_T_IN ? "read" : "write",
                      done->sector, gvblk_status_name(done->status));
            rc = -EIO;
        }
    }
    free(reqs);
    return rc;
}

int demo_guest_disk(struct demo *d)
{
    uint8_t *out = malloc(DEMO_IO_BYTES), *in = calloc(1, DEMO_IO_BYTES);
    uint8_t st = 0xff;
    int rc;

    if (!out || !in) {
        rc = -ENOMEM;
        goto out;
    }
    gvblk_fill_pattern(out, DEMO_IO_BYTES, DEMO_DOMID);
    rc = disk_up(d);
    if (rc)
        goto out;

    rc = disk_pass(d, GVBLK_T_OUT, out, DEMO_IO_BYTES, 0);
    if (rc) {
        demo_fail("writing: %s", strerror(-rc));
        goto out;
    }
    demo_info("wrote %u KiB at sector 0: %u requests of %u KiB, up to %u in flight across %u "
              "queues",
              DEMO_IO_BYTES >> 10, DEMO_IO_BYTES / GVBLK_MAX_XFER, GVBLK_MAX_XFER >> 10,
              d->max_in_flight, d->blk.nr_queues);
    rc = gvblk_flush(&d->blk, 0, &st);
    if (rc || st != GVBLK_S_OK) {
        demo_fail("FLUSH: %s, status %s", strerror(-rc), gvblk_status_name(st));
        rc = rc ? rc : -EIO;
        goto out;
    }
    demo_info("FLUSH: %s", gvblk_status_name(st));
    rc = disk_pass(d, GVBLK_T_IN, in, DEMO_IO_BYTES, 1);
    if (rc) {
        demo_fail("reading back: %s", strerror(-rc));
        goto out;
    }
    if (memcmp(in, out, DEMO_IO_BYTES)) {
        demo_fail("the data read back differs from the data written");
        rc = -EILSEQ;
        goto out;
    }
    demo_info("read back %u KiB through the other queues: identical to what was written",
              DEMO_IO_BYTES >> 10);
    rc = demo_check_disk_file(d, 0, out, DEMO_IO_BYTES);
    if (rc) {
        demo_fail("host file %s does not hold the data: %s", d->disk, strerror(-rc));
        goto out;
    }
    demo_info("host: the first %u KiB of %s are the guest's data", DEMO_IO_BYTES >> 10, d->disk);
out:
    for (unsigned q = 0; d->blk_up && q < d->blk.nr_queues; q++) {
        d->disk_written += d->blk.queues[q].bytes_written;
        d->disk_read += d->blk.queues[q].bytes_read;
        d->disk_requests += d->blk.queues[q].requests;
    }
    free(out);
    free(in);
    return rc;
}
