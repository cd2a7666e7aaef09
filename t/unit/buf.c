/*
 * buf and jsonw: the growable buffer with its hard cap and sticky failure
 * flag, JSON string escaping, and the streaming JSON writer on top.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "jsonw.h"

static void
test_buf_empty(void **state)
{
	struct buf	 b = BUF_INIT(0);

	(void)state;
	assert_null(b.data);
	assert_string_equal(buf_cstr(&b), "");
	assert_true(buf_add(&b, "", 0));
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

static void
test_buf_growth(void **state)
{
	struct buf	 b = BUF_INIT(0);
	size_t		 i;

	(void)state;
	for (i = 0; i < 100000; i++)
		assert_true(buf_addch(&b, (char)('a' + i % 26)));
	assert_false(b.failed);
	assert_int_equal(b.len, 100000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (i = 0; i < 100000; i++)
		if (b.data[i] != (char)('a' + i % 26))
			fail_msg("byte %zu is %c", i, b.data[i]);
	assert_true(buf_addstr(&b, "tail"));
	assert_string_equal(b.data + 100000, "tail");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_cstr(&b), "");
	assert_true(buf_add(&b, "x\0y", 3));
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "x\0y", 4);
	buf_release(&b);
}

static void
test_buf_cap(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 10);
	assert_true(buf_addstr(&b, "12345"));
	assert_true(buf_addstr(&b, "67890"));
	assert_int_equal(b.len, 10);
	assert_false(b.failed);
	/* One byte more than the cap fails, and leaves the data alone. */
	assert_false(buf_addch(&b, 'x'));
	assert_true(b.failed);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "1234567890");
	buf_release(&b);

	buf_init(&b, 10);
	assert_true(buf_addstr(&b, "12345"));
	assert_false(buf_addstr(&b, "678901"));
	assert_true(b.failed);
	assert_string_equal(b.data, "12345");
	/* Sticky: even what would fit is refused now. */
	assert_false(buf_addch(&b, 'x'));
	assert_false(buf_addf(&b, "%d", 1));
	assert_false(buf_add(&b, "", 0));
	assert_false(buf_grow(&b, 0));
	assert_string_equal(b.data, "12345");
	assert_int_equal(b.len, 5);
	/* A reset starts over. */
	buf_reset(&b);
	assert_false(b.failed);
	assert_true(buf_addstr(&b, "abc"));
	assert_string_equal(b.data, "abc");
	buf_release(&b);
	/* The cap survives a release. */
	assert_int_equal(b.max, 10);
	assert_false(buf_addstr(&b, "01234567890"));
	assert_true(b.failed);
	buf_release(&b);
}

static void
test_buf_grow_overflow(void **state)
{
	struct buf	 b = BUF_INIT(0);

	(void)state;
	assert_true(buf_addstr(&b, "abc"));
	assert_false(buf_grow(&b, SIZE_MAX));
	assert_true(b.failed);
	assert_string_equal(b.data, "abc");
	buf_reset(&b);
	assert_true(buf_addstr(&b, "abc"));
	/* len + extra would wrap around. */
	assert_false(buf_grow(&b, SIZE_MAX - 2));
	assert_true(b.failed);
	assert_string_equal(b.data, "abc");
	buf_release(&b);
}

static void
test_buf_addf(void **state)
{
	struct buf	 b = BUF_INIT(0);
	char		*big;

	(void)state;
	assert_true(buf_addf(&b, "%d-%s-%c-%05.1f", 42, "x", 'y', 3.14159));
	assert_string_equal(b.data, "42-x-y-003.1");
	assert_true(buf_addf(&b, "%s", ""));
	assert_string_equal(b.data, "42-x-y-003.1");
	assert_true(buf_addf(&b, "|%lld|%zu", LLONG_MIN, (size_t)7));
	assert_string_equal(b.data, "42-x-y-003.1|-9223372036854775808|7");
	buf_release(&b);

	/* Text longer than the room there is needs a second pass. */
	big = malloc(10001);
	assert_non_null(big);
	memset(big, 'q', 10000);
	big[10000] = '\0';
	assert_true(buf_addstr(&b, "<"));
	assert_true(buf_addf(&b, "%s>%d", big, 7));
	assert_int_equal(b.len, 10003);
	assert_int_equal(b.data[0], '<');
	assert_memory_equal(b.data + 1, big, 10000);
	assert_string_equal(b.data + 10001, ">7");
	assert_int_equal(strlen(b.data), b.len);
	buf_release(&b);
	free(big);
}

static void
test_buf_addf_cap(void **state)
{
	struct buf	 b = BUF_INIT(8);

	(void)state;
	assert_true(buf_addf(&b, "%s", "abcd"));
	/* There is room in the allocation, but not under the cap. */
	assert_true(b.cap > 20);
	assert_false(buf_addf(&b, "%s", "0123456789"));
	assert_true(b.failed);
	assert_int_equal(b.len, 4);
	/* The partial text written into the room is cut off again. */
	assert_string_equal(b.data, "abcd");
	buf_release(&b);

	/* Exactly up to the cap is fine. */
	assert_true(buf_addf(&b, "%08d", 1));
	assert_string_equal(b.data, "00000001");
	assert_false(b.failed);
	buf_release(&b);
}

static void
test_buf_add_int(void **state)
{
	static const long long	 v[] = { 0, 7, -7, 10, 1234567890, LLONG_MAX,
				    LLONG_MIN };
	struct buf		 b = BUF_INIT(0);
	char			 want[32], num[FMT_UINT_MAX];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_reset(&b);
		assert_true(buf_add_int(&b, v[i]));
		snprintf(want, sizeof(want), "%lld", v[i]);
		assert_string_equal(buf_cstr(&b), want);
	}
	assert_int_equal(fmt_uint(num, 5, 3), 3);
	assert_memory_equal(num, "005", 3);
	assert_int_equal(fmt_uint(num, 12345, 3), 5);
	assert_memory_equal(num, "12345", 5);
	assert_int_equal(fmt_uint(num, ULLONG_MAX, 1), 20);
	assert_memory_equal(num, "18446744073709551615", 20);
	buf_release(&b);
}

static void
test_buf_detach(void **state)
{
	struct buf	 b = BUF_INIT(100);
	char		*s;
	size_t		 len = 99;

	(void)state;
	assert_true(buf_addstr(&b, "hello"));
	s = buf_detach(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "hello");
	assert_int_equal(len, 5);
	/* The buffer is empty again and no longer owns the data. */
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 100);
	assert_true(buf_addstr(&b, "again"));
	assert_ptr_not_equal(b.data, s);
	assert_string_equal(s, "hello");
	free(s);
	buf_release(&b);

	/* Empty: an allocated empty string. */
	s = buf_detach(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	free(s);

	/* Failed: NULL, and released. */
	buf_init(&b, 3);
	assert_false(buf_addstr(&b, "toolong"));
	len = 99;
	assert_null(buf_detach(&b, &len));
	assert_int_equal(len, 99);
	assert_null(b.data);
	assert_false(b.failed);
}

/* The JSON literal buf_add_json_string() makes of s; caller frees. */
static char *
json_literal(const char *s)
{
	struct buf	 b = BUF_INIT(0);

	assert_true(buf_add_json_string(&b, s));
	return buf_detach(&b, NULL);
}

/* Parse a JSON string literal with jansson; caller frees with json_decref. */
static json_t *
parse_literal(const char *lit)
{
	json_error_t	 err;
	json_t		*v;

	v = json_loads(lit, JSON_DECODE_ANY, &err);
	if (v == NULL)
		fail_msg("not JSON: %s: %s", lit, err.text);
	assert_true(json_is_string(v));
	return v;
}

/* The literal of s is `want`, and it parses back to s. */
static void
check_escape(const char *s, const char *want)
{
	char	*lit = json_literal(s);
	json_t	*v;

	assert_string_equal(lit, want);
	v = parse_literal(lit);
	assert_int_equal(json_string_length(v), strlen(s));
	assert_string_equal(json_string_value(v), s);
	json_decref(v);
	free(lit);
}

static void
test_json_string_escapes(void **state)
{
	(void)state;
	check_escape("", "\"\"");
	check_escape("plain", "\"plain\"");
	check_escape("say \"hi\"", "\"say \\\"hi\\\"\"");
	check_escape("a\\b", "\"a\\\\b\"");
	check_escape("l1\nl2\r\n\tx", "\"l1\\nl2\\r\\n\\tx\"");
	check_escape("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
	check_escape("del\x7f", "\"del\\u007f\"");
	/* '/' needs no escape. */
	check_escape("a/b", "\"a/b\"");
	/* Valid UTF-8 passes through untouched. */
	check_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void
test_json_string_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff", "a\xc3", "\xc3(", "\xc0\x80", "\xed\xa0\x80",
		"\xf4\x90\x80\x80", "ok\xe2\x82", "\"\xfe\\\n",
	};
	char	*lit;
	json_t	*v;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lit = json_literal(bad[i]);
		v = parse_literal(lit);
		json_decref(v);
		free(lit);
	}
	/* Every byte at or above 0x80 is escaped as its own code point. */
	lit = json_literal("a\xff" "b");
	assert_string_equal(lit, "\"a\\u00ffb\"");
	free(lit);
	lit = json_literal("\xc3\xa9\xff");
	assert_string_equal(lit, "\"\\u00c3\\u00a9\\u00ff\"");
	v = parse_literal(lit);
	/* U+00C3 U+00A9 U+00FF, two bytes each in UTF-8. */
	assert_string_equal(json_string_value(v),
	    "\xc3\x83\xc2\xa9\xc3\xbf");
	json_decref(v);
	free(lit);
}

static void
test_json_string_appends(void **state)
{
	struct buf	 b = BUF_INIT(0);

	(void)state;
	assert_true(buf_addstr(&b, "["));
	assert_true(buf_add_json_string(&b, "a"));
	assert_true(buf_addch(&b, ','));
	assert_true(buf_add_json_string(&b, "b\n"));
	assert_true(buf_addch(&b, ']'));
	assert_string_equal(b.data, "[\"a\",\"b\\n\"]");
	buf_release(&b);
	/* Under a cap the literal fails as a whole. */
	buf_init(&b, 6);
	assert_false(buf_add_json_string(&b, "abcdef"));
	assert_true(b.failed);
	buf_release(&b);
}

/* Finish a writer's buffer; compare it; release it. */
static void
check_written(struct buf *b, const char *want)
{
	assert_false(b->failed);
	assert_string_equal(buf_cstr(b), want);
	buf_release(b);
}

static void
test_jsonw_nesting(void **state)
{
	struct buf	 b = BUF_INIT(0);
	struct jsonw	 w;

	(void)state;
	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_key(&w, "a");
	jsonw_array(&w);
	jsonw_int(&w, 1);
	jsonw_int(&w, -2);
	jsonw_object(&w);
	jsonw_kv_null(&w, "b");
	jsonw_object_end(&w);
	jsonw_array(&w);
	jsonw_array_end(&w);
	jsonw_array(&w);
	jsonw_string(&w, "x");
	jsonw_array_end(&w);
	jsonw_array_end(&w);
	jsonw_kv_bool(&w, "c", true);
	jsonw_kv_bool(&w, "d", false);
	jsonw_kv_string(&w, "e", "q\"uote");
	jsonw_kv_string(&w, "f", NULL);
	jsonw_kv_int(&w, "g", LLONG_MIN);
	jsonw_key(&w, "h");
	jsonw_object(&w);
	jsonw_object_end(&w);
	jsonw_object_end(&w);
	check_written(&b, "{\"a\":[1,-2,{\"b\":null},[],[\"x\"]],"
	    "\"c\":true,\"d\":false,\"e\":\"q\\\"uote\",\"f\":null,"
	    "\"g\":-9223372036854775808,\"h\":{}}");
}

static void
test_jsonw_top_level(void **state)
{
	struct buf	 b = BUF_INIT(0);
	struct jsonw	 w;

	(void)state;
	jsonw_init(&w, &b);
	jsonw_array(&w);
	jsonw_null(&w);
	jsonw_bool(&w, true);
	jsonw_double(&w, 0.5);
	jsonw_double(&w, NAN);
	jsonw_double(&w, INFINITY);
	jsonw_double(&w, -INFINITY);
	jsonw_string(&w, "");
	jsonw_array_end(&w);
	check_written(&b, "[null,true,0.5,null,null,null,\"\"]");

	jsonw_init(&w, &b);
	jsonw_string(&w, "alone");
	check_written(&b, "\"alone\"");
}

/* jsonw_value() of v, parsed back by jansson, equals v. */
static void
check_round_trip(json_t *v)
{
	struct buf	 b = BUF_INIT(0);
	struct jsonw	 w;
	json_error_t	 err;
	json_t		*back;

	jsonw_init(&w, &b);
	jsonw_value(&w, v);
	assert_false(b.failed);
	back = json_loads(buf_cstr(&b), JSON_DECODE_ANY, &err);
	if (back == NULL)
		fail_msg("not JSON: %s: %s", buf_cstr(&b), err.text);
	if (!json_equal(back, v))
		fail_msg("round trip changed the value: %s", buf_cstr(&b));
	json_decref(back);
	buf_release(&b);
}

static void
test_jsonw_value_round_trip(void **state)
{
	struct buf	 b = BUF_INIT(0);
	struct jsonw	 w;
	json_t		*v;

	(void)state;
	v = json_pack("{s:s, s:i, s:I, s:I, s:b, s:b, s:n, s:[i, s, [], {}],"
	    " s:{s:{s:[s]}}, s:s, s:s, s:o, s:[]}",
	    "name", "plan \"free\"",
	    "zero", 0,
	    "min", (json_int_t)LLONG_MIN,
	    "max", (json_int_t)LLONG_MAX,
	    "t", 1, "f", 0,
	    "nothing",
	    "list", 1, "two",
	    "deep", "a", "b", "c",
	    "utf8", "caf\xc3\xa9 \xf0\x9f\x98\x80",
	    "ctl", "tab\there\nline\x01\x7f",
	    "ratio", json_real(0.25),
	    "empty");
	assert_non_null(v);
	check_round_trip(v);
	json_decref(v);

	/* Object key order is kept. */
	v = json_pack("{s:i, s:i, s:i}", "z", 1, "a", 2, "m", 3);
	jsonw_init(&w, &b);
	jsonw_value(&w, v);
	check_written(&b, "{\"z\":1,\"a\":2,\"m\":3}");
	json_decref(v);

	v = json_array();
	check_round_trip(v);
	json_decref(v);
	v = json_string("top");
	check_round_trip(v);
	json_decref(v);
}

/*
 * A real survives the trip with its full precision: a response built
 * from a jansson tree must say what json_dumps() would have said.
 */
static void
test_jsonw_value_reals(void **state)
{
	static const double reals[] = {
		0.1, -2.5, 3.141592653589793, 1234567.125, 1e-7,
		6.02214076e23, 0.30000000000000004, -1.7976931348623157e308,
		4.9406564584124654e-324,
	};
	json_t	*v;
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		v = json_pack("[f]", reals[i]);
		check_round_trip(v);
		json_decref(v);
	}
}

static void
test_jsonw_depth(void **state)
{
	struct buf	 b = BUF_INIT(0);
	struct jsonw	 w;
	json_t		*v, *inner, *a;
	int		 i;

	(void)state;
	/* JSONW_DEPTH_MAX - 1 levels fit. */
	jsonw_init(&w, &b);
	for (i = 0; i < JSONW_DEPTH_MAX - 1; i++)
		jsonw_array(&w);
	for (i = 0; i < JSONW_DEPTH_MAX - 1; i++)
		jsonw_array_end(&w);
	assert_false(b.failed);
	assert_int_equal(b.len, 2 * (JSONW_DEPTH_MAX - 1));
	buf_release(&b);

	/* One more fails the buffer. */
	jsonw_init(&w, &b);
	for (i = 0; i < JSONW_DEPTH_MAX; i++) {
		jsonw_object(&w);
		jsonw_key(&w, "k");
	}
	assert_true(b.failed);
	buf_release(&b);

	/* So does a jansson tree nested too deep. */
	v = inner = json_array();
	for (i = 0; i < JSONW_DEPTH_MAX; i++) {
		a = json_array();
		json_array_append_new(inner, a);
		inner = a;
	}
	jsonw_init(&w, &b);
	jsonw_value(&w, v);
	assert_true(b.failed);
	assert_null(buf_detach(&b, NULL));
	json_decref(v);
}

static void
test_jsonw_cap(void **state)
{
	struct buf	 b = BUF_INIT(16);
	struct jsonw	 w;

	(void)state;
	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_kv_string(&w, "key", "a value that is too long");
	jsonw_object_end(&w);
	assert_true(b.failed);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_empty),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_grow_overflow),
		cmocka_unit_test(test_buf_addf),
		cmocka_unit_test(test_buf_addf_cap),
		cmocka_unit_test(test_buf_add_int),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_json_string_escapes),
		cmocka_unit_test(test_json_string_invalid_utf8),
		cmocka_unit_test(test_json_string_appends),
		cmocka_unit_test(test_jsonw_nesting),
		cmocka_unit_test(test_jsonw_top_level),
		cmocka_unit_test(test_jsonw_value_round_trip),
		cmocka_unit_test(test_jsonw_value_reals),
		cmocka_unit_test(test_jsonw_depth),
		cmocka_unit_test(test_jsonw_cap),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
