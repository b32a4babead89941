/*
 * The shared info page's time against the TSC an emulated vCPU reads:
 * a tiny unicorn guest executes RDTSC (unicorn's TCG returns the host's
 * TSC, QEMU's cpu_get_host_ticks), and the frequency hvmloader's
 * get_cpu_mhz() derives from vcpu_time_info must lie within the bounds
 * the measurement allows; Xen's system time extrapolated from a guest
 * RDTSC must fall between two HVMOP_get_time calls around it. Bounds, not
 * timings: a preempted test only widens them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unicorn/unicorn.h>

#include "test-hc.h"

#define CODE 0x1000

static int setup(void **state)
{
    return hc_fx_setup((struct hc_fx **)state, false, HC_MEM);
}

static int teardown(void **state)
{
    hc_fx_teardown(*state);
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uc_engine *rdtsc_guest(void)
{
    static const uint8_t code[] = {0x0f, 0x31}; /* rdtsc */
    uc_engine *uc;

    assert_int_equal(uc_open(UC_ARCH_X86, UC_MODE_32, &uc), UC_ERR_OK);
    assert_int_equal(uc_mem_map(uc, CODE, 0x1000, UC_PROT_ALL), UC_ERR_OK);
    assert_int_equal(uc_mem_write(uc, CODE, code, sizeof(code)), UC_ERR_OK);
    return uc;
}

static uint64_t guest_rdtsc(uc_engine *uc)
{
    uint32_t eax, edx;

    assert_int_equal(uc_emu_start(uc, CODE, CODE + 2, 0, 0), UC_ERR_OK);
    uc_reg_read(uc, UC_X86_REG_EAX, &eax);
    uc_reg_read(uc, UC_X86_REG_EDX, &edx);
    return (uint64_t)edx << 32 | eax;
}

static void time_info(struct hc_fx *fx, uint64_t *tsc, uint64_t *sys, uint32_t *mul, int8_t *shift)
{
    uint64_t base = (HOLE_GFN << 12) + 32;
    uint32_t v0, v1;

    do {
        v0 = hc_get32(fx, base);
        *tsc = hc_get64(fx, base + 8);
        *sys = hc_get64(fx, base + 16);
        *mul = hc_get32(fx, base + 24);
        hc_get(fx, base + 28, shift, 1);
        v1 = hc_get32(fx, base);
    } while ((v0 & 1) || v0 != v1);
}

static void test_cpu_khz_matches_guest_rdtsc(void **state)
{
    struct hc_fx *fx = *state;
    uc_engine *uc = rdtsc_guest();
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 200000000};
    uint64_t a0, b0, t0, a1, b1, t1, tsc, sys, khz;
    uint32_t mul;
    int8_t shift;
    double lo, hi;

    assert_int_equal(hc_map_shinfo(fx, HOLE_GFN), 0);
    a0 = mono_ns();
    t0 = guest_rdtsc(uc);
    b0 = mono_ns();
    nanosleep(&pause, NULL);
    a1 = mono_ns();
    t1 = guest_rdtsc(uc);
    b1 = mono_ns();
    /* the guest's TSC rate lies in [lo, hi] ticks per second */
    lo = (double)(t1 - t0) * 1e9 / (double)(b1 - a0);
    hi = (double)(t1 - t0) * 1e9 / (double)(a1 - b0);
    time_info(fx, &tsc, &sys, &mul, &shift);
    /* hvmloader's get_cpu_mhz() */
    khz = (1000000ull << 32) / mul;
    khz = shift < 0 ? khz << -shift : khz >> shift;
    print_message("guest TSC %.0f-%.0f Hz, shared info %llu kHz\n", lo, hi,
                  (unsigned long long)khz);
    /* A band, not a timing: the layer samples the rate over 20 ms, which a
     * loaded host can stretch by a descheduling; a wrong scale or shift is
     * off by a factor of two or more. */
    assert_true((double)khz * 1000.0 >= lo * 0.95);
    assert_true((double)khz * 1000.0 <= hi * 1.05);
    uc_close(uc);
}

static void test_system_time_from_guest_tsc(void **state)
{
    struct hc_fx *fx = *state;
    uc_engine *uc = rdtsc_guest();
    uint64_t before, after, gtsc, tsc, sys, est, delta;
    uint32_t mul;
    int8_t shift;

    assert_int_equal(hc_map_shinfo(fx, HOLE_GFN), 0);
    before = hc_now(fx); /* a hypercall from vCPU 0: its time info is fresh */
    gtsc = guest_rdtsc(uc);
    after = hc_now(fx);
    time_info(fx, &tsc, &sys, &mul, &shift);
    /* the guest's view of system time (pvclock), from the update before
     * `after` back to its RDTSC: a small negative TSC delta */
    delta = gtsc >= tsc ? gtsc - tsc : tsc - gtsc;
    delta = shift < 0 ? delta >> -shift : delta << shift;
    delta = (uint64_t)(((unsigned __int128)delta * mul) >> 32);
    est = gtsc >= tsc ? sys + delta : sys - delta;
    /* within 50 ms: a wrong scale is off by the whole uptime */
    assert_true(est + 50000000 >= before);
    assert_true(est <= after + 50000000);
    uc_close(uc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cpu_khz_matches_guest_rdtsc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_system_time_from_guest_tsc, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
