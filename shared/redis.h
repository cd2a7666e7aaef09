/*
 * redis: one lazily opened hiredis connection per process, with deadlines,
 * AUTH from the configuration, and one transparent reconnect when a command
 * finds the connection broken.
 *
 * Commands are given as argument vectors, never format strings, so no
 * value can change the shape of a command.
 *
 * Ownership: replies belong to the caller, who frees them with
 * freeReplyObject().  The struct borrows the configuration and logger.
 */
#ifndef HXB_REDIS_H
#define HXB_REDIS_H

#include <stddef.h>

#include <hiredis.h>

struct config;
struct logger;

struct redis {
	redisContext		*ctx;
	const struct config	*cfg;
	const struct logger	*log;
	char			 errmsg[256];
};

void		 redis_init(struct redis *, const struct config *,
		    const struct logger *);
void		 redis_close(struct redis *);

/*
 * Run one command.  Returns the reply (never of type REDIS_REPLY_ERROR:
 * those become NULL with errmsg set), or NULL on failure.
 */
redisReply	*redis_cmd(struct redis *, int argc, const char **argv,
		    const size_t *argvlen);

/* One command of a pipeline. */
struct redis_argv {
	int			 argc;
	const char		**argv;
	const size_t		*lens;		/* NULL: C strings */
};

/*
 * Send n commands in one write and read their n replies: one round trip.
 * 0 with every reply in out (none of type error), or -1 with errmsg set
 * and nothing to free.
 */
int		 redis_pipeline(struct redis *, size_t n,
		    const struct redis_argv *, redisReply **out);

/* PING within timeout_ms; 0 when Redis answers PONG. */
int		 redis_ping(struct redis *, int timeout_ms);

#endif
