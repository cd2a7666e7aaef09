/*
 * near: a process's own copies of Redis values ("near cache"), each kept
 * at most a fixed time and dropped as soon as Redis says the key changed.
 *
 * The copies are only as good as the invalidations: a caller keeps a copy
 * only of a value it read with tracking on (redis_pipeline_tracked()), and
 * hands near_invalidate() to redis_tracking() so that every invalidation,
 * and every loss of the tracking connection, drops what it must.  A copy
 * may record that a key does not exist ("nil"), which for a revocation
 * marker is the common, useful case.
 *
 * Bounded: at most `max` entries; when full, everything is dropped (a copy
 * costs one Redis read to get back).  Keys and values are copied in.
 */
#ifndef HXB_NEAR_H
#define HXB_NEAR_H

#include <stdbool.h>
#include <stddef.h>

#define NEAR_SLOTS	4096

struct near_entry {
	struct near_entry	*next;
	long long		 expires;	/* clock_ms() */
	char			*val;		/* NULL: the key does not exist */
	size_t			 vlen;
	size_t			 klen;
	char			 key[];
};

struct near {
	struct near_entry	*slot[NEAR_SLOTS];
	size_t			 n, max;
	long long		 ttl_ms;	/* 0: keep nothing */
};

void	 near_init(struct near *, long long ttl_ms, size_t max);

/*
 * The copy of key, or NULL if there is none (or it is older than ttl_ms,
 * given now, from clock_ms()).  The entry is valid until the next call
 * that changes the cache.
 */
const struct near_entry *near_get(struct near *, const char *key, size_t klen,
	    long long now);

/* Keep a copy of key (val NULL: it does not exist).  0, or -1 if not kept. */
int	 near_put(struct near *, const char *key, size_t klen, const char *val,
	    size_t vlen, long long now);

void	 near_drop(struct near *, const char *key, size_t klen);
void	 near_clear(struct near *);

/* For redis_tracking(): arg is the struct near; key NULL drops all. */
void	 near_invalidate(void *arg, const char *key, size_t klen);

#endif
