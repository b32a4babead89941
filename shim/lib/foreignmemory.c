/*
 * Drop-in libxenforeignmemory.so.1. Guest RAM and ioreq-server pages are
 * memfds the mock passes over its socket, so mapping foreign memory is a
 * plain mmap of the pages the mock's vCPUs use. The mock translates guest
 * frames to memfd offsets (its p2m); runs of contiguous offsets are mapped
 * into a reserved range in one mmap each. A frame that is not RAM fails
 * with -EINVAL in err[] (and its page stays inaccessible), as privcmd
 * reports a bad frame.
 */
#include <xenforeignmemory.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim-toolcore.h"
#include "shim-transport.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ul << PAGE_SHIFT)

struct xenforeignmemory_handle {
    Xentoolcore__Active_Handle tc_ah;
    struct shim_conn conn;
    pthread_mutex_t lock; /* guards ram_fd */
    int ram_fd;
};

struct xenforeignmemory_resource_handle {
    void *addr;
    size_t len;
};

#define HANDLE_OF(ah)                                                                              \
    ((xenforeignmemory_handle *)((char *)(ah)-offsetof(xenforeignmemory_handle, tc_ah)))

static int restrict_cb(Xentoolcore__Active_Handle *ah, domid_t domid)
{
    return xenforeignmemory_restrict(HANDLE_OF(ah), domid);
}

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    xenforeignmemory_handle *fmem = calloc(1, sizeof(*fmem));
    int err;

    if (!fmem)
        return NULL;
    fmem->ram_fd = -1;
    pthread_mutex_init(&fmem->lock, NULL);
    fmem->tc_ah.restrict_callback = restrict_cb;
    xentoolcore__register_active_handle(&fmem->tc_ah);
    if (shim_conn_open(&fmem->conn, WIRE_KIND_FMEM, true, NULL) < 0) {
        err = errno;
        xentoolcore__deregister_active_handle(&fmem->tc_ah);
        pthread_mutex_destroy(&fmem->lock);
        free(fmem);
        errno = err;
        return NULL;
    }
    return fmem;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (!fmem)
        return 0;
    xentoolcore__deregister_active_handle(&fmem->tc_ah);
    shim_conn_close(&fmem->conn);
    if (fmem->ram_fd >= 0)
        close(fmem->ram_fd);
    pthread_mutex_destroy(&fmem->lock);
    free(fmem);
    return 0;
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    uint64_t a = domid;

    return shim_simple(&fmem->conn, WIRE_OP_RESTRICT, 0, &a, 1, NULL) < 0 ? -1 : 0;
}

/* The RAM memfd, fetched once per handle. */
static int ram_get(xenforeignmemory_handle *fmem, uint32_t dom)
{
    struct wire_req req = {.op = WIRE_OP_FMEM_RAM, .domid = (uint16_t)dom};
    struct wire_rep rep;
    int fd = -1, rc;

    pthread_mutex_lock(&fmem->lock);
    rc = fmem->ram_fd;
    pthread_mutex_unlock(&fmem->lock);
    if (rc >= 0)
        return 0;
    rc = shim_call(&fmem->conn, &req, NULL, 0, &rep, NULL, 0, NULL, &fd);
    if (rc < 0)
        return -1;
    pthread_mutex_lock(&fmem->lock);
    if (fmem->ram_fd < 0 && fd >= 0) {
        fmem->ram_fd = fd;
        fd = -1;
    }
    rc = fmem->ram_fd;
    pthread_mutex_unlock(&fmem->lock);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        errno = EIO;
        return -1;
    }
    return 0;
}

/*
 * Where each frame lives in the RAM memfd (-1: not RAM), asked of the mock
 * on every map: its p2m changes with relocate_memory, and it checks the
 * domain and the handle's restriction.
 */
static int translate(xenforeignmemory_handle *fmem, uint32_t dom, const xen_pfn_t *arr,
                     size_t pages, int64_t *offs)
{
    uint64_t gfns[WIRE_MAX_TRANSLATE];

    if (dom > 0xffff) {
        errno = ESRCH;
        return -1;
    }
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < WIRE_MAX_TRANSLATE ? pages - done : WIRE_MAX_TRANSLATE;
        struct wire_req req = {.op = WIRE_OP_FMEM_TRANSLATE, .domid = (uint16_t)dom, .a = {n}};
        struct wire_rep rep;
        size_t rlen = 0;

        for (size_t i = 0; i < n; i++)
            gfns[i] = arr[done + i];
        if (shim_call(&fmem->conn, &req, gfns, n * sizeof(gfns[0]), &rep, offs + done,
                      n * sizeof(offs[0]), &rlen, NULL) < 0)
            return -1;
        if (rlen != n * sizeof(offs[0])) {
            errno = EIO;
            return -1;
        }
        done += n;
    }
    return 0;
}

/*
 * Frames Xen has paged out: the real library (linux.c, retry_paged) sleeps
 * usleep(100) and asks again for those frames until none is paged out. The
 * mock pages them back in after a number of look-ups; the bound here only
 * keeps a broken mock from hanging the caller, the frame then fails ENOENT.
 */
#define PAGED_RETRIES 100000

static int retry_paged(xenforeignmemory_handle *fmem, uint32_t dom, const xen_pfn_t *arr,
                       size_t pages, int64_t *offs)
{
    for (unsigned tries = 0; tries < PAGED_RETRIES; tries++) {
        xen_pfn_t gfns[WIRE_MAX_TRANSLATE];
        int64_t again[WIRE_MAX_TRANSLATE];
        size_t idx[WIRE_MAX_TRANSLATE], n = 0;

        for (size_t i = 0; i < pages && n < WIRE_MAX_TRANSLATE; i++) {
            if (offs[i] == WIRE_OFF_PAGED_OUT) {
                idx[n] = i;
                gfns[n++] = arr[i];
            }
        }
        if (!n)
            return 0;
        usleep(100);
        if (translate(fmem, dom, gfns, n, again) < 0)
            return -1;
        for (size_t j = 0; j < n; j++)
            offs[idx[j]] = again[j];
    }
    return 0;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                            int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    uint8_t *base;
    int64_t *offs = NULL;
    size_t i = 0;
    bool failed = false;
    int saved;

    if (pages == 0 || pages > (SIZE_MAX >> PAGE_SHIFT) / sizeof(int64_t)) {
        errno = EINVAL;
        return NULL;
    }
    /*
     * As the real library does with privcmd: claim the range first, at the
     * caller's address and with its flags (MAP_FIXED replaces whatever was
     * there, MAP_FIXED_NOREPLACE refuses to), then map the frames into it;
     * if that fails the range is given up (munmap), so a failed MAP_FIXED
     * call leaves a hole where the caller's mapping was.
     */
    base = mmap(addr, pages << PAGE_SHIFT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    if (!arr) {
        errno = EFAULT; /* privcmd cannot read the frame list */
        goto out;
    }
    offs = malloc(pages * sizeof(*offs));
    if (!offs || translate(fmem, dom, arr, pages, offs) < 0 ||
        retry_paged(fmem, dom, arr, pages, offs) < 0 || ram_get(fmem, dom) < 0)
        goto out;
    while (i < pages) {
        size_t run = 1;

        if (offs[i] < 0) {
            if (err)
                err[i] = offs[i] == WIRE_OFF_PAGED_OUT ? -ENOENT : -EINVAL;
            failed = true;
            i++;
            continue;
        }
        while (i + run < pages && offs[i + run] == offs[i] + (int64_t)(run << PAGE_SHIFT))
            run++;
        if (mmap(base + (i << PAGE_SHIFT), run << PAGE_SHIFT, prot, MAP_SHARED | MAP_FIXED,
                 fmem->ram_fd, offs[i]) == MAP_FAILED) {
            for (size_t j = 0; j < run; j++)
                if (err)
                    err[i + j] = -errno;
            failed = true;
        } else if (err) {
            for (size_t j = 0; j < run; j++)
                err[i + j] = 0;
        }
        i += run;
    }
    /* without err[], one bad frame fails the whole call */
    if (failed && !err) {
        errno = EINVAL;
        goto out;
    }
    free(offs);
    return base;
out:
    saved = errno;
    munmap(base, pages << PAGE_SHIFT);
    free(offs);
    errno = saved;
    return NULL;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    return munmap(addr, pages << PAGE_SHIFT);
}

xenforeignmemory_resource_handle *
xenforeignmemory_map_resource(xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
                              unsigned int id, unsigned long frame, unsigned long nr_frames,
                              void **paddr, int prot, int flags)
{
    struct wire_req req = {
        .op = WIRE_OP_FMEM_RESOURCE, .domid = domid, .a = {type, id, frame, nr_frames}};
    struct wire_rep rep;
    xenforeignmemory_resource_handle *fres;
    int fd, err;
    void *addr;

    if (!paddr || nr_frames == 0 || nr_frames > 64) {
        errno = EINVAL;
        return NULL;
    }
    if (shim_call(&fmem->conn, &req, NULL, 0, &rep, NULL, 0, NULL, &fd) < 0)
        return NULL;
    if (fd < 0) {
        errno = EIO;
        return NULL;
    }
    fres = calloc(1, sizeof(*fres));
    if (!fres) {
        close(fd);
        return NULL;
    }
    addr = mmap(*paddr, nr_frames << PAGE_SHIFT, prot, MAP_SHARED | flags, fd, (off_t)rep.r[0]);
    err = errno;
    close(fd);
    if (addr == MAP_FAILED) {
        free(fres);
        errno = err;
        return NULL;
    }
    fres->addr = addr;
    fres->len = nr_frames << PAGE_SHIFT;
    *paddr = addr;
    return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    int rc = 0;

    if (!fres)
        return 0;
    if (fres->addr)
        rc = munmap(fres->addr, fres->len);
    free(fres);
    return rc;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
                                   unsigned int id, size_t *size)
{
    struct wire_rep rep;
    uint64_t a[2] = {type, id};

    if (shim_simple(&fmem->conn, WIRE_OP_FMEM_RESOURCE_SIZE, domid, a, 2, &rep) < 0)
        return -1;
    *size = (size_t)rep.r[0] << PAGE_SHIFT;
    return 0;
}
