/*
 * The hostile-guest suite's fixture: a mock domain, the real ioreqd serving
 * it (a private control socket for its counters), raw requests put straight
 * into a vCPU's slot, and the checks every case ends with: the daemon is
 * alive, answers a normal UART scratch-register round trip, printed no
 * sanitizer report, and stops cleanly on SIGTERM.
 *
 * Every wait is bounded; nothing asserts on how long anything took.
 */
#ifndef HOSTILE_FIXTURE_H
#define HOSTILE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xenctrl.h>
#include <xen/hvm/ioreq.h>

#include "dm-process.h"
#include "mockhv.h"

#define HFX_DOMID   7
#define HFX_WAIT_MS 20000
#define HFX_RAM     (64ull << 20)
#define HFX_COM1    0x3f8
#define HFX_SCR     7
/* The vCPU raw requests use; vCPU 0 stays for normal accesses. */
#define HFX_RAW_VCPU 1

struct hfx {
    struct mockhv *hv;
    struct dmproc dm; /* ioreqd */
    uint16_t id;      /* ioreqd's server */
    uint8_t scr;      /* last value of the canary round trip */
    char dir[64];
    char errpath[96];
    char ctlpath[96];
};

/* Counters from ioreqd's control socket ("stats"). */
struct hfx_stats {
    uint64_t sync, buffered, malformed, unclaimed, spurious;
    int64_t timeoffset;
};

int hfx_setup(void **state);
int hfx_teardown(void **state);

/* Mock with nr_vcpus, ioreqd with COM1 (backend null) plus `devices` (NULL-terminated, may be
 * NULL). */
void hfx_start(struct hfx *fx, unsigned nr_vcpus, const char *const *devices);
/* ioreqd is alive, printed no sanitizer report, and answers a scratch round trip. */
void hfx_serving(struct hfx *fx);
/* hfx_serving, then SIGTERM: exit status 0 and still no sanitizer report. */
void hfx_finish(struct hfx *fx);
void hfx_stats(struct hfx *fx, struct hfx_stats *st);
void hfx_dump_stderr(struct hfx *fx);

/*
 * Puts *req into the raw vCPU's slot (vp_eport kept, state READY), notifies,
 * waits for IORESP_READY, copies the answered slot back into *req, and hands
 * the slot back to the mock (state NONE).
 */
void hfx_raw(struct hfx *fx, ioreq_t *req);
/* The raw vCPU's slot as it is now. */
void hfx_slot(struct hfx *fx, ioreq_t *req);
/* Raw slot state byte written with nothing else changed. */
void hfx_slot_state(struct hfx *fx, uint8_t state, bool notify);

/* A guest access that must succeed: rc 0, or the test fails with ioreqd's log. */
void hfx_ok(struct hfx *fx, int rc);
/* Normal guest accesses that must succeed. */
uint32_t hfx_in(struct hfx *fx, uint16_t port, unsigned size);
void hfx_out(struct hfx *fx, uint16_t port, unsigned size, uint32_t v);
uint64_t hfx_mmio_rd(struct hfx *fx, uint64_t addr, unsigned size);
void hfx_mmio_wr(struct hfx *fx, uint64_t addr, unsigned size, uint64_t v);
uint32_t hfx_cfg_rd(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size);
void hfx_cfg_wr(struct hfx *fx, uint16_t bdf, unsigned reg, unsigned size, uint32_t v);
void hfx_ram_wr(struct hfx *fx, uint64_t gpa, const void *buf, size_t len);
void hfx_ram_rd(struct hfx *fx, uint64_t gpa, void *buf, size_t len);

/* Waits (bounded) until cond(fx) holds; fails the test, with ioreqd's log, if it never does. */
void hfx_wait_until(struct hfx *fx, bool (*cond)(struct hfx *fx, void *arg), void *arg,
                    const char *what);

/* Runs the tests whose names (without "test_") match the fnmatch pattern argv[2]. */
struct CMUnitTest;
int hfx_main(int argc, char **argv, const struct CMUnitTest *tests, size_t nr);

#endif
