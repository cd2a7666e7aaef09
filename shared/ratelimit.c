/*
 * ratelimit: see ratelimit.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "buf.h"
#include "http.h"
#include "log.h"
#include "ratelimit.h"

static const char script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

long long
ratelimit_key(const char *bucket, const char *client, long long window_s,
    char *key, size_t keysz)
{
	long long	 now = (long long)time(NULL), win = now / window_s;
	char		 num[FMT_UINT_MAX];
	size_t		 n = fmt_uint(num, (unsigned long long)win, 1);
	size_t		 lb = strlen(bucket), lc = strlen(client);

	/* Every request builds one: no printf here. */
	if (sizeof("hxb:rl:::") + lb + lc + n > keysz) {
		snprintf(key, keysz, "hxb:rl:overlong");
		return (win + 1) * window_s - now;
	}
	memcpy(key, "hxb:rl:", 7);
	memcpy(key + 7, bucket, lb);
	key[7 + lb] = ':';
	memcpy(key + 8 + lb, client, lc);
	key[8 + lb + lc] = ':';
	memcpy(key + 9 + lb + lc, num, n);
	key[9 + lb + lc + n] = '\0';
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

long long
ratelimit_hit(struct app *app, const char *bucket, const char *client,
    long long limit, long long window_s)
{
	char		 key[256], ttl[24];
	const char	*argv[5];
	redisReply	*rr;
	long long	 wait, n;

	if (limit <= 0 || window_s <= 0)
		return 0;
	wait = ratelimit_key(bucket, client, window_s, key, sizeof(key));
	snprintf(ttl, sizeof(ttl), "%lld", window_s + 1);
	argv[0] = "EVAL";
	argv[1] = script;
	argv[2] = "1";
	argv[3] = key;
	argv[4] = ttl;
	if ((rr = redis_cmd(&app->redis, 5, argv, NULL)) == NULL ||
	    rr->type != REDIS_REPLY_INTEGER) {
		log_warn(&app->log, "rate limit not counted: %s",
		    rr == NULL ? app->redis.errmsg : "unexpected reply");
		if (rr != NULL)
			freeReplyObject(rr);
		return 0;
	}
	n = rr->integer;
	freeReplyObject(rr);
	return n <= limit ? 0 : wait;
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
