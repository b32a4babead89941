/*
 * One thread per emulated vCPU and its run loop. Between two runs of the
 * emulator (uc_emu_start, free running, no per-instruction hook) the loop
 * does what a processor does at an instruction boundary: follow a p2m
 * change, deliver the exception a hook saw, take a pending interrupt when
 * IF is set, and sleep in HLT until an interrupt arrives.
 *
 * Leaving the emulator: a block hook (one call per translated block, no
 * per-instruction hook) checks whether the platform kicked the vCPU (an
 * interrupt became pending), the vCPU is stopping or a hook of ours asked
 * for it, and stops there. A stop requested at a block boundary leaves a
 * consistent eip, which uc_emu_stop from inside an instruction hook does
 * not in unicorn 2.0.1 (eip stays at the start of the block while its
 * instructions ran), and a kick can never be lost between the check of
 * pending interrupts and uc_emu_start. While an interrupt is pending with
 * IF clear, the emulator runs in 1 ms slices, ended by the same block hook,
 * so that the moment IF is set again is noticed. A run that ends without
 * any of these reasons ended in HLT.
 *
 * Nothing may stop the emulator from another thread, and uc_emu_start's
 * timeout must not be used: unicorn 2.0.1 checks for a stop request after
 * every guest load and store as well as at the start of a block (its
 * check_exit_request in tcg_gen_qemu_ld/st), and a stop seen after a
 * memory access leaves the block there, yet cpu_tb_exec puts eip back to
 * the start of the block (synchronize_from_tb) while the instructions
 * before the access have already changed registers and memory, and the
 * lazily computed flags (cc_op) were never written back. Restarting from
 * that eip runs them again: the guest computes wrong values. The timeout
 * does exactly that (a timer thread calls uc_emu_stop at any moment); a
 * stop from the block hook comes before the block's first instruction.
 *
 * Where that stop leaves eip depends on whether a code hook is in place.
 * Without one, cpu_tb_exec puts eip at the start of the block, exact. With
 * one (the instruction counter, or the wait for the hypercall MSR write),
 * unicorn 2.0.1 leaves eip as the last code hook call set it: the previous
 * block's last instruction when the two blocks are chained, which would
 * run again (a second CALL pushes twice). The run loop then sets eip from
 * the block's linear address itself.
 *
 * HLT with IF clear is the end, as on Xen (hvm_hlt: the vCPU goes down, and
 * with the last one the domain powers off): "vCPU N halted with interrupts
 * disabled". Anything the emulator cannot go on from (an unmapped fetch,
 * an undeliverable fault) crashes the domain with a reason; the mock and
 * the process never crash with it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../hv-internal.h"
#include "cpu-internal.h"

#define UNTIL_NEVER   (1ull << 63) /* an address no run stops at */
#define PENDING_SLICE 1000000      /* ns: emulator slice while an interrupt waits for IF */
#define FL_IF         (1u << 9)

uint32_t hv_cpu_reg(struct hv_cpu *cpu, int reg)
{
    uint64_t v = 0; /* unicorn writes 4 bytes for 32-bit registers, 8 for CR0 */

    uc_reg_read(cpu->uc, reg, &v);
    return (uint32_t)v;
}

void hv_cpu_set_reg(struct hv_cpu *cpu, int reg, uint32_t val)
{
    uint64_t v = val;

    uc_reg_write(cpu->uc, reg, &v);
}

void hv_cpu_crash(struct hv_cpu *cpu, const char *fmt, ...)
{
    struct mockhv *hv = cpu->set->hv;
    va_list ap;
    int n;

    if (cpu->end.state != MOCKHV_HVM_RUNNING)
        return; /* the first reason is the one that matters */
    n = snprintf(cpu->end.reason, sizeof(cpu->end.reason), "vCPU %u crashed the domain: ", cpu->id);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(cpu->end.reason))
        vsnprintf(cpu->end.reason + n, sizeof(cpu->end.reason) - (size_t)n, fmt, ap);
    va_end(ap);
    cpu->end.state = MOCKHV_HVM_CRASHED;
    cpu->end.eip = hv_cpu_reg(cpu, UC_X86_REG_EIP);
    cpu->exit = HV_EXIT_CRASH;
    /* Xen's domain_crash(): the domain is dead for the device models too */
    pthread_mutex_lock(&hv->lock);
    hv->crashed = true;
    pthread_mutex_unlock(&hv->lock);
}

void hv_cpu_strand(struct hv_cpu *cpu, int server)
{
    if (cpu->end.state != MOCKHV_HVM_RUNNING)
        return;
    cpu->end.state = MOCKHV_HVM_STRANDED;
    cpu->end.server = server;
    cpu->end.eip = hv_cpu_reg(cpu, UC_X86_REG_EIP);
    snprintf(cpu->end.reason, sizeof(cpu->end.reason), "vCPU %u stranded on ioreq server %d",
             cpu->id, server);
    cpu->exit = HV_EXIT_CRASH; /* it runs no more; the domain lives on */
}

static bool stopping(struct hv_cpu *cpu)
{
    return __atomic_load_n(&cpu->stop, __ATOMIC_ACQUIRE);
}

static void end(struct hv_cpu *cpu, enum mockhv_hvm_state state, const char *why)
{
    if (cpu->end.state == MOCKHV_HVM_RUNNING) {
        cpu->end.state = state;
        cpu->end.eip = hv_cpu_reg(cpu, UC_X86_REG_EIP);
        snprintf(cpu->end.reason, sizeof(cpu->end.reason), "vCPU %u %s", cpu->id, why);
    }
}

static bool pending(struct hv_cpu *cpu)
{
    struct hv_cpus *set = cpu->set;

    return set->plat.pending && set->plat.pending(set->cfg.opaque, cpu->id);
}

/* A hardware interrupt, if one is pending and IF is set. */
static int take_interrupt(struct hv_cpu *cpu)
{
    struct hv_cpus *set = cpu->set;
    char why[160];
    int vector;

    if (!(hv_cpu_reg(cpu, UC_X86_REG_EFLAGS) & FL_IF) || !pending(cpu) || !set->plat.ack)
        return 0;
    vector = set->plat.ack(set->cfg.opaque, cpu->id);
    if (vector < 0)
        return 0;
    cpu->halted = false;
    HV_CPU_STAT(cpu, interrupts);
    if (hv_cpu_deliver(cpu, (unsigned)vector & 0xff, false, false, 0, why, sizeof(why))) {
        /* as a fault during delivery: #DF, then the triple fault */
        cpu->exc_vector = 8;
        cpu->exc_soft = false;
        return hv_cpu_deliver_exception(cpu);
    }
    return 0;
}

/* HLT with IF set (or an AP that is down): sleep until an interrupt or
 * IPI is pending or we stop. false: woken for neither. */
static bool halt_wait(struct hv_cpu *cpu)
{
    struct hv_cpus *set = cpu->set;

    if (set->plat.wait)
        return set->plat.wait(set->cfg.opaque, cpu->id, NULL);
    /* no interrupt source at all: only stopping ends this */
    while (!stopping(cpu) && !pending(cpu))
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    return false;
}

static bool after_hlt(struct hv_cpu *cpu)
{
    uint64_t pc;
    uint8_t b;

    return hv_cpu_pc(cpu, &pc) == 0 && pc > 0 && uc_mem_read(cpu->uc, pc - 1, &b, 1) == UC_ERR_OK &&
           b == 0xf4;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The slice a run with a pending interrupt and IF clear gets is over. */
static bool slice_over(struct hv_cpu *cpu)
{
    return cpu->slice_end && now_ns() >= cpu->slice_end;
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    (void)size;
    /* where the vCPU is, for a report on a guest that never ends */
    __atomic_store_n(&cpu->last_block, addr, __ATOMIC_RELAXED);
    /* a block runs after an earlier stop: unicorn went on (a hook's eip
     * write turns a stop into a restart), so that stop says nothing */
    cpu->block_stop = false;
    if (!cpu->want_exit && !__atomic_load_n(&cpu->kicked, __ATOMIC_ACQUIRE) && !stopping(cpu) &&
        !__atomic_load_n(&cpu->inval_pending, __ATOMIC_ACQUIRE) && !slice_over(cpu))
        return;
    cpu->want_exit = false;
    if (cpu->exit == HV_EXIT_NONE)
        cpu->exit = HV_EXIT_KICK;
    cpu->block_stop = true;
    cpu->block_stop_at = addr;
    uc_emu_stop(uc);
}

static bool code_hooked(struct hv_cpu *cpu)
{
    return cpu->watch_hook || cpu->set->cfg.count_instructions;
}

/* After a stop in the block hook with a code hook in place: eip is the
 * start of the block that was not run (see the top of this file). */
static void fix_eip_after_block_stop(struct hv_cpu *cpu)
{
    uint32_t base;

    if (!cpu->block_stop || !code_hooked(cpu) || hv_cpu_cs_base(cpu, &base))
        return;
    /* uc_reg_write of EIP would stop a running emulator; it is not running */
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, (uint32_t)(cpu->block_stop_at - base));
}

void hv_cpus_code_modified(struct hv_cpus *c, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < c->nr && len; i++) {
        struct hv_cpu *cpu = &c->cpu[i];

        pthread_mutex_lock(&cpu->inval_lock);
        if (cpu->nr_inval == HV_CPU_INVAL_RANGES) {
            cpu->inval_all = true;
        } else {
            cpu->inval_start[cpu->nr_inval] = gpa;
            cpu->inval_end[cpu->nr_inval++] = gpa + len - 1;
        }
        /* the block hook sees it before the next block runs */
        __atomic_store_n(&cpu->inval_pending, true, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&cpu->inval_lock);
    }
}

/* What a device model wrote is translated anew (between two runs). */
static void apply_invalidations(struct hv_cpu *cpu)
{
    if (!__atomic_load_n(&cpu->inval_pending, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&cpu->inval_lock);
    if (cpu->inval_all)
        uc_ctl_remove_cache(cpu->uc, 0, 0xffffffffull);
    else
        for (unsigned i = 0; i < cpu->nr_inval; i++)
            uc_ctl_remove_cache(cpu->uc, cpu->inval_start[i], cpu->inval_end[i]);
    cpu->nr_inval = 0;
    cpu->inval_all = false;
    __atomic_store_n(&cpu->inval_pending, false, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&cpu->inval_lock);
}

/* Drops every translated block, so that a hook added or removed since
 * applies to code run from now on. tb_flush (uc_ctl_flush_tlb) would take
 * seconds the first time in unicorn 2.0.1 (it clears the whole code buffer;
 * measured 13 s), invalidating the 4 GiB range takes some 16 ms. */
static void retranslate(struct hv_cpu *cpu)
{
    uc_ctl_remove_cache(cpu->uc, 0, 0xffffffffull);
}

/* While the hypercall MSR write is awaited: before each instruction. */
static void on_watch(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    (void)uc, (void)size;
    if (!cpu->msr_watch)
        return;
    cpu->msr_watch--;
    if (hv_cpu_wrmsr_at(cpu, addr) || !cpu->msr_watch)
        cpu->want_exit = true; /* done: the hook goes at the next block */
}

/* Adds or removes the watch hook as msr_watch says. */
static int follow_msr_watch(struct hv_cpu *cpu)
{
    if (cpu->msr_watch && !cpu->watch_hook) {
        if (uc_hook_add(cpu->uc, &cpu->watch_hook, UC_HOOK_CODE, (void *)on_watch, cpu, 1, 0) !=
            UC_ERR_OK)
            return -EINVAL;
        retranslate(cpu);
    } else if (!cpu->msr_watch && cpu->watch_hook) {
        uc_hook_del(cpu->uc, cpu->watch_hook);
        cpu->watch_hook = 0;
        retranslate(cpu);
    }
    return 0;
}

/* One uc_emu_start and what its end means; false: the vCPU is done. */
static bool run_once(struct hv_cpu *cpu)
{
    uint32_t eip;
    uc_err err;

    if (!cpu->msr_watch_first && follow_msr_watch(cpu)) {
        hv_cpu_crash(cpu, "cannot watch for the hypercall MSR write");
        return false;
    }
    cpu->slice_end = pending(cpu) ? now_ns() + PENDING_SLICE : 0;
    cpu->exit = HV_EXIT_NONE;
    cpu->block_stop = false;
    /* from here on a kick stops the emulator at its next block */
    __atomic_store_n(&cpu->kicked, false, __ATOMIC_RELEASE);
    eip = hv_cpu_reg(cpu, UC_X86_REG_EIP);
    /* no timeout: see the top of this file */
    err = uc_emu_start(cpu->uc, eip, UNTIL_NEVER, 0, 0);
    cpu->want_exit = false;
    cpu->slice_end = 0;
    fix_eip_after_block_stop(cpu);
    HV_CPU_STAT(cpu, exits);
    if (err == UC_ERR_INSN_INVALID && cpu->exit == HV_EXIT_NONE) {
        cpu->exc_vector = 6; /* #UD */
        cpu->exc_soft = false;
        cpu->exit = HV_EXIT_EXCEPTION;
    } else if (err != UC_ERR_OK && cpu->exit != HV_EXIT_CRASH) {
        uint64_t at = 0;

        hv_cpu_pc(cpu, &at);
        hv_cpu_crash(cpu, "%s at eip %#x (linear %#llx)", uc_strerror(err),
                     hv_cpu_reg(cpu, UC_X86_REG_EIP), (unsigned long long)at);
    }
    /* the first stop after CPUID leaf 0x40000002: its block may have run
     * the WRMSR already */
    if (cpu->msr_watch_first) {
        cpu->msr_watch_first = false;
        if (cpu->exit == HV_EXIT_KICK || cpu->exit == HV_EXIT_NONE) {
            enum hv_cpu_exit was = cpu->exit;

            if (!hv_cpu_wrmsr_passed(cpu, cpu->cpuid_pc) || cpu->exit != HV_EXIT_EXCEPTION)
                cpu->exit = was;
        }
    }
    switch (cpu->exit) {
    case HV_EXIT_CRASH:
        return false;
    case HV_EXIT_EXCEPTION:
        cpu->exit = HV_EXIT_NONE;
        return hv_cpu_deliver_exception(cpu) == 0;
    case HV_EXIT_NONE:
        cpu->halted = after_hlt(cpu);
        return true;
    default:
        return true;
    }
}

static void *vcpu_thread(void *arg)
{
    struct hv_cpu *cpu = arg;
    struct mockhv *hv = cpu->set->hv;

    for (;;) {
        if (stopping(cpu) || cpu->end.state != MOCKHV_HVM_RUNNING) {
            end(cpu, MOCKHV_HVM_STOPPED, "stopped");
            break;
        }
        if (cpu->p2m_gen != __atomic_load_n(&hv->p2m_gen, __ATOMIC_ACQUIRE)) {
            int rc = hv_cpu_map_memory(cpu);

            if (rc) {
                hv_cpu_crash(cpu, "cannot map guest memory: %s", strerror(-rc));
                break;
            }
        }
        apply_invalidations(cpu);
        hv_cpu_take_ipis(cpu);
        if (cpu->waiting_sipi) {
            /* down: only an IPI (or stopping) brings it back */
            if (!halt_wait(cpu))
                nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
            continue;
        }
        if (take_interrupt(cpu))
            break;
        if (cpu->halted) {
            if (!(hv_cpu_reg(cpu, UC_X86_REG_EFLAGS) & FL_IF)) {
                if (cpu->id != 0) { /* an AP goes down until INIT and SIPI */
                    cpu->halted = false;
                    cpu->waiting_sipi = true;
                    continue;
                }
                end(cpu, MOCKHV_HVM_HALTED, "halted with interrupts disabled");
                break;
            }
            halt_wait(cpu);
            continue;
        }
        if (!run_once(cpu))
            break;
    }
    if (cpu->set->cfg.ended)
        cpu->set->cfg.ended(cpu->set->cfg.opaque, cpu->id, &cpu->end);
    return NULL;
}

static void count_insn(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
    struct hv_cpu *cpu = opaque;

    (void)uc, (void)addr, (void)size;
    cpu->insns++;
}

int hv_cpu_engine_open(struct hv_cpu *cpu)
{
    int rc;

    if (cpu->uc) {
        uc_close(cpu->uc);
        cpu->uc = NULL;
        hv_cpu_free_memory(cpu);
        cpu->nr_hooks = 0;
        cpu->watch_hook = 0;
        cpu->msr_watch = 0;
    }
    if (uc_open(UC_ARCH_X86, UC_MODE_32, &cpu->uc) != UC_ERR_OK)
        return -ENOMEM;
    rc = hv_cpu_map_memory(cpu);
    rc = rc ? rc : hv_cpu_io_hooks(cpu);
    rc = rc ? rc : hv_cpu_cpuid_hook(cpu);
    rc = rc ? rc : hv_cpu_vmcall_hook(cpu);
    rc = rc ? rc : hv_cpu_intr_hook(cpu);
    if (!rc && uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_BLOCK, (void *)on_block,
                           cpu, 1, 0) != UC_ERR_OK)
        rc = -EINVAL;
    if (!rc && cpu->set->cfg.count_instructions &&
        uc_hook_add(cpu->uc, &cpu->hooks[cpu->nr_hooks++], UC_HOOK_CODE, (void *)count_insn, cpu, 1,
                    0) != UC_ERR_OK)
        rc = -EINVAL;
    return rc;
}

static int cpu_init(struct hv_cpu *cpu)
{
    int rc;

    cpu->end.vcpu = cpu->id;
    cpu->end.server = -1;
    cpu->end.shutdown_reason = -1;
    rc = hv_cpu_engine_open(cpu);
    if (rc)
        return rc;
    /* Xen's initial state for hvmloader: flat 32-bit protected mode (unicorn's
     * UC_MODE_32 already has CR0.PE and flat segments), paging off, eflags 2,
     * eip the ELF entry, ebx the start info */
    hv_cpu_set_reg(cpu, UC_X86_REG_EIP, cpu->set->cfg.entry);
    hv_cpu_set_reg(cpu, UC_X86_REG_EBX, cpu->set->cfg.ebx);
    hv_cpu_set_reg(cpu, UC_X86_REG_EFLAGS, 2);
    return 0;
}

int hv_cpus_create(struct hv_cpus **out, struct mockhv *hv, const struct hv_cpu_config *cfg)
{
    static const struct hv_cpu_platform none;
    struct hv_cpus *c;
    int rc;

    if (!cfg->nr_vcpus || cfg->nr_vcpus > hv->nr_vcpus)
        return -EINVAL;
    c = calloc(1, sizeof(*c) + cfg->nr_vcpus * sizeof(c->cpu[0]));
    if (!c)
        return -ENOMEM;
    c->hv = hv;
    c->cfg = *cfg;
    c->plat = cfg->platform ? *cfg->platform : none;
    c->nr = cfg->nr_vcpus;
    rc = hv_cpu_probe_leaf1(&c->leaf1);
    for (unsigned i = 0; i < c->nr; i++)
        pthread_mutex_init(&c->cpu[i].inval_lock, NULL);
    for (unsigned i = 0; i < c->nr && !rc; i++) {
        c->cpu[i].set = c;
        c->cpu[i].id = i;
        rc = cpu_init(&c->cpu[i]);
    }
    if (rc) {
        hv_cpus_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

int hv_cpus_start(struct hv_cpus *c)
{
    int rc = 0;

    if (c->cpu[0].started)
        return -EBUSY;
    for (unsigned i = 1; i < c->nr; i++)
        hv_cpu_reset(&c->cpu[i]);
    for (unsigned i = 0; i < c->nr && !rc; i++) {
        rc = -pthread_create(&c->cpu[i].thread, NULL, vcpu_thread, &c->cpu[i]);
        if (!rc)
            c->cpu[i].started = true;
    }
    if (rc)
        hv_cpus_stop(c);
    return rc;
}

void hv_cpus_kick(struct hv_cpus *c, unsigned vcpu)
{
    struct hv_cpu *cpu;

    if (vcpu >= c->nr)
        return;
    cpu = &c->cpu[vcpu];
    /* the block hook sees it (uc_emu_stop from here could hit the window
     * before uc_emu_start and be lost) */
    __atomic_store_n(&cpu->kicked, true, __ATOMIC_RELEASE);
}

void hv_cpus_request_stop(struct hv_cpus *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nr; i++) {
        __atomic_store_n(&c->cpu[i].stop, true, __ATOMIC_RELEASE);
        hv_cpus_kick(c, i);
    }
}

void hv_cpus_stop(struct hv_cpus *c)
{
    hv_cpus_request_stop(c);
    if (c->plat.interrupt_waits)
        c->plat.interrupt_waits(c->cfg.opaque);
    for (unsigned i = 0; i < c->nr; i++) {
        if (c->cpu[i].started)
            pthread_join(c->cpu[i].thread, NULL);
        c->cpu[i].started = false;
    }
}

void hv_cpus_destroy(struct hv_cpus *c)
{
    if (!c)
        return;
    hv_cpus_stop(c);
    for (unsigned i = 0; i < c->nr; i++) {
        struct hv_cpu *cpu = &c->cpu[i];

        if (cpu->uc)
            uc_close(cpu->uc);
        hv_cpu_free_memory(cpu);
        pthread_mutex_destroy(&cpu->inval_lock);
    }
    free(c);
}

void hv_cpus_stats(struct hv_cpus *c, struct mockhv_hvm_stats *out)
{
    uint64_t *dst = (uint64_t *)out;
    const uint64_t *src = (const uint64_t *)&c->stats;

    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    out->instructions = 0;
    for (unsigned i = 0; i < c->nr; i++)
        out->instructions += __atomic_load_n(&c->cpu[i].insns, __ATOMIC_RELAXED);
}

uint64_t hv_cpus_last_block(struct hv_cpus *c, unsigned vcpu)
{
    return vcpu < c->nr ? __atomic_load_n(&c->cpu[vcpu].last_block, __ATOMIC_RELAXED) : 0;
}

const struct mockhv_hvm_result *hv_cpus_result(struct hv_cpus *c, unsigned vcpu)
{
    return vcpu < c->nr ? &c->cpu[vcpu].end : NULL;
}

#if defined(__SANITIZE_ADDRESS__)
/*
 * unicorn 2.0.1 leaks the bitmaps it allocates when guest code writes over
 * translated code (tb_invalidate_phys_page_fast); that memory is unicorn's,
 * not ours, so LeakSanitizer is told to look past it in every program that
 * runs an emulated vCPU. Defined here because this file is linked into
 * every such program.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libunicorn.so\n";
}
#endif
