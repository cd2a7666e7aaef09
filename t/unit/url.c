/*
 * url: UTF-8 checking, percent-decoding and query-string parsing.  Every
 * malformed input must be refused, never repaired.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

/* utf8_valid() over a C string. */
static bool
valid(const char *s)
{
	return utf8_valid(s, strlen(s));
}

static void
test_utf8_valid(void **state)
{
	(void)state;
	assert_true(valid(""));
	assert_true(valid("plain ascii"));
	assert_true(valid("caf\xc3\xa9"));			/* U+00E9 */
	assert_true(valid("\xc2\x80"));			/* U+0080 */
	assert_true(valid("\xdf\xbf"));			/* U+07FF */
	assert_true(valid("\xe0\xa0\x80"));			/* U+0800 */
	assert_true(valid("\xe2\x82\xac"));			/* U+20AC */
	assert_true(valid("\xed\x9f\xbf"));			/* U+D7FF */
	assert_true(valid("\xee\x80\x80"));			/* U+E000 */
	assert_true(valid("\xef\xbf\xbf"));			/* U+FFFF */
	assert_true(valid("\xf0\x90\x80\x80"));		/* U+10000 */
	assert_true(valid("\xf0\x9f\x98\x80"));		/* U+1F600 */
	assert_true(valid("\xf4\x8f\xbf\xbf"));		/* U+10FFFF */
	/* An embedded NUL is a code point like any other here. */
	assert_true(utf8_valid("a\0b", 3));
	/* Only the first len bytes count. */
	assert_true(utf8_valid("ab\xff", 2));
}

static void
test_utf8_invalid(void **state)
{
	(void)state;
	/* Overlong encodings. */
	assert_false(valid("\xc0\x80"));
	assert_false(valid("\xc1\xbf"));
	assert_false(valid("\xe0\x80\x80"));
	assert_false(valid("\xe0\x9f\xbf"));
	assert_false(valid("\xf0\x80\x80\x80"));
	assert_false(valid("\xf0\x8f\xbf\xbf"));
	/* UTF-16 surrogates. */
	assert_false(valid("\xed\xa0\x80"));
	assert_false(valid("\xed\xbf\xbf"));
	/* Beyond U+10FFFF. */
	assert_false(valid("\xf4\x90\x80\x80"));
	assert_false(valid("\xf5\x80\x80\x80"));
	assert_false(valid("\xff"));
	assert_false(valid("\xfe"));
	/* Lone continuation bytes. */
	assert_false(valid("\x80"));
	assert_false(valid("a\xbf" "b"));
	/* Truncated sequences, at the end and before an ASCII byte. */
	assert_false(valid("\xc3"));
	assert_false(valid("\xe2\x82"));
	assert_false(valid("\xf0\x9f\x98"));
	assert_false(valid("\xc3(" ));
	assert_false(valid("\xe2(\xac"));
	assert_false(valid("\xf0\x9f\x98" "a"));
	/* A valid sequence cut short by len. */
	assert_false(utf8_valid("\xe2\x82\xac", 2));
}

static void
test_utf8_length(void **state)
{
	(void)state;
	assert_int_equal(utf8_length(""), 0);
	assert_int_equal(utf8_length("abc"), 3);
	assert_int_equal(utf8_length("h\xc3\xa9llo"), 5);
	assert_int_equal(utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), 2);
}

/* Decode a C string; returns the result of url_decode(). */
static long
decode(const char *s, bool plus_space, char *out)
{
	return url_decode(s, strlen(s), plus_space, out);
}

static void
test_url_decode(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(decode("", false, out), 0);
	assert_string_equal(out, "");
	assert_int_equal(decode("abc", false, out), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(decode("a%20b", false, out), 3);
	assert_string_equal(out, "a b");
	/* Hex digits in either case. */
	assert_int_equal(decode("%4a%4A", false, out), 2);
	assert_string_equal(out, "JJ");
	/* %2F is a byte of the segment, not a separator. */
	assert_int_equal(decode("a%2Fb", false, out), 3);
	assert_string_equal(out, "a/b");
	/* A decoded '%' is not decoded again. */
	assert_int_equal(decode("%2541", false, out), 3);
	assert_string_equal(out, "%41");
	assert_int_equal(decode("caf%C3%A9", false, out), 5);
	assert_string_equal(out, "caf\xc3\xa9");
	/* Raw UTF-8 passes through. */
	assert_int_equal(decode("caf\xc3\xa9", false, out), 5);
	assert_string_equal(out, "caf\xc3\xa9");
}

static void
test_url_decode_plus(void **state)
{
	char	 out[16];

	(void)state;
	assert_int_equal(decode("a+b", false, out), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(decode("a+b", true, out), 3);
	assert_string_equal(out, "a b");
	/* An escaped plus is a plus either way. */
	assert_int_equal(decode("%2B", true, out), 1);
	assert_string_equal(out, "+");
}

static void
test_url_decode_bad(void **state)
{
	char	 out[16];

	(void)state;
	assert_int_equal(decode("%", false, out), -1);
	assert_int_equal(decode("%4", false, out), -1);
	assert_int_equal(decode("a%0", false, out), -1);
	assert_int_equal(decode("%zz", false, out), -1);
	assert_int_equal(decode("%g0", false, out), -1);
	assert_int_equal(decode("%0g", false, out), -1);
	assert_int_equal(decode("%%41", false, out), -1);
	assert_int_equal(decode("%00", false, out), -1);
	assert_int_equal(decode("a%00b", true, out), -1);
	assert_int_equal(decode("%C3%28", false, out), -1);
	assert_int_equal(decode("%C0%80", false, out), -1);
	assert_int_equal(decode("%ED%A0%80", false, out), -1);
	assert_int_equal(decode("%FF", false, out), -1);
	assert_int_equal(decode("\xff", false, out), -1);
	/* A raw NUL inside the given length is refused too. */
	assert_int_equal(url_decode("a\0b", 3, false, out), -1);
	/* Only len bytes are read: the bad escape lies beyond them. */
	assert_int_equal(url_decode("ab%zz", 2, false, out), 2);
	assert_string_equal(out, "ab");
	/* An escape cut by len is malformed. */
	assert_int_equal(url_decode("a%41", 3, false, out), -1);
}

static void
test_query_empty(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("", &q), QUERY_OK);
	assert_int_equal(q.n, 0);
	assert_null(query_get(&q, "a"));
	query_free(&q);
	assert_int_equal(query_parse(NULL, &q), QUERY_OK);
	assert_int_equal(q.n, 0);
	query_free(&q);
	assert_int_equal(query_parse("&&&", &q), QUERY_OK);
	assert_int_equal(q.n, 0);
	query_free(&q);
}

static void
test_query_pairs(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("a=1&b=2", &q), QUERY_OK);
	assert_int_equal(q.n, 2);
	assert_string_equal(q.p[0].key, "a");
	assert_string_equal(q.p[0].value, "1");
	assert_string_equal(q.p[1].key, "b");
	assert_string_equal(q.p[1].value, "2");
	assert_string_equal(query_get(&q, "a"), "1");
	assert_string_equal(query_get(&q, "b"), "2");
	assert_null(query_get(&q, "c"));
	assert_null(query_get(&q, "A"));
	assert_null(query_get(&q, ""));
	query_free(&q);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
}

static void
test_query_no_value(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("a", &q), QUERY_OK);
	assert_int_equal(q.n, 1);
	assert_string_equal(query_get(&q, "a"), "");
	query_free(&q);
	assert_int_equal(query_parse("a=", &q), QUERY_OK);
	assert_int_equal(q.n, 1);
	assert_string_equal(query_get(&q, "a"), "");
	query_free(&q);
	/* Only the first '=' splits. */
	assert_int_equal(query_parse("a==b=", &q), QUERY_OK);
	assert_string_equal(query_get(&q, "a"), "=b=");
	query_free(&q);
	assert_int_equal(query_parse("x&y=2&z", &q), QUERY_OK);
	assert_int_equal(q.n, 3);
	assert_string_equal(query_get(&q, "x"), "");
	assert_string_equal(query_get(&q, "y"), "2");
	assert_string_equal(query_get(&q, "z"), "");
	query_free(&q);
}

static void
test_query_empty_pieces(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("&&a=1&", &q), QUERY_OK);
	assert_int_equal(q.n, 1);
	assert_string_equal(query_get(&q, "a"), "1");
	query_free(&q);
	assert_int_equal(query_parse("a=1&&b=2", &q), QUERY_OK);
	assert_int_equal(q.n, 2);
	assert_string_equal(query_get(&q, "b"), "2");
	query_free(&q);
}

static void
test_query_empty_key(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("=x", &q), QUERY_EMPTY_KEY);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
	assert_int_equal(query_parse("a=1&=x", &q), QUERY_EMPTY_KEY);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
	assert_int_equal(query_parse("=", &q), QUERY_EMPTY_KEY);
}

static void
test_query_duplicate(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("a=1&a=2", &q), QUERY_DUPLICATE);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
	assert_int_equal(query_parse("a&a", &q), QUERY_DUPLICATE);
	/* Duplicates are found after decoding. */
	assert_int_equal(query_parse("a=1&%61=2", &q), QUERY_DUPLICATE);
	assert_int_equal(query_parse("a+b=1&a%20b=2", &q), QUERY_DUPLICATE);
	/* Keys differ by case. */
	assert_int_equal(query_parse("a=1&A=2", &q), QUERY_OK);
	assert_int_equal(q.n, 2);
	query_free(&q);
}

/* "k0=0&k1=1&..." with n parameters. */
static void
make_query(char *out, size_t size, int n)
{
	size_t	 len = 0;
	int	 i;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, size - len, "%sk%d=%d",
		    i ? "&" : "", i, i);
	assert_true(len < size);
}

static void
test_query_too_many(void **state)
{
	struct query	 q;
	char		 qs[1024];

	(void)state;
	make_query(qs, sizeof(qs), QUERY_PARAMS_MAX);
	assert_int_equal(query_parse(qs, &q), QUERY_OK);
	assert_int_equal(q.n, QUERY_PARAMS_MAX);
	assert_string_equal(query_get(&q, "k31"), "31");
	query_free(&q);
	make_query(qs, sizeof(qs), QUERY_PARAMS_MAX + 1);
	assert_int_equal(query_parse(qs, &q), QUERY_TOO_MANY);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
	/* Empty pieces do not count. */
	make_query(qs, sizeof(qs), QUERY_PARAMS_MAX);
	strcat(qs, "&&&&");
	assert_int_equal(query_parse(qs, &q), QUERY_OK);
	query_free(&q);
}

static void
test_query_too_long(void **state)
{
	struct query	 q;
	char		*qs;

	(void)state;
	qs = malloc(QUERY_LEN_MAX + 2);
	assert_non_null(qs);
	memset(qs, 'v', QUERY_LEN_MAX + 1);
	qs[0] = 'k';
	qs[1] = '=';
	qs[QUERY_LEN_MAX] = '\0';
	assert_int_equal(query_parse(qs, &q), QUERY_OK);
	assert_int_equal(strlen(query_get(&q, "k")), QUERY_LEN_MAX - 2);
	query_free(&q);
	qs[QUERY_LEN_MAX] = 'v';
	qs[QUERY_LEN_MAX + 1] = '\0';
	assert_int_equal(query_parse(qs, &q), QUERY_TOO_LONG);
	assert_int_equal(q.n, 0);
	assert_null(q.storage);
	free(qs);
}

static void
test_query_decoding(void **state)
{
	struct query	 q;

	(void)state;
	assert_int_equal(query_parse("q=a+b%2Bc&na%6De=x%26y%3Dz", &q),
	    QUERY_OK);
	assert_int_equal(q.n, 2);
	assert_string_equal(query_get(&q, "q"), "a b+c");
	/* Escapes in keys are decoded too; %26 and %3D do not split. */
	assert_string_equal(query_get(&q, "name"), "x&y=z");
	query_free(&q);
	assert_int_equal(query_parse("s=caf%C3%A9", &q), QUERY_OK);
	assert_string_equal(query_get(&q, "s"), "caf\xc3\xa9");
	query_free(&q);
}

static void
test_query_bad_encoding(void **state)
{
	static const char *const bad[] = {
		"a=%zz", "a=%4", "a=%", "a=%00", "a=%C3%28", "%zz=1",
		"a%00=1", "b=1&a=%ED%A0%80", "a=\xff",
	};
	struct query	 q;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(query_parse(bad[i], &q), QUERY_BAD_ENCODING);
		assert_int_equal(q.n, 0);
		assert_null(q.storage);
	}
}

static void
test_query_strerror(void **state)
{
	int	 e;

	(void)state;
	for (e = 0; e < QUERY__MAX; e++) {
		assert_non_null(query_strerror((enum query_error)e));
		assert_true(strlen(query_strerror((enum query_error)e)) > 0);
	}
	assert_string_equal(query_strerror(QUERY__MAX), "unknown error");
	assert_non_null(strstr(query_strerror(QUERY_DUPLICATE),
	    "more than once"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_invalid),
		cmocka_unit_test(test_utf8_length),
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_url_decode_plus),
		cmocka_unit_test(test_url_decode_bad),
		cmocka_unit_test(test_query_empty),
		cmocka_unit_test(test_query_pairs),
		cmocka_unit_test(test_query_no_value),
		cmocka_unit_test(test_query_empty_pieces),
		cmocka_unit_test(test_query_empty_key),
		cmocka_unit_test(test_query_duplicate),
		cmocka_unit_test(test_query_too_many),
		cmocka_unit_test(test_query_too_long),
		cmocka_unit_test(test_query_decoding),
		cmocka_unit_test(test_query_bad_encoding),
		cmocka_unit_test(test_query_strerror),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
