/*
 * ratelimit: see ratelimit.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"

/*
 * This process's slots, direct-mapped by a hash of the key.  An address
 * whose slot is held by another one in the same window is counted alone,
 * exactly: nobody's unsent count is ever pushed out.
 */
#define RL_SLOTS	1024

static struct ratelimit_slot rl_slots[RL_SLOTS];

long long
ratelimit_batch(long long limit, long long max)
{
	long long	 b = limit / 64;

	if (b > max)
		b = max;
	return b < 1 ? 1 : b;
}

enum ratelimit_step
ratelimit_step(struct ratelimit_slot *s, long long limit, long long batch)
{
	if (s->synced >= limit)
		return RL_OVER;
	s->pending++;
	if (batch > 1 && s->pending < batch &&
	    (s->synced + s->pending) * 2 < limit)
		return RL_LOCAL;
	return RL_SEND;
}

static struct ratelimit_slot *
ratelimit_slot(const char *key, size_t len, long long ends, long long now)
{
	uint64_t		 h = 1469598103934665603ULL;
	struct ratelimit_slot	*s;
	size_t			 i;

	if (len >= sizeof(s->key))
		return NULL;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
	s = &rl_slots[h % RL_SLOTS];
	if (strcmp(s->key, key) == 0)
		return s;
	if (s->key[0] != '\0' && s->ends > now)
		return NULL;
	memcpy(s->key, key, len + 1);
	s->ends = ends;
	s->synced = s->pending = 0;
	return s;
}

void
ratelimit_refuse(struct req *r, long long wait)
{
	char	 ra[24];

	snprintf(ra, sizeof(ra), "%lld", wait);
	http_header(r, "Retry-After", ra);
	http_problemf(r, PROBLEM_RATE_LIMITED, "too many requests from this "
	    "address; try again in %lld s", wait);
}

size_t
ratelimit_count(struct ratelimit_count *c, struct app *app,
    const char *bucket, const char *client, long long limit,
    long long window_s, struct redis_argv cmds[2])
{
	long long	 now = (long long)time(NULL), win = now / window_s;
	int		 len;

	c->limit = limit;
	c->over = false;
	c->wait = (win + 1) * window_s - now;
	len = snprintf(c->key, sizeof(c->key), "hxb:rl:%s:%s:%lld", bucket,
	    client, win);
	c->slot = len > 0 && (size_t)len < sizeof(c->key) ?
	    ratelimit_slot(c->key, (size_t)len, (win + 1) * window_s, now) :
	    NULL;
	c->sent = 1;
	if (c->slot != NULL) {
		switch (ratelimit_step(c->slot, limit, ratelimit_batch(limit,
		    config_int(&app->cfg, CFG_RATE_LIMIT_BATCH)))) {
		case RL_OVER:
			c->over = true;
			return 0;
		case RL_LOCAL:
			return 0;
		case RL_SEND:
			c->sent = c->slot->pending;
			break;
		}
	}
	snprintf(c->ttl, sizeof(c->ttl), "%lld", window_s + 1);
	snprintf(c->by, sizeof(c->by), "%lld", c->sent);
	c->set[0] = "SET";
	c->set[1] = c->key;
	c->set[2] = "0";
	c->set[3] = "EX";
	c->set[4] = c->ttl;
	c->set[5] = "NX";
	c->incrby[0] = "INCRBY";
	c->incrby[1] = c->key;
	c->incrby[2] = c->by;
	cmds[0] = (struct redis_argv){ 6, c->set, NULL };
	cmds[1] = (struct redis_argv){ 3, c->incrby, NULL };
	return 2;
}

bool
ratelimit_counted(struct ratelimit_count *c, const redisReply *total)
{
	/* Not counted (Redis away): let it through, keep the count. */
	if (total == NULL || total->type != REDIS_REPLY_INTEGER)
		return false;
	if (c->slot != NULL) {
		c->slot->synced = total->integer;
		c->slot->pending -= c->sent;
		if (c->slot->pending < 0)
			c->slot->pending = 0;
	}
	c->over = total->integer > c->limit;
	return c->over;
}

long long
ratelimit_hit(struct app *app, const char *bucket, const char *client,
    long long limit, long long window_s)
{
	struct ratelimit_count	 c;
	struct redis_argv	 cmds[2];
	redisReply		*rr[2];
	size_t			 n;
	bool			 over;

	if (limit <= 0 || window_s <= 0)
		return 0;
	if ((n = ratelimit_count(&c, app, bucket, client, limit, window_s,
	    cmds)) == 0)
		return c.over ? c.wait : 0;
	if (redis_pipeline(&app->redis, n, cmds, rr) != 0) {
		log_warn(&app->log, "rate limit not counted: %s",
		    app->redis.errmsg);
		return 0;
	}
	over = ratelimit_counted(&c, rr[1]);
	freeReplyObject(rr[0]);
	freeReplyObject(rr[1]);
	return over ? c.wait : 0;
}

int
ratelimit_check(struct req *r, const char *bucket, long long limit,
    long long window_s)
{
	const char	*ip = r->remote_addr != NULL ? r->remote_addr : "-";
	long long	 wait;

	if ((wait = ratelimit_hit(r->app, bucket, ip, limit, window_s)) == 0)
		return 0;
	ratelimit_refuse(r, wait);
	return -1;
}
