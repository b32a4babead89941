/*
 * The request arithmetic against a recording device, flat guest memory and
 * a recording PCI handler: every accessed address, size and value is
 * checked, and malformed requests must touch nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hv-services.h"
#include "request.h"

#define PORT 0x3f8
#define MMIO 0xfe000000ull
#define RAM  0x10000

struct access {
    int write;
    uint64_t addr;
    unsigned size, vcpu;
    uint64_t value;
};

struct rec {
    struct access log[64];
    unsigned n;
    uint64_t next_read; /* incremented per read */
};

static uint64_t rec_read(void *opaque, const struct io_access *a)
{
    struct rec *r = opaque;
    uint64_t v = r->next_read++;

    if (r->n < 64)
        r->log[r->n++] = (struct access){0, a->addr, a->size, a->vcpu, v};
    return v;
}

static void rec_write(void *opaque, const struct io_access *a, uint64_t v)
{
    struct rec *r = opaque;

    if (r->n < 64)
        r->log[r->n++] = (struct access){1, a->addr, a->size, a->vcpu, v};
}

static const struct io_ops rec_ops = {.read = rec_read, .write = rec_write};

struct pci_rec {
    unsigned reads, writes;
    uint32_t sbdf, value;
    unsigned reg, size;
};

static uint32_t pci_read(void *opaque, uint32_t sbdf, unsigned reg, unsigned size)
{
    struct pci_rec *p = opaque;

    p->reads++;
    p->sbdf = sbdf;
    p->reg = reg;
    p->size = size;
    return 0x12345678;
}

static void pci_write(void *opaque, uint32_t sbdf, unsigned reg, unsigned size, uint32_t v)
{
    struct pci_rec *p = opaque;

    p->writes++;
    p->sbdf = sbdf;
    p->reg = reg;
    p->size = size;
    p->value = v;
}

struct fixture {
    struct io_registry *reg;
    struct gmem *gm;
    uint8_t ram[RAM];
    struct rec pio, mmio;
    struct pci_rec pcirec;
    struct ioreq_pci_handler pci;
    struct ioreq_stats stats;
    struct ioreq_vcpu_stats vs;
    struct request_ctx ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    f->reg = io_registry_new();
    f->gm = gmem_flat_new(f->ram, RAM);
    f->pio.next_read = 0x11223344;
    f->mmio.next_read = 0x8877665544332211ull;
    struct io_range p = {.space = IO_SPACE_PIO,
                         .base = PORT,
                         .len = 8,
                         .ops = &rec_ops,
                         .opaque = &f->pio,
                         .name = "pio"};
    struct io_range m = {.space = IO_SPACE_MMIO,
                         .base = MMIO,
                         .len = 0x1000,
                         .ops = &rec_ops,
                         .opaque = &f->mmio,
                         .name = "mmio"};
    assert_int_equal(io_map(f->reg, &p), 0);
    assert_int_equal(io_map(f->reg, &m), 0);
    f->pci = (struct ioreq_pci_handler){
        .cfg_read = pci_read, .cfg_write = pci_write, .opaque = &f->pcirec};
    f->ctx =
        (struct request_ctx){.registry = f->reg, .gmem = f->gm, .pci = &f->pci, .stats = &f->stats};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    gmem_free(f->gm);
    io_registry_free(f->reg);
    free(f);
    return 0;
}

static ioreq_t mk(uint8_t type, int dir, uint64_t addr, uint32_t size, uint32_t count,
                  uint64_t data)
{
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.type = type;
    r.dir = dir ? IOREQ_READ : IOREQ_WRITE;
    r.addr = addr;
    r.size = size;
    r.count = count;
    r.data = data;
    r.state = STATE_IOREQ_READY;
    return r;
}

static void run(struct fixture *f, ioreq_t *r, unsigned vcpu)
{
    request_handle(&f->ctx, r, vcpu, &f->vs);
}

static void test_pio_single(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    r = mk(IOREQ_TYPE_PIO, 1, PORT + 5, 1, 1, 0xdead);
    run(f, &r, 2);
    assert_int_equal(r.data, 0x44);
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0x3345);
    r = mk(IOREQ_TYPE_PIO, 1, PORT + 4, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0x11223346);
    r = mk(IOREQ_TYPE_PIO, 0, PORT + 1, 2, 1, 0xabcdef);
    run(f, &r, 1);
    assert_int_equal(r.data, 0xabcdef); /* a write's data is left alone */

    assert_int_equal(f->pio.n, 4);
    assert_int_equal(f->pio.log[0].addr, PORT + 5);
    assert_int_equal(f->pio.log[0].size, 1);
    assert_int_equal(f->pio.log[0].vcpu, 2);
    assert_int_equal(f->pio.log[3].write, 1);
    assert_int_equal(f->pio.log[3].value, 0xcdef);
    assert_int_equal(f->pio.log[3].vcpu, 1);
    assert_int_equal(f->vs.requests, 4);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_PIO], 4);
    assert_int_equal(f->stats.malformed, 0);
    assert_int_equal(f->stats.unclaimed, 0);
}

static void test_unclaimed(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    r = mk(IOREQ_TYPE_PIO, 1, 0x80, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffff);
    r = mk(IOREQ_TYPE_COPY, 1, MMIO - 8, 8, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, UINT64_MAX);
    /* Half inside the range is not inside it. */
    r = mk(IOREQ_TYPE_COPY, 1, MMIO + 0xffe, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_PIO, 0, 0x80, 1, 1, 0x12);
    run(f, &r, 0);
    assert_int_equal(f->stats.unclaimed, 4);
    assert_int_equal(f->stats.malformed, 0);
    assert_int_equal(f->pio.n + f->mmio.n, 0);
}

static void test_malformed_sizes(void **state)
{
    struct fixture *f = *state;
    uint32_t sizes[] = {0, 3, 5, 16, 7, 0xffffffff};
    ioreq_t r;

    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        r = mk(IOREQ_TYPE_COPY, 1, MMIO, sizes[i], 1, 0);
        run(f, &r, 0);
        assert_int_equal(r.data, UINT64_MAX);
        r = mk(IOREQ_TYPE_PIO, 0, PORT, sizes[i], 1, 0);
        run(f, &r, 0);
    }
    /* Port I/O is at most 4 bytes. */
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 8, 1, 0x55);
    run(f, &r, 0);
    assert_int_equal(r.data, UINT64_MAX);
    assert_int_equal(f->stats.malformed, 13);
    assert_int_equal(f->pio.n + f->mmio.n, 0);
    assert_int_equal(f->vs.requests, 13);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_COPY], 6);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_PIO], 7);
}

static void test_malformed_counts(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    r = mk(IOREQ_TYPE_COPY, 1, MMIO, 4, 0, 7);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_COPY, 0, MMIO, 4, 0xffffffff, 7);
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 1, REQUEST_MAX_COUNT + 1, 0x100);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(r.data, 0x100); /* a pointer is never overwritten */
    assert_int_equal(f->stats.malformed, 3);
    assert_int_equal(f->pio.n + f->mmio.n, 0);
    assert_int_equal(f->ram[0x100], 0);

    /* The bound itself is served: 4096 one-byte ins fill 4096 bytes. */
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 1, REQUEST_MAX_COUNT, 0x1000);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(f->stats.malformed, 3);
    assert_int_equal(f->ram[0x1000], 0x44);
    assert_int_equal(f->ram[0x1fff], (uint8_t)(0x44 + 4095));
    assert_int_equal(f->ram[0x2000], 0);
    assert_int_equal(f->pio.next_read, 0x11223344 + 4096);
}

static void test_rep_stos_df(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    r = mk(IOREQ_TYPE_COPY, 0, MMIO + 0x100, 4, 4, 0x1122334455667788ull);
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_COPY, 0, MMIO + 0x20c, 4, 4, 0xaabbccdd);
    r.df = 1;
    run(f, &r, 0);
    assert_int_equal(f->mmio.n, 8);
    uint64_t want[] = {0x100, 0x104, 0x108, 0x10c, 0x20c, 0x208, 0x204, 0x200};
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(f->mmio.log[i].write, 1);
        assert_int_equal(f->mmio.log[i].addr, MMIO + want[i]);
        assert_int_equal(f->mmio.log[i].size, 4);
        assert_int_equal(f->mmio.log[i].value, i < 4 ? 0x55667788 : 0xaabbccdd);
    }
    /* A non-pointer rep read keeps the last item. */
    r = mk(IOREQ_TYPE_COPY, 1, MMIO, 2, 3, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0x2213);
    assert_int_equal(f->mmio.n, 11);
    assert_int_equal(f->mmio.log[10].addr, MMIO + 4);
}

static void test_rep_ins_ptr(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    /* rep insw: the port stays, the buffer steps up. */
    r = mk(IOREQ_TYPE_PIO, 1, PORT + 2, 2, 3, 0x200);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(r.data, 0x200);
    uint8_t up[] = {0x44, 0x33, 0x45, 0x33, 0x46, 0x33, 0x00};
    assert_memory_equal(&f->ram[0x200], up, sizeof(up));
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(f->pio.log[i].addr, PORT + 2);

    /* With df the buffer steps down from data. */
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 1, 3, 0x302);
    r.data_is_ptr = 1;
    r.df = 1;
    run(f, &r, 0);
    assert_int_equal(f->ram[0x302], 0x47);
    assert_int_equal(f->ram[0x301], 0x48);
    assert_int_equal(f->ram[0x300], 0x49);
    assert_int_equal(f->ram[0x303], 0);
    assert_int_equal(f->ram[0x2ff], 0);

    /* MMIO to memory (movs): both step. */
    r = mk(IOREQ_TYPE_COPY, 1, MMIO + 0x10, 8, 2, 0x400);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(f->mmio.log[0].addr, MMIO + 0x10);
    assert_int_equal(f->mmio.log[1].addr, MMIO + 0x18);
    uint64_t lo = 0, hi = 0;
    for (int i = 7; i >= 0; i--) {
        lo = lo << 8 | f->ram[0x400 + i];
        hi = hi << 8 | f->ram[0x408 + i];
    }
    assert_int_equal(lo, 0x8877665544332211ull);
    assert_int_equal(hi, 0x8877665544332212ull);
    assert_int_equal(f->stats.malformed, 0);
}

static void test_rep_outs_ptr(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    memcpy(&f->ram[0x500], "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    r = mk(IOREQ_TYPE_PIO, 0, PORT, 2, 4, 0x500);
    r.data_is_ptr = 1;
    run(f, &r, 3);
    assert_int_equal(f->pio.n, 4);
    uint64_t want[] = {0x0201, 0x0403, 0x0605, 0x0807};
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(f->pio.log[i].write, 1);
        assert_int_equal(f->pio.log[i].addr, PORT);
        assert_int_equal(f->pio.log[i].value, want[i]);
        assert_int_equal(f->pio.log[i].vcpu, 3);
    }
    /* Memory to MMIO backwards. */
    r = mk(IOREQ_TYPE_COPY, 0, MMIO + 0x104, 4, 2, 0x504);
    r.data_is_ptr = 1;
    r.df = 1;
    run(f, &r, 0);
    assert_int_equal(f->mmio.log[0].addr, MMIO + 0x104);
    assert_int_equal(f->mmio.log[0].value, 0x08070605);
    assert_int_equal(f->mmio.log[1].addr, MMIO + 0x100);
    assert_int_equal(f->mmio.log[1].value, 0x04030201);
}

static void test_bad_pointers(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    /* The write's first item is outside RAM: no device access at all. */
    r = mk(IOREQ_TYPE_PIO, 0, PORT, 4, 2, RAM - 2);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(f->pio.n, 0);
    /*
     * The read's second item falls off RAM: items are carried out in order,
     * so the device was read twice and the first byte landed; the rest of
     * the request is abandoned.
     */
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 1, 2, RAM - 1);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(f->pio.n, 2);
    assert_int_equal(f->ram[RAM - 1], 0x44);
    assert_int_equal(r.data, RAM - 1);
    /* df walking below address 0, and a buffer wrapping 2^64. */
    r = mk(IOREQ_TYPE_PIO, 1, PORT, 1, 4, 2);
    r.data_is_ptr = 1;
    r.df = 1;
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_COPY, 0, MMIO, 8, 2, UINT64_MAX - 8);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    /* Device addresses that wrap or leave the port space. */
    r = mk(IOREQ_TYPE_COPY, 1, UINT64_MAX - 2, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_COPY, 0, 4, 4, 3, 0);
    r.df = 1;
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_PIO, 1, 0xfffe, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_PIO, 1, 0x10000 + PORT, 1, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xff);
    assert_int_equal(f->stats.malformed, 8);
    assert_int_equal(f->pio.n, 2);
    assert_int_equal(f->mmio.n, 0);
}

static void test_pci_config(void **state)
{
    struct fixture *f = *state;
    uint64_t sbdf = PCI_SBDF(1, 2, 3, 4);
    ioreq_t r;

    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0x10, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0x12345678);
    assert_int_equal(f->pcirec.sbdf, 0x1021c);
    assert_int_equal(f->pcirec.reg, 0x10);
    assert_int_equal(f->pcirec.size, 4);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0x102, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0x5678);
    assert_int_equal(f->pcirec.reg, 0x102);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 0, sbdf << 32 | 0xffc, 4, 1, 0xaabbccdd11ull);
    run(f, &r, 0);
    assert_int_equal(f->pcirec.writes, 1);
    assert_int_equal(f->pcirec.value, 0xbbccdd11);
    assert_int_equal(f->pcirec.reg, 0xffc);

    /* Past the 4 KiB space, odd sizes, reps, pointers: refused. */
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0xfff, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffff);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0x1000, 1, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xff);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0x10, 8, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, UINT64_MAX);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32 | 0x10, 3, 1, 0);
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 0, sbdf << 32 | 0x10, 4, 2, 0);
    run(f, &r, 0);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 0, sbdf << 32 | 0x10, 4, 1, 0x100);
    r.data_is_ptr = 1;
    run(f, &r, 0);
    assert_int_equal(f->stats.malformed, 6);
    assert_int_equal(f->pcirec.reads, 2);
    assert_int_equal(f->pcirec.writes, 1);

    /* No PCI handler: config reads see all-ones. */
    f->ctx.pci = NULL;
    r = mk(IOREQ_TYPE_PCI_CONFIG, 1, sbdf << 32, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffff);
    r = mk(IOREQ_TYPE_PCI_CONFIG, 0, sbdf << 32, 2, 1, 0);
    run(f, &r, 0);
    assert_int_equal(f->stats.unclaimed, 2);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_PCI_CONFIG], 11);
}

static void test_other_types(void **state)
{
    struct fixture *f = *state;
    ioreq_t r;

    r = mk(IOREQ_TYPE_TIMEOFFSET, 0, 0, 8, 1, (uint64_t)-3600);
    run(f, &r, 0);
    assert_int_equal(f->stats.timeoffset, -3600);
    r = mk(IOREQ_TYPE_INVALIDATE, 0, 0, 0, 0, 0);
    run(f, &r, 1);
    struct gmem_stats gs;
    gmem_get_stats(f->gm, &gs);
    assert_int_equal(gs.invalidations, 1);

    r = mk(0x42, 1, PORT, 4, 1, 0);
    run(f, &r, 0);
    assert_int_equal(r.data, 0xffffffff);
    r = mk(IOREQ_TYPE_PCI_CONFIG + 1, 1, PORT, 0, 0, 5); /* type 3: unused by Xen */
    run(f, &r, 0);
    assert_int_equal(r.data, UINT64_MAX);
    r = mk(0xff, 0, PORT, 1, 1, 0);
    run(f, &r, 0);
    assert_int_equal(f->stats.malformed, 3);
    assert_int_equal(f->pio.n, 0);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_TIMEOFFSET], 1);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_INVALIDATE], 1);
    assert_int_equal(f->vs.by_type[IOREQ_STAT_UNKNOWN], 3);
    assert_int_equal(f->vs.requests, 5);
    assert_int_equal(request_stat_type(IOREQ_TYPE_COPY), IOREQ_STAT_COPY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pio_single, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_stos_df, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_ins_ptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_outs_ptr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_pointers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pci_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_types, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
