/*
 * The store: the tree, the pool its node versions count in, the introduced
 * domains and the clients (each with its watches and transactions). It
 * fires watch events to clients through their send operation. The store
 * does not own the client structures (the connection code does) but owns
 * everything hanging off them while they are attached.
 *
 * Memory is bounded whatever clients do: the tree, and every
 * transaction's view of it, holds at most XS_STORE_MAX_NODES nodes and
 * XS_STORE_MAX_SIZE bytes (ENOSPC beyond, as xenstored's quotas); all
 * node versions alive (the store's and those only transactions still
 * see) plus the transactions' logs stay within pool_max once each request
 * is done, by dropping the oldest transactions (xs_store_trim); each
 * client has bounded watches and transactions.
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

/* The store's size, and that of each transaction's view of it; more: ENOSPC. */
#define XS_STORE_MAX_NODES 32768
#define XS_STORE_MAX_SIZE  (16u << 20) /* bytes of names, values and permissions */
/*
 * Default pool_max: memory of all node versions and transaction logs, a
 * little over twice what a full store takes (tests/unit/xenstored checks
 * it), so a full store and one transaction rewriting all of it fit.
 */
#define XS_POOL_MAX (48u << 20)

/* Per-client bounds, so one client cannot take the store's memory. */
#define XS_MAX_WATCHES     1024         /* more: E2BIG */
#define XS_MAX_WATCH_BYTES (128u << 10) /* of watches (xs_watch_list.bytes); more: E2BIG */
#define XS_MAX_TXNS        10           /* open at once, xenstored's default; more: ENOSPC */
#define XS_MAX_TXN_NODES   1024         /* nodes one transaction may touch; more: ENOSPC */

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
    size_t pool_max; /* XS_POOL_MAX; what xs_store_trim() brings pool.bytes under */
    struct xs_client *clients;
    uint8_t introduced[XS_DOMID_LIMIT / 8];
    unsigned int events_dropped; /* events too long to send */
    unsigned long txns_dropped;  /* transactions xs_store_trim() let go */
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
/* Commits (or aborts) and frees the transaction; a dropped one fails to commit with EAGAIN. */
int xs_client_txn_end(struct xs_client *c, uint32_t id, bool commit) must_check;

/* The tree a request runs on: the transaction's view (not dropped), or the store's. */
struct xs_tree *xs_client_tree(struct xs_client *c, struct xs_txn *tx);

/*
 * Drops open transactions, the oldest first, until the pool is within
 * pool_max or none is left; called after every request that may have
 * grown it.
 */
void xs_store_trim(struct xs_store *s);

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
