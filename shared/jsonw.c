/*
 * jsonw: streaming JSON writer; see jsonw.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

void
jsonw_init(struct jsonw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Before any value: the comma that separates it from its predecessor. */
static void
jsonw_sep(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		buf_addch(w->b, ',');
	w->need_comma[w->depth] = true;
}

static void
jsonw_open(struct jsonw *w, char c)
{
	jsonw_sep(w);
	if (w->depth + 1 >= JSONW_DEPTH_MAX) {
		w->b->failed = true;
		return;
	}
	buf_addch(w->b, c);
	w->need_comma[++w->depth] = false;
}

static void
jsonw_close(struct jsonw *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	buf_addch(w->b, c);
}

void
jsonw_object(struct jsonw *w)
{
	jsonw_open(w, '{');
}

void
jsonw_object_end(struct jsonw *w)
{
	jsonw_close(w, '}');
}

void
jsonw_array(struct jsonw *w)
{
	jsonw_open(w, '[');
}

void
jsonw_array_end(struct jsonw *w)
{
	jsonw_close(w, ']');
}

void
jsonw_key(struct jsonw *w, const char *k)
{
	jsonw_sep(w);
	buf_add_json_string(w->b, k);
	buf_addch(w->b, ':');
	w->after_key = true;
}

void
jsonw_string(struct jsonw *w, const char *s)
{
	jsonw_sep(w);
	buf_add_json_string(w->b, s);
}

void
jsonw_int(struct jsonw *w, long long v)
{
	jsonw_sep(w);
	buf_add_int(w->b, v);
}

void
jsonw_double(struct jsonw *w, double v)
{
	char	 num[32];
	int	 n;

	jsonw_sep(w);
	if (!isfinite(v)) {
		buf_add(w->b, "null", 4);
		return;
	}
	/* The shortest of %.15g and %.17g that reads back exactly. */
	n = snprintf(num, sizeof(num), "%.15g", v);
	if (strtod(num, NULL) != v)
		n = snprintf(num, sizeof(num), "%.17g", v);
	buf_add(w->b, num, (size_t)n);
}

void
jsonw_bool(struct jsonw *w, bool v)
{
	jsonw_sep(w);
	if (v)
		buf_add(w->b, "true", 4);
	else
		buf_add(w->b, "false", 5);
}

void
jsonw_null(struct jsonw *w)
{
	jsonw_sep(w);
	buf_add(w->b, "null", 4);
}

void
jsonw_value(struct jsonw *w, const json_t *v)
{
	const char	*k;
	json_t		*x;
	size_t		 i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsonw_object(w);
		json_object_foreach((json_t *)v, k, x) {
			jsonw_key(w, k);
			jsonw_value(w, x);
		}
		jsonw_object_end(w);
		break;
	case JSON_ARRAY:
		jsonw_array(w);
		json_array_foreach(v, i, x)
			jsonw_value(w, x);
		jsonw_array_end(w);
		break;
	case JSON_STRING:
		jsonw_string(w, json_string_value(v));
		break;
	case JSON_INTEGER:
		jsonw_int(w, json_integer_value(v));
		break;
	case JSON_REAL:
		jsonw_double(w, json_real_value(v));
		break;
	case JSON_TRUE:
		jsonw_bool(w, true);
		break;
	case JSON_FALSE:
		jsonw_bool(w, false);
		break;
	default:
		jsonw_null(w);
		break;
	}
}

void
jsonw_raw(struct jsonw *w, const char *json)
{
	jsonw_sep(w);
	buf_addstr(w->b, json);
}

void
jsonw_kv_string(struct jsonw *w, const char *k, const char *v)
{
	jsonw_key(w, k);
	if (v == NULL)
		jsonw_null(w);
	else
		jsonw_string(w, v);
}

void
jsonw_kv_int(struct jsonw *w, const char *k, long long v)
{
	jsonw_key(w, k);
	jsonw_int(w, v);
}

void
jsonw_kv_bool(struct jsonw *w, const char *k, bool v)
{
	jsonw_key(w, k);
	jsonw_bool(w, v);
}

void
jsonw_kv_null(struct jsonw *w, const char *k)
{
	jsonw_key(w, k);
	jsonw_null(w);
}
