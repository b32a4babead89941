/*
 * How long the ioreq server polls after serving a request (ioreqd
 * --poll-us), adapted as KVM's halt-polling adapts halt_poll_ns: a request
 * that arrived after the poll ended, but within the longest window, means a
 * longer window would have caught it (grow); one that arrived later means
 * the polling was wasted (shrink). A request found while polling leaves the
 * window as it is.
 *
 * Pure arithmetic on nanoseconds: the caller reads the clock.
 */
#ifndef IOREQ_POLL_WINDOW_H
#define IOREQ_POLL_WINDOW_H

#include <stdint.h>

/* The first window after one that had shrunk to nothing. */
#define POLL_WINDOW_GROW_START_NS 10000u

struct poll_window {
    uint64_t max_ns; /* --poll-us; 0: polling off */
    uint64_t cur_ns; /* the next poll's length, 0..max_ns */
};

/* Starts at the longest window: the option asks for polling. */
void poll_window_init(struct poll_window *w, uint64_t max_ns);

/*
 * A request arrived through the event channel idle_ns after the last poll
 * began (the poll missed it): grow the window if a window of at most
 * max_ns would have caught it, shrink it otherwise.
 */
void poll_window_missed(struct poll_window *w, uint64_t idle_ns);

#endif
