/*
 * Transactions: isolation, conflicts, commit of writes and removals,
 * events on commit, snapshots that share the store's nodes, limits on
 * commit, dropped transactions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xs-txn.h"

static const struct xs_caller dom0 = {0, true};

struct fixture {
    struct xs_tree t;
    struct xs_pool pool;
    char fired[16][64];
    bool exact[16];
    unsigned int nr_fired;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(xs_tree_init(&f->t, &f->pool), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/x", "1", 1), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/y", "2", 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    xs_tree_destroy(&f->t);
    /* Nodes and log entries were all given back. */
    assert_int_equal(f->pool.nodes, 0);
    assert_int_equal(f->pool.bytes, 0);
    free(f);
    return 0;
}

static void record(void *opaque, const char *path, bool exact)
{
    struct fixture *f = opaque;

    assert_true(f->nr_fired < 16);
    strcpy(f->fired[f->nr_fired], path);
    f->exact[f->nr_fired++] = exact;
}

static const char *value(struct xs_tree *t, const char *path)
{
    const struct xs_node *n = xs_tree_lookup(t, path);
    return n ? n->value : NULL;
}

static void test_isolation_and_commit(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/x", "tx", 2), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/new/deep", "n", 1), 0);
    /* Not visible outside before commit. */
    assert_string_equal(value(&f->t, "/a/x"), "1");
    assert_null(value(&f->t, "/a/new"));
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    assert_string_equal(value(&f->t, "/a/x"), "tx");
    assert_string_equal(value(&f->t, "/a/new/deep"), "n");
    /* Events for the written nodes only, none for implicit parents. */
    assert_int_equal(f->nr_fired, 2);
    assert_string_equal(f->fired[0], "/a/x");
    assert_string_equal(f->fired[1], "/a/new/deep");
    assert_false(f->exact[0]);
    xs_txn_free(tx);
}

static void test_outside_change_invisible(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/y", "out", 3), 0);
    assert_string_equal(value(&tx->tree, "/a/y"), "2");
    xs_txn_free(tx);
}

static void test_conflict_eagain(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;
    const struct xs_node *n;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_get(&tx->tree, &dom0, "/a/x", &n), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/y", "tx", 2), 0);
    /* Someone else changes a node the transaction read. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/x", "other", 5), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -EAGAIN);
    assert_string_equal(value(&f->t, "/a/y"), "2");
    assert_int_equal(f->nr_fired, 0);
    xs_txn_free(tx);
}

static void test_unrelated_change_commits(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/x", "tx", 2), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/b", "other", 5), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    assert_string_equal(value(&f->t, "/a/x"), "tx");
    assert_string_equal(value(&f->t, "/b"), "other");
    xs_txn_free(tx);
}

static void test_created_conflict(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    /* Both create the same node: the parent's child list changed under the transaction. */
    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/z", "tx", 2), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/z", "out", 3), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -EAGAIN);
    assert_string_equal(value(&f->t, "/a/z"), "out");
    xs_txn_free(tx);
}

static void test_rm_in_txn(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;
    bool removed;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_rm(&tx->tree, &dom0, "/a", &removed), 0);
    assert_true(removed);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/fresh", "f", 1), 0);
    assert_string_equal(value(&f->t, "/a/x"), "1");
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    assert_null(value(&f->t, "/a/x"));
    assert_null(value(&f->t, "/a/y"));
    assert_string_equal(value(&f->t, "/a/fresh"), "f");
    assert_int_equal(xs_tree_lookup(&f->t, "/a")->nr_children, 1);
    /* "/a" fired, its old children exactly, then the new node. */
    assert_int_equal(f->nr_fired, 4);
    assert_string_equal(f->fired[0], "/a");
    assert_false(f->exact[0]);
    assert_string_equal(f->fired[1], "/a/x");
    assert_true(f->exact[1]);
    assert_string_equal(f->fired[2], "/a/y");
    assert_true(f->exact[2]);
    assert_string_equal(f->fired[3], "/a/fresh");
    xs_txn_free(tx);
}

static void test_log_overflow(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 3), 0);
    /* "/" (child list), "/big", "/big/1" fill the log; one more node does not fit. */
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/big/1", "", 0), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/big/2", "", 0), -ENOSPC);
    assert_null(xs_tree_lookup(&tx->tree, "/big/2"));
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -ENOSPC);
    assert_null(xs_tree_lookup(&f->t, "/big"));
    xs_txn_free(tx);
}

static void test_nested_commit(void **state)
{
    struct fixture *f = *state;
    struct xs_perm p[2] = {{0, XS_PERM_NONE}, {5, XS_PERM_READ}};
    struct xs_perms perms = {.p = p, .nr = 2};
    struct xs_txn *tx;
    bool done;

    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/sub/one", "1", 1), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/sub/two/deep", "2", 1), 0);
    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/n/e/s/t/ed", "deep", 4), 0);
    assert_int_equal(xs_tree_mkdir(&tx->tree, &dom0, "/a/dir/below", &done), 0);
    assert_true(done);
    assert_int_equal(xs_tree_rm(&tx->tree, &dom0, "/a/sub", &done), 0);
    assert_int_equal(xs_tree_set_perms(&tx->tree, &dom0, "/a/y", &perms), 0);
    /* A node written, then removed with its parent, then written again. */
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/n/e/gone", "g", 1), 0);
    assert_int_equal(xs_tree_rm(&tx->tree, &dom0, "/n/e", &done), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/n/e/back", "b", 1), 0);
    assert_non_null(value(&f->t, "/a/sub/two/deep"));
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    xs_txn_free(tx);
    assert_null(xs_tree_lookup(&f->t, "/n/e/s"));
    assert_null(xs_tree_lookup(&f->t, "/n/e/gone"));
    assert_string_equal(value(&f->t, "/n/e/back"), "b");
    assert_non_null(xs_tree_lookup(&f->t, "/a/dir/below"));
    assert_null(xs_tree_lookup(&f->t, "/a/sub"));
    assert_null(xs_tree_lookup(&f->t, "/a/sub/two/deep"));
    assert_int_equal(xs_tree_lookup(&f->t, "/a/y")->perms.nr, 2);
    assert_string_equal(value(&f->t, "/a/x"), "1");
    /* The counts of the store follow: /, a, x, y, dir, below, n, e, back. */
    assert_int_equal(f->t.nr_nodes, 9);
    assert_int_equal(f->pool.nodes, 9);
}

static void test_start_shares_store(void **state)
{
    enum { TXNS = 100 };
    struct fixture *f = *state;
    static struct xs_txn *tx[TXNS];
    char path[32], v[3072];
    const struct xs_node *n;
    unsigned long nodes;
    size_t bytes;

    memset(v, 'v', sizeof(v));
    for (int i = 0; i < 3000; i++) {
        snprintf(path, sizeof(path), "/big/n%d", i);
        assert_int_equal(xs_tree_write(&f->t, &dom0, path, v, sizeof(v)), 0);
    }
    nodes = f->pool.nodes;
    bytes = f->pool.bytes;
    assert_true(bytes > 3000 * sizeof(v));
    for (int i = 0; i < TXNS; i++)
        assert_int_equal(xs_txn_start(&tx[i], &f->t, (uint32_t)i + 1, 64), 0);
    /* A hundred views of a 9 MB store, and not one node more. */
    assert_int_equal(f->pool.nodes, nodes);
    assert_int_equal(f->pool.bytes, bytes);
    /* Reading logs the path read, and that is all it costs. */
    for (int i = 0; i < TXNS; i++)
        assert_int_equal(xs_tree_get(&tx[i]->tree, &dom0, "/big/n1234", &n), 0);
    assert_int_equal(f->pool.nodes, nodes);
    assert_true(f->pool.bytes - bytes < TXNS * 256);
    /* One transaction writing copies its path: "/", "/big", the node. */
    assert_int_equal(xs_tree_write(&tx[0]->tree, &dom0, "/big/n5", "w", 1), 0);
    assert_int_equal(f->pool.nodes, nodes + 3);
    for (int i = 0; i < TXNS; i++)
        xs_txn_free(tx[i]);
    assert_int_equal(f->pool.nodes, nodes);
    assert_int_equal(f->pool.bytes, bytes);
}

static void test_snapshot_keeps_old_versions(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;
    unsigned long nodes = f->pool.nodes;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    /* The store moves on; the transaction's view keeps the old "/", "/a", "/a/x". */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/x", "new", 3), 0);
    assert_int_equal(f->pool.nodes, nodes + 3);
    assert_string_equal(value(&tx->tree, "/a/x"), "1");
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    xs_txn_free(tx);
    assert_int_equal(f->pool.nodes, nodes);
}

static void test_dropped(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;
    unsigned long nodes = f->pool.nodes;
    size_t bytes = f->pool.bytes;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/tx", "t", 1), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/x", "new", 3), 0);
    assert_true(f->pool.nodes > nodes + 3);
    xs_txn_drop(tx);
    assert_true(tx->dropped);
    assert_null(tx->tree.root);
    /* What is left is the store's, whose "/a/x" grew by two bytes. */
    assert_int_equal(f->pool.nodes, nodes);
    assert_int_equal(f->pool.bytes, bytes + 2);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -EAGAIN);
    assert_null(value(&f->t, "/a/tx"));
    assert_int_equal(f->nr_fired, 0);
    xs_txn_free(tx);
}

static void test_commit_within_limits(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;

    f->t.max_nodes = f->t.nr_nodes + 2;
    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    /* The view has the store's limits. */
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/p/q/r", "", 0), -ENOSPC);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/p/q", "", 0), 0);
    /* Others used the room meanwhile, elsewhere: no conflict, but no room either. */
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/b", "", 0), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -ENOSPC);
    assert_null(xs_tree_lookup(&f->t, "/a/p"));
    assert_int_equal(f->nr_fired, 0);
    xs_txn_free(tx);
    /* A commit that frees as much as it takes fits. */
    f->t.max_nodes = f->t.nr_nodes;
    assert_int_equal(xs_txn_start(&tx, &f->t, 2, 64), 0);
    assert_int_equal(xs_tree_rm(&tx->tree, &dom0, "/b", &(bool){false}), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/c", "", 0), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), 0);
    assert_non_null(xs_tree_lookup(&f->t, "/c"));
    xs_txn_free(tx);
    /* Bytes count as nodes do. */
    f->t.max_size = f->t.size + 3;
    assert_int_equal(xs_txn_start(&tx, &f->t, 3, 64), 0);
    assert_int_equal(xs_tree_write(&tx->tree, &dom0, "/a/x", "123", 3), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/c", "12", 2), 0);
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -ENOSPC);
    assert_string_equal(value(&f->t, "/a/x"), "1");
    xs_txn_free(tx);
}

static void test_conflict_on_removal(void **state)
{
    struct fixture *f = *state;
    struct xs_txn *tx;
    const struct xs_node *n;
    bool removed;

    assert_int_equal(xs_txn_start(&tx, &f->t, 1, 64), 0);
    assert_int_equal(xs_tree_get(&tx->tree, &dom0, "/a/x", &n), 0);
    assert_int_equal(xs_tree_rm(&f->t, &dom0, "/a", &removed), 0);
    assert_string_equal(value(&tx->tree, "/a/x"), "1");
    assert_int_equal(xs_txn_commit(tx, &f->t, record, f), -EAGAIN);
    xs_txn_free(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_isolation_and_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_change_invisible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_eagain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unrelated_change_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_in_txn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_shares_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_keeps_old_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_within_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_on_removal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
