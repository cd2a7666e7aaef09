/*
 * stripe: the webhook signature check; see stripe.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto.h"
#include "stripe.h"

static const char *const texts[STRIPE_SIG__MAX] = {
	[STRIPE_SIG_OK] = "the signature is valid",
	[STRIPE_SIG_MISSING] = "the Stripe-Signature header is missing",
	[STRIPE_SIG_MALFORMED] = "the Stripe-Signature header is malformed: "
	    "it needs t=<timestamp> and at least one v1=<64 hex digits>",
	[STRIPE_SIG_STALE] = "the Stripe-Signature timestamp is outside the "
	    "tolerance",
	[STRIPE_SIG_MISMATCH] = "no signature matches the endpoint's secret",
};

const char *
stripe_sig_text(enum stripe_sig s)
{
	return s < STRIPE_SIG__MAX ? texts[s] : "unknown";
}

/* 64 hex digits into 32 bytes; 0, or -1. */
static int
unhex(const char *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	size_t	 i;
	int	 hi, lo;

	if (n != 2 * CRYPTO_SHA256_LEN)
		return -1;
	for (i = 0; i < CRYPTO_SHA256_LEN; i++) {
		if ((hi = hex_digit(p[2 * i])) < 0 ||
		    (lo = hex_digit(p[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

enum stripe_sig
stripe_verify(const char *header, const void *body, size_t len,
    const char *const *secrets, size_t nsecrets, long long now,
    long tolerance_s)
{
	unsigned char	 sigs[STRIPE_SIG_MAX][CRYPTO_SHA256_LEN];
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	const char	*p, *end, *eq, *item, *ts = NULL;
	size_t		 nsig = 0, tslen = 0, i, j, hlen;
	char		*signed_payload = NULL, *e;
	long long	 t;
	bool		 ok = false;

	if (header == NULL || *header == '\0')
		return STRIPE_SIG_MISSING;
	if ((hlen = strlen(header)) > STRIPE_SIG_HEADER_MAX)
		return STRIPE_SIG_MALFORMED;
	for (p = header; p < header + hlen; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = header + hlen;
		item = p;
		if ((eq = memchr(item, '=', (size_t)(end - item))) == NULL)
			return STRIPE_SIG_MALFORMED;
		if (eq - item == 1 && item[0] == 't') {
			if (ts != NULL)
				return STRIPE_SIG_MALFORMED;
			ts = eq + 1;
			tslen = (size_t)(end - ts);
		} else if (eq - item == 2 && item[0] == 'v' && item[1] == '1') {
			if (nsig == STRIPE_SIG_MAX)
				continue;	/* more than Stripe ever sends */
			if (unhex(eq + 1, (size_t)(end - eq - 1),
			    sigs[nsig]) != 0)
				return STRIPE_SIG_MALFORMED;
			nsig++;
		}
		/* Other schemes (v0, test keys' extras) are not ours. */
	}
	if (ts == NULL || tslen == 0 || tslen > 19 || nsig == 0)
		return STRIPE_SIG_MALFORMED;
	for (i = 0; i < tslen; i++)
		if (ts[i] < '0' || ts[i] > '9')
			return STRIPE_SIG_MALFORMED;
	errno = 0;
	t = strtoll(ts, &e, 10);
	if (errno != 0 || e != ts + tslen)
		return STRIPE_SIG_MALFORMED;
	if (t < now - tolerance_s || t > now + tolerance_s)
		return STRIPE_SIG_STALE;

	/* "<t>.<body>", the bytes Stripe signed. */
	if ((signed_payload = malloc(tslen + 1 + len)) == NULL)
		return STRIPE_SIG_MISMATCH;
	memcpy(signed_payload, ts, tslen);
	signed_payload[tslen] = '.';
	if (len > 0)
		memcpy(signed_payload + tslen + 1, body, len);
	for (i = 0; i < nsecrets; i++) {
		if (secrets[i] == NULL || *secrets[i] == '\0')
			continue;
		crypto_hmac_sha256(secrets[i], strlen(secrets[i]),
		    signed_payload, tslen + 1 + len, mac);
		/* Every comparison, whatever matched: no timing says which. */
		for (j = 0; j < nsig; j++)
			ok |= CRYPTO_memcmp(mac, sigs[j], sizeof(mac)) == 0;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	free(signed_payload);
	return ok ? STRIPE_SIG_OK : STRIPE_SIG_MISMATCH;
}
