/*
 * The control module's JSON writer: structure and separators, string
 * escaping (control bytes, quotes, invalid UTF-8), integer limits, misuse
 * and the size bound, and the stats members ioreqctl relies on.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "control.h"
#include "dm-faults.h"
#include "server.h"

static void test_structure(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 4096);
    control_json_begin_object(&b, NULL);
    control_json_uint(&b, "a", 1);
    control_json_begin_array(&b, "b");
    control_json_uint(&b, NULL, 1);
    control_json_int(&b, NULL, -2);
    control_json_begin_object(&b, NULL);
    control_json_bool(&b, "c", true);
    control_json_bool(&b, "d", false);
    control_json_end_object(&b);
    control_json_begin_array(&b, NULL);
    control_json_end_array(&b);
    control_json_begin_object(&b, NULL);
    control_json_end_object(&b);
    control_json_end_array(&b);
    control_json_null(&b, "e");
    control_json_string(&b, "f", NULL);
    control_json_string(&b, "g", "");
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_string_equal(b.data, "{\"a\":1,\"b\":[1,-2,{\"c\":true,\"d\":false},[],{}],\"e\":null,"
                                "\"f\":null,\"g\":\"\"}");
    assert_int_equal(b.len, strlen(b.data));
    control_buf_free(&b);
}

static void test_top_level_scalar(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 64);
    control_json_string(&b, NULL, "x");
    assert_int_equal(control_buf_error(&b), 0);
    assert_string_equal(b.data, "\"x\"");
    /* Only one top value. */
    control_json_uint(&b, NULL, 1);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    assert_string_equal(b.data, "\"x\"");
    control_buf_free(&b);
}

static const char *escaped(struct control_buf *b, const char *s, size_t n)
{
    control_buf_reset(b);
    control_json_stringn(b, NULL, s, n);
    assert_int_equal(control_buf_error(b), 0);
    return b->data;
}

static void test_escaping(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 4096);
    assert_string_equal(escaped(&b, "a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"");
    assert_string_equal(escaped(&b, "\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    assert_string_equal(escaped(&b, "\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
    assert_string_equal(escaped(&b, "x\0y", 3), "\"x\\u0000y\"");
    /* Terminal escape sequences arrive escaped. */
    assert_string_equal(escaped(&b, "\x1b[2J", 4), "\"\\u001b[2J\"");
    /* Valid UTF-8 passes: U+00E9, U+20AC, U+1F600, U+10FFFF. */
    assert_string_equal(escaped(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13),
                        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
    /* Invalid: stray continuation, 0xff, overlong "/", surrogate, past U+10FFFF, truncated. */
    assert_string_equal(escaped(&b, "\x80", 1), "\"\\ufffd\"");
    assert_string_equal(escaped(&b, "\xff", 1), "\"\\ufffd\"");
    assert_string_equal(escaped(&b, "\xc0\xaf", 2), "\"\\ufffd\\ufffd\"");
    assert_string_equal(escaped(&b, "\xe0\x80\xaf", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    assert_string_equal(escaped(&b, "\xed\xa0\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
    assert_string_equal(escaped(&b, "\xf4\x90\x80\x80", 4), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    assert_string_equal(escaped(&b, "a\xe2\x82", 3), "\"a\\ufffd\\ufffd\"");
    /* Keys are escaped too. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    control_json_uint(&b, "k\"\n", 1);
    control_json_end_object(&b);
    assert_string_equal(b.data, "{\"k\\\"\\n\":1}");
    control_buf_free(&b);
}

static void test_numbers(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 4096);
    control_json_begin_array(&b, NULL);
    control_json_uint(&b, NULL, 0);
    control_json_uint(&b, NULL, UINT64_MAX);
    control_json_int(&b, NULL, INT64_MIN);
    control_json_int(&b, NULL, INT64_MAX);
    control_json_double(&b, NULL, 1.5);
    control_json_double(&b, NULL, NAN);
    control_json_double(&b, NULL, -INFINITY);
    control_json_end_array(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_string_equal(b.data, "[0,18446744073709551615,-9223372036854775808,"
                                "9223372036854775807,1.5,null,null]");
    control_buf_free(&b);
}

static void test_misuse(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 4096);
    /* A key inside an array. */
    control_json_begin_array(&b, NULL);
    control_json_uint(&b, "k", 1);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    /* Sticky: later writes change nothing. */
    control_json_end_array(&b);
    assert_string_equal(b.data, "[");

    /* No key inside an object. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    control_json_uint(&b, NULL, 1);
    assert_int_equal(control_buf_error(&b), -EINVAL);

    /* A key for the top value. */
    control_buf_reset(&b);
    control_json_uint(&b, "k", 1);
    assert_int_equal(control_buf_error(&b), -EINVAL);

    /* Mismatched and unmatched ends. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    control_json_end_array(&b);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    control_buf_reset(&b);
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), -EINVAL);

    /* Left open. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), 0);

    /* Nesting beyond CONTROL_JSON_DEPTH. */
    control_buf_reset(&b);
    for (int i = 0; i < CONTROL_JSON_DEPTH - 1; i++)
        control_json_begin_array(&b, NULL);
    assert_int_equal(b.err, 0);
    control_json_begin_array(&b, NULL);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    control_buf_free(&b);
}

static void test_bound(void **state)
{
    struct control_buf b;
    char big[100];

    memset(big, 'x', sizeof(big));
    control_buf_init(&b, 64);
    control_json_begin_object(&b, NULL);
    control_json_uint(&b, "n", 1);
    control_json_stringn(&b, "s", big, sizeof(big));
    assert_int_equal(control_buf_error(&b), -ENOSPC);
    assert_true(b.len <= 64);
    control_json_uint(&b, "m", 2);
    assert_int_equal(control_buf_error(&b), -ENOSPC);
    assert_true(b.len <= 64);

    /* Exactly at the bound is fine. */
    control_buf_reset(&b);
    control_json_stringn(&b, NULL, big, 62);
    assert_int_equal(control_buf_error(&b), 0);
    assert_int_equal(b.len, 64);
    control_buf_free(&b);
}

static void test_reset_reuses(void **state)
{
    struct control_buf b;

    control_buf_init(&b, 4096);
    control_json_uint(&b, NULL, 5);
    control_json_uint(&b, NULL, 6);
    assert_int_equal(control_buf_error(&b), -EINVAL);
    control_buf_reset(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    control_json_uint(&b, NULL, 7);
    assert_string_equal(b.data, "7");
    control_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.max, 4096);
}

static void test_ioreq_stats(void **state)
{
    struct ioreq_stats st = {
        .nr_vcpus = 2,
        .sync_requests = 9,
        .buffered_requests = 4,
        .malformed = 1,
        .unclaimed = 2,
        .spurious_notifications = 3,
        .timeoffset = -5,
        .gmem = {.hits = 10,
                 .misses = 11,
                 .evictions = 12,
                 .invalidations = 13,
                 .faults = 14,
                 .mapped_bytes = 4096,
                 .dirty_reports = 15},
    };
    struct ioreq_vcpu_stats v[2] = {
        {.requests = 5, .by_type = {1, 2, 0, 0, 1, 1}},
        {.requests = 4, .by_type = {3, 0, 1, 0, 0, 0}},
    };
    struct control_buf b;

    control_buf_init(&b, 4096);
    control_json_begin_object(&b, NULL);
    control_json_ioreq_stats(&b, &st, v, 2);
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_string_equal(
        b.data,
        "{\"vcpus\":2,\"requests\":{\"sync\":9,\"buffered\":4,\"malformed\":1,\"unclaimed\":2,"
        "\"spurious_notifications\":3},\"by_type\":{\"pio\":4,\"copy\":2,\"pci_config\":1,"
        "\"timeoffset\":0,\"invalidate\":1,\"unknown\":1},\"per_vcpu\":[{\"vcpu\":0,\"requests\":5,"
        "\"pio\":1,\"copy\":2,\"pci_config\":0,\"timeoffset\":0,\"invalidate\":1,\"unknown\":1},"
        "{\"vcpu\":1,\"requests\":4,\"pio\":3,\"copy\":0,\"pci_config\":1,\"timeoffset\":0,"
        "\"invalidate\":0,\"unknown\":0}],\"mapcache\":{\"hits\":10,\"misses\":11,"
        "\"evictions\":12,\"invalidations\":13,\"faults\":14,\"mapped_bytes\":4096,"
        "\"dirty_reports\":15},"
        "\"timeoffset\":-5}");

    /* No vCPUs: empty list, zero totals. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    control_json_ioreq_stats(&b, &st, NULL, 0);
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_non_null(strstr(b.data, "\"per_vcpu\":[]"));
    assert_non_null(strstr(b.data, "\"by_type\":{\"pio\":0,\"copy\":0,"));
    control_buf_free(&b);
}

static void test_faults(void **state)
{
    struct dm_faults f = {0};
    struct control_buf b;

    f.count[DM_FAULT_PCI_NO_FUNCTION] = 3;
    f.count[DM_FAULT_MSIX_ACCESS_DROPPED] = 1;
    f.count[DM_FAULT_VIRTIO_NOTIFY_IGNORED] = 7;
    control_buf_init(&b, 4096);
    control_json_begin_object(&b, NULL);
    control_json_faults(&b, &f);
    control_json_end_object(&b);
    assert_int_equal(control_buf_error(&b), 0);
    assert_string_equal(b.data, "{\"faults\":{\"pci_no_function\":3,\"pci_config_past_end\":0,"
                                "\"pci_config_bad_size\":0,\"pci_bar_refused\":0,"
                                "\"msix_access_dropped\":1,\"virtq_loop\":0,"
                                "\"virtq_bad_index\":0,\"virtq_bad_length\":0,"
                                "\"virtq_outside_ram\":0,\"virtq_bad_layout\":0,"
                                "\"virtio_notify_ignored\":7}}");
    /* No counters: every cause, at 0. */
    control_buf_reset(&b);
    control_json_begin_object(&b, NULL);
    control_json_faults(&b, NULL);
    control_json_end_object(&b);
    assert_non_null(strstr(b.data, "\"virtio_notify_ignored\":0}}"));
    control_buf_free(&b);
}

static void test_default_path(void **state)
{
    char buf[64], small[12];

    assert_int_equal(control_default_path(buf, sizeof(buf), 7), 0);
    assert_string_equal(buf, "/run/ioreqd/7.sock");
    assert_int_equal(control_default_path(buf, sizeof(buf), 32751), 0);
    assert_string_equal(buf, "/run/ioreqd/32751.sock");
    assert_int_equal(control_default_path(small, sizeof(small), 7), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),    cmocka_unit_test(test_top_level_scalar),
        cmocka_unit_test(test_escaping),     cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_misuse),       cmocka_unit_test(test_bound),
        cmocka_unit_test(test_reset_reuses), cmocka_unit_test(test_ioreq_stats),
        cmocka_unit_test(test_default_path), cmocka_unit_test(test_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
