/*
 * Hostile clients against mock-xenstored over raw sockets: unknown types,
 * unterminated and empty payloads, oversized lengths, truncated frames,
 * abrupt disconnects, garbage, watch floods, a client that never reads,
 * transaction floods on a big store, snapshots pinning old versions,
 * filling the store, many watchers that never read. After each, the
 * server must still answer a normal request; where memory is at stake,
 * its resident size (VmRSS of XENSTORED_PID) must stay within a stated
 * bound, in builds without sanitizers (theirs keep freed memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

static int failures;

/* As mock-xenstored(1) documents them. */
#define MAX_TXNS  10                 /* per client */
#define POOL_MAX  (48 * 1024)        /* KiB of node versions and logs */
#define OUT_MAX   (64 * 1024)        /* KiB of output queued for all clients */
#define STORE_MAX (16 * 1024 * 1024) /* bytes of names, values, permissions */

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

struct reply {
    struct xsd_sockmsg hdr;
    char data[XENSTORE_PAYLOAD_MAX + 1];
};

static int xs_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = getenv("XENSTORED_PATH");
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (!path || fd < 0 || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool send_tx(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
                    uint32_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx_id, .len = len};

    return send_all(fd, &h, sizeof(h)) && send_all(fd, payload, len);
}

static bool send_msg(int fd, uint32_t type, uint32_t req_id, const void *payload, uint32_t len)
{
    return send_tx(fd, type, req_id, 0, payload, len);
}

/* Reads exactly len bytes; 0 on success, 1 on EOF, -1 on error or 60 s of silence. */
static int recv_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 60000) != 1)
            return -1; /* a guard against hanging, not a timing check */
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == ECONNRESET ? 1 : -1;
        if (n == 0)
            return 1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int recv_msg(int fd, struct reply *r)
{
    int rc = recv_all(fd, &r->hdr, sizeof(r->hdr));

    if (rc)
        return rc;
    if (r->hdr.len > XENSTORE_PAYLOAD_MAX)
        return -1;
    rc = recv_all(fd, r->data, r->hdr.len);
    r->data[r->hdr.len] = '\0';
    return rc;
}

/* Next reply that is not a watch event. */
static int recv_reply(int fd, struct reply *r)
{
    int rc;

    do
        rc = recv_msg(fd, r);
    while (rc == 0 && r->hdr.type == XS_WATCH_EVENT);
    return rc;
}

static bool expect_error(int fd, uint32_t type, const void *payload, uint32_t len, const char *err)
{
    struct reply r;

    if (!send_msg(fd, type, 77, payload, len) || recv_reply(fd, &r) != 0)
        return false;
    if (r.hdr.type != XS_ERROR || r.hdr.req_id != 77 || strcmp(r.data, err) != 0) {
        fprintf(stderr, "type %u: got reply type %u '%s', want ERROR %s\n", type, r.hdr.type,
                r.data, err);
        return false;
    }
    return true;
}

/* The server answers a normal request on this connection. */
static bool healthy_on(int fd)
{
    struct reply r;

    if (!send_msg(fd, XS_READ, 1, "/local/domain/0/name", 21) || recv_reply(fd, &r) != 0)
        return false;
    return r.hdr.type == XS_READ && r.hdr.len == 8 && memcmp(r.data, "Domain-0", 8) == 0;
}

/* The server answers a normal request on a fresh connection. */
static bool healthy(void)
{
    int fd = xs_connect();
    bool ok = fd >= 0 && healthy_on(fd);

    if (fd >= 0)
        close(fd);
    return ok;
}

/* Reads until the server closes the connection; false if it does not. */
static bool closed_by_server(int fd)
{
    char buf[65536];

    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 60000) != 1)
            return false;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

static void test_bad_requests(void)
{
    int fd = xs_connect();

    CHECK(fd >= 0);
    CHECK(expect_error(fd, 9999, "/a", 3, "ENOSYS"));
    CHECK(expect_error(fd, XS_WATCH_EVENT, "/a\0t", 5, "ENOSYS"));
    CHECK(expect_error(fd, XS_INVALID, "", 0, "ENOSYS"));
    CHECK(expect_error(fd, XS_READ, "/local", 6, "EINVAL")); /* not terminated */
    CHECK(expect_error(fd, XS_READ, "", 0, "EINVAL"));
    CHECK(expect_error(fd, XS_WRITE, "/nonul", 6, "EINVAL"));
    CHECK(expect_error(fd, XS_READ, "/a b", 5, "EINVAL"));
    CHECK(expect_error(fd, XS_SET_PERMS, "/local\0zz9", 11, "EINVAL"));
    CHECK(expect_error(fd, XS_TRANSACTION_END, "T", 2, "ENOENT"));
    CHECK(healthy_on(fd));
    close(fd);
}

static void test_oversized_length(void)
{
    int fd = xs_connect();
    struct xsd_sockmsg h = {.type = XS_READ, .req_id = 1, .len = XENSTORE_PAYLOAD_MAX + 1};

    CHECK(fd >= 0);
    CHECK(send_all(fd, &h, sizeof(h)));
    CHECK(closed_by_server(fd));
    close(fd);
    h.len = 0xffffffffu;
    fd = xs_connect();
    CHECK(send_all(fd, &h, sizeof(h)));
    CHECK(closed_by_server(fd));
    close(fd);
    CHECK(healthy());
}

static void test_truncated_and_disconnects(void)
{
    struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 1, .len = 100};
    int fd;

    /* Half a header, then gone. */
    fd = xs_connect();
    CHECK(send_all(fd, &h, 7));
    close(fd);
    /* A header promising 100 bytes, 10 sent, then gone. */
    fd = xs_connect();
    CHECK(send_all(fd, &h, sizeof(h)) && send_all(fd, "/truncated", 10));
    close(fd);
    /* Requests sent, then gone before the replies are read. */
    fd = xs_connect();
    for (int i = 0; i < 50; i++)
        CHECK(send_msg(fd, XS_READ, (uint32_t)i, "/local", 7));
    close(fd);
    /* Open transactions and watches, then gone. */
    fd = xs_connect();
    CHECK(send_msg(fd, XS_TRANSACTION_START, 1, "", 1));
    CHECK(send_msg(fd, XS_WATCH, 2, "/\0t", 4));
    close(fd);
    /* A whole request, then a hang-up: the request still takes effect. */
    fd = xs_connect();
    CHECK(send_msg(fd, XS_WRITE, 3, "/eof-write\0done", 15));
    shutdown(fd, SHUT_WR);
    CHECK(closed_by_server(fd));
    close(fd);
    CHECK(healthy());
    {
        struct xs_handle *xh = xs_open(0);
        CHECK(xh != NULL);
        if (xh) {
            errno = 0;
            CHECK(!xs_read(xh, XBT_NULL, "/truncated", NULL) && errno == ENOENT);
            unsigned int len;
            char *v = xs_read(xh, XBT_NULL, "/eof-write", &len);
            CHECK(v && len == 4 && memcmp(v, "done", 4) == 0);
            free(v);
            xs_close(xh);
        }
    }
}

static void test_garbage(void)
{
    static unsigned char junk[256 * 1024];
    unsigned int seed = 12345;
    int fd = xs_connect();

    for (size_t i = 0; i < sizeof(junk); i++) {
        seed = seed * 1103515245u + 12345u;
        junk[i] = (unsigned char)(seed >> 16);
    }
    CHECK(fd >= 0);
    /* Random headers almost surely carry a huge length: the server hangs up. */
    send_all(fd, junk, sizeof(junk));
    CHECK(closed_by_server(fd));
    close(fd);
    CHECK(healthy());
}

static void test_watch_flood(void)
{
    int fd = xs_connect();
    struct reply r;
    char p[64];
    int ok = 0, e2big = 0;

    CHECK(fd >= 0);
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(p, sizeof(p), "/flood%ctok%d", '\0', i);
        if (!send_msg(fd, XS_WATCH, (uint32_t)i, p, (uint32_t)n + 1) || recv_reply(fd, &r) != 0)
            break;
        if (r.hdr.type == XS_WATCH)
            ok++;
        else if (r.hdr.type == XS_ERROR && strcmp(r.data, "E2BIG") == 0)
            e2big++;
    }
    CHECK(ok == 1024);
    CHECK(e2big == 3000 - 1024);
    CHECK(healthy_on(fd));
    close(fd);
    CHECK(healthy());
}

/* A client that pipelines requests and never reads: others are still served. */
static void test_non_reader(void)
{
    int fd = xs_connect();
    char frame[sizeof(struct xsd_sockmsg) + 7];
    struct xsd_sockmsg h = {.type = XS_READ, .req_id = 1, .len = 7};
    int sent = 0;

    CHECK(fd >= 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    memcpy(frame, &h, sizeof(h));
    memcpy(frame + sizeof(h), "/local", 7);
    /* Until the socket (and the server's pause on this client) pushes back. */
    while (sent < 1000000 && send(fd, frame, sizeof(frame), MSG_NOSIGNAL) == sizeof(frame))
        sent++;
    CHECK(sent < 1000000);
    CHECK(healthy());
    close(fd);
    CHECK(healthy());
}

/*
 * Many requests in flight at once, more replies than the server queues
 * before it stops reading: every one is answered, in order.
 */
static void test_pipelined(void)
{
    enum { N = 6000 };
    static char out[N * (sizeof(struct xsd_sockmsg) + 21)];
    static char in[N * (sizeof(struct xsd_sockmsg) + 8)];
    size_t out_len = 0, out_done = 0, in_len = 0;
    int fd = xs_connect();

    CHECK(fd >= 0);
    if (fd < 0)
        return;
    for (uint32_t i = 0; i < N; i++) {
        struct xsd_sockmsg h = {.type = XS_READ, .req_id = i, .len = 21};
        memcpy(out + out_len, &h, sizeof(h));
        memcpy(out + out_len + sizeof(h), "/local/domain/0/name", 21);
        out_len += sizeof(h) + 21;
    }
    while (in_len < sizeof(in)) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (out_done < out_len ? POLLOUT : 0)};
        if (poll(&pfd, 1, 60000) != 1)
            break;
        if (pfd.revents & POLLOUT) {
            ssize_t n = send(fd, out + out_done, out_len - out_done, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                out_done += (size_t)n;
        }
        if (pfd.revents & (POLLIN | POLLHUP)) {
            ssize_t n = recv(fd, in + in_len, sizeof(in) - in_len, MSG_DONTWAIT);
            if (n <= 0)
                break;
            in_len += (size_t)n;
        }
    }
    CHECK(in_len == sizeof(in));
    for (uint32_t i = 0; i < N && in_len == sizeof(in); i++) {
        struct xsd_sockmsg h;
        memcpy(&h, in + i * (sizeof(h) + 8), sizeof(h));
        if (h.type != XS_READ || h.req_id != i || h.len != 8 ||
            memcmp(in + i * (sizeof(h) + 8) + sizeof(h), "Domain-0", 8) != 0) {
            CHECK(!"pipelined reply out of order or wrong");
            break;
        }
    }
    close(fd);
}

/* A watcher that never reads its events is dropped; writers are unaffected. */
static void test_slow_watcher(void)
{
    int w = xs_connect();
    struct xs_handle *xh = xs_open(0);
    static char path[2100];

    CHECK(w >= 0 && xh);
    if (w < 0 || !xh)
        return;
    CHECK(send_msg(w, XS_WATCH, 1, "/slow\0t", 8));
    /* Long paths make big events: ~2 KiB each, 4 MiB in all, more than the server queues. */
    memcpy(path, "/slow/", 6);
    memset(path + 6, 'p', 2000);
    for (int i = 0; i < 2000; i++) {
        snprintf(path + 2006, 16, "%d", i);
        if (!xs_write(xh, XBT_NULL, path, "", 0)) {
            CHECK(!"write failed while a watcher stalls");
            break;
        }
    }
    CHECK(closed_by_server(w));
    close(w);
    CHECK(xs_rm(xh, XBT_NULL, "/slow"));
    xs_close(xh);
    CHECK(healthy());
}

static void test_many_clients(void)
{
    int fds[200];

    for (int i = 0; i < 200; i++)
        fds[i] = xs_connect();
    for (int i = 0; i < 200; i++)
        CHECK(fds[i] >= 0 && healthy_on(fds[i]));
    for (int i = 0; i < 200; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    CHECK(healthy());
}

/* The server's resident size in KiB, -1 if unknown. */
static long server_rss(void)
{
    const char *pid = getenv("XENSTORED_PID");
    char path[64], line[128];
    long kib = -1;
    FILE *f;

    if (!pid)
        return -1;
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Checks that the server grew by less than limit KiB since base (not under sanitizers). */
static void check_growth(const char *what, long base, long now, long limit)
{
    printf("%s: server RSS %ld KiB -> %ld KiB (bound: +%ld KiB)\n", what, base, now, limit);
    CHECK(base > 0 && now > 0);
    if (!XS_E2E_SANITIZE && now - base >= limit) {
        fprintf(stderr, "%s: server grew by %ld KiB\n", what, now - base);
        failures++;
    }
}

/*
 * n writes of "<prefix><i / 256>/<i % 256>" with len bytes of c, pipelined
 * 100 at a time. Returns how many succeeded before the first error, whose
 * name goes to err (if not NULL); -1 if the connection broke.
 */
static int write_many(int fd, const char *prefix, int n, size_t len, char c, char *err)
{
    static char msg[XENSTORE_PAYLOAD_MAX];
    struct reply r;
    int ok = 0;
    bool failed = false;

    for (int i = 0; i < n; i += 100) {
        int batch = n - i < 100 ? n - i : 100;
        for (int k = 0; k < batch; k++) {
            int j = i + k;
            int pl = snprintf(msg, sizeof(msg), "%s%d/%d", prefix, j / 256, j % 256) + 1;
            memset(msg + pl, c, len);
            if (!send_msg(fd, XS_WRITE, (uint32_t)k, msg, (uint32_t)(pl + len)))
                return -1;
        }
        for (int k = 0; k < batch; k++) {
            if (recv_reply(fd, &r) != 0)
                return -1;
            if (r.hdr.type == XS_WRITE && !failed) {
                ok++;
            } else if (r.hdr.type != XS_WRITE && !failed) {
                failed = true;
                if (err)
                    strcpy(err, r.data);
            }
        }
        if (failed)
            break;
    }
    return ok;
}

/* Starts a transaction on fd; 0 on failure, with the error name in err. */
static uint32_t txn_start(int fd, char *err)
{
    struct reply r;

    if (!send_msg(fd, XS_TRANSACTION_START, 1, "", 1) || recv_reply(fd, &r) != 0)
        return 0;
    if (r.hdr.type != XS_TRANSACTION_START) {
        if (err)
            strcpy(err, r.data);
        return 0;
    }
    return (uint32_t)strtoul(r.data, NULL, 10);
}

/* Sends a request in transaction tx and returns the reply (type, data) in r. */
static bool txn_req(int fd, uint32_t tx, uint32_t type, const char *arg, struct reply *r)
{
    return send_tx(fd, type, 2, tx, arg, (uint32_t)strlen(arg) + 1) && recv_reply(fd, r) == 0 &&
           r->hdr.tx_id == tx;
}

static bool rm_ok(int fd, const char *path)
{
    struct reply r;

    return send_msg(fd, XS_RM, 3, path, (uint32_t)strlen(path) + 1) && recv_reply(fd, &r) == 0 &&
           r.hdr.type == XS_RM;
}

/*
 * The attack on transactions: a 9 MiB store (3000 nodes of 3 KiB), then
 * every transaction 8 clients may open, each reading the store. Were each
 * a copy of the store, that would be 80 copies; they share its nodes.
 */
static void test_txn_flood(void)
{
    enum { CONNS = 8 };
    static uint32_t ids[CONNS][MAX_TXNS];
    int w = xs_connect(), fds[CONNS];
    char err[64] = "";
    struct reply r;
    long base;

    CHECK(w >= 0);
    CHECK(write_many(w, "/hog/", 3000, 3072, 'a', NULL) == 3000);
    base = server_rss();
    for (int c = 0; c < CONNS; c++) {
        fds[c] = xs_connect();
        CHECK(fds[c] >= 0);
        for (int t = 0; t < MAX_TXNS; t++) {
            char path[32];
            ids[c][t] = txn_start(fds[c], NULL);
            CHECK(ids[c][t] != 0);
            snprintf(path, sizeof(path), "/hog/%d/%d", t, c);
            CHECK(txn_req(fds[c], ids[c][t], XS_READ, path, &r) && r.hdr.type == XS_READ &&
                  r.hdr.len == 3072);
        }
        /* One more than xenstored's default quota. */
        CHECK(txn_start(fds[c], err) == 0 && strcmp(err, "ENOSPC") == 0);
    }
    check_growth("80 transactions on a 9 MiB store", base, server_rss(), 4 * 1024);
    /* They only read, and nobody wrote: every commit succeeds. */
    for (int c = 0; c < CONNS; c++) {
        for (int t = 0; t < MAX_TXNS; t++)
            CHECK(txn_req(fds[c], ids[c][t], XS_TRANSACTION_END, "T", &r) &&
                  r.hdr.type == XS_TRANSACTION_END);
        close(fds[c]);
    }
    CHECK(healthy_on(w));
    close(w);
}

/*
 * The attack on snapshots, on the store test_txn_flood built: a
 * transaction, a rewrite of the whole store, another transaction, another
 * rewrite... each transaction keeps a whole old store alive. The server
 * drops the oldest transactions to stay within its budget; their requests
 * then fail with EAGAIN.
 */
static void test_snapshot_churn(void)
{
    enum { ROUNDS = 12 };
    int w = xs_connect(), fds[ROUNDS];
    uint32_t ids[ROUNDS];
    long base = server_rss(), peak = base;
    struct reply r;

    CHECK(w >= 0);
    for (int i = 0; i < ROUNDS; i++) {
        fds[i] = xs_connect();
        ids[i] = txn_start(fds[i], NULL);
        CHECK(ids[i] != 0);
        CHECK(txn_req(fds[i], ids[i], XS_READ, "/hog/0/0", &r) && r.hdr.type == XS_READ &&
              r.data[0] == (i ? 'b' + i - 1 : 'a'));
        CHECK(write_many(w, "/hog/", 3000, 3072, (char)('b' + i), NULL) == 3000);
        long now = server_rss();
        if (now > peak)
            peak = now;
    }
    check_growth("12 snapshots of a 9 MiB store, each rewritten", base, peak, POOL_MAX + 16 * 1024);
    /* The oldest went; the newest still sees what it saw. */
    CHECK(txn_req(fds[0], ids[0], XS_READ, "/hog/0/0", &r) && r.hdr.type == XS_ERROR &&
          strcmp(r.data, "EAGAIN") == 0);
    CHECK(txn_req(fds[0], ids[0], XS_TRANSACTION_END, "T", &r) && r.hdr.type == XS_ERROR &&
          strcmp(r.data, "EAGAIN") == 0);
    CHECK(txn_req(fds[ROUNDS - 1], ids[ROUNDS - 1], XS_READ, "/hog/11/183", &r) &&
          r.hdr.type == XS_READ && r.data[0] == 'b' + ROUNDS - 2);
    for (int i = 0; i < ROUNDS; i++)
        close(fds[i]);
    CHECK(healthy_on(w));
    close(w);
}

/* Filling the store: ENOSPC for the node after the last, and for the byte. */
static void test_store_limits(void)
{
    int w = xs_connect();
    char err[64] = "";
    int n;

    CHECK(w >= 0);
    CHECK(rm_ok(w, "/hog"));
    /* Nodes: 32768 in all, counting those there already and a parent per 256 written. */
    n = write_many(w, "/nodes/", 40000, 0, 0, err);
    printf("store full after %d more nodes: %s\n", n, err);
    CHECK(n > 32000 && n < 32768);
    CHECK(strcmp(err, "ENOSPC") == 0);
    CHECK(rm_ok(w, "/nodes"));
    /* Bytes: 16 MiB of names, values and permissions. */
    err[0] = '\0';
    n = write_many(w, "/bytes/", 8000, 4000, 'x', err);
    printf("store full after %d values of 4000 bytes: %s\n", n, err);
    CHECK(n > STORE_MAX / 4020 && n <= STORE_MAX / 4000);
    CHECK(strcmp(err, "ENOSPC") == 0);
    /* Nothing of the refused writes stayed; removing gives the room back. */
    CHECK(rm_ok(w, "/bytes"));
    CHECK(write_many(w, "/bytes/", 100, 4000, 'x', NULL) == 100);
    CHECK(rm_ok(w, "/bytes"));
    CHECK(healthy_on(w));
    close(w);
}

/*
 * Many watchers that never read, on a busy path: each one's queue is
 * bounded, and so is what all of them queue together.
 */
static void test_watchers_not_reading(void)
{
    enum { WATCHERS = 200 };
    static char path[2100];
    int fds[WATCHERS], w = xs_connect(), dropped = 0;
    long base = server_rss(), peak = base;
    struct reply r;

    CHECK(w >= 0);
    for (int i = 0; i < WATCHERS; i++) {
        fds[i] = xs_connect();
        /* The reply is read, the initial event and all later ones are not. */
        CHECK(fds[i] >= 0 && send_msg(fds[i], XS_WATCH, 1, "/busy\0t", 8) &&
              recv_reply(fds[i], &r) == 0 && r.hdr.type == XS_WATCH);
    }
    memcpy(path, "/busy/", 6);
    memset(path + 6, 'p', 2000);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(path + 2006, 16, "%d", i) + 2006 + 1;
        if (!send_msg(w, XS_WRITE, 1, path, (uint32_t)n) || recv_reply(w, &r) != 0 ||
            r.hdr.type != XS_WRITE) {
            CHECK(!"write failed while watchers stall");
            break;
        }
        if (i % 50 == 0) {
            long now = server_rss();
            if (now > peak)
                peak = now;
        }
    }
    if (server_rss() > peak)
        peak = server_rss();
    for (int i = 0; i < WATCHERS; i++) {
        dropped += closed_by_server(fds[i]);
        close(fds[i]);
    }
    CHECK(dropped == WATCHERS);
    check_growth("200 watchers not reading 2 MiB of events each", base, peak, OUT_MAX + 32 * 1024);
    CHECK(rm_ok(w, "/busy"));
    CHECK(healthy_on(w));
    close(w);
}

int main(void)
{
    test_bad_requests();
    test_oversized_length();
    test_truncated_and_disconnects();
    test_garbage();
    test_watch_flood();
    test_pipelined();
    test_non_reader();
    test_slow_watcher();
    test_many_clients();
    test_watchers_not_reading();
    test_txn_flood();
    test_snapshot_churn();
    test_store_limits();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("hostile clients: all checks passed\n");
    return 0;
}
