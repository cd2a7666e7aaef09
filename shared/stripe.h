/*
 * stripe: what the billing handlers and jobs share about Stripe.  For
 * now the one thing a webhook must do before it reads anything: check
 * the Stripe-Signature header exactly as Stripe specifies.
 *
 *   Stripe-Signature: t=1700000000,v1=<hex>,v1=<hex>,v0=<hex>
 *
 * A signature is the lowercase hex HMAC-SHA256, keyed with the
 * endpoint's secret, of "<t>.<the raw body>".  Any v1 may match (Stripe
 * sends one per secret while a secret is being rolled); other schemes
 * (v0) are ignored; the timestamp must be within the tolerance of now
 * (Stripe's libraries use 300 s), so a captured request cannot be
 * replayed later; digests are compared in constant time.  Several
 * secrets may be given at once (ours during a rotation): any of them.
 * Nothing of the body is looked at before this says STRIPE_SIG_OK.
 */
#ifndef HXB_STRIPE_H
#define HXB_STRIPE_H

#include <stddef.h>

#define STRIPE_SIG_HEADER_MAX	8192
#define STRIPE_SIG_MAX		16	/* v1 signatures considered */
#define STRIPE_TOLERANCE_S	300

enum stripe_sig {
	STRIPE_SIG_OK,
	STRIPE_SIG_MISSING,	/* no header, or an empty one */
	STRIPE_SIG_MALFORMED,	/* no t, a bad t, no v1, a v1 not hex */
	STRIPE_SIG_STALE,	/* t further from now than the tolerance */
	STRIPE_SIG_MISMATCH,	/* no v1 matches any secret */
	STRIPE_SIG__MAX
};

enum stripe_sig	 stripe_verify(const char *header, const void *body,
		    size_t len, const char *const *secrets, size_t nsecrets,
		    long long now, long tolerance_s);

/* "the Stripe-Signature header is missing", ..., for a problem's detail. */
const char	*stripe_sig_text(enum stripe_sig);

#endif
