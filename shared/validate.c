/*
 * validate: declarative field checks; see validate.h.
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "validate.h"

static const char *const type_names[FIELD__MAX] = {
	[FIELD_STRING] = "a string",
	[FIELD_INT] = "an integer",
	[FIELD_BOOL] = "a boolean",
	[FIELD_NUMBER] = "a number",
	[FIELD_OBJECT] = "an object",
	[FIELD_ARRAY] = "an array",
};

void
validate_error(json_t *errors, const char *field, const char *msg)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}",
	    "field", field, "message", msg));
}

static void
validate_errorf(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
validate_errorf(json_t *errors, const char *field, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	validate_error(errors, field, msg);
}

int
validate_index(const struct field *fields, const char *name)
{
	int	 i;

	for (i = 0; fields != NULL && fields[i].name != NULL; i++)
		if (strcmp(fields[i].name, name) == 0)
			return i;
	return -1;
}

/*
 * Compiled patterns, kept for the life of the process: the patterns are
 * the string literals of the field tables, so their address names them,
 * and compiling one costs more than matching it.  Per process, touched
 * by its one thread; never freed (a bounded handful).
 */
#define PATTERNS_MAX	64

static struct {
	const char	*pattern;
	regex_t		 re;
} patterns[PATTERNS_MAX];
static size_t npatterns;

bool
validate_pattern(const char *pattern, const char *s)
{
	char		 anchored[512];
	regex_t		 re;
	size_t		 i;
	bool		 ok;

	for (i = 0; i < npatterns; i++)
		if (patterns[i].pattern == pattern)
			return regexec(&patterns[i].re, s, 0, NULL, 0) == 0;
	if ((size_t)snprintf(anchored, sizeof(anchored), "^(%s)$", pattern) >=
	    sizeof(anchored))
		return false;
	if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	if (npatterns < PATTERNS_MAX) {
		patterns[npatterns].pattern = pattern;
		patterns[npatterns].re = re;
		npatterns++;
	} else
		regfree(&re);
	return ok;
}

/* Length, range and pattern of a string value; 0 or one error. */
static int
check_string(const struct field *f, const char *s, size_t bytes,
    json_t *errors)
{
	size_t	 n;

	if (strlen(s) != bytes) {
		validate_error(errors, f->name, "must not contain NUL bytes");
		return 1;
	}
	n = utf8_length(s);
	if ((long long)n < f->min) {
		validate_errorf(errors, f->name, f->min == 1 ?
		    "must not be empty" : "must be at least %lld characters",
		    f->min);
		return 1;
	}
	if (f->max > 0 && (long long)n > f->max) {
		validate_errorf(errors, f->name,
		    "must be at most %lld characters", f->max);
		return 1;
	}
	if (f->pattern != NULL && !validate_pattern(f->pattern, s)) {
		validate_errorf(errors, f->name, "%s", f->hint != NULL ?
		    f->hint : "has an invalid format");
		return 1;
	}
	return 0;
}

static int
check_range(const struct field *f, long long v, json_t *errors)
{
	if (v < f->min || (f->max != 0 && v > f->max)) {
		if (f->max != 0)
			validate_errorf(errors, f->name,
			    "must be from %lld to %lld", f->min, f->max);
		else
			validate_errorf(errors, f->name,
			    "must be at least %lld", f->min);
		return 1;
	}
	return 0;
}

/* The number of items of an array: said as such. */
static int
check_items(const struct field *f, size_t n, json_t *errors)
{
	if ((long long)n < f->min || (f->max != 0 && (long long)n > f->max)) {
		if (f->max != 0)
			validate_errorf(errors, f->name, "must be an array of "
			    "%lld to %lld items", f->min, f->max);
		else
			validate_errorf(errors, f->name, "must be an array of "
			    "at least %lld items", f->min);
		return 1;
	}
	return 0;
}

static int
check_value(const struct field *f, int i, json_t *v, struct valid *out,
    json_t *errors)
{
	bool	 typed;

	switch (f->type) {
	case FIELD_STRING:
		typed = json_is_string(v);
		break;
	case FIELD_INT:
		typed = json_is_integer(v);
		break;
	case FIELD_BOOL:
		typed = json_is_boolean(v);
		break;
	case FIELD_NUMBER:
		typed = json_is_number(v);
		break;
	case FIELD_OBJECT:
		typed = json_is_object(v);
		break;
	case FIELD_ARRAY:
		typed = json_is_array(v);
		break;
	default:
		typed = false;
		break;
	}
	if (!typed) {
		validate_errorf(errors, f->name, "must be %s",
		    type_names[f->type]);
		return 1;
	}
	out->json[i] = v;
	switch (f->type) {
	case FIELD_STRING:
		out->str[i] = json_string_value(v);
		return check_string(f, out->str[i], json_string_length(v),
		    errors);
	case FIELD_INT:
		out->num[i] = json_integer_value(v);
		return check_range(f, out->num[i], errors);
	case FIELD_BOOL:
		out->num[i] = json_is_true(v);
		return 0;
	case FIELD_NUMBER:
		out->real[i] = json_number_value(v);
		return 0;
	case FIELD_ARRAY:
		return check_items(f, json_array_size(v), errors);
	default:
		return 0;
	}
}

int
validate_json(const struct field *fields, json_t *obj, struct valid *out,
    json_t *errors)
{
	const char	*key;
	json_t		*v;
	int		 i, nerr = 0;
	char		 msg[64];

	memset(out, 0, sizeof(*out));
	out->fields = fields;
	if (!json_is_object(obj)) {
		validate_error(errors, "", "the body must be a JSON object");
		return 1;
	}
	json_object_foreach(obj, key, v) {
		if (strcmp(key, FIELD_FORM) == 0 || strcmp(key, "*") == 0 ||
		    (validate_index(fields, key) < 0 &&
		    validate_index(fields, "*") < 0)) {
			validate_error(errors, key, "is not a known field");
			nerr++;
		}
	}
	for (i = 0; fields != NULL && fields[i].name != NULL; i++) {
		const struct field *f = &fields[i];

		if (i >= FIELDS_MAX)
			break;
		if (strcmp(f->name, FIELD_FORM) == 0 ||
		    strcmp(f->name, "*") == 0)
			continue;
		v = json_object_get(obj, f->name);
		if (v == NULL || (json_is_null(v) && f->nullable)) {
			if (f->required) {
				snprintf(msg, sizeof(msg), "is required");
				validate_error(errors, f->name, msg);
				nerr++;
			}
			continue;
		}
		out->present[i] = true;
		nerr += check_value(f, i, v, out, errors);
	}
	return nerr;
}

/* Query values arrive as text; integers and booleans are parsed here. */
static int
check_query_value(const struct field *f, int i, const char *s,
    struct valid *out, json_t *errors)
{
	char		*end;
	long long	 v;

	out->str[i] = s;
	switch (f->type) {
	case FIELD_STRING:
		return check_string(f, s, strlen(s), errors);
	case FIELD_INT:
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*s == '\0' || isspace((unsigned char)*s) || *s == '+' ||
		    *end != '\0' || errno != 0) {
			validate_error(errors, f->name, "must be an integer");
			return 1;
		}
		out->num[i] = v;
		return check_range(f, v, errors);
	case FIELD_BOOL:
		if (strcmp(s, "true") == 0)
			out->num[i] = 1;
		else if (strcmp(s, "false") == 0)
			out->num[i] = 0;
		else {
			validate_error(errors, f->name,
			    "must be true or false");
			return 1;
		}
		return 0;
	default:
		validate_error(errors, f->name, "cannot be a query parameter");
		return 1;
	}
}

int
validate_query(const struct field *fields, const struct query *q,
    struct valid *out, json_t *errors)
{
	const char	*s;
	size_t		 k;
	int		 i, nerr = 0;

	memset(out, 0, sizeof(*out));
	out->fields = fields;
	/* A field named "*" lets parameters nobody declared through. */
	for (k = 0; k < q->n; k++)
		if (validate_index(fields, q->p[k].key) < 0 &&
		    validate_index(fields, "*") < 0) {
			validate_error(errors, q->p[k].key,
			    "is not a known query parameter");
			nerr++;
		}
	for (i = 0; fields != NULL && fields[i].name != NULL; i++) {
		if (i >= FIELDS_MAX)
			break;
		if ((s = query_get(q, fields[i].name)) == NULL) {
			if (fields[i].required) {
				validate_error(errors, fields[i].name,
				    "is required");
				nerr++;
			}
			continue;
		}
		out->present[i] = true;
		nerr += check_query_value(&fields[i], i, s, out, errors);
	}
	return nerr;
}
