/*
 * Request decoding and the operations of docs/misc/xenstore.txt. Payload
 * strings are checked to be NUL-terminated before use; a request that
 * does not parse gets EINVAL, an unknown type ENOSYS, as from xenstored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xs-ops.h"

#include "compiler.h"
#include "log.h"

/* A parsed request: the strings of the payload and the transaction, if any. */
struct xs_req {
    struct xs_client *c;
    const struct xsd_sockmsg *hdr;
    const char *payload;
    size_t len;
    struct xs_txn *tx;
};

const char *xs_ops_errname(int err)
{
    if (err < 0)
        err = -err;
    for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EIO";
}

static void reply(struct xs_req *r, const void *data, size_t len)
{
    r->c->ops->send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data, len);
}

static void reply_str(struct xs_req *r, const char *s)
{
    reply(r, s, strlen(s) + 1);
}

static void reply_error(struct xs_req *r, int err)
{
    const char *name = xs_ops_errname(err);

    r->c->ops->send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, name, strlen(name) + 1);
}

/* Number of NUL-terminated strings, or -1 if bytes trail after the last NUL. */
static int count_strings(const char *p, size_t len)
{
    int n = 0;

    if (len && p[len - 1] != '\0')
        return -1;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\0')
            n++;
    return n;
}

/* The i-th string of a payload known to hold more than i strings. */
static const char *nth_string(const char *p, int i)
{
    while (i-- > 0)
        p += strlen(p) + 1;
    return p;
}

/* The one string a request carries, or NULL. */
static const char *one_arg(const struct xs_req *r)
{
    return count_strings(r->payload, r->len) == 1 ? r->payload : NULL;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;

    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_domid(const char *s, unsigned int *domid)
{
    unsigned long v;
    int rc = s ? parse_uint(s, 0xffff, &v) : -EINVAL;

    if (rc == 0)
        *domid = (unsigned int)v;
    return rc;
}

static int resolve(const struct xs_req *r, const char *path, char *out)
{
    bool relative;

    if (!path)
        return -EINVAL;
    return xs_path_canonical(path, r->c->home, false, out, &relative);
}

static int op_read(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    const struct xs_node *n;
    int rc = resolve(r, one_arg(r), path);

    if (rc == 0)
        rc = xs_tree_get(xs_client_tree(r->c, r->tx), &r->c->who, path, &n);
    if (rc == 0)
        reply(r, n->value, n->len);
    return rc;
}

static int op_directory(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    const struct xs_node *n;
    char *blob = NULL;
    size_t len;
    int rc = resolve(r, one_arg(r), path);

    if (rc == 0)
        rc = xs_tree_get(xs_client_tree(r->c, r->tx), &r->c->who, path, &n);
    if (rc == 0)
        rc = xs_node_children_blob(n, &blob, &len);
    if (rc == 0 && len > XENSTORE_PAYLOAD_MAX)
        rc = -E2BIG; /* libxenstore then falls back to DIRECTORY_PART */
    if (rc == 0)
        reply(r, blob, len);
    free(blob);
    return rc;
}

/*
 * "<gencnt>\0" then the whole names from byte offset on that fit; an extra
 * NUL marks that the list is complete.
 */
static int op_directory_part(struct xs_req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX];
    const struct xs_node *n;
    unsigned long off;
    char *blob = NULL;
    size_t len, used, pos;
    int rc;

    if (count_strings(r->payload, r->len) != 2)
        return -EINVAL;
    rc = parse_uint(nth_string(r->payload, 1), 0xffffffffUL, &off);
    if (rc == 0)
        rc = resolve(r, r->payload, path);
    if (rc == 0)
        rc = xs_tree_get(xs_client_tree(r->c, r->tx), &r->c->who, path, &n);
    if (rc == 0)
        rc = xs_node_children_blob(n, &blob, &len);
    if (rc < 0)
        goto out;
    used = (size_t)snprintf(out, sizeof(out), "%llu", (unsigned long long)n->generation) + 1;
    pos = off < len ? off : len;
    /* An offset inside a name would hand out a partial name: refuse it. */
    if (pos > 0 && pos < len && blob[pos - 1] != '\0') {
        rc = -EINVAL;
        goto out;
    }
    while (pos < len) {
        size_t l = strlen(blob + pos) + 1;
        if (used + l + 1 > sizeof(out))
            break;
        memcpy(out + used, blob + pos, l);
        used += l;
        pos += l;
    }
    if (pos >= len)
        out[used++] = '\0';
    reply(r, out, used);
out:
    free(blob);
    return rc;
}

static int op_get_perms(struct xs_req *r)
{
    char path[XS_PATH_BUF], out[XENSTORE_PAYLOAD_MAX + 16];
    const struct xs_node *n;
    size_t used = 0;
    int rc = resolve(r, one_arg(r), path);

    if (rc == 0)
        rc = xs_tree_get(xs_client_tree(r->c, r->tx), &r->c->who, path, &n);
    if (rc < 0)
        return rc;
    for (unsigned int i = 0; i < n->perms.nr; i++) {
        if (used + 8 > sizeof(out))
            return -E2BIG;
        used += xs_perm_format(&n->perms.p[i], out + used) + 1;
    }
    if (used > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    reply(r, out, used);
    return 0;
}

static int op_set_perms(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    struct xs_perms perms = {0};
    int nr = count_strings(r->payload, r->len);
    int rc;

    if (nr < 2)
        return -EINVAL;
    rc = resolve(r, r->payload, path);
    if (rc < 0)
        return rc;
    perms.nr = (unsigned int)nr - 1;
    perms.p = calloc(perms.nr, sizeof(*perms.p));
    if (!perms.p)
        return -ENOMEM;
    for (unsigned int i = 0; i < perms.nr && rc == 0; i++)
        rc = xs_perm_parse(nth_string(r->payload, (int)i + 1), &perms.p[i]);
    if (rc == 0)
        rc = xs_tree_set_perms(xs_client_tree(r->c, r->tx), &r->c->who, path, &perms);
    if (rc == 0)
        reply_str(r, "OK");
    xs_perms_free(&perms);
    return rc;
}

static int op_write(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    const char *nul = memchr(r->payload, '\0', r->len);
    int rc;

    if (!nul)
        return -EINVAL;
    rc = resolve(r, r->payload, path);
    if (rc == 0) {
        size_t off = (size_t)(nul - r->payload) + 1;
        rc = xs_tree_write(xs_client_tree(r->c, r->tx), &r->c->who, path, r->payload + off,
                           r->len - off);
    }
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_mkdir(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    bool created;
    int rc = resolve(r, one_arg(r), path);

    if (rc == 0)
        rc = xs_tree_mkdir(xs_client_tree(r->c, r->tx), &r->c->who, path, &created);
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_rm(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    bool removed;
    int rc = resolve(r, one_arg(r), path);

    if (rc == 0)
        rc = xs_tree_rm(xs_client_tree(r->c, r->tx), &r->c->who, path, &removed);
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int watch_args(struct xs_req *r, char *path, const char **token, bool *relative)
{
    /* "<path>\0<token>\0" and possibly a reserved trailing string. */
    if (count_strings(r->payload, r->len) < 2)
        return -EINVAL;
    *token = nth_string(r->payload, 1);
    return xs_path_canonical(r->payload, r->c->home, true, path, relative);
}

static int op_watch(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    const char *token;
    bool relative;
    struct xs_watch *w;
    int rc = watch_args(r, path, &token, &relative);

    if (rc == 0)
        rc = xs_watch_add(&r->c->watches, path, token, relative, XS_MAX_WATCHES, XS_MAX_WATCH_BYTES,
                          &w);
    if (rc < 0)
        return rc;
    reply_str(r, "OK");
    /* Every new watch fires once straight away, on its own path. */
    xs_client_fire_one(r->c, w, path);
    return 0;
}

static int op_unwatch(struct xs_req *r)
{
    char path[XS_PATH_BUF];
    const char *token;
    bool relative;
    int rc = watch_args(r, path, &token, &relative);

    if (rc == 0)
        rc = xs_watch_remove(&r->c->watches, path, token);
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_transaction_start(struct xs_req *r)
{
    char id[16];
    uint32_t txid;
    int rc;

    if (r->hdr->tx_id != 0)
        return -EBUSY;
    rc = xs_client_txn_start(r->c, &txid);
    if (rc < 0)
        return rc;
    snprintf(id, sizeof(id), "%u", txid);
    reply_str(r, id);
    return 0;
}

static int op_transaction_end(struct xs_req *r)
{
    const char *arg = one_arg(r);
    int rc;

    if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
        return -EINVAL;
    rc = xs_client_txn_end(r->c, r->hdr->tx_id, arg[0] == 'T');
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_introduce(struct xs_req *r)
{
    unsigned int domid;
    int rc;

    /* "<domid>\0<mfn>\0<evtchn>\0": the ring is not used by the mock. */
    if (!r->c->who.privileged)
        return -EACCES;
    if (count_strings(r->payload, r->len) < 3)
        return -EINVAL;
    rc = parse_domid(r->payload, &domid);
    if (rc == 0)
        rc = xs_store_introduce(r->c->store, domid);
    if (rc == -EEXIST)
        rc = 0; /* re-introducing a known domain is accepted silently */
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_release(struct xs_req *r)
{
    unsigned int domid;
    int rc;

    if (!r->c->who.privileged)
        return -EACCES;
    rc = parse_domid(one_arg(r), &domid);
    if (rc == 0)
        rc = xs_store_release(r->c->store, domid);
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_resume(struct xs_req *r)
{
    unsigned int domid;
    int rc;

    if (!r->c->who.privileged)
        return -EACCES;
    rc = parse_domid(one_arg(r), &domid);
    if (rc == 0 && !xs_store_domain_introduced(r->c->store, domid))
        rc = -ENOENT;
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_set_target(struct xs_req *r)
{
    unsigned int domid, target;
    int rc;

    /* Socket clients are privileged already; only the arguments are checked. */
    if (!r->c->who.privileged)
        return -EACCES;
    if (count_strings(r->payload, r->len) != 2)
        return -EINVAL;
    rc = parse_domid(r->payload, &domid);
    if (rc == 0)
        rc = parse_domid(nth_string(r->payload, 1), &target);
    if (rc == 0 && (!xs_store_domain_introduced(r->c->store, domid) ||
                    !xs_store_domain_introduced(r->c->store, target)))
        rc = -ENOENT;
    if (rc == 0)
        reply_str(r, "OK");
    return rc;
}

static int op_get_domain_path(struct xs_req *r)
{
    char home[XS_HOME_BUF];
    unsigned int domid;
    int rc = parse_domid(one_arg(r), &domid);

    if (rc < 0)
        return rc;
    xs_path_home(domid, home);
    reply_str(r, home);
    return 0;
}

static int op_is_domain_introduced(struct xs_req *r)
{
    unsigned int domid;
    int rc = parse_domid(one_arg(r), &domid);

    if (rc < 0)
        return rc;
    reply_str(r, xs_store_domain_introduced(r->c->store, domid) ? "T" : "F");
    return 0;
}

static int op_reset_watches(struct xs_req *r)
{
    xs_client_reset(r->c);
    reply_str(r, "OK");
    return 0;
}

struct xs_op {
    int (*fn)(struct xs_req *r);
    bool uses_txn; /* runs inside the transaction named by tx_id */
};

static const struct xs_op xs_ops[XS_TYPE_COUNT] = {
    [XS_DIRECTORY] = {.fn = op_directory, .uses_txn = true},
    [XS_READ] = {.fn = op_read, .uses_txn = true},
    [XS_GET_PERMS] = {.fn = op_get_perms, .uses_txn = true},
    [XS_WATCH] = {.fn = op_watch},
    [XS_UNWATCH] = {.fn = op_unwatch},
    [XS_TRANSACTION_START] = {.fn = op_transaction_start},
    [XS_TRANSACTION_END] = {.fn = op_transaction_end, .uses_txn = true},
    [XS_INTRODUCE] = {.fn = op_introduce},
    [XS_RELEASE] = {.fn = op_release},
    [XS_GET_DOMAIN_PATH] = {.fn = op_get_domain_path},
    [XS_WRITE] = {.fn = op_write, .uses_txn = true},
    [XS_MKDIR] = {.fn = op_mkdir, .uses_txn = true},
    [XS_RM] = {.fn = op_rm, .uses_txn = true},
    [XS_SET_PERMS] = {.fn = op_set_perms, .uses_txn = true},
    [XS_IS_DOMAIN_INTRODUCED] = {.fn = op_is_domain_introduced},
    [XS_RESUME] = {.fn = op_resume},
    [XS_SET_TARGET] = {.fn = op_set_target},
    [XS_RESET_WATCHES] = {.fn = op_reset_watches},
    [XS_DIRECTORY_PART] = {.fn = op_directory_part, .uses_txn = true},
};

void xs_ops_request(struct xs_client *c, const struct xsd_sockmsg *hdr, const char *payload)
{
    struct xs_req r = {.c = c, .hdr = hdr, .payload = payload, .len = hdr->len};
    const struct xs_op *op = hdr->type < XS_TYPE_COUNT ? &xs_ops[hdr->type] : NULL;
    int rc;

    if (!op || !op->fn) {
        log_guest("xenstore: request of unknown type %u", hdr->type);
        reply_error(&r, ENOSYS);
        return;
    }
    if (op->uses_txn && hdr->tx_id != 0) {
        r.tx = xs_client_txn(c, hdr->tx_id);
        if (!r.tx) {
            reply_error(&r, ENOENT);
            return;
        }
        /* Dropped to bound memory: all it can do is end (and fail to commit). */
        if (r.tx->dropped && hdr->type != XS_TRANSACTION_END) {
            reply_error(&r, EAGAIN);
            return;
        }
    }
    rc = op->fn(&r);
    if (rc < 0)
        reply_error(&r, rc);
    xs_store_trim(c->store);
}
