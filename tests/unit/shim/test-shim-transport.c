/*
 * Hostile clients on the mock's socket: broken framing, bad HELLOs, ops of
 * the wrong kind, unwanted descriptors, a flood of one-way messages. Each
 * is answered with an error or disconnected, and the mock keeps serving.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mockhv.h"
#include "wire.h"

#define DOMID 6

static int setup(void **state)
{
    struct mockhv_config cfg = {.domid = DOMID, .nr_vcpus = 1, .mem_bytes = 1 << 20};
    struct mockhv *hv;

    assert_int_equal(mockhv_create(&hv, &cfg), 0);
    *state = hv;
    return 0;
}

static int teardown(void **state)
{
    mockhv_destroy(*state);
    return 0;
}

static int dial(struct mockhv *hv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

    assert_true(fd >= 0);
    strcpy(sa.sun_path, mockhv_socket_path(hv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends a packet; returns the reply's ret, or 1 when the mock hung up. */
static int call(int fd, const void *msg, size_t len, int pass_fd)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    struct wire_rep rep;
    ssize_t n;

    if (pass_fd >= 0) {
        memset(&cm, 0, sizeof(cm));
        m.msg_control = cm.space;
        m.msg_controllen = sizeof(cm.space);
        cm.h.cmsg_level = SOL_SOCKET;
        cm.h.cmsg_type = SCM_RIGHTS;
        cm.h.cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(&cm.h), &pass_fd, sizeof(int));
    }
    if (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
        return 1;
    n = recv(fd, &rep, sizeof(rep), 0);
    if (n == 0)
        return 1;
    assert_int_equal(n, sizeof(rep));
    return rep.ret;
}

static int hello(int fd, uint64_t kind)
{
    struct wire_req req = {.op = WIRE_OP_HELLO, .a = {WIRE_MAGIC, WIRE_VERSION, kind}};

    return call(fd, &req, sizeof(req), -1);
}

static void test_broken_framing_disconnects(void **state)
{
    struct mockhv *hv = *state;
    struct wire_req req = {.op = WIRE_OP_DM_NR_VCPUS, .domid = DOMID};
    char *big = calloc(1, WIRE_MAX_MSG + 16);
    int fd;

    fd = dial(hv);
    assert_int_equal(call(fd, "xy", 2, -1), 1); /* shorter than a header */
    close(fd);

    fd = dial(hv);
    assert_int_equal(call(fd, &req, sizeof(req), -1), 1); /* op before HELLO */
    close(fd);

    fd = dial(hv);
    req = (struct wire_req){.op = WIRE_OP_HELLO, .a = {0xdead, WIRE_VERSION, WIRE_KIND_DM}};
    assert_int_equal(call(fd, &req, sizeof(req), -1), 1); /* bad magic */
    close(fd);

    fd = dial(hv);
    assert_int_equal(hello(fd, 99), 1); /* unknown kind */
    close(fd);

    fd = dial(hv);
    assert_int_equal(hello(fd, WIRE_KIND_DM), 0);
    assert_int_equal(hello(fd, WIRE_KIND_DM), 1); /* HELLO twice */
    close(fd);

    fd = dial(hv);
    assert_int_equal(hello(fd, WIRE_KIND_DM), 0);
    memcpy(big, &req, sizeof(req));
    assert_int_equal(call(fd, big, WIRE_MAX_MSG + 16, -1), 1); /* truncated */
    close(fd);
    free(big);
}

static void test_wrong_kind_and_unknown_ops(void **state)
{
    struct mockhv *hv = *state;
    struct wire_req req = {.op = WIRE_OP_EVTCHN_BIND_VIRQ};
    int fd = dial(hv);

    assert_int_equal(hello(fd, WIRE_KIND_DM), 0);
    assert_int_equal(call(fd, &req, sizeof(req), -1), -ENOSYS);
    req.op = 0xffffff;
    assert_int_equal(call(fd, &req, sizeof(req), -1), -ENOSYS);
    /* Xen looks at the extents only in log-dirty mode (dm.c, modified_memory). */
    req = (struct wire_req){.op = WIRE_OP_DM_MODIFIED_MEMORY, .domid = DOMID, .a = {1000}};
    assert_int_equal(call(fd, &req, sizeof(req), -1), 0);
    mockhv_set_log_dirty(hv, true);
    assert_int_equal(call(fd, &req, sizeof(req), -1), -EINVAL); /* payload missing */
    /* track_dirty_vram names the bitmap buffer's size; Xen refuses one too small */
    req = (struct wire_req){.op = WIRE_OP_DM_TRACK_DIRTY_VRAM, .domid = DOMID, .a = {0, 17, 2}};
    assert_int_equal(call(fd, &req, sizeof(req), -1), -EINVAL);
    req.a[2] = 3;
    assert_int_equal(call(fd, &req, sizeof(req), -1), 0);
    req = (struct wire_req){.op = WIRE_OP_DM_NR_VCPUS, .domid = DOMID};
    /* a descriptor nobody asked for is closed, the request still served */
    assert_int_equal(call(fd, &req, sizeof(req), 0), 0);
    close(fd);
}

static void test_notify_flood(void **state)
{
    struct mockhv *hv = *state;
    struct wire_req req = {.op = WIRE_OP_EVTCHN_NOTIFY, .a = {12345678}};
    int fd = dial(hv);

    assert_int_equal(hello(fd, WIRE_KIND_EVTCHN), 0);
    for (int i = 0; i < 10000; i++) {
        req.op = i & 1 ? WIRE_OP_EVTCHN_NOTIFY : WIRE_OP_EVTCHN_UNMASK;
        req.a[0] = (uint64_t)i * 7919;
        assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    }
    /* still in step: the next request gets its own answer */
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_UNBIND, .a = {3}};
    assert_int_equal(call(fd, &req, sizeof(req), -1), -ENOTCONN);
    close(fd);
    assert_int_equal(mockhv_bound_ports(hv), 0);
}

/* A request whose reply passes a descriptor: returns ret, *fd_out the descriptor or -1. */
static int call_fd(int fd, const struct wire_req *req, struct wire_rep *rep, int *fd_out)
{
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *h;

    *fd_out = -1;
    assert_int_equal(send(fd, req, sizeof(*req), MSG_NOSIGNAL), sizeof(*req));
    assert_int_equal(recvmsg(fd, &m, 0), sizeof(*rep));
    h = CMSG_FIRSTHDR(&m);
    if (h && h->cmsg_type == SCM_RIGHTS)
        memcpy(fd_out, CMSG_DATA(h), sizeof(int));
    return rep->ret;
}

/*
 * The event page is the client's to scribble on: garbage in it neither
 * takes the mock down nor survives a port being (re)assigned, and the mask
 * bits the mock keeps there are those of /dev/xen/evtchn.
 */
static void test_event_page_scribbled(void **state)
{
    struct mockhv *hv = *state;
    struct wire_req req = {.op = WIRE_OP_EVTCHN_SHARED};
    struct wire_rep rep;
    struct wire_evport *evp;
    struct pollfd pfd = {.events = POLLIN};
    uint32_t got;
    int fd = dial(hv), pagefd, port, a, b;

    /* the event pipe comes with HELLO */
    req.op = WIRE_OP_HELLO;
    req.a[0] = WIRE_MAGIC;
    req.a[1] = WIRE_VERSION;
    req.a[2] = WIRE_KIND_EVTCHN;
    assert_int_equal(call_fd(fd, &req, &rep, &pfd.fd), 0);
    assert_true(pfd.fd >= 0);
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_SHARED};
    assert_int_equal(call_fd(fd, &req, &rep, &pagefd), 0);
    assert_true(pagefd >= 0);
    assert_int_equal(rep.r[0], sizeof(struct wire_evport) * WIRE_EVP_PORTS);
    assert_int_equal(call_fd(fd, &req, &rep, &a), -EEXIST);
    assert_int_equal(a, -1);
    evp = mmap(NULL, sizeof(*evp) * WIRE_EVP_PORTS, PROT_READ | PROT_WRITE, MAP_SHARED, pagefd, 0);
    assert_true(evp != MAP_FAILED);
    close(pagefd);

    memset(evp, 0xff, sizeof(*evp) * WIRE_EVP_PORTS);
    /* a loopback pair: a fresh port starts unmasked, not pending, not direct */
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_BIND_UNBOUND, .domid = 0};
    a = call(fd, &req, sizeof(req), -1);
    assert_true(a > 0);
    assert_int_equal(evp[a].state, 0);
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_BIND_INTERDOMAIN, .domid = 0, .a = {(uint64_t)a}};
    b = call(fd, &req, sizeof(req), -1);
    assert_true(b > 0);
    /* binding fires b once: delivered and masked */
    assert_int_equal(evp[b].state, WIRE_EVP_MASKED);
    assert_int_equal(read(pfd.fd, &got, sizeof(got)), sizeof(got));
    assert_int_equal(got, b);
    /* notify b twice while masked: one pending mark, nothing delivered */
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_NOTIFY, .a = {(uint64_t)a}};
    assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_BIND_VIRQ, .a = {1}}; /* in step again */
    port = call(fd, &req, sizeof(req), -1);
    assert_true(port > 0);
    assert_int_equal(evp[b].state, WIRE_EVP_MASKED | WIRE_EVP_PENDING);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* unmask by message: the pending mark becomes one delivery, still masked */
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_UNMASK, .a = {(uint64_t)b}};
    assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    assert_int_equal(read(pfd.fd, &got, sizeof(got)), sizeof(got));
    assert_int_equal(got, b);
    assert_int_equal(evp[b].state, WIRE_EVP_MASKED);
    /* the client unmasks by itself; the next firing is delivered at once */
    evp[b].state = 0;
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_NOTIFY, .a = {(uint64_t)a}};
    assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    assert_int_equal(read(pfd.fd, &got, sizeof(got)), sizeof(got));
    assert_int_equal(got, b);

    /* scribbling over live ports costs the client its events, not the mock */
    memset(evp, 0xa5, sizeof(*evp) * WIRE_EVP_PORTS);
    for (int i = 0; i < 100; i++) {
        req = (struct wire_req){.op = i & 1 ? WIRE_OP_EVTCHN_NOTIFY : WIRE_OP_EVTCHN_UNMASK,
                                .a = {(uint64_t)(i & 2 ? a : b)}};
        assert_int_equal(send(fd, &req, sizeof(req), MSG_NOSIGNAL), sizeof(req));
    }
    req = (struct wire_req){.op = WIRE_OP_EVTCHN_UNBIND, .a = {(uint64_t)b}};
    assert_int_equal(call(fd, &req, sizeof(req), -1), 0);
    assert_int_equal(evp[b].state, 0);
    close(fd);
    munmap(evp, sizeof(*evp) * WIRE_EVP_PORTS);
    close(pfd.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broken_framing_disconnects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_kind_and_unknown_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_page_scribbled, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
