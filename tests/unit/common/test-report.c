/* The report sink and its one-line rendering (common/report.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "report.h"

static void a_device(const struct report_sink *sink)
{
    report_item(sink, REPORT_IDENTITY, NULL, "00:03.0");
    report_itemf(sink, REPORT_PLACEMENT, "bar0", "io:%#x+%#x", 0xc000, 0x100);
    report_itemf(sink, REPORT_IDENTITY, "port", "%#x", 0x3f8);
    report_item(sink, REPORT_IDENTITY, "readonly", NULL);
    report_itemf(sink, REPORT_STATE, "tx", "%u", 12);
    report_counter(sink, "bytes_out", 12);
}

static void test_line_by_class(void **state)
{
    struct report_line line;
    char buf[128];

    a_device(report_line_init(&line, buf, sizeof(buf), REPORT_ALL));
    assert_string_equal(buf, "00:03.0 bar0=io:0xc000+0x100 port=0x3f8 readonly tx=12");
    a_device(report_line_init(&line, buf, sizeof(buf), REPORT_IDENTITY));
    assert_string_equal(buf, "00:03.0 port=0x3f8 readonly");
    a_device(report_line_init(&line, buf, sizeof(buf), REPORT_PLACEMENT));
    assert_string_equal(buf, "bar0=io:0xc000+0x100");
    /* Nothing of the class: an empty line, not a stale one. */
    report_line_init(&line, buf, sizeof(buf), REPORT_STATE);
    assert_string_equal(buf, "");
}

static void test_line_cut_to_fit(void **state)
{
    struct report_line line;
    char buf[12];

    a_device(report_line_init(&line, buf, sizeof(buf), REPORT_ALL));
    assert_string_equal(buf, "00:03.0 bar");
    a_device(report_line_init(&line, buf, 1, REPORT_ALL));
    assert_string_equal(buf, "");
}

static void count(void *opaque, const char *name, uint64_t value)
{
    uint64_t *sum = opaque;

    assert_string_equal(name, "bytes_out");
    *sum += value;
}

static void test_counters_and_missing_callbacks(void **state)
{
    uint64_t sum = 0;
    const struct report_sink counters_only = {.counter = count, .opaque = &sum};

    /* Items go nowhere, counters to the one callback there is; no sink at all is fine. */
    a_device(&counters_only);
    assert_int_equal(sum, 12);
    a_device(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_by_class),
        cmocka_unit_test(test_line_cut_to_fit),
        cmocka_unit_test(test_counters_and_missing_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
