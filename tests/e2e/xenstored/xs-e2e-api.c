/*
 * Debian's libxenstore against mock-xenstored (XENSTORED_PATH set by the
 * wrapper): reads, writes, directories, permissions, watches (absolute,
 * relative, special), transactions with a conflict, domain calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

static int failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s (errno %d)\n", __FILE__, __LINE__, #cond,     \
                    errno);                                                                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static bool read_is(struct xs_handle *h, xs_transaction_t t, const char *path, const char *want)
{
    unsigned int len;
    char *v = xs_read(h, t, path, &len);
    bool ok = v && len == strlen(want) && strcmp(v, want) == 0;

    if (!ok)
        fprintf(stderr, "read %s: got '%s', want '%s'\n", path, v ? v : "(null)", want);
    free(v);
    return ok;
}

/* Next watch event; checks its path and token. */
static bool event_is(struct xs_handle *h, const char *path, const char *token)
{
    unsigned int num;
    char **ev = xs_read_watch(h, &num);
    bool ok = ev && num >= 2 && strcmp(ev[XS_WATCH_PATH], path) == 0 &&
              strcmp(ev[XS_WATCH_TOKEN], token) == 0;

    if (!ok)
        fprintf(stderr, "watch event: got '%s' '%s', want '%s' '%s'\n",
                ev ? ev[XS_WATCH_PATH] : "(none)", ev ? ev[XS_WATCH_TOKEN] : "", path, token);
    free(ev);
    return ok;
}

static void test_basic(struct xs_handle *h)
{
    unsigned int num;
    char **dir;

    CHECK(xs_write(h, XBT_NULL, "/api/x", "hello", 5));
    CHECK(read_is(h, XBT_NULL, "/api/x", "hello"));
    CHECK(xs_write(h, XBT_NULL, "/api/y", "", 0));
    CHECK(xs_mkdir(h, XBT_NULL, "/api/z"));
    dir = xs_directory(h, XBT_NULL, "/api", &num);
    CHECK(dir && num == 3);
    if (dir && num == 3) {
        CHECK(strcmp(dir[0], "x") == 0);
        CHECK(strcmp(dir[1], "y") == 0);
        CHECK(strcmp(dir[2], "z") == 0);
    }
    free(dir);
    errno = 0;
    CHECK(!xs_read(h, XBT_NULL, "/api/none", NULL) && errno == ENOENT);
    errno = 0;
    CHECK(!xs_read(h, XBT_NULL, "/api//bad", NULL) && errno == EINVAL);
    CHECK(xs_rm(h, XBT_NULL, "/api/z"));
    errno = 0;
    CHECK(!xs_read(h, XBT_NULL, "/api/z", NULL) && errno == ENOENT);
    /* Relative paths resolve against dom0's home. */
    CHECK(xs_write(h, XBT_NULL, "device-model/3/state", "running", 7));
    CHECK(read_is(h, XBT_NULL, "/local/domain/0/device-model/3/state", "running"));
    char *home = xs_get_domain_path(h, 3);
    CHECK(home && strcmp(home, "/local/domain/3") == 0);
    free(home);
}

static void test_perms(struct xs_handle *h)
{
    struct xs_permissions set[2] = {
        {.id = 0, .perms = XS_PERM_NONE},
        {.id = 5, .perms = XS_PERM_READ},
    };
    struct xs_permissions *got;
    unsigned int num;

    CHECK(xs_write(h, XBT_NULL, "/perm/node", "v", 1));
    CHECK(xs_set_permissions(h, XBT_NULL, "/perm/node", set, 2));
    got = xs_get_permissions(h, XBT_NULL, "/perm/node", &num);
    CHECK(got && num == 2);
    if (got && num == 2) {
        CHECK(got[0].id == 0 && got[0].perms == XS_PERM_NONE);
        CHECK(got[1].id == 5 && got[1].perms == XS_PERM_READ);
    }
    free(got);
    /* New children inherit the parent's list. */
    CHECK(xs_write(h, XBT_NULL, "/perm/node/child", "c", 1));
    got = xs_get_permissions(h, XBT_NULL, "/perm/node/child", &num);
    CHECK(got && num == 2 && got[1].id == 5 && got[1].perms == XS_PERM_READ);
    free(got);
}

static void test_watches(struct xs_handle *h, struct xs_handle *other)
{
    CHECK(xs_watch(h, "/wt", "abs"));
    CHECK(event_is(h, "/wt", "abs"));
    CHECK(xs_write(other, XBT_NULL, "/wt/a/b", "1", 1));
    CHECK(event_is(h, "/wt/a/b", "abs"));
    CHECK(xs_rm(other, XBT_NULL, "/wt/a"));
    CHECK(event_is(h, "/wt/a", "abs"));
    CHECK(xs_unwatch(h, "/wt", "abs"));

    /* A relative watch gets relative event paths. */
    CHECK(xs_watch(h, "dm/7", "rel"));
    CHECK(event_is(h, "dm/7", "rel"));
    CHECK(xs_write(other, XBT_NULL, "/local/domain/0/dm/7/state", "x", 1));
    CHECK(event_is(h, "dm/7/state", "rel"));
    CHECK(xs_unwatch(h, "dm/7", "rel"));

    CHECK(xs_watch(h, "@introduceDomain", "intro"));
    CHECK(event_is(h, "@introduceDomain", "intro"));
    CHECK(xs_watch(h, "@releaseDomain", "rel"));
    CHECK(event_is(h, "@releaseDomain", "rel"));
    CHECK(!xs_is_domain_introduced(other, 9));
    CHECK(xs_introduce_domain(other, 9, 0x1234, 3));
    CHECK(event_is(h, "@introduceDomain", "intro"));
    CHECK(xs_is_domain_introduced(other, 9));
    CHECK(xs_release_domain(other, 9));
    CHECK(event_is(h, "@releaseDomain", "rel"));
    CHECK(!xs_is_domain_introduced(other, 9));
    CHECK(xs_unwatch(h, "@introduceDomain", "intro"));
    CHECK(xs_unwatch(h, "@releaseDomain", "rel"));
}

static void test_transactions(struct xs_handle *h, struct xs_handle *other)
{
    xs_transaction_t t;

    CHECK(xs_write(h, XBT_NULL, "/tx/counter", "1", 1));

    /* Committed: visible afterwards, invisible before. */
    t = xs_transaction_start(h);
    CHECK(t != XBT_NULL);
    CHECK(read_is(h, t, "/tx/counter", "1"));
    CHECK(xs_write(h, t, "/tx/counter", "2", 1));
    CHECK(read_is(other, XBT_NULL, "/tx/counter", "1"));
    CHECK(read_is(h, t, "/tx/counter", "2"));
    CHECK(xs_transaction_end(h, t, false));
    CHECK(read_is(other, XBT_NULL, "/tx/counter", "2"));

    /* Conflict: someone else changes what the transaction read. */
    t = xs_transaction_start(h);
    CHECK(t != XBT_NULL);
    CHECK(read_is(h, t, "/tx/counter", "2"));
    CHECK(xs_write(other, XBT_NULL, "/tx/counter", "10", 2));
    CHECK(xs_write(h, t, "/tx/counter", "3", 1));
    errno = 0;
    CHECK(!xs_transaction_end(h, t, false));
    CHECK(errno == EAGAIN);
    CHECK(read_is(other, XBT_NULL, "/tx/counter", "10"));

    /* Aborted: nothing happens. */
    t = xs_transaction_start(h);
    CHECK(xs_write(h, t, "/tx/aborted", "x", 1));
    CHECK(xs_transaction_end(h, t, true));
    errno = 0;
    CHECK(!xs_read(h, XBT_NULL, "/tx/aborted", NULL) && errno == ENOENT);
}

int main(void)
{
    struct xs_handle *h = xs_open(0), *other = xs_open(0);

    if (!h || !other) {
        perror("xs_open");
        return 1;
    }
    test_basic(h);
    test_perms(h);
    test_watches(h, other);
    test_transactions(h, other);
    xs_close(h);
    xs_close(other);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("libxenstore API: all checks passed\n");
    return 0;
}
