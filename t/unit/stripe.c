/*
 * stripe: the Stripe-Signature check, and what the API client builds.
 * The expected signatures were made with openssl (`openssl dgst -sha256
 * -hmac SECRET` over "<t>.<body>"), the expected key digest with
 * sha256sum, not with the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
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

/* Form bodies as Stripe takes them: brackets and separators escaped. */
static void
test_form(void **state)
{
	struct buf	 b = BUF_INIT(0);

	(void)state;
	stripe_form_add(&b, "mode", "subscription");
	stripe_form_add(&b, "line_items[0][price]", "price_1");
	stripe_form_add(&b, "success_url",
	    "https://x.test/b?o=1&session_id={CHECKOUT_SESSION_ID}");
	stripe_form_add(&b, "name", "Acme & Co");
	assert_false(b.failed);
	assert_string_equal(buf_cstr(&b), "mode=subscription&"
	    "line_items%5B0%5D%5Bprice%5D=price_1&"
	    "success_url=https%3A%2F%2Fx.test%2Fb%3Fo%3D1%26session_id%3D"
	    "%7BCHECKOUT_SESSION_ID%7D&name=Acme+%26+Co");
	buf_release(&b);
}

/* The same facts, the same key; parts cannot run into each other. */
static void
test_idem_key(void **state)
{
	const char	*p1[] = { "sub_1", "add", "price_x" };
	const char	*p2[] = { "sub_1", "add", "price_y" };
	const char	*p3[] = { "sub_1a", "dd", "price_x" };
	char		 k1[STRIPE_IDEM_MAX], k2[STRIPE_IDEM_MAX];

	(void)state;
	stripe_idem_key(k1, "item", p1, 3);
	assert_string_equal(k1, "hxb-item-906cfdd26581a4bd85cb69f055fe7700"
	    "3770a459f7c1e5b0ed582d1eb6803fa3");
	stripe_idem_key(k2, "item", p1, 3);
	assert_string_equal(k1, k2);
	stripe_idem_key(k2, "item", p2, 3);
	assert_string_not_equal(k1, k2);
	stripe_idem_key(k2, "item", p3, 3);
	assert_string_not_equal(k1, k2);
	stripe_idem_key(k2, "cancel", p1, 3);
	assert_string_not_equal(k1, k2);
	assert_true(strlen(k1) < 255);	/* Stripe's limit */
}

static void
test_id_ok(void **state)
{
	(void)state;
	assert_true(stripe_id_ok("cus_RoLCW0WcAUwTiUM", "cus_"));
	assert_true(stripe_id_ok("sub_1_a", "sub_"));
	assert_false(stripe_id_ok("cus_", "cus_"));
	assert_false(stripe_id_ok("sub_1", "cus_"));
	assert_false(stripe_id_ok("cus_1;drop", "cus_"));
	assert_false(stripe_id_ok("cus_1/../x", "cus_"));
	assert_false(stripe_id_ok(NULL, "cus_"));
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
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_idem_key),
		cmocka_unit_test(test_id_ok),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("stripe", tests, NULL, NULL);
}
