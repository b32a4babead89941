/*
 * The node tree. Paths handed in are canonical and absolute (xs-path.c
 * checked them). Every operation first looks (tree_find), checks
 * permissions and limits and reports the nodes it will touch through the
 * access hook, so a transaction log that refuses (full) stops it before
 * anything has changed; only then does it make the nodes on its path its
 * own (tree_own, copying those it shares) and change them.
 */
#include "xs-tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xs-path.h"

/* What malloc adds to a block, roughly; a node version is up to four blocks. */
#define XS_ALLOC_OVERHEAD 16

static uint64_t tree_stamp(struct xs_tree *t)
{
    return ++t->pool->generation;
}

static int tree_note(struct xs_tree *t, const char *path, uint64_t gen, enum xs_access kind)
{
    if (!t->hooks.access)
        return 0;
    return t->hooks.access(t->hooks.opaque, path, gen, kind);
}

void xs_pool_charge(struct xs_pool *pool, size_t bytes)
{
    pool->bytes += bytes;
}

void xs_pool_refund(struct xs_pool *pool, size_t bytes)
{
    pool->bytes -= bytes;
}

size_t xs_node_size(const struct xs_node *n)
{
    return strlen(n->name) + 1 + n->len + n->perms.nr * sizeof(n->perms.p[0]);
}

/* Brings n's share of pool->bytes up to date after n changed in place. */
static void node_account(struct xs_pool *pool, struct xs_node *n)
{
    size_t mem = sizeof(*n) + strlen(n->name) + 1 + n->len + 1 +
                 n->perms.nr * sizeof(n->perms.p[0]) + n->cap_children * sizeof(n->children[0]) +
                 4 * XS_ALLOC_OVERHEAD;

    pool->bytes = pool->bytes - n->mem + mem;
    n->mem = mem;
}

/* A node named name[0, name_len) with a copy of perms, an empty value, one reference. */
static struct xs_node *node_alloc(struct xs_pool *pool, const char *name, size_t name_len,
                                  const struct xs_perms *perms)
{
    struct xs_node *n = calloc(1, sizeof(*n) + name_len + 1);

    if (!n)
        return NULL;
    n->value = calloc(1, 1);
    if (!n->value || xs_perms_copy(&n->perms, perms) < 0) {
        free(n->value);
        free(n);
        return NULL;
    }
    memcpy(n->name, name, name_len);
    n->refs = 1;
    pool->nodes++;
    node_account(pool, n);
    return n;
}

/* Drops one reference; the last one frees n and drops n's on its children. */
static void node_put(struct xs_pool *pool, struct xs_node *n)
{
    if (!n || --n->refs > 0)
        return;
    for (unsigned int i = 0; i < n->nr_children; i++)
        node_put(pool, n->children[i]);
    free(n->children);
    free(n->value);
    xs_perms_free(&n->perms);
    pool->nodes--;
    pool->bytes -= n->mem;
    free(n);
}

/* A private copy of src: same name, value, permissions, generation and children (shared). */
static struct xs_node *node_copy(struct xs_pool *pool, const struct xs_node *src)
{
    struct xs_node *n = node_alloc(pool, src->name, strlen(src->name), &src->perms);
    char *v;

    if (!n)
        return NULL;
    v = malloc(src->len + 1);
    if (!v)
        goto fail;
    memcpy(v, src->value, src->len + 1);
    free(n->value);
    n->value = v;
    n->len = src->len;
    if (src->nr_children) {
        n->children = malloc(src->nr_children * sizeof(n->children[0]));
        if (!n->children)
            goto fail;
        memcpy(n->children, src->children, src->nr_children * sizeof(n->children[0]));
        n->nr_children = n->cap_children = src->nr_children;
        for (unsigned int i = 0; i < n->nr_children; i++)
            n->children[i]->refs++;
    }
    n->generation = src->generation;
    node_account(pool, n);
    return n;
fail:
    node_put(pool, n);
    return NULL;
}

static int node_add_child(struct xs_pool *pool, struct xs_node *parent, struct xs_node *child)
{
    if (parent->nr_children == parent->cap_children) {
        unsigned int cap = parent->cap_children ? parent->cap_children * 2 : 4;
        struct xs_node **c = realloc(parent->children, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        parent->children = c;
        parent->cap_children = cap;
        node_account(pool, parent);
    }
    parent->children[parent->nr_children++] = child;
    return 0;
}

/* Index of n's child called name[0, len), or -1. */
static long child_index(const struct xs_node *n, const char *name, size_t len)
{
    for (unsigned int i = 0; i < n->nr_children; i++) {
        const struct xs_node *c = n->children[i];
        if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
            return i;
    }
    return -1;
}

/* Where a walk along a path stopped. */
struct walk {
    struct xs_node *node;   /* deepest node of the tree on the path */
    struct xs_node *parent; /* its parent, NULL for the root */
    size_t end;             /* path[0, end) is node's path; 0 for the root ("/") */
    bool exact;             /* node is the one the path names */
};

/*
 * Follows path from the root as far as the tree has nodes. With own set,
 * every shared node on the way is replaced by a private copy first, so
 * the nodes found belong to t alone and may be changed; that can only
 * fail with -ENOMEM, and leaves the tree's contents as they were.
 */
static int tree_walk(struct xs_tree *t, const char *path, bool own, struct walk *w)
{
    const char *p = path + 1;
    struct xs_node *n;

    memset(w, 0, sizeof(*w));
    if (own && t->root->refs > 1) {
        struct xs_node *copy = node_copy(t->pool, t->root);
        if (!copy)
            return -ENOMEM;
        t->root->refs--;
        t->root = copy;
    }
    n = w->node = t->root;
    if (path[0] != '/')
        return 0;
    while (*p) {
        const char *end = strchrnul(p, '/');
        long i = child_index(n, p, (size_t)(end - p));
        if (i < 0)
            return 0;
        struct xs_node *c = n->children[i];
        if (own && c->refs > 1) {
            struct xs_node *copy = node_copy(t->pool, c);
            if (!copy)
                return -ENOMEM;
            c->refs--;
            n->children[i] = c = copy;
        }
        w->parent = n;
        w->node = n = c;
        w->end = (size_t)(end - path);
        p = *end ? end + 1 : end;
    }
    w->exact = true;
    return 0;
}

/* A look that changes nothing. */
static void tree_find(const struct xs_tree *t, const char *path, struct walk *w)
{
    /* Without own, tree_walk neither fails nor writes to the tree. */
    (void)tree_walk((struct xs_tree *)t, path, false, w);
}

static int tree_own(struct xs_tree *t, const char *path, struct walk *w)
{
    return tree_walk(t, path, true, w);
}

/* -ENOSPC if nodes more nodes, and add - sub more bytes, do not fit in t's limits. */
static int tree_room(const struct xs_tree *t, unsigned int nodes, size_t add, size_t sub)
{
    if (t->max_nodes && nodes && t->nr_nodes + nodes > t->max_nodes)
        return -ENOSPC;
    if (t->max_size && add > sub && t->size + (add - sub) > t->max_size)
        return -ENOSPC;
    return 0;
}

void xs_tree_destroy(struct xs_tree *t)
{
    if (t->root)
        node_put(t->pool, t->root);
    t->root = NULL;
    t->nr_nodes = 0;
    t->size = 0;
}

int xs_tree_init(struct xs_tree *t, struct xs_pool *pool)
{
    struct xs_perm owner = {.domid = 0, .access = XS_PERM_NONE};
    struct xs_perms perms = {.p = &owner, .nr = 1};

    memset(t, 0, sizeof(*t));
    t->pool = pool;
    t->root = node_alloc(pool, "", 0, &perms);
    if (!t->root)
        return -ENOMEM;
    t->root->generation = tree_stamp(t);
    t->nr_nodes = 1;
    t->size = xs_node_size(t->root);
    return 0;
}

void xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src)
{
    *dst = *src;
    memset(&dst->hooks, 0, sizeof(dst->hooks));
    if (dst->root)
        dst->root->refs++;
}

struct xs_node *xs_tree_lookup(const struct xs_tree *t, const char *path)
{
    struct walk w;

    tree_find(t, path, &w);
    return w.exact ? w.node : NULL;
}

/* xenstored answers EACCES rather than ENOENT when the caller could not see the parent. */
static int absent_error(const struct xs_node *ancestor, const struct xs_caller *who,
                        unsigned int need)
{
    return (xs_perms_access(&ancestor->perms, who) & need) ? -ENOENT : -EACCES;
}

int xs_tree_get(struct xs_tree *t, const struct xs_caller *who, const char *path,
                const struct xs_node **out)
{
    struct walk w;
    int rc;

    tree_find(t, path, &w);
    rc = tree_note(t, path, w.exact ? w.node->generation : 0, XS_ACC_READ);
    if (rc < 0)
        return rc;
    if (!w.exact)
        return absent_error(w.node, who, XS_PERM_READ);
    if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_READ))
        return -EACCES;
    *out = w.node;
    return 0;
}

/* Nodes and bytes (xs_node_size) that creating path below w->node adds, value aside. */
static void create_cost(const struct walk *w, const char *path, unsigned int *nodes, size_t *size)
{
    size_t start = w->end + 1, perms = w->node->perms.nr * sizeof(w->node->perms.p[0]);

    *nodes = 0;
    *size = 0;
    for (size_t i = start;; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        (*nodes)++;
        *size += i - start + 1 + perms;
        if (path[i] == '\0')
            break;
        start = i + 1;
    }
}

/*
 * Creates the missing nodes from below w->node (which t owns) down to path,
 * each inheriting its parent's permissions, owned by an unprivileged creator.
 */
static int tree_create(struct xs_tree *t, const struct xs_caller *who, const struct walk *w,
                       const char *path, struct xs_node **out)
{
    struct xs_node *n = w->node;
    size_t start = w->end + 1;
    uint64_t gen = tree_stamp(t);

    for (size_t i = start;; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        struct xs_node *c = node_alloc(t->pool, path + start, i - start, &n->perms);
        if (!c)
            return -ENOMEM;
        if (!who->privileged)
            c->perms.p[0].domid = (uint16_t)who->domid;
        if (node_add_child(t->pool, n, c) < 0) {
            node_put(t->pool, c);
            return -ENOMEM;
        }
        t->nr_nodes++;
        t->size += xs_node_size(c);
        n->generation = gen;
        c->generation = gen;
        n = c;
        if (path[i] == '\0')
            break;
        start = i + 1;
    }
    *out = n;
    return 0;
}

/* Logs the creation of path below w->node: its child list and each new node. */
static int note_create(struct xs_tree *t, const struct walk *w, const char *path,
                       enum xs_access last)
{
    char buf[XS_PATH_BUF];
    int rc;

    memcpy(buf, path, w->end);
    strcpy(buf + w->end, w->end ? "" : "/");
    rc = tree_note(t, buf, w->node->generation, XS_ACC_WRITE);
    for (size_t i = w->end + 1; rc == 0; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        memcpy(buf, path, i);
        buf[i] = '\0';
        rc = tree_note(t, buf, 0, path[i] ? XS_ACC_WRITE : last);
        if (path[i] == '\0')
            break;
    }
    return rc;
}

static int tree_set_value(struct xs_tree *t, struct xs_node *n, const void *value, size_t len)
{
    char *v = malloc(len + 1);

    if (!v)
        return -ENOMEM;
    if (len)
        memcpy(v, value, len);
    v[len] = '\0';
    free(n->value);
    n->value = v;
    t->size = t->size - n->len + len;
    n->len = len;
    node_account(t->pool, n);
    return 0;
}

static int tree_set_perms(struct xs_tree *t, struct xs_node *n, const struct xs_perms *perms)
{
    struct xs_perms copy;
    int rc = xs_perms_copy(&copy, perms);

    if (rc < 0)
        return rc;
    t->size = t->size - n->perms.nr * sizeof(n->perms.p[0]) + copy.nr * sizeof(copy.p[0]);
    xs_perms_free(&n->perms);
    n->perms = copy;
    node_account(t->pool, n);
    return 0;
}

int xs_tree_write(struct xs_tree *t, const struct xs_caller *who, const char *path,
                  const void *value, size_t len)
{
    struct walk w;
    struct xs_node *n;
    unsigned int nodes;
    size_t size;
    int rc;

    tree_find(t, path, &w);
    if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    if (w.exact) {
        rc = tree_room(t, 0, len, w.node->len);
        if (rc == 0)
            rc = tree_note(t, path, w.node->generation, XS_ACC_FIRE);
    } else {
        create_cost(&w, path, &nodes, &size);
        rc = tree_room(t, nodes, size + len, 0);
        if (rc == 0)
            rc = note_create(t, &w, path, XS_ACC_FIRE);
    }
    if (rc == 0)
        rc = tree_own(t, path, &w);
    if (rc < 0)
        return rc;
    n = w.node;
    if (!w.exact)
        rc = tree_create(t, who, &w, path, &n);
    if (rc == 0)
        rc = tree_set_value(t, n, value, len);
    if (rc == 0)
        n->generation = tree_stamp(t);
    return rc;
}

int xs_tree_mkdir(struct xs_tree *t, const struct xs_caller *who, const char *path, bool *created)
{
    struct walk w;
    struct xs_node *n;
    unsigned int nodes;
    size_t size;
    int rc;

    *created = false;
    tree_find(t, path, &w);
    if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    if (w.exact)
        return tree_note(t, path, w.node->generation, XS_ACC_READ);
    create_cost(&w, path, &nodes, &size);
    rc = tree_room(t, nodes, size, 0);
    if (rc == 0)
        rc = note_create(t, &w, path, XS_ACC_FIRE);
    if (rc == 0)
        rc = tree_own(t, path, &w);
    if (rc == 0)
        rc = tree_create(t, who, &w, path, &n);
    if (rc == 0)
        *created = true;
    return rc;
}

/* Logs every node below n, whose path is buf[0, len), as deleted. */
static int note_subtree(struct xs_tree *t, const struct xs_node *n, char *buf, size_t len)
{
    for (unsigned int i = 0; i < n->nr_children; i++) {
        const struct xs_node *c = n->children[i];
        size_t l = strlen(c->name);
        int rc;

        /* Cannot happen: every node was created through a checked path. */
        if (len + 1 + l >= XS_PATH_BUF)
            return -EINVAL;
        buf[len] = '/';
        memcpy(buf + len + 1, c->name, l + 1);
        rc = tree_note(t, buf, c->generation, XS_ACC_FIRE_EXACT);
        if (rc == 0)
            rc = note_subtree(t, c, buf, len + 1 + l);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void subtree_count(const struct xs_node *n, unsigned int *nodes, size_t *size)
{
    (*nodes)++;
    *size += xs_node_size(n);
    for (unsigned int i = 0; i < n->nr_children; i++)
        subtree_count(n->children[i], nodes, size);
}

int xs_tree_rm(struct xs_tree *t, const struct xs_caller *who, const char *path, bool *removed)
{
    char buf[XS_PATH_BUF];
    const char *slash = strrchr(path, '/');
    size_t parent_len = slash ? (size_t)(slash - path) : 0;
    struct walk w;
    int rc;

    *removed = false;
    tree_find(t, path, &w);
    if (!w.exact) {
        /* Removing nothing is fine, as long as the parent exists. */
        rc = tree_note(t, path, 0, XS_ACC_READ);
        if (rc < 0)
            return rc;
        if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_WRITE))
            return -EACCES;
        return w.end == parent_len ? 0 : -ENOENT;
    }
    if (!w.parent)
        return -EINVAL;
    if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    memcpy(buf, path, parent_len);
    strcpy(buf + parent_len, parent_len ? "" : "/");
    rc = tree_note(t, buf, w.parent->generation, XS_ACC_WRITE);
    if (rc == 0)
        rc = tree_note(t, path, w.node->generation, XS_ACC_FIRE);
    if (rc == 0 && t->hooks.access) {
        strcpy(buf, path);
        rc = note_subtree(t, w.node, buf, strlen(buf));
    }
    if (rc == 0)
        rc = xs_tree_drop(t, path);
    if (rc == 0)
        *removed = true;
    return rc;
}

int xs_tree_set_perms(struct xs_tree *t, const struct xs_caller *who, const char *path,
                      const struct xs_perms *perms)
{
    struct walk w;
    int rc;

    tree_find(t, path, &w);
    if (!w.exact)
        return absent_error(w.node, who, XS_PERM_WRITE);
    if (!(xs_perms_access(&w.node->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    /* Only a privileged caller may hand a node to another owner. */
    if (!who->privileged && perms->p[0].domid != w.node->perms.p[0].domid)
        return -EPERM;
    rc = tree_room(t, 0, perms->nr * sizeof(perms->p[0]),
                   w.node->perms.nr * sizeof(w.node->perms.p[0]));
    if (rc == 0)
        rc = tree_note(t, path, w.node->generation, XS_ACC_FIRE);
    if (rc == 0)
        rc = tree_own(t, path, &w);
    if (rc == 0)
        rc = tree_set_perms(t, w.node, perms);
    if (rc == 0)
        w.node->generation = tree_stamp(t);
    return rc;
}

int xs_tree_put(struct xs_tree *t, const char *path, const char *value, size_t len,
                const struct xs_perms *perms)
{
    static const struct xs_caller root = {.domid = 0, .privileged = true};
    struct walk w;
    struct xs_node *n;
    int rc = tree_own(t, path, &w);

    if (rc < 0)
        return rc;
    n = w.node;
    if (!w.exact)
        rc = tree_create(t, &root, &w, path, &n);
    if (rc == 0)
        rc = tree_set_value(t, n, value, len);
    if (rc == 0)
        rc = tree_set_perms(t, n, perms);
    if (rc == 0)
        n->generation = tree_stamp(t);
    return rc;
}

int xs_tree_drop(struct xs_tree *t, const char *path)
{
    char parent[XS_PATH_BUF];
    const char *slash = strrchr(path, '/');
    size_t parent_len;
    unsigned int nodes = 0;
    size_t size = 0;
    struct xs_node *p, *c;
    struct walk w;
    long i;
    int rc;

    if (!slash || !slash[1])
        return 0; /* the root stays */
    parent_len = (size_t)(slash - path);
    memcpy(parent, path, parent_len);
    strcpy(parent + parent_len, parent_len ? "" : "/");
    /* Only the parent changes: the subtree is let go, not copied. */
    rc = tree_own(t, parent, &w);
    if (rc < 0 || !w.exact)
        return rc;
    p = w.node;
    i = child_index(p, slash + 1, strlen(slash + 1));
    if (i < 0)
        return 0;
    c = p->children[i];
    memmove(&p->children[i], &p->children[i + 1],
            (p->nr_children - (size_t)i - 1) * sizeof(p->children[0]));
    p->nr_children--;
    p->generation = tree_stamp(t);
    subtree_count(c, &nodes, &size);
    t->nr_nodes -= nodes;
    t->size -= size;
    node_put(t->pool, c);
    return 0;
}

int xs_node_children_blob(const struct xs_node *n, char **blob, size_t *len)
{
    size_t total = 0;
    char *b, *p;

    for (unsigned int i = 0; i < n->nr_children; i++)
        total += strlen(n->children[i]->name) + 1;
    b = malloc(total ? total : 1);
    if (!b)
        return -ENOMEM;
    p = b;
    for (unsigned int i = 0; i < n->nr_children; i++) {
        size_t l = strlen(n->children[i]->name) + 1;
        memcpy(p, n->children[i]->name, l);
        p += l;
    }
    *blob = b;
    *len = total;
    return 0;
}
