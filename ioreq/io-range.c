/*
 * The io-range registry: one sorted, non-overlapping array of ranges per
 * address space, searched by bisection on every access.
 *
 * The registry owns its copies of struct io_range; devices own ops and
 * opaque. Dispatch copies the entry's ops, opaque and base into locals
 * before calling the device, and never looks at the array again afterwards,
 * so a handler may map or unmap ranges (its own included) from inside its
 * callback: the array may be reallocated or shifted under it without a
 * use-after-free.
 *
 * Every change is mirrored through the optional io_listener first; the
 * registry only changes once the listener agreed, so a refused mapping
 * leaves both sides as they were.
 *
 * Each entry points at the io_counter its accesses are counted in (its
 * device's, or the registry's unowned one), resolved once at io_map(), so
 * dispatch increments it without a test or a lookup.
 */
#include "io-range.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* x86 port space is 16 bits wide; Xen refuses larger PIO ranges too. */
#define IO_PIO_LIMIT 0xffffull

struct io_table {
    struct io_range *ranges; /* sorted by base, never overlapping */
    unsigned nr;
    unsigned cap;
};

struct io_registry {
    struct io_table tables[IO_SPACE_COUNT];
    struct io_listener listener;
    bool has_listener;
    struct io_counter unowned; /* accesses to ranges nobody counts */
};

struct io_registry *io_registry_new(void)
{
    return calloc(1, sizeof(struct io_registry));
}

void io_registry_free(struct io_registry *reg)
{
    if (!reg)
        return;
    for (unsigned s = 0; s < IO_SPACE_COUNT; s++)
        free(reg->tables[s].ranges);
    free(reg);
}

void io_registry_set_listener(struct io_registry *reg, const struct io_listener *listener)
{
    if (listener) {
        reg->listener = *listener;
        reg->has_listener = true;
    } else {
        memset(&reg->listener, 0, sizeof(reg->listener));
        reg->has_listener = false;
    }
}

const struct io_counter *io_registry_unowned(const struct io_registry *reg)
{
    return &reg->unowned;
}

static uint64_t io_range_last(const struct io_range *r)
{
    return r->base + (r->len - 1);
}

/* Index of the first range whose base is greater than addr. */
static unsigned io_upper_bound(const struct io_table *t, uint64_t addr)
{
    unsigned lo = 0, hi = t->nr;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (t->ranges[mid].base <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The range containing addr, or NULL. */
static const struct io_range *io_find(const struct io_table *t, uint64_t addr)
{
    unsigned i = io_upper_bound(t, addr);

    if (i == 0)
        return NULL;
    const struct io_range *r = &t->ranges[i - 1];
    return addr <= io_range_last(r) ? r : NULL;
}

static int io_reserve(struct io_table *t)
{
    if (t->nr < t->cap)
        return 0;
    unsigned cap = t->cap ? t->cap * 2 : 16;
    struct io_range *n = realloc(t->ranges, (size_t)cap * sizeof(*n));
    if (!n)
        return -ENOMEM;
    t->ranges = n;
    t->cap = cap;
    return 0;
}

int io_map(struct io_registry *reg, const struct io_range *range)
{
    if (!reg || !range || (unsigned)range->space >= IO_SPACE_COUNT || !range->ops)
        return -EINVAL;
    if (range->len == 0 || range->base + (range->len - 1) < range->base)
        return -EINVAL;
    if (range->space == IO_SPACE_PIO && io_range_last(range) > IO_PIO_LIMIT)
        return -EINVAL;

    struct io_table *t = &reg->tables[range->space];
    unsigned pos = io_upper_bound(t, range->base);
    if (pos > 0 && io_range_last(&t->ranges[pos - 1]) >= range->base)
        return -EEXIST;
    if (pos < t->nr && t->ranges[pos].base <= io_range_last(range))
        return -EEXIST;

    /* Reserve first: once the listener said yes, inserting cannot fail. */
    int rc = io_reserve(t);
    if (rc)
        return rc;
    if (reg->has_listener && reg->listener.map) {
        rc = reg->listener.map(reg->listener.opaque, range);
        if (rc)
            return rc < 0 ? rc : -EIO;
    }
    memmove(&t->ranges[pos + 1], &t->ranges[pos], (size_t)(t->nr - pos) * sizeof(*t->ranges));
    t->ranges[pos] = *range;
    if (!range->counter)
        t->ranges[pos].counter = &reg->unowned;
    t->nr++;
    return 0;
}

int io_unmap(struct io_registry *reg, enum io_space space, uint64_t base)
{
    if (!reg || (unsigned)space >= IO_SPACE_COUNT)
        return -ENOENT;

    struct io_table *t = &reg->tables[space];
    unsigned pos = io_upper_bound(t, base);
    if (pos == 0 || t->ranges[pos - 1].base != base)
        return -ENOENT;
    pos--;

    struct io_range gone = t->ranges[pos];
    memmove(&t->ranges[pos], &t->ranges[pos + 1], (size_t)(t->nr - pos - 1) * sizeof(*t->ranges));
    t->nr--;
    /* The listener sees a copy: it may itself change the registry. */
    if (reg->has_listener && reg->listener.unmap)
        reg->listener.unmap(reg->listener.opaque, &gone);
    return 0;
}

unsigned io_range_count(const struct io_registry *reg, enum io_space space)
{
    if (!reg || (unsigned)space >= IO_SPACE_COUNT)
        return 0;
    return reg->tables[space].nr;
}

const struct io_range *io_range_at(const struct io_registry *reg, enum io_space space, unsigned i)
{
    if (!reg || (unsigned)space >= IO_SPACE_COUNT || i >= reg->tables[space].nr)
        return NULL;
    return &reg->tables[space].ranges[i];
}

static bool io_size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/*
 * Resolves an access to the device behind it, copying what the call needs
 * so that nothing in the table is touched once the device runs.
 */
static bool io_resolve(const struct io_registry *reg, enum io_space space, uint64_t addr,
                       unsigned size, unsigned vcpu, const struct io_ops **ops, void **opaque,
                       struct io_counter **counter, struct io_access *acc)
{
    if (!reg || (unsigned)space >= IO_SPACE_COUNT || !io_size_ok(size))
        return false;
    if (addr + (size - 1) < addr)
        return false;

    const struct io_range *r = io_find(&reg->tables[space], addr);
    if (!r || addr + (size - 1) > io_range_last(r))
        return false;

    *ops = r->ops;
    *opaque = r->opaque;
    *counter = r->counter;
    acc->addr = addr;
    acc->offset = addr - r->base;
    acc->size = size;
    acc->vcpu = vcpu;
    return true;
}

bool io_dispatch_read(struct io_registry *reg, enum io_space space, uint64_t addr, unsigned size,
                      unsigned vcpu, uint64_t *value)
{
    const struct io_ops *ops;
    struct io_counter *counter;
    void *opaque;
    struct io_access acc;

    *value = io_all_ones(size);
    if (!io_resolve(reg, space, addr, size, vcpu, &ops, &opaque, &counter, &acc))
        return false;
    counter->reads++;
    if (ops->read)
        *value = ops->read(opaque, &acc) & io_all_ones(size);
    return true;
}

bool io_dispatch_write(struct io_registry *reg, enum io_space space, uint64_t addr, unsigned size,
                       unsigned vcpu, uint64_t value)
{
    const struct io_ops *ops;
    struct io_counter *counter;
    void *opaque;
    struct io_access acc;

    if (!io_resolve(reg, space, addr, size, vcpu, &ops, &opaque, &counter, &acc))
        return false;
    counter->writes++;
    if (ops->write)
        ops->write(opaque, &acc, value & io_all_ones(size));
    return true;
}
