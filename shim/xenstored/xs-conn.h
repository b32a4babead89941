/*
 * Socket connections on a libevent base: framing of xsd_sockmsg messages,
 * non-blocking output, and the bounds that keep a hostile or stuck client
 * from growing the server: a frame longer than XENSTORE_PAYLOAD_MAX closes
 * the connection (as xenstored does), input is not read while a client's
 * unread output exceeds XS_CONN_OUT_PAUSE, a client whose output exceeds
 * XS_CONN_OUT_MAX (it stopped reading its watch events) is dropped, and
 * when all clients' output together would exceed XS_CONNS_OUT_MAX, the
 * clients with the most of it are dropped until it fits.
 *
 * Every callback runs with *set->lock held. Sending (from any thread, under
 * the lock) only queues bytes; xs_conns_flush(), on the loop's thread,
 * starts the writes and frees connections that died.
 */
#ifndef XS_CONN_H
#define XS_CONN_H

#include <pthread.h>
#include <stdbool.h>

#include "compiler.h"
#include "xs-store.h"

struct event_base;

#define XS_CONN_OUT_PAUSE (64u * 1024)
#define XS_CONN_OUT_MAX   (1024u * 1024)
#define XS_CONNS_OUT_MAX  (64u * 1024 * 1024)
#define XS_CONN_MAX       1024

struct xs_conn;

struct xs_conn_set {
    struct event_base *base;
    struct xs_store *store;
    pthread_mutex_t *lock;
    struct xs_conn *head;
    unsigned int nr, nr_dead;
    size_t out_bytes;       /* queued in all connections' output */
    unsigned long nr_sends; /* messages queued so far, to see a flush pass queue more */
};

/* Adopts fd (a connected stream socket) as a client of domain domid;
 * closes it on failure. */
int xs_conn_accept(struct xs_conn_set *set, int fd, unsigned int domid, bool privileged) must_check;
/* Loop thread only: writes pending output, frees dead connections. */
void xs_conns_flush(struct xs_conn_set *set);
void xs_conns_close_all(struct xs_conn_set *set);

#endif
