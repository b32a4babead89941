/*
 * Fuzz target: the mock xenstored's request handling. The input is a byte
 * stream as a client writes it to the socket: xsd_sockmsg frames, framed
 * exactly as the connection code frames them (a length over
 * XENSTORE_PAYLOAD_MAX ends the stream, as it closes a connection), each
 * handed to xs_ops_request() for one of three clients on one store: two
 * privileged dom0 clients and an unprivileged guest (domain 1), picked by
 * req_id modulo 3 so that frames stay plain wire format.
 *
 * Checked: every request gets exactly one answer, to its sender, carrying
 * its req_id and tx_id, of its own type or XS_ERROR with a NUL-terminated
 * errno name; everything else sent is a well-formed WATCH_EVENT; nothing
 * exceeds XENSTORE_PAYLOAD_MAX. Teardown leaks nothing (LeakSanitizer).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-env.h"
#include "xs-ops.h"
#include "xs-store.h"

#define NR_CLIENTS 3
#define MAX_FRAMES 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec_client {
    struct xs_client c;
    unsigned replies; /* answers to the request being handled */
    uint32_t req_id, tx_id, type;
    bool in_request;
};

static void rec_send(struct xs_client *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                     const void *payload, size_t len)
{
    struct rec_client *r = (struct rec_client *)c;
    const char *p = payload;

    FZ_CHECK(len <= XENSTORE_PAYLOAD_MAX);
    if (type == XS_WATCH_EVENT) {
        /* "<path>\0<token>\0" */
        FZ_CHECK(len >= 2 && p[len - 1] == '\0' && memchr(p, '\0', len - 1) != NULL);
        return;
    }
    FZ_CHECK(r->in_request);
    r->replies++;
    FZ_CHECK(r->replies == 1);
    FZ_CHECK(req_id == r->req_id && tx_id == r->tx_id);
    FZ_CHECK(type == r->type || type == XS_ERROR);
    if (type == XS_ERROR)
        FZ_CHECK(len >= 2 && p[len - 1] == '\0' && strlen(p) == len - 1);
}

static const struct xs_client_ops rec_ops = {.send = rec_send};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xs_store store;
    static struct rec_client clients[NR_CLIENTS];
    static char payload[XENSTORE_PAYLOAD_MAX + 1];
    struct fz_in in;

    fz_log_quiet();
    if (xs_store_init(&store))
        return 0;
    memset(clients, 0, sizeof(clients));
    xs_client_attach(&store, &clients[0].c, &rec_ops, 0, true);
    xs_client_attach(&store, &clients[1].c, &rec_ops, 0, true);
    xs_client_attach(&store, &clients[2].c, &rec_ops, 1, false);

    fz_in_init(&in, data, size);
    for (unsigned i = 0; i < MAX_FRAMES && in.left >= sizeof(struct xsd_sockmsg); i++) {
        struct xsd_sockmsg hdr;

        fz_in_bytes(&in, &hdr, sizeof(hdr));
        if (hdr.len > XENSTORE_PAYLOAD_MAX || hdr.len > in.left)
            break; /* the connection would close, or wait for bytes that never come */
        fz_in_bytes(&in, payload, hdr.len);
        payload[hdr.len] = '\0';

        struct rec_client *r = &clients[hdr.req_id % NR_CLIENTS];
        r->replies = 0;
        r->req_id = hdr.req_id;
        r->tx_id = hdr.tx_id;
        r->type = hdr.type;
        r->in_request = true;
        xs_ops_request(&r->c, &hdr, payload);
        r->in_request = false;
        FZ_CHECK(r->replies == 1);
    }

    for (unsigned i = 0; i < NR_CLIENTS; i++)
        xs_client_detach(&clients[i].c);
    xs_store_destroy(&store);
    return 0;
}
