/*
 * cursor: keyset-pagination cursors round-trip, and anything a client
 * made up is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"

/*
 * Unpadded base64url of raw[0..len), written independently of
 * cursor_encode() so that tests can make cursors the server never would.
 */
static void
b64url(const char *raw, size_t len, char *out, size_t size)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = (const unsigned char *)raw;
	size_t		 i, o = 0;
	unsigned long	 v;

	for (i = 0; i < len; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		assert_true(o + 5 < size);
		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = a[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

/* cursor_decode() of the base64url of a C string. */
static int
decode_raw(const char *raw, long long *key, char id[CURSOR_ID_MAX])
{
	char	 enc[CURSOR_MAX * 2];

	b64url(raw, strlen(raw), enc, sizeof(enc));
	return cursor_decode(enc, key, id);
}

static void
round_trip(long long key, const char *id)
{
	char		 enc[CURSOR_MAX], got[CURSOR_ID_MAX];
	long long	 k = 12345;
	size_t		 i;

	assert_int_equal(cursor_encode(key, id, enc), 0);
	assert_true(strlen(enc) < CURSOR_MAX);
	/* URL-safe without escaping: no '+', '/' or '=' padding. */
	for (i = 0; enc[i] != '\0'; i++)
		assert_null(strchr("+/=", enc[i]));
	assert_int_equal(cursor_decode(enc, &k, got), 0);
	assert_true(k == key);
	assert_string_equal(got, id);
}

static void
test_round_trip(void **state)
{
	char	 id[CURSOR_ID_MAX];

	(void)state;
	round_trip(0, "a");
	round_trip(1, "plan-free");
	round_trip(-1, "x");
	round_trip(-1700000000000000LL, "ws-01jd3k6q9n8x2c4v5b7m0p1r2t");
	round_trip(1700000000000000LL, "prj-01jd3k6q9n8x2c4v5b7m0p1r2t");
	round_trip(LLONG_MAX, "max");
	round_trip(LLONG_MIN, "min");
	/* Lengths that leave 0, 1 and 2 bytes over a group of three. */
	round_trip(5, "ab");
	round_trip(5, "abc");
	round_trip(5, "abcd");
	/* An id may itself contain dots and any printable ASCII. */
	round_trip(7, "a.b.c");
	round_trip(7, "!~\"'{}|\\^`");
	/* The longest id. */
	memset(id, 'z', CURSOR_ID_MAX - 1);
	id[CURSOR_ID_MAX - 1] = '\0';
	round_trip(LLONG_MIN, id);
}

static void
test_known_encoding(void **state)
{
	char	 enc[CURSOR_MAX];

	(void)state;
	/* base64url("5.abc") without padding. */
	assert_int_equal(cursor_encode(5, "abc", enc), 0);
	assert_string_equal(enc, "NS5hYmM");
	/* '>' and '?' end in 62 and 63: the URL-safe '-' and '_'. */
	assert_int_equal(cursor_encode(5, ">", enc), 0);
	assert_string_equal(enc, "NS4-");
	assert_int_equal(cursor_encode(5, "?", enc), 0);
	assert_string_equal(enc, "NS4_");
}

static void
test_encode_too_long(void **state)
{
	char	 id[CURSOR_ID_MAX + 1], enc[CURSOR_MAX];

	(void)state;
	memset(id, 'z', CURSOR_ID_MAX);
	id[CURSOR_ID_MAX] = '\0';
	assert_int_equal(cursor_encode(1, id, enc), -1);
}

static void
test_decode_garbage(void **state)
{
	static const char *const bad[] = {
		"", "A", "AAAAA", "!!!!", "NS5hYmM=", "NS5h+mM", "NS5h/mM",
		"NS5h YmM", "NS5h.YmM", "NS5hYm\xc3\xa9", "\n",
	};
	char		 id[CURSOR_ID_MAX] = "untouched";
	long long	 key = 77;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cursor_decode(bad[i], &key, id) != -1)
			fail_msg("accepted %s", bad[i]);
}

static void
test_decode_lengths(void **state)
{
	char		 enc[CURSOR_MAX + 8], id[CURSOR_ID_MAX];
	long long	 key;

	(void)state;
	/* Too long to be one of ours, even if it decodes. */
	memset(enc, 'A', CURSOR_MAX);
	enc[CURSOR_MAX] = '\0';
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	enc[CURSOR_MAX - 1] = '\0';
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	/* A length of 4n+1 is never base64. */
	assert_int_equal(cursor_encode(5, "abc", enc), 0);
	assert_string_equal(enc, "NS5hYmM");
	strcat(enc, "AA");
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	enc[5] = '\0';
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	/* Cut short after the dot ("NS4" is "5."): no id. */
	enc[3] = '\0';
	enc[2] = '4';
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	/* One character more than the "NS5hYmM" we made: a NUL byte. */
	assert_int_equal(cursor_encode(5, "abc", enc), 0);
	strcat(enc, "A");
	assert_int_equal(cursor_decode(enc, &key, id), -1);
}

static void
test_decode_structure(void **state)
{
	char		 id[CURSOR_ID_MAX], raw[CURSOR_ID_MAX + 8];
	long long	 key;

	(void)state;
	assert_int_equal(decode_raw("12.abc", &key, id), 0);
	assert_true(key == 12);
	assert_string_equal(id, "abc");
	/* No dot. */
	assert_int_equal(decode_raw("12abc", &key, id), -1);
	/* Empty id, empty key. */
	assert_int_equal(decode_raw("12.", &key, id), -1);
	assert_int_equal(decode_raw(".abc", &key, id), -1);
	assert_int_equal(decode_raw(".", &key, id), -1);
	/* A key that is not a number, or too big for one. */
	assert_int_equal(decode_raw("x.abc", &key, id), -1);
	assert_int_equal(decode_raw("12x.abc", &key, id), -1);
	assert_int_equal(decode_raw("1.5.abc", &key, id), 0);
	assert_int_equal(decode_raw("9223372036854775808.a", &key, id), -1);
	assert_int_equal(decode_raw("-9223372036854775809.a", &key, id), -1);
	/* Non-printable ids: space, control, DEL, bytes above 0x7e. */
	assert_int_equal(decode_raw("1.a b", &key, id), -1);
	assert_int_equal(decode_raw("1.a\tb", &key, id), -1);
	assert_int_equal(decode_raw("1.\x01", &key, id), -1);
	assert_int_equal(decode_raw("1.a\x7f", &key, id), -1);
	assert_int_equal(decode_raw("1.caf\xc3\xa9", &key, id), -1);
	/* An id of CURSOR_ID_MAX characters is one too many. */
	memcpy(raw, "1.", 2);
	memset(raw + 2, 'z', CURSOR_ID_MAX);
	raw[2 + CURSOR_ID_MAX] = '\0';
	assert_int_equal(decode_raw(raw, &key, id), -1);
	raw[1 + CURSOR_ID_MAX] = '\0';
	assert_int_equal(decode_raw(raw, &key, id), 0);
	assert_int_equal(strlen(id), CURSOR_ID_MAX - 1);
}

static void
test_decode_nul(void **state)
{
	char		 enc[64], id[CURSOR_ID_MAX];
	long long	 key;

	(void)state;
	b64url("1.a\0b", 5, enc, sizeof(enc));
	assert_int_equal(cursor_decode(enc, &key, id), -1);
	b64url("1\0.ab", 5, enc, sizeof(enc));
	assert_int_equal(cursor_decode(enc, &key, id), -1);
}

/*
 * The key must be written as cursor_encode() writes it: strtoll() alone
 * would also take a sign, leading blanks or zeros.
 */
static void
test_decode_noncanonical_key(void **state)
{
	char		 id[CURSOR_ID_MAX];
	long long	 key;

	(void)state;
	assert_int_equal(decode_raw("+5.abc", &key, id), -1);
	assert_int_equal(decode_raw(" 5.abc", &key, id), -1);
	assert_int_equal(decode_raw("\n5.abc", &key, id), -1);
	assert_int_equal(decode_raw("05.abc", &key, id), -1);
	assert_int_equal(decode_raw("-0.abc", &key, id), -1);
	assert_int_equal(decode_raw("-5.abc", &key, id), 0);
	assert_true(key == -5);
}

/*
 * The unused low bits of the last character must be zero, or two
 * different strings would name the same position.
 */
static void
test_decode_noncanonical_bits(void **state)
{
	char		 enc[CURSOR_MAX], id[CURSOR_ID_MAX];
	long long	 key;

	(void)state;
	/* "5.ab" is 4 bytes: the last of 6 characters carries 2 spare bits. */
	assert_int_equal(cursor_encode(5, "ab", enc), 0);
	assert_string_equal(enc, "NS5hYg");
	assert_int_equal(cursor_decode(enc, &key, id), 0);
	enc[5] = 'h';
	assert_int_equal(cursor_decode(enc, &key, id), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_known_encoding),
		cmocka_unit_test(test_encode_too_long),
		cmocka_unit_test(test_decode_garbage),
		cmocka_unit_test(test_decode_lengths),
		cmocka_unit_test(test_decode_structure),
		cmocka_unit_test(test_decode_nul),
		cmocka_unit_test(test_decode_noncanonical_key),
		cmocka_unit_test(test_decode_noncanonical_bits),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
