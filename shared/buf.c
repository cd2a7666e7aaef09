/*
 * buf: growable byte buffer; see buf.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "url.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
	b->failed = false;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/*
 * Make room for `extra` more bytes plus the terminating NUL.  On failure the
 * buffer is left unaltered apart from the sticky flag.
 */
bool
buf_grow(struct buf *b, size_t extra)
{
	size_t	 max = b->max ? b->max : SIZE_MAX - 1;
	size_t	 need, ncap;
	char	*p;

	if (b->failed)
		return false;
	if (extra > max || b->len > max - extra) {
		b->failed = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if ((p = realloc(b->data, ncap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = ncap;
	return true;
}

bool
buf_add(struct buf *b, const void *p, size_t n)
{
	if (!buf_grow(b, n))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

bool
buf_addch(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

/* Decimal digits of v, at least `width` of them (zero-padded), into out. */
size_t
fmt_uint(char out[FMT_UINT_MAX], unsigned long long v, int width)
{
	char	 tmp[FMT_UINT_MAX];
	size_t	 n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	while ((int)n < width && n < sizeof(tmp))
		tmp[n++] = '0';
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

bool
buf_add_int(struct buf *b, long long v)
{
	char			 num[FMT_UINT_MAX + 1];
	unsigned long long	 u = (unsigned long long)v;
	size_t			 n = 0;

	if (v < 0) {
		num[n++] = '-';
		u = -u;
	}
	n += fmt_uint(num + n, u, 1);
	return buf_add(b, num, n);
}

bool
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	 cp;
	size_t	 room;
	int	 n;

	if (b->failed)
		return false;
	/* Usually the text fits in the room there is: format once. */
	room = b->cap > b->len ? b->cap - b->len : 0;
	va_copy(cp, ap);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->failed = true;
		return false;
	}
	if ((size_t)n < room && (b->max == 0 || b->len + (size_t)n <= b->max)) {
		b->len += (size_t)n;
		return true;
	}
	if (!buf_grow(b, (size_t)n)) {
		if (b->data != NULL)
			b->data[b->len] = '\0';
		return false;
	}
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return true;
}

bool
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	bool	 ok;

	va_start(ap, fmt);
	ok = buf_vaddf(b, fmt, ap);
	va_end(ap);
	return ok;
}

/*
 * Append `s` as a JSON string literal, quotes included.  Runs of plain
 * characters are copied at once.  Control characters are escaped; so is
 * every byte of a string that is not valid UTF-8, so the output is always
 * valid JSON whatever the input (a raw path, a libpq message).
 */
bool
buf_add_json_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	bool		 utf8 = utf8_valid(s, strlen(s));
	char		 esc[7];

	if (!buf_addch(b, '"'))
		return false;
	for (;;) {
		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\' &&
		    *p != 0x7f && (*p < 0x80 || utf8); p++)
			;
		if (p > run)
			buf_add(b, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		switch (*p) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 0xf];
			buf_add(b, esc, 6);
			break;
		}
		p++;
	}
	return buf_addch(b, '"');
}

char *
buf_detach(struct buf *b, size_t *lenp)
{
	char	*p;

	if (b->failed) {
		buf_release(b);
		return NULL;
	}
	if (b->data == NULL && !buf_grow(b, 0)) {
		buf_release(b);
		return NULL;
	}
	b->data[b->len] = '\0';
	p = b->data;
	if (lenp != NULL)
		*lenp = b->len;
	buf_init(b, b->max);
	return p;
}

const char *
buf_cstr(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}
