/*
 * ioreqctl's JSON reader and its column output: values and lookups,
 * escapes and surrogates, number ranges, malformed input and the depth
 * bound, the round trip through the control module's writer, and text made
 * safe for a terminal.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "json.h"
#include "ctl-output.h"

static struct json_value *parse_ok(const char *text)
{
    struct json_value *v = NULL;

    assert_int_equal(json_parse(text, strlen(text), &v), 0);
    assert_non_null(v);
    return v;
}

static void parse_bad(const char *text)
{
    struct json_value *v = (struct json_value *)1;

    if (json_parse(text, strlen(text), &v) != -EINVAL)
        fail_msg("accepted: %s", text);
    assert_null(v);
}

static void test_values(void **state)
{
    struct json_value *v = parse_ok(" {\"ok\":true,\"n\":42,\"s\":\"x\",\"a\":[1,null,false],"
                                    "\"o\":{}} \n");
    const struct json_value *m;
    uint64_t n;

    assert_int_equal(v->type, JSON_OBJECT);
    m = json_get(v, "ok");
    assert_int_equal(m->type, JSON_BOOL);
    assert_true(m->boolean);
    assert_true(json_get_uint(json_get(v, "n"), &n));
    assert_int_equal(n, 42);
    assert_string_equal(json_get_string(json_get(v, "s")), "x");
    assert_null(json_get_string(json_get(v, "n")));
    assert_false(json_get_uint(json_get(v, "s"), &n));
    m = json_get(v, "a");
    assert_int_equal(m->type, JSON_ARRAY);
    assert_int_equal(m->child->type, JSON_NUMBER);
    assert_int_equal(m->child->next->type, JSON_NULL);
    assert_int_equal(m->child->next->next->type, JSON_BOOL);
    assert_false(m->child->next->next->boolean);
    assert_null(m->child->next->next->next);
    assert_int_equal(json_get(v, "o")->type, JSON_OBJECT);
    assert_null(json_get(v, "o")->child);
    assert_null(json_get(v, "missing"));
    assert_null(json_get(json_get(v, "a"), "x"));
    json_free(v);
}

static void test_strings(void **state)
{
    struct json_value *v;

    v = parse_ok("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"");
    assert_string_equal(v->str, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(v->str_len, strlen(v->str));
    json_free(v);
    /* Lone surrogates become U+FFFD; an escaped NUL is kept with its length. */
    v = parse_ok("\"\\ud800x\\udc00\\u0000y\"");
    assert_int_equal(v->str_len, 3 + 1 + 3 + 1 + 1);
    assert_memory_equal(v->str, "\xef\xbf\xbdx\xef\xbf\xbd\0y", 9);
    json_free(v);
}

static void test_numbers(void **state)
{
    struct json_value *v = parse_ok("[0,-0,18446744073709551615,18446744073709551616,"
                                    "-9223372036854775808,-9223372036854775809,1.5e3,-2]");
    const struct json_value *e = v->child;

    assert_true(e->is_int && !e->negative && e->u == 0);
    e = e->next;
    assert_true(e->is_int && !e->negative && e->u == 0);
    e = e->next;
    assert_true(e->is_int && e->u == UINT64_MAX);
    e = e->next;
    assert_false(e->is_int);
    e = e->next;
    assert_true(e->is_int && e->negative && e->i == INT64_MIN);
    e = e->next;
    assert_false(e->is_int);
    e = e->next;
    assert_false(e->is_int);
    assert_true(e->d == 1500.0);
    e = e->next;
    assert_true(e->is_int && e->negative && e->i == -2);
    json_free(v);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":}",
        "{\"a\"1}",
        "{a:1}",
        "{\"a\":1,}",
        "[1 2]",
        "01",
        "1.",
        "-",
        ".5",
        "1e",
        "+1",
        "tru",
        "nul",
        "\"abc",
        "\"a\nb\"",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "{} x",
        "[] []",
        "{\"a\":1}}",
        "\"\\",
        "[\"\\u\"]",
        "NaN",
        "1"
        "\x01",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_bad(bad[i]);
}

static void test_depth(void **state)
{
    char text[2 * JSON_READ_MAX_DEPTH + 3];
    struct json_value *v;
    size_t n = 0;

    for (int i = 0; i < JSON_READ_MAX_DEPTH; i++)
        text[n++] = '[';
    for (int i = 0; i < JSON_READ_MAX_DEPTH; i++)
        text[n++] = ']';
    assert_int_equal(json_parse(text, n, &v), 0);
    json_free(v);
    n = 0;
    for (int i = 0; i <= JSON_READ_MAX_DEPTH; i++)
        text[n++] = '[';
    for (int i = 0; i <= JSON_READ_MAX_DEPTH; i++)
        text[n++] = ']';
    assert_int_equal(json_parse(text, n, &v), -EINVAL);
    assert_null(v);
}

static void test_emit_round_trip(void **state)
{
    static const char text[] = "{\"ok\":true,\"a\":[1,-2,1.5,null,false,\"x\\\"\\u0001\"],"
                               "\"o\":{\"k\":18446744073709551615}}";
    struct json_value *v = parse_ok(text);
    struct json_buf b;

    json_buf_init(&b, 4096);
    json_emit(&b, NULL, v);
    assert_int_equal(json_buf_error(&b), 0);
    assert_string_equal(b.data, text);
    /* Inside a wrapper, under a key; NULL is null. */
    json_buf_reset(&b);
    json_begin_object(&b, NULL);
    json_emit(&b, "in", json_get(v, "o"));
    json_emit(&b, "none", NULL);
    json_end_object(&b);
    assert_string_equal(b.data, "{\"in\":{\"k\":18446744073709551615},\"none\":null}");
    json_buf_free(&b);
    json_free(v);
}

static void test_text(void **state)
{
    struct json_value *v = parse_ok("[\"a\\u001b[2Jb\\u007f\",-3,7,true,null,[1],{},0.25]");
    const struct json_value *e = v->child;
    char buf[64], small[4];

    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "a?[2Jb?");
    json_text(e, small, sizeof(small));
    assert_string_equal(small, "a?[");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "-3");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "7");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "true");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "null");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "[...]");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "{...}");
    e = e->next;
    json_text(e, buf, sizeof(buf));
    assert_string_equal(buf, "0.25");
    json_text(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "-");
    json_free(v);
}

static char *print_rows(struct ctl_rows *t, const char *indent)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    assert_non_null(f);
    assert_int_equal(ctl_rows_print(t, f, indent), 0);
    fclose(f);
    return out;
}

static void test_rows(void **state)
{
    static const char *const skip[] = {"ok", NULL};
    struct json_value *v = parse_ok("{\"ok\":true,\"pid\":12,\"devices\":[{\"type\":\"uart\"},"
                                    "{\"type\":\"x\\u001by\"}],\"e\":[]}");
    struct ctl_rows t;
    char *out;

    ctl_rows_init(&t, 3);
    ctl_rows_add(&t, "A", "BB", "C");
    ctl_rows_add(&t, "long", NULL, "\x1b[31mred");
    ctl_rows_add(&t, "\xc3\xa9", "x", "");
    out = print_rows(&t, "  ");
    assert_string_equal(out, "  A     BB  C\n"
                             "  long  -   ?[31mred\n"
                             "  \xc3\xa9     x   \n");
    free(out);
    ctl_rows_free(&t);

    ctl_rows_init(&t, 2);
    ctl_rows_flatten(&t, NULL, v, skip);
    out = print_rows(&t, "");
    assert_string_equal(out, "pid             12\n"
                             "devices.0.type  uart\n"
                             "devices.1.type  x?y\n");
    free(out);
    ctl_rows_free(&t);
    json_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),  cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth),   cmocka_unit_test(test_emit_round_trip),
        cmocka_unit_test(test_text),    cmocka_unit_test(test_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
