/*
 * What libxl and libxenguest build for an HVM guest with a device model
 * before its first instruction (tools/libs/light/libxl_dom.c, libxl_x86.c,
 * libxl_create.c, libxl_dm.c; tools/libs/guest/xg_dom_hvmloader.c,
 * xg_dom_x86.c):
 *  - hvmloader's segments at their physical addresses; then, page by page
 *    after them as xc_dom_alloc_segment hands out memory, the BIOS module
 *    and the hvm_start_info segment (version 1: the module list with the
 *    module's command line "firmware", the only name hvmloader looks for,
 *    HVMLOADER_MODULE_MAX_COUNT entries and MAX_GUEST_CMDLINE bytes each,
 *    then the memory map);
 *  - the e820 of domain_construct_memmap (RAM from 1 MiB to the end of low
 *    RAM, RAM above 4 GiB), which XENMEM_memory_map answers;
 *  - the hvm_info table at HVM_INFO_PADDR (build_hvm_info, then
 *    hvm_build_set_params: apic_mode, nr_vcpus, the online bitmap, checksum);
 *  - the eight special pages below 0xff000 (populated, zeroed, the
 *    identity-map page table in SPECIALPAGE_IDENT_PT) and their HVM params;
 *  - the xenstore and console event channels (alloc_unbound by the
 *    toolstack; xenstored binds the first when the domain is introduced);
 *  - the keys hvmloader reads: hvmloader/bios, allow-memory-relocate,
 *    platform keys, and the store and console ring references.
 * The vCPU then starts at the ELF entry with ebx = the start info.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hc-boot.h"

#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/hvm_info_table.h>
#include <xen/hvm/params.h>

#include "log.h"

#define MAX_FILE         (32u << 20)
#define MODULE_MAX_COUNT 2           /* HVMLOADER_MODULE_MAX_COUNT */
#define MODULE_CMDLINE   1024        /* HVMLOADER_MODULE_CMDLINE_SIZE = MAX_GUEST_CMDLINE */
#define LOW_MEM_START    0x100000ull /* GUEST_LOW_MEM_START_DEFAULT */
#define E820_RAM         1
#define IDENT_PT_FLAGS   0xe7u /* present, rw, user, accessed, dirty, 4 MiB */

static uint64_t page_up(uint64_t a)
{
    return (a + HV_PAGE_SIZE - 1) & ~(uint64_t)(HV_PAGE_SIZE - 1);
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    struct stat st;
    uint8_t *buf;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > MAX_FILE) {
        rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
        if (S_ISREG(st.st_mode) && st.st_size <= 0)
            rc = -ENOEXEC;
        goto out;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

        if (n <= 0) {
            rc = n < 0 ? -errno : -EIO;
            free(buf);
            goto out;
        }
        done += (size_t)n;
    }
    *out = buf;
    *len = done;
out:
    close(fd);
    return rc;
}

static bool bios_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

static void build_e820(struct hv_hypercalls *h)
{
    struct mockhv *hv = h->hv;
    uint64_t high = hv->ram_bytes - hv->low_end;

    h->nr_e820 = 0;
    h->e820[h->nr_e820++] = (struct hc_e820){LOW_MEM_START, hv->low_end - LOW_MEM_START, E820_RAM};
    if (high)
        h->e820[h->nr_e820++] = (struct hc_e820){HV_HIGH_RAM_START, high, E820_RAM};
}

static int write_hvm_info(struct hv_hypercalls *h)
{
    struct mockhv *hv = h->hv;
    uint8_t page[HV_PAGE_SIZE];
    struct hvm_info_table *t = (void *)(page + HVM_INFO_OFFSET);
    uint64_t high = hv->ram_bytes - hv->low_end;
    uint8_t sum = 0;

    memset(page, 0, sizeof(page));
    memcpy(t->signature, "HVM INFO", 8);
    t->length = sizeof(*t);
    t->apic_mode = 1;
    t->nr_vcpus = hv->nr_vcpus;
    for (unsigned v = 0; v < hv->nr_vcpus && v < HVM_MAX_VCPUS; v++)
        t->vcpu_online[v / 8] |= (uint8_t)(1u << (v % 8));
    t->low_mem_pgend = (uint32_t)(hv->low_end >> 12);
    t->high_mem_pgend = high ? (uint32_t)((HV_HIGH_RAM_START + high) >> 12) : 0;
    t->reserved_mem_pgstart = HC_SPECIAL_PFN(0) - HC_IOREQ_SERVER_PAGES;
    for (unsigned i = 0; i < t->length; i++)
        sum += ((uint8_t *)t)[i];
    t->checksum = (uint8_t)-sum;
    return hc_write(h, (uint64_t)HVM_INFO_PFN << 12, page, sizeof(page));
}

static int write_start_info(struct hv_hypercalls *h, uint64_t at, uint64_t mod, size_t mod_len)
{
    uint8_t page[HV_PAGE_SIZE];
    struct hvm_start_info *si = (void *)page;
    struct hvm_modlist_entry *ml = (void *)(si + 1);
    char *cmdlines = (char *)(ml + MODULE_MAX_COUNT);
    struct hvm_memmap_table_entry *mm =
        (void *)((uint8_t *)ml + MODULE_MAX_COUNT * (sizeof(*ml) + MODULE_CMDLINE));
    uint64_t ml_paddr = at + sizeof(*si);

    _Static_assert(sizeof(struct hvm_start_info) +
                           MODULE_MAX_COUNT * (sizeof(struct hvm_modlist_entry) + MODULE_CMDLINE) +
                           HC_MAX_E820 * sizeof(struct hvm_memmap_table_entry) <=
                       HV_PAGE_SIZE,
                   "start info fits a page");
    memset(page, 0, sizeof(page));
    if (mod_len) {
        ml[0].paddr = mod;
        ml[0].size = mod_len;
        strcpy(cmdlines, "firmware");
        ml[0].cmdline_paddr = ml_paddr + MODULE_MAX_COUNT * sizeof(*ml);
        si->nr_modules = 1;
        si->modlist_paddr = ml_paddr;
    }
    si->memmap_paddr = ml_paddr + MODULE_MAX_COUNT * (sizeof(*ml) + MODULE_CMDLINE);
    si->memmap_entries = h->nr_e820;
    for (unsigned i = 0; i < h->nr_e820; i++) {
        mm[i].addr = h->e820[i].addr;
        mm[i].size = h->e820[i].size;
        mm[i].type = h->e820[i].type;
    }
    si->magic = XEN_HVM_START_MAGIC_VALUE;
    si->version = 1;
    return hc_write(h, at, page, sizeof(page));
}

/* The special pages and the params naming them; h->lock held. */
static int special_pages(struct hv_hypercalls *h, int64_t *store_off)
{
    static const struct {
        unsigned page, param;
    } named[] = {
        {HC_SPECIAL_XENSTORE, HVM_PARAM_STORE_PFN},
        {HC_SPECIAL_BUFIOREQ, HVM_PARAM_BUFIOREQ_PFN},
        {HC_SPECIAL_IOREQ, HVM_PARAM_IOREQ_PFN},
        {HC_SPECIAL_CONSOLE, HVM_PARAM_CONSOLE_PFN},
        {HC_SPECIAL_PAGING, HVM_PARAM_PAGING_RING_PFN},
        {HC_SPECIAL_ACCESS, HVM_PARAM_MONITOR_RING_PFN},
        {HC_SPECIAL_SHARING, HVM_PARAM_SHARING_RING_PFN},
    };
    struct mockhv *hv = h->hv;
    uint32_t pt[HV_PAGE_SIZE / 4];
    int64_t off[HC_NR_SPECIAL];

    for (unsigned i = 0; i < HC_NR_SPECIAL; i++) {
        int rc = hc_slack_populate(h, HC_SPECIAL_PFN(i), true, &off[i]);

        if (rc)
            return rc;
    }
    for (unsigned i = 0; i < HV_PAGE_SIZE / 4; i++)
        pt[i] = (i << 22) | IDENT_PT_FLAGS;
    memcpy(hv->ram + off[HC_SPECIAL_IDENT_PT], pt, sizeof(pt));
    pthread_mutex_lock(&hv->lock);
    for (unsigned i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        hv->params[named[i].param] = HC_SPECIAL_PFN(named[i].page);
    hv->params[HVM_PARAM_IDENT_PT] = (uint64_t)HC_SPECIAL_PFN(HC_SPECIAL_IDENT_PT) << 12;
    pthread_mutex_unlock(&hv->lock);
    *store_off = off[HC_SPECIAL_XENSTORE];
    return 0;
}

/* alloc_unbound for the toolstack; the store end is bound to xenstored. */
static int alloc_ports(struct hv_hypercalls *h, uint32_t *store, uint32_t *console)
{
    struct mockhv *hv = h->hv;
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = hv_port_alloc(&hv->guest_ports, store);
    if (!rc) {
        struct hv_port *p = &hv->guest_ports.port[*store];

        p->state = HV_PORT_INTERDOMAIN; /* peer: xenstored, outside the port tables */
        p->peer_is_guest = false;
        p->peer = 0;
        rc = hv_port_alloc(&hv->guest_ports, console);
    }
    if (!rc) {
        hv->params[HVM_PARAM_STORE_EVTCHN] = *store;
        hv->params[HVM_PARAM_CONSOLE_EVTCHN] = *console;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

static int write_keys(struct hv_hypercalls *h, const char *bios, uint32_t store, uint32_t console)
{
    static const char *const fixed[][2] = {
        {"hvmloader/allow-memory-relocate", "0"},
        {"platform/acpi", "1"},
        {"platform/acpi_s3", "1"},
        {"platform/acpi_s4", "1"},
        {"platform/acpi_laptop_slate", "0"},
        {"platform/device-model", "qemu_xen"},
    };
    struct mockhv *hv = h->hv;
    char path[128], val[32];
    int rc;

#define KEY(sub, ...)                                                                              \
    do {                                                                                           \
        snprintf(path, sizeof(path), "/local/domain/%u/%s", hv->domid, sub);                       \
        snprintf(val, sizeof(val), __VA_ARGS__);                                                   \
        rc = mockhv_xenstore_write(hv, path, val);                                                 \
        if (rc)                                                                                    \
            return rc;                                                                             \
    } while (0)
    KEY("hvmloader/bios", "%s", bios);
    for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        KEY(fixed[i][0], "%s", fixed[i][1]);
    KEY("store/port", "%u", store);
    KEY("store/ring-ref", "%u", HC_SPECIAL_PFN(HC_SPECIAL_XENSTORE));
    KEY("console/port", "%u", console);
    KEY("console/ring-ref", "%u", HC_SPECIAL_PFN(HC_SPECIAL_CONSOLE));
#undef KEY
    return 0;
}

int hv_hypercalls_boot(struct hv_hypercalls *h, const struct hv_boot_config *cfg,
                       struct hv_boot_state *out)
{
    struct mockhv *hv;
    const char *bios = cfg && cfg->bios_name ? cfg->bios_name : "seabios";
    uint8_t *img = NULL, *mod = NULL;
    size_t img_len = 0, mod_len = 0;
    uint64_t mod_at, si_at;
    struct hc_elf elf;
    uint32_t store = 0, console = 0;
    int64_t store_off;
    int rc;

    if (!h || !cfg || !cfg->hvmloader || !out || !bios_name_ok(bios))
        return -EINVAL;
    hv = h->hv;
    if (!hv->xs)
        return -ENODEV; /* hvmloader cannot start without xenstore */
    pthread_mutex_lock(&h->lock);
    rc = h->booted ? -EBUSY : 0;
    pthread_mutex_unlock(&h->lock);
    if (rc)
        return rc;

    /* everything is checked before anything is written */
    rc = read_file(cfg->hvmloader, &img, &img_len);
    if (!rc)
        rc = hc_elf_check(h, img, img_len, &elf);
    if (!rc && cfg->bios_module)
        rc = read_file(cfg->bios_module, &mod, &mod_len);
    if (rc)
        goto out;
    mod_at = page_up(elf.pend);
    si_at = page_up(mod_at + mod_len);
    /* xg_dom_hvmloader's module_init_one: below the MMIO hole */
    if (si_at + HV_PAGE_SIZE > hv->low_end || hc_check(h, mod_at, si_at + HV_PAGE_SIZE - mod_at) ||
        elf.pstart < LOW_MEM_START) {
        rc = -E2BIG;
        goto out;
    }

    pthread_mutex_lock(&h->lock);
    h->booted = true;
    build_e820(h);
    rc = special_pages(h, &store_off);
    pthread_mutex_unlock(&h->lock);
    if (!rc)
        rc = hc_elf_load(h, img, &elf);
    if (!rc && mod_len)
        rc = hc_write(h, mod_at, mod, mod_len);
    if (!rc)
        rc = write_start_info(h, si_at, mod_at, mod_len);
    if (!rc)
        rc = write_hvm_info(h);
    if (!rc)
        rc = alloc_ports(h, &store, &console);
    if (!rc)
        rc = write_keys(h, bios, store, console);
    if (!rc)
        rc = hc_xs_start(h, hv->ram + store_off, store);
    if (rc)
        goto out;
    out->entry = elf.entry;
    out->ebx = (uint32_t)si_at;
    log_info("hypercall: domain %u: hvmloader at %#x, %s module %zu bytes at %#llx, start info "
             "at %#llx, xenstore port %u",
             hv->domid, elf.entry, bios, mod_len, (unsigned long long)mod_at,
             (unsigned long long)si_at, store);
out:
    free(img);
    free(mod);
    return rc;
}
