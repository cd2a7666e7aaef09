/*
 * id: prefixed ULID identifiers.  Every kind has its prefix, every id is a
 * valid DNS label, ids from one generator only ever increase, and the
 * encoding is exactly the ULID one in lowercase.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "id.h"

#define MANY_IDS	10000

static const char *const want_prefix[ID__MAX] = {
	[ID_ORG] = "org-",
	[ID_WS] = "ws-",
	[ID_PRJ] = "prj-",
	[ID_GRP] = "grp-",
	[ID_ROLE] = "role-",
	[ID_USR] = "hxb-usr-",
	[ID_TASK] = "task-",
	[ID_SES] = "ses-",
	[ID_INV] = "inv-",
	[ID_RA] = "ra-",
	[ID_CRA] = "cra-",
};

/* An RFC 1123 label of [a-z0-9-], at most 63, from a letter, not to a dash. */
static bool
dns_label(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > 63 || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Lowercase Crockford base32: 0-9 a-h j k m n p-t v-z. */
static bool
crockford(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z' &&
	    strchr("ilou", c) == NULL);
}

static uint64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
test_prefixes(void **state)
{
	int	 k;

	(void)state;
	for (k = 0; k < ID__MAX; k++)
		assert_string_equal(id_prefix((enum id_kind)k), want_prefix[k]);
	assert_null(id_prefix(ID__MAX));
}

static void
test_new_every_kind(void **state)
{
	struct id_gen	 g = ID_GEN_INIT;
	char		 id[ID_BUFSZ];
	const char	*body;
	uint64_t	 before, after, t;
	size_t		 plen, i;
	int		 k;

	(void)state;
	for (k = 0; k < ID__MAX; k++) {
		before = now_ms();
		assert_int_equal(id_new(&g, (enum id_kind)k, id), 0);
		after = now_ms();
		plen = strlen(want_prefix[k]);
		assert_int_equal(strncmp(id, want_prefix[k], plen), 0);
		assert_int_equal(strlen(id), plen + ID_BODY_LEN);
		body = id + plen;
		for (i = 0; i < ID_BODY_LEN; i++)
			if (!crockford(body[i]))
				fail_msg("%s: '%c' is not Crockford base32",
				    id, body[i]);
		if (!dns_label(id))
			fail_msg("%s is not a DNS label", id);
		assert_true(id_valid(id, (enum id_kind)k));
		/* The time in it is the time it was made. */
		t = id_time_ms(id, (enum id_kind)k);
		assert_true(t >= before && t <= after + 1);
		/* It is valid only as its own kind. */
		assert_false(id_valid(id, (enum id_kind)((k + 1) % ID__MAX)));
	}
	assert_int_equal(id_new(&g, ID__MAX, id), -1);
}

static void
test_valid_rejects(void **state)
{
	char	 id[ID_BUFSZ], bad[ID_BUFSZ + 8];
	size_t	 i;

	(void)state;
	strcpy(id, "ws-01aryz6s41tsv4rrffq69g5fav");
	assert_true(id_valid(id, ID_WS));
	assert_false(id_valid(NULL, ID_WS));
	assert_false(id_valid("", ID_WS));
	assert_false(id_valid(id, ID__MAX));
	/* Wrong prefixes. */
	assert_false(id_valid(id, ID_ORG));
	assert_false(id_valid("wx-01aryz6s41tsv4rrffq69g5fav", ID_WS));
	assert_false(id_valid("WS-01aryz6s41tsv4rrffq69g5fav", ID_WS));
	assert_false(id_valid("ws01aryz6s41tsv4rrffq69g5fav", ID_WS));
	assert_false(id_valid("usr-01aryz6s41tsv4rrffq69g5fav", ID_USR));
	/* Uppercase, and the letters Crockford leaves out. */
	assert_false(id_valid("ws-01ARYZ6S41TSV4RRFFQ69G5FAV", ID_WS));
	for (i = 0; i < 4; i++) {
		strcpy(bad, id);
		bad[10] = "ilou"[i];
		assert_false(id_valid(bad, ID_WS));
	}
	strcpy(bad, id);
	bad[20] = 'A';
	assert_false(id_valid(bad, ID_WS));
	strcpy(bad, id);
	bad[20] = '-';
	assert_false(id_valid(bad, ID_WS));
	/* Wrong lengths. */
	strcpy(bad, id);
	bad[strlen(bad) - 1] = '\0';
	assert_false(id_valid(bad, ID_WS));
	strcpy(bad, id);
	strcat(bad, "0");
	assert_false(id_valid(bad, ID_WS));
	assert_false(id_valid("ws-", ID_WS));
	/* A first character above 7 would need more than 48 bits of time. */
	strcpy(bad, id);
	bad[3] = '7';
	assert_true(id_valid(bad, ID_WS));
	bad[3] = '8';
	assert_false(id_valid(bad, ID_WS));
	bad[3] = 'z';
	assert_false(id_valid(bad, ID_WS));
	assert_int_equal(id_time_ms(bad, ID_WS), 0);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_monotonic(void **state)
{
	struct id_gen	 g = ID_GEN_INIT;
	char		(*ids)[ID_BUFSZ];
	char		**sorted;
	size_t		 i;

	(void)state;
	ids = calloc(MANY_IDS, sizeof(*ids));
	sorted = calloc(MANY_IDS, sizeof(*sorted));
	assert_non_null(ids);
	assert_non_null(sorted);
	for (i = 0; i < MANY_IDS; i++) {
		assert_int_equal(id_new(&g, ID_TASK, ids[i]), 0);
		assert_true(id_valid(ids[i], ID_TASK));
		if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
			fail_msg("%s after %s", ids[i], ids[i - 1]);
		sorted[i] = ids[i];
	}
	/* Unique, checked on their own rather than through the order. */
	qsort(sorted, MANY_IDS, sizeof(*sorted), cmp_str);
	for (i = 1; i < MANY_IDS; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			fail_msg("%s twice", sorted[i]);
	free(sorted);
	free(ids);
}

/*
 * Within one millisecond, or when the clock steps back, the randomness of
 * the last id is incremented; if that overflows, the time moves on.
 */
static void
test_clock_step_back(void **state)
{
	struct id_gen	 g = ID_GEN_INIT;
	char		 a[ID_BUFSZ], b[ID_BUFSZ];
	uint64_t	 future = now_ms() + 86400000;

	(void)state;
	g.last_ms = future;
	memset(g.last_rand, 0, sizeof(g.last_rand));
	g.last_rand[9] = 0xfe;
	assert_int_equal(id_new(&g, ID_ORG, a), 0);
	assert_true(id_time_ms(a, ID_ORG) == future);
	/* ...fe + 1 = ...ff, which in 5-bit groups is 7, 31: "7z". */
	assert_string_equal(a + strlen("org-") + 10, "000000000000007z");
	assert_int_equal(id_new(&g, ID_ORG, b), 0);
	assert_true(strcmp(a, b) < 0);
	assert_true(id_time_ms(b, ID_ORG) == future);
	assert_string_equal(b + strlen("org-") + 10, "0000000000000080");

	/* All ones overflows into the next millisecond. */
	memset(g.last_rand, 0xff, sizeof(g.last_rand));
	assert_int_equal(id_new(&g, ID_ORG, a), 0);
	assert_true(id_time_ms(a, ID_ORG) == future + 1);
	assert_string_equal(a + strlen("org-") + 10, "0000000000000000");
	assert_true(strcmp(b, a) < 0);
}

/*
 * ULID layout: 10 characters of big-endian 48-bit time, then 16 of
 * big-endian 80-bit randomness, 5 bits a character.
 */
static void
test_format_known(void **state)
{
	/* 5-bit groups 0, 1, ..., 15 packed into 80 bits:
	 * 00000 00001 00010 00011 00100 00101 00110 00111
	 * 01000 01001 01010 01011 01100 01101 01110 01111 */
	static const uint8_t low[10] = {
		0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf,
	};
	/* Groups 16, ..., 31: the letters, skipping i, l, o and u. */
	static const uint8_t high[10] = {
		0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf,
	};
	static const uint8_t zero[10], ones[10] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	char		 out[ID_BUFSZ];
	uint64_t	 max48 = (UINT64_C(1) << 48) - 1;

	(void)state;
	/* The ULID specification's example time, 01ARYZ6S41. */
	id_format(ID_WS, UINT64_C(1469918176385), low, out);
	assert_string_equal(out, "ws-01aryz6s410123456789abcdef");
	assert_true(id_valid(out, ID_WS));
	assert_true(id_time_ms(out, ID_WS) == UINT64_C(1469918176385));

	id_format(ID_USR, UINT64_C(1469918176385), high, out);
	assert_string_equal(out, "hxb-usr-01aryz6s41ghjkmnpqrstvwxyz");
	assert_true(id_time_ms(out, ID_USR) == UINT64_C(1469918176385));

	id_format(ID_ROLE, 0, zero, out);
	assert_string_equal(out, "role-00000000000000000000000000");
	assert_true(id_valid(out, ID_ROLE));
	assert_true(id_time_ms(out, ID_ROLE) == 0);

	/* 2^48 - 1 ms is the largest time: 7 then nine z. */
	id_format(ID_GRP, max48, ones, out);
	assert_string_equal(out, "grp-7zzzzzzzzzzzzzzzzzzzzzzzzz");
	assert_true(id_valid(out, ID_GRP));
	assert_true(id_time_ms(out, ID_GRP) == max48);

	/* 1 ms is the last time character; 32 ms the one before. */
	id_format(ID_PRJ, 1, zero, out);
	assert_string_equal(out, "prj-00000000010000000000000000");
	id_format(ID_PRJ, 32, zero, out);
	assert_string_equal(out, "prj-00000000100000000000000000");
	assert_true(id_time_ms(out, ID_PRJ) == 32);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_new_every_kind),
		cmocka_unit_test(test_valid_rejects),
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_clock_step_back),
		cmocka_unit_test(test_format_known),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("id", tests, NULL, NULL);
}
