/*
 * Consumer side of the buffered ring. Pointers and entries are read with
 * atomic loads: the page is shared with Xen and, on the mock, with another
 * process, and nothing read from it is trusted beyond one use.
 */
#include "bufring.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "log.h"

_Static_assert(sizeof(buf_ioreq_t) == 8, "one buffered slot is 8 bytes");

_Static_assert(offsetof(buffered_iopage_t, buf_ioreq) % 8 == 0, "slots are 8-byte aligned");
_Static_assert(offsetof(buffered_iopage_t, read_pointer) == 0 &&
                   offsetof(buffered_iopage_t, write_pointer) == 4,
               "the pointers are one 64-bit word, as Xen's union bufioreq_pointers");

/*
 * The page is page-aligned, so every slot is 8-byte aligned even though
 * buf_ioreq_t only asks for 4; saying so lets clang inline the 8-byte
 * atomic load instead of calling libatomic (which nothing links).
 */
static buf_ioreq_t bufring_entry(buffered_iopage_t *pg, uint32_t ptr)
{
    const uint64_t *slot = __builtin_assume_aligned(&pg->buf_ioreq[ptr % IOREQ_BUFFER_SLOT_NUM], 8);
    uint64_t raw = __atomic_load_n(slot, __ATOMIC_RELAXED);
    buf_ioreq_t e;

    memcpy(&e, &raw, sizeof(e));
    return e;
}

/*
 * Both pointers in one 64-bit load: with BUFIOREQ_ATOMIC Xen rebases them
 * together with a 64-bit compare-and-swap, so two separate loads could pair
 * a read pointer from before a rebase with a write pointer from after it
 * and see a corrupt ring that never was.
 */
static void bufring_pointers(buffered_iopage_t *pg, uint32_t *rp, uint32_t *wp)
{
    const uint64_t *pair = __builtin_assume_aligned(&pg->read_pointer, 8);
    uint64_t raw = __atomic_load_n(pair, __ATOMIC_ACQUIRE);
    uint32_t p[2];

    memcpy(p, &raw, sizeof(p));
    *rp = p[offsetof(buffered_iopage_t, read_pointer) / sizeof(uint32_t)];
    *wp = p[offsetof(buffered_iopage_t, write_pointer) / sizeof(uint32_t)];
}

/*
 * Hands consumed slots back to Xen, after the reads of their contents: once
 * per run, because read_pointer shares its cache line with the
 * write_pointer the producer is busy moving (BUFRING_RUN_SLOTS).
 */
static void bufring_advance(buffered_iopage_t *pg, uint32_t n)
{
    __atomic_fetch_add(&pg->read_pointer, n, __ATOMIC_RELEASE);
}

/*
 * Consumes one run of the avail slots starting at rp, at most limit; sets
 * *stop when the run ends on something that must not be retried. Returns
 * the slots consumed.
 */
static uint32_t bufring_run(buffered_iopage_t *pg, uint32_t rp, uint32_t avail, uint32_t limit,
                            const struct bufring_sink *sink, struct ioreq_stats *stats,
                            unsigned *delivered, bool *stop)
{
    uint32_t done = 0;

    while (done < avail) {
        buf_ioreq_t e = bufring_entry(pg, rp + done);
        ioreq_t req = {
            .addr = e.addr,
            .data = e.data,
            .count = 1,
            .size = 1u << e.size,
            .state = STATE_IOREQ_READY,
            .dir = e.dir,
            .type = e.type,
        };
        uint32_t used = 1;

        if (req.size == 8) {
            if (avail - done < 2) {
                stats->malformed++;
                log_guest("ioreq: buffered 8-byte write without its second half");
                *stop = true;
                return done + 1;
            }
            req.data |= (uint64_t)bufring_entry(pg, rp + done + 1).data << 32;
            used = 2;
        }
        if (used > limit - done)
            break;
        done += used;

        if (req.dir == IOREQ_READ) {
            /* Nobody waits for the answer of a buffered request. */
            stats->malformed++;
            log_guest("ioreq: buffered read of 0x%x dropped", (unsigned)e.addr);
        } else {
            stats->buffered_requests++;
            (*delivered)++;
            sink->handle(sink->opaque, &req);
        }
    }
    return done;
}

/* Out of line: most calls (one per synchronous request) find the ring empty. */
static __attribute__((noinline)) unsigned bufring_drain_pending(buffered_iopage_t *pg,
                                                                const struct bufring_sink *sink,
                                                                struct ioreq_stats *stats)
{
    unsigned delivered = 0;
    uint32_t budget = BUFRING_DRAIN_MAX_SLOTS;
    bool stop = false;

    /* The ring may refill while we work: keep going, within the budget. */
    while (budget && !stop) {
        uint32_t rp, wp, avail, done;

        bufring_pointers(pg, &rp, &wp);
        avail = wp - rp;
        if (avail == 0)
            break;
        if (avail > IOREQ_BUFFER_SLOT_NUM) {
            /* Nothing in between can be trusted: drop it all, once. */
            stats->malformed++;
            log_guest("ioreq: buffered ring pointers corrupt (read %u, write %u)", rp, wp);
            __atomic_compare_exchange_n(&pg->read_pointer, &rp, wp, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED);
            break;
        }
        done = bufring_run(pg, rp, avail, budget < BUFRING_RUN_SLOTS ? budget : BUFRING_RUN_SLOTS,
                           sink, stats, &delivered, &stop);
        if (done == 0)
            break; /* an 8-byte write that does not fit the budget: next call */
        bufring_advance(pg, done);
        budget -= done;
    }
    return delivered;
}

unsigned bufring_drain(buffered_iopage_t *pg, const struct bufring_sink *sink,
                       struct ioreq_stats *stats)
{
    uint32_t rp, wp;

    bufring_pointers(pg, &rp, &wp);
    if (rp == wp)
        return 0;
    return bufring_drain_pending(pg, sink, stats);
}
