/*
 * What the fuzz targets share: a cursor over the fuzzer's input, a
 * recording hv_services, and the device set the request-level targets run
 * against (host bridge owning 0xCF8, xen-platform, a UART with a null
 * backend, virtio-blk on a small unlinked image) on a fresh io registry, PCI
 * bus and flat guest memory.
 *
 * Ownership: a struct fz_env owns everything it creates and is built anew
 * for every input, so one input never depends on the one before it. The
 * disk image is created once per process (an unlinked file reached through
 * /proc/self/fd); what the guest writes into it stays data, never state
 * that changes the code paths taken.
 */
#ifndef FUZZ_ENV_H
#define FUZZ_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gmem.h"
#include "io-range.h"
#include "fake-hv.h"
#include "hv-services.h"
#include "server.h"

/* An invariant the code under test promised: a violation is a finding, so crash loudly. */
#define FZ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_check_failed(#cond, __FILE__, __LINE__);                                            \
    } while (0)

void fz_check_failed(const char *what, const char *file, int line) __attribute__((noreturn));

/* Quiet logs (errors only) once per process: guest warnings would drown the fuzzer's output. */
void fz_log_quiet(void);

/* The input, consumed front to back; reads past the end yield zeroes. */
struct fz_in {
    const uint8_t *p;
    size_t left;
};

static inline void fz_in_init(struct fz_in *in, const uint8_t *data, size_t size)
{
    in->p = data;
    in->left = size;
}

static inline bool fz_in_empty(const struct fz_in *in)
{
    return in->left == 0;
}

/* Copies min(len, left) bytes and zero-fills the rest; returns the bytes taken. */
size_t fz_in_bytes(struct fz_in *in, void *buf, size_t len);
uint8_t fz_u8(struct fz_in *in);
uint16_t fz_u16(struct fz_in *in);
uint32_t fz_u32(struct fz_in *in);
uint64_t fz_u64(struct fz_in *in);

/*
 * Guest memory that counts live mappings over another, so a mapping a
 * device never gives back is a finding (`live` must be 0 at the end).
 * With a limit, a map beyond it fails with -ENOMEM, as the map cache does
 * when its mapping space is used up.
 */
struct fz_gmem_count {
    struct gmem gm; /* give &gm to the device */
    struct gmem *inner;
    long live;
    long limit; /* 0: none */
};

void fz_gmem_count_init(struct fz_gmem_count *c, struct gmem *inner);

/* Device set slots, in creation order. */
enum fz_dev {
    FZ_DEV_HOST_BRIDGE,
    FZ_DEV_XEN_PLATFORM,
    FZ_DEV_UART,
    FZ_DEV_VIRTIO_BLK,
    FZ_DEV_COUNT,
};

/* Guest RAM of the request-level targets: small, so a fresh copy per input is cheap. */
#define FZ_RAM_SIZE (256u * 1024)

/* Where fz_env_firmware() puts BARs, as hvmloader would. */
#define FZ_PIO_WINDOW  0xc000u
#define FZ_MMIO_WINDOW 0xe0000000u

struct fz_env {
    uint8_t *ram;
    struct gmem *gm;
    struct io_registry *io;
    struct pci_bus *bus;
    struct event_base *base;
    struct fake_hv hv; /* what the devices asked of the "hypervisor": nothing out of range */
    void *dev[FZ_DEV_COUNT];
    struct ioreq_stats stats;
};

/* 0 or -errno; on failure nothing is left allocated. */
int fz_env_new(struct fz_env *env);
void fz_env_free(struct fz_env *env);
/* Size every BAR, place them in the windows above and enable decode and bus mastering. */
void fz_env_firmware(struct fz_env *env);
/* Runs what is ready on the event loop (disk completions), without blocking. */
void fz_env_poll(struct fz_env *env);

/* A fixed disk image of this many bytes, created on first use; -errno if it cannot be. */
#define FZ_DISK_SIZE (64u * 1024)
int fz_disk_path(char *buf, size_t len);

#endif
