/*
 * ratelimit: fixed-window request counting per client, in Redis, so that
 * every worker and every replica shares one count.
 *
 * The key is "hxb:rl:<bucket>:<client>:<window number>"; one EVAL
 * increments it and sets its expiry on first use.  When Redis cannot be
 * reached the request is let through (logged): nginx's limit_req is the
 * outer layer, and sign-in should not fail because a counter is away.
 */
#ifndef HXB_RATELIMIT_H
#define HXB_RATELIMIT_H

#include <stddef.h>

struct app;
struct req;

/*
 * Count one request of `client` in `bucket`.  Returns 0 if it is within
 * `limit` per `window_s` seconds (or limit is 0: no limit), or the number
 * of seconds until the window ends (> 0) if it is over.
 */
long long	 ratelimit_hit(struct app *, const char *bucket,
		    const char *client, long long limit, long long window_s);

/*
 * For a route: count the request by its client address and, if over,
 * answer 429 with Retry-After and return -1.
 */
int		 ratelimit_check(struct req *, const char *bucket,
		    long long limit, long long window_s);

/*
 * The pieces, for callers that fold the count into a Redis script of their
 * own (one round trip): the key of the current window, and the answer when
 * over the limit.  ratelimit_key() returns the seconds left in the window.
 */
long long	 ratelimit_key(const char *bucket, const char *client,
		    long long window_s, char *key, size_t keysz);
void		 ratelimit_refuse(struct req *, long long wait_s);

#endif
