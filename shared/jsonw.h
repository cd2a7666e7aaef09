/*
 * jsonw: a streaming JSON writer into a struct buf.
 *
 * Responses are written straight into the output buffer, without building
 * a tree first; commas and nesting are tracked here so callers only say
 * what comes next.  Failures (allocation, the buffer's cap, nesting deeper
 * than JSONW_DEPTH_MAX) are sticky in the buffer: check buf.failed once at
 * the end.
 *
 * Ownership: the writer borrows the buffer; the caller owns and releases it.
 */
#ifndef HXB_JSONW_H
#define HXB_JSONW_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"

#define JSONW_DEPTH_MAX	32

struct jsonw {
	struct buf	*b;
	int		 depth;
	bool		 need_comma[JSONW_DEPTH_MAX];
	bool		 after_key;
};

void	 jsonw_init(struct jsonw *, struct buf *);
void	 jsonw_object(struct jsonw *);
void	 jsonw_object_end(struct jsonw *);
void	 jsonw_array(struct jsonw *);
void	 jsonw_array_end(struct jsonw *);
void	 jsonw_key(struct jsonw *, const char *);
void	 jsonw_string(struct jsonw *, const char *);
void	 jsonw_int(struct jsonw *, long long);
void	 jsonw_double(struct jsonw *, double);
void	 jsonw_bool(struct jsonw *, bool);
void	 jsonw_null(struct jsonw *);

/* A jansson value, written in its insertion order. */
void	 jsonw_value(struct jsonw *, const json_t *);

/* key + value in one call. */
/* A value already serialized as JSON by a trusted producer (PostgreSQL). */
void	 jsonw_raw(struct jsonw *, const char *json);
void	 jsonw_kv_string(struct jsonw *, const char *, const char *);
void	 jsonw_kv_int(struct jsonw *, const char *, long long);
void	 jsonw_kv_bool(struct jsonw *, const char *, bool);
void	 jsonw_kv_null(struct jsonw *, const char *);

#endif
