/*
 * The guest's xenstore ring relayed to the embedded xenstored as the
 * domain's own connection: requests written into the ring page and
 * notified with EVTCHNOP_send are answered in the response ring, the port
 * is set pending in the shared info page and SCHEDOP_poll wakes, as
 * hvmloader's xenbus client expects. Permissions are the domain's, not
 * dom0's. Corrupt indexes and oversized messages are counted, the
 * connection reset, and the ring works again afterwards.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-hc.h"

#define RING           0xfeffc000ull
#define RING_SIZE      1024u
#define REQ_CONS       (RING + 2048)
#define REQ_PROD       (RING + 2052)
#define RSP_CONS       (RING + 2056)
#define RSP_PROD       (RING + 2060)
#define SHINFO         (HOLE_GFN << 12)
#define XS_READ        2
#define XS_WATCH       4
#define XS_WRITE       11
#define XS_WATCH_EVENT 15
#define XS_ERROR       16

struct msg {
    uint32_t type, req_id, tx_id, len;
    char body[4096];
};

static int setup(void **state)
{
    struct hc_fx *fx;
    struct hv_boot_config cfg = {
        .hvmloader = HVMLOADER, .bios_module = SEABIOS, .bios_name = "seabios"};
    struct hv_boot_state bs;

    if (hc_fx_setup(&fx, true, HC_MEM) || hv_hypercalls_boot(fx->h, &cfg, &bs) ||
        hc_map_shinfo(fx, HOLE_GFN))
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    hc_fx_teardown(*state);
    return 0;
}

static void ring_put(struct hc_fx *fx, const void *data, uint32_t len)
{
    uint32_t prod = hc_get32(fx, REQ_PROD);
    const uint8_t *p = data;

    for (uint32_t i = 0; i < len; i++)
        hc_put(fx, RING + ((prod + i) & (RING_SIZE - 1)), p + i, 1);
    hc_put32(fx, REQ_PROD, prod + len);
}

static void notify(struct hc_fx *fx)
{
    hc_put32(fx, SCRATCH, hv_hypercalls_store_port(fx->h));
    assert_int_equal(hc_call(fx, 0, HC_EVTCHN_OP, 4, SCRATCH, 0), 0);
}

static void request(struct hc_fx *fx, uint32_t type, uint32_t req_id, const void *body,
                    uint32_t len)
{
    uint32_t hdr[4] = {type, req_id, 0, len};

    ring_put(fx, hdr, sizeof(hdr));
    ring_put(fx, body, len);
    notify(fx);
}

/* hvmloader's ring_wait: take the port's pending bit, or poll the port
 * until it is set (with a timeout, so a broken relay fails the test instead
 * of hanging it), until `want` says so. */
static bool wait_for(struct hc_fx *fx, bool (*want)(struct hc_fx *fx, uint32_t arg), uint32_t arg)
{
    uint32_t port = hv_hypercalls_store_port(fx->h);

    for (int i = 0; i < 4000; i++) {
        struct c_poll p = {.ports = SCRATCH, .nr_ports = 1, .timeout = hc_now(fx) + 5000000};
        uint32_t pending;

        if (want(fx, arg))
            return true;
        pending = hc_get32(fx, SHINFO + 2048);
        if (pending & (1u << port)) {
            hc_put32(fx, SHINFO + 2048, pending & ~(1u << port));
            continue;
        }
        hc_put32(fx, SCRATCH, port);
        hc_put(fx, SCRATCH2, &p, sizeof(p));
        assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, SCRATCH2, 0), 0);
    }
    return want(fx, arg);
}

static bool rsp_has(struct hc_fx *fx, uint32_t bytes)
{
    return hc_get32(fx, RSP_PROD) - hc_get32(fx, RSP_CONS) >= bytes;
}

static void rsp_take(struct hc_fx *fx, void *out, uint32_t len)
{
    uint32_t cons = hc_get32(fx, RSP_CONS);
    uint8_t *p = out;

    assert_true(wait_for(fx, rsp_has, len));
    for (uint32_t i = 0; i < len; i++)
        hc_get(fx, RING + RING_SIZE + ((cons + i) & (RING_SIZE - 1)), p + i, 1);
    hc_put32(fx, RSP_CONS, cons + len);
}

static void reply(struct hc_fx *fx, struct msg *m)
{
    rsp_take(fx, m, 16);
    assert_true(m->len < sizeof(m->body));
    rsp_take(fx, m->body, m->len);
    m->body[m->len] = '\0';
}

static struct hv_hypercall_stats stats(struct hc_fx *fx)
{
    struct hv_hypercall_stats s;

    hv_hypercalls_get_stats(fx->h, &s);
    return s;
}

static void test_read(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t port = hv_hypercalls_store_port(fx->h);
    struct msg m;

    assert_int_equal(hc_get32(fx, SHINFO + 2048) & (1u << port), 0);
    /* relative to the domain's home, as hvmloader asks */
    request(fx, XS_READ, 7, "hvmloader/bios", 15);
    /* SCHEDOP_poll returns once the relay has set the port pending */
    for (int i = 0; i < 4000 && !(hc_get32(fx, SHINFO + 2048) & (1u << port)); i++) {
        struct c_poll p = {.ports = SCRATCH, .nr_ports = 1, .timeout = hc_now(fx) + 5000000};

        hc_put32(fx, SCRATCH, port);
        hc_put(fx, SCRATCH2, &p, sizeof(p));
        assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, SCRATCH2, 0), 0);
    }
    assert_true(hc_get32(fx, SHINFO + 2048) & (1u << port));
    reply(fx, &m);
    assert_int_equal(m.type, XS_READ);
    assert_int_equal(m.req_id, 7);
    assert_int_equal(m.len, 7);
    assert_memory_equal(m.body, "seabios", 7);
    /* the request ring is empty */
    assert_int_equal(hc_get32(fx, REQ_CONS), hc_get32(fx, REQ_PROD));
    assert_int_equal(stats(fx).xs_requests, 16 + 15);
    assert_int_equal(stats(fx).xs_replies, 16 + 7);
    /* absolute, and a key that is not there */
    {
        char path[64];
        int n = snprintf(path, sizeof(path), "/local/domain/%u/platform/acpi", HC_DOMID);

        request(fx, XS_READ, 8, path, (uint32_t)n + 1);
        reply(fx, &m);
        assert_int_equal(m.type, XS_READ);
        assert_string_equal(m.body, "1");
    }
    request(fx, XS_READ, 9, "platform/nothing", 17);
    reply(fx, &m);
    assert_int_equal(m.type, XS_ERROR);
    assert_string_equal(m.body, "ENOENT");
    assert_int_equal(stats(fx).xs_resets, 0);
}

/* The relay sets the port pending while the guest takes the bit with a
 * read-modify-write that the emulated vCPU does as a plain load and store:
 * the guest's store overwrites the relay's bit. The reply is in the ring,
 * the guest (which read an empty ring just before) polls for it. */
static void test_poll_after_lost_notification(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t port = hv_hypercalls_store_port(fx->h);
    struct c_poll p = {.ports = SCRATCH, .nr_ports = 1};
    struct msg m;
    uint64_t renotified;

    request(fx, XS_READ, 3, "hvmloader/bios", 15);
    /* the whole reply is in the ring, nothing more comes */
    assert_true(wait_for(fx, rsp_has, 16 + 7));
    assert_int_equal(stats(fx).xs_replies, 16 + 7);
    renotified = stats(fx).xs_renotify;
    /* the guest's stale store clears the relay's bit */
    hc_put32(fx, SHINFO + 2048, hc_get32(fx, SHINFO + 2048) & ~(1u << port));
    /* a timeout only so that a relay that fails lets the test fail, not hang */
    p.timeout = hc_now(fx) + 2000000000ull;
    hc_put32(fx, SCRATCH, port);
    hc_put(fx, SCRATCH2, &p, sizeof(p));
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, SCRATCH2, 0), 0);
    /* the poll ended on the port, set pending again, not on the timeout */
    assert_true(hc_get32(fx, SHINFO + 2048) & (1u << port));
    assert_int_equal(stats(fx).xs_renotify, renotified + 1);
    reply(fx, &m);
    assert_int_equal(m.type, XS_READ);
    assert_int_equal(m.req_id, 3);
    assert_memory_equal(m.body, "seabios", 7);
    /* with the ring read, a poll is not woken by the relay again */
    p.timeout = hc_now(fx) + 1000000ull;
    hc_put(fx, SCRATCH2, &p, sizeof(p));
    hc_put32(fx, SHINFO + 2048, hc_get32(fx, SHINFO + 2048) & ~(1u << port));
    assert_int_equal(hc_call(fx, 0, HC_SCHED_OP, 3, SCRATCH2, 0), 0);
    assert_int_equal(hc_get32(fx, SHINFO + 2048) & (1u << port), 0);
    assert_int_equal(stats(fx).xs_renotify, renotified + 1);
}

static void test_domain_permissions(void **state)
{
    struct hc_fx *fx = *state;
    static const char w[] = "/local/domain/0/owned\0x";
    struct msg m;

    request(fx, XS_WRITE, 1, w, sizeof(w) - 1);
    reply(fx, &m);
    assert_int_equal(m.type, XS_ERROR);
    assert_string_equal(m.body, "EACCES");
    /* its own data/ directory is writable */
    request(fx, XS_WRITE, 2, "data/hello\0yes", 14);
    reply(fx, &m);
    assert_int_equal(m.type, XS_WRITE);
    {
        char path[64], *val = NULL;

        snprintf(path, sizeof(path), "/local/domain/%u/data/hello", HC_DOMID);
        assert_int_equal(mockhv_xenstore_read(fx->hv, path, &val), 0);
        assert_string_equal(val, "yes");
        free(val);
    }
}

static void test_watch_event(void **state)
{
    struct hc_fx *fx = *state;
    char path[64];
    struct msg m;

    request(fx, XS_WATCH, 3, "hvmloader/bios\0tok", 19);
    reply(fx, &m);
    assert_int_equal(m.type, XS_WATCH);
    assert_string_equal(m.body, "OK");
    reply(fx, &m); /* the watch fires once when set */
    assert_int_equal(m.type, XS_WATCH_EVENT);
    assert_string_equal(m.body, "hvmloader/bios");
    assert_string_equal(m.body + 15, "tok");
    /* a change by the toolstack reaches the ring without the guest asking */
    snprintf(path, sizeof(path), "/local/domain/%u/hvmloader/bios", HC_DOMID);
    assert_int_equal(mockhv_xenstore_write(fx->hv, path, "ovmf"), 0);
    reply(fx, &m);
    assert_int_equal(m.type, XS_WATCH_EVENT);
    assert_string_equal(m.body, "hvmloader/bios");
}

static bool corrupt_seen(struct hc_fx *fx, uint32_t n)
{
    return stats(fx).xs_ring_corrupt >= n;
}

static bool resets_seen(struct hc_fx *fx, uint32_t n)
{
    return stats(fx).xs_resets >= n;
}

static void test_corrupt_indexes(void **state)
{
    struct hc_fx *fx = *state;
    struct msg m;

    /* more than a ring's worth of requests */
    hc_put32(fx, REQ_PROD, hc_get32(fx, REQ_CONS) + 5000);
    notify(fx);
    assert_true(wait_for(fx, corrupt_seen, 1));
    assert_int_equal(hc_get32(fx, REQ_CONS), hc_get32(fx, REQ_PROD));
    assert_int_equal(stats(fx).xs_resets, 1);
    /* responses claimed consumed beyond what was produced */
    hc_put32(fx, RSP_CONS, hc_get32(fx, RSP_PROD) - 2000);
    notify(fx);
    assert_true(wait_for(fx, corrupt_seen, 2));
    assert_int_equal(hc_get32(fx, RSP_CONS), hc_get32(fx, RSP_PROD));
    /* and the ring serves again */
    request(fx, XS_READ, 11, "hvmloader/bios", 15);
    reply(fx, &m);
    assert_int_equal(m.type, XS_READ);
    assert_int_equal(m.req_id, 11);
}

static void test_oversized_message(void **state)
{
    struct hc_fx *fx = *state;
    uint32_t hdr[4] = {XS_WRITE, 1, 0, 5000};
    struct msg m;

    /* a header announcing more than XENSTORE_PAYLOAD_MAX: xenstored drops
     * the connection, the relay starts a fresh one */
    ring_put(fx, hdr, sizeof(hdr));
    notify(fx);
    assert_true(wait_for(fx, resets_seen, 1));
    assert_int_equal(stats(fx).xs_ring_corrupt, 0);
    request(fx, XS_READ, 12, "hvmloader/bios", 15);
    reply(fx, &m);
    assert_int_equal(m.type, XS_READ);
    assert_int_equal(m.req_id, 12);
}

static void test_hvmloader_shutdown(void **state)
{
    struct hc_fx *fx = *state;
    uint8_t ff[RING_SIZE];
    struct msg m;

    request(fx, XS_READ, 1, "hvmloader/bios", 15);
    reply(fx, &m);
    /* xenbus_shutdown without server features: rings filled with 0xff,
     * indexes back to 0, the event bits cleared */
    memset(ff, 0xff, sizeof(ff));
    hc_put(fx, RING, ff, sizeof(ff));
    hc_put(fx, RING + RING_SIZE, ff, sizeof(ff));
    hc_put32(fx, REQ_CONS, 0);
    hc_put32(fx, REQ_PROD, 0);
    hc_put32(fx, RSP_CONS, 0);
    hc_put32(fx, RSP_PROD, 0);
    hc_put32(fx, SHINFO + 2048, 0);
    /* the next client starts from index 0 */
    request(fx, XS_READ, 2, "hvmloader/bios", 15);
    reply(fx, &m);
    assert_int_equal(m.type, XS_READ);
    assert_int_equal(m.req_id, 2);
    assert_int_equal(hc_get32(fx, RSP_PROD), 16 + 7);
    assert_int_equal(stats(fx).xs_resets, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poll_after_lost_notification, setup, teardown),
        cmocka_unit_test_setup_teardown(test_domain_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hvmloader_shutdown, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
