/*
 * cursor: opaque keyset-pagination cursors for list endpoints.
 *
 * A cursor names the last row of a page by its sort key (an integer: a
 * position, or a time in microseconds) and its id, encoded as base64url so
 * that clients treat it as opaque.  Decoding is strict: anything a client
 * made up is refused, never guessed at.
 */
#ifndef HXB_CURSOR_H
#define HXB_CURSOR_H

#include <stddef.h>

#define CURSOR_MAX	192	/* encoded length, NUL included */
#define CURSOR_ID_MAX	96

/* Encode into out[CURSOR_MAX]; returns 0, or -1 if the id is too long. */
int	 cursor_encode(long long key, const char *id, char out[CURSOR_MAX]);

/* Decode; returns 0, or -1 if `s` is not a cursor we made. */
int	 cursor_decode(const char *s, long long *key,
	    char id[CURSOR_ID_MAX]);

#endif
