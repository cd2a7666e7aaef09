/*
 * ratelimit: see ratelimit.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"

static long long
ratelimit_key(const char *bucket, const char *client, long long window_s,
    char *key, size_t keysz)
{
	long long	 now = (long long)time(NULL), win = now / window_s;

	snprintf(key, keysz, "hxb:rl:%s:%s:%lld", bucket, client, win);
	return (win + 1) * window_s - now;
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
ratelimit_count(struct ratelimit_count *c, const char *bucket,
    const char *client, long long window_s, struct redis_argv cmds[2])
{
	c->wait = ratelimit_key(bucket, client, window_s, c->key,
	    sizeof(c->key));
	snprintf(c->ttl, sizeof(c->ttl), "%lld", window_s + 1);
	c->set[0] = "SET";
	c->set[1] = c->key;
	c->set[2] = "0";
	c->set[3] = "EX";
	c->set[4] = c->ttl;
	c->set[5] = "NX";
	c->incr[0] = "INCR";
	c->incr[1] = c->key;
	cmds[0] = (struct redis_argv){ 6, c->set, NULL };
	cmds[1] = (struct redis_argv){ 2, c->incr, NULL };
	return 2;
}

long long
ratelimit_hit(struct app *app, const char *bucket, const char *client,
    long long limit, long long window_s)
{
	struct ratelimit_count	 c;
	struct redis_argv	 cmds[2];
	redisReply		*rr[2];
	long long		 n = 0;

	if (limit <= 0 || window_s <= 0)
		return 0;
	if (redis_pipeline(&app->redis, ratelimit_count(&c, bucket, client,
	    window_s, cmds), cmds, rr) != 0) {
		log_warn(&app->log, "rate limit not counted: %s",
		    app->redis.errmsg);
		return 0;
	}
	if (rr[1]->type == REDIS_REPLY_INTEGER)
		n = rr[1]->integer;
	freeReplyObject(rr[0]);
	freeReplyObject(rr[1]);
	return n <= limit ? 0 : c.wait;
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
