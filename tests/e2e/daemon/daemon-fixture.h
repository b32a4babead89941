/*
 * dfx: what the daemon e2e suites (tests/e2e/daemon, tests/e2e/depriv) share
 * to run the real ioreqd on a mock domain: a private scratch directory with
 * ioreqd's log and control socket, the mock with a libxenstore connection of
 * the test's own, ioreqd run by dmproc (tools/guest), and the checks the
 * cases make of it. Failures are cmocka failures, with ioreqd's log printed.
 */
#ifndef DAEMON_FIXTURE_H
#define DAEMON_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "dm-process.h"
#include "mockhv.h"

#define DFX_WAIT_MS 20000

struct xs_handle;

struct dfx {
    struct mockhv *hv;
    struct dmproc dm;     /* ioreqd */
    struct xs_handle *xs; /* the test's own connection to the mock's xenstored */
    char dir[64];         /* private to the case */
    char errpath[96];     /* ioreqd's stdout and stderr */
    char ctlpath[96];     /* its control socket */
};

/* The scratch directory "<tmp>/<tag>.XXXXXX" and the paths in it. 0 or -errno. */
int dfx_init(struct dfx *fx, const char *tag);
/* Kills what still runs, closes and destroys everything, removes the directory. 0 or -errno. */
int dfx_fini(struct dfx *fx);

/* The mock with one domain, and our xenstore connection to it. */
void dfx_start_hv(struct dfx *fx, uint16_t domid, unsigned nr_vcpus, uint64_t mem_bytes);
/* The hypervisor going away under ioreqd: our connections closed, the mock destroyed. */
void dfx_destroy_hv(struct dfx *fx);

/* Starts program with args (and env, see dmproc_config) as p, output appended to errpath. */
void dfx_spawn(struct dfx *fx, struct dmproc *p, const char *program, const char *const *args,
               const char *const *env);
/* Waits (bounded) for p to exit and returns its wait status. */
int dfx_wait_exit(struct dmproc *p);
/* Sends sig to fx->dm and waits for its exit; returns its wait status. */
int dfx_signal_and_wait(struct dfx *fx, int sig);
/* Whether the log holds text. */
bool dfx_log_has(struct dfx *fx, const char *text);
/* One request line on the control socket, its reply line (static storage). */
char *dfx_control_ask(struct dfx *fx, const char *request);

/* One-byte port accesses from vCPU vcpu that must succeed. */
uint32_t dfx_pio_in(struct dfx *fx, unsigned vcpu, uint16_t port);
void dfx_pio_out(struct dfx *fx, unsigned vcpu, uint16_t port, uint32_t v);

#endif
