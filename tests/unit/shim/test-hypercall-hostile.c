/*
 * Hostile guests: many hypercalls with random numbers, sub-ops, pointers
 * and counts, from random vCPUs, over guest memory full of random bytes
 * (the argument structures, the xenstore ring and its indexes included).
 * The mock must answer every one without crashing, hanging or leaving the
 * 32-bit errno range; waits are cut short with hv_hypercalls_interrupt_waits
 * so a poll without timeout cannot block the test. Deterministic seeds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test-hc.h"

#define ROUNDS 8
#define CALLS  20000

static uint64_t rng;

static uint32_t next(void)
{
    /* xorshift64* */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

/* An argument: mostly into the scratch area, sometimes anywhere. */
static uint64_t arg(void)
{
    switch (next() % 6) {
    case 0:
        return next();
    case 1:
        return (uint64_t)next() << 32 | next();
    case 2:
        return next() % 16;
    case 3:
        return 0xfeffc000 + (next() % 4096);
    default:
        return SCRATCH + (next() % 8192);
    }
}

static const unsigned ops[] = {HC_MEMORY_OP, HC_XEN_VERSION, HC_CONSOLE_IO,
                               HC_SCHED_OP,  HC_EVTCHN_OP,   HC_HVM_OP};

static void scribble(struct hc_fx *fx)
{
    uint8_t junk[8192];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)next();
    /* small numbers make plausible sub-ops, ports and counts */
    for (size_t i = 0; i < sizeof(junk); i += 4)
        if (next() % 2)
            memset(junk + i, 0, 3);
    mockhv_ram_write(fx->hv, SCRATCH, junk, sizeof(junk));
}

static void test_random_hypercalls(void **state)
{
    for (unsigned round = 0; round < ROUNDS; round++) {
        struct hc_fx *fx;
        struct hv_boot_config cfg = {.hvmloader = HVMLOADER, .bios_module = SEABIOS};
        struct hv_boot_state bs;
        struct hv_hypercall_stats st;

        rng = 0x9e3779b97f4a7c15ull * (round + 1);
        assert_int_equal(hc_fx_setup(&fx, true, HC_MEM), 0);
        assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), 0);
        assert_int_equal(hc_map_shinfo(fx, HOLE_GFN), 0);
        hv_hypercalls_interrupt_waits(fx->h); /* nothing may block from here */
        for (unsigned i = 0; i < CALLS; i++) {
            uint64_t args[5];
            unsigned op = next() % 8 ? ops[next() % 6] : next() % 70;
            long rc;

            if (i % 50 == 0)
                scribble(fx);
            if (next() % 16 == 0) {
                /* the ring's indexes and contents, as a hostile guest leaves them */
                uint32_t idx[4] = {next(), next() % 2 ? next() : 0, next() % 3000, next()};

                mockhv_ram_write(fx->hv, 0xfeffc000 + 2048, idx, sizeof(idx));
            }
            args[0] = next() % 4 ? next() % 12 : next() % 2 ? next() % 40 : next();
            for (unsigned j = 1; j < 5; j++)
                args[j] = arg();
            /* bound the console: a random 4 GiB write is tested elsewhere */
            if (op == HC_CONSOLE_IO)
                args[1] %= 4096;
            rc = hv_hypercall(fx->h, next() % HC_VCPUS, op, args);
            assert_true(rc >= -4095);
        }
        hv_hypercalls_get_stats(fx->h, &st);
        assert_true(st.calls >= CALLS);
        print_message("round %u: %llu efault, %llu unknown ops, %llu unknown sub-ops, "
                      "%llu ring resets\n",
                      round, (unsigned long long)st.efault, (unsigned long long)st.unknown_op,
                      (unsigned long long)st.unknown_subop, (unsigned long long)st.xs_resets);
        hc_fx_teardown(fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_hypercalls),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
