/*
 * Store, clients and watch delivery. Changes to the real tree report
 * themselves through the tree's access hook, which fires watches here;
 * transactions fire theirs on commit.
 */
#include "xs-store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "log.h"

static int store_access(void *opaque, const char *path, uint64_t generation, enum xs_access kind)
{
    struct xs_store *s = opaque;

    if (kind == XS_ACC_FIRE || kind == XS_ACC_FIRE_EXACT)
        xs_store_fire(s, path, kind == XS_ACC_FIRE_EXACT);
    return 0;
}

static void store_fire_cb(void *opaque, const char *path, bool exact)
{
    xs_store_fire(opaque, path, exact);
}

int xs_store_init(struct xs_store *s)
{
    static const struct xs_caller dom0 = {.domid = 0, .privileged = true};
    int rc;

    memset(s, 0, sizeof(*s));
    s->pool_max = XS_POOL_MAX;
    rc = xs_tree_init(&s->tree, &s->pool);
    if (rc < 0)
        return rc;
    s->introduced[0] |= 1;
    /* What xenstored and xen-init-dom0 leave behind on a fresh host. */
    rc = xs_tree_write(&s->tree, &dom0, "/local/domain/0/domid", "0", 1);
    if (rc == 0)
        rc = xs_tree_write(&s->tree, &dom0, "/local/domain/0/name", "Domain-0", 8);
    if (rc == 0) {
        bool created;
        rc = xs_tree_mkdir(&s->tree, &dom0, "/tool", &created);
    }
    if (rc < 0) {
        xs_tree_destroy(&s->tree);
        return rc;
    }
    s->tree.hooks.access = store_access;
    s->tree.hooks.opaque = s;
    s->tree.max_nodes = XS_STORE_MAX_NODES;
    s->tree.max_size = XS_STORE_MAX_SIZE;
    return 0;
}

void xs_store_destroy(struct xs_store *s)
{
    xs_tree_destroy(&s->tree);
}

void xs_client_attach(struct xs_store *s, struct xs_client *c, const struct xs_client_ops *ops,
                      unsigned int domid, bool privileged)
{
    memset(c, 0, sizeof(*c));
    c->store = s;
    c->ops = ops;
    c->who.domid = domid;
    c->who.privileged = privileged;
    xs_path_home(domid, c->home);
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
}

void xs_client_reset(struct xs_client *c)
{
    xs_watch_clear(&c->watches);
    while (c->txns) {
        struct xs_txn *tx = c->txns;
        c->txns = tx->next;
        xs_txn_free(tx);
    }
    c->nr_txns = 0;
}

void xs_client_detach(struct xs_client *c)
{
    xs_client_reset(c);
    if (c->prev)
        c->prev->next = c->next;
    else if (c->store->clients == c)
        c->store->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

struct xs_txn *xs_client_txn(struct xs_client *c, uint32_t id)
{
    for (struct xs_txn *tx = c->txns; tx; tx = tx->next)
        if (tx->id == id)
            return tx;
    return NULL;
}

int xs_client_txn_start(struct xs_client *c, uint32_t *id)
{
    struct xs_txn *tx;
    int rc;

    if (c->nr_txns >= XS_MAX_TXNS)
        return -ENOSPC;
    /* Ids are per client, never 0 (no transaction), never one in use. */
    do {
        c->next_txid++;
    } while (c->next_txid == 0 || xs_client_txn(c, c->next_txid));
    rc = xs_txn_start(&tx, &c->store->tree, c->next_txid, XS_MAX_TXN_NODES);
    if (rc < 0)
        return rc;
    tx->next = c->txns;
    c->txns = tx;
    c->nr_txns++;
    *id = tx->id;
    return 0;
}

int xs_client_txn_end(struct xs_client *c, uint32_t id, bool commit)
{
    struct xs_txn **pp = &c->txns;
    int rc = 0;

    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (!*pp)
        return -ENOENT;
    struct xs_txn *tx = *pp;
    *pp = tx->next;
    c->nr_txns--;
    if (commit)
        rc = xs_txn_commit(tx, &c->store->tree, store_fire_cb, c->store);
    xs_txn_free(tx);
    return rc;
}

struct xs_tree *xs_client_tree(struct xs_client *c, struct xs_txn *tx)
{
    return tx ? &tx->tree : &c->store->tree;
}

void xs_store_trim(struct xs_store *s)
{
    while (s->pool.bytes > s->pool_max) {
        struct xs_txn *oldest = NULL;
        for (struct xs_client *c = s->clients; c; c = c->next)
            for (struct xs_txn *tx = c->txns; tx; tx = tx->next)
                if (!tx->dropped && (!oldest || tx->started < oldest->started))
                    oldest = tx;
        if (!oldest)
            return;
        xs_txn_drop(oldest);
        s->txns_dropped++;
        log_guest("xenstore: nodes and logs over %zu KiB: dropped transaction %u",
                  s->pool_max >> 10, oldest->id);
    }
}

void xs_client_fire_one(struct xs_client *c, const struct xs_watch *w, const char *path)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t len;

    if (xs_watch_event(w, path, c->home, buf, sizeof(buf), &len) < 0) {
        c->store->events_dropped++;
        log_guest("xenstore: watch event for %.64s too long, dropped", path);
        return;
    }
    c->ops->send(c, XS_WATCH_EVENT, 0, 0, buf, len);
}

void xs_store_fire(struct xs_store *s, const char *path, bool exact)
{
    for (struct xs_client *c = s->clients; c; c = c->next)
        for (struct xs_watch *w = c->watches.head; w; w = w->next)
            if (xs_watch_matches(w, path, exact))
                xs_client_fire_one(c, w, path);
}

static bool domid_real(unsigned int domid)
{
    return domid != 0 && domid < XS_DOMID_LIMIT;
}

bool xs_store_domain_introduced(const struct xs_store *s, unsigned int domid)
{
    return domid < XS_DOMID_LIMIT && (s->introduced[domid / 8] & (1u << (domid % 8)));
}

int xs_store_introduce(struct xs_store *s, unsigned int domid)
{
    if (!domid_real(domid))
        return -EINVAL;
    if (xs_store_domain_introduced(s, domid))
        return -EEXIST;
    s->introduced[domid / 8] |= (uint8_t)(1u << (domid % 8));
    xs_store_fire(s, "@introduceDomain", false);
    return 0;
}

int xs_store_release(struct xs_store *s, unsigned int domid)
{
    if (!domid_real(domid))
        return -EINVAL;
    if (!xs_store_domain_introduced(s, domid))
        return -ENOENT;
    s->introduced[domid / 8] &= (uint8_t) ~(1u << (domid % 8));
    xs_store_fire(s, "@releaseDomain", false);
    return 0;
}
