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
buf_add_slow(struct buf *b, const void *p, size_t n)
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
/*
 * The length of the valid UTF-8 sequence of 2 to 4 bytes at p (no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0.  The
 * string's NUL stops a truncated sequence: it is no continuation byte.
 */
static size_t
utf8_seq(const unsigned char *p)
{
	unsigned int	 cp;
	size_t		 need, k;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 2, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 3, cp = p[0] & 0x07;
	else
		return 0;
	for (k = 1; k <= need; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3f);
	}
	if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need + 1;
}

/*
 * The body of a JSON string: runs of bytes that need no escape copied
 * whole.  With utf8, valid UTF-8 passes as it is and an invalid sequence
 * stops the run (-1: the caller starts over without utf8); without it,
 * every byte from 0x80 up is escaped as its own code point.
 */
static int
json_string_body(struct buf *b, const unsigned char *p, bool utf8)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *run;
	char		 esc[6];
	size_t		 k;

	for (;;) {
		for (run = p;;) {
			if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
				p++;
			else if (*p >= 0x80 && utf8 && (k = utf8_seq(p)) > 0)
				p += k;
			else
				break;
		}
		if (p > run)
			buf_add(b, run, (size_t)(p - run));
		if (*p == '\0')
			return 0;
		if (*p >= 0x80 && utf8)
			return -1;
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
}

/*
 * One pass for the common case of valid UTF-8; a string that is not is
 * written again from its opening quote with every high byte escaped, so
 * that it reads back as the same bytes taken one by one.
 */
bool
buf_add_json_string(struct buf *b, const char *s)
{
	size_t	 start = b->len;

	if (!buf_grow(b, strlen(s) + 2) || !buf_addch(b, '"'))
		return false;
	if (json_string_body(b, (const unsigned char *)s, true) != 0 &&
	    !b->failed) {
		b->len = start + 1;
		(void)json_string_body(b, (const unsigned char *)s, false);
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

bool
buf_add_html(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':
			buf_addstr(b, "&amp;");
			break;
		case '<':
			buf_addstr(b, "&lt;");
			break;
		case '>':
			buf_addstr(b, "&gt;");
			break;
		case '"':
			buf_addstr(b, "&quot;");
			break;
		case '\'':
			buf_addstr(b, "&#39;");
			break;
		default:
			buf_addch(b, *s);
			break;
		}
	return !b->failed;
}

void
buf_release_secret(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}
