/*
 * Transaction log and commit. The log is small (bounded by max_log) and
 * searched linearly; commit sorts the changed paths so that a parent is
 * always applied before its children.
 */
#include "xs-txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What malloc adds to a block, roughly (as the tree counts it). */
#define XS_ALLOC_OVERHEAD 16

static struct xs_txn_entry *txn_find(struct xs_txn *tx, const char *path)
{
    for (unsigned int i = 0; i < tx->nr_log; i++)
        if (strcmp(tx->log[i].path, path) == 0)
            return &tx->log[i];
    return NULL;
}

static void txn_charge(struct xs_txn *tx, size_t bytes)
{
    xs_pool_charge(tx->pool, bytes);
    tx->charged += bytes;
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
            txn_charge(tx, (cap - tx->cap_log) * sizeof(*l));
            tx->log = l;
            tx->cap_log = cap;
        }
        e = &tx->log[tx->nr_log];
        memset(e, 0, sizeof(*e));
        e->path = strdup(path);
        if (!e->path)
            return -ENOMEM;
        txn_charge(tx, strlen(path) + 1 + XS_ALLOC_OVERHEAD);
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

    if (!tx)
        return -ENOMEM;
    xs_tree_clone(&tx->tree, main);
    tx->id = id;
    tx->pool = main->pool;
    tx->started = main->pool->generation;
    tx->max_log = max_log;
    tx->tree.hooks.access = txn_access;
    tx->tree.hooks.opaque = tx;
    *out = tx;
    return 0;
}

void xs_txn_drop(struct xs_txn *tx)
{
    for (unsigned int i = 0; i < tx->nr_log; i++)
        free(tx->log[i].path);
    free(tx->log);
    tx->log = NULL;
    tx->nr_log = tx->cap_log = 0;
    xs_pool_refund(tx->pool, tx->charged);
    tx->charged = 0;
    xs_tree_destroy(&tx->tree);
    tx->dropped = true;
}

void xs_txn_free(struct xs_txn *tx)
{
    if (!tx)
        return;
    xs_txn_drop(tx);
    free(tx);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct xs_txn_entry *const *x = a, *const *y = b;

    return strcmp((*x)->path, (*y)->path);
}

/*
 * -ENOSPC if applying the changed nodes would take main past its limits.
 * Past the conflict check every logged node is in main as tx first saw
 * it, and a removal in tx logged every node it removed, so the nodes
 * logged as changed are exactly those the commit replaces, adds or drops.
 */
static int commit_room(const struct xs_txn *tx, struct xs_txn_entry *const *changed,
                       unsigned int nr, const struct xs_tree *main)
{
    long nodes = 0;
    size_t add = 0, sub = 0;

    for (unsigned int i = 0; i < nr; i++) {
        const struct xs_node *now = xs_tree_lookup(main, changed[i]->path);
        const struct xs_node *then = xs_tree_lookup(&tx->tree, changed[i]->path);
        if (then) {
            nodes++;
            add += xs_node_size(then);
        }
        if (now) {
            nodes--;
            sub += xs_node_size(now);
        }
    }
    if (main->max_nodes && nodes > 0 && main->nr_nodes + (unsigned long)nodes > main->max_nodes)
        return -ENOSPC;
    if (main->max_size && add > sub && main->size + (add - sub) > main->max_size)
        return -ENOSPC;
    return 0;
}

int xs_txn_commit(struct xs_txn *tx, struct xs_tree *main, xs_fire_fn *fire, void *opaque)
{
    struct xs_txn_entry **order = NULL;
    unsigned int nr = 0;
    int rc = 0;

    if (tx->dropped)
        return -EAGAIN;
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
    rc = commit_room(tx, order, nr, main);
    if (rc < 0)
        goto out;
    qsort(order, nr, sizeof(*order), entry_cmp);
    for (unsigned int i = 0; i < nr && rc == 0; i++) {
        const struct xs_node *n = xs_tree_lookup(&tx->tree, order[i]->path);
        if (n)
            rc = xs_tree_put(main, order[i]->path, n->value, n->len, &n->perms);
        else
            rc = xs_tree_drop(main, order[i]->path);
    }
    if (rc < 0)
        goto out;
    for (unsigned int i = 0; i < tx->nr_log; i++) {
        const struct xs_txn_entry *e = &tx->log[i];
        if (e->fire || e->fire_exact)
            fire(opaque, e->path, !e->fire);
    }
out:
    free(order);
    return rc;
}
