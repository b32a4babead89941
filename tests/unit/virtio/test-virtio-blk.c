/*
 * virtio-blk on a fake transport with flat guest memory: configuration
 * space, every request type against a real file (data checked in the file),
 * per-request errors from a fake backend, several queues, reset with
 * requests in flight, and hostile chains.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fake-blk.h"
#include "virtio-blk.h"
#include "vq-driver.h"

#define MEM_SIZE (4u << 20)
#define NQ       2
#define QSIZE    256
#define HDRS     0x10000 /* per-request header + status slots, 32 bytes each */
#define DATA     0x40000
#define IMG_SIZE (2u << 20)

struct fx {
    uint8_t *mem;
    struct gmem *gm;
    struct virtio_transport t;
    struct virtq vqs[NQ];
    struct vqd d[NQ];
    unsigned notified[NQ];
    unsigned needs_reset;
    unsigned reset_done;
    struct event_base *base;
    struct fake_blk fake;
    struct vblk *blk;
    char path[64];
    unsigned slot;
};

static struct virtq *t_queue(void *opaque, unsigned index)
{
    struct fx *f = opaque;
    return index < NQ ? &f->vqs[index] : NULL;
}

static void t_notify_queue(void *opaque, unsigned index)
{
    struct fx *f = opaque;
    f->notified[index]++;
}

static void t_notify_config(void *opaque)
{
}

static void t_needs_reset(void *opaque)
{
    struct fx *f = opaque;
    f->needs_reset++;
}

static void t_reset_done(void *opaque)
{
    struct fx *f = opaque;
    f->reset_done++;
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 13 + (off >> 9));
}

static struct fx *fx_new(bool use_file, bool readonly)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct vblk_params p = {.serial = "disk-serial-0001", .num_queues = NQ};
    struct blk_backend *be;
    char err[256];

    assert_non_null(f);
    f->mem = calloc(1, MEM_SIZE);
    assert_non_null(f->mem);
    f->gm = gmem_flat_new(f->mem, MEM_SIZE);
    f->base = event_base_new();
    p.base = f->base;
    if (use_file) {
        uint8_t *img = malloc(IMG_SIZE);
        int fd;

        snprintf(f->path, sizeof(f->path), "/tmp/test-vblk-XXXXXX");
        fd = mkstemp(f->path);
        assert_true(fd >= 0);
        for (unsigned i = 0; i < IMG_SIZE; i++)
            img[i] = pattern(i);
        assert_int_equal(write(fd, img, IMG_SIZE), IMG_SIZE);
        close(fd);
        free(img);
        assert_int_equal(blk_raw_open(&be, f->path, &(struct blk_raw_opts){.readonly = readonly},
                                      f->base, err, sizeof(err)),
                         0);
    } else {
        fake_blk_init(&f->fake, IMG_SIZE, readonly);
        be = &f->fake.be;
    }
    assert_int_equal(vblk_new(&f->blk, be, &p, err, sizeof(err)), 0);
    f->t = (struct virtio_transport){
        .queue = t_queue,
        .notify_queue = t_notify_queue,
        .notify_config = t_notify_config,
        .needs_reset = t_needs_reset,
        .reset_done = t_reset_done,
        .opaque = f,
    };
    vblk_vdev(f->blk)->transport = &f->t;
    for (unsigned q = 0; q < NQ; q++) {
        uint64_t base = 0x1000 + q * 0x4000;

        vqd_init(&f->d[q], f->mem, QSIZE, base, base + 0x1000, base + 0x2000);
        virtq_init(&f->vqs[q], q, f->gm);
        assert_int_equal(virtq_start(&f->vqs[q], QSIZE, base, base + 0x1000, base + 0x2000, 0), 0);
    }
    /* The driver accepts everything offered. */
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    assert_int_equal(vdev->ops->set_features(vdev, vdev->ops->features(vdev)), 0);
    return f;
}

static void fx_free(struct fx *f)
{
    vblk_free(f->blk);
    for (unsigned q = 0; q < NQ; q++)
        virtq_stop(&f->vqs[q]);
    gmem_free(f->gm);
    event_base_free(f->base);
    if (f->path[0])
        unlink(f->path);
    free(f->mem);
    free(f);
}

static int setup_file(void **state)
{
    *state = fx_new(true, false);
    return 0;
}

static int setup_file_ro(void **state)
{
    *state = fx_new(true, true);
    return 0;
}

static int setup_fake(void **state)
{
    *state = fx_new(false, false);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* Header slot for the next request; its status byte is at +16 (preset to 0xee). */
static uint64_t next_hdr(struct fx *f, uint32_t type, uint64_t sector)
{
    uint64_t h = HDRS + 32u * f->slot++;

    put32(f->mem + h, type);
    put32(f->mem + h + 4, 0);
    put64(f->mem + h + 8, sector);
    f->mem[h + 16] = 0xee;
    return h;
}

/* header, one data buffer (if len), status: returns the header gpa. */
static uint64_t submit(struct fx *f, unsigned q, uint32_t type, uint64_t sector, uint64_t data,
                       uint32_t len, bool data_writable)
{
    uint64_t h = next_hdr(f, type, sector);
    struct vqd_buf bufs[3] = {{h, 16, false}};
    unsigned n = 1;

    if (len)
        bufs[n++] = (struct vqd_buf){data, len, data_writable};
    bufs[n++] = (struct vqd_buf){h + 16, 1, true};
    vqd_publish(&f->d[q], vqd_add_chain(&f->d[q], bufs, n));
    return h;
}

static void kick(struct fx *f, unsigned q)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    vdev->ops->queue_notify(vdev, q);
}

static void wait_used(struct fx *f, unsigned q, uint16_t n)
{
    while (vqd_used_idx(&f->d[q]) < n)
        assert_int_equal(event_base_loop(f->base, EVLOOP_ONCE), 0);
    assert_int_equal(vqd_used_idx(&f->d[q]), n);
}

static void assert_used(struct fx *f, unsigned q, uint16_t slot, uint32_t len)
{
    uint32_t id, l;

    vqd_used_elem(&f->d[q], slot, &id, &l);
    assert_int_equal(l, len);
}

static void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
    int fd = open(f->path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static uint32_t cfg(struct fx *f, unsigned off, unsigned size)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    return vdev->ops->cfg_read(vdev, off, size);
}

static void test_identity_and_config(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    assert_string_equal(vdev->ops->name, "virtio-blk");
    assert_int_equal(vdev->ops->device_id, 2);
    assert_int_equal(vdev->ops->num_queues(vdev), NQ);
    assert_int_equal(vdev->ops->queue_max(vdev), 256);
    assert_int_equal(vdev->ops->cfg_size(vdev), 60);
    /* SIZE_MAX SEG_MAX BLK_SIZE FLUSH MQ DISCARD WRITE_ZEROES */
    assert_int_equal(vdev->ops->features(vdev), 0x7246);

    assert_int_equal(cfg(f, 0, 4), IMG_SIZE / 512);
    assert_int_equal(cfg(f, 4, 4), 0);
    assert_int_equal(cfg(f, 8, 4), 512 * 1024);
    assert_int_equal(cfg(f, 12, 4), 254);
    assert_int_equal(cfg(f, 16, 4), 0);
    assert_int_equal(cfg(f, 20, 4), 512);
    assert_int_equal(cfg(f, 34, 2), NQ);
    assert_int_equal(cfg(f, 36, 4), 1u << 21);
    assert_int_equal(cfg(f, 40, 4), 1);
    assert_int_equal(cfg(f, 44, 4), 8);
    assert_int_equal(cfg(f, 48, 4), 1u << 21);
    assert_int_equal(cfg(f, 52, 4), 1);
    assert_int_equal(cfg(f, 56, 1), 1);
    /* Byte-wise reads see the same little-endian layout. */
    assert_int_equal(cfg(f, 1, 1), (IMG_SIZE / 512) >> 8);
    assert_int_equal(cfg(f, 35, 1), 0);
    /* Outside the structure: zero, never past the end. */
    assert_int_equal(cfg(f, 58, 4), 0);
    assert_int_equal(cfg(f, 4096, 4), 0);
    /* Writes change nothing. */
    vdev->ops->cfg_write(vdev, 0, 4, 0x1234);
    vdev->ops->cfg_write(vdev, 32, 1, 1);
    assert_int_equal(cfg(f, 0, 4), IMG_SIZE / 512);
    assert_int_equal(cfg(f, 32, 1), 0);
}

static void test_readonly_config(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    /* SIZE_MAX SEG_MAX RO BLK_SIZE FLUSH MQ */
    assert_int_equal(vdev->ops->features(vdev), 0x1266);
    assert_int_equal(cfg(f, 36, 4), 0);
    assert_int_equal(cfg(f, 56, 1), 0);
}

static void test_read_write_file(void **state)
{
    struct fx *f = *state;
    uint8_t file[4096];
    uint64_t h;

    /* Write 4 KiB at sector 8, from guest memory. */
    for (unsigned i = 0; i < 4096; i++)
        f->mem[DATA + i] = (uint8_t)(i ^ 0x3c);
    h = submit(f, 0, VIRTIO_BLK_T_OUT, 8, DATA, 4096, false);
    kick(f, 0);
    wait_used(f, 0, 1);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_OK);
    assert_used(f, 0, 0, 1);
    assert_int_equal(f->notified[0], 1);
    file_read(f, 8 * 512, file, sizeof(file));
    assert_memory_equal(file, f->mem + DATA, 4096);

    /* Read 8 KiB from sector 4 (spans old and new data) into another buffer. */
    h = submit(f, 0, VIRTIO_BLK_T_IN, 4, DATA + 0x10000, 8192, true);
    kick(f, 0);
    wait_used(f, 0, 2);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_OK);
    assert_used(f, 0, 1, 8192 + 1);
    for (unsigned i = 0; i < 2048; i++)
        assert_int_equal(f->mem[DATA + 0x10000 + i], pattern(4 * 512 + i));
    assert_memory_equal(f->mem + DATA + 0x10000 + 2048, f->mem + DATA, 4096);
    for (unsigned i = 6144; i < 8192; i++)
        assert_int_equal(f->mem[DATA + 0x10000 + i], pattern(4 * 512 + i));

    /* Last sector of the disk. */
    h = submit(f, 0, VIRTIO_BLK_T_IN, IMG_SIZE / 512 - 1, DATA, 512, true);
    kick(f, 0);
    wait_used(f, 0, 3);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[DATA + 511], pattern(IMG_SIZE - 1));

    struct vblk_stats st;
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.write_bytes, 4096);
    assert_int_equal(st.read_bytes, 8192 + 512);
    assert_int_equal(st.ioerr, 0);
}

static void test_status_inside_data_segment(void **state)
{
    struct fx *f = *state;
    uint64_t h = next_hdr(f, VIRTIO_BLK_T_IN, 0);
    /* Data and status share one writable buffer: the status is its last byte. */
    const struct vqd_buf bufs[] = {{h, 16, false}, {DATA, 513, true}};

    f->mem[DATA + 512] = 0xee;
    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], bufs, 2));
    kick(f, 0);
    wait_used(f, 0, 1);
    assert_int_equal(f->mem[DATA + 512], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[DATA + 511], pattern(511));
    assert_used(f, 0, 0, 513);
}

static void test_split_header_and_data(void **state)
{
    struct fx *f = *state;
    uint64_t h = next_hdr(f, VIRTIO_BLK_T_OUT, 2);
    uint8_t file[1024];
    /* The header split over two buffers, data over three. */
    const struct vqd_buf bufs[] = {
        {h, 10, false},           {h + 10, 6, false},       {DATA, 100, false},
        {DATA + 100, 412, false}, {DATA + 512, 512, false}, {h + 16, 1, true},
    };

    for (unsigned i = 0; i < 1024; i++)
        f->mem[DATA + i] = (uint8_t)(i * 3);
    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], bufs, 6));
    kick(f, 0);
    wait_used(f, 0, 1);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_OK);
    file_read(f, 1024, file, sizeof(file));
    assert_memory_equal(file, f->mem + DATA, 1024);
}

static void test_flush_get_id(void **state)
{
    struct fx *f = *state;
    uint64_t h1, h2, h3;

    h1 = submit(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
    memset(f->mem + DATA, 0xff, 32);
    h2 = submit(f, 0, VIRTIO_BLK_T_GET_ID, 0, DATA, 20, true);
    h3 = submit(f, 0, VIRTIO_BLK_T_GET_ID, 0, DATA + 32, 4, true);
    kick(f, 0);
    wait_used(f, 0, 3);
    assert_int_equal(f->mem[h1 + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[h2 + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[h3 + 16], VIRTIO_BLK_S_OK);
    /* GET_ID completes at once; FLUSH goes through the backend and comes last. */
    assert_used(f, 0, 0, 21);
    assert_used(f, 0, 1, 5);
    assert_used(f, 0, 2, 1);
    assert_memory_equal(f->mem + DATA, "disk-serial-0001\0\0\0\0", 20);
    assert_memory_equal(f->mem + DATA + 32, "disk", 4);
}

static void test_discard_write_zeroes(void **state)
{
    struct fx *f = *state;
    uint8_t file[8192], zero[8192] = {0};
    uint64_t h1, h2;

    put64(f->mem + DATA, 16);     /* sector */
    put32(f->mem + DATA + 8, 16); /* num_sectors */
    put32(f->mem + DATA + 12, 0); /* flags */
    put64(f->mem + DATA + 16, 64);
    put32(f->mem + DATA + 24, 8);
    put32(f->mem + DATA + 28, 0);
    h1 = submit(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA, 16, false);
    h2 = submit(f, 0, VIRTIO_BLK_T_DISCARD, 0, DATA + 16, 16, false);
    kick(f, 0);
    wait_used(f, 0, 2);
    assert_int_equal(f->mem[h1 + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[h2 + 16], VIRTIO_BLK_S_OK);
    file_read(f, 16 * 512, file, sizeof(file));
    assert_memory_equal(file, zero, sizeof(file));
    file_read(f, 16 * 512 - 1, file, 1);
    assert_int_equal(file[0], pattern(16 * 512 - 1));
    file_read(f, 32 * 512, file, 1);
    assert_int_equal(file[0], pattern(32 * 512));
}

/* Requests that are wrong in content: each gets its own status, the device goes on. */
static void test_bad_requests(void **state)
{
    struct fx *f = *state;
    uint64_t h[12];
    uint8_t file[512];
    unsigned n = 0;

    /* Past the end, straddling the end, unaligned length. */
    h[n++] = submit(f, 0, VIRTIO_BLK_T_IN, IMG_SIZE / 512, DATA, 512, true);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_OUT, IMG_SIZE / 512 - 1, DATA, 1024, false);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 100, true);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_IN, UINT64_MAX, DATA, 512, true);
    /* Data the wrong way round for the type. */
    h[n++] = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, false);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_OUT, 0, DATA, 512, true);
    /* Unknown type. */
    h[n++] = submit(f, 0, 99, 0, 0, 0, false);
    /* Discard with the unmap flag, with two segments, with an unknown flag; write zeroes past the
     * end. */
    put64(f->mem + DATA + 0x1000, 0);
    put32(f->mem + DATA + 0x1008, 1);
    put32(f->mem + DATA + 0x100c, VIRTIO_BLK_DWZ_F_UNMAP);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_DISCARD, 0, DATA + 0x1000, 16, false);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_DISCARD, 0, DATA + 0x1000, 32, false);
    put32(f->mem + DATA + 0x101c, 0x80);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x1010, 16, false);
    put64(f->mem + DATA + 0x1020, IMG_SIZE / 512 - 1);
    put32(f->mem + DATA + 0x1028, 2);
    put32(f->mem + DATA + 0x102c, 0);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x1020, 16, false);
    h[n++] = submit(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 0x1020, 12, false);
    kick(f, 0);
    wait_used(f, 0, (uint16_t)n);

    const uint8_t expect[] = {
        VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_IOERR,
        VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP,
        VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_S_IOERR,  VIRTIO_BLK_S_IOERR,
    };
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(f->mem[h[i] + 16], expect[i]);
        assert_used(f, 0, (uint16_t)i, 1);
    }
    assert_int_equal(f->needs_reset, 0);
    file_read(f, IMG_SIZE - 512, file, 512);
    assert_int_equal(file[0], pattern(IMG_SIZE - 512));

    struct vblk_stats st;
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.ioerr, 8);
    assert_int_equal(st.unsupp, 4);

    /* The device still works. */
    uint64_t ok = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 0);
    wait_used(f, 0, (uint16_t)(n + 1));
    assert_int_equal(f->mem[ok + 16], VIRTIO_BLK_S_OK);
}

static void test_short_header(void **state)
{
    struct fx *f = *state;
    uint64_t h = next_hdr(f, VIRTIO_BLK_T_IN, 0);
    const struct vqd_buf bufs[] = {{h, 8, false}, {h + 16, 1, true}};

    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], bufs, 2));
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->mem[h + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->needs_reset, 0);
}

static void test_readonly_writes(void **state)
{
    struct fx *f = *state;
    uint64_t h1, h2, h3;
    uint8_t file[512];

    memset(f->mem + DATA, 0x77, 512);
    put64(f->mem + DATA + 512, 0);
    put32(f->mem + DATA + 520, 1);
    put32(f->mem + DATA + 524, 0);
    h1 = submit(f, 0, VIRTIO_BLK_T_OUT, 0, DATA, 512, false);
    h2 = submit(f, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, DATA + 512, 16, false);
    h3 = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA + 1024, 512, true);
    kick(f, 0);
    wait_used(f, 0, 3);
    assert_int_equal(f->mem[h1 + 16], VIRTIO_BLK_S_IOERR);
    /* Not offered on a read-only disk, so not negotiated. */
    assert_int_equal(f->mem[h2 + 16], VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(f->mem[h3 + 16], VIRTIO_BLK_S_OK);
    file_read(f, 0, file, 512);
    assert_int_equal(file[0], pattern(0));
}

static void test_no_status_byte(void **state)
{
    struct fx *f = *state;
    uint64_t h = next_hdr(f, VIRTIO_BLK_T_IN, 0);
    /* Only readable buffers (a zero-length writable one does not count). */
    const struct vqd_buf bufs[] = {{h, 16, false}, {DATA, 512, false}, {h + 16, 0, true}};
    uint32_t id, len;

    vqd_publish(&f->d[0], vqd_add_chain(&f->d[0], bufs, 3));
    kick(f, 0);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    vqd_used_elem(&f->d[0], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    assert_int_equal(f->mem[h + 16], 0xee);
    /* Nothing more is taken until the device is reset. */
    submit(f, 1, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 1);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
    assert_int_equal(f->vqs[1].inflight, 0);
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    vdev->ops->reset(vdev);
    kick(f, 1);
    wait_used(f, 1, 1);
}

static void test_malformed_chain(void **state)
{
    struct fx *f = *state;
    uint64_t h = next_hdr(f, VIRTIO_BLK_T_IN, 0);

    /* A loop: reported for reset, the chain returned, nothing else done. */
    vqd_set_desc(&f->d[0], 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
    vqd_set_desc(&f->d[0], 1, DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
    vqd_publish(&f->d[0], 0);
    kick(f, 0);
    assert_int_equal(f->needs_reset, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->notified[0], 1);
    assert_true(virtq_broken(&f->vqs[0]));
    /* Further notifications on the broken queue do nothing; other queues still work. */
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    uint64_t ok = submit(f, 1, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 1);
    wait_used(f, 1, 1);
    assert_int_equal(f->mem[ok + 16], VIRTIO_BLK_S_OK);
}

static void test_backend_errors_per_request(void **state)
{
    struct fx *f = *state;
    uint64_t h0, h1, h2;

    h0 = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    h1 = submit(f, 0, VIRTIO_BLK_T_OUT, 1, DATA + 512, 512, false);
    h2 = submit(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 3);
    assert_int_equal(f->fake.ops[0].op, FAKE_READ);
    assert_int_equal(f->fake.ops[0].offset, 0);
    assert_int_equal(f->fake.ops[0].len, 512);
    assert_ptr_equal(f->fake.ops[0].iov[0].iov_base, f->mem + DATA);
    assert_int_equal(f->fake.ops[1].op, FAKE_WRITE);
    assert_int_equal(f->fake.ops[1].offset, 512);
    assert_int_equal(f->fake.ops[2].op, FAKE_FLUSH);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);

    /* Out of order, one failing. */
    fake_blk_complete(&f->fake, 1, -EIO);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->mem[h1 + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->notified[0], 1);
    fake_blk_complete(&f->fake, 2, -ENOSPC);
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 3);
    assert_int_equal(f->mem[h2 + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->mem[h0 + 16], VIRTIO_BLK_S_OK);
    assert_int_equal(f->mem[DATA], 0x5a);
    assert_used(f, 0, 0, 1);
    assert_used(f, 0, 1, 1);
    assert_used(f, 0, 2, 513);
    assert_int_equal(f->needs_reset, 0);

    /* A backend that refuses a submission: IOERR at once. */
    f->fake.submit_ret = -ENOMEM;
    uint64_t h3 = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 4);
    assert_int_equal(f->mem[h3 + 16], VIRTIO_BLK_S_IOERR);
}

/* Features the driver accepts in place of everything offered. */
static void ack_features(struct fx *f, uint64_t clear)
{
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    assert_int_equal(vdev->ops->set_features(vdev, vdev->ops->features(vdev) & ~clear), 0);
}

/*
 * A driver that did not accept FLUSH gets writethrough: a write (or write
 * zeroes) completes only after a flush the device issued itself, and a
 * failing flush fails the write. With FLUSH accepted, no flush is added.
 */
static void test_writethrough_without_flush_feature(void **state)
{
    struct fx *f = *state;
    uint64_t h0, h1, h2;

    ack_features(f, VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    h0 = submit(f, 0, VIRTIO_BLK_T_OUT, 2, DATA, 512, false);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 1);
    assert_int_equal(f->fake.ops[0].op, FAKE_WRITE);
    fake_blk_complete(&f->fake, 0, 0);
    /* Written, not yet stable: the device flushes before the guest hears of it. */
    assert_int_equal(f->fake.nr_ops, 2);
    assert_int_equal(f->fake.ops[1].op, FAKE_FLUSH);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    fake_blk_complete(&f->fake, 1, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->mem[h0 + 16], VIRTIO_BLK_S_OK);

    /* The flush fails: so does the write. */
    h1 = submit(f, 0, VIRTIO_BLK_T_OUT, 3, DATA, 512, false);
    kick(f, 0);
    fake_blk_complete(&f->fake, 2, 0);
    fake_blk_complete(&f->fake, 3, -EIO);
    assert_int_equal(vqd_used_idx(&f->d[0]), 2);
    assert_int_equal(f->mem[h1 + 16], VIRTIO_BLK_S_IOERR);

    /* A failed write is not flushed. */
    h2 = submit(f, 0, VIRTIO_BLK_T_OUT, 4, DATA, 512, false);
    kick(f, 0);
    fake_blk_complete(&f->fake, 4, -ENOSPC);
    assert_int_equal(f->fake.nr_ops, 5);
    assert_int_equal(f->mem[h2 + 16], VIRTIO_BLK_S_IOERR);
    /* Reads need nothing. */
    submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 0);
    fake_blk_complete(&f->fake, 5, 0);
    assert_int_equal(f->fake.nr_ops, 6);
    assert_int_equal(vqd_used_idx(&f->d[0]), 4);
}

static void test_writeback_with_flush_feature(void **state)
{
    struct fx *f = *state;

    submit(f, 0, VIRTIO_BLK_T_OUT, 2, DATA, 512, false);
    kick(f, 0);
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(f->fake.nr_ops, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
}

static void test_interrupt_suppressed(void **state)
{
    struct fx *f = *state;

    /* The driver masks interrupts: completions are returned without a notification. */
    vqd_set_avail_flags(&f->d[0], VIRTQ_AVAIL_F_NO_INTERRUPT);
    submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 0);
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->notified[0], 0);
    vqd_set_avail_flags(&f->d[0], 0);
    submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    kick(f, 0);
    fake_blk_complete(&f->fake, 1, 0);
    assert_int_equal(f->notified[0], 1);
}

/*
 * Requests that complete in one backend pass are published together: one
 * used idx store and one notification for all 16, however they are ordered,
 * as a driver's interrupt handler then takes them in one go and refills the
 * ring with one kick. A pass of one publishes its one at once.
 */
static void test_completions_published_per_pass(void **state)
{
    struct fx *f = *state;
    unsigned order[16];
    uint64_t h[16];

    for (unsigned i = 0; i < 16; i++)
        h[i] = submit(f, 0, VIRTIO_BLK_T_IN, 2 * i, DATA + 512u * i, 512, true); /* apart */
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 16);
    assert_int_equal(f->vqs[0].flushes, 0);

    /* One alone first: published at the end of its own pass. */
    fake_blk_complete(&f->fake, 7, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 1);
    assert_int_equal(f->vqs[0].flushes, 1);
    assert_int_equal(f->notified[0], 1);

    /* The other 15 in one pass, newest first. */
    for (unsigned k = 0, i = 16; i-- > 0;)
        if (i != 7)
            order[k++] = i;
    fake_blk_complete_batch(&f->fake, order, 15, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 16);
    assert_int_equal(f->vqs[0].flushes, 2);
    assert_int_equal(f->notified[0], 2);
    assert_int_equal(f->fake.batches, 2);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(f->mem[h[i] + 16], VIRTIO_BLK_S_OK);
    /* In the order they completed, each with its data and status byte. */
    for (unsigned k = 0; k < 15; k++)
        assert_used(f, 0, (uint16_t)(1 + k), 513);
    assert_int_equal(f->vqs[0].inflight, 0);
}

/*
 * Several queues finishing in one pass: each queue gets its own single
 * publication and notification; a queue with nothing finished gets none.
 */
static void test_pass_over_queues(void **state)
{
    struct fx *f = *state;
    unsigned all[6] = {0, 1, 2, 3, 4, 5};

    for (unsigned i = 0; i < 6; i++)
        submit(f, 0, VIRTIO_BLK_T_IN, 2 * i, DATA + 512u * i, 512, true);
    for (unsigned i = 0; i < 4; i++)
        submit(f, 1, VIRTIO_BLK_T_OUT, 2 * i, DATA + 512u * i, 512, false);
    kick(f, 0);
    kick(f, 1);
    assert_int_equal(f->fake.nr_ops, 10);
    fake_blk_complete_batch(&f->fake, all, 6, 0); /* queue 0's only */
    assert_int_equal(vqd_used_idx(&f->d[0]), 6);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
    assert_int_equal(f->vqs[0].flushes, 1);
    assert_int_equal(f->vqs[1].flushes, 0);
    assert_int_equal(f->notified[0], 1);
    assert_int_equal(f->notified[1], 0);
    unsigned rest[4] = {9, 6, 8, 7};
    fake_blk_complete_batch(&f->fake, rest, 4, -EIO);
    assert_int_equal(vqd_used_idx(&f->d[1]), 4);
    assert_int_equal(f->vqs[1].flushes, 1);
    assert_int_equal(f->notified[1], 1);
    assert_int_equal(f->vqs[0].flushes, 1);
    struct vblk_stats st;
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.ioerr, 4);
}

/*
 * With EVENT_IDX, one pass asks once and honours used_event over the whole
 * batch: a driver that wants to hear only after the 12th completion hears
 * nothing of a pass that ends at the 8th, and once from the pass that
 * crosses it.
 */
static void test_batch_event_idx(void **state)
{
    struct fx *f = *state;
    unsigned first[8], second[8];

    virtq_stop(&f->vqs[0]);
    vqd_init(&f->d[0], f->mem, QSIZE, 0x1000, 0x2000, 0x3000);
    assert_int_equal(virtq_start(&f->vqs[0], QSIZE, 0x1000, 0x2000, 0x3000, VIRTQ_FEAT_EVENT_IDX),
                     0);
    for (unsigned i = 0; i < 16; i++)
        submit(f, 0, VIRTIO_BLK_T_IN, 2 * i, DATA + 512u * i, 512, true);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 16);
    for (unsigned i = 0; i < 8; i++) {
        first[i] = i;
        second[i] = 8 + i;
    }
    /* The first decision notifies (nothing signalled yet); then used_event rules. */
    vqd_set_used_event(&f->d[0], 0);
    fake_blk_complete_batch(&f->fake, first, 8, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 8);
    assert_int_equal(f->notified[0], 1);
    vqd_set_used_event(&f->d[0], 11); /* notify when idx passes 11: at 12 */
    unsigned a[2] = {8, 9};
    fake_blk_complete_batch(&f->fake, a, 2, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 10);
    assert_int_equal(f->notified[0], 1);
    fake_blk_complete_batch(&f->fake, second + 2, 6, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 16);
    assert_int_equal(f->notified[0], 2);
    assert_int_equal(f->vqs[0].flushes, 3);
}

static void test_multiqueue_in_flight(void **state)
{
    struct fx *f = *state;

    /* 40 requests over two queues, all in flight at once. */
    for (unsigned i = 0; i < 40; i++)
        submit(f, i % 2, VIRTIO_BLK_T_IN, i, DATA + 512u * i, 512, true);
    kick(f, 0);
    kick(f, 1);
    assert_int_equal(f->fake.nr_ops, 40);
    assert_int_equal(f->vqs[0].inflight, 20);
    assert_int_equal(f->vqs[1].inflight, 20);
    /* Queue 0 (even sectors) was processed first, then queue 1 (odd ones). */
    for (unsigned k = 0; k < 20; k++) {
        assert_int_equal(f->fake.ops[k].offset, 512u * (2 * k));
        assert_int_equal(f->fake.ops[20 + k].offset, 512u * (2 * k + 1));
    }
    for (unsigned i = 40; i-- > 0;)
        fake_blk_complete(&f->fake, i, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 20);
    assert_int_equal(vqd_used_idx(&f->d[1]), 20);
    assert_int_equal(f->notified[0], 20);
    assert_int_equal(f->notified[1], 20);
}

/*
 * Reset never waits for the backend: it answers PENDING while requests are
 * in flight, discards their completions (no status byte, no used entry, no
 * notification) and reports reset_done once, after the last.
 */
static void test_reset_in_flight(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vblk_vdev(f->blk);
    uint64_t h0, h1;

    h0 = submit(f, 0, VIRTIO_BLK_T_IN, 0, DATA, 512, true);
    h1 = submit(f, 1, VIRTIO_BLK_T_OUT, 0, DATA, 512, false);
    kick(f, 0);
    kick(f, 1);
    assert_int_equal(fake_blk_pending(&f->fake), 2);
    assert_int_equal(vdev->ops->reset(vdev), VIRTIO_RESET_PENDING);
    assert_int_equal(fake_blk_pending(&f->fake), 2);
    /* Nothing is taken meanwhile. */
    submit(f, 0, VIRTIO_BLK_T_IN, 8, DATA + 512, 512, true);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 2);
    /* A second reset while the first is pending changes nothing. */
    assert_int_equal(vdev->ops->reset(vdev), VIRTIO_RESET_PENDING);
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(f->reset_done, 0);
    fake_blk_complete(&f->fake, 1, -EIO);
    assert_int_equal(f->reset_done, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_int_equal(vqd_used_idx(&f->d[1]), 0);
    assert_int_equal(f->notified[0] + f->notified[1], 0);
    assert_int_equal(f->mem[h0 + 16], 0xee);
    assert_int_equal(f->mem[h1 + 16], 0xee);
    /* Idle: done at once, no callback. */
    assert_int_equal(vdev->ops->reset(vdev), VIRTIO_RESET_DONE);
    assert_int_equal(f->reset_done, 1);
}

/*
 * Reads (or writes) taken in one pass, each starting where the one before
 * ended, reach the backend as one operation over all their buffers, in
 * order; its result is every request's. A request that does not continue
 * the run (a gap, the other direction) starts a new one.
 */
static void test_adjacent_requests_merge(void **state)
{
    struct fx *f = *state;
    uint64_t h[7];
    struct vblk_stats st;

    for (unsigned i = 0; i < 4; i++) /* sectors 8..11, buffers 4 KiB apart */
        h[i] = submit(f, 0, VIRTIO_BLK_T_IN, 8 + i, DATA + 0x1000u * i, 512, true);
    h[4] = submit(f, 0, VIRTIO_BLK_T_IN, 20, DATA + 0x8000, 512, true);    /* a gap */
    h[5] = submit(f, 0, VIRTIO_BLK_T_OUT, 21, DATA + 0x9000, 1024, false); /* a write */
    h[6] = submit(f, 0, VIRTIO_BLK_T_OUT, 23, DATA + 0xa000, 512, false);  /* continues it */
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 3);
    assert_int_equal(f->fake.ops[0].op, FAKE_READ);
    assert_int_equal(f->fake.ops[0].offset, 8 * 512);
    assert_int_equal(f->fake.ops[0].len, 2048);
    assert_int_equal(f->fake.ops[0].iovcnt, 4);
    for (unsigned i = 0; i < 4; i++) {
        assert_ptr_equal(f->fake.ops[0].iov[i].iov_base, f->mem + DATA + 0x1000u * i);
        assert_int_equal(f->fake.ops[0].iov[i].iov_len, 512);
    }
    assert_int_equal(f->fake.ops[1].op, FAKE_READ);
    assert_int_equal(f->fake.ops[1].offset, 20 * 512);
    assert_int_equal(f->fake.ops[1].iovcnt, 1);
    assert_int_equal(f->fake.ops[2].op, FAKE_WRITE);
    assert_int_equal(f->fake.ops[2].offset, 21 * 512);
    assert_int_equal(f->fake.ops[2].len, 1536);
    assert_int_equal(f->fake.ops[2].iovcnt, 2);
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.merged, 4);
    assert_int_equal(st.reads, 5);
    assert_int_equal(st.writes, 2);

    /* The run of four completes together, each with its own used entry. */
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 4);
    assert_int_equal(f->notified[0], 1);
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(f->mem[h[i] + 16], VIRTIO_BLK_S_OK);
        assert_int_equal(f->mem[DATA + 0x1000u * i], 0x5a);
        assert_used(f, 0, (uint16_t)i, 513);
    }
    /* A failed run fails each of its requests, and counts no bytes. */
    fake_blk_complete(&f->fake, 2, -EIO);
    assert_int_equal(vqd_used_idx(&f->d[0]), 6);
    assert_int_equal(f->mem[h[5] + 16], VIRTIO_BLK_S_IOERR);
    assert_int_equal(f->mem[h[6] + 16], VIRTIO_BLK_S_IOERR);
    fake_blk_complete(&f->fake, 1, 0);
    assert_int_equal(f->mem[h[4] + 16], VIRTIO_BLK_S_OK);
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.read_bytes, 2560);
    assert_int_equal(st.write_bytes, 0);
    assert_int_equal(st.ioerr, 2);
    assert_int_equal(f->vqs[0].inflight, 0);
}

/*
 * A run ends before any other request type, so the backend sees requests in
 * the order the driver made them available (a write, a flush, a write is
 * three operations), and at 512 KiB: five adjacent 128 KiB reads are a run
 * of four and one alone. A backend refusing a run fails each request at once.
 */
static void test_run_bounds(void **state)
{
    struct fx *f = *state;
    uint64_t h[3];
    struct vblk_stats st;

    submit(f, 0, VIRTIO_BLK_T_OUT, 0, DATA, 512, false);
    submit(f, 0, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
    submit(f, 0, VIRTIO_BLK_T_OUT, 1, DATA, 512, false);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 3);
    assert_int_equal(f->fake.ops[0].op, FAKE_WRITE);
    assert_int_equal(f->fake.ops[1].op, FAKE_FLUSH);
    assert_int_equal(f->fake.ops[2].op, FAKE_WRITE);
    assert_int_equal(f->fake.ops[2].offset, 512);
    fake_blk_complete_pending(&f->fake, 0, 0);
    fake_blk_complete_pending(&f->fake, 0, 0);
    fake_blk_complete_pending(&f->fake, 0, 0);

    for (unsigned i = 0; i < 5; i++)
        submit(f, 0, VIRTIO_BLK_T_IN, 256u * i, DATA, 128u << 10, true);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 5);
    assert_int_equal(f->fake.ops[3].offset, 0);
    assert_int_equal(f->fake.ops[3].len, 512u << 10);
    assert_int_equal(f->fake.ops[4].offset, 512u << 10);
    assert_int_equal(f->fake.ops[4].len, 128u << 10);
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.merged, 3);
    fake_blk_complete_pending(&f->fake, 0, 0);
    fake_blk_complete_pending(&f->fake, 0, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 8);

    f->fake.submit_ret = -ENOMEM;
    for (unsigned i = 0; i < 3; i++)
        h[i] = submit(f, 0, VIRTIO_BLK_T_IN, 100 + i, DATA + 512u * i, 512, true);
    kick(f, 0);
    assert_int_equal(vqd_used_idx(&f->d[0]), 11);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->mem[h[i] + 16], VIRTIO_BLK_S_IOERR);
        assert_used(f, 0, (uint16_t)(8 + i), 1);
    }
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.merged, 3);
    assert_int_equal(f->vqs[0].inflight, 0);
}

/* A reset discards a run in flight like any request, and is done after it. */
static void test_reset_with_run_in_flight(void **state)
{
    struct fx *f = *state;
    struct virtio_dev *vdev = vblk_vdev(f->blk);

    for (unsigned i = 0; i < 3; i++)
        submit(f, 0, VIRTIO_BLK_T_OUT, i, DATA + 512u * i, 512, false);
    kick(f, 0);
    assert_int_equal(f->fake.nr_ops, 1);
    assert_int_equal(vdev->ops->reset(vdev), VIRTIO_RESET_PENDING);
    fake_blk_complete(&f->fake, 0, 0);
    assert_int_equal(f->reset_done, 1);
    assert_int_equal(vqd_used_idx(&f->d[0]), 0);
    assert_int_equal(f->notified[0], 0);
}

/* Merged reads and writes on a real image move each request's own bytes. */
static void test_merged_data_on_file(void **state)
{
    struct fx *f = *state;
    uint8_t file[3 * 4096];
    int fd;

    for (unsigned i = 0; i < 3; i++) /* buffers in reverse order of their sectors */
        memset(f->mem + DATA + 0x10000u * (2 - i), 0x11 * (i + 1), 4096);
    for (unsigned i = 0; i < 3; i++)
        submit(f, 0, VIRTIO_BLK_T_OUT, 64 + 8 * i, DATA + 0x10000u * (2 - i), 4096, false);
    kick(f, 0);
    wait_used(f, 0, 3);
    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, file, sizeof(file), 64 * 512), sizeof(file));
    close(fd);
    for (unsigned i = 0; i < 3; i++)
        for (unsigned b = 0; b < 4096; b++)
            assert_int_equal(file[4096 * i + b], 0x11 * (i + 1));

    for (unsigned i = 0; i < 3; i++)
        submit(f, 0, VIRTIO_BLK_T_IN, 63 + 8 * i, DATA + 0x80000 + 0x10000u * i, 4096, true);
    kick(f, 0);
    wait_used(f, 0, 6);
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *got = f->mem + DATA + 0x80000 + 0x10000u * i;
        /* Sector 63 + 8i: its first 512 bytes come before what was written. */
        for (unsigned b = 0; b < 512; b++)
            assert_int_equal(got[b], i == 0 ? pattern(63 * 512 + b) : 0x11 * i);
        for (unsigned b = 512; b < 4096; b++)
            assert_int_equal(got[b], 0x11 * (i + 1));
    }
    struct vblk_stats st;
    vblk_get_stats(f->blk, &st);
    assert_int_equal(st.merged, 4);
}

static void test_new_rejects(void **state)
{
    struct fake_blk fb;
    struct vblk *blk = (void *)1;
    char err[128];
    struct vblk_params p = {.num_queues = 0};

    fake_blk_init(&fb, 4096, false);
    assert_int_equal(vblk_new(&blk, &fb.be, &p, err, sizeof(err)), -EINVAL);
    assert_null(blk);
    assert_true(fb.freed);
    assert_string_equal(err, "queues must be 1..16");
    fake_blk_init(&fb, 4096, false);
    p.num_queues = 1;
    p.serial = "123456789012345678901";
    assert_int_equal(vblk_new(&blk, &fb.be, &p, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "serial longer than 20 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_and_config, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_config, setup_file_ro, teardown),
        cmocka_unit_test_setup_teardown(test_read_write_file, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_status_inside_data_segment, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_split_header_and_data, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_flush_get_id, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_discard_write_zeroes, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_short_header, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_writes, setup_file_ro, teardown),
        cmocka_unit_test_setup_teardown(test_no_status_byte, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_chain, setup_file, teardown),
        cmocka_unit_test_setup_teardown(test_backend_errors_per_request, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_suppressed, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_writethrough_without_flush_feature, setup_fake,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_writeback_with_flush_feature, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_multiqueue_in_flight, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_completions_published_per_pass, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_pass_over_queues, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_batch_event_idx, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_reset_in_flight, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_adjacent_requests_merge, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_run_bounds, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_reset_with_run_in_flight, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_merged_data_on_file, setup_file, teardown),
        cmocka_unit_test(test_new_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
