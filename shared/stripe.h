/*
 * stripe: what the billing handlers and jobs share about Stripe.
 *
 * 1. The one thing a webhook must do before it reads anything: check
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

#include <jansson.h>

#include "buf.h"

struct app;

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

/*
 * 2. Calls to the Stripe API (stripe_api.c), on httpc: form-encoded
 * bodies, the secret key as a bearer token (HXB_STRIPE_SECRET_KEY, never
 * logged), the pinned STRIPE_API_VERSION in Stripe-Version, and the
 * caller's Idempotency-Key on every POST and DELETE.  A call that is not
 * answered, or answered 409 (a concurrent request with the same key),
 * 429 or 5xx, is tried again HXB_STRIPE_RETRIES times with exponential
 * backoff and the same key, so that Stripe applies it once.
 */
#define STRIPE_API_VERSION	"2026-08-26.dahlia"
#define STRIPE_IDEM_MAX		128

enum stripe_outcome {
	STRIPE_OK,		/* 2xx, body parsed */
	STRIPE_REFUSED,		/* 4xx: the request is wrong; message says */
	STRIPE_UNAVAILABLE,	/* no answer, or 409/429/5xx after retries */
	STRIPE_UNCONFIGURED,	/* no secret key */
	STRIPE_OUTCOME__MAX
};

struct stripe_resp {
	long		 status;	/* HTTP status; 0 if none */
	json_t		*json;		/* the answer (owned), or NULL */
	char		 message[256];	/* Stripe's error, or why none */
};

/*
 * method "GET", "POST" or "DELETE"; path from "/v1/..." (a GET's query
 * included); form NULL or built with stripe_form_add(); idem_key
 * required for POST and DELETE.  The caller frees resp with
 * stripe_resp_free() whatever the outcome.
 */
enum stripe_outcome stripe_call(struct app *, const char *method,
		    const char *path, const char *form, const char *idem_key,
		    struct stripe_resp *);
void		 stripe_resp_free(struct stripe_resp *);

/* Append "key=value" (both form-escaped), with '&' if b is not empty. */
void		 stripe_form_add(struct buf *, const char *key,
		    const char *value);

/*
 * A deterministic Idempotency-Key: "hxb-" + `what` + "-" + the hex of
 * SHA-256 over the NUL-separated parts, so that every process deciding
 * the same change from the same facts sends the same key.  out holds
 * STRIPE_IDEM_MAX bytes.
 */
void		 stripe_idem_key(char out[STRIPE_IDEM_MAX], const char *what,
		    const char *const *parts, size_t nparts);

/* Whether s looks like a Stripe id with that prefix ("cus_", "sub_"). */
int		 stripe_id_ok(const char *s, const char *prefix);

#endif
