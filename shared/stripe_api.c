/*
 * stripe_api: calls to the Stripe API; see stripe.h, part 2.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "httpc.h"
#include "log.h"
#include "stripe.h"

#define BACKOFF_BASE_MS	250
#define BACKOFF_MAX_MS	4000

void
stripe_resp_free(struct stripe_resp *r)
{
	json_decref(r->json);
	r->json = NULL;
}

void
stripe_form_add(struct buf *b, const char *key, const char *value)
{
	if (b->len > 0)
		buf_addch(b, '&');
	httpc_form_escape(b, key);
	buf_addch(b, '=');
	httpc_form_escape(b, value);
}

void
stripe_idem_key(char out[STRIPE_IDEM_MAX], const char *what,
    const char *const *parts, size_t nparts)
{
	struct buf	 b = BUF_INIT(0), hex = BUF_INIT(0);
	unsigned char	 md[CRYPTO_SHA256_LEN];
	size_t		 i;

	for (i = 0; i < nparts; i++) {
		buf_addstr(&b, parts[i] != NULL ? parts[i] : "");
		buf_addch(&b, '\0');
	}
	crypto_sha256(b.data != NULL ? b.data : "", b.len, md);
	crypto_hex(&hex, md, sizeof(md));
	snprintf(out, STRIPE_IDEM_MAX, "hxb-%s-%s", what,
	    hex.failed ? "" : buf_cstr(&hex));
	buf_release(&b);
	buf_release(&hex);
}

int
stripe_id_ok(const char *s, const char *prefix)
{
	size_t	 n = strlen(prefix), i;

	if (s == NULL || strncmp(s, prefix, n) != 0 || s[n] == '\0' ||
	    strlen(s) > n + 200)
		return 0;
	for (i = n; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

static bool
retryable(long status)
{
	return status == 0 || status == 409 || status == 429 || status >= 500;
}

/*
 * Stripe's error message from an error answer, or the status; never with
 * the secret key in it (a message about a bad key may quote it).
 */
static void
error_of(struct stripe_resp *r, const char *key)
{
	const char	*m = NULL;
	char		*at;
	size_t		 klen = strlen(key);

	if (r->json != NULL)
		m = json_string_value(json_object_get(json_object_get(r->json,
		    "error"), "message"));
	if (r->status == 401 || r->status == 403)
		snprintf(r->message, sizeof(r->message), "Stripe refused our "
		    "credentials (HTTP %ld)", r->status);
	else if (m != NULL)
		snprintf(r->message, sizeof(r->message), "%s", m);
	else
		snprintf(r->message, sizeof(r->message), "Stripe answered %ld",
		    r->status);
	while (klen > 0 && (at = strstr(r->message, key)) != NULL)
		memset(at, '*', klen);
}

enum stripe_outcome
stripe_call(struct app *app, const char *method, const char *path,
    const char *form, const char *idem_key, struct stripe_resp *r)
{
	const char		*key = config_str(&app->cfg, CFG_STRIPE_SECRET_KEY);
	const char		*base = config_str(&app->cfg, CFG_STRIPE_API_URL);
	const char		*headers[5];
	char			 auth[512], idem[STRIPE_IDEM_MAX + 32];
	struct buf		 url = BUF_INIT(0);
	struct httpc_resp	 hr;
	struct timespec		 ts;
	json_error_t		 jerr;
	long long		 tries = 1 + config_int(&app->cfg,
				    CFG_STRIPE_RETRIES), i;
	size_t			 nh = 0;
	enum stripe_outcome	 out = STRIPE_UNAVAILABLE;
	unsigned		 rnd;

	memset(r, 0, sizeof(*r));
	if (key == NULL || *key == '\0') {
		snprintf(r->message, sizeof(r->message), "no Stripe secret key "
		    "is configured (HXB_STRIPE_SECRET_KEY)");
		return STRIPE_UNCONFIGURED;
	}
	if ((size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    key) >= sizeof(auth)) {
		snprintf(r->message, sizeof(r->message), "the Stripe secret key "
		    "is too long");
		return STRIPE_UNCONFIGURED;
	}
	headers[nh++] = auth;
	headers[nh++] = "Stripe-Version: " STRIPE_API_VERSION;
	if (idem_key != NULL) {
		snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key);
		headers[nh++] = idem;
	}
	headers[nh] = NULL;
	buf_addstr(&url, base);
	while (url.len > 0 && url.data[url.len - 1] == '/')
		url.len--;
	buf_addstr(&url, path);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	rnd = (unsigned)ts.tv_nsec;
	httpc_resp_init(&hr);
	for (i = 0; i < tries; i++) {
		if (i > 0) {
			long ms = clock_backoff_ms(BACKOFF_BASE_MS,
			    BACKOFF_MAX_MS, (int)i - 1, rnd = rnd * 1103515245u +
			    12345u);
			struct timespec d = { ms / 1000, (ms % 1000) * 1000000L };

			nanosleep(&d, NULL);
		}
		json_decref(r->json);
		r->json = NULL;
		if (httpc_call(app, method, buf_cstr(&url), form, headers,
		    &hr) != 0) {
			r->status = 0;
			snprintf(r->message, sizeof(r->message), "Stripe did "
			    "not answer: %.200s", hr.error);
			continue;
		}
		r->status = hr.status;
		r->json = json_loadb(hr.body.data != NULL ? hr.body.data : "",
		    hr.body.len, 0, &jerr);
		if (hr.status >= 200 && hr.status < 300) {
			if (r->json == NULL || !json_is_object(r->json)) {
				snprintf(r->message, sizeof(r->message),
				    "Stripe's answer is not a JSON object");
				out = STRIPE_UNAVAILABLE;
				break;
			}
			out = STRIPE_OK;
			break;
		}
		error_of(r, key);
		if (!retryable(hr.status)) {
			out = STRIPE_REFUSED;
			break;
		}
		log_warn(&app->log, "stripe %s %s: %s (attempt %lld of %lld)",
		    method, path, r->message, i + 1, tries);
	}
	explicit_bzero(auth, sizeof(auth));
	httpc_resp_free(&hr);
	buf_release(&url);
	if (out != STRIPE_OK)
		log_warn(&app->log, "stripe %s %s: %s", method, path,
		    r->message);
	return out;
}
