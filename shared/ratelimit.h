/*
 * ratelimit: fixed-window request counting per client, in Redis, so that
 * every worker and every replica shares one count.
 *
 * The key is "hxb:rl:<bucket>:<client>:<window number>"; one pipeline,
 * SET <key> 0 EX <window + 1> NX then INCR <key>, gives it its expiry on
 * first use and counts the request, with plain commands in one round trip.  When Redis cannot be
 * reached the request is let through (logged): nginx's limit_req is the
 * outer layer, and sign-in should not fail because a counter is away.
 */
#ifndef HXB_RATELIMIT_H
#define HXB_RATELIMIT_H

#include <stddef.h>

#include "redis.h"

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
 * The counting commands, for callers that send them in a pipeline of their
 * own (one round trip): ratelimit_count() fills c and cmds and returns 2,
 * the number of commands; the count is the reply to the second, an
 * integer.  Over the limit, answer with ratelimit_refuse(r, c->wait).
 */
struct ratelimit_count {
	char		 key[256];
	char		 ttl[24];
	const char	*set[6];
	const char	*incr[2];
	long long	 wait;		/* seconds left in the window */
};

size_t		 ratelimit_count(struct ratelimit_count *, const char *bucket,
		    const char *client, long long window_s,
		    struct redis_argv cmds[2]);
void		 ratelimit_refuse(struct req *, long long wait_s);

#endif
