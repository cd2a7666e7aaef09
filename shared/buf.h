/*
 * buf: a growable byte buffer with a hard cap and a sticky failure flag.
 *
 * Modelled on git's strbuf and libusual's mbuf: callers append freely and
 * check `failed` once at the end.  The data is always NUL-terminated once
 * anything has been appended, so it can be used as a C string.
 *
 * Ownership: the buffer owns `data`.  buf_release() frees it, buf_detach()
 * hands it to the caller, who frees it with free(3).
 */
#ifndef HXB_BUF_H
#define HXB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* hard cap on len; 0 means SIZE_MAX */
	bool	 failed;	/* sticky: set on allocation failure or cap */
};

#define BUF_INIT(max)	{ NULL, 0, 0, (max), false }

void	 buf_init(struct buf *, size_t max);
void	 buf_release(struct buf *);
void	 buf_reset(struct buf *);
bool	 buf_grow(struct buf *, size_t extra);
bool	 buf_add_slow(struct buf *, const void *, size_t);
bool	 buf_addstr(struct buf *, const char *);
bool	 buf_addf(struct buf *, const char *, ...)
		__attribute__((format(printf, 2, 3)));
bool	 buf_vaddf(struct buf *, const char *, va_list)
		__attribute__((format(printf, 2, 0)));
bool	 buf_add_json_string(struct buf *, const char *);
/* Append s with & < > " ' escaped, for HTML text and attribute values. */
bool	 buf_add_html(struct buf *, const char *);
/* buf_release() of a buffer that held a secret: wiped first. */
void	 buf_release_secret(struct buf *);
/*
 * Append n bytes.  The common case, room already there, is inline: the
 * JSON writer appends a few bytes at a time, many thousands a page.
 */
static inline bool
buf_add(struct buf *b, const void *p, size_t n)
{
	if (!b->failed && b->cap - b->len > n &&
	    (b->max == 0 || n <= b->max - b->len)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return true;
	}
	return buf_add_slow(b, p, n);
}

static inline bool
buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

/* A decimal integer, without printf. */
bool	 buf_add_int(struct buf *, long long);

/* Digits of an unsigned value, zero-padded to `width`; not terminated. */
#define FMT_UINT_MAX	20
size_t	 fmt_uint(char out[FMT_UINT_MAX], unsigned long long, int width);

/*
 * Hand the data to the caller, who frees it with free(3).  Returns NULL if
 * the buffer failed; it is released either way.  An empty buffer yields an
 * allocated empty string.
 */
char	*buf_detach(struct buf *, size_t *lenp);

/* Borrowed pointer to a NUL-terminated string, valid until the next call. */
const char *buf_cstr(const struct buf *);

#endif
