/*
 * http: one request through its route table, from CGI parameters to the
 * response and its log line.
 *
 * A handler program declares a route table (method, path pattern with
 * {params}, function, required permission, log action, body fields,
 * query fields) and hands it
 * to app_main().  For each request http_serve():
 *   1. reads the request line, refusing odd paths (400/414);
 *   2. matches the table: unknown path 404, wrong method 405 with Allow;
 *   3. checks Content-Length against the cap before reading (413), reads
 *      and parses the JSON body (400 malformed, 415 wrong type) and
 *      validates body and query against the route's tables (422/400);
 *   4. calls the route function, which answers with http_json() or
 *      http_problem();
 *   5. writes one JSON log line.
 *
 * The transport is abstract (struct http_io) so that unit tests drive the
 * whole path without FastCGI.
 *
 * Ownership: a struct req lives for one request; every pointer in it is
 * borrowed from the transport or owned by the request and freed by
 * http_serve() when the request ends.
 */
#ifndef HXB_HTTP_H
#define HXB_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "authz.h"
#include "buf.h"
#include "url.h"
#include "validate.h"

struct app;
struct req;

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_METHOD__MAX
};

#define HTTP_PATH_MAX		2048
#define HTTP_SEGMENTS_MAX	16
#define HTTP_PARAMS_MAX		8
#define HTTP_HEADERS_MAX	2048	/* bytes of extra response headers */
#define HTTP_RESPONSE_MAX	(16 * 1024 * 1024)

typedef void (*route_fn)(struct req *);

struct route {
	enum http_method	 method;
	const char		*pattern;	/* "/api/v1/plans/{planId}" */
	route_fn		 fn;
	enum perm		 perm;		/* who may call it (authz.h) */
	const char		*action;	/* log "action", e.g. get_plan */
	const struct field	*body;		/* NULL: no body accepted */
	const struct field	*query;		/* NULL: no query accepted */
};

/* The transport: how to read CGI parameters and the body, and write. */
struct http_io {
	const char	*(*param)(void *ctx, const char *name);
	long		 (*read)(void *ctx, char *buf, size_t len);
	int		 (*write)(void *ctx, const char *buf, size_t len);
	void		*ctx;
};

struct path_param {
	const char	*name;		/* borrowed from the pattern */
	size_t		 namelen;
	const char	*value;		/* decoded; borrowed from pathbuf */
};

enum problem {
	PROBLEM_BAD_REQUEST,
	PROBLEM_MALFORMED_BODY,
	PROBLEM_INVALID_QUERY,
	PROBLEM_VALIDATION,
	PROBLEM_NOT_FOUND,
	PROBLEM_METHOD_NOT_ALLOWED,
	PROBLEM_TOO_LARGE,
	PROBLEM_URI_TOO_LONG,
	PROBLEM_UNSUPPORTED_MEDIA_TYPE,
	PROBLEM_CONFLICT,
	PROBLEM_UNAUTHORIZED,
	PROBLEM_FORBIDDEN,
	PROBLEM_GONE,
	PROBLEM_RATE_LIMITED,
	PROBLEM_SIGNIN_FAILED,
	PROBLEM_BAD_GATEWAY,
	PROBLEM_UNAVAILABLE,
	PROBLEM_INTERNAL,
	PROBLEM__MAX
};

struct req {
	struct app		*app;
	const struct http_io	*io;
	const struct route	*route;

	enum http_method	 method;	/* HTTP_METHOD__MAX if unknown */
	const char		*method_str;
	char			*path;		/* raw path, no query; owned */
	char			*pathbuf;	/* decoded segments; owned */
	const char		*query_str;	/* borrowed */
	char			 request_id[65];
	const char		*remote_addr;

	struct path_param	 params[HTTP_PARAMS_MAX];
	size_t			 nparams;
	struct query		 query;
	json_t			*body_json;	/* owned */
	char			*raw;		/* FIELD_RAW routes: the body,
						 * NUL-terminated; owned */
	size_t			 rawlen;
	struct valid		 body;		/* validated body fields */
	struct valid		 qv;		/* validated query fields */

	struct buf		 headers;	/* extra response headers */
	int			 status;
	bool			 responded;
	bool			 cache_control;	/* a route set its own */
	struct timespec		 start;

	/* Log fields a route may fill in. */
	char			 user_id[64];
	char			 workspace_id[64];
	char			 resource[256];
};

/* The declared name of a method, or NULL. */
const char	*http_method_name(enum http_method);
enum http_method http_method_parse(const char *);

/* Serve one request end to end (see the top of this file). */
void		 http_serve(struct app *, const struct route *, size_t nroutes,
		    const struct http_io *);

/*
 * Route matching, exposed for tests.  Returns the index of the route that
 * matches method and path, or -1.  On -1, *path_known tells whether some
 * other method would have matched, and `allow` (if not NULL) receives the
 * Allow header value.
 */
int		 http_route_match(const struct route *, size_t nroutes,
		    enum http_method, const char *path, struct req *,
		    bool *path_known, struct buf *allow);

/* A borrowed path parameter, or NULL. */
const char	*http_param(const struct req *, const char *name);

/* Add a response header; name and value must be plain ASCII without CR/LF. */
void		 http_header(struct req *, const char *name, const char *value);

/* Send `body` as application/json.  Steals `body`. */
void		 http_json(struct req *, int status, json_t *body);

/* Send what a struct jsonw wrote as application/json; borrows `body`. */
void		 http_json_buf(struct req *, int status, struct buf *body);

/* Send an RFC 9457 problem.  Steals `errors` (a JSON array or NULL). */
void		 http_problem(struct req *, enum problem, const char *detail,
		    json_t *errors);
/* The same with extension members (a JSON object or NULL, stolen). */
void		 http_problem_ext(struct req *, enum problem, const char *detail,
		    json_t *errors, json_t *ext);

/*
 * Send `len` bytes of `body` as `ctype` (a page a browser is shown, a
 * kubeconfig); borrows `body`.
 */
void		 http_send(struct req *, int status, const char *ctype,
		    const char *body, size_t len);

/* Answer 204 No Content. */
void		 http_no_content(struct req *);

/* Answer 302 Found to `location` (already a valid URI reference). */
void		 http_redirect(struct req *, const char *location);

/* A CGI variable of the request (e.g. "HTTP_ACCEPT"), borrowed, or NULL. */
const char	*http_env(const struct req *, const char *name);

/*
 * The value of cookie `name` from the Cookie header, copied into out
 * (size outsz).  Returns 0, or -1 if absent or too long.
 */
int		 http_cookie(const struct req *, const char *name, char *out,
		    size_t outsz);

/* True if the Accept header asks for JSON ahead of HTML. */
bool		 http_wants_json(const struct req *);
void		 http_problemf(struct req *, enum problem, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* Record the log "resource", e.g. "plans/free". */
void		 http_set_resource(struct req *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

/* The status code and title of a problem type (for tests and docs). */
int		 http_problem_status(enum problem);
const char	*http_problem_type(enum problem);

#endif
