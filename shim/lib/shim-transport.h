/*
 * The libraries' end of the wire protocol (shim/hv/wire.h): one connection
 * per library handle to the mock named by $MOCKXEN_SOCKET, requests
 * answered in order under a per-handle lock. Any transport failure marks
 * the connection dead and every later call fails with ENOTCONN: a device
 * model whose hypervisor went away gets errors, never a hang.
 */
#ifndef SHIM_TRANSPORT_H
#define SHIM_TRANSPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Longest wait for a reply; the mock answers at once, so this only bounds
 * a mock that is stuck. */
#define SHIM_REPLY_TIMEOUT_S 30

struct shim_conn {
    int fd;
    bool dead;
    pthread_mutex_t lock;
    uint16_t domid; /* the mock's domain, from HELLO */
    unsigned nr_vcpus;
};

/* Connects and says HELLO; fd_out (may be NULL) receives a descriptor the
 * mock passes (the evtchn event pipe). 0, or -1 with errno. */
int shim_conn_open(struct shim_conn *c, enum wire_kind kind, bool cloexec, int *fd_out);
void shim_conn_close(struct shim_conn *c);

/*
 * One request and its reply. payload/plen go after the request header;
 * the reply payload lands in rbuf (up to rmax, *rlen set), a passed
 * descriptor in *fd_out (-1 if none; both may be NULL). Returns the mock's
 * non-negative result, or -1 with errno (the mock's, or ENOTCONN).
 */
int shim_call(struct shim_conn *c, struct wire_req *req, const void *payload, size_t plen,
              struct wire_rep *rep, void *rbuf, size_t rmax, size_t *rlen, int *fd_out);
/* A request with no reply (notify, unmask). 0, or -1 with errno. */
int shim_send(struct shim_conn *c, const struct wire_req *req);

/* Shorthand: op with domid and up to 6 arguments, result or -1/errno. */
int shim_simple(struct shim_conn *c, uint32_t op, uint16_t domid, const uint64_t *args,
                unsigned nargs, struct wire_rep *rep);

#endif
