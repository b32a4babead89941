/*
 * The xenstore database: a tree of nodes, each with a value (binary, maybe
 * empty), a permission list and a generation number that changes whenever
 * the node's value, permissions or list of children change.
 *
 * The tree enforces xenstore's rules on canonical absolute paths: implicit
 * creation of parents (inheriting the parent's permissions), recursive
 * removal, and permission checks for the caller. It knows nothing of
 * transactions or watches: it reports every node it is about to use
 * through an access hook, which the transaction code logs and the store
 * turns into watch events. The tree owns all its nodes.
 */
#ifndef XS_TREE_H
#define XS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "xs-perms.h"

struct xs_node {
    char *path;                /* full canonical path, owned */
    const char *name;          /* last component, points into path ("" for the root) */
    struct xs_node *parent;    /* NULL for the root */
    struct xs_node **children; /* in creation order, as xenstored lists them */
    unsigned int nr_children, cap_children;
    char *value; /* owned, NUL-terminated beyond len for convenience */
    size_t len;
    struct xs_perms perms;
    uint64_t generation; /* >= 1; 0 is reserved for "absent" */
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
    uint64_t *generation; /* counter shared by a store and its transactions */
    struct xs_tree_hooks hooks;
    unsigned int nr_nodes;
};

/* A tree holding only "/" owned by dom0 with no access for others ("n0"). */
int xs_tree_init(struct xs_tree *t, uint64_t *generation) must_check;
void xs_tree_destroy(struct xs_tree *t);
/* Deep copy with the same generations; dst gets no hooks. */
int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src) must_check;

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

/* Unchecked primitives for committing a transaction; no hooks are called. */
int xs_tree_put(struct xs_tree *t, const char *path, const char *value, size_t len,
                const struct xs_perms *perms) must_check;
void xs_tree_drop(struct xs_tree *t, const char *path);

/* Children names as "a\0b\0" into a malloc()ed buffer; -ENOMEM. */
int xs_node_children_blob(const struct xs_node *n, char **blob, size_t *len) must_check;

#endif
