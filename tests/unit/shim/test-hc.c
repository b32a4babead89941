/* Helpers of the hypercall tests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "test-hc.h"

static void on_line(void *opaque, unsigned vcpu, const char *line, size_t len)
{
    struct hc_fx *fx = opaque;
    struct hc_line *l;

    if (fx->nr_lines >= sizeof(fx->lines) / sizeof(fx->lines[0]))
        return;
    l = &fx->lines[fx->nr_lines++];
    l->vcpu = vcpu;
    assert_true(len < sizeof(l->text));
    memcpy(l->text, line, len);
    l->text[len] = '\0';
    assert_int_equal(strlen(line), len);
}

static void on_shutdown(void *opaque, unsigned vcpu, unsigned reason)
{
    struct hc_fx *fx = opaque;

    fx->shutdowns++;
    fx->shutdown_vcpu = vcpu;
    fx->shutdown_reason = reason;
}

int hc_fx_setup(struct hc_fx **out, bool xenstore, uint64_t mem)
{
    struct hc_fx *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = HC_DOMID, .nr_vcpus = HC_VCPUS, .mem_bytes = mem, .xenstore = xenstore};
    struct hv_hypercall_config hcfg = {.console_line = on_line,
                                       .console_opaque = fx,
                                       .shutdown = on_shutdown,
                                       .shutdown_opaque = fx};

    if (!fx || mockhv_create(&fx->hv, &cfg) || hv_hypercalls_create(&fx->h, fx->hv, &hcfg))
        return -1;
    *out = fx;
    return 0;
}

void hc_fx_teardown(struct hc_fx *fx)
{
    hv_hypercalls_destroy(fx->h);
    mockhv_destroy(fx->hv);
    free(fx);
}

long hc_call(struct hc_fx *fx, unsigned vcpu, unsigned op, uint64_t a0, uint64_t a1, uint64_t a2)
{
    uint64_t args[5] = {a0, a1, a2, 0, 0};

    return hv_hypercall(fx->h, vcpu, op, args);
}

void hc_put(struct hc_fx *fx, uint64_t gpa, const void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_write(fx->hv, gpa, buf, len), 0);
}

void hc_get(struct hc_fx *fx, uint64_t gpa, void *buf, size_t len)
{
    assert_int_equal(mockhv_ram_read(fx->hv, gpa, buf, len), 0);
}

uint32_t hc_get32(struct hc_fx *fx, uint64_t gpa)
{
    uint32_t v;

    hc_get(fx, gpa, &v, 4);
    return v;
}

uint64_t hc_get64(struct hc_fx *fx, uint64_t gpa)
{
    uint64_t v;

    hc_get(fx, gpa, &v, 8);
    return v;
}

void hc_put32(struct hc_fx *fx, uint64_t gpa, uint32_t v)
{
    hc_put(fx, gpa, &v, 4);
}

long hc_get_param(struct hc_fx *fx, uint16_t domid, uint32_t index, uint64_t *value)
{
    struct c_param p = {.domid = domid, .index = index, .value = 0xdeadbeef};
    long rc;

    hc_put(fx, SCRATCH2, &p, sizeof(p));
    rc = hc_call(fx, 0, HC_HVM_OP, 1 /* HVMOP_get_param */, SCRATCH2, 0);
    hc_get(fx, SCRATCH2, &p, sizeof(p));
    if (value)
        *value = p.value;
    return rc;
}

long hc_set_param(struct hc_fx *fx, uint16_t domid, uint32_t index, uint64_t value)
{
    struct c_param p = {.domid = domid, .index = index, .value = value};

    hc_put(fx, SCRATCH2, &p, sizeof(p));
    return hc_call(fx, 0, HC_HVM_OP, 0 /* HVMOP_set_param */, SCRATCH2, 0);
}

long hc_map_shinfo(struct hc_fx *fx, uint64_t gfn)
{
    struct c_xatp x = {.domid = 0x7ff0, .space = 0, .idx = 0, .gpfn = (uint32_t)gfn};

    hc_put(fx, SCRATCH2, &x, sizeof(x));
    return hc_call(fx, 0, HC_MEMORY_OP, 7 /* XENMEM_add_to_physmap */, SCRATCH2, 0);
}

uint64_t hc_now(struct hc_fx *fx)
{
    assert_int_equal(hc_call(fx, 0, HC_HVM_OP, 10 /* HVMOP_get_time */, SCRATCH2, 0), 0);
    return hc_get64(fx, SCRATCH2);
}
