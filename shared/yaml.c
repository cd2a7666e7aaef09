/*
 * yaml: see yaml.h.
 *
 * The text is cut into lines first (indentation, content, number), with
 * blank and comment lines dropped; a recursive descent then reads a block
 * node from the lines at one indentation.  "- key: value" is read by
 * moving the line's content to its own column, where the rest of that
 * mapping continues.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "yaml.h"

#define YAML_DEPTH_MAX	64

struct line {
	size_t	 indent;
	char	*text;		/* content, trailing blanks cut */
	size_t	 no;		/* 1-based, for errors */
};

struct parser {
	struct line	*l;
	size_t		 n, i;
	int		 depth;
	char		*err;
};

static json_t	*node(struct parser *, size_t min_indent);

static json_t *
fail(struct parser *p, size_t no, const char *fmt, ...)
{
	char	 why[YAML_ERR_MAX - 32];
	va_list	 ap;

	if (p->err[0] != '\0')
		return NULL;	/* keep the first reason */
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(p->err, YAML_ERR_MAX, "line %zu: %s", no, why);
	return NULL;
}

static bool
is_item(const char *t)
{
	return t[0] == '-' && (t[1] == ' ' || t[1] == '\0');
}

/* After a closing quote or a flow collection: blanks, then a comment. */
static bool
tail_ok(const char *t)
{
	while (*t == ' ')
		t++;
	return *t == '\0' || (*t == '#' && t[-1] == ' ');
}


/*
 * A quoted scalar starting at *t; *t is left after the closing quote.
 * Returns a new string, or NULL (err set).
 */
static json_t *
quoted(struct parser *p, size_t no, const char **t)
{
	const char	*s = *t;
	char		 q = *s++;
	struct buf	 b = BUF_INIT(0);
	json_t		*v;
	unsigned	 cp;
	int		 k, h;

	for (;; s++) {
		if (*s == '\0') {
			buf_release(&b);
			return fail(p, no, "a quoted scalar is not closed "
			    "on its line");
		}
		if (*s == q) {
			if (q == '\'' && s[1] == '\'') {
				buf_addch(&b, '\'');
				s++;
				continue;
			}
			break;
		}
		if (q == '\'' || *s != '\\') {
			buf_addch(&b, *s);
			continue;
		}
		switch (*++s) {
		case '\\': case '"': case '/': case ' ':
			buf_addch(&b, *s);
			break;
		case 'n':
			buf_addch(&b, '\n');
			break;
		case 't':
			buf_addch(&b, '\t');
			break;
		case 'r':
			buf_addch(&b, '\r');
			break;
		case 'u':
			for (cp = 0, k = 1; k <= 4; k++) {
				if ((h = hex_digit(s[k])) < 0)
					break;
				cp = cp << 4 | (unsigned)h;
			}
			if (k <= 4 || cp == 0 || (cp >= 0xd800 && cp < 0xe000)) {
				buf_release(&b);
				return fail(p, no, "an unsupported \\u escape");
			}
			s += 4;
			if (cp < 0x80)
				buf_addch(&b, (char)cp);
			else if (cp < 0x800) {
				buf_addch(&b, (char)(0xc0 | cp >> 6));
				buf_addch(&b, (char)(0x80 | (cp & 0x3f)));
			} else {
				buf_addch(&b, (char)(0xe0 | cp >> 12));
				buf_addch(&b, (char)(0x80 | (cp >> 6 & 0x3f)));
				buf_addch(&b, (char)(0x80 | (cp & 0x3f)));
			}
			break;
		default:
			buf_release(&b);
			return fail(p, no, "an unsupported escape in a "
			    "double-quoted scalar");
		}
	}
	*t = s + 1;
	v = b.failed ? NULL : json_stringn(b.data != NULL ? b.data : "",
	    b.len);
	buf_release(&b);
	if (v == NULL)
		return fail(p, no, "a scalar that is not UTF-8, or no memory");
	return v;
}

/* A scalar value: all of t, which has no trailing blanks. */
static json_t *
scalar(struct parser *p, size_t no, const char *t)
{
	const char	*end;
	json_t		*v;

	switch (*t) {
	case '"':
	case '\'':
		if ((v = quoted(p, no, &t)) == NULL)
			return NULL;
		if (!tail_ok(t)) {
			json_decref(v);
			return fail(p, no, "text after a quoted scalar");
		}
		return v;
	case '{':
	case '[':
		if (t[1] == (*t == '{' ? '}' : ']') && tail_ok(t + 2))
			return *t == '{' ? json_object() : json_array();
		return fail(p, no, "flow collections with content are not "
		    "supported");
	case '&': case '*': case '!': case '|': case '>': case '%':
	case '@': case '`':
		return fail(p, no, "'%c' (anchors, aliases, tags, block "
		    "scalars, reserved) is not supported", *t);
	case '#':
		return json_null();
	}
	/* A plain scalar ends where a comment starts. */
	for (end = t; *end != '\0' && !(end[0] == ' ' && end[1] == '#'); end++)
		if (end[0] == ':' && end[1] == ' ')
			return fail(p, no, "': ' inside a plain scalar");
	while (end > t && end[-1] == ' ')
		end--;
	if (end == t || ((size_t)(end - t) == 4 &&
	    strncmp(t, "null", 4) == 0) || ((size_t)(end - t) == 1 &&
	    *t == '~'))
		return json_null();
	if ((v = json_stringn(t, (size_t)(end - t))) == NULL)
		return fail(p, no, "a scalar that is not UTF-8");
	return v;
}

static json_t *
seq(struct parser *p, size_t ind)
{
	json_t		*a = json_array(), *v;
	struct line	*l;
	const char	*rest;

	if (a == NULL)
		return fail(p, p->l[p->i].no, "out of memory");
	while (p->i < p->n && p->l[p->i].indent == ind &&
	    is_item(p->l[p->i].text)) {
		l = &p->l[p->i];
		for (rest = l->text + 1; *rest == ' '; rest++)
			;
		if (*rest == '\0' || (*rest == '#' && rest[-1] == ' ')) {
			p->i++;
			if (p->i < p->n && p->l[p->i].indent > ind)
				v = node(p, ind + 1);
			else
				v = json_null();
		} else if (is_item(rest) || strstr(rest, ": ") != NULL ||
		    rest[strlen(rest) - 1] == ':') {
			/* The item's content starts a node at its column. */
			l->indent += (size_t)(rest - l->text);
			l->text = (char *)rest;
			if (*rest == '"' || *rest == '\'' || *rest == '{' ||
			    *rest == '[')
				goto item_scalar;
			v = node(p, l->indent);
		} else {
item_scalar:
			v = scalar(p, l->no, rest);
			p->i++;
		}
		if (v == NULL || json_array_append_new(a, v) != 0) {
			json_decref(a);
			return fail(p, l->no, "out of memory");
		}
	}
	if (p->i < p->n && p->l[p->i].indent > ind) {
		json_decref(a);
		return fail(p, p->l[p->i].no, "unexpected indentation");
	}
	return a;
}

/* A key at the start of t; *t is left after its ':'.  NULL: err set. */
static char *
key_of(struct parser *p, size_t no, const char **t)
{
	const char	*s = *t, *c;
	json_t		*q;
	char		*k;

	if (*s == '"' || *s == '\'') {
		if ((q = quoted(p, no, &s)) == NULL)
			return NULL;
		k = strdup(json_string_value(q));
		json_decref(q);
		if (*s != ':' || (s[1] != ' ' && s[1] != '\0')) {
			free(k);
			return fail(p, no, "a quoted key without ':'"), NULL;
		}
		*t = s + 1;
		return k;
	}
	if (strchr("&*!|>%@`{[#?", *s) != NULL)
		return fail(p, no, "a key starting with '%c' is not "
		    "supported", *s), NULL;
	for (c = s; *c != '\0'; c++)
		if (c[0] == ':' && (c[1] == ' ' || c[1] == '\0'))
			break;
	if (*c == '\0' || c == s)
		return fail(p, no, "a line that is neither 'key: value' nor "
		    "'- item'"), NULL;
	if (c[-1] == ' ')
		return fail(p, no, "a blank before ':'"), NULL;
	*t = c + 1;
	return strndup(s, (size_t)(c - s));
}

static json_t *
map(struct parser *p, size_t ind)
{
	json_t		*o = json_object(), *v;
	const char	*t;
	char		*k;
	size_t		 no;

	if (o == NULL)
		return fail(p, p->l[p->i].no, "out of memory");
	while (p->i < p->n && p->l[p->i].indent == ind) {
		no = p->l[p->i].no;
		t = p->l[p->i].text;
		if (is_item(t)) {
			json_decref(o);
			return fail(p, no, "a sequence item where a key was "
			    "expected");
		}
		if ((k = key_of(p, no, &t)) == NULL) {
			json_decref(o);
			return NULL;
		}
		while (*t == ' ')
			t++;
		p->i++;
		if (*t == '\0' || *t == '#') {
			if (p->i < p->n && (p->l[p->i].indent > ind ||
			    (p->l[p->i].indent == ind &&
			    is_item(p->l[p->i].text))))
				v = node(p, p->l[p->i].indent);
			else
				v = json_null();
		} else
			v = scalar(p, no, t);
		if (v == NULL || json_object_get(o, k) != NULL) {
			if (v != NULL)
				fail(p, no, "the key \"%s\" twice", k);
			json_decref(v);
			json_decref(o);
			free(k);
			return NULL;
		}
		if (json_object_set_new(o, k, v) != 0) {
			free(k);
			json_decref(o);
			return fail(p, no, "a key that is not UTF-8");
		}
		free(k);
	}
	if (p->i < p->n && p->l[p->i].indent > ind) {
		json_decref(o);
		return fail(p, p->l[p->i].no, "unexpected indentation");
	}
	return o;
}

static json_t *
node(struct parser *p, size_t min_indent)
{
	json_t	*v;
	size_t	 ind;

	if (p->i >= p->n || p->l[p->i].indent < min_indent)
		return json_null();
	if (++p->depth > YAML_DEPTH_MAX)
		return fail(p, p->l[p->i].no, "nested too deeply");
	ind = p->l[p->i].indent;
	v = is_item(p->l[p->i].text) ? seq(p, ind) : map(p, ind);
	p->depth--;
	return v;
}

/* Cut the text (copied into `copy`) into lines; 0, or -1 with err set. */
static int
split(struct parser *p, char *copy)
{
	char	*s = copy, *nl, *t, *e;
	size_t	 no = 0, cap = 0, ind;
	bool	 started = false;
	void	*np;

	for (; s != NULL; s = nl) {
		no++;
		if ((nl = strchr(s, '\n')) != NULL)
			*nl++ = '\0';
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\r' ||
		    e[-1] == '\t'))
			*--e = '\0';
		for (t = s; *t == ' '; t++)
			;
		ind = (size_t)(t - s);
		if (*t == '\t') {
			fail(p, no, "a tab in indentation");
			return -1;
		}
		if (*t == '\0' || *t == '#')
			continue;
		if (ind == 0 && (strcmp(t, "---") == 0 ||
		    strncmp(t, "--- ", 4) == 0)) {
			if (started) {
				fail(p, no, "more than one document");
				return -1;
			}
			started = true;
			if (t[3] != '\0' && !tail_ok(t + 3)) {
				fail(p, no, "content after '---'");
				return -1;
			}
			continue;
		}
		if (ind == 0 && strcmp(t, "...") == 0)
			break;
		started = true;
		if (p->n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((np = realloc(p->l, cap * sizeof(*p->l))) == NULL) {
				fail(p, no, "out of memory");
				return -1;
			}
			p->l = np;
		}
		p->l[p->n].indent = ind;
		p->l[p->n].text = t;
		p->l[p->n].no = no;
		p->n++;
	}
	return 0;
}

json_t *
yaml_parse(const char *text, size_t len, char err[YAML_ERR_MAX])
{
	struct parser	 p;
	json_error_t	 je;
	json_t		*v = NULL;
	char		*copy;
	size_t		 i;

	err[0] = '\0';
	for (i = 0; i < len && (text[i] == ' ' || text[i] == '\n' ||
	    text[i] == '\r' || text[i] == '\t'); i++)
		;
	if (i < len && text[i] == '{') {
		if ((v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ==
		    NULL)
			snprintf(err, YAML_ERR_MAX, "line %d: %.120s", je.line,
			    je.text);
		return v;
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, YAML_ERR_MAX, "a NUL byte in the text");
		return NULL;
	}
	if ((copy = strndup(text, len)) == NULL) {
		snprintf(err, YAML_ERR_MAX, "out of memory");
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.err = err;
	if (split(&p, copy) == 0) {
		if (p.n == 0)
			v = json_null();
		else if ((v = node(&p, 0)) != NULL && p.i < p.n) {
			json_decref(v);
			v = fail(&p, p.l[p.i].no, "unexpected indentation");
		}
	}
	free(p.l);
	free(copy);
	return v;
}
