/*
 * Transaction log and commit. The log is small (bounded by max_log) and
 * searched linearly; commit sorts the changed paths so that a parent is
 * always applied before its children.
 */
#include "xs-txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct xs_txn_entry *txn_find(struct xs_txn *tx, const char *path)
{
    for (unsigned int i = 0; i < tx->nr_log; i++)
        if (strcmp(tx->log[i].path, path) == 0)
            return &tx->log[i];
    return NULL;
}

static int txn_access(void *opaque, const char *path, uint64_t generation, enum xs_access kind)
{
    struct xs_txn *tx = opaque;
    struct xs_txn_entry *e = txn_find(tx, path);

    if (!e) {
        if (tx->nr_log >= tx->max_log) {
            tx->overflow = true;
            return -ENOSPC;
        }
        if (tx->nr_log == tx->cap_log) {
            unsigned int cap = tx->cap_log ? tx->cap_log * 2 : 8;
            struct xs_txn_entry *l = realloc(tx->log, cap * sizeof(*l));
            if (!l)
                return -ENOMEM;
            tx->log = l;
            tx->cap_log = cap;
        }
        e = &tx->log[tx->nr_log];
        memset(e, 0, sizeof(*e));
        e->path = strdup(path);
        if (!e->path)
            return -ENOMEM;
        e->generation = generation;
        tx->nr_log++;
    }
    switch (kind) {
    case XS_ACC_READ:
        break;
    case XS_ACC_WRITE:
        e->modified = true;
        break;
    case XS_ACC_FIRE:
        e->modified = e->fire = true;
        break;
    case XS_ACC_FIRE_EXACT:
        e->modified = e->fire_exact = true;
        break;
    }
    return 0;
}

int xs_txn_start(struct xs_txn **out, const struct xs_tree *main, uint32_t id, unsigned int max_log)
{
    struct xs_txn *tx = calloc(1, sizeof(*tx));
    int rc;

    if (!tx)
        return -ENOMEM;
    rc = xs_tree_clone(&tx->tree, main);
    if (rc < 0) {
        xs_tree_destroy(&tx->tree);
        free(tx);
        return rc;
    }
    tx->id = id;
    tx->max_log = max_log;
    tx->tree.hooks.access = txn_access;
    tx->tree.hooks.opaque = tx;
    *out = tx;
    return 0;
}

void xs_txn_free(struct xs_txn *tx)
{
    if (!tx)
        return;
    for (unsigned int i = 0; i < tx->nr_log; i++)
        free(tx->log[i].path);
    free(tx->log);
    xs_tree_destroy(&tx->tree);
    free(tx);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct xs_txn_entry *const *x = a, *const *y = b;

    return strcmp((*x)->path, (*y)->path);
}

int xs_txn_commit(struct xs_txn *tx, struct xs_tree *main, xs_fire_fn *fire, void *opaque)
{
    struct xs_txn_entry **order = NULL;
    unsigned int nr = 0;
    int rc = 0;

    if (tx->overflow)
        return -ENOSPC;
    for (unsigned int i = 0; i < tx->nr_log; i++) {
        const struct xs_node *n = xs_tree_lookup(main, tx->log[i].path);
        if ((n ? n->generation : 0) != tx->log[i].generation)
            return -EAGAIN;
    }
    order = malloc((tx->nr_log ? tx->nr_log : 1) * sizeof(*order));
    if (!order)
        return -ENOMEM;
    for (unsigned int i = 0; i < tx->nr_log; i++)
        if (tx->log[i].modified)
            order[nr++] = &tx->log[i];
    qsort(order, nr, sizeof(*order), entry_cmp);
    for (unsigned int i = 0; i < nr; i++) {
        const struct xs_node *n = xs_tree_lookup(&tx->tree, order[i]->path);
        if (n)
            rc = xs_tree_put(main, n->path, n->value, n->len, &n->perms);
        else
            xs_tree_drop(main, order[i]->path);
        if (rc < 0)
            goto out;
    }
    for (unsigned int i = 0; i < tx->nr_log; i++) {
        const struct xs_txn_entry *e = &tx->log[i];
        if (e->fire || e->fire_exact)
            fire(opaque, e->path, !e->fire);
    }
out:
    free(order);
    return rc;
}
