/*
 * The store: the tree, the pool its node versions count in, the introduced
 * domains and the clients (each with its watches and transactions). It
 * fires watch events to clients through their send operation. The store
 * does not own the client structures (the connection code does) but owns
 * everything hanging off them while they are attached.
 */
#ifndef XS_STORE_H
#define XS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "xs-path.h"
#include "xs-perms.h"
#include "xs-tree.h"
#include "xs-txn.h"
#include "xs-watch.h"

/* Per-client bounds, so one client cannot take the store's memory. */
#define XS_MAX_WATCHES   1024 /* more: E2BIG */
#define XS_MAX_TXNS      16   /* open at once; more: ENOSPC */
#define XS_MAX_TXN_NODES 4096 /* nodes one transaction may touch; more: ENOSPC */

struct xs_client;

struct xs_client_ops {
    /* Queues one message; the client may drop it (and itself) if it cannot keep up. */
    void (*send)(struct xs_client *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                 const void *payload, size_t len);
};

struct xs_client {
    struct xs_store *store;
    const struct xs_client_ops *ops;
    struct xs_caller who;
    char home[XS_HOME_BUF]; /* relative paths resolve here */
    struct xs_watch_list watches;
    struct xs_txn *txns; /* open transactions */
    unsigned int nr_txns;
    uint32_t next_txid;
    struct xs_client *prev, *next;
};

struct xs_store {
    struct xs_pool pool; /* of the tree and all transactions' views */
    struct xs_tree tree;
    struct xs_client *clients;
    uint8_t introduced[XS_DOMID_LIMIT / 8];
    unsigned int events_dropped; /* events too long to send */
};

/* A store with /local/domain/0 (domid, name) and /tool, dom0 introduced. */
int xs_store_init(struct xs_store *s) must_check;
/* Clients must be detached first. */
void xs_store_destroy(struct xs_store *s);

void xs_client_attach(struct xs_store *s, struct xs_client *c, const struct xs_client_ops *ops,
                      unsigned int domid, bool privileged);
/* Drops the client's watches and transactions. */
void xs_client_detach(struct xs_client *c);
void xs_client_reset(struct xs_client *c);
struct xs_txn *xs_client_txn(struct xs_client *c, uint32_t id);
int xs_client_txn_start(struct xs_client *c, uint32_t *id) must_check;
/* Commits (or aborts) and frees the transaction. */
int xs_client_txn_end(struct xs_client *c, uint32_t id, bool commit) must_check;

/* The tree a request runs on: the transaction's copy, or the store's. */
struct xs_tree *xs_client_tree(struct xs_client *c, struct xs_txn *tx);

/* Sends a WATCH_EVENT to every client with a watch matching path. */
void xs_store_fire(struct xs_store *s, const char *path, bool exact);
/* Sends one event for one watch (the initial event of a new watch). */
void xs_client_fire_one(struct xs_client *c, const struct xs_watch *w, const char *path);

bool xs_store_domain_introduced(const struct xs_store *s, unsigned int domid);
/* -EINVAL for dom0 or a reserved domid, -EEXIST if introduced already. */
int xs_store_introduce(struct xs_store *s, unsigned int domid) must_check;
/* -EINVAL for dom0 or a reserved domid, -ENOENT if not introduced. */
int xs_store_release(struct xs_store *s, unsigned int domid) must_check;

#endif
