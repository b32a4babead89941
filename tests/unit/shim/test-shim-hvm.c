/*
 * The firmware guest with Xen's real hvmloader and SeaBIOS (as Debian
 * installs them) on the mock, an in-process device model (test-dm.c)
 * owning the host bridge at 00:00.0: the banner through port 0xe9, the PCI
 * scan reaching the device model as IOREQ_TYPE_PCI_CONFIG, the hand-over
 * to SeaBIOS, a vCPU stranded on a device model that went away, and an
 * ISA interrupt from the device model taken by a small guest of our own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <elf.h>
#include <stdio.h>
#include <unistd.h>

#include "mockhv.h"
#include "test-dm.h"

#define DOMID   8
#define BOUND_S 60 /* a bound on waiting, never an expectation of speed */

/* A guest in place of hvmloader (`as --32`, linked at 0x100000): its own
 * GDT and an interrupt gate for vector 0x25, the local APIC enabled with
 * LVT0 in ExtINT mode (as hvmloader sets the virtual wire), the 8259A
 * pair initialised with vectors 0x20/0x28 and only IRQ 5 unmasked; it
 * prints "ready" on port 0xe9 and halts with interrupts enabled until its
 * handler has printed "irq 5" (with an EOI), then halts with them off. */
static const uint8_t guest_irq[] = {
    0x0f, 0x01, 0x15, 0xe8, 0x00, 0x10, 0x00, 0xea, 0x0e, 0x00, 0x10, 0x00, 0x08, 0x00, 0x66, 0xb8,
    0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x00, 0x09, 0x00, 0xb8, 0x97, 0x00,
    0x10, 0x00, 0xbf, 0x20, 0x02, 0x10, 0x00, 0x66, 0x89, 0x07, 0x66, 0xc7, 0x47, 0x02, 0x08, 0x00,
    0x66, 0xc7, 0x47, 0x04, 0x00, 0x8e, 0xc1, 0xe8, 0x10, 0x66, 0x89, 0x47, 0x06, 0x0f, 0x01, 0x1d,
    0xee, 0x00, 0x10, 0x00, 0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05,
    0x50, 0x03, 0xe0, 0xfe, 0x00, 0x07, 0x00, 0x00, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21,
    0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0, 0xdf, 0xe6, 0x21, 0xb0, 0x11, 0xe6, 0xa0,
    0xb0, 0x28, 0xe6, 0xa1, 0xb0, 0x02, 0xe6, 0xa1, 0xb0, 0x01, 0xe6, 0xa1, 0xb0, 0xff, 0xe6, 0xa1,
    0xbe, 0xbe, 0x00, 0x10, 0x00, 0xe8, 0x2a, 0x00, 0x00, 0x00, 0xfb, 0xf4, 0x83, 0x3d, 0xcc, 0x00,
    0x10, 0x00, 0x00, 0x74, 0xf6, 0xfa, 0xf4, 0x50, 0x56, 0xbe, 0xc5, 0x00, 0x10, 0x00, 0xe8, 0x11,
    0x00, 0x00, 0x00, 0xc7, 0x05, 0xcc, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0xb0, 0x20, 0xe6,
    0x20, 0x5e, 0x58, 0xcf, 0xac, 0x84, 0xc0, 0x74, 0x04, 0xe6, 0xe9, 0xeb, 0xf7, 0xc3, 0x72, 0x65,
    0x61, 0x64, 0x79, 0x0a, 0x00, 0x69, 0x72, 0x71, 0x20, 0x35, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, 0x17, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x7f, 0x01,
    0xf8, 0x00, 0x10, 0x00, 0x8d, 0x74, 0x26, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

struct fx {
    struct mockhv *hv;
    struct test_dm dm;
    bool dm_running;
    pthread_mutex_t lock;
    char log[1 << 16];
    size_t len;
};

static void on_line(void *opaque, const char *line, size_t len)
{
    struct fx *fx = opaque;

    pthread_mutex_lock(&fx->lock);
    if (fx->len + len + 2 < sizeof(fx->log)) {
        memcpy(fx->log + fx->len, line, len);
        fx->len += len;
        fx->log[fx->len++] = '\n';
        fx->log[fx->len] = 0;
    }
    pthread_mutex_unlock(&fx->lock);
}

static bool log_has(struct fx *fx, const char *s)
{
    bool found;

    pthread_mutex_lock(&fx->lock);
    found = strstr(fx->log, s) != NULL;
    pthread_mutex_unlock(&fx->lock);
    return found;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static bool wait_log(struct fx *fx, const char *s)
{
    for (long waited = 0; waited < BOUND_S * 1000; waited += 10) {
        if (log_has(fx, s))
            return true;
        sleep_ms(10);
    }
    return false;
}

/* The host bridge's config space as hvmloader reads it: an i440FX. */
static uint64_t host_bridge(void *opaque, unsigned vcpu, const ioreq_t *q)
{
    unsigned reg = q->addr & 0xfff;
    uint32_t dword = 0;

    (void)opaque, (void)vcpu;
    if (q->type != IOREQ_TYPE_PCI_CONFIG)
        return ~0ull;
    if ((reg & ~3u) == 0x00)
        dword = 0x12378086;
    else if ((reg & ~3u) == 0x08)
        dword = 0x06000002;
    return (dword >> (reg & 3) * 8) & ((q->size >= 4) ? ~0u : (1u << (q->size * 8)) - 1);
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct mockhv_config cfg = {
        .domid = DOMID, .nr_vcpus = 1, .mem_bytes = 64 << 20, .xenstore = true};

    assert_non_null(fx);
    pthread_mutex_init(&fx->lock, NULL);
    assert_int_equal(mockhv_create(&fx->hv, &cfg), 0);
    assert_int_equal(mockhv_setenv(fx->hv), 0);
    assert_int_equal(
        test_dm_start_with(&fx->dm, DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, host_bridge, NULL), 0);
    fx->dm_running = true;
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(fx->dm.dmod, DOMID, fx->dm.id, 0, 0, 0, 0), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;

    /* the vCPU goes first: it may be waiting on the device model */
    mockhv_destroy(fx->hv);
    if (fx->dm_running)
        test_dm_stop(&fx->dm, false);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    return 0;
}

static void start(struct fx *fx)
{
    struct mockhv_hvm_config cfg = {.log_line = on_line, .log_opaque = fx};

    assert_int_equal(mockhv_hvm_start(fx->hv, &cfg), 0);
}

static void test_hvmloader_hands_over_to_seabios(void **state)
{
    struct fx *fx = *state;
    struct mockhv_hvm_stats st;
    struct mockhv_hvm_result r;
    bool saw_bridge = false;

    start(fx);
    assert_int_equal(mockhv_hvm_start(fx->hv, NULL), -EBUSY);
    assert_true(wait_log(fx, "HVM Loader\n"));
    assert_true(wait_log(fx, "Detected Xen v4.17"));
    assert_true(wait_log(fx, "Invoking SeaBIOS ...\n"));
    assert_true(wait_log(fx, "SeaBIOS (version"));
    assert_true(wait_log(fx, "Found Xen hypervisor signature at 40000000"));
    /* SeaBIOS's hypercalls work only if its hypercall page was filled */
    assert_true(wait_log(fx, "Detected Xen v4.17.0\nxen: copy BIOS tables..."));
    /* hvmloader's scan met the host bridge through the device model */
    for (unsigned i = 0; i < test_dm_count(&fx->dm); i++) {
        ioreq_t q = test_dm_get(&fx->dm, i);

        saw_bridge |= q.type == IOREQ_TYPE_PCI_CONFIG && q.addr == 0 && q.dir == IOREQ_READ;
    }
    assert_true(saw_bridge);
    assert_int_equal(mockhv_hvm_stats(fx->hv, &st), 0);
    assert_true(st.ioreq_pci_config > 0);
    assert_int_equal(st.ioreq_pio, 0);
    assert_true(st.xen_pio > 0);        /* PIT, RTC, PIC, port 0xe9 */
    assert_true(st.hypercalls[17] > 0); /* xen_version: "Detected Xen v4.17.0" */
    assert_true(st.hypercalls[12] > 0); /* memory_op: the shared info page, e820 */
    assert_true(st.hypercalls[34] > 0); /* hvm_op: HVM params */
    assert_int_equal(mockhv_hvm_wait(fx->hv, 0, &r), -ETIMEDOUT);
    assert_int_equal(r.state, MOCKHV_HVM_RUNNING);
}

/* guest_irq as a 32-bit ELF executable loaded at 0x100000. */
static void write_elf(const char *path)
{
    Elf32_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
        .e_type = ET_EXEC,
        .e_machine = EM_386,
        .e_version = EV_CURRENT,
        .e_entry = 0x100000,
        .e_phoff = sizeof(Elf32_Ehdr),
        .e_ehsize = sizeof(Elf32_Ehdr),
        .e_phentsize = sizeof(Elf32_Phdr),
        .e_phnum = 1,
    };
    Elf32_Phdr ph = {
        .p_type = PT_LOAD,
        .p_offset = 0x1000,
        .p_vaddr = 0x100000,
        .p_paddr = 0x100000,
        .p_filesz = sizeof(guest_irq),
        .p_memsz = sizeof(guest_irq),
        .p_flags = PF_R | PF_W | PF_X,
        .p_align = 0x1000,
    };
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(&eh, sizeof(eh), 1, f), 1);
    assert_int_equal(fwrite(&ph, sizeof(ph), 1, f), 1);
    assert_int_equal(fseek(f, 0x1000, SEEK_SET), 0);
    assert_int_equal(fwrite(guest_irq, sizeof(guest_irq), 1, f), 1);
    assert_int_equal(fclose(f), 0);
}

/* set_isa_irq_level from a device model reaches the guest through Xen's
 * PIC and local APIC, as well as the records. */
static void test_device_model_interrupt_reaches_the_vcpu(void **state)
{
    struct fx *fx = *state;
    char path[] = "/tmp/test-shim-hvm-XXXXXX";
    int fd = mkstemp(path);
    struct mockhv_hvm_config cfg = {.hvmloader = path, .log_line = on_line, .log_opaque = fx};
    struct mockhv_hvm_result r;
    struct mockhv_hvm_stats st;

    assert_true(fd >= 0);
    close(fd);
    write_elf(path);
    assert_int_equal(mockhv_hvm_start(fx->hv, &cfg), 0);
    unlink(path);
    assert_true(wait_log(fx, "ready\n"));
    assert_false(log_has(fx, "irq 5"));
    assert_int_equal(xendevicemodel_set_isa_irq_level(fx->dm.dmod, DOMID, 5, 1), 0);
    assert_int_equal(mockhv_hvm_wait(fx->hv, BOUND_S * 1000, &r), 0);
    assert_int_equal(r.state, MOCKHV_HVM_HALTED);
    assert_true(log_has(fx, "ready\nirq 5\n"));
    assert_int_equal(mockhv_isa_irq_level(fx->hv, 5), 1); /* still recorded */
    assert_int_equal(mockhv_hvm_stats(fx->hv, &st), 0);
    assert_int_equal(st.interrupts, 1);
}

static void test_stranded_on_a_gone_device_model(void **state)
{
    struct fx *fx = *state;
    struct mockhv_hvm_result r;
    long waited = 0;

    test_dm_set_mode(&fx->dm, TEST_DM_SILENT);
    start(fx);
    /* hvmloader's first config read of 00:00.0 stays unanswered */
    while (mockhv_vcpu_waiting_on(fx->hv, 0) != fx->dm.id && waited < BOUND_S * 1000) {
        sleep_ms(10);
        waited += 10;
    }
    assert_int_equal(mockhv_vcpu_waiting_on(fx->hv, 0), fx->dm.id);
    /* still alive: only waiting */
    assert_int_equal(mockhv_hvm_wait(fx->hv, 50, &r), -ETIMEDOUT);
    test_dm_stop(&fx->dm, false); /* its event channels close, as when it dies */
    fx->dm_running = false;
    assert_int_equal(mockhv_hvm_wait(fx->hv, BOUND_S * 1000, &r), 0);
    assert_int_equal(r.state, MOCKHV_HVM_STRANDED);
    assert_int_equal(r.server, fx->dm.id);
    assert_string_equal(r.reason, "vCPU 0 stranded on ioreq server 0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hvmloader_hands_over_to_seabios, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stranded_on_a_gone_device_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_model_interrupt_reaches_the_vcpu, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
