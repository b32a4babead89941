/*
 * The shared info page and Xen's system time. The page is Xen's own (a page
 * of the RAM memfd behind the RAM): it exists from domain creation, keeps its event
 * bits wherever the guest maps it (XENMAPSPACE_shared_info), and is in the
 * 32-bit layout (compat shared_info: 32-bit event words, wallclock at 2304)
 * because the guest asked for its hypercall page in 32-bit mode.
 *
 * Time follows arch/x86/time.c: system time is nanoseconds since the domain
 * was created (here: since hv_hypercalls_create, CLOCK_MONOTONIC);
 * vcpu_time_info holds the TSC at an update, the system time then, and the
 * scale set_time_scale() computes from the TSC rate. The emulated vCPU's
 * RDTSC returns the host's TSC (unicorn, QEMU's cpu_get_host_ticks), so the
 * rate is the host TSC's, measured against CLOCK_MONOTONIC at creation.
 * hvmloader's get_cpu_mhz() inverts exactly this scale.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "hc-internal.h"

#include <xen/xen.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static uint64_t host_tsc(void)
{
    return __rdtsc();
}
#else
static uint64_t host_tsc(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
#endif

/* compat (32-bit) struct shared_info */
#define SI_VCPU_INFO(v)   ((v)*64u)
#define VI_UPCALL_PENDING 0
#define VI_UPCALL_MASK    1
#define VI_PENDING_SEL    4
#define VI_TIME           32
#define SI_EVTCHN_PENDING 2048
#define SI_EVTCHN_MASK    2176
#define SI_WC_VERSION     2304
#define SI_WC_SEC         2308
#define SI_WC_NSEC        2312
#define SI_WC_SEC_HI      2340 /* arch_shared_info.wc_sec_hi of x86_32 */

/* vcpu_time_info is the same in both layouts */
_Static_assert(sizeof(struct vcpu_time_info) == 32, "vcpu_time_info");
_Static_assert(offsetof(struct vcpu_time_info, tsc_timestamp) == 8, "tsc_timestamp");
_Static_assert(offsetof(struct vcpu_time_info, system_time) == 16, "system_time");
_Static_assert(offsetof(struct vcpu_time_info, tsc_to_system_mul) == 24, "mul");
_Static_assert(offsetof(struct vcpu_time_info, tsc_shift) == 28, "shift");

static uint64_t mono_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t wall_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void hc_time_scale(uint64_t ticks_per_sec, uint32_t *mul, int8_t *shift)
{
    uint64_t tps = ticks_per_sec ? ticks_per_sec : 1;
    int s = 0;

    /* bring the rate into (1e9, 2e9], then mul = 1e9 * 2^32 / rate */
    while (tps > 2000000000ull) {
        tps >>= 1;
        s--;
    }
    while (tps <= 1000000000ull) {
        tps <<= 1;
        s++;
    }
    *mul = (uint32_t)((1000000000ull << 32) / tps);
    *shift = (int8_t)s;
}

/* One TSC/clock pair taken as close together as the host lets us. */
static void sample(uint64_t *ns, uint64_t *tsc)
{
    uint64_t best = UINT64_MAX;

    /* a first pair, so that both outputs are set whatever the clocks say */
    *ns = mono_ns();
    *tsc = host_tsc();
    for (int i = 0; i < 8; i++) {
        uint64_t a = mono_ns(), t = host_tsc(), b = mono_ns();

        if (b - a < best) {
            best = b - a;
            *ns = a + (b - a) / 2;
            *tsc = t;
        }
    }
}

static void measure_tsc(struct hv_hypercalls *h)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20000000};
    uint64_t ns0, t0, ns1, t1;

    sample(&ns0, &t0);
    nanosleep(&pause, NULL);
    sample(&ns1, &t1);
    h->tsc_hz = ns1 > ns0 ? (uint64_t)((unsigned __int128)(t1 - t0) * 1000000000u / (ns1 - ns0))
                          : 1000000000ull;
    if (!h->tsc_hz)
        h->tsc_hz = 1000000000ull;
    hc_time_scale(h->tsc_hz, &h->tsc_mul, &h->tsc_shift);
}

static void put32(uint8_t *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

uint64_t hc_system_time(const struct hv_hypercalls *h)
{
    return mono_ns() - h->mono0_ns;
}

void hc_time_update(struct hv_hypercalls *h, unsigned vcpu)
{
    uint8_t *t;
    uint32_t version;
    uint64_t ns, tsc;

    if (vcpu >= HC_LEGACY_VCPUS)
        return;
    t = h->shinfo + SI_VCPU_INFO(vcpu) + VI_TIME;
    sample(&ns, &tsc);
    /* version odd while the fields change, even when they are whole */
    memcpy(&version, t, 4);
    version |= 1;
    put32(t, version);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    put64(t + 8, tsc);
    put64(t + 16, ns - h->mono0_ns);
    memcpy(t + 24, &h->tsc_mul, 4);
    t[28] = (uint8_t)h->tsc_shift;
    t[29] = 0; /* flags: no XEN_PVCLOCK_TSC_STABLE_BIT promise */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    put32(t, version + 1);
}

static void wallclock_update(struct hv_hypercalls *h)
{
    uint8_t *s = h->shinfo;
    uint32_t version, sec, nsec, sec_hi;
    uint64_t boot = h->wall0_ns / 1000000000ull;

    memcpy(&version, s + SI_WC_VERSION, 4);
    version |= 1;
    put32(s + SI_WC_VERSION, version);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    sec = (uint32_t)boot;
    sec_hi = (uint32_t)(boot >> 32);
    nsec = (uint32_t)(h->wall0_ns % 1000000000ull);
    memcpy(s + SI_WC_SEC, &sec, 4);
    memcpy(s + SI_WC_NSEC, &nsec, 4);
    memcpy(s + SI_WC_SEC_HI, &sec_hi, 4);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    put32(s + SI_WC_VERSION, version + 1);
}

int hc_shinfo_init(struct hv_hypercalls *h)
{
    struct mockhv *hv = h->hv;
    uint64_t off;
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = hv_memory_append(hv, 1, &off);
    pthread_mutex_unlock(&hv->lock);
    if (rc)
        return rc;
    h->shinfo_off = (int64_t)off;
    h->shinfo = hv->ram + h->shinfo_off;
    memset(h->shinfo, 0, HV_PAGE_SIZE);
    /* every vCPU starts with event delivery masked, as a new vcpu_info */
    for (unsigned v = 0; v < HC_LEGACY_VCPUS; v++)
        h->shinfo[SI_VCPU_INFO(v) + VI_UPCALL_MASK] = 1;
    h->mono0_ns = mono_ns();
    h->wall0_ns = wall_ns();
    measure_tsc(h);
    wallclock_update(h);
    for (unsigned v = 0; v < h->hv->nr_vcpus && v < HC_LEGACY_VCPUS; v++)
        hc_time_update(h, v);
    return 0;
}

int hc_shinfo_map(struct hv_hypercalls *h, uint64_t gfn)
{
    struct mockhv *hv = h->hv;
    int rc = 0;

    pthread_mutex_lock(&hv->lock);
    /* Unmapped from where it was (xenmem_add_to_physmap_one); whatever
     * was at gfn goes: RAM is given back, a hole stays a hole. */
    for (unsigned i = 0; i < hv->p2m.nr && !rc; i++) {
        if (hv->p2m.e[i].off == h->shinfo_off && hv->p2m.e[i].gfn != gfn) {
            rc = hv_p2m_map(hv, hv->p2m.e[i].gfn, -1);
            h->p2m_removals++;
        }
    }
    if (!rc) {
        int64_t prev = hv_p2m_lookup(hv, gfn);

        if (prev >= 0 && prev != h->shinfo_off)
            h->p2m_removals++;
        if (prev >= 0 && prev < (int64_t)hv->ram_bytes)
            h->tot_pages--;
        rc = hv_p2m_map(hv, gfn, h->shinfo_off);
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

static uint32_t *word(const struct hv_hypercalls *h, unsigned off, uint32_t port)
{
    return (uint32_t *)(void *)(h->shinfo + off + (port / 32) * 4);
}

void hc_wake(struct hv_hypercalls *h)
{
    h->events++;
    pthread_cond_broadcast(&h->cond);
}

void hc_evtchn_set_pending(struct hv_hypercalls *h, uint32_t port)
{
    uint32_t bit = 1u << (port % 32);
    uint8_t *vi = h->shinfo + SI_VCPU_INFO(0);
    uint32_t sel = 1u << (port / 32);

    if (port >= HC_2L_PORTS)
        return;
    /* evtchn_2l_set_pending, notifying vCPU 0 */
    if (!(__atomic_fetch_or(word(h, SI_EVTCHN_PENDING, port), bit, __ATOMIC_SEQ_CST) & bit) &&
        !(__atomic_load_n(word(h, SI_EVTCHN_MASK, port), __ATOMIC_SEQ_CST) & bit) &&
        !(__atomic_fetch_or((uint32_t *)(void *)(vi + VI_PENDING_SEL), sel, __ATOMIC_SEQ_CST) &
          sel))
        __atomic_store_n(vi + VI_UPCALL_PENDING, 1, __ATOMIC_SEQ_CST);
    hc_wake(h);
}

bool hc_evtchn_pending(const struct hv_hypercalls *h, uint32_t port)
{
    if (port >= HC_2L_PORTS)
        return false;
    return __atomic_load_n(word(h, SI_EVTCHN_PENDING, port), __ATOMIC_SEQ_CST) &
           (1u << (port % 32));
}

bool hc_upcall_pending(const struct hv_hypercalls *h, unsigned vcpu)
{
    if (vcpu >= HC_LEGACY_VCPUS)
        return false;
    return __atomic_load_n(h->shinfo + SI_VCPU_INFO(vcpu) + VI_UPCALL_PENDING, __ATOMIC_SEQ_CST);
}

void hc_upcall_unmask(struct hv_hypercalls *h, unsigned vcpu)
{
    if (vcpu < HC_LEGACY_VCPUS)
        __atomic_store_n(h->shinfo + SI_VCPU_INFO(vcpu) + VI_UPCALL_MASK, 0, __ATOMIC_SEQ_CST);
}
