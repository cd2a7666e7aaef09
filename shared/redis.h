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

#include <stdbool.h>
#include <stddef.h>

#include <hiredis.h>

struct config;
struct logger;

/* Told which key changed (key NULL: forget everything). */
typedef void	(*redis_invalidate_fn)(void *arg, const char *key,
		    size_t klen);

struct redis {
	redisContext		*ctx;
	const struct config	*cfg;
	const struct logger	*log;
	char			 errmsg[256];

	/* Client-side tracking; see redis_tracking(). */
	redisContext		*inval;		/* receives invalidations */
	redis_invalidate_fn	 inv_fn;
	void			*inv_arg;
	bool			 tracking;	/* on for this ctx */
	unsigned		 tracking_gen;	/* bumped by every change */
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

/*
 * Client-side caching (Redis 6 and later).  With redis_tracking(), every
 * connection this struct opens gets a second one subscribed to
 * __redis__:invalidate, and the first is switched to
 * CLIENT TRACKING ON REDIRECT <second> OPTIN.  Redis then remembers which
 * keys were read through redis_pipeline_tracked() and, when one of them is
 * written, deleted, expired or evicted, sends its name on the second
 * connection.  fn hears of every such key, and gets NULL whenever copies
 * may have gone stale unheard: a flush, a lost or replaced connection.
 *
 * Redis writes the invalidations a command causes in the same event-loop
 * pass as that command's reply, so after one further round trip
 * (redis_settle()) they are on every tracking connection.  A reader that
 * calls redis_tracking_poll() before using its copies therefore never
 * uses one that a settled write has changed.
 *
 * When Redis cannot track (an old version, CLIENT disabled), tracking is
 * simply off: redis_tracking_poll() says false and nothing may be kept.
 */
void		 redis_tracking(struct redis *, redis_invalidate_fn, void *);

/*
 * Read whatever invalidations have arrived, without waiting, and hand
 * them to fn.  true if copies read with tracking may still be used.
 */
bool		 redis_tracking_poll(struct redis *);

/*
 * The descriptor invalidations arrive on (-1 if none), for a caller that
 * waits on it while idle; *gen changes whenever the descriptor does.
 */
int		 redis_tracking_fd(const struct redis *, unsigned *gen);

/*
 * redis_pipeline(), with the last command's reads tracked when tracking
 * is on: *tracked tells whether the caller may keep copies of its reply.
 */
int		 redis_pipeline_tracked(struct redis *, size_t n,
		    const struct redis_argv *, redisReply **out,
		    bool *tracked);

/*
 * One more round trip, after writes to tracked keys, so that their
 * invalidations have reached every tracking connection when it returns.
 * 0, or -1 with errmsg set.
 */
int		 redis_settle(struct redis *);

/* PING within timeout_ms; 0 when Redis answers PONG. */
int		 redis_ping(struct redis *, int timeout_ms);

#endif
