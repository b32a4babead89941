/*
 * Consumer side of the buffered ring. Pointers and entries are read with
 * atomic loads: the page is shared with Xen and, on the mock, with another
 * process, and nothing read from it is trusted beyond one use.
 */
#include "bufring.h"

#include <stddef.h>
#include <string.h>

#include "log.h"

_Static_assert(sizeof(buf_ioreq_t) == 8, "one buffered slot is 8 bytes");

_Static_assert(offsetof(buffered_iopage_t, buf_ioreq) % 8 == 0, "slots are 8-byte aligned");

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

/* Hands the consumed slots back to Xen, after the reads of their contents. */
static void bufring_advance(buffered_iopage_t *pg, uint32_t n)
{
    __atomic_fetch_add(&pg->read_pointer, n, __ATOMIC_RELEASE);
}

unsigned bufring_drain(buffered_iopage_t *pg, const struct bufring_sink *sink,
                       struct ioreq_stats *stats)
{
    unsigned delivered = 0;
    uint32_t budget = IOREQ_BUFFER_SLOT_NUM;

    while (budget) {
        uint32_t rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
        uint32_t wp = __atomic_load_n(&pg->write_pointer, __ATOMIC_ACQUIRE);
        uint32_t avail = wp - rp;

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

        buf_ioreq_t e = bufring_entry(pg, rp);
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
            if (avail < 2) {
                stats->malformed++;
                log_guest("ioreq: buffered 8-byte write without its second half");
                bufring_advance(pg, 1);
                break;
            }
            req.data |= (uint64_t)bufring_entry(pg, rp + 1).data << 32;
            used = 2;
        }
        if (used > budget)
            break;
        budget -= used;

        if (req.dir == IOREQ_READ) {
            /* Nobody waits for the answer of a buffered request. */
            stats->malformed++;
            log_guest("ioreq: buffered read of 0x%x dropped", (unsigned)e.addr);
        } else {
            stats->buffered_requests++;
            delivered++;
            sink->handle(sink->opaque, &req);
        }
        bufring_advance(pg, used);
    }
    return delivered;
}
