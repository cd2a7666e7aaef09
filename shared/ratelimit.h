/*
 * ratelimit: fixed-window request counting per client, in Redis, so that
 * every worker and every replica shares one count.
 *
 * The key is "hxb:rl:<bucket>:<client>:<window number>"; one pipeline,
 * SET <key> 0 EX <window + 1> NX then INCRBY <key> <n>, gives it its
 * expiry on first use and adds n requests, with plain commands in one
 * round trip.
 *
 * Counts are sent in batches while an address is far from its limit: a
 * worker adds up to b requests of its own (b = HXB_RATE_LIMIT_BATCH, at
 * most limit / 64, at least 1) before sending them, and sends every
 * request once the total it last heard plus its own unsent ones reach
 * half the limit.  A total it has heard at or over the limit refuses at
 * once, without asking again: within a window the count only grows.  So
 * a busy address costs one round trip per b requests, and the limit is
 * exceeded by at most the unsent counts of the other workers (under b
 * each) at the moment it is reached.  A limit below 128 is counted
 * exactly.
 *
 * When Redis cannot be reached the request is let through (logged):
 * nginx's limit_req is the outer layer, and sign-in should not fail
 * because a counter is away.
 */
#ifndef HXB_RATELIMIT_H
#define HXB_RATELIMIT_H

#include <stdbool.h>
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

/* A worker's own view of one address in one window. */
struct ratelimit_slot {
	char		 key[120];	/* "" when free */
	long long	 ends;		/* the window's end, epoch seconds */
	long long	 synced;	/* the total Redis last gave */
	long long	 pending;	/* counted here, not yet sent */
};

enum ratelimit_step {
	RL_LOCAL,	/* within the limit; nothing to send yet */
	RL_SEND,	/* send the pending count and decide on the total */
	RL_OVER		/* known to be over the limit */
};

/* One more request on a slot (see the top of this file). */
enum ratelimit_step ratelimit_step(struct ratelimit_slot *, long long limit,
		    long long batch);

/* The batch size for a limit, given HXB_RATE_LIMIT_BATCH. */
long long	 ratelimit_batch(long long limit, long long max);

/*
 * The counting commands, for callers that send them in a pipeline of their
 * own (one round trip).  ratelimit_count() counts the request and returns
 * how many commands to send: 0 when it decided alone (then c->over tells),
 * else 2, the total being the reply to the second, which goes to
 * ratelimit_counted() (NULL if the round trip failed); it returns whether
 * the request is over the limit.  Over the limit, answer with
 * ratelimit_refuse(r, c->wait).
 */
struct ratelimit_count {
	char			 key[128];
	char			 ttl[24];
	char			 by[24];
	const char		*set[6];
	const char		*incrby[3];
	long long		 wait;		/* seconds left in the window */
	long long		 limit;
	long long		 sent;
	bool			 over;
	struct ratelimit_slot	*slot;		/* NULL: counted alone */
};

size_t		 ratelimit_count(struct ratelimit_count *, struct app *,
		    const char *bucket, const char *client, long long limit,
		    long long window_s, struct redis_argv cmds[2]);
bool		 ratelimit_counted(struct ratelimit_count *,
		    const redisReply *total);
void		 ratelimit_refuse(struct req *, long long wait_s);

#endif
