/*
 * The adaptive polling window (see poll-window.h). Doubling and halving, as
 * KVM's grow_halt_poll_ns and shrink_halt_poll_ns with their defaults; a
 * window below the grow start drops to 0, and from 0 the next grow starts
 * at the grow start (or max_ns if smaller).
 */
#include "poll-window.h"

void poll_window_init(struct poll_window *w, uint64_t max_ns)
{
    w->max_ns = max_ns;
    w->cur_ns = max_ns;
}

void poll_window_missed(struct poll_window *w, uint64_t idle_ns)
{
    uint64_t start = w->max_ns < POLL_WINDOW_GROW_START_NS ? w->max_ns : POLL_WINDOW_GROW_START_NS;

    if (w->max_ns == 0)
        return;
    if (idle_ns <= w->max_ns) {
        w->cur_ns = w->cur_ns ? w->cur_ns * 2 : start;
        if (w->cur_ns > w->max_ns)
            w->cur_ns = w->max_ns;
        return;
    }
    w->cur_ns /= 2;
    if (w->cur_ns < start)
        w->cur_ns = 0;
}
