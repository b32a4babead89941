/*
 * Transactions: a private copy of the whole tree, taken at start, on which
 * the transaction's reads and writes run, so nobody else sees its changes
 * before commit and it sees nobody else's. Every node the transaction
 * touches is logged with its generation when first touched; commit fails
 * with EAGAIN if any of those nodes has changed in the real tree since,
 * and otherwise copies the changed nodes over and fires their watches.
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
    struct xs_tree tree; /* private copy */
    struct xs_txn_entry *log;
    unsigned int nr_log, cap_log, max_log;
    bool overflow; /* log hit max_log: the transaction can only fail */
    struct xs_txn *next;
};

/* Copies main; at most max_log nodes may be touched (ENOSPC beyond). */
int xs_txn_start(struct xs_txn **out, const struct xs_tree *main, uint32_t id,
                 unsigned int max_log) must_check;
void xs_txn_free(struct xs_txn *tx);

typedef void xs_fire_fn(void *opaque, const char *path, bool exact);

/*
 * Applies tx to main: 0, -EAGAIN on a conflict, -ENOSPC if the log
 * overflowed, -ENOMEM. Calls fire for each change after applying all.
 * tx stays allocated; the caller frees it.
 */
int xs_txn_commit(struct xs_txn *tx, struct xs_tree *main, xs_fire_fn *fire,
                  void *opaque) must_check;

#endif
