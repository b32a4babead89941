/*
 * The fixture the virtio-blk e2e tests share: a mock domain, the real
 * ioreqd (run by dmproc) serving a virtio-blk disk on a fresh image file
 * (each sector filled with a known pattern), the firmware scan and the
 * guest driver of tools/guest brought up to DRIVER_OK. cmocka prestate: a
 * struct fx_cfg. Teardown fails the test unless ioreqd stops cleanly on
 * SIGTERM (exit status 0, no sanitizer report). With sync_trace, ioreqd
 * runs with the sync-trace library preloaded (sync-trace.c), logging the
 * disk image's writes and data syncs to fx->trace.
 */
#ifndef VBLK_FIXTURE_H
#define VBLK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dm-process.h"
#include "guest-arena.h"
#include "guest-pci.h"
#include "guest-virtio-blk.h"
#include "mockhv.h"
#include "scratch-dir.h"

#define DOMID      11
#define RAM        (64ull << 20)
#define DISK_BYTES (4ull << 20)
#define DISK_SEED  0x5eed
#define SERIAL     "e2e-vblk-serial"
#define TIMEOUT_MS 10000

extern const char *ioreqd_path;

struct fx_cfg {
    unsigned vcpus;
    unsigned queues;
    enum gvirtio_irq_mode irq;
    bool readonly;
    bool indirect;          /* driver uses indirect tables */
    const char *spec_extra; /* appended to the device spec, ",key=value..."; NULL: none */
    bool sync_trace;        /* preload sync-trace.c, its syncs delayed by SYNC_TRACE_DELAY_MS */
    bool sync_hold;         /* with sync_trace: no delay, every data sync held (fx_hold_*) */
    bool uart;              /* also a UART at COM1 (port 0x3f8, IRQ 4, backend null) */
    unsigned poll_us;       /* ioreqd --poll-us; 0: not given */
};

#define SYNC_TRACE_DELAY_MS 200

struct fx {
    struct fx_cfg cfg;
    char dir[256], disk[300], log[300], ctl[300], trace[300], hold[300];
    int hold_entered, hold_release; /* the test's ends of the FIFOs in hold/, or -1 */
    struct mockhv *hv;
    struct dmproc dm;
    struct gpci_bus *bus;
    struct garena arena;
    struct gvblk blk;
    bool blk_up;
};

/*
 * With sync_hold: waits (up to TIMEOUT_MS) until a data sync of the disk
 * is held in ioreqd; 0 or -ETIMEDOUT. fx_hold_release lets one held sync
 * go; fx_hold_end lets every sync go from now on (teardown does it too).
 */
int fx_hold_wait(struct fx *f);
void fx_hold_release(struct fx *f);
void fx_hold_end(struct fx *f);

/* What sectors [sector, sector + nr) of a fresh image hold. */
void initial_sectors(uint8_t *buf, uint64_t sector, size_t nr);
/* pread of the backing file, asserting it read len bytes. */
void file_read(struct fx *f, uint64_t off, void *buf, size_t len);
int setup(void **state);
int teardown(void **state);

/* The call first, then the status it filled in. */
#define expect_ok(call, status)                                                                    \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        assert_int_equal(rc_, 0);                                                                  \
        assert_int_equal((status), GVBLK_S_OK);                                                    \
    } while (0)

#endif
