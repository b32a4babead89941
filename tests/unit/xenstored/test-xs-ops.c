/*
 * Requests as they come off the wire, answered to a recording client:
 * replies, error names, watch events (initial, relative, removal,
 * special), transactions by id, DIRECTORY_PART and malformed payloads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "xs-ops.h"

#define MAX_MSGS 64

struct msg {
    uint32_t type, req_id, tx_id, len;
    char data[XENSTORE_PAYLOAD_MAX + 1];
};

struct rec_client {
    struct xs_client c;
    struct msg msgs[MAX_MSGS];
    unsigned int nr;
};

struct fixture {
    struct xs_store s;
    struct rec_client a, b;
};

static void rec_send(struct xs_client *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                     const void *payload, size_t len)
{
    struct rec_client *r = (struct rec_client *)c;
    struct msg *m;

    assert_true(r->nr < MAX_MSGS);
    assert_true(len <= XENSTORE_PAYLOAD_MAX);
    m = &r->msgs[r->nr++];
    m->type = type;
    m->req_id = req_id;
    m->tx_id = tx_id;
    m->len = (uint32_t)len;
    memcpy(m->data, payload, len);
    m->data[len] = '\0';
}

static const struct xs_client_ops rec_ops = {.send = rec_send};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(xs_store_init(&f->s), 0);
    xs_client_attach(&f->s, &f->a.c, &rec_ops, 0, true);
    xs_client_attach(&f->s, &f->b.c, &rec_ops, 0, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    xs_client_detach(&f->a.c);
    xs_client_detach(&f->b.c);
    xs_store_destroy(&f->s);
    free(f);
    return 0;
}

/* Sends a request (payload given with explicit length) and returns the first new message. */
static struct msg *req(struct rec_client *r, uint32_t type, uint32_t tx_id, const char *p,
                       size_t len)
{
    static uint32_t req_id = 100;
    struct xsd_sockmsg hdr = {
        .type = type, .req_id = ++req_id, .tx_id = tx_id, .len = (uint32_t)len};
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    unsigned int before = r->nr;

    memcpy(buf, p, len);
    xs_ops_request(&r->c, &hdr, buf);
    assert_true(r->nr > before);
    assert_int_equal(r->msgs[before].req_id, req_id);
    return &r->msgs[before];
}

#define REQ(r, type, lit)        req(r, type, 0, lit, sizeof(lit))
#define REQ_TX(r, type, tx, lit) req(r, type, tx, lit, sizeof(lit))

static void assert_ok(const struct msg *m, uint32_t type)
{
    assert_int_equal(m->type, type);
    assert_int_equal(m->len, 3);
    assert_string_equal(m->data, "OK");
}

static void assert_err(const struct msg *m, const char *name)
{
    assert_int_equal(m->type, XS_ERROR);
    assert_string_equal(m->data, name);
    assert_int_equal(m->len, strlen(name) + 1);
}

static void test_write_read(void **state)
{
    struct fixture *f = *state;
    struct msg *m;

    /* WRITE carries "<path>\0<value>" with no NUL after the value. */
    m = req(&f->a, XS_WRITE, 0, "/vm/name\0guest", 14);
    assert_ok(m, XS_WRITE);
    m = REQ(&f->a, XS_READ, "/vm/name");
    assert_int_equal(m->type, XS_READ);
    assert_int_equal(m->len, 5);
    assert_memory_equal(m->data, "guest", 5);
    m = REQ(&f->a, XS_READ, "/vm");
    assert_int_equal(m->len, 0);
    assert_err(REQ(&f->a, XS_READ, "/vm/none"), "ENOENT");
    /* Relative: against /local/domain/0. */
    assert_ok(req(&f->a, XS_WRITE, 0, "rel\0v", 5), XS_WRITE);
    m = REQ(&f->a, XS_READ, "/local/domain/0/rel");
    assert_memory_equal(m->data, "v", 1);
}

static void test_directory(void **state)
{
    struct fixture *f = *state;
    struct msg *m;

    m = REQ(&f->a, XS_DIRECTORY, "/local/domain/0");
    assert_int_equal(m->type, XS_DIRECTORY);
    assert_int_equal(m->len, sizeof("domid\0name"));
    assert_memory_equal(m->data, "domid\0name\0", m->len);
    assert_err(REQ(&f->a, XS_DIRECTORY, "/nope"), "ENOENT");
}

static void test_directory_part(void **state)
{
    struct fixture *f = *state;
    char path[64], gen[24];
    struct msg *m;
    unsigned int total = 0, off = 0, rounds = 0;

    /* 600 children of 8 bytes each ("c00000\0" plus one): more than one payload. */
    for (int i = 0; i < 600; i++) {
        int n = snprintf(path, sizeof(path), "/big/c%05d", i);
        assert_ok(req(&f->a, XS_WRITE, 0, path, (size_t)n + 1), XS_WRITE);
        f->a.nr = 0;
    }
    assert_err(REQ(&f->a, XS_DIRECTORY, "/big"), "E2BIG");
    for (;;) {
        char p[64];
        int n = snprintf(p, sizeof(p), "/big%c%u", '\0', off);
        f->a.nr = 0;
        m = req(&f->a, XS_DIRECTORY_PART, 0, p, (size_t)n + 1);
        assert_int_equal(m->type, XS_DIRECTORY_PART);
        if (rounds == 0)
            strcpy(gen, m->data);
        else
            assert_string_equal(m->data, gen);
        size_t glen = strlen(m->data) + 1, pos = glen;
        while (pos < m->len && m->data[pos]) {
            char want[16];
            snprintf(want, sizeof(want), "c%05u", total);
            assert_string_equal(m->data + pos, want);
            pos += strlen(want) + 1;
            total++;
        }
        off += (unsigned int)(pos - glen);
        rounds++;
        if (pos < m->len) { /* the extra NUL: complete */
            assert_int_equal(pos + 1, m->len);
            break;
        }
        assert_true(rounds < 10);
    }
    assert_int_equal(total, 600);
    assert_int_equal(rounds, 2);
    /* Past the end: just the generation and the end mark. */
    f->a.nr = 0;
    m = req(&f->a, XS_DIRECTORY_PART, 0,
            "/big\0"
            "99999",
            11);
    assert_int_equal(m->len, strlen(gen) + 2);
    /* Inside a name, or not a number. */
    assert_err(req(&f->a, XS_DIRECTORY_PART, 0,
                   "/big\0"
                   "3",
                   7),
               "EINVAL");
    assert_err(req(&f->a, XS_DIRECTORY_PART, 0, "/big\0x", 7), "EINVAL");
}

static void test_perms_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct msg *m;

    assert_ok(req(&f->a, XS_WRITE, 0, "/p\0", 3), XS_WRITE);
    assert_ok(REQ(&f->a, XS_SET_PERMS, "/p\0n0\0r5"), XS_SET_PERMS);
    m = REQ(&f->a, XS_GET_PERMS, "/p");
    assert_int_equal(m->type, XS_GET_PERMS);
    assert_int_equal(m->len, 6);
    assert_memory_equal(m->data, "n0\0r5\0", 6);
    assert_err(REQ(&f->a, XS_SET_PERMS, "/p\0q0"), "EINVAL");
    assert_err(REQ(&f->a, XS_SET_PERMS, "/p"), "EINVAL");
    assert_err(REQ(&f->a, XS_SET_PERMS, "/none\0n0"), "ENOENT");
}

static void test_watch_events(void **state)
{
    struct fixture *f = *state;
    struct msg *m;

    m = REQ(&f->b, XS_WATCH, "/w\0tokA");
    assert_ok(m, XS_WATCH);
    /* The initial event follows the reply. */
    assert_int_equal(f->b.nr, 2);
    assert_int_equal(f->b.msgs[1].type, XS_WATCH_EVENT);
    assert_int_equal(f->b.msgs[1].req_id, 0);
    assert_memory_equal(f->b.msgs[1].data, "/w\0tokA\0", 8);
    f->b.nr = 0;
    assert_ok(req(&f->a, XS_WRITE, 0,
                  "/w/x/y\0"
                  "1",
                  8),
              XS_WRITE);
    assert_int_equal(f->b.nr, 1);
    assert_memory_equal(f->b.msgs[0].data, "/w/x/y\0tokA\0", 12);
    /* Not below the watch: nothing. */
    f->b.nr = 0;
    assert_ok(req(&f->a, XS_WRITE, 0,
                  "/wx\0"
                  "1",
                  5),
              XS_WRITE);
    assert_int_equal(f->b.nr, 0);
    assert_err(REQ(&f->b, XS_WATCH, "/w\0tokA"), "EEXIST");
    assert_ok(REQ(&f->b, XS_UNWATCH, "/w\0tokA"), XS_UNWATCH);
    assert_err(REQ(&f->b, XS_UNWATCH, "/w\0tokA"), "ENOENT");
    f->b.nr = 0;
    assert_ok(req(&f->a, XS_WRITE, 0,
                  "/w/x/y\0"
                  "2",
                  8),
              XS_WRITE);
    assert_int_equal(f->b.nr, 0);
}

static void test_relative_watch(void **state)
{
    struct fixture *f = *state;

    REQ(&f->b, XS_WATCH, "dm\0rel");
    assert_memory_equal(f->b.msgs[1].data, "dm\0rel\0", 7);
    f->b.nr = 0;
    assert_ok(req(&f->a, XS_WRITE, 0, "/local/domain/0/dm/state\0ok", 27), XS_WRITE);
    assert_int_equal(f->b.nr, 1);
    assert_memory_equal(f->b.msgs[0].data, "dm/state\0rel\0", 13);
}

static void test_rm_events(void **state)
{
    struct fixture *f = *state;

    assert_ok(req(&f->a, XS_WRITE, 0,
                  "/r/a/b\0"
                  "1",
                  8),
              XS_WRITE);
    REQ(&f->b, XS_WATCH, "/r/a/b\0deep");
    REQ(&f->b, XS_WATCH, "/r\0top");
    f->b.nr = 0;
    assert_ok(REQ(&f->a, XS_RM, "/r/a"), XS_RM);
    /* "/r" watch sees the removed node once; the watch below it sees its own path. */
    assert_int_equal(f->b.nr, 2);
    assert_memory_equal(f->b.msgs[0].data, "/r/a\0top\0", 9);
    assert_memory_equal(f->b.msgs[1].data, "/r/a/b\0deep\0", 12);
    /* Removing what is gone, under an existing parent: OK; no parent: ENOENT. */
    assert_ok(REQ(&f->a, XS_RM, "/r/a"), XS_RM);
    assert_err(REQ(&f->a, XS_RM, "/r/a/b"), "ENOENT");
    assert_err(REQ(&f->a, XS_RM, "/"), "EINVAL");
}

static void test_mkdir(void **state)
{
    struct fixture *f = *state;

    REQ(&f->b, XS_WATCH, "/m\0t");
    f->b.nr = 0;
    assert_ok(REQ(&f->a, XS_MKDIR, "/m/d"), XS_MKDIR);
    assert_int_equal(f->b.nr, 1);
    f->b.nr = 0;
    assert_ok(REQ(&f->a, XS_MKDIR, "/m/d"), XS_MKDIR);
    assert_int_equal(f->b.nr, 0);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct msg *m;
    unsigned long t1, t2;

    m = REQ(&f->a, XS_TRANSACTION_START, "");
    assert_int_equal(m->type, XS_TRANSACTION_START);
    t1 = strtoul(m->data, NULL, 10);
    assert_true(t1 != 0);
    m = REQ(&f->b, XS_TRANSACTION_START, "");
    t2 = strtoul(m->data, NULL, 10);
    assert_ok(req(&f->a, XS_WRITE, (uint32_t)t1, "/t/x\0a", 6), XS_WRITE);
    assert_int_equal(req(&f->a, XS_WRITE, (uint32_t)t1, "/t/x\0a", 6)->tx_id, t1);
    assert_err(REQ(&f->b, XS_READ, "/t/x"), "ENOENT");
    m = REQ_TX(&f->a, XS_READ, (uint32_t)t1, "/t/x");
    assert_memory_equal(m->data, "a", 1);
    /* b's transaction creates the same node: whoever commits second gets EAGAIN. */
    assert_ok(req(&f->b, XS_WRITE, (uint32_t)t2, "/t/x\0b", 6), XS_WRITE);
    assert_ok(REQ_TX(&f->a, XS_TRANSACTION_END, (uint32_t)t1, "T"), XS_TRANSACTION_END);
    assert_err(REQ_TX(&f->b, XS_TRANSACTION_END, (uint32_t)t2, "T"), "EAGAIN");
    m = REQ(&f->b, XS_READ, "/t/x");
    assert_memory_equal(m->data, "a", 1);
    /* Ended transactions are gone; another client's id is unknown here. */
    assert_err(REQ_TX(&f->a, XS_READ, (uint32_t)t1, "/t/x"), "ENOENT");
    assert_err(REQ_TX(&f->a, XS_TRANSACTION_START, 5, ""), "EBUSY");
    m = REQ(&f->a, XS_TRANSACTION_START, "");
    t1 = strtoul(m->data, NULL, 10);
    assert_err(REQ_TX(&f->a, XS_TRANSACTION_END, (uint32_t)t1, "X"), "EINVAL");
    assert_ok(REQ_TX(&f->a, XS_TRANSACTION_END, (uint32_t)t1, "F"), XS_TRANSACTION_END);
}

static void test_txn_limit(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < XS_MAX_TXNS; i++)
        assert_int_equal(REQ(&f->a, XS_TRANSACTION_START, "")->type, XS_TRANSACTION_START);
    assert_err(REQ(&f->a, XS_TRANSACTION_START, ""), "ENOSPC");
    assert_ok(REQ(&f->a, XS_RESET_WATCHES, ""), XS_RESET_WATCHES);
    assert_int_equal(f->a.c.nr_txns, 0);
}

static void test_watch_limit(void **state)
{
    struct fixture *f = *state;
    char p[32];

    for (int i = 0; i < XS_MAX_WATCHES; i++) {
        int n = snprintf(p, sizeof(p), "/x%c%d", '\0', i);
        f->a.nr = 0;
        assert_ok(req(&f->a, XS_WATCH, 0, p, (size_t)n + 1), XS_WATCH);
    }
    f->a.nr = 0;
    assert_err(REQ(&f->a, XS_WATCH, "/x\0over"), "E2BIG");
    assert_int_equal(f->a.c.watches.nr, XS_MAX_WATCHES);
}

/* Watches are bounded in bytes (strings and overhead) as well as in number. */
static void test_watch_bytes(void **state)
{
    struct fixture *f = *state;
    char p[XENSTORE_PAYLOAD_MAX];
    unsigned int ok = 0;
    size_t len = 0;

    memcpy(p, "/w", 3);
    memset(p + 3, 't', 4000);
    for (int i = 0; i < 100; i++) {
        int n = snprintf(p + 4003, 16, "%d", i);
        f->a.nr = 0;
        struct msg *m = req(&f->a, XS_WATCH, 0, p, 4003 + (size_t)n + 1);
        if (m->type != XS_WATCH) {
            assert_err(m, "E2BIG");
            break;
        }
        ok++;
        len += 3 + 4000 + (size_t)n + 1 + XS_WATCH_OVERHEAD;
    }
    assert_int_equal(ok, XS_MAX_WATCH_BYTES / (4006 + XS_WATCH_OVERHEAD));
    assert_int_equal(f->a.c.watches.bytes, len);
    /* Removing one makes room for one. */
    f->a.nr = 0;
    p[4003] = '0';
    p[4004] = '\0';
    assert_ok(req(&f->a, XS_UNWATCH, 0, p, 4003 + 2), XS_UNWATCH);
    f->a.nr = 0;
    p[4003] = 'x';
    assert_ok(req(&f->a, XS_WATCH, 0, p, 4003 + 2), XS_WATCH);
    f->a.nr = 0;
    p[4003] = 'y';
    assert_err(req(&f->a, XS_WATCH, 0, p, 4003 + 2), "E2BIG");
}

/*
 * A store filled to its limits, in nodes and then in bytes, answers
 * ENOSPC, and takes less than half the pool's budget: the rest is for
 * transactions' views and logs.
 */
static void test_full_store(void **state)
{
    static const struct xs_caller dom0 = {0, true};
    static char v[4000];
    struct fixture *f = *state;
    char path[64];
    unsigned int pairs = 0, filled = 0;
    struct xs_txn *tx;
    uint32_t id;
    int rc;

    /* Short child lists keep this fast; every other node has children, as in a real store. */
    for (;; pairs++) {
        snprintf(path, sizeof(path), "/f/%u/%u/x", pairs / 128, pairs % 128);
        rc = xs_tree_write(&f->s.tree, &dom0, path, "", 0);
        if (rc < 0)
            break;
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(f->s.tree.nr_nodes > XS_STORE_MAX_NODES - 2);
    assert_true(f->s.tree.nr_nodes <= XS_STORE_MAX_NODES);
    assert_err(req(&f->a, XS_MKDIR, 0, "/f/0/0/y", 9), "ENOSPC");
    memset(v, 'v', sizeof(v));
    for (; filled < pairs; filled++) {
        snprintf(path, sizeof(path), "/f/%u/%u/x", filled / 128, filled % 128);
        rc = xs_tree_write(&f->s.tree, &dom0, path, v, sizeof(v));
        if (rc < 0)
            break;
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(f->s.tree.size > XS_STORE_MAX_SIZE - sizeof(v));
    assert_true(f->s.tree.size <= XS_STORE_MAX_SIZE);
    print_message("full store: %u nodes, %zu bytes of data, %zu bytes in the pool\n",
                  f->s.tree.nr_nodes, f->s.tree.size, f->s.pool.bytes);
    assert_true(f->s.pool.bytes <= f->s.pool_max / 2);
    /* The same through a request, by name. */
    f->a.nr = 0;
    size_t n = (size_t)snprintf(path, sizeof(path), "/f/%u/%u/x", filled / 128, filled % 128) + 1;
    char *msg = malloc(n + sizeof(v));
    assert_non_null(msg);
    memcpy(msg, path, n);
    memcpy(msg + n, v, sizeof(v));
    assert_err(req(&f->a, XS_WRITE, 0, msg, n + sizeof(v)), "ENOSPC");
    free(msg);
    /* A transaction rewriting every value of the full store fits too. */
    assert_int_equal(xs_client_txn_start(&f->a.c, &id), 0);
    tx = xs_client_txn(&f->a.c, id);
    tx->max_log = ~0u;
    v[0] = 'w';
    for (unsigned int i = 0; i < pairs; i++) {
        snprintf(path, sizeof(path), "/f/%u/%u/x", i / 128, i % 128);
        assert_int_equal(xs_tree_write(&tx->tree, &dom0, path, v, i < filled ? sizeof(v) : 0), 0);
    }
    print_message("and a transaction rewriting it: %zu bytes in the pool\n", f->s.pool.bytes);
    assert_true(f->s.pool.bytes <= f->s.pool_max);
    xs_store_trim(&f->s);
    assert_false(tx->dropped);
    assert_int_equal(xs_client_txn_end(&f->a.c, id, false), 0);
}

/* Over the pool's budget, the oldest transaction goes first; its client learns with EAGAIN. */
static void test_txn_dropped(void **state)
{
    struct fixture *f = *state;
    char w[3000 + 8];
    struct msg *m;
    uint32_t t1, t2;

    memcpy(w, "/p/x", 5);
    memset(w + 5, '1', 3000);
    assert_ok(req(&f->a, XS_WRITE, 0, w, sizeof(w) - 3), XS_WRITE);
    t1 = (uint32_t)strtoul(REQ(&f->a, XS_TRANSACTION_START, "")->data, NULL, 10);
    assert_int_equal(REQ_TX(&f->a, XS_READ, t1, "/p/x")->type, XS_READ);
    /* The store moves on: t1 alone still sees the old 3000 bytes. */
    memset(w + 5, '2', 3000);
    assert_ok(req(&f->a, XS_WRITE, 0, w, sizeof(w) - 3), XS_WRITE);
    t2 = (uint32_t)strtoul(REQ(&f->b, XS_TRANSACTION_START, "")->data, NULL, 10);
    assert_int_equal(f->s.txns_dropped, 0);
    f->s.pool_max = f->s.pool.bytes - 1000;
    /* The next request brings the pool back under budget: t1 goes, t2 stays. */
    f->b.nr = 0;
    m = REQ_TX(&f->b, XS_READ, t2, "/p/x");
    assert_int_equal(m->type, XS_READ);
    assert_int_equal(m->data[0], '2');
    assert_int_equal(f->s.txns_dropped, 1);
    assert_true(f->s.pool.bytes <= f->s.pool_max);
    assert_err(REQ_TX(&f->a, XS_READ, t1, "/p/x"), "EAGAIN");
    assert_err(req(&f->a, XS_WRITE, t1, "/p/y\0v", 6), "EAGAIN");
    assert_err(REQ_TX(&f->a, XS_TRANSACTION_END, t1, "T"), "EAGAIN");
    assert_err(REQ_TX(&f->a, XS_READ, t1, "/p/x"), "ENOENT");
    assert_null(xs_tree_lookup(&f->s.tree, "/p/y"));
    f->b.nr = 0;
    assert_ok(req(&f->b, XS_WRITE, t2, "/p/z\0v", 6), XS_WRITE);
    assert_ok(REQ_TX(&f->b, XS_TRANSACTION_END, t2, "T"), XS_TRANSACTION_END);
    assert_non_null(xs_tree_lookup(&f->s.tree, "/p/z"));
    /* Aborting a dropped transaction is fine too. */
    f->s.pool_max = XS_POOL_MAX;
    t1 = (uint32_t)strtoul(REQ(&f->a, XS_TRANSACTION_START, "")->data, NULL, 10);
    xs_txn_drop(xs_client_txn(&f->a.c, t1));
    assert_ok(REQ_TX(&f->a, XS_TRANSACTION_END, t1, "F"), XS_TRANSACTION_END);
}

/*
 * The attack on snapshots: open a transaction, rewrite the store, open
 * another, rewrite again... Each view keeps a whole old store alive until
 * the pool's budget drops the oldest; after every request it holds.
 */
static void test_churn_bounded(void **state)
{
    struct fixture *f = *state;
    char w[16 + 2048];
    uint32_t ids[XS_MAX_TXNS];
    struct msg *m;

    f->s.pool_max = 256 * 1024;
    memset(w, 'v', sizeof(w));
    for (int round = 0; round < XS_MAX_TXNS; round++) {
        f->a.nr = 0;
        m = REQ(&f->a, XS_TRANSACTION_START, "");
        assert_int_equal(m->type, XS_TRANSACTION_START);
        ids[round] = (uint32_t)strtoul(m->data, NULL, 10);
        for (int i = 0; i < 40; i++) {
            int n = snprintf(w, 16, "/churn/%d", i) + 1;
            w[n] = (char)('a' + round);
            f->b.nr = 0;
            assert_ok(req(&f->b, XS_WRITE, 0, w, (size_t)n + 2048), XS_WRITE);
            assert_true(f->s.pool.bytes <= f->s.pool_max);
        }
    }
    /* Each round pins about 90 KiB: the oldest went, the newest are intact. */
    assert_true(f->s.txns_dropped >= XS_MAX_TXNS - 3);
    assert_true(f->s.txns_dropped < XS_MAX_TXNS);
    f->a.nr = 0;
    assert_err(REQ_TX(&f->a, XS_READ, ids[0], "/churn/0"), "EAGAIN");
    f->a.nr = 0;
    m = REQ_TX(&f->a, XS_READ, ids[XS_MAX_TXNS - 1], "/churn/0");
    assert_int_equal(m->type, XS_READ);
    assert_int_equal(m->data[0], 'a' + XS_MAX_TXNS - 2);
}

static void test_domains(void **state)
{
    struct fixture *f = *state;
    struct msg *m;

    REQ(&f->b, XS_WATCH, "@introduceDomain\0in");
    REQ(&f->b, XS_WATCH, "@releaseDomain\0out");
    f->b.nr = 0;
    assert_ok(REQ(&f->a, XS_INTRODUCE,
                  "7\0"
                  "1234\0"
                  "5"),
              XS_INTRODUCE);
    assert_int_equal(f->b.nr, 1);
    assert_memory_equal(f->b.msgs[0].data, "@introduceDomain\0in\0", 20);
    m = REQ(&f->a, XS_IS_DOMAIN_INTRODUCED, "7");
    assert_string_equal(m->data, "T");
    m = REQ(&f->a, XS_IS_DOMAIN_INTRODUCED, "8");
    assert_string_equal(m->data, "F");
    m = REQ(&f->a, XS_GET_DOMAIN_PATH, "7");
    assert_string_equal(m->data, "/local/domain/7");
    assert_int_equal(m->len, sizeof("/local/domain/7"));
    f->b.nr = 0;
    assert_ok(REQ(&f->a, XS_RELEASE, "7"), XS_RELEASE);
    assert_int_equal(f->b.nr, 1);
    assert_memory_equal(f->b.msgs[0].data, "@releaseDomain\0out\0", 19);
    assert_err(REQ(&f->a, XS_RELEASE, "7"), "ENOENT");
    assert_err(REQ(&f->a, XS_RELEASE, "0"), "EINVAL");
    assert_err(REQ(&f->a, XS_INTRODUCE,
                   "0\0"
                   "1\0"
                   "1"),
               "EINVAL");
    assert_err(REQ(&f->a, XS_GET_DOMAIN_PATH, "x"), "EINVAL");
    assert_err(REQ(&f->a, XS_GET_DOMAIN_PATH, "70000"), "EINVAL");
}

static void test_malformed(void **state)
{
    struct fixture *f = *state;

    assert_err(req(&f->a, XS_READ, 0, "/a", 2), "EINVAL");     /* no NUL */
    assert_err(req(&f->a, XS_READ, 0, "", 0), "EINVAL");       /* empty */
    assert_err(req(&f->a, XS_READ, 0, "/a\0/b", 6), "EINVAL"); /* two strings */
    assert_err(req(&f->a, XS_WRITE, 0, "/a", 2), "EINVAL");    /* no path end */
    assert_err(req(&f->a, XS_WATCH, 0, "/a", 3), "EINVAL");    /* no token */
    assert_err(REQ(&f->a, XS_READ, "/a//b"), "EINVAL");
    assert_err(REQ(&f->a, XS_READ, "@introduceDomain"), "EINVAL");
    assert_err(REQ(&f->a, XS_WATCH_EVENT, "/a"), "ENOSYS");
    assert_err(REQ(&f->a, XS_ERROR, "/a"), "ENOSYS");
    assert_err(REQ(&f->a, 20, "/a"), "ENOSYS");
    assert_err(REQ(&f->a, XS_TYPE_COUNT, "/a"), "ENOSYS");
    assert_err(REQ(&f->a, 0xffffffffu, "/a"), "ENOSYS");
}

static void test_errnames(void **state)
{
    assert_string_equal(xs_ops_errname(-ENOENT), "ENOENT");
    assert_string_equal(xs_ops_errname(EACCES), "EACCES");
    assert_string_equal(xs_ops_errname(-E2BIG), "E2BIG");
    assert_string_equal(xs_ops_errname(-EPERM), "EPERM");
    assert_string_equal(xs_ops_errname(-ETIMEDOUT), "EIO");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_write_read),      T(test_directory),    T(test_directory_part),
        T(test_perms_roundtrip), T(test_watch_events), T(test_relative_watch),
        T(test_rm_events),       T(test_mkdir),        T(test_transactions),
        T(test_txn_limit),       T(test_watch_limit),  T(test_watch_bytes),
        T(test_full_store),      T(test_txn_dropped),  T(test_churn_bounded),
        T(test_domains),         T(test_malformed),    cmocka_unit_test(test_errnames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
