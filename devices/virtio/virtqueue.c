/*
 * Split virtqueue, device side (virtio 1.2, 2.7). See virtqueue.h.
 *
 * The rings are mapped once when the queue starts. Every field the driver can
 * change is loaded exactly once into a local before it is checked and used;
 * ring indices are loaded with acquire and stored with release ordering, and
 * the points where the driver and device race on notifications have full
 * fences (2.7.10, 2.7.13.3).
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "log.h"
#include "virtqueue.h"

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "descriptor is 16 bytes (2.7.5)");

/* Offsets inside the avail and used rings (2.7.6, 2.7.8). */
#define AVAIL_FLAGS 0
#define AVAIL_IDX   2
#define AVAIL_RING  4
#define USED_FLAGS  0
#define USED_IDX    2
#define USED_RING   4
#define USED_ELEM   8

static inline uint16_t *ring16(void *ring, size_t off)
{
    return (uint16_t *)((char *)ring + off);
}

static inline uint16_t load16(void *ring, size_t off)
{
    return le16toh(__atomic_load_n(ring16(ring, off), __ATOMIC_RELAXED));
}

static inline uint16_t load16_acquire(void *ring, size_t off)
{
    return le16toh(__atomic_load_n(ring16(ring, off), __ATOMIC_ACQUIRE));
}

static inline void store16(void *ring, size_t off, uint16_t v)
{
    __atomic_store_n(ring16(ring, off), htole16(v), __ATOMIC_RELAXED);
}

static inline void store16_release(void *ring, size_t off, uint16_t v)
{
    __atomic_store_n(ring16(ring, off), htole16(v), __ATOMIC_RELEASE);
}

/* Stores into the used ring, the only ring the device writes: each is guest RAM modified. */
static void used_store16(struct virtq *vq, size_t off, uint16_t v)
{
    store16(vq->used, off, v);
    gmem_mark_dirty(vq->gm, vq->used_gpa + off, sizeof(v));
}

static inline size_t used_event_off(const struct virtq *vq)
{
    return AVAIL_RING + 2u * vq->size;
}

static inline size_t avail_event_off(const struct virtq *vq)
{
    return USED_RING + (size_t)USED_ELEM * vq->size;
}

const char *virtq_error_name(enum virtq_error err)
{
    switch (err) {
    case VIRTQ_ERR_NONE:
        return "none";
    case VIRTQ_ERR_AVAIL_JUMP:
        return "avail index jumped past the queue size";
    case VIRTQ_ERR_OVERRUN:
        return "more chains in flight than the queue size";
    case VIRTQ_ERR_HEAD:
        return "head index out of range";
    case VIRTQ_ERR_NEXT:
        return "next index out of range";
    case VIRTQ_ERR_CHAIN_LEN:
        return "descriptor chain too long (loop)";
    case VIRTQ_ERR_CHAIN_BYTES:
        return "descriptor chain describes too many bytes";
    case VIRTQ_ERR_UNMAPPED:
        return "buffer outside guest RAM";
    case VIRTQ_ERR_INDIRECT:
        return "invalid indirect descriptor";
    case VIRTQ_ERR_ORDER:
        return "readable descriptor after a writable one";
    }
    return "unknown";
}

bool virtq_size_valid(unsigned size)
{
    return size != 0 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) == 0;
}

void virtq_init(struct virtq *vq, unsigned index, struct gmem *gm)
{
    memset(vq, 0, sizeof(*vq));
    vq->index = index;
    vq->gm = gm;
}

static void unmap_rings(struct virtq *vq)
{
    if (vq->desc)
        gmem_unmap(vq->gm, vq->desc, virtq_desc_bytes(vq->size));
    if (vq->avail)
        gmem_unmap(vq->gm, vq->avail, virtq_avail_bytes(vq->size));
    if (vq->used)
        gmem_unmap(vq->gm, vq->used, virtq_used_bytes(vq->size));
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
}

int virtq_start(struct virtq *vq, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used,
                unsigned feats)
{
    void *p;
    int rc;

    if (vq->started)
        virtq_stop(vq);
    if (!virtq_size_valid(size) || desc % VIRTQ_DESC_ALIGN || avail % VIRTQ_AVAIL_ALIGN ||
        used % VIRTQ_USED_ALIGN)
        return -EINVAL;
    vq->size = size;

    rc = gmem_map(vq->gm, desc, virtq_desc_bytes(size), GMEM_PROT_READ, &p);
    if (rc)
        goto out;
    vq->desc = p;
    rc = gmem_map(vq->gm, avail, virtq_avail_bytes(size), GMEM_PROT_READ, &p);
    if (rc)
        goto out;
    vq->avail = p;
    rc = gmem_map(vq->gm, used, virtq_used_bytes(size), GMEM_PROT_READ | GMEM_PROT_WRITE, &p);
    if (rc)
        goto out;
    vq->used = p;
    vq->used_gpa = used;

    vq->indirect = feats & VIRTQ_FEAT_INDIRECT;
    vq->event_idx = feats & VIRTQ_FEAT_EVENT_IDX;
    vq->last_avail = 0;
    vq->used_idx = 0;
    vq->filled = 0;
    vq->signalled_used = 0;
    vq->signalled_valid = false;
    vq->inflight = 0;
    vq->error = VIRTQ_ERR_NONE;
    vq->started = true;
    used_store16(vq, USED_FLAGS, 0);
    used_store16(vq, USED_IDX, 0);
    if (vq->event_idx)
        used_store16(vq, avail_event_off(vq), 0);
    vq->notify_enabled = true;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return 0;
out:
    unmap_rings(vq);
    vq->size = 0;
    return rc;
}

void virtq_stop(struct virtq *vq)
{
    unmap_rings(vq);
    vq->started = false;
    vq->size = 0;
    vq->inflight = 0;
    vq->filled = 0;
    vq->error = VIRTQ_ERR_NONE;
}

/* The stats' cause for a queue error. */
static enum dm_fault fault_cause(enum virtq_error err)
{
    switch (err) {
    case VIRTQ_ERR_CHAIN_LEN:
        return DM_FAULT_VIRTQ_LOOP;
    case VIRTQ_ERR_CHAIN_BYTES:
        return DM_FAULT_VIRTQ_BAD_LENGTH;
    case VIRTQ_ERR_UNMAPPED:
        return DM_FAULT_VIRTQ_OUTSIDE_RAM;
    case VIRTQ_ERR_INDIRECT:
    case VIRTQ_ERR_ORDER:
        return DM_FAULT_VIRTQ_BAD_LAYOUT;
    default:
        return DM_FAULT_VIRTQ_BAD_INDEX; /* avail idx, in-flight count, head, next */
    }
}

static int fail(struct virtq *vq, enum virtq_error err)
{
    vq->malformed++;
    dm_fault_count(vq->faults, fault_cause(err));
    if (vq->error == VIRTQ_ERR_NONE) {
        vq->error = err;
        log_guest("virtqueue %u: %s; device needs reset", vq->index, virtq_error_name(err));
    }
    return -EINVAL;
}

void virtq_req_release(struct virtq *vq, struct virtq_req *req)
{
    unsigned n = req->nr_readable + req->nr_writable;

    for (unsigned i = 0; i < n; i++) {
        if (req->seg[i].ptr)
            gmem_unmap(vq->gm, req->seg[i].ptr, req->seg[i].len);
        req->seg[i].ptr = NULL;
    }
    req->nr_readable = 0;
    req->nr_writable = 0;
    req->readable_bytes = 0;
    req->writable_bytes = 0;
}

/* One descriptor copied out of a table the driver may be changing under us. */
static inline struct virtq_desc read_desc(const struct virtq_desc *table, unsigned i)
{
    struct virtq_desc d;

    /*
     * memcpy, as an indirect table need not be aligned; the barrier stops the
     * compiler from reading a field from the table again instead of from d
     * after it was checked.
     */
    memcpy(&d, (const void *)&table[i], sizeof(d));
    __asm__ volatile("" ::: "memory");
    d.addr = le64toh(d.addr);
    d.len = le32toh(d.len);
    d.flags = le16toh(d.flags);
    d.next = le16toh(d.next);
    return d;
}

/* Adds one buffer to req: 0, or a virtq_error, or -ENOMEM (host out of mapping space). */
static int add_seg(struct virtq *vq, struct virtq_req *req, const struct virtq_desc *d)
{
    bool writable = d->flags & VIRTQ_DESC_F_WRITE;
    struct virtq_seg *seg;
    void *ptr;
    int rc;

    if (!writable && req->nr_writable)
        return VIRTQ_ERR_ORDER;
    if (d->len == 0)
        return 0;
    if (req->readable_bytes + req->writable_bytes + d->len > VIRTQ_MAX_BYTES)
        return VIRTQ_ERR_CHAIN_BYTES;
    rc = gmem_map(vq->gm, d->addr, d->len, writable ? GMEM_PROT_WRITE : GMEM_PROT_READ, &ptr);
    if (rc == -ENOMEM)
        return -ENOMEM;
    if (rc)
        return VIRTQ_ERR_UNMAPPED;
    seg = &req->seg[req->nr_readable + req->nr_writable];
    seg->gpa = d->addr;
    seg->len = d->len;
    seg->ptr = ptr;
    if (writable) {
        req->nr_writable++;
        req->writable_bytes += d->len;
    } else {
        req->nr_readable++;
        req->readable_bytes += d->len;
    }
    return 0;
}

/* Walks the chain at req->head: 0, a virtq_error, or -ENOMEM. */
static int walk_chain(struct virtq *vq, struct virtq_req *req)
{
    const struct virtq_desc *table = vq->desc;
    unsigned table_size = vq->size;
    unsigned max = vq->size < VIRTQ_MAX_SEGS ? vq->size : VIRTQ_MAX_SEGS;
    void *indirect = NULL;
    size_t indirect_len = 0;
    struct virtq_desc d;
    unsigned count = 0;
    int rc = 0;

    d = read_desc(table, req->head);
    if (d.flags & VIRTQ_DESC_F_INDIRECT) {
        /* 2.7.5.3.1: only when negotiated, never with NEXT, len a multiple of 16. */
        if (!vq->indirect || (d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 || d.len % 16 ||
            d.len / 16 > VIRTQ_MAX_SEGS)
            return VIRTQ_ERR_INDIRECT;
        rc = gmem_map(vq->gm, d.addr, d.len, GMEM_PROT_READ, &indirect);
        if (rc == -ENOMEM)
            return -ENOMEM;
        if (rc)
            return VIRTQ_ERR_UNMAPPED;
        indirect_len = d.len;
        table = indirect;
        table_size = d.len / 16;
        max = table_size;
        d = read_desc(table, 0);
    }

    for (;;) {
        if (++count > max) {
            rc = VIRTQ_ERR_CHAIN_LEN;
            break;
        }
        /* Indirect inside an indirect table, or anywhere but the head. */
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            rc = VIRTQ_ERR_INDIRECT;
            break;
        }
        rc = add_seg(vq, req, &d);
        if (rc)
            break;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        if (d.next >= table_size) {
            rc = VIRTQ_ERR_NEXT;
            break;
        }
        d = read_desc(table, d.next);
    }

    if (indirect)
        gmem_unmap(vq->gm, indirect, indirect_len);
    return rc;
}

int virtq_pop(struct virtq *vq, struct virtq_req *req)
{
    uint16_t avail_idx, pending, head;
    int rc;

    if (!vq->started)
        return -EAGAIN;
    if (virtq_broken(vq))
        return -EINVAL;

    avail_idx = load16_acquire(vq->avail, AVAIL_IDX);
    pending = (uint16_t)(avail_idx - vq->last_avail);
    if (pending == 0)
        return -EAGAIN;
    if (pending > vq->size)
        return fail(vq, VIRTQ_ERR_AVAIL_JUMP);
    /* A driver has at most size chains outstanding; more means it reused heads in flight. */
    if (vq->inflight >= vq->size)
        return fail(vq, VIRTQ_ERR_OVERRUN);

    head = load16(vq->avail, AVAIL_RING + 2u * (vq->last_avail & (vq->size - 1)));
    if (head >= vq->size) {
        /* Not a chain we could ever return: nothing to push. */
        vq->last_avail++;
        return fail(vq, VIRTQ_ERR_HEAD);
    }
    vq->last_avail++;
    vq->inflight++;
    vq->popped++;
    /* req is reset only once a chain is taken: a pop that finds nothing leaves it alone. */
    req->head = head;
    req->nr_readable = 0;
    req->nr_writable = 0;
    req->readable_bytes = 0;
    req->writable_bytes = 0;

    rc = walk_chain(vq, req);
    if (rc == -ENOMEM && vq->inflight > 1) {
        /* Mapping space runs out: retry this chain once others complete. */
        virtq_req_release(vq, req);
        vq->last_avail--;
        vq->inflight--;
        vq->popped--;
        return -ENOMEM;
    }
    if (rc) {
        virtq_req_release(vq, req);
        virtq_push(vq, head, 0);
        return fail(vq, rc == -ENOMEM ? VIRTQ_ERR_UNMAPPED : (enum virtq_error)rc);
    }

    if (vq->event_idx && vq->notify_enabled) {
        used_store16(vq, avail_event_off(vq), vq->last_avail);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
    return 0;
}

/* Writes one used element in the slot after those written and not yet published. */
static void used_write_elem(struct virtq *vq, uint16_t head, uint32_t written)
{
    uint16_t slot = (uint16_t)(vq->used_idx + vq->filled) & (vq->size - 1);
    size_t elem_off = USED_RING + (size_t)USED_ELEM * slot;
    char *elem = (char *)vq->used + elem_off;

    __atomic_store_n((uint32_t *)elem, htole32(head), __ATOMIC_RELAXED);
    __atomic_store_n((uint32_t *)(elem + 4), htole32(written), __ATOMIC_RELAXED);
    gmem_mark_dirty(vq->gm, vq->used_gpa + elem_off, USED_ELEM);
    vq->filled++;
    vq->inflight--;
    vq->pushed++;
}

int virtq_fill(struct virtq *vq, uint16_t head, uint32_t written)
{
    if (!vq->started || head >= vq->size || vq->inflight == 0)
        return -EINVAL;
    used_write_elem(vq, head, written);
    return 0;
}

unsigned virtq_flush(struct virtq *vq)
{
    unsigned n = vq->filled;

    if (!vq->started || n == 0)
        return 0;
    vq->used_idx = (uint16_t)(vq->used_idx + n);
    vq->filled = 0;
    /* The elements must be visible before the index that publishes them (2.7.8.2);
     * one store publishes them all, so the driver sees the batch whole. */
    store16_release(vq->used, USED_IDX, vq->used_idx);
    gmem_mark_dirty(vq->gm, vq->used_gpa + USED_IDX, sizeof(uint16_t));
    vq->flushes++;
    return n;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
    int rc = virtq_fill(vq, head, written);

    if (rc == 0)
        virtq_flush(vq);
    return rc;
}

int virtq_push_n(struct virtq *vq, const struct virtq_used_elem *elems, unsigned n)
{
    if (!vq->started || n == 0 || n > vq->inflight)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (elems[i].head >= vq->size)
            return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        used_write_elem(vq, elems[i].head, elems[i].written);
    virtq_flush(vq);
    return 0;
}

bool virtq_needs_notify(struct virtq *vq)
{
    uint16_t old, now, event;
    bool valid;

    if (!vq->started)
        return false;
    /* Our used idx store must be ordered before reading the driver's suppression state. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    old = vq->signalled_used;
    valid = vq->signalled_valid;
    now = vq->used_idx;
    vq->signalled_used = now;
    vq->signalled_valid = true;

    if (!vq->event_idx)
        return !(load16(vq->avail, AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    if (!valid)
        return true;
    /* 2.7.10.2: notify when used idx moved past used_event since the last notification. */
    event = load16(vq->avail, used_event_off(vq));
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void virtq_set_notify(struct virtq *vq, bool enable)
{
    if (!vq->started)
        return;
    vq->notify_enabled = enable;
    if (vq->event_idx) {
        /* Disabled: avail_event stays behind, so the driver stops notifying. */
        if (enable)
            used_store16(vq, avail_event_off(vq), vq->last_avail);
    } else {
        used_store16(vq, USED_FLAGS, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
    }
    /* Publish before the caller re-reads avail idx, or a notification is lost. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_has_avail(struct virtq *vq)
{
    if (!vq->started || virtq_broken(vq))
        return false;
    return load16_acquire(vq->avail, AVAIL_IDX) != vq->last_avail;
}

size_t virtq_req_copy_from(const struct virtq_req *req, size_t offset, void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = 0; i < req->nr_readable && done < len; i++) {
        const struct virtq_seg *s = &req->seg[i];
        size_t n;

        if (offset >= s->len) {
            offset -= s->len;
            continue;
        }
        n = s->len - offset;
        if (n > len - done)
            n = len - done;
        memcpy((char *)buf + done, (const char *)s->ptr + offset, n);
        done += n;
        offset = 0;
    }
    return done;
}

size_t virtq_req_copy_to(const struct virtq_req *req, size_t offset, const void *buf, size_t len)
{
    size_t done = 0;

    for (unsigned i = req->nr_readable; i < req->nr_readable + req->nr_writable && done < len;
         i++) {
        const struct virtq_seg *s = &req->seg[i];
        size_t n;

        if (offset >= s->len) {
            offset -= s->len;
            continue;
        }
        n = s->len - offset;
        if (n > len - done)
            n = len - done;
        memcpy((char *)s->ptr + offset, (const char *)buf + done, n);
        done += n;
        offset = 0;
    }
    return done;
}
