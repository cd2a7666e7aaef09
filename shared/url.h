/*
 * url: percent-decoding, UTF-8 checking and query-string parsing.
 *
 * Everything here is strict: a malformed escape, a decoded NUL byte or
 * invalid UTF-8 is an error, never silently repaired.
 */
#ifndef HXB_URL_H
#define HXB_URL_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_PARAMS_MAX	32
#define QUERY_LEN_MAX		4096

/* True if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool	 utf8_valid(const char *s, size_t len);

/* Number of code points in a valid UTF-8 string. */
size_t	 utf8_length(const char *s);

/*
 * Decode s[0..len) into out, which must hold len + 1 bytes; with
 * `plus_space` a '+' becomes a space (form encoding).  Returns the decoded
 * length, or -1 for a bad escape, a NUL byte or invalid UTF-8.
 */
long	 url_decode(const char *s, size_t len, bool plus_space, char *out);

struct buf;

/*
 * Append s percent-encoded, every byte but the unreserved characters of
 * RFC 3986; with `plus_space` a space becomes '+' (form encoding, RFC 6749
 * appendix B).
 */
void	 url_escape(struct buf *, const char *s, bool plus_space);

struct query_param {
	const char	*key;	/* borrowed from struct query */
	const char	*value;
};

struct query {
	char			*storage;	/* owned: decoded keys and values */
	struct query_param	 p[QUERY_PARAMS_MAX];
	size_t			 n;
};

enum query_error {
	QUERY_OK,
	QUERY_TOO_LONG,
	QUERY_TOO_MANY,
	QUERY_BAD_ENCODING,
	QUERY_EMPTY_KEY,
	QUERY_DUPLICATE,
	QUERY_NOMEM,
	QUERY__MAX
};

/*
 * Parse "a=1&b=x%20y" into `q`.  On error `q` holds nothing to free; on
 * success release it with query_free().  Empty pieces ("a=1&&b=2") are
 * skipped; a key without '=' has the empty value.
 */
enum query_error query_parse(const char *qs, struct query *q);
void		 query_free(struct query *);
const char	*query_get(const struct query *, const char *key);
const char	*query_strerror(enum query_error);

#endif
