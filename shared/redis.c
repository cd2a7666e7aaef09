/*
 * redis: hiredis with deadlines and reconnect; see redis.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "redis.h"

void
redis_init(struct redis *r, const struct config *cfg,
    const struct logger *log)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->log = log;
}

/*
 * Both connections go together: Redis forgets what a closed connection
 * read, so the copies made through it are dropped too.
 */
void
redis_close(struct redis *r)
{
	if (r->ctx != NULL)
		redisFree(r->ctx);
	if (r->inval != NULL)
		redisFree(r->inval);
	r->ctx = r->inval = NULL;
	if (r->tracking) {
		r->tracking = false;
		r->tracking_gen++;
	}
	if (r->inv_fn != NULL)
		r->inv_fn(r->inv_arg, NULL, 0);
}

static struct timeval
ms_to_tv(long long ms)
{
	struct timeval	 tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Connect to host:port or a unix socket path, then AUTH if configured. */
static redisContext *
redis_open(struct redis *r, long long timeout_ms)
{
	const char	*addr = config_str(r->cfg, CFG_REDIS_ADDR);
	const char	*pw = config_str(r->cfg, CFG_REDIS_PASSWORD);
	struct timeval	 tv = ms_to_tv(timeout_ms);
	const char	*colon;
	char		 host[256];
	long		 port;
	char		*end;
	redisContext	*ctx;
	redisReply	*rep;

	if (addr[0] == '/')
		ctx = redisConnectUnixWithTimeout(addr, tv);
	else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    (size_t)(colon - addr) >= sizeof(host)) {
			snprintf(r->errmsg, sizeof(r->errmsg), "HXB_REDIS_ADDR "
			    "must be host:port or a socket path");
			return NULL;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port <= 0 || port > 65535) {
			snprintf(r->errmsg, sizeof(r->errmsg), "HXB_REDIS_ADDR "
			    "has a bad port");
			return NULL;
		}
		ctx = redisConnectWithTimeout(host, (int)port, tv);
	}
	if (ctx == NULL || ctx->err) {
		snprintf(r->errmsg, sizeof(r->errmsg), "cannot connect to "
		    "Redis at %s: %s", addr, ctx ? ctx->errstr :
		    "out of memory");
		if (ctx != NULL)
			redisFree(ctx);
		return NULL;
	}
	if (redisSetTimeout(ctx, tv) != REDIS_OK) {
		snprintf(r->errmsg, sizeof(r->errmsg), "cannot set Redis "
		    "timeout");
		redisFree(ctx);
		return NULL;
	}
	if (pw != NULL) {
		const char *argv[] = { "AUTH", pw };

		rep = redisCommandArgv(ctx, 2, argv, NULL);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(r->errmsg, sizeof(r->errmsg), "Redis AUTH "
			    "failed: %s", rep != NULL ? rep->str :
			    ctx->errstr);
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(ctx);
			return NULL;
		}
		freeReplyObject(rep);
	}
	return ctx;
}

/*
 * A command on ctx that must succeed; true if it did and the reply has
 * the given type (the reply is kept in *out if out is not NULL).
 */
static bool
redis_setup_cmd(struct redis *r, redisContext *ctx, int argc,
    const char **argv, int type, redisReply **out)
{
	redisReply	*rep = redisCommandArgv(ctx, argc, argv, NULL);
	bool		 good = rep != NULL && rep->type == type;

	if (!good)
		snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: %s", argv[0],
		    argc > 1 ? argv[1] : "", rep == NULL ? ctx->errstr :
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
	if (good && out != NULL)
		*out = rep;
	else if (rep != NULL)
		freeReplyObject(rep);
	return good;
}

/*
 * Open the invalidation connection and point ctx's tracking at it.  On
 * failure tracking stays off for this connection (logged once: the
 * commands themselves still work).
 */
static void
redis_tracking_start(struct redis *r, long long timeout_ms)
{
	const char	*id_argv[] = { "CLIENT", "ID" };
	const char	*sub_argv[] = { "SUBSCRIBE", "__redis__:invalidate" };
	const char	*trk_argv[] = { "CLIENT", "TRACKING", "ON",
			    "REDIRECT", NULL, "OPTIN" };
	char		 id[24];
	redisReply	*rep;

	if ((r->inval = redis_open(r, timeout_ms)) == NULL)
		goto fail;
	if (!redis_setup_cmd(r, r->inval, 2, id_argv, REDIS_REPLY_INTEGER,
	    &rep))
		goto fail;
	snprintf(id, sizeof(id), "%lld", rep->integer);
	freeReplyObject(rep);
	if (!redis_setup_cmd(r, r->inval, 2, sub_argv, REDIS_REPLY_ARRAY,
	    NULL))
		goto fail;
	trk_argv[4] = id;
	if (!redis_setup_cmd(r, r->ctx, 6, trk_argv, REDIS_REPLY_STATUS, NULL))
		goto fail;
	r->tracking = true;
	r->tracking_gen++;
	return;
fail:
	log_warn(r->log, "Redis client-side tracking is off, every read "
	    "goes to Redis: %s", r->errmsg);
	if (r->inval != NULL)
		redisFree(r->inval);
	r->inval = NULL;
	r->errmsg[0] = '\0';
}

static int
redis_connect(struct redis *r, long long timeout_ms)
{
	redis_close(r);
	if ((r->ctx = redis_open(r, timeout_ms)) == NULL)
		return -1;
	if (r->inv_fn != NULL)
		redis_tracking_start(r, timeout_ms);
	return 0;
}

/*
 * The command in RESP, as redisFormatCommandArgv would write it, without
 * its printf-style formatting: every request of a handler sends one.
 */
static bool
resp_format(struct buf *b, int argc, const char **argv, const size_t *lens)
{
	size_t	 len;
	int	 i;

	buf_addch(b, '*');
	buf_add_int(b, argc);
	buf_addstr(b, "\r\n");
	for (i = 0; i < argc; i++) {
		len = lens != NULL ? lens[i] : strlen(argv[i]);
		buf_addch(b, '$');
		buf_add_int(b, (long long)len);
		buf_addstr(b, "\r\n");
		buf_add(b, argv[i], len);
		buf_addstr(b, "\r\n");
	}
	return !b->failed;
}

/*
 * Send the commands in one write and read their replies, all of them even
 * when one is an error, so that the connection stays in step.  With
 * tracked non-NULL and tracking on, CLIENT CACHING YES goes just before
 * the last command, so that Redis tracks the keys it reads.  0, or -1
 * with errmsg set and no replies kept.
 */
static int
redis_try(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out, long long timeout_ms, bool *io_error, bool *tracked)
{
	static const char	*caching[] = { "CLIENT", "CACHING", "YES" };
	struct buf		 cmd = BUF_INIT(0);
	void			*rep;
	redisReply		*yes = NULL;
	size_t			 i, got = 0, total;
	bool			 track;
	int			 rc = 0;

	*io_error = false;
	if (r->ctx == NULL && redis_connect(r, timeout_ms) != 0) {
		*io_error = true;
		return -1;
	}
	track = tracked != NULL && r->tracking && n > 0;
	total = n + (track ? 1 : 0);
	for (i = 0; i < n; i++) {
		if (track && i == n - 1)
			resp_format(&cmd, 3, caching, NULL);
		if (!resp_format(&cmd, cmds[i].argc, cmds[i].argv,
		    cmds[i].lens)) {
			buf_release(&cmd);
			snprintf(r->errmsg, sizeof(r->errmsg), "out of memory");
			return -1;
		}
	}
	if (redisAppendFormattedCommand(r->ctx, cmd.data, cmd.len) == REDIS_OK)
		for (i = 0; i < total; i++) {
			if (redisGetReply(r->ctx, &rep) != REDIS_OK)
				break;
			if (track && i == n - 1)
				yes = rep;
			else
				out[got++] = rep;
		}
	buf_release(&cmd);
	if (i < total) {
		snprintf(r->errmsg, sizeof(r->errmsg), "Redis I/O error: %s",
		    r->ctx->errstr);
		redis_close(r);
		*io_error = true;
		rc = -1;
	}
	for (i = 0; rc == 0 && i < n; i++)
		if (out[i]->type == REDIS_REPLY_ERROR) {
			snprintf(r->errmsg, sizeof(r->errmsg), "Redis error: "
			    "%s", out[i]->str);
			rc = -1;
		}
	if (rc == 0 && yes != NULL && yes->type != REDIS_REPLY_STATUS) {
		snprintf(r->errmsg, sizeof(r->errmsg), "CLIENT CACHING: %s",
		    yes->type == REDIS_REPLY_ERROR ? yes->str :
		    "unexpected reply");
		rc = -1;
	}
	if (yes != NULL)
		freeReplyObject(yes);
	if (rc != 0)
		for (i = 0; i < got; i++) {
			freeReplyObject(out[i]);
			out[i] = NULL;
		}
	if (tracked != NULL)
		*tracked = rc == 0 && track;
	return rc;
}

/* A broken idle connection is replaced once; a fresh failure is final. */
static int
redis_run(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out, long long timeout_ms, bool *tracked)
{
	bool	 had = r->ctx != NULL, io_error;
	int	 rc;

	rc = redis_try(r, n, cmds, out, timeout_ms, &io_error, tracked);
	if (rc != 0 && io_error && had)
		rc = redis_try(r, n, cmds, out, timeout_ms, &io_error,
		    tracked);
	return rc;
}

int
redis_pipeline_tracked(struct redis *r, size_t n,
    const struct redis_argv *cmds, redisReply **out, bool *tracked)
{
	int	 rc;

	rc = redis_run(r, n, cmds, out, config_int(r->cfg,
	    CFG_REDIS_TIMEOUT_MS), tracked);
	if (rc != 0)
		log_warn(r->log, "%s", r->errmsg);
	return rc;
}

int
redis_pipeline(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out)
{
	return redis_pipeline_tracked(r, n, cmds, out, NULL);
}

void
redis_tracking(struct redis *r, redis_invalidate_fn fn, void *arg)
{
	if (r->inv_fn == fn && r->inv_arg == arg)
		return;
	/* A connection opened without tracking is replaced on next use. */
	redis_close(r);
	r->inv_fn = fn;
	r->inv_arg = arg;
}

/* One message of the invalidation channel. */
static void
redis_invalidated(struct redis *r, const redisReply *m)
{
	const redisReply	*keys;
	size_t			 i;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    m->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(m->element[0]->str, "message") != 0)
		return;
	keys = m->element[2];
	if (keys->type == REDIS_REPLY_ARRAY) {
		for (i = 0; i < keys->elements; i++)
			if (keys->element[i]->type == REDIS_REPLY_STRING)
				r->inv_fn(r->inv_arg, keys->element[i]->str,
				    keys->element[i]->len);
	} else	/* nil: FLUSHALL, FLUSHDB, or anything else wholesale */
		r->inv_fn(r->inv_arg, NULL, 0);
}

bool
redis_tracking_poll(struct redis *r)
{
	char		 buf[16384];
	void		*rep;
	ssize_t		 got;

	if (!r->tracking)
		return false;
	for (;;) {
		while (redisReaderGetReply(r->inval->reader, &rep) ==
		    REDIS_OK && rep != NULL) {
			redis_invalidated(r, rep);
			freeReplyObject(rep);
		}
		if (r->inval->reader->err)
			break;
		got = recv(r->inval->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got > 0) {
			if (redisReaderFeed(r->inval->reader, buf,
			    (size_t)got) != REDIS_OK)
				break;
			continue;
		}
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		break;
	}
	/* Closed, reset or garbled: what was tracked is unknown now. */
	log_warn(r->log, "Redis invalidation connection lost; local copies "
	    "dropped");
	redis_close(r);
	return false;
}

int
redis_tracking_fd(const struct redis *r, unsigned *gen)
{
	*gen = r->tracking_gen;
	return r->tracking ? r->inval->fd : -1;
}

int
redis_settle(struct redis *r)
{
	return redis_ping(r, (int)config_int(r->cfg, CFG_REDIS_TIMEOUT_MS));
}

redisReply *
redis_cmd(struct redis *r, int argc, const char **argv, const size_t *lens)
{
	struct redis_argv	 c = { argc, argv, lens };
	redisReply		*rep;

	return redis_pipeline(r, 1, &c, &rep) == 0 ? rep : NULL;
}

int
redis_ping(struct redis *r, int timeout_ms)
{
	const char		*argv[] = { "PING" };
	struct redis_argv	 c = { 1, argv, NULL };
	redisReply		*rep = NULL;
	int			 rc;

	/* The ping has its own budget; restore the usual one afterwards. */
	if (r->ctx != NULL)
		redisSetTimeout(r->ctx, ms_to_tv(timeout_ms));
	if (redis_run(r, 1, &c, &rep, timeout_ms, NULL) != 0)
		rep = NULL;
	if (r->ctx != NULL)
		redisSetTimeout(r->ctx, ms_to_tv(config_int(r->cfg,
		    CFG_REDIS_TIMEOUT_MS)));
	rc = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
	    strcmp(rep->str, "PONG") == 0 ? 0 : -1;
	if (rep != NULL && rc != 0)
		snprintf(r->errmsg, sizeof(r->errmsg), "unexpected reply to "
		    "PING");
	if (rep != NULL)
		freeReplyObject(rep);
	return rc;
}
