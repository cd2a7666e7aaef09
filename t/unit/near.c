/*
 * near and the rate-limit batching: process-local copies of Redis values
 * (hits, nil copies, expiry, invalidation, the size bound), and the
 * decision one more request makes on a worker's rate-limit slot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"
#include "ratelimit.h"

#define K(s)	(s), strlen(s)

static void
test_near_put_get(void **state)
{
	static struct near	 c;
	const struct near_entry	*e;

	(void)state;
	near_init(&c, 1000, 100);
	assert_null(near_get(&c, K("a"), 0));
	assert_int_equal(near_put(&c, K("a"), "one", 3, 0), 0);
	assert_int_equal(near_put(&c, K("b"), NULL, 0, 0), 0);
	assert_non_null(e = near_get(&c, K("a"), 10));
	assert_memory_equal(e->val, "one", 4);
	assert_int_equal(e->vlen, 3);
	/* A nil copy is a copy: the key is known not to exist. */
	assert_non_null(e = near_get(&c, K("b"), 10));
	assert_null(e->val);
	/* Replacing a copy keeps one entry. */
	assert_int_equal(near_put(&c, K("a"), "two", 3, 20), 0);
	assert_int_equal(c.n, 2);
	assert_memory_equal(near_get(&c, K("a"), 30)->val, "two", 4);
	/* Keys are bytes, not prefixes. */
	assert_null(near_get(&c, K("ab"), 30));
	assert_null(near_get(&c, "a", 0, 30));
	near_clear(&c);
	assert_int_equal(c.n, 0);
}

static void
test_near_expiry(void **state)
{
	static struct near	 c;

	(void)state;
	near_init(&c, 1000, 100);
	near_put(&c, K("k"), "v", 1, 5000);
	assert_non_null(near_get(&c, K("k"), 5999));
	assert_null(near_get(&c, K("k"), 6000));
	assert_int_equal(c.n, 0);
	/* ttl 0: nothing is kept. */
	near_init(&c, 0, 100);
	assert_int_equal(near_put(&c, K("k"), "v", 1, 0), -1);
	assert_null(near_get(&c, K("k"), 0));
}

static void
test_near_invalidate(void **state)
{
	static struct near	 c;

	(void)state;
	near_init(&c, 1000, 100);
	near_put(&c, K("hxb:revoked:s1"), NULL, 0, 0);
	near_put(&c, K("hxb:revoked:s2"), NULL, 0, 0);
	near_put(&c, K("hxb:me:u1"), "{}", 2, 0);
	near_invalidate(&c, K("hxb:revoked:s1"));
	assert_null(near_get(&c, K("hxb:revoked:s1"), 1));
	assert_non_null(near_get(&c, K("hxb:revoked:s2"), 1));
	near_invalidate(&c, K("hxb:revoked:nope"));
	assert_int_equal(c.n, 2);
	/* NULL: everything, as after a flush or a lost connection. */
	near_invalidate(&c, NULL, 0);
	assert_int_equal(c.n, 0);
	assert_null(near_get(&c, K("hxb:me:u1"), 1));
}

static void
test_near_bound(void **state)
{
	static struct near	 c;
	char			 key[32];
	int			 i;

	(void)state;
	near_init(&c, 1000, 50);
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		assert_int_equal(near_put(&c, K(key), "x", 1, 0), 0);
	}
	assert_int_equal(c.n, 50);
	/* Full: everything goes, then the new copy is kept. */
	assert_int_equal(near_put(&c, K("one more"), "y", 1, 0), 0);
	assert_int_equal(c.n, 1);
	assert_null(near_get(&c, K("key0"), 1));
	assert_non_null(near_get(&c, K("one more"), 1));
	near_clear(&c);
}

static void
test_ratelimit_batch(void **state)
{
	(void)state;
	assert_int_equal(ratelimit_batch(60, 32), 1);
	assert_int_equal(ratelimit_batch(127, 32), 1);
	assert_int_equal(ratelimit_batch(128, 32), 2);
	assert_int_equal(ratelimit_batch(256, 32), 4);
	assert_int_equal(ratelimit_batch(6000, 32), 32);
	assert_int_equal(ratelimit_batch(6000, 1), 1);
	assert_int_equal(ratelimit_batch(0, 32), 1);
}

/* What a lone worker does with 300 requests against a limit of 256. */
static void
test_ratelimit_step(void **state)
{
	struct ratelimit_slot	 s;
	long long		 total = 0, sends = 0, allowed = 0, i;
	long long		 b = ratelimit_batch(256, 32);

	(void)state;
	memset(&s, 0, sizeof(s));
	for (i = 0; i < 300; i++)
		switch (ratelimit_step(&s, 256, b)) {
		case RL_LOCAL:
			allowed++;
			break;
		case RL_SEND:
			/* What ratelimit_counted() does with Redis's answer. */
			total += s.pending;
			s.synced = total;
			s.pending = 0;
			sends++;
			if (total <= 256)
				allowed++;
			break;
		case RL_OVER:
			break;
		}
	/* Alone, it is exact: 256 allowed, then refused without asking. */
	assert_int_equal(allowed, 256);
	assert_int_equal(total, 256);
	/* Batches of 4 up to half the limit, then one by one. */
	assert_int_equal(sends, 128 / 4 + 128);
	/* Exact mode (batch 1): every request is sent. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(ratelimit_step(&s, 1000000, 1), RL_SEND);
	/* A total heard at the limit refuses without counting. */
	memset(&s, 0, sizeof(s));
	s.synced = 10;
	assert_int_equal(ratelimit_step(&s, 10, 4), RL_OVER);
	assert_int_equal(s.pending, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_near_put_get),
		cmocka_unit_test(test_near_expiry),
		cmocka_unit_test(test_near_invalidate),
		cmocka_unit_test(test_near_bound),
		cmocka_unit_test(test_ratelimit_batch),
		cmocka_unit_test(test_ratelimit_step),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("near", tests, NULL, NULL);
}
