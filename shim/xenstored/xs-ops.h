/*
 * One xenstore request from a client, answered through the client's send
 * operation: the reply (same type, req_id and tx_id) or an XS_ERROR
 * carrying the errno name xenstored would send. The caller has framed the
 * message and checked len <= XENSTORE_PAYLOAD_MAX; everything in the
 * payload is untrusted.
 */
#ifndef XS_OPS_H
#define XS_OPS_H

#include <errno.h> /* before xs_wire.h: it defines xsd_errors only then */
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#include "xs-store.h"

void xs_ops_request(struct xs_client *c, const struct xsd_sockmsg *hdr, const char *payload);

/* The xsd_errors name for -err (or err), "EIO" for one xenstore has no name for. */
const char *xs_ops_errname(int err);

#endif
