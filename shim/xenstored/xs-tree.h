/*
 * The xenstore database: a tree of nodes, each with a value (binary, maybe
 * empty), a permission list and a generation number that changes whenever
 * the node's value, permissions or list of children change.
 *
 * The tree enforces xenstore's rules on canonical absolute paths: implicit
 * creation of parents (inheriting the parent's permissions), recursive
 * removal, permission checks for the caller, and size limits. It knows
 * nothing of transactions or watches: it reports every node it is about to
 * use through an access hook, which the transaction code logs and the
 * store turns into watch events.
 *
 * Trees are persistent (copy-on-write): nodes are reference counted and
 * may belong to several trees at once. Cloning a tree takes a reference
 * on its root and copies nothing; a tree that changes a node it shares
 * first copies that node and the ancestors above it that it shares too
 * (path copying), so no other tree sees the change. A tree alone owns its
 * nodes until it is cloned, and then changes them in place. A node
 * without a parent pointer or a full path can sit under any number of
 * parents; walks start from the root and carry the path.
 *
 * Memory: a pool shared by a store and its transactions counts every node
 * version alive in any tree (and whatever else its users charge to it),
 * so the store can bound what old versions kept for transactions cost.
 */
#ifndef XS_TREE_H
#define XS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "xs-perms.h"

/* What the trees of one store share. */
struct xs_pool {
    uint64_t generation; /* last one handed out: generations order all changes */
    unsigned long nodes; /* node versions alive, in all trees together */
    size_t bytes;        /* their memory, plus what xs_pool_charge() added */
};

struct xs_node {
    unsigned int refs; /* tree roots and parents pointing here; shared if > 1 */
    unsigned int nr_children, cap_children;
    struct xs_node **children; /* in creation order, as xenstored lists them */
    char *value;               /* owned, NUL-terminated beyond len for convenience */
    size_t len;
    struct xs_perms perms;
    uint64_t generation; /* >= 1; 0 is reserved for "absent" */
    size_t mem;          /* what this version counts in the pool */
    char name[];         /* last component of the path, "" for the root */
};

enum xs_access {
    XS_ACC_READ,       /* node (or its absence) was looked at */
    XS_ACC_WRITE,      /* node is created, changed or deleted, no event of its own */
    XS_ACC_FIRE,       /* node is the target of a change: fire watches on it and above */
    XS_ACC_FIRE_EXACT, /* node is deleted below a removed node: fire watches on it exactly */
};

/*
 * Called before an operation changes anything, once per node concerned;
 * generation is the node's before the operation (0 if absent). A non-zero
 * return aborts the operation with that error before any change.
 */
struct xs_tree_hooks {
    int (*access)(void *opaque, const char *path, uint64_t generation, enum xs_access kind);
    void *opaque;
};

struct xs_tree {
    struct xs_node *root;
    struct xs_pool *pool;
    struct xs_tree_hooks hooks;
    unsigned int nr_nodes; /* nodes in this tree, the root included */
    size_t size;           /* xs_node_size() of all of them */
    /* Limits on nr_nodes and size (0: none); growing past one fails with ENOSPC. */
    unsigned int max_nodes;
    size_t max_size;
};

/* A tree holding only "/" owned by dom0 with no access for others ("n0"). */
int xs_tree_init(struct xs_tree *t, struct xs_pool *pool) must_check;
/* Drops the tree's reference on its nodes; those no other tree holds are freed. */
void xs_tree_destroy(struct xs_tree *t);
/*
 * dst becomes a tree with src's nodes, generations, counts and limits,
 * sharing every node with it (nothing is copied); dst gets no hooks.
 */
void xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src);

/* Plain lookup, no checks, no hooks. */
struct xs_node *xs_tree_lookup(const struct xs_tree *t, const char *path);

/* The node for reading (value, children, permissions); -ENOENT / -EACCES. */
int xs_tree_get(struct xs_tree *t, const struct xs_caller *who, const char *path,
                const struct xs_node **out) must_check;
int xs_tree_write(struct xs_tree *t, const struct xs_caller *who, const char *path,
                  const void *value, size_t len) must_check;
/* *created tells whether the node is new (only then is there an event). */
int xs_tree_mkdir(struct xs_tree *t, const struct xs_caller *who, const char *path,
                  bool *created) must_check;
/* Recursive; a missing node is fine if its parent exists (then *removed is false). */
int xs_tree_rm(struct xs_tree *t, const struct xs_caller *who, const char *path,
               bool *removed) must_check;
int xs_tree_set_perms(struct xs_tree *t, const struct xs_caller *who, const char *path,
                      const struct xs_perms *perms) must_check;

/*
 * Unchecked primitives for committing a transaction: no hooks, no
 * permission checks and no limits (the caller checked what the commit
 * adds up to).
 */
int xs_tree_put(struct xs_tree *t, const char *path, const char *value, size_t len,
                const struct xs_perms *perms) must_check;
/* Removes path and everything below it, if there; -ENOMEM. */
int xs_tree_drop(struct xs_tree *t, const char *path) must_check;

/* Children names as "a\0b\0" into a malloc()ed buffer; -ENOMEM. */
int xs_node_children_blob(const struct xs_node *n, char **blob, size_t *len) must_check;

/*
 * What a node counts against a tree's max_size: its name (with a NUL), its
 * value and its permission entries, as xenstored counts a node's size.
 */
size_t xs_node_size(const struct xs_node *n);

/* Memory kept outside the trees on behalf of the store (transaction logs). */
void xs_pool_charge(struct xs_pool *pool, size_t bytes);
void xs_pool_refund(struct xs_pool *pool, size_t bytes);

#endif
