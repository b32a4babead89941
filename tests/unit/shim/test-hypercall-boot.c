/*
 * hv_hypercalls_boot with Xen's real hvmloader and SeaBIOS: the ELF
 * segments byte for byte, the module and hvm_start_info where libxenguest
 * puts them, the hvm_info table and its checksum, the e820 that
 * XENMEM_memory_map answers, the special pages, params, event channels and
 * xenstore keys; and corrupt ELF images the test makes, refused before
 * anything is written.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test-hc.h"

#define SELF 0x7ff0

struct file {
    uint8_t *data;
    size_t len;
};

static struct file slurp(const char *path)
{
    struct file f = {0};
    struct stat st;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    f.len = (size_t)st.st_size;
    f.data = malloc(f.len);
    assert_non_null(f.data);
    assert_int_equal(read(fd, f.data, f.len), (ssize_t)f.len);
    close(fd);
    return f;
}

static int setup(void **state)
{
    return hc_fx_setup((struct hc_fx **)state, true, HC_MEM);
}

static int teardown(void **state)
{
    hc_fx_teardown(*state);
    return 0;
}

static uint64_t page_up(uint64_t a)
{
    return (a + 4095) & ~4095ull;
}

static void test_boot_layout(void **state)
{
    struct hc_fx *fx = *state;
    struct hv_boot_config cfg = {
        .hvmloader = HVMLOADER, .bios_module = SEABIOS, .bios_name = "seabios"};
    struct hv_boot_state bs = {0};
    struct file elf = slurp(HVMLOADER), bios = slurp(SEABIOS);
    Elf32_Ehdr eh;
    uint64_t pend = 0, mod, si, v;
    uint8_t *buf;
    char *s;

    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), 0);
    memcpy(&eh, elf.data, sizeof(eh));
    assert_int_equal(bs.entry, eh.e_entry);
    assert_int_equal(bs.entry, 0x100000);
    /* every PT_LOAD: its bytes, then zeros */
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;

        memcpy(&ph, elf.data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD)
            continue;
        buf = malloc(ph.p_memsz);
        hc_get(fx, ph.p_paddr, buf, ph.p_memsz);
        assert_memory_equal(buf, elf.data + ph.p_offset, ph.p_filesz);
        for (uint32_t j = ph.p_filesz; j < ph.p_memsz; j++)
            assert_int_equal(buf[j], 0);
        free(buf);
        if (ph.p_paddr + ph.p_memsz > pend)
            pend = ph.p_paddr + ph.p_memsz;
    }
    /* the module right after, then the start info page */
    mod = page_up(pend);
    si = page_up(mod + bios.len);
    assert_int_equal(bs.ebx, si);
    buf = malloc(bios.len);
    hc_get(fx, mod, buf, bios.len);
    assert_memory_equal(buf, bios.data, bios.len);
    free(buf);
    assert_int_equal(hc_get32(fx, si + 0), 0x336ec578);                 /* magic */
    assert_int_equal(hc_get32(fx, si + 4), 1);                          /* version */
    assert_int_equal(hc_get32(fx, si + 8), 0);                          /* flags */
    assert_int_equal(hc_get32(fx, si + 12), 1);                         /* nr_modules */
    assert_int_equal(hc_get64(fx, si + 16), si + 56);                   /* modlist_paddr */
    assert_int_equal(hc_get64(fx, si + 24), 0);                         /* cmdline_paddr */
    assert_int_equal(hc_get64(fx, si + 32), 0);                         /* rsdp_paddr */
    assert_int_equal(hc_get64(fx, si + 40), si + 56 + 2 * (32 + 1024)); /* memmap */
    assert_int_equal(hc_get32(fx, si + 48), 1);                         /* memmap_entries */
    assert_int_equal(hc_get64(fx, si + 56), mod);
    assert_int_equal(hc_get64(fx, si + 64), bios.len);
    assert_int_equal(hc_get64(fx, si + 72), si + 56 + 64);
    s = calloc(1, 16);
    hc_get(fx, si + 56 + 64, s, 9);
    assert_string_equal(s, "firmware");
    free(s);
    assert_int_equal(hc_get64(fx, si + 2168), 0x100000);
    assert_int_equal(hc_get64(fx, si + 2176), HC_MEM - 0x100000);
    assert_int_equal(hc_get32(fx, si + 2184), 1);
    /* hvm_info at 0x9f800 */
    {
        uint8_t t[64], sum = 0;

        hc_get(fx, 0x9f800, t, sizeof(t));
        assert_memory_equal(t, "HVM INFO", 8);
        assert_int_equal(t[8], 48); /* length: sizeof(struct hvm_info_table) */
        for (unsigned i = 0; i < t[8]; i++)
            sum += t[i];
        assert_int_equal(sum, 0);
        assert_int_equal(t[13], 1); /* apic_mode */
        assert_int_equal(hc_get32(fx, 0x9f810), HC_VCPUS);
        assert_int_equal(hc_get32(fx, 0x9f814), HC_MEM >> 12); /* low_mem_pgend */
        assert_int_equal(hc_get32(fx, 0x9f818), 0xfeff0);      /* reserved_mem_pgstart */
        assert_int_equal(hc_get32(fx, 0x9f81c), 0);            /* high_mem_pgend */
        assert_int_equal(t[0x20], 0x03);                       /* vcpus 0 and 1 online */
        assert_int_equal(t[0x21], 0);
    }
    /* the e820 XENMEM_memory_map answers */
    {
        struct c_memmap m = {.nr_entries = 8, .buffer = SCRATCH};
        struct c_e820 e;

        hc_put(fx, SCRATCH2, &m, sizeof(m));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 9, SCRATCH2, 0), 0);
        assert_int_equal(hc_get32(fx, SCRATCH2), 1);
        hc_get(fx, SCRATCH, &e, sizeof(e));
        assert_int_equal(e.addr, 0x100000);
        assert_int_equal(e.size, HC_MEM - 0x100000);
        assert_int_equal(e.type, 1);
        m.nr_entries = 0;
        hc_put(fx, SCRATCH2, &m, sizeof(m));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 9, SCRATCH2, 0), 0);
        assert_int_equal(hc_get32(fx, SCRATCH2), 0);
        m.nr_entries = 8;
        m.buffer = 0xf0000000u;
        hc_put(fx, SCRATCH2, &m, sizeof(m));
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 9, SCRATCH2, 0), -EFAULT);
    }
    /* special pages, params, the ports and keys */
    assert_int_equal(hc_get_param(fx, SELF, 1 /* STORE_PFN */, &v), 0);
    assert_int_equal(v, 0xfeffc);
    assert_int_equal(hc_get_param(fx, SELF, 17 /* CONSOLE_PFN */, &v), 0);
    assert_int_equal(v, 0xfefff);
    assert_int_equal(hc_get32(fx, 0xfeffe000 + 4), (1u << 22) | 0xe7); /* identity map */
    assert_int_equal(hc_get32(fx, 0xfeffc000 + 2048), 0);              /* the ring, empty */
    assert_int_equal(hc_get_param(fx, SELF, 2 /* STORE_EVTCHN */, &v), 0);
    assert_int_equal(v, hv_hypercalls_store_port(fx->h));
    assert_true(v >= 1);
    {
        char path[64], *val = NULL;
        char want[16];

        snprintf(path, sizeof(path), "/local/domain/%u/hvmloader/bios", HC_DOMID);
        assert_int_equal(mockhv_xenstore_read(fx->hv, path, &val), 0);
        assert_string_equal(val, "seabios");
        free(val);
        snprintf(path, sizeof(path), "/local/domain/%u/store/port", HC_DOMID);
        assert_int_equal(mockhv_xenstore_read(fx->hv, path, &val), 0);
        snprintf(want, sizeof(want), "%u", (unsigned)v);
        assert_string_equal(val, want);
        free(val);
        snprintf(path, sizeof(path), "/local/domain/%u/hvmloader/allow-memory-relocate", HC_DOMID);
        assert_int_equal(mockhv_xenstore_read(fx->hv, path, &val), 0);
        assert_string_equal(val, "0");
        free(val);
    }
    /* the special pages came from the headroom */
    {
        uint16_t self = SELF;

        hc_put(fx, SCRATCH, &self, 2);
        assert_int_equal(hc_call(fx, 0, HC_MEMORY_OP, 3, SCRATCH, 0), (HC_MEM >> 12) + 8);
    }
    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), -EBUSY);
    free(elf.data);
    free(bios.data);
}

static void test_boot_refusals(void **state)
{
    struct hc_fx *fx = *state;
    struct hv_boot_state bs = {0};
    struct hv_boot_config cfg = {.hvmloader = "/nonexistent/hvmloader"};

    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), -ENOENT);
    cfg.hvmloader = "/tmp";
    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), -EINVAL);
    cfg.hvmloader = HVMLOADER;
    cfg.bios_name = "sea bios";
    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, &bs), -EINVAL);
    cfg.bios_name = NULL;
    assert_int_equal(hv_hypercalls_boot(fx->h, NULL, &bs), -EINVAL);
    assert_int_equal(hv_hypercalls_boot(fx->h, &cfg, NULL), -EINVAL);
    /* a BIOS module that does not fit below the MMIO hole */
    {
        struct hc_fx *small;
        char path[] = "/tmp/hc-bigmod-XXXXXX";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 2 << 20), 0);
        close(fd);
        assert_int_equal(hc_fx_setup(&small, true, 2 << 20), 0);
        cfg.bios_module = path;
        assert_int_equal(hv_hypercalls_boot(small->h, &cfg, &bs), -E2BIG);
        cfg.bios_module = SEABIOS;
        assert_int_equal(hv_hypercalls_boot(small->h, &cfg, &bs), 0);
        hc_fx_teardown(small);
        unlink(path);
    }
    /* no xenstored: hvmloader could not read its keys */
    {
        struct hc_fx *bare;

        assert_int_equal(hc_fx_setup(&bare, false, HC_MEM), 0);
        assert_int_equal(hv_hypercalls_boot(bare->h, &cfg, &bs), -ENODEV);
        hc_fx_teardown(bare);
    }
}

/* Writes img to a file and boots it: the answer. */
static int boot_image(struct hc_fx *fx, const uint8_t *img, size_t len)
{
    char path[] = "/tmp/hc-elf-XXXXXX";
    struct hv_boot_config cfg = {.hvmloader = path};
    struct hv_boot_state bs;
    int fd = mkstemp(path), rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, img, len), (ssize_t)len);
    close(fd);
    rc = hv_hypercalls_boot(fx->h, &cfg, &bs);
    unlink(path);
    return rc;
}

struct image {
    Elf32_Ehdr eh;
    Elf32_Phdr ph[2];
    uint8_t body[64];
};

static struct image good_image(void)
{
    struct image im;

    memset(&im, 0, sizeof(im));
    memcpy(im.eh.e_ident, ELFMAG, SELFMAG);
    im.eh.e_ident[EI_CLASS] = ELFCLASS32;
    im.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    im.eh.e_ident[EI_VERSION] = EV_CURRENT;
    im.eh.e_type = ET_EXEC;
    im.eh.e_machine = EM_386;
    im.eh.e_version = EV_CURRENT;
    im.eh.e_entry = 0x100000;
    im.eh.e_phoff = offsetof(struct image, ph);
    im.eh.e_ehsize = sizeof(Elf32_Ehdr);
    im.eh.e_phentsize = sizeof(Elf32_Phdr);
    im.eh.e_phnum = 2;
    im.ph[0] = (Elf32_Phdr){.p_type = PT_LOAD,
                            .p_offset = offsetof(struct image, body),
                            .p_paddr = 0x100000,
                            .p_vaddr = 0x100000,
                            .p_filesz = 32,
                            .p_memsz = 0x2000};
    im.ph[1] = (Elf32_Phdr){.p_type = PT_LOAD,
                            .p_offset = offsetof(struct image, body) + 32,
                            .p_paddr = 0x200000,
                            .p_vaddr = 0x200000,
                            .p_filesz = 32,
                            .p_memsz = 32};
    for (unsigned i = 0; i < sizeof(im.body); i++)
        im.body[i] = (uint8_t)(i + 1);
    return im;
}

static void test_corrupt_elf(void **state)
{
    struct hc_fx *fx = *state;
    struct image im;
    uint8_t marker[4];

    hc_put32(fx, 0x100000, 0xfeedf00d);
#define BAD(mutation)                                                                              \
    do {                                                                                           \
        im = good_image();                                                                         \
        mutation;                                                                                  \
        assert_int_equal(boot_image(fx, (uint8_t *)&im, sizeof(im)), -ENOEXEC);                    \
    } while (0)
    BAD(im.eh.e_ident[0] = 0);
    BAD(im.eh.e_ident[EI_CLASS] = ELFCLASS64);
    BAD(im.eh.e_ident[EI_DATA] = ELFDATA2MSB);
    BAD(im.eh.e_machine = EM_X86_64);
    BAD(im.eh.e_type = ET_DYN);
    BAD(im.eh.e_phentsize = 16);
    BAD(im.eh.e_phnum = 0);
    BAD(im.eh.e_phnum = 0xffff);
    BAD(im.eh.e_phoff = 0xfffffff0u);
    BAD(im.ph[0].p_offset = 0xffffffe0u);                         /* past the file, and wrapping */
    BAD(im.ph[0].p_filesz = 0x3000);                              /* more file than memory */
    BAD(im.ph[0].p_filesz = sizeof(im));                          /* more than the file holds */
    BAD(im.ph[0].p_paddr = 0xfffff000u);                          /* over 4 GiB */
    BAD(im.ph[0].p_paddr = 0x8000000; im.eh.e_entry = 0x8000000); /* not RAM (64 MiB) */
    BAD(im.ph[1].p_paddr = 0x101000);                             /* segments overlap */
    BAD(im.ph[0].p_paddr = 0x9e000; im.eh.e_entry = 0x9e000);     /* over the hvm_info page */
    BAD(im.eh.e_entry = 0x300000);                                /* entry outside every segment */
    BAD(im.ph[0].p_memsz = 0x7fffffff);                           /* absurd size */
    BAD(im.ph[0].p_type = PT_NOTE; im.ph[1].p_type = PT_NOTE);    /* nothing to load */
#undef BAD
    im = good_image();
    assert_int_equal(boot_image(fx, (uint8_t *)&im, 10), -ENOEXEC); /* truncated */
    assert_int_equal(boot_image(fx, (uint8_t *)&im, 0), -ENOEXEC);  /* empty */
    /* nothing was written by any of them */
    hc_get(fx, 0x100000, marker, 4);
    assert_int_equal(marker[0], 0x0d);
    assert_int_equal(marker[3], 0xfe);
    /* the good one loads: bytes, then zeros */
    assert_int_equal(boot_image(fx, (uint8_t *)&im, sizeof(im)), 0);
    assert_int_equal(hc_get32(fx, 0x100000), 0x04030201);
    assert_int_equal(hc_get32(fx, 0x100020), 0);
    assert_int_equal(hc_get32(fx, 0x200000), 0x24232221);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_boot_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_elf, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
