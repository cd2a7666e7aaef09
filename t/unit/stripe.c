/*
 * stripe: the Stripe-Signature check.  The expected signatures were made
 * with openssl (`openssl dgst -sha256 -hmac SECRET` over "<t>.<body>"),
 * not with the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stripe.h"

#define T	1700000000LL
#define BODY	"{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}"
/* HMAC-SHA256 of "1700000000." BODY, keyed with whsec_test_one, _two. */
#define SIG1	"9f71217f96bcef9ee44d08968a0fd4d8caae1b6e784f894ec6fd85c48ff2ce2b"
#define SIG2	"f0121085da18c0fe1126b771e0b5c45b8185c38076369609e20950b7da65dcf1"
#define WRONG	"0000000000000000000000000000000000000000000000000000000000000000"

static const char *const one[] = { "whsec_test_one" };
static const char *const two[] = { "whsec_test_two" };
static const char *const both[] = { "whsec_test_two", "whsec_test_one" };

static enum stripe_sig
check(const char *header, const char *body, const char *const *secrets,
    size_t n, long long now)
{
	return stripe_verify(header, body, strlen(body), secrets, n, now,
	    STRIPE_TOLERANCE_S);
}

static void
test_valid(void **state)
{
	(void)state;
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, one, 1, T),
	    STRIPE_SIG_OK);
	assert_int_equal(check("t=1700000000,v1=" SIG2, BODY, two, 1, T + 299),
	    STRIPE_SIG_OK);
	/* A v0 (and anything else) beside it is ignored. */
	assert_int_equal(check("t=1700000000,v0=abc,v1=" SIG1 ",x=y", BODY,
	    one, 1, T), STRIPE_SIG_OK);
}

static void
test_invalid(void **state)
{
	(void)state;
	assert_int_equal(check("t=1700000000,v1=" WRONG, BODY, one, 1, T),
	    STRIPE_SIG_MISMATCH);
	/* Another secret's signature, or a changed body or timestamp. */
	assert_int_equal(check("t=1700000000,v1=" SIG2, BODY, one, 1, T),
	    STRIPE_SIG_MISMATCH);
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY " ", one, 1, T),
	    STRIPE_SIG_MISMATCH);
	assert_int_equal(check("t=1700000001,v1=" SIG1, BODY, one, 1, T),
	    STRIPE_SIG_MISMATCH);
	/* No secret configured: nothing can match. */
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, one, 0, T),
	    STRIPE_SIG_MISMATCH);
}

static void
test_missing(void **state)
{
	(void)state;
	assert_int_equal(stripe_verify(NULL, BODY, strlen(BODY), one, 1, T,
	    300), STRIPE_SIG_MISSING);
	assert_int_equal(check("", BODY, one, 1, T), STRIPE_SIG_MISSING);
}

static void
test_stale(void **state)
{
	(void)state;
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, one, 1, T + 301),
	    STRIPE_SIG_STALE);
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, one, 1, T - 301),
	    STRIPE_SIG_STALE);
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, one, 1, T + 300),
	    STRIPE_SIG_OK);
}

static void
test_several(void **state)
{
	(void)state;
	/* Several v1, only one valid: accepted, wherever it stands. */
	assert_int_equal(check("t=1700000000,v1=" WRONG ",v1=" SIG1, BODY,
	    one, 1, T), STRIPE_SIG_OK);
	assert_int_equal(check("t=1700000000,v1=" SIG1 ",v1=" WRONG, BODY,
	    one, 1, T), STRIPE_SIG_OK);
	assert_int_equal(check("t=1700000000,v1=" WRONG ",v1=" WRONG, BODY,
	    one, 1, T), STRIPE_SIG_MISMATCH);
}

static void
test_rotation(void **state)
{
	(void)state;
	/* Two secrets of ours at once: either one's signature passes. */
	assert_int_equal(check("t=1700000000,v1=" SIG1, BODY, both, 2, T),
	    STRIPE_SIG_OK);
	assert_int_equal(check("t=1700000000,v1=" SIG2, BODY, both, 2, T),
	    STRIPE_SIG_OK);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"v1=" SIG1,				/* no t */
		"t=1700000000",				/* no v1 */
		"t=1700000000,v0=" SIG1,		/* no v1 */
		"t=,v1=" SIG1,
		"t=17x0000000,v1=" SIG1,
		"t=-1700000000,v1=" SIG1,
		"t=99999999999999999999,v1=" SIG1,
		"t=1700000000,t=1700000000,v1=" SIG1,
		"t=1700000000,v1=" SIG1 "0",		/* 65 digits */
		"t=1700000000,v1=zz" SIG1,
		"t=1700000000,v1",			/* no '=' */
		"t=1700000000;v1=" SIG1,
		",",
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i], BODY, one, 1, T),
		    STRIPE_SIG_MALFORMED);
}

static void
test_text(void **state)
{
	(void)state;
	assert_string_equal(stripe_sig_text(STRIPE_SIG_MISSING),
	    "the Stripe-Signature header is missing");
	assert_string_equal(stripe_sig_text(STRIPE_SIG__MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_text),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("stripe", tests, NULL, NULL);
}
