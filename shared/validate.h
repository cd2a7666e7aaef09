/*
 * validate: declarative checks of request fields, in the manner of kcgi's
 * validated keys.  A route declares its JSON body fields and its query
 * parameters as `struct field` tables ending in { NULL }; the validator
 * checks type, presence, length or range and pattern, rejects anything not
 * declared, and reports every problem as {field, message}.  A query table
 * may end with a field named "*" to ignore undeclared parameters, for
 * callbacks whose parameters a third party decides; a body table may too.
 * A body table may also hold a field named FIELD_FORM: the route then
 * takes its body form-encoded as well (every value a string), as OAuth 2.0
 * token requests are.  Only a route that no browser cookie authorizes may
 * say so: a cross-site form POST needs no CORS preflight, JSON does.
 *
 * Handlers read only the validated values through struct valid.
 *
 * Ownership: struct valid borrows from the parsed JSON document or query it
 * was built from; it must not outlive them.
 */
#ifndef HXB_VALIDATE_H
#define HXB_VALIDATE_H

#include <stdbool.h>

#include <jansson.h>

struct query;

#define FIELDS_MAX	32
#define FIELD_FORM	"application/x-www-form-urlencoded"
/*
 * A body table whose first field is named FIELD_RAW takes a JSON body as
 * bytes, unparsed (struct req's raw), for a route that must check a
 * signature over them before it trusts any of it (the Stripe webhook).
 */
#define FIELD_RAW	"*raw*"

enum field_type {
	FIELD_STRING,
	FIELD_INT,
	FIELD_BOOL,
	FIELD_NUMBER,
	FIELD_OBJECT,
	FIELD_ARRAY,
	FIELD__MAX
};

struct field {
	const char	*name;
	enum field_type	 type;
	bool		 required;
	bool		 nullable;	/* JSON null accepted as "absent" */
	long long	 min, max;	/* string: characters; int: value;
					 * array: items; max 0: unbounded */
	const char	*pattern;	/* string only: POSIX ERE, anchored */
	const char	*hint;		/* said when the pattern fails */
};

struct valid {
	const struct field *fields;
	bool		 present[FIELDS_MAX];
	const char	*str[FIELDS_MAX];	/* FIELD_STRING */
	long long	 num[FIELDS_MAX];	/* FIELD_INT, FIELD_BOOL */
	double		 real[FIELDS_MAX];	/* FIELD_NUMBER */
	json_t		*json[FIELDS_MAX];	/* body fields: borrowed */
};

/*
 * Validate a JSON object against `fields`.  Every problem is appended to
 * `errors` (a JSON array) as {field, message}.  Returns the number of
 * problems; `out` is meaningful only when that is 0.
 */
int	 validate_json(const struct field *fields, json_t *obj,
	    struct valid *out, json_t *errors);

/* As validate_json() for query parameters, whose values are all strings. */
int	 validate_query(const struct field *fields, const struct query *q,
	    struct valid *out, json_t *errors);

/* Append {field, message} to `errors`. */
void	 validate_error(json_t *errors, const char *field, const char *msg);

/*
 * Whether all of s matches a POSIX extended regular expression.  The
 * pattern must be a string that lives as long as the process (a
 * literal): it is compiled once and kept, by its address.
 */
bool	 validate_pattern(const char *pattern, const char *s);

/* Validated string field i, or NULL if it was not given. */
static inline const char *
valid_str(const struct valid *v, int i)
{
	return v->present[i] ? v->str[i] : NULL;
}

/*
 * Validated boolean field i as a query parameter ("true" or "false"), or
 * NULL if it was not given.
 */
static inline const char *
valid_bool(const struct valid *v, int i)
{
	return !v->present[i] ? NULL : v->num[i] ? "true" : "false";
}

/* Index of a field by name, or -1. */
int	 validate_index(const struct field *fields, const char *name);

#endif
