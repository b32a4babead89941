/*
 * A small ioreq server for the shim's unit tests, in the test's own process
 * and on the drop-in libraries: one server, all vCPU ports and the buffered
 * port bound, served from a thread. Tests choose how it misbehaves.
 */
#ifndef TEST_DM_H
#define TEST_DM_H

#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/ioreq.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define TEST_DM_MAX_LOG 256

enum test_dm_mode {
    TEST_DM_ANSWER,    /* answer every request */
    TEST_DM_SILENT,    /* take requests (INPROCESS), never answer */
    TEST_DM_NO_NOTIFY, /* answer without notifying */
    TEST_DM_BAD_STATE, /* answer with a state no Xen knows (5) */
};

struct test_dm {
    xenevtchn_handle *xce;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenforeignmemory_resource_handle *fres;
    buffered_iopage_t *buf; /* NULL without buffered ioreqs */
    shared_iopage_t *slots;
    uint16_t domid;
    ioservid_t id;
    unsigned nr_vcpus;
    evtchn_port_t local[128], buf_local;
    enum test_dm_mode mode;
    bool drain_buffered; /* false: leave the ring alone */
    uint64_t read_value; /* answer to every read without a handler */
    /* if set, answers every request instead (set by test_dm_start_with) */
    uint64_t (*handler)(void *opaque, unsigned vcpu, const ioreq_t *q);
    void *opaque;
    pthread_t thread;
    int stop_pipe[2];
    pthread_mutex_t lock; /* guards the logs */
    ioreq_t log[TEST_DM_MAX_LOG];
    unsigned nr_log;
    uint64_t buffered[TEST_DM_MAX_LOG];
    uint8_t buffered_type[TEST_DM_MAX_LOG];
    unsigned nr_buffered;
    int exit_reason; /* 0 stopped, -1 the mock went away */
};

/* Opens the handles, creates, maps, enables and binds; starts serving. */
int test_dm_start(struct test_dm *dm, uint16_t domid, int bufioreq);
/* The same, answering with handler(opaque, vcpu, request). */
int test_dm_start_with(struct test_dm *dm, uint16_t domid, int bufioreq,
                       uint64_t (*handler)(void *opaque, unsigned vcpu, const ioreq_t *q),
                       void *opaque);
/* Stops serving; destroy: also disable and destroy the server. */
void test_dm_stop(struct test_dm *dm, bool destroy);
unsigned test_dm_count(struct test_dm *dm);
/* Behaviour switches, read by the serving thread. */
void test_dm_set_mode(struct test_dm *dm, enum test_dm_mode mode);
void test_dm_set_read_value(struct test_dm *dm, uint64_t value);
void test_dm_set_drain(struct test_dm *dm, bool drain);
/* Buffered requests seen so far; *value of the i-th (if i < the count). */
unsigned test_dm_buffered(struct test_dm *dm, unsigned i, uint64_t *value);
ioreq_t test_dm_get(struct test_dm *dm, unsigned i);

#endif
