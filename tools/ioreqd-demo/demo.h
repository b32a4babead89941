/*
 * ioreqd-demo: one mock Xen domain served by the real ioreqd, and a small
 * guest program (the mock guest acting as firmware and driver) that shows
 * every part of the request path doing real work.
 *
 * demo-main.c runs the steps and the summary, demo-host.c owns the host
 * side (temporary directory, disk image, the ioreqd process, checks of the
 * backend files), demo-guest.c is the guest program.
 */
#ifndef IOREQD_DEMO_H
#define IOREQD_DEMO_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dm-process.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-uart.h"
#include "guest-virtio-blk.h"
#include "mockhv.h"

#define DEMO_DOMID      7
#define DEMO_RAM        (64ull << 20)
#define DEMO_DISK_BYTES (8ull << 20)
#define DEMO_IO_BYTES   (1024u << 10) /* written, flushed, read back */
#define DEMO_COM1       0x3f8
#define DEMO_SERIAL     "ioreqd-demo-disk"
#define DEMO_HELLO      "hello from the guest\r\n"
#define DEMO_TIMEOUT_MS 10000
/* What tools/guest/bootsector.S (MODE=0) prints, and the line it reads at LBA 1. */
#define DEMO_BOOT_RUNNING "BOOTSECTOR: running from the MBR"
#define DEMO_BOOT_LBA1    "LBA1: read by the BIOS from the boot disk"

struct demo_opts {
    const char *ioreqd; /* NULL: next to ioreqd-demo in the build tree */
    bool keep;
    unsigned vcpus;
};

struct demo {
    struct demo_opts opts;
    char ioreqd[PATH_MAX];
    char shim_libdir[PATH_MAX];
    char dir[PATH_MAX];
    char disk[PATH_MAX];
    char uart_out[PATH_MAX];
    char log[PATH_MAX];
    char hv_sock[PATH_MAX];
    char xs_sock[PATH_MAX];
    char ctl_sock[PATH_MAX]; /* ioreqd's control socket, so demos never collide */

    struct mockhv *hv;
    struct dmproc dm;
    bool dm_started;
    uint64_t irq_seq0; /* interrupt records before the guest ran */
    bool guest_ran;

    struct gpci_bus bus; /* large: keep it out of the stack */
    struct garena arena;
    struct guart uart;
    struct gvblk blk;
    bool blk_up;

    /* What the summary reports. */
    unsigned devices_found;
    uint64_t uart_bytes;
    uint64_t disk_written, disk_read, disk_requests;
    unsigned max_in_flight;
};

/* demo-host.c */
int demo_host_setup(struct demo *d);
int demo_start_ioreqd(struct demo *d);
int demo_check_uart_output(struct demo *d, const char *expect);
int demo_check_disk_file(struct demo *d, uint64_t off, const uint8_t *expect, size_t len);
int demo_stop_ioreqd(struct demo *d);
void demo_show_log_tail(struct demo *d, unsigned lines);
void demo_host_cleanup(struct demo *d);

/* demo-guest.c */
int demo_guest_lspci(struct demo *d);
int demo_guest_uart(struct demo *d);
int demo_guest_disk(struct demo *d);

/* demo-firmware.c: the boot of a real disk on mockxen --firmware. */
int demo_firmware_boot(struct demo *d);
/* demo-bootsector.c, generated from tools/guest/bootsector.S. */
extern const unsigned char demo_bootsector[512];

/* Step output: "[n] title" then indented detail lines. */
void demo_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void demo_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void demo_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
