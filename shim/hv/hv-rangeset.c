/*
 * Xen's rangeset, as far as ioreq servers see it: a sorted set of disjoint
 * inclusive ranges, adjacent ranges merged, at most HV_MAX_RANGES entries
 * (adding past that fails with -ENOSPC, as Xen's limited rangesets do).
 * Removal may split a range.
 */
#include <errno.h>
#include <string.h>

#include "hv-internal.h"

/* Index of the first range whose end >= s. */
static unsigned first_ending_at_or_after(const struct hv_rangeset *r, uint64_t s)
{
    unsigned lo = 0, hi = r->nr;

    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (r->end[mid] < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool hv_rangeset_overlaps(const struct hv_rangeset *r, uint64_t s, uint64_t e)
{
    unsigned i = first_ending_at_or_after(r, s);

    return i < r->nr && r->start[i] <= e;
}

bool hv_rangeset_contains(const struct hv_rangeset *r, uint64_t s, uint64_t e)
{
    unsigned i = first_ending_at_or_after(r, s);

    return i < r->nr && r->start[i] <= s && r->end[i] >= e;
}

static void remove_at(struct hv_rangeset *r, unsigned i, unsigned n)
{
    memmove(&r->start[i], &r->start[i + n], (r->nr - i - n) * sizeof(r->start[0]));
    memmove(&r->end[i], &r->end[i + n], (r->nr - i - n) * sizeof(r->end[0]));
    r->nr -= n;
}

static void insert_at(struct hv_rangeset *r, unsigned i, uint64_t s, uint64_t e)
{
    memmove(&r->start[i + 1], &r->start[i], (r->nr - i) * sizeof(r->start[0]));
    memmove(&r->end[i + 1], &r->end[i], (r->nr - i) * sizeof(r->end[0]));
    r->start[i] = s;
    r->end[i] = e;
    r->nr++;
}

int hv_rangeset_add(struct hv_rangeset *r, uint64_t s, uint64_t e)
{
    unsigned i, j;

    if (s > e)
        return -EINVAL;
    /* first range that overlaps or touches [s, e] */
    i = first_ending_at_or_after(r, s == 0 ? 0 : s - 1);
    j = i;
    while (j < r->nr && (e == UINT64_MAX || r->start[j] <= e + 1)) {
        if (r->start[j] < s)
            s = r->start[j];
        if (r->end[j] > e)
            e = r->end[j];
        j++;
    }
    if (j > i) {
        r->start[i] = s;
        r->end[i] = e;
        remove_at(r, i + 1, j - i - 1);
        return 0;
    }
    if (r->nr >= HV_MAX_RANGES)
        return -ENOSPC;
    insert_at(r, i, s, e);
    return 0;
}

int hv_rangeset_remove(struct hv_rangeset *r, uint64_t s, uint64_t e)
{
    unsigned i;

    if (s > e)
        return -EINVAL;
    i = first_ending_at_or_after(r, s);
    while (i < r->nr && r->start[i] <= e) {
        if (r->start[i] < s && r->end[i] > e) {
            /* split in two */
            if (r->nr >= HV_MAX_RANGES)
                return -ENOSPC;
            insert_at(r, i + 1, e + 1, r->end[i]);
            r->end[i] = s - 1;
            return 0;
        }
        if (r->start[i] < s) {
            r->end[i] = s - 1;
            i++;
        } else if (r->end[i] > e) {
            r->start[i] = e + 1;
            return 0;
        } else {
            remove_at(r, i, 1);
        }
    }
    return 0;
}
