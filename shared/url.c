/*
 * url: percent-decoding and query strings; see url.h.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "url.h"

bool
utf8_valid(const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i = 0, need, k;
	unsigned int		 cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return false;
		if (len - i <= need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

size_t
utf8_length(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}


long
url_decode(const char *s, size_t len, bool plus_space, char *out)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			if (len - i < 3 || (hi = hex_digit(s[i + 1])) < 0 ||
			    (lo = hex_digit(s[i + 2])) < 0)
				return -1;
			out[o] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '+' && plus_space)
			out[o] = ' ';
		else
			out[o] = s[i];
		if (out[o] == '\0')
			return -1;
		o++;
	}
	out[o] = '\0';
	if (!utf8_valid(out, o))
		return -1;
	return (long)o;
}

static const char *const query_errors[QUERY__MAX] = {
	[QUERY_OK] = "ok",
	[QUERY_TOO_LONG] = "the query string is too long",
	[QUERY_TOO_MANY] = "the query string has too many parameters",
	[QUERY_BAD_ENCODING] = "the query string has a malformed "
	    "percent-escape, a NUL byte or invalid UTF-8",
	[QUERY_EMPTY_KEY] = "the query string has a parameter without a name",
	[QUERY_DUPLICATE] = "a query parameter is given more than once",
	[QUERY_NOMEM] = "out of memory",
};

const char *
query_strerror(enum query_error e)
{
	return e < QUERY__MAX ? query_errors[e] : "unknown error";
}

/*
 * Decoded keys and values go into one allocation the size of the input
 * plus a NUL per piece, so nothing can overflow it.
 */
enum query_error
query_parse(const char *qs, struct query *q)
{
	size_t		 len, i;
	const char	*p, *end, *amp, *eq;
	char		*w;
	long		 n;
	enum query_error e = QUERY_OK;

	memset(q, 0, sizeof(*q));
	if (qs == NULL || *qs == '\0')
		return QUERY_OK;
	if ((len = strlen(qs)) > QUERY_LEN_MAX)
		return QUERY_TOO_LONG;
	if ((q->storage = malloc(len * 2 + 2)) == NULL)
		return QUERY_NOMEM;
	w = q->storage;
	p = qs;
	end = qs + len;
	while (p <= end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {		/* "a=1&&b=2" or a trailing '&' */
			p = amp + 1;
			continue;
		}
		if (q->n == QUERY_PARAMS_MAX) {
			e = QUERY_TOO_MANY;
			goto fail;
		}
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if (eq == p) {
			e = QUERY_EMPTY_KEY;
			goto fail;
		}
		if ((n = url_decode(p, (size_t)(eq - p), true, w)) < 0) {
			e = QUERY_BAD_ENCODING;
			goto fail;
		}
		q->p[q->n].key = w;
		w += n + 1;
		if (eq == amp)
			n = 0, *w = '\0';
		else if ((n = url_decode(eq + 1, (size_t)(amp - eq - 1), true,
		    w)) < 0) {
			e = QUERY_BAD_ENCODING;
			goto fail;
		}
		q->p[q->n].value = w;
		w += n + 1;
		for (i = 0; i < q->n; i++)
			if (strcmp(q->p[i].key, q->p[q->n].key) == 0) {
				e = QUERY_DUPLICATE;
				goto fail;
			}
		q->n++;
		p = amp + 1;
	}
	return QUERY_OK;
fail:
	query_free(q);
	return e;
}

void
query_free(struct query *q)
{
	free(q->storage);
	memset(q, 0, sizeof(*q));
}

const char *
query_get(const struct query *q, const char *key)
{
	size_t	 i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->p[i].key, key) == 0)
			return q->p[i].value;
	return NULL;
}

void
url_escape(struct buf *b, const char *s, bool plus_space)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char	 c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf_addch(b, (char)c);
		else if (c == ' ' && plus_space)
			buf_addch(b, '+');
		else {
			buf_addch(b, '%');
			buf_addch(b, hex[c >> 4]);
			buf_addch(b, hex[c & 15]);
		}
	}
}
