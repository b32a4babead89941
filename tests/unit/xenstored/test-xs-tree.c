/*
 * The node tree: implicit parents, permission inheritance and checks, rm,
 * generations, copy-on-write sharing between clones, size limits and the
 * pool's count of node versions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xs-tree.h"

static const struct xs_caller dom0 = {0, true};
static const struct xs_caller dom5 = {5, false};
static const struct xs_caller dom6 = {6, false};

struct fixture {
    struct xs_tree t;
    struct xs_pool pool;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(xs_tree_init(&f->t, &f->pool), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    xs_tree_destroy(&f->t);
    /* Every node version went back, and the pool's count with it. */
    assert_int_equal(f->pool.nodes, 0);
    assert_int_equal(f->pool.bytes, 0);
    free(f);
    return 0;
}

static void set_perms(struct xs_tree *t, const char *path, const char *a, const char *b)
{
    struct xs_perm p[2];
    struct xs_perms perms = {.p = p, .nr = b ? 2 : 1};

    assert_int_equal(xs_perm_parse(a, &p[0]), 0);
    if (b)
        assert_int_equal(xs_perm_parse(b, &p[1]), 0);
    assert_int_equal(xs_tree_set_perms(t, &dom0, path, &perms), 0);
}

static void test_write_creates_parents(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/b/c", "xyz", 3), 0);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/a/b/c", &n), 0);
    assert_int_equal(n->len, 3);
    assert_memory_equal(n->value, "xyz", 3);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/a/b", &n), 0);
    assert_int_equal(n->len, 0);
    assert_int_equal(n->nr_children, 1);
    assert_string_equal(n->children[0]->name, "c");
    assert_int_equal(f->t.nr_nodes, 4);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/a/x", &n), -ENOENT);
}

static void test_binary_value(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/bin", "a\0b", 3), 0);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/bin", &n), 0);
    assert_int_equal(n->len, 3);
    assert_memory_equal(n->value, "a\0b", 3);
}

static void test_children_order_and_blob(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;
    char *blob;
    size_t len;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/d/zz", "", 0), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/d/a", "", 0), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/d/m", "", 0), 0);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/d", &n), 0);
    assert_int_equal(xs_node_children_blob(n, &blob, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(blob, "zz\0a\0m\0", 7);
    free(blob);
}

static void test_perm_inheritance(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;

    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/vm", &(bool){false}), 0);
    set_perms(&f->t, "/vm", "n5", "r6");
    /* dom0 creates below: copies of the parent's permissions. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/vm/x/y", "1", 1), 0);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/vm/x/y", &n), 0);
    assert_int_equal(n->perms.nr, 2);
    assert_int_equal(n->perms.p[0].domid, 5);
    assert_int_equal(n->perms.p[0].access, XS_PERM_NONE);
    assert_int_equal(n->perms.p[1].domid, 6);
    assert_int_equal(n->perms.p[1].access, XS_PERM_READ);
    /* dom6 may read but not write; dom7 may do nothing. */
    assert_int_equal(xs_tree_get(&f->t, &dom6, "/vm/x/y", &n), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom6, "/vm/x/y", "2", 1), -EACCES);
    assert_int_equal(xs_tree_get(&f->t, &(struct xs_caller){7, false}, "/vm/x/y", &n), -EACCES);
    /* A missing node under a readable parent is ENOENT, under an unreadable one EACCES. */
    assert_int_equal(xs_tree_get(&f->t, &dom6, "/vm/x/none", &n), -ENOENT);
    assert_int_equal(xs_tree_get(&f->t, &(struct xs_caller){7, false}, "/vm/none", &n), -EACCES);
}

static void test_unprivileged_creator_owns(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;

    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/home5", &(bool){false}), 0);
    set_perms(&f->t, "/home5", "n0", "b5");
    assert_int_equal(xs_tree_write(&f->t, &dom5, "/home5/a/b", "v", 1), 0);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/home5/a/b", &n), 0);
    assert_int_equal(n->perms.p[0].domid, 5);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/home5/a", &n), 0);
    assert_int_equal(n->perms.p[0].domid, 5);
    /* Without write access to the nearest existing ancestor: EACCES. */
    assert_int_equal(xs_tree_write(&f->t, &dom6, "/home5/c", "v", 1), -EACCES);
    assert_int_equal(xs_tree_write(&f->t, &dom5, "/other", "v", 1), -EACCES);
}

static void test_set_perms_owner_change(void **state)
{
    struct fixture *f = *state;
    struct xs_perm p = {.domid = 6, .access = XS_PERM_NONE};
    struct xs_perms perms = {.p = &p, .nr = 1};

    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/own", &(bool){false}), 0);
    set_perms(&f->t, "/own", "n5", NULL);
    assert_int_equal(xs_tree_set_perms(&f->t, &dom5, "/own", &perms), -EPERM);
    p.domid = 5;
    p.access = XS_PERM_READ;
    assert_int_equal(xs_tree_set_perms(&f->t, &dom5, "/own", &perms), 0);
    assert_int_equal(xs_tree_set_perms(&f->t, &dom6, "/own", &perms), -EACCES);
    assert_int_equal(xs_tree_set_perms(&f->t, &dom0, "/nonexistent", &perms), -ENOENT);
}

static void test_rm(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;
    bool removed;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/r/a/b", "1", 1), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/r/c", "2", 1), 0);
    assert_int_equal(f->t.nr_nodes, 5);
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/r/a", &removed), 0);
    assert_true(removed);
    assert_int_equal(f->t.nr_nodes, 3);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/r/a/b", &n), -ENOENT);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/r/c", &n), 0);
    /* Missing node with an existing parent: fine; with a missing parent: ENOENT. */
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/r/a", &removed), 0);
    assert_false(removed);
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/r/a/b", &removed), -ENOENT);
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/", &removed), -EINVAL);
}

static void test_generation(void **state)
{
    struct fixture *f = *state;
    const struct xs_node *n;
    uint64_t g1, gp1;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/g/x", "1", 1), 0);
    g1 = xs_tree_lookup(&f->t, "/g/x")->generation;
    gp1 = xs_tree_lookup(&f->t, "/g")->generation;
    assert_int_not_equal(g1, 0);
    /* A new sibling changes the parent, not the node. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/g/y", "1", 1), 0);
    assert_int_equal(xs_tree_lookup(&f->t, "/g/x")->generation, g1);
    assert_true(xs_tree_lookup(&f->t, "/g")->generation > gp1);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/g/x", "2", 1), 0);
    assert_true(xs_tree_lookup(&f->t, "/g/x")->generation > g1);
    /* mkdir of an existing node changes nothing. */
    g1 = xs_tree_lookup(&f->t, "/g/x")->generation;
    bool created = true;
    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/g/x", &created), 0);
    assert_false(created);
    assert_int_equal(xs_tree_get(&f->t, &dom0, "/g/x", &n), 0);
    assert_int_equal(n->generation, g1);
    assert_memory_equal(n->value, "2", 1);
}

static void test_clone_independent(void **state)
{
    struct fixture *f = *state;
    struct xs_tree copy;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/c/x", "1", 1), 0);
    xs_tree_clone(&copy, &f->t);
    assert_int_equal(copy.nr_nodes, f->t.nr_nodes);
    assert_int_equal(xs_tree_write(&copy, &dom0, "/c/x", "2", 1), 0);
    assert_memory_equal(xs_tree_lookup(&f->t, "/c/x")->value, "1", 1);
    assert_memory_equal(xs_tree_lookup(&copy, "/c/x")->value, "2", 1);
    xs_tree_destroy(&copy);
}

/* n nodes /big/nI holding len bytes each. */
static void fill(struct xs_tree *t, unsigned int n, size_t len)
{
    char path[32], *v = malloc(len);

    assert_non_null(v);
    memset(v, 'v', len);
    for (unsigned int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/big/n%u", i);
        assert_int_equal(xs_tree_write(t, &dom0, path, v, len), 0);
    }
    free(v);
}

static void test_clones_share_nodes(void **state)
{
    enum { CLONES = 200 };
    struct fixture *f = *state;
    static struct xs_tree copies[CLONES];
    unsigned long nodes;
    size_t bytes;

    fill(&f->t, 3000, 3072);
    nodes = f->pool.nodes;
    bytes = f->pool.bytes;
    assert_int_equal(nodes, f->t.nr_nodes);
    assert_true(bytes > 3000u * 3072);
    /* Cloning copies nothing, however big the tree. */
    for (int i = 0; i < CLONES; i++)
        xs_tree_clone(&copies[i], &f->t);
    assert_int_equal(f->pool.nodes, nodes);
    assert_int_equal(f->pool.bytes, bytes);
    /* Reading through a clone copies nothing either. */
    assert_memory_equal(xs_tree_lookup(&copies[7], "/big/n2999")->value, "vvv", 3);
    assert_int_equal(f->pool.nodes, nodes);
    /* A change copies the path to the node only: "/", "/big" and the node. */
    assert_int_equal(xs_tree_write(&copies[0], &dom0, "/big/n5", "x", 1), 0);
    assert_int_equal(f->pool.nodes, nodes + 3);
    assert_true(f->pool.bytes < bytes + 3 * 4096 + 3000 * sizeof(void *));
    assert_memory_equal(xs_tree_lookup(&f->t, "/big/n5")->value, "vvv", 3);
    assert_memory_equal(xs_tree_lookup(&copies[1], "/big/n5")->value, "vvv", 3);
    /* A second change in the same clone reuses its copies of "/" and "/big". */
    assert_int_equal(xs_tree_write(&copies[0], &dom0, "/big/n6", "y", 1), 0);
    assert_int_equal(f->pool.nodes, nodes + 4);
    /* The original changing what clones see: old and new versions both live. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/big/n7", "z", 1), 0);
    assert_int_equal(f->pool.nodes, nodes + 7);
    assert_memory_equal(xs_tree_lookup(&copies[2], "/big/n7")->value, "vvv", 3);
    for (int i = 0; i < CLONES; i++)
        xs_tree_destroy(&copies[i]);
    /* Only the original's nodes are left. */
    assert_int_equal(f->pool.nodes, f->t.nr_nodes);
    assert_int_equal(f->pool.nodes, nodes);
    assert_memory_equal(xs_tree_lookup(&f->t, "/big/n7")->value, "z", 1);
}

static void test_owner_changes_in_place(void **state)
{
    struct fixture *f = *state;
    struct xs_tree copy;
    const struct xs_node *n;
    unsigned long nodes;

    fill(&f->t, 10, 8);
    nodes = f->pool.nodes;
    n = xs_tree_lookup(&f->t, "/big/n3");
    /* Not shared: the node itself changes, nothing is copied. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/big/n3", "new", 3), 0);
    assert_ptr_equal(xs_tree_lookup(&f->t, "/big/n3"), n);
    assert_int_equal(f->pool.nodes, nodes);
    /* Once a clone is gone, the original owns its nodes alone again. */
    xs_tree_clone(&copy, &f->t);
    xs_tree_destroy(&copy);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/big/n3", "again", 5), 0);
    assert_ptr_equal(xs_tree_lookup(&f->t, "/big/n3"), n);
    assert_int_equal(f->pool.nodes, nodes);
}

static void test_rm_shared_subtree(void **state)
{
    struct fixture *f = *state;
    struct xs_tree copy;
    bool removed;
    unsigned long nodes;

    fill(&f->t, 100, 16);
    nodes = f->pool.nodes;
    xs_tree_clone(&copy, &f->t);
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/big", &removed), 0);
    assert_true(removed);
    assert_int_equal(f->t.nr_nodes, 1);
    assert_int_equal(copy.nr_nodes, 102);
    /* The clone keeps the subtree; only "/" was copied. */
    assert_non_null(xs_tree_lookup(&copy, "/big/n99"));
    assert_null(xs_tree_lookup(&f->t, "/big"));
    assert_int_equal(f->pool.nodes, nodes + 1);
    xs_tree_destroy(&copy);
    assert_int_equal(f->pool.nodes, 1);
}

static void test_size_limits(void **state)
{
    struct fixture *f = *state;
    struct xs_perm p[3] = {{0, XS_PERM_NONE}, {5, XS_PERM_READ}, {6, XS_PERM_READ}};
    struct xs_perms perms = {.p = p, .nr = 3};
    char big[100] = {0};
    bool created;
    size_t size;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/l/a", "1234", 4), 0);
    /* Name and NUL, 4 bytes per permission entry, the value: "/" 1 + 4, "l" 2 + 4, "a" 2 + 4 + 4.
     */
    assert_int_equal(f->t.nr_nodes, 3);
    assert_int_equal(f->t.size, 5 + 6 + 10);
    f->t.max_nodes = 4;
    f->t.max_size = f->t.size + 20;
    size = f->t.size;
    /* Two nodes where one is left: refused, nothing created. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/l/b/c", "", 0), -ENOSPC);
    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/l/b/c", &created), -ENOSPC);
    assert_null(xs_tree_lookup(&f->t, "/l/b"));
    assert_int_equal(f->t.nr_nodes, 3);
    assert_int_equal(f->t.size, size);
    /* More bytes than are left: refused, the old value stays. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/l/a", big, 25), -ENOSPC);
    assert_memory_equal(xs_tree_lookup(&f->t, "/l/a")->value, "1234", 4);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/l/a", big, 24), 0);
    assert_int_equal(f->t.size, f->t.max_size);
    /* Full: two more permission entries do not fit, a value that shrinks does. */
    assert_int_equal(xs_tree_set_perms(&f->t, &dom0, "/l/a", &perms), -ENOSPC);
    assert_int_equal(xs_tree_lookup(&f->t, "/l/a")->perms.nr, 1);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/l/a", "", 0), 0);
    assert_int_equal(xs_tree_set_perms(&f->t, &dom0, "/l/a", &perms), 0);
    assert_int_equal(f->t.size, size - 4 + 8);
    /* One node more fits, then none. */
    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/l/d", &created), 0);
    assert_int_equal(f->t.nr_nodes, 4);
    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/l/e", &created), -ENOSPC);
    /* Removing gives room back. */
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/l/d", &created), 0);
    assert_int_equal(xs_tree_mkdir(&f->t, &dom0, "/l/e", &created), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_creates_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_order_and_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_perm_inheritance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprivileged_creator_owns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_perms_owner_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clone_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clones_share_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_changes_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_shared_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
