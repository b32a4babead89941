/*
 * ioreqd-demo: runs the steps and prints the summary (see demo.h).
 */
#include "demo.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [--ioreqd PATH] [--keep] [--vcpus N]\n"
            "Start a mock Xen domain, serve it with ioreqd (host bridge, Xen platform\n"
            "device, a UART and a virtio-blk disk) and run a guest program against it;\n"
            "then boot a disk from ioreqd with Xen's hvmloader and SeaBIOS on the mock's\n"
            "emulated vCPU.\n"
            "\n"
            "  --ioreqd PATH  the ioreqd program (default: the one in this build tree)\n"
            "  --keep         keep the work directory (disk image, UART output, ioreqd log)\n"
            "  --vcpus N      vCPUs of the mock domain, 1-%u (default 2)\n"
            "  -h, --help     show this help\n"
            "\n"
            "Exit status: 0 when every step was verified, 1 otherwise, 2 for bad arguments.\n",
            prog, MOCKHV_MAX_VCPUS);
}

static int parse_args(int argc, char **argv, struct demo_opts *o)
{
    static const struct option longopts[] = {
        {.name = "ioreqd", .has_arg = required_argument, .val = 'i'},
        {.name = "keep", .has_arg = no_argument, .val = 'k'},
        {.name = "vcpus", .has_arg = required_argument, .val = 'v'},
        {.name = "help", .has_arg = no_argument, .val = 'h'},
        {0},
    };
    char *end;
    long v;
    int c;

    o->vcpus = 2;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->ioreqd = optarg;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'v':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > MOCKHV_MAX_VCPUS) {
                fprintf(stderr, "%s: --vcpus: expected 1-%u, got '%s'\n", argv[0], MOCKHV_MAX_VCPUS,
                        optarg);
                return 2;
            }
            o->vcpus = (unsigned)v;
            break;
        case 'h':
            usage(stdout, argv[0]);
            exit(0);
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return 2;
    }
    return 0;
}

/* Interrupts the device models raised while the guest ran, from the mock's records. */
static void summary_interrupts(struct demo *d)
{
    uint64_t last = mockhv_irq_last_seq(d->hv), msi = 0, isa = 0, intx = 0, lost = 0;
    struct mockhv_irq_record r;

    for (uint64_t s = d->irq_seq0 + 1; s <= last; s++) {
        if (mockhv_irq_get(d->hv, s, &r)) {
            lost++;
            continue;
        }
        msi += r.kind == MOCKHV_IRQ_MSI;
        isa += r.kind == MOCKHV_IRQ_ISA && r.level;
        intx += r.kind == MOCKHV_IRQ_INTX && r.level;
    }
    printf("  interrupts        %" PRIu64 " MSI-X messages, %" PRIu64 " ISA IRQ and %" PRIu64
           " INTx assertions (mock hypervisor records)%s\n",
           msi, isa, intx, lost ? " (history partly dropped)" : "");
}

static void summary(struct demo *d)
{
    struct mockhv_stats st;

    mockhv_get_stats(d->hv, &st);
    printf("\nsummary\n");
    printf("  devices           %u PCI functions on bus 0, a 16550A UART at %#x\n",
           d->devices_found, DEMO_COM1);
    printf("  UART              %" PRIu64 " bytes out of COM1\n", d->uart_bytes);
    printf("  disk              %" PRIu64 " KiB written, %" PRIu64 " KiB read, %" PRIu64
           " requests, up to %u in flight\n",
           d->disk_written >> 10, d->disk_read >> 10, d->disk_requests, d->max_in_flight);
    summary_interrupts(d);
    printf("  ioreqs            %" PRIu64 " synchronous requests answered by ioreqd, %" PRIu64
           " unclaimed accesses answered by the mock\n",
           st.requests, st.unclaimed_reads + st.unclaimed_writes);
}

int main(int argc, char **argv)
{
    struct demo *d = calloc(1, sizeof(*d));
    int rc;

    if (!d)
        return 1;
    rc = parse_args(argc, argv, &d->opts);
    if (rc) {
        free(d);
        return rc;
    }
    garena_init(&d->arena, 1 << 20, DEMO_RAM - (1 << 20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("ioreqd-demo: a mock Xen HVM domain served by the real ioreqd\n");

    demo_step("1. mock hypervisor and xenstored");
    rc = demo_host_setup(d);
    if (!rc) {
        demo_step("2. ioreqd serves the domain");
        rc = demo_start_ioreqd(d);
    }
    if (!rc) {
        d->irq_seq0 = mockhv_irq_last_seq(d->hv);
        d->guest_ran = true;
        demo_step("3. guest firmware enumerates PCI (lspci -nn -v)");
        rc = demo_guest_lspci(d);
    }
    if (!rc) {
        demo_step("4. guest prints through the 16550 UART");
        rc = demo_guest_uart(d);
    }
    if (!rc) {
        demo_step("5. guest virtio-blk driver: write, flush, read back, verify");
        rc = demo_guest_disk(d);
    }
    if (d->guest_ran)
        summary(d);
    if (!rc) {
        if (d->blk_up) {
            gvblk_fini(&d->blk); /* the guest driver resets its device before shutdown */
            d->blk_up = false;
        }
        demo_step("6. stop ioreqd");
        rc = demo_stop_ioreqd(d);
    }
    if (!rc) {
        demo_step("7. real firmware: hvmloader and SeaBIOS boot a disk from ioreqd");
        rc = demo_firmware_boot(d);
    }
    if (rc && d->dm_started)
        demo_show_log_tail(d, 20);
    printf("\n%s\n", rc ? "FAIL: see the step marked FAILED above" : "PASS: every step verified");
    demo_host_cleanup(d);
    free(d);
    return rc ? 1 : 0;
}
