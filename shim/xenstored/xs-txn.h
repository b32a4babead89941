/*
 * Transactions. Each one runs its reads and writes on its own view of the
 * store: a copy-on-write snapshot taken at start (xs_tree_clone takes one
 * reference on the store's root and copies nothing), so nobody else sees
 * its changes before commit and it sees nobody else's. Every node the
 * transaction touches is logged with its generation when first touched;
 * commit fails with EAGAIN if any of those nodes has changed in the real
 * tree since, and otherwise copies the changed nodes over and fires their
 * watches.
 *
 * Why a snapshot and not an overlay (a log of the transaction's writes
 * read through to the live tree, as C xenstored keeps them): an overlay
 * would let a transaction read what others committed after it started
 * (the conflict shows only at commit), where clients of this mock, and
 * its tests, count on a view frozen at start. A persistent tree gives
 * that view for the price of one reference: starting a transaction costs
 * nothing whatever the store's size, and a node costs memory twice only
 * once the transaction or the store changes it while both can see it.
 *
 * Memory: the log, and the node versions only snapshots still see, are
 * charged to the store's pool. When the pool is over its budget the store
 * drops the oldest transactions (xs_txn_drop): each keeps its id so the
 * client can end it, but has no view any more and can only fail (EAGAIN).
 */
#ifndef XS_TXN_H
#define XS_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "xs-tree.h"

struct xs_txn_entry {
    char *path;
    uint64_t generation; /* when first touched; 0 = absent */
    bool modified;       /* copy this node (or its absence) over on commit */
    bool fire;           /* fire watches on it and above */
    bool fire_exact;     /* fire watches on exactly this path */
};

struct xs_txn {
    uint32_t id;
    uint64_t started;    /* the pool's generation at start: the lowest is the oldest */
    struct xs_tree tree; /* its view; no root once dropped */
    struct xs_pool *pool;
    struct xs_txn_entry *log;
    unsigned int nr_log, cap_log, max_log;
    size_t charged; /* what the log has charged to the pool */
    bool overflow;  /* log hit max_log: the transaction can only fail */
    bool dropped;   /* view and log let go to bound memory: it can only fail */
    struct xs_txn *next;
};

/*
 * A transaction seeing main as it is now, with main's limits; at most
 * max_log nodes may be touched (ENOSPC beyond).
 */
int xs_txn_start(struct xs_txn **out, const struct xs_tree *main, uint32_t id,
                 unsigned int max_log) must_check;
/* Lets go of the view and the log; the transaction stays, dropped. */
void xs_txn_drop(struct xs_txn *tx);
void xs_txn_free(struct xs_txn *tx);

typedef void xs_fire_fn(void *opaque, const char *path, bool exact);

/*
 * Applies tx to main: 0, -EAGAIN on a conflict or if tx was dropped,
 * -ENOSPC if the log overflowed or the result would exceed main's limits,
 * -ENOMEM. Calls fire for each change after applying all. tx stays
 * allocated; the caller frees it.
 */
int xs_txn_commit(struct xs_txn *tx, struct xs_tree *main, xs_fire_fn *fire,
                  void *opaque) must_check;

#endif
