/*
 * httpc: outgoing HTTPS calls (identity providers, Stripe), on libcurl.
 *
 * Only https URLs are accepted, certificate and host-name verification
 * are always on (HXB_TLS_CA_FILE may name the CA bundle), redirects are
 * not followed, every call has the HXB_HTTP_TIMEOUT_MS deadline and a
 * response is capped at 1 MiB.  One easy handle per process keeps
 * connections alive between calls.
 */
#ifndef HXB_HTTPC_H
#define HXB_HTTPC_H

#include "buf.h"

struct app;

#define HTTPC_BODY_MAX	(1024 * 1024)

struct httpc_resp {
	long		 status;	/* 0 if no response */
	struct buf	 body;
	char		 error[256];	/* why there is no response */
};

void	 httpc_resp_init(struct httpc_resp *);
void	 httpc_resp_free(struct httpc_resp *);

/*
 * GET, or POST of an application/x-www-form-urlencoded body when `form` is
 * not NULL.  `headers` is NULL or a NULL-terminated list of "Name: value".
 * Returns 0 when a response arrived (any status), -1 otherwise.
 */
int	 httpc_request(struct app *, const char *url, const char *form,
	    const char *const *headers, struct httpc_resp *);

/*
 * The same with a method of the caller's ("GET", "POST", "DELETE"); a
 * form body goes with any method but GET.
 */
int	 httpc_call(struct app *, const char *method, const char *url,
	    const char *form, const char *const *headers, struct httpc_resp *);

/* Append `s` form-urlencoded (RFC 6749 appendix B) to `b`. */
void	 httpc_form_escape(struct buf *b, const char *s);

/* Release the process's handle. */
void	 httpc_cleanup(void);

#endif
