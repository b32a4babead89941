/*
 * State of the emulated vCPUs shared by the files of shim/hv/cpu/. Each
 * hv_cpu is used by its own thread only, except `stop`, `kicked` and the
 * counters (atomics) and uc_emu_stop, which unicorn allows from any thread.
 */
#ifndef SHIM_HV_CPU_INTERNAL_H
#define SHIM_HV_CPU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#include "cpu.h"

struct mockhv;

#define HV_CPU_INVAL_RANGES 32 /* more at once: the whole cache goes */

/* Why the last uc_emu_start returned, when it was us who stopped it. */
enum hv_cpu_exit {
    HV_EXIT_NONE,      /* nobody asked: HLT (or the instruction count) */
    HV_EXIT_KICK,      /* an interrupt or a stop request */
    HV_EXIT_EXCEPTION, /* INT n or a fault to deliver */
    HV_EXIT_RESUME,    /* a hook changed eip (VMCALL): just go on */
    HV_EXIT_CRASH,     /* a hook crashed the domain */
};

/* A stretch of guest-physical space that is not RAM. */
struct hv_cpu_hole {
    struct hv_cpu *cpu;
    uint64_t base;
};

/* One mapped region: RAM at memfd offset off, or MMIO (off -1) with its
 * callbacks' data. */
struct hv_cpu_region {
    uint64_t base, size;
    int64_t off;
    struct hv_cpu_hole *hole;
};

struct hv_cpu_map {
    unsigned nr, cap;
    struct hv_cpu_region *r; /* sorted by base */
};

struct hv_cpu {
    struct hv_cpus *set;
    unsigned id;
    uc_engine *uc;
    pthread_t thread;
    bool started;
    bool stop;              /* atomic */
    bool kicked;            /* atomic: the platform has an interrupt for us */
    bool want_exit;         /* a hook of ours wants the emulator left at the next block */
    uint64_t slice_end;     /* CLOCK_MONOTONIC ns the current run ends at, 0 none */
    bool block_stop;        /* the block hook stopped the last run ... */
    uint64_t block_stop_at; /* ... before the block at this linear address */
    enum hv_cpu_exit exit;
    /* the exception a hook saw */
    unsigned exc_vector;
    bool exc_soft; /* INT n / INT3 / INTO: eip is already past the instruction */
    bool halted;
    bool waiting_sipi; /* an AP that is down until a SIPI */
    /* instructions left to watch while the hypercall MSR may be written */
    unsigned msr_watch;
    uc_hook watch_hook;   /* the UC_HOOK_CODE doing it, 0 when none */
    bool msr_watch_first; /* the block boundary right after the CPUID is still to come */
    uint64_t cpuid_pc;    /* where that CPUID was */
    uint64_t p2m_gen;     /* the p2m generation the mappings follow */
    struct hv_cpu_map map;
    uc_hook hooks[8];
    unsigned nr_hooks;
    uint64_t insns;
    /* ranges a device model wrote, to drop from the translation cache */
    pthread_mutex_t inval_lock;
    bool inval_pending; /* atomic */
    bool inval_all;
    unsigned nr_inval;
    uint64_t inval_start[HV_CPU_INVAL_RANGES], inval_end[HV_CPU_INVAL_RANGES];
    uint64_t last_block; /* atomic: start of the last block entered */
    struct mockhv_hvm_result end;
};

struct hv_cpu_leaf {
    uint32_t a, b, c, d;
};

struct hv_cpus {
    struct mockhv *hv;
    struct hv_cpu_leaf leaf1; /* unicorn's model's CPUID leaf 1 */
    struct hv_cpu_config cfg;
    struct hv_cpu_platform plat;
    struct mockhv_hvm_stats stats;
    unsigned nr;
    struct hv_cpu cpu[];
};

#define HV_CPU_STAT(c, field) __atomic_add_fetch(&(c)->set->stats.field, 1, __ATOMIC_RELAXED)

/* cpu-memory.c: guest-physical space as the p2m says (RAM mapped, the
 * rest MMIO callbacks); again whenever the p2m changed. */
int hv_cpu_map_memory(struct hv_cpu *cpu);
void hv_cpu_unmap_memory(struct hv_cpu *cpu);
/* Before uc_close: frees what the map holds without unmapping. */
void hv_cpu_free_memory(struct hv_cpu *cpu);
/* The highest MMIO region below 4 GiB, taken out of the map for a moment
 * (the vCPU's private use, e.g. a start-up stub): its base, or 0. */
uint64_t hv_cpu_borrow_hole(struct hv_cpu *cpu, unsigned *index);
int hv_cpu_return_hole(struct hv_cpu *cpu, unsigned index);

/* cpu-io.c: IN/OUT and MMIO hooks. */
int hv_cpu_io_hooks(struct hv_cpu *cpu);
uint64_t hv_cpu_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque);
void hv_cpu_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *opaque);

/* cpu-cpuid.c */
int hv_cpu_probe_leaf1(struct hv_cpu_leaf *out);
int hv_cpu_cpuid_hook(struct hv_cpu *cpu);

/* cpu-vmcall.c: VMCALL/VMMCALL and the hypercall MSR. */
int hv_cpu_vmcall_hook(struct hv_cpu *cpu);
/* From a code hook: the instruction at linear addr is a WRMSR to the
 * hypercall MSR; emulated and skipped (or #GP raised) (true), or not such
 * an instruction (false: unicorn runs it). */
bool hv_cpu_wrmsr_at(struct hv_cpu *cpu, uint64_t addr);
/* The block that ran the CPUID at cpuid_pc also ran a WRMSR to the
 * hypercall MSR (as a no-op): take it now (true). */
bool hv_cpu_wrmsr_passed(struct hv_cpu *cpu, uint64_t cpuid_pc);

/* cpu-intr.c: exceptions and interrupts delivered through the IVT/IDT. */
int hv_cpu_intr_hook(struct hv_cpu *cpu);
/* 0 delivered; -EFAULT the guest cannot take it (the caller turns that into
 * a double, then triple fault); why says what went wrong. */
int hv_cpu_deliver(struct hv_cpu *cpu, unsigned vector, bool soft, bool has_error, uint32_t error,
                   char *why, size_t why_len);
/* The vector in exc_vector/exc_soft, escalated to #DF and a triple fault
 * (a crash) when it cannot be delivered: 0 delivered, -EFAULT crashed. */
int hv_cpu_deliver_exception(struct hv_cpu *cpu);
/* Linear address of cs:eip (paging is off: also guest-physical). */
int hv_cpu_pc(struct hv_cpu *cpu, uint64_t *pc);
/* The base of CS: selector * 16 in real mode, else its GDT descriptor's. */
int hv_cpu_cs_base(struct hv_cpu *cpu, uint32_t *base);

/* cpu-smp.c: INIT and SIPI */
/* Processor reset (INIT): real mode, waiting for a SIPI. */
void hv_cpu_reset(struct hv_cpu *cpu);
/* Acts on the IPIs queued for this vCPU. */
void hv_cpu_take_ipis(struct hv_cpu *cpu);

/* cpu-vcpu.c */
/* A fresh unicorn engine for this vCPU (flat 32-bit protected mode, memory
 * mapped, hooks in place), replacing any it had. */
int hv_cpu_engine_open(struct hv_cpu *cpu);
/* Ends the run of this vCPU as crashed, with a reason (printf-like). */
void hv_cpu_crash(struct hv_cpu *cpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ends the run of this vCPU: a device model destroyed the server it waited on. */
void hv_cpu_strand(struct hv_cpu *cpu, int server);
uint32_t hv_cpu_reg(struct hv_cpu *cpu, int reg);
void hv_cpu_set_reg(struct hv_cpu *cpu, int reg, uint32_t val);

#endif
