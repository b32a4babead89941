/*
 * hvmloader's ELF image, checked and loaded as libxenguest's HVM loader
 * does it (xg_dom_hvmloader.c with libelf): a 32-bit little-endian i386
 * executable whose PT_LOAD segments are copied to their physical
 * addresses, the rest of each segment's memory size zeroed, the entry
 * point taken from the header. The file is untrusted: every offset, size
 * and address is checked (64-bit arithmetic, no overflow) before a byte is
 * written, and segments must not overlap each other, the hvm_info page or
 * anything but guest RAM below 4 GiB.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "hc-boot.h"

#include <xen/hvm/hvm_info_table.h>

#define MAX_PHDRS   64
#define MAX_SEGMENT (64ull << 20)

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

int hc_elf_check(struct hv_hypercalls *h, const uint8_t *img, size_t len, struct hc_elf *out)
{
    Elf32_Ehdr eh;
    Elf32_Phdr ph[MAX_PHDRS];
    unsigned nr_load = 0;
    bool entry_ok = false;

    memset(out, 0, sizeof(*out));
    if (len < sizeof(eh))
        return -ENOEXEC;
    memcpy(&eh, img, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS32 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_ident[EI_VERSION] != EV_CURRENT ||
        eh.e_type != ET_EXEC || eh.e_machine != EM_386 || eh.e_version != EV_CURRENT ||
        eh.e_ehsize != sizeof(Elf32_Ehdr) || eh.e_phentsize != sizeof(Elf32_Phdr))
        return -ENOEXEC;
    if (eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS ||
        (uint64_t)eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf32_Phdr) > len)
        return -ENOEXEC;
    memcpy(ph, img + eh.e_phoff, eh.e_phnum * sizeof(Elf32_Phdr));
    out->pstart = UINT64_MAX;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        const Elf32_Phdr *p = &ph[i];

        if (p->p_type != PT_LOAD || p->p_memsz == 0)
            continue;
        if (p->p_filesz > p->p_memsz || (uint64_t)p->p_offset + p->p_filesz > len ||
            p->p_memsz > MAX_SEGMENT || (uint64_t)p->p_paddr + p->p_memsz > (1ull << 32))
            return -ENOEXEC;
        /* the toolstack writes the hvm_info page after loading */
        if (overlaps(p->p_paddr, p->p_memsz, HVM_INFO_PFN << 12, HV_PAGE_SIZE))
            return -ENOEXEC;
        for (unsigned j = 0; j < i; j++)
            if (ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
                overlaps(p->p_paddr, p->p_memsz, ph[j].p_paddr, ph[j].p_memsz))
                return -ENOEXEC;
        if (hc_check(h, p->p_paddr, p->p_memsz))
            return -ENOEXEC;
        if (eh.e_entry >= p->p_paddr && eh.e_entry - p->p_paddr < p->p_memsz)
            entry_ok = true;
        if (p->p_paddr < out->pstart)
            out->pstart = p->p_paddr;
        if ((uint64_t)p->p_paddr + p->p_memsz > out->pend)
            out->pend = (uint64_t)p->p_paddr + p->p_memsz;
        nr_load++;
    }
    if (!nr_load || !entry_ok)
        return -ENOEXEC;
    out->entry = eh.e_entry;
    out->phoff = eh.e_phoff;
    out->phnum = eh.e_phnum;
    return 0;
}

int hc_elf_load(struct hv_hypercalls *h, const uint8_t *img, const struct hc_elf *elf)
{
    static const uint8_t zero[HV_PAGE_SIZE];

    for (unsigned i = 0; i < elf->phnum; i++) {
        Elf32_Phdr p;
        uint64_t done;
        int rc;

        memcpy(&p, img + elf->phoff + i * sizeof(p), sizeof(p));
        if (p.p_type != PT_LOAD || p.p_memsz == 0)
            continue;
        rc = hc_write(h, p.p_paddr, img + p.p_offset, p.p_filesz);
        for (done = p.p_filesz; !rc && done < p.p_memsz; done += sizeof(zero)) {
            uint64_t n = p.p_memsz - done < sizeof(zero) ? p.p_memsz - done : sizeof(zero);

            rc = hc_write(h, (uint64_t)p.p_paddr + done, zero, n);
        }
        if (rc)
            return rc;
    }
    return 0;
}
