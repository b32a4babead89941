/*
 * The node tree. Paths handed in are canonical and absolute (xs-path.c
 * checked them). Every operation first reports the nodes it will touch
 * through the access hook, so a transaction log that refuses (full) stops
 * it before anything has changed.
 */
#include "xs-tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xs-path.h"

static uint64_t tree_stamp(struct xs_tree *t)
{
    return ++*t->generation;
}

static int tree_note(struct xs_tree *t, const char *path, uint64_t gen, enum xs_access kind)
{
    if (!t->hooks.access)
        return 0;
    return t->hooks.access(t->hooks.opaque, path, gen, kind);
}

static void node_free(struct xs_node *n)
{
    for (unsigned int i = 0; i < n->nr_children; i++)
        node_free(n->children[i]);
    free(n->children);
    free(n->value);
    xs_perms_free(&n->perms);
    free(n->path);
    free(n);
}

static int node_add_child(struct xs_node *parent, struct xs_node *child)
{
    if (parent->nr_children == parent->cap_children) {
        unsigned int cap = parent->cap_children ? parent->cap_children * 2 : 4;
        struct xs_node **c = realloc(parent->children, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        parent->children = c;
        parent->cap_children = cap;
    }
    parent->children[parent->nr_children++] = child;
    child->parent = parent;
    return 0;
}

static void node_remove_child(struct xs_node *parent, struct xs_node *child)
{
    for (unsigned int i = 0; i < parent->nr_children; i++) {
        if (parent->children[i] != child)
            continue;
        memmove(&parent->children[i], &parent->children[i + 1],
                (parent->nr_children - i - 1) * sizeof(parent->children[0]));
        parent->nr_children--;
        return;
    }
}

/* A detached node for path (copied) with a copy of perms and an empty value. */
static struct xs_node *node_new(const char *path, size_t path_len, const struct xs_perms *perms)
{
    struct xs_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->path = malloc(path_len + 1);
    n->value = calloc(1, 1);
    if (!n->path || !n->value || xs_perms_copy(&n->perms, perms) < 0) {
        free(n->path);
        free(n->value);
        free(n);
        return NULL;
    }
    memcpy(n->path, path, path_len);
    n->path[path_len] = '\0';
    const char *slash = strrchr(n->path, '/');
    n->name = slash ? slash + 1 : n->path;
    return n;
}

static struct xs_node *node_find_child(const struct xs_node *n, const char *name, size_t len)
{
    for (unsigned int i = 0; i < n->nr_children; i++) {
        const struct xs_node *c = n->children[i];
        if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
            return n->children[i];
    }
    return NULL;
}

/*
 * Walks path from the root; returns the deepest existing node on it and
 * sets *exact when that node is path itself.
 */
static struct xs_node *tree_walk(const struct xs_tree *t, const char *path, bool *exact)
{
    struct xs_node *n = t->root;
    const char *p = path + 1;

    *exact = false;
    if (path[0] != '/')
        return n;
    while (*p) {
        const char *end = strchrnul(p, '/');
        struct xs_node *c = node_find_child(n, p, (size_t)(end - p));
        if (!c)
            return n;
        n = c;
        p = *end ? end + 1 : end;
    }
    *exact = true;
    return n;
}

int xs_tree_init(struct xs_tree *t, uint64_t *generation)
{
    struct xs_perm owner = {.domid = 0, .access = XS_PERM_NONE};
    struct xs_perms perms = {.p = &owner, .nr = 1};

    memset(t, 0, sizeof(*t));
    t->generation = generation;
    t->root = node_new("/", 1, &perms);
    if (!t->root)
        return -ENOMEM;
    t->root->generation = tree_stamp(t);
    t->nr_nodes = 1;
    return 0;
}

void xs_tree_destroy(struct xs_tree *t)
{
    if (t->root)
        node_free(t->root);
    t->root = NULL;
    t->nr_nodes = 0;
}

static struct xs_node *node_clone(const struct xs_node *src)
{
    struct xs_node *n = node_new(src->path, strlen(src->path), &src->perms);

    if (!n)
        return NULL;
    free(n->value);
    n->value = malloc(src->len + 1);
    if (!n->value)
        goto fail;
    memcpy(n->value, src->value, src->len + 1);
    n->len = src->len;
    n->generation = src->generation;
    for (unsigned int i = 0; i < src->nr_children; i++) {
        struct xs_node *c = node_clone(src->children[i]);
        if (!c)
            goto fail;
        if (node_add_child(n, c) < 0) {
            node_free(c);
            goto fail;
        }
    }
    return n;
fail:
    node_free(n);
    return NULL;
}

int xs_tree_clone(struct xs_tree *dst, const struct xs_tree *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->generation = src->generation;
    dst->root = node_clone(src->root);
    if (!dst->root)
        return -ENOMEM;
    dst->nr_nodes = src->nr_nodes;
    return 0;
}

struct xs_node *xs_tree_lookup(const struct xs_tree *t, const char *path)
{
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);

    return exact ? n : NULL;
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
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    int rc;

    rc = tree_note(t, path, exact ? n->generation : 0, XS_ACC_READ);
    if (rc < 0)
        return rc;
    if (!exact)
        return absent_error(n, who, XS_PERM_READ);
    if (!(xs_perms_access(&n->perms, who) & XS_PERM_READ))
        return -EACCES;
    *out = n;
    return 0;
}

/*
 * Creates the missing nodes from below `anc` down to path, each inheriting
 * its parent's permissions, owned by an unprivileged creator.
 */
static int tree_create(struct xs_tree *t, const struct xs_caller *who, struct xs_node *anc,
                       const char *path, struct xs_node **out)
{
    size_t start = anc->parent ? strlen(anc->path) : 0;
    struct xs_node *n = anc;
    uint64_t gen = tree_stamp(t);

    for (size_t i = start + 1;; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        struct xs_node *c = node_new(path, i, &n->perms);
        if (!c)
            return -ENOMEM;
        if (!who->privileged)
            c->perms.p[0].domid = (uint16_t)who->domid;
        if (node_add_child(n, c) < 0) {
            node_free(c);
            return -ENOMEM;
        }
        t->nr_nodes++;
        n->generation = gen;
        c->generation = gen;
        n = c;
        if (path[i] == '\0')
            break;
    }
    *out = n;
    return 0;
}

/* Logs the creation of path below anc: anc's child list and each new node. */
static int note_create(struct xs_tree *t, struct xs_node *anc, const char *path,
                       enum xs_access last)
{
    char buf[XS_PATH_BUF];
    size_t start = anc->parent ? strlen(anc->path) : 0;
    int rc = tree_note(t, anc->path, anc->generation, XS_ACC_WRITE);

    for (size_t i = start + 1; rc == 0; i++) {
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

static int tree_set_value(struct xs_node *n, const void *value, size_t len)
{
    char *v = malloc(len + 1);

    if (!v)
        return -ENOMEM;
    if (len)
        memcpy(v, value, len);
    v[len] = '\0';
    free(n->value);
    n->value = v;
    n->len = len;
    return 0;
}

int xs_tree_write(struct xs_tree *t, const struct xs_caller *who, const char *path,
                  const void *value, size_t len)
{
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    int rc;

    if (!(xs_perms_access(&n->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    if (exact) {
        rc = tree_note(t, path, n->generation, XS_ACC_FIRE);
        if (rc < 0)
            return rc;
    } else {
        rc = note_create(t, n, path, XS_ACC_FIRE);
        if (rc < 0)
            return rc;
        rc = tree_create(t, who, n, path, &n);
        if (rc < 0)
            return rc;
    }
    rc = tree_set_value(n, value, len);
    if (rc < 0)
        return rc;
    n->generation = tree_stamp(t);
    return 0;
}

int xs_tree_mkdir(struct xs_tree *t, const struct xs_caller *who, const char *path, bool *created)
{
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    int rc;

    *created = false;
    if (!(xs_perms_access(&n->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    if (exact)
        return tree_note(t, path, n->generation, XS_ACC_READ);
    rc = note_create(t, n, path, XS_ACC_FIRE);
    if (rc == 0)
        rc = tree_create(t, who, n, path, &n);
    if (rc == 0)
        *created = true;
    return rc;
}

static int note_subtree(struct xs_tree *t, const struct xs_node *n)
{
    for (unsigned int i = 0; i < n->nr_children; i++) {
        const struct xs_node *c = n->children[i];
        int rc = tree_note(t, c->path, c->generation, XS_ACC_FIRE_EXACT);
        if (rc == 0)
            rc = note_subtree(t, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static unsigned int subtree_size(const struct xs_node *n)
{
    unsigned int count = 1;

    for (unsigned int i = 0; i < n->nr_children; i++)
        count += subtree_size(n->children[i]);
    return count;
}

int xs_tree_rm(struct xs_tree *t, const struct xs_caller *who, const char *path, bool *removed)
{
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    int rc;

    *removed = false;
    if (!exact) {
        /* Removing nothing is fine, as long as the parent exists. */
        const char *slash = strrchr(path, '/');
        bool parent_exists = n->parent ? strncmp(n->path, path, (size_t)(slash - path)) == 0 &&
                                             n->path[slash - path] == '\0'
                                       : slash == path;
        rc = tree_note(t, path, 0, XS_ACC_READ);
        if (rc < 0)
            return rc;
        if (!(xs_perms_access(&n->perms, who) & XS_PERM_WRITE))
            return -EACCES;
        return parent_exists ? 0 : -ENOENT;
    }
    if (!n->parent)
        return -EINVAL;
    if (!(xs_perms_access(&n->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    rc = tree_note(t, n->parent->path, n->parent->generation, XS_ACC_WRITE);
    if (rc == 0)
        rc = tree_note(t, path, n->generation, XS_ACC_FIRE);
    if (rc == 0)
        rc = note_subtree(t, n);
    if (rc < 0)
        return rc;
    xs_tree_drop(t, path);
    *removed = true;
    return 0;
}

int xs_tree_set_perms(struct xs_tree *t, const struct xs_caller *who, const char *path,
                      const struct xs_perms *perms)
{
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    struct xs_perms copy;
    int rc;

    if (!exact)
        return absent_error(n, who, XS_PERM_WRITE);
    if (!(xs_perms_access(&n->perms, who) & XS_PERM_WRITE))
        return -EACCES;
    /* Only a privileged caller may hand a node to another owner. */
    if (!who->privileged && perms->p[0].domid != n->perms.p[0].domid)
        return -EPERM;
    rc = tree_note(t, path, n->generation, XS_ACC_FIRE);
    if (rc < 0)
        return rc;
    rc = xs_perms_copy(&copy, perms);
    if (rc < 0)
        return rc;
    xs_perms_free(&n->perms);
    n->perms = copy;
    n->generation = tree_stamp(t);
    return 0;
}

int xs_tree_put(struct xs_tree *t, const char *path, const char *value, size_t len,
                const struct xs_perms *perms)
{
    static const struct xs_caller root = {.domid = 0, .privileged = true};
    bool exact;
    struct xs_node *n = tree_walk(t, path, &exact);
    struct xs_perms copy;
    int rc;

    if (!exact) {
        rc = tree_create(t, &root, n, path, &n);
        if (rc < 0)
            return rc;
    }
    rc = tree_set_value(n, value, len);
    if (rc < 0)
        return rc;
    rc = xs_perms_copy(&copy, perms);
    if (rc < 0)
        return rc;
    xs_perms_free(&n->perms);
    n->perms = copy;
    n->generation = tree_stamp(t);
    return 0;
}

void xs_tree_drop(struct xs_tree *t, const char *path)
{
    struct xs_node *n = xs_tree_lookup(t, path);

    if (!n || !n->parent)
        return;
    node_remove_child(n->parent, n);
    n->parent->generation = tree_stamp(t);
    t->nr_nodes -= subtree_size(n);
    node_free(n);
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
