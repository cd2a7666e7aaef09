/*
 * redis: hiredis with deadlines and reconnect; see redis.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void
redis_close(struct redis *r)
{
	if (r->ctx != NULL)
		redisFree(r->ctx);
	r->ctx = NULL;
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
static int
redis_connect(struct redis *r, long long timeout_ms)
{
	const char	*addr = config_str(r->cfg, CFG_REDIS_ADDR);
	const char	*pw = config_str(r->cfg, CFG_REDIS_PASSWORD);
	struct timeval	 tv = ms_to_tv(timeout_ms);
	const char	*colon;
	char		 host[256];
	long		 port;
	char		*end;
	redisReply	*rep;

	redis_close(r);
	if (addr[0] == '/')
		r->ctx = redisConnectUnixWithTimeout(addr, tv);
	else {
		if ((colon = strrchr(addr, ':')) == NULL ||
		    (size_t)(colon - addr) >= sizeof(host)) {
			snprintf(r->errmsg, sizeof(r->errmsg), "HXB_REDIS_ADDR "
			    "must be host:port or a socket path");
			return -1;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || port <= 0 || port > 65535) {
			snprintf(r->errmsg, sizeof(r->errmsg), "HXB_REDIS_ADDR "
			    "has a bad port");
			return -1;
		}
		r->ctx = redisConnectWithTimeout(host, (int)port, tv);
	}
	if (r->ctx == NULL || r->ctx->err) {
		snprintf(r->errmsg, sizeof(r->errmsg), "cannot connect to "
		    "Redis at %s: %s", addr, r->ctx ? r->ctx->errstr :
		    "out of memory");
		redis_close(r);
		return -1;
	}
	if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
		snprintf(r->errmsg, sizeof(r->errmsg), "cannot set Redis "
		    "timeout");
		redis_close(r);
		return -1;
	}
	if (pw != NULL) {
		const char *argv[] = { "AUTH", pw };

		rep = redisCommandArgv(r->ctx, 2, argv, NULL);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(r->errmsg, sizeof(r->errmsg), "Redis AUTH "
			    "failed: %s", rep != NULL ? rep->str :
			    r->ctx->errstr);
			if (rep != NULL)
				freeReplyObject(rep);
			redis_close(r);
			return -1;
		}
		freeReplyObject(rep);
	}
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
 * when one is an error, so that the connection stays in step.  0, or -1
 * with errmsg set and no replies kept.
 */
static int
redis_try(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out, long long timeout_ms, bool *io_error)
{
	struct buf	 cmd = BUF_INIT(0);
	void		*rep;
	size_t		 i, got = 0;
	int		 rc = 0;

	*io_error = false;
	if (r->ctx == NULL && redis_connect(r, timeout_ms) != 0) {
		*io_error = true;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (!resp_format(&cmd, cmds[i].argc, cmds[i].argv,
		    cmds[i].lens)) {
			buf_release(&cmd);
			snprintf(r->errmsg, sizeof(r->errmsg), "out of memory");
			return -1;
		}
	if (redisAppendFormattedCommand(r->ctx, cmd.data, cmd.len) == REDIS_OK)
		for (; got < n; got++) {
			if (redisGetReply(r->ctx, &rep) != REDIS_OK)
				break;
			out[got] = rep;
		}
	buf_release(&cmd);
	if (got < n) {
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
	if (rc != 0)
		for (i = 0; i < got; i++) {
			freeReplyObject(out[i]);
			out[i] = NULL;
		}
	return rc;
}

/* A broken idle connection is replaced once; a fresh failure is final. */
static int
redis_run(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out, long long timeout_ms)
{
	bool	 had = r->ctx != NULL, io_error;
	int	 rc;

	rc = redis_try(r, n, cmds, out, timeout_ms, &io_error);
	if (rc != 0 && io_error && had)
		rc = redis_try(r, n, cmds, out, timeout_ms, &io_error);
	return rc;
}

int
redis_pipeline(struct redis *r, size_t n, const struct redis_argv *cmds,
    redisReply **out)
{
	int	 rc;

	rc = redis_run(r, n, cmds, out, config_int(r->cfg,
	    CFG_REDIS_TIMEOUT_MS));
	if (rc != 0)
		log_warn(r->log, "%s", r->errmsg);
	return rc;
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
	if (redis_run(r, 1, &c, &rep, timeout_ms) != 0)
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
