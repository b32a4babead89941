/* Transactions: isolation, conflicts, commit of writes and removals, events on commit. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xs-txn.h"

static const struct xs_caller dom0 = {0, true};

struct fixture {
    struct xs_tree t;
    uint64_t gen;
    char fired[16][64];
    bool exact[16];
    unsigned int nr_fired;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(xs_tree_init(&f->t, &f->gen), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/x", "1", 1), 0);
    assert_int_equal(xs_tree_write(&f->t, &dom0, "/a/y", "2", 1), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    xs_tree_destroy(&f->t);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
