/*
 * http: request handling from CGI parameters to response; see http.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "app.h"
#include "clock.h"
#include "http.h"
#include "jsonw.h"
#include "log.h"

#define PROBLEM_BASE	"https://hexabase.ai/problems/"

static const char *const method_names[HTTP_METHOD__MAX] = {
	[HTTP_GET] = "GET",
	[HTTP_HEAD] = "HEAD",
	[HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT",
	[HTTP_PATCH] = "PATCH",
	[HTTP_DELETE] = "DELETE",
	[HTTP_OPTIONS] = "OPTIONS",
};

static const struct {
	int		 status;
	const char	*slug;
	const char	*title;
} problems[PROBLEM__MAX] = {
	[PROBLEM_BAD_REQUEST] = { 400, "bad-request", "Bad request" },
	[PROBLEM_MALFORMED_BODY] = { 400, "malformed-body",
	    "Malformed request body" },
	[PROBLEM_INVALID_QUERY] = { 400, "invalid-query",
	    "Invalid query parameters" },
	[PROBLEM_VALIDATION] = { 422, "validation-error",
	    "Request validation failed" },
	[PROBLEM_NOT_FOUND] = { 404, "not-found", "Not found" },
	[PROBLEM_METHOD_NOT_ALLOWED] = { 405, "method-not-allowed",
	    "Method not allowed" },
	[PROBLEM_TOO_LARGE] = { 413, "payload-too-large",
	    "Content too large" },
	[PROBLEM_URI_TOO_LONG] = { 414, "uri-too-long", "URI too long" },
	[PROBLEM_UNSUPPORTED_MEDIA_TYPE] = { 415, "unsupported-media-type",
	    "Unsupported media type" },
	[PROBLEM_CONFLICT] = { 409, "conflict", "Conflict" },
	[PROBLEM_UNAUTHORIZED] = { 401, "unauthorized",
	    "Authentication required" },
	[PROBLEM_FORBIDDEN] = { 403, "forbidden", "Forbidden" },
	[PROBLEM_GONE] = { 410, "gone", "Gone" },
	[PROBLEM_RATE_LIMITED] = { 429, "rate-limited", "Too many requests" },
	[PROBLEM_SIGNIN_FAILED] = { 400, "signin-failed", "Sign-in failed" },
	[PROBLEM_BAD_GATEWAY] = { 502, "bad-gateway",
	    "An upstream service failed" },
	[PROBLEM_UNAVAILABLE] = { 503, "service-unavailable",
	    "Service unavailable" },
	[PROBLEM_INTERNAL] = { 500, "internal-error",
	    "Internal server error" },
};

static const char *
reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

const char *
http_method_name(enum http_method m)
{
	return m < HTTP_METHOD__MAX ? method_names[m] : NULL;
}

enum http_method
http_method_parse(const char *s)
{
	size_t	 i;

	for (i = 0; s != NULL && i < HTTP_METHOD__MAX; i++)
		if (strcmp(s, method_names[i]) == 0)
			return (enum http_method)i;
	return HTTP_METHOD__MAX;
}

int
http_problem_status(enum problem p)
{
	return p < PROBLEM__MAX ? problems[p].status : 500;
}

const char *
http_problem_type(enum problem p)
{
	return p < PROBLEM__MAX ? problems[p].slug : "internal-error";
}

const char *
http_param(const struct req *r, const char *name)
{
	size_t	 i, n = strlen(name);

	for (i = 0; i < r->nparams; i++)
		if (r->params[i].namelen == n &&
		    strncmp(r->params[i].name, name, n) == 0)
			return r->params[i].value;
	return NULL;
}

/*
 * Does the route's pattern match the decoded segments?  On a match and with
 * `r` given, the {params} are recorded in it.
 */
static bool
pattern_match(const char *pattern, char *const *seg, size_t nseg,
    struct req *r)
{
	const char	*p = pattern, *end;
	size_t		 i = 0, len, np = 0;
	struct path_param tmp[HTTP_PARAMS_MAX];

	if (*p != '/')
		return false;
	if (strcmp(p, "/") == 0)
		return nseg == 0;
	while (*p == '/') {
		p++;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (i == nseg)
			return false;
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (seg[i][0] == '\0' || np == HTTP_PARAMS_MAX)
				return false;
			tmp[np].name = p + 1;
			tmp[np].namelen = len - 2;
			tmp[np].value = seg[i];
			np++;
		} else if (strlen(seg[i]) != len ||
		    strncmp(seg[i], p, len) != 0)
			return false;
		i++;
		p += len;
	}
	if (i != nseg)
		return false;
	if (r != NULL) {
		memcpy(r->params, tmp, np * sizeof(tmp[0]));
		r->nparams = np;
	}
	return true;
}

/*
 * Split and percent-decode a path into segments stored in one allocation,
 * which the caller frees (or the request owns when `r` is given).
 * Returns the number of segments, or -1 for bad encoding, -2 for too many.
 */
static long
path_split(const char *path, char *seg[HTTP_SEGMENTS_MAX], char **store)
{
	size_t		 len = strlen(path), nseg = 0, slen;
	const char	*p, *end;
	char		*w;
	long		 n;

	*store = NULL;
	if (path[0] != '/')
		return -1;
	if ((w = *store = malloc(len + 1)) == NULL)
		return -1;
	if (len == 1)
		return 0;
	for (p = path + 1;; p = end + 1) {
		end = strchr(p, '/');
		slen = end ? (size_t)(end - p) : strlen(p);
		if (nseg == HTTP_SEGMENTS_MAX)
			return -2;
		if ((n = url_decode(p, slen, false, w)) < 0)
			return -1;
		seg[nseg++] = w;
		w += n + 1;
		if (end == NULL)
			break;
	}
	return (long)nseg;
}

int
http_route_match(const struct route *routes, size_t nroutes,
    enum http_method m, const char *path, struct req *r, bool *path_known,
    struct buf *allow)
{
	char		*seg[HTTP_SEGMENTS_MAX], *store = NULL;
	bool		 allowed[HTTP_METHOD__MAX] = { false };
	long		 nseg;
	size_t		 i;
	int		 found = -1;

	*path_known = false;
	if ((nseg = path_split(path, seg, &store)) == -1) {
		free(store);
		return -2;
	}
	if (nseg < 0) {
		free(store);
		return -1;
	}
	for (i = 0; i < nroutes; i++) {
		bool same = routes[i].method == m ||
		    (m == HTTP_HEAD && routes[i].method == HTTP_GET);

		if (!pattern_match(routes[i].pattern, seg, (size_t)nseg,
		    same && found < 0 ? r : NULL))
			continue;
		*path_known = true;
		allowed[routes[i].method] = true;
		if (routes[i].method == HTTP_GET)
			allowed[HTTP_HEAD] = true;
		if (same && found < 0)
			found = (int)i;
	}
	if (found >= 0 && r != NULL)
		r->pathbuf = store;
	else
		free(store);
	if (found < 0 && *path_known && allow != NULL)
		for (i = 0; i < HTTP_METHOD__MAX; i++)
			if (allowed[i])
				buf_addf(allow, "%s%s", allow->len ? ", " : "",
				    method_names[i]);
	return found;
}

void
http_header(struct req *r, const char *name, const char *value)
{
	if (strcasecmp(name, "Cache-Control") == 0)
		r->cache_control = true;
	buf_addstr(&r->headers, name);
	buf_addstr(&r->headers, ": ");
	buf_addstr(&r->headers, value);
	buf_addstr(&r->headers, "\r\n");
}

void
http_set_resource(struct req *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(r->resource, sizeof(r->resource), fmt, ap);
	va_end(ap);
}

/* Write status line, headers and body through the transport. */
void
http_send(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	struct buf	 out = BUF_INIT(HTTP_RESPONSE_MAX);

	if (r->responded) {
		log_msg(&r->app->log, LOGL_ERROR, __func__, r->request_id,
		    "route answered twice; second answer (%d) dropped",
		    status);
		return;
	}
	r->responded = true;
	r->status = status;
	buf_addf(&out, "Status: %d %s\r\nContent-Length: %zu\r\n", status,
	    reason_phrase(status), len);
	buf_addstr(&out, "Content-Type: ");
	buf_addstr(&out, ctype);
	buf_addstr(&out, "\r\nX-Request-Id: ");
	buf_addstr(&out, r->request_id);
	buf_addstr(&out, "\r\n");
	/* Dropped headers may have held the route's Cache-Control. */
	if (r->headers.failed || !r->cache_control)
		buf_addstr(&out, "Cache-Control: no-store\r\n");
	if (r->headers.failed)
		log_msg(&r->app->log, LOGL_ERROR, __func__, r->request_id,
		    "response headers too long; extra headers dropped");
	else
		buf_add(&out, buf_cstr(&r->headers), r->headers.len);
	buf_addstr(&out, "\r\n");
	if (r->method != HTTP_HEAD)
		buf_add(&out, body, len);
	if (out.failed || r->io->write(r->io->ctx, out.data, out.len) != 0)
		log_msg(&r->app->log, LOGL_WARN, __func__, r->request_id,
		    "could not write the response (%d)", status);
	buf_release(&out);
}

void
http_json_buf(struct req *r, int status, struct buf *body)
{
	if (body->failed) {
		log_msg(&r->app->log, LOGL_ERROR, __func__, r->request_id,
		    "the response body could not be built");
		http_problem(r, PROBLEM_INTERNAL, "the response could not be "
		    "built; try again later", NULL);
		return;
	}
	http_send(r, status, "application/json", buf_cstr(body), body->len);
}

void
http_json(struct req *r, int status, json_t *body)
{
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;

	jsonw_init(&w, &b);
	if (body == NULL)
		b.failed = true;
	else
		jsonw_value(&w, body);
	json_decref(body);
	http_json_buf(r, status, &b);
	buf_release(&b);
}

void
http_problem(struct req *r, enum problem p, const char *detail,
    json_t *errors)
{
	http_problem_ext(r, p, detail, errors, NULL);
}

void
http_problem_ext(struct req *r, enum problem p, const char *detail,
    json_t *errors, json_t *ext)
{
	const char	*k;
	json_t		*v;
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;
	char		 type[128];

	if (p >= PROBLEM__MAX)
		p = PROBLEM_INTERNAL;
	jsonw_init(&w, &b);
	jsonw_object(&w);
	snprintf(type, sizeof(type), PROBLEM_BASE "%s", problems[p].slug);
	jsonw_kv_string(&w, "type", type);
	jsonw_kv_string(&w, "title", problems[p].title);
	jsonw_kv_int(&w, "status", problems[p].status);
	jsonw_kv_string(&w, "detail", detail != NULL ? detail :
	    problems[p].title);
	jsonw_kv_string(&w, "instance", r->path != NULL ? r->path : "");
	jsonw_kv_string(&w, "request_id", r->request_id);
	jsonw_key(&w, "errors");
	if (errors != NULL)
		jsonw_value(&w, errors);
	else {
		jsonw_array(&w);
		jsonw_array_end(&w);
	}
	if (json_is_object(ext))
		json_object_foreach(ext, k, v) {
			jsonw_key(&w, k);
			jsonw_value(&w, v);
		}
	jsonw_object_end(&w);
	json_decref(errors);
	json_decref(ext);
	if (b.failed)
		http_send(r, 500, "application/problem+json",
		    "{\"status\":500}", 14);
	else
		http_send(r, problems[p].status, "application/problem+json",
		    b.data, b.len);
	buf_release(&b);
}

void
http_problemf(struct req *r, enum problem p, const char *fmt, ...)
{
	char	 detail[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	http_problem(r, p, detail, NULL);
}

void
http_no_content(struct req *r)
{
	http_send(r, 204, "text/plain; charset=utf-8", "", 0);
}

void
http_redirect(struct req *r, const char *location)
{
	http_header(r, "Location", location);
	http_send(r, 302, "text/plain; charset=utf-8", "", 0);
}

const char *
http_env(const struct req *r, const char *name)
{
	return r->io->param(r->io->ctx, name);
}

int
http_cookie(const struct req *r, const char *name, char *out, size_t outsz)
{
	const char	*h, *p, *v, *end;
	size_t		 n = strlen(name), len;

	if ((h = http_env(r, "HTTP_COOKIE")) == NULL)
		return -1;
	/* RFC 6265 section 5.4: "name=value" pairs separated by "; ". */
	for (p = h; *p != '\0'; p = end + (*end != '\0')) {
		while (*p == ' ' || *p == '\t')
			p++;
		if ((end = strchr(p, ';')) == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 &&
		    p[n] == '=') {
			v = p + n + 1;
			len = (size_t)(end - v);
			while (len > 0 && (v[len - 1] == ' ' ||
			    v[len - 1] == '\t'))
				len--;
			if (len >= outsz)
				return -1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
	}
	return -1;
}

bool
http_wants_json(const struct req *r)
{
	const char	*a = http_env(r, "HTTP_ACCEPT");
	const char	*j, *h;

	if (a == NULL || (j = strstr(a, "application/json")) == NULL)
		return false;
	h = strstr(a, "text/html");
	return h == NULL || j < h;
}

/* nginx's $request_id is 32 hex digits; accept a safe superset. */
static void
request_id_set(struct req *r, const char *given)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 rnd[16];
	size_t		 i, n;

	if (given != NULL && (n = strlen(given)) > 0 &&
	    n < sizeof(r->request_id)) {
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)given[i]) &&
			    given[i] != '-' && given[i] != '_' &&
			    given[i] != '.')
				break;
		if (i == n) {
			memcpy(r->request_id, given, n + 1);
			return;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++) {
		r->request_id[i * 2] = hex[rnd[i] >> 4];
		r->request_id[i * 2 + 1] = hex[rnd[i] & 15];
	}
	r->request_id[32] = '\0';
}

/* "application/json" with optional parameters, case-insensitively. */
static bool
content_type_json(const char *ct)
{
	size_t	 n = strlen("application/json");

	if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* "application/x-www-form-urlencoded", with optional parameters. */
static bool
content_type_form(const char *ct)
{
	size_t	 n = strlen(FIELD_FORM);

	if (ct == NULL || strncasecmp(ct, FIELD_FORM, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/*
 * A form-encoded body as a JSON object of strings, for the routes that
 * take one (FIELD_FORM); NULL with a problem sent if it is malformed.
 */
static json_t *
form_body(struct req *r, const char *data, size_t len)
{
	struct query	 q;
	enum query_error qe;
	json_t		*o;
	char		*s;
	size_t		 i;

	if (memchr(data, '\0', len) != NULL)
		qe = QUERY_BAD_ENCODING;
	else if ((s = malloc(len + 1)) == NULL)
		qe = QUERY_NOMEM;
	else {
		memcpy(s, data, len);
		s[len] = '\0';
		qe = query_parse(s, &q);
		free(s);
	}
	if (qe != QUERY_OK) {
		http_problemf(r, PROBLEM_MALFORMED_BODY, "the form body is "
		    "malformed: %s", query_strerror(qe));
		return NULL;
	}
	o = json_object();
	for (i = 0; i < q.n; i++)
		json_object_set_new(o, q.p[i].key, json_string(q.p[i].value));
	query_free(&q);
	return o;
}

/*
 * Read and check the body.  Returns 0 when the route may run; otherwise a
 * problem has been sent.
 */
static int
http_read_body(struct req *r)
{
	const struct route *rt = r->route;
	const char	*cl = r->io->param(r->io->ctx, "CONTENT_LENGTH");
	long long	 max = config_int(&r->app->cfg, CFG_MAX_BODY_BYTES);
	unsigned long long len = 0;
	json_error_t	 jerr;
	json_t		*errors;
	const char	*ct;
	char		*data = NULL, *end;
	size_t		 got = 0;
	bool		 form, raw;
	long		 n;
	int		 rc = -1;

	if (cl != NULL && *cl != '\0') {
		errno = 0;
		len = strtoull(cl, &end, 10);
		if (!isdigit((unsigned char)*cl) || *end != '\0' ||
		    errno != 0) {
			http_problem(r, PROBLEM_BAD_REQUEST, "the "
			    "Content-Length header is not a number", NULL);
			return -1;
		}
	}
	if (len > (unsigned long long)max) {
		http_problemf(r, PROBLEM_TOO_LARGE, "the body is %llu bytes; "
		    "the limit is %lld bytes", len, max);
		return -1;
	}
	if (rt->body == NULL) {
		if (len > 0) {
			http_problem(r, PROBLEM_BAD_REQUEST, "this endpoint "
			    "takes no request body; send none", NULL);
			return -1;
		}
		return 0;
	}
	ct = r->io->param(r->io->ctx, "CONTENT_TYPE");
	raw = rt->body[0].name != NULL && strcmp(rt->body[0].name,
	    FIELD_RAW) == 0;
	form = validate_index(rt->body, FIELD_FORM) >= 0 &&
	    content_type_form(ct);
	if (len > 0 && !form && !content_type_json(ct)) {
		http_problem(r, PROBLEM_UNSUPPORTED_MEDIA_TYPE,
		    validate_index(rt->body, FIELD_FORM) >= 0 ? "send the body "
		    "as application/x-www-form-urlencoded or application/json" :
		    "send the body as application/json", NULL);
		return -1;
	}
	if (len == 0 && raw) {
		http_problem(r, PROBLEM_MALFORMED_BODY, "the body is empty",
		    NULL);
		return -1;
	}
	if (len == 0) {
		r->body_json = json_object();
	} else {
		if ((data = malloc((size_t)len + 1)) == NULL) {
			http_problem(r, PROBLEM_UNAVAILABLE, "out of memory; "
			    "try again later", NULL);
			return -1;
		}
		while (got < len) {
			n = r->io->read(r->io->ctx, data + got,
			    (size_t)len - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got != len) {
			http_problemf(r, PROBLEM_BAD_REQUEST, "the body ended "
			    "after %zu of %llu bytes", got, len);
			goto out;
		}
		data[got] = '\0';
		if (raw) {
			r->raw = data;
			r->rawlen = got;
			data = NULL;
			rc = 0;
			goto out;
		}
		if (form) {
			if ((r->body_json = form_body(r, data, (size_t)len)) ==
			    NULL)
				goto out;
		} else if ((r->body_json = json_loadb(data, (size_t)len,
		    JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
			http_problemf(r, PROBLEM_MALFORMED_BODY, "the body is "
			    "not valid JSON: %s (line %d, column %d)",
			    jerr.text, jerr.line, jerr.column);
			goto out;
		}
	}
	errors = json_array();
	if (validate_json(rt->body, r->body_json, &r->body, errors) > 0) {
		http_problem(r, PROBLEM_VALIDATION, "some fields are invalid; "
		    "see errors", errors);
		goto out;
	}
	json_decref(errors);
	rc = 0;
out:
	free(data);
	return rc;
}

/* Everything before the route function; returns 0 if it may run. */
static int
http_prepare(struct req *r, const struct route *routes, size_t nroutes)
{
	const char	*uri, *q;
	struct buf	 allow = BUF_INIT(256);
	json_t		*errors;
	enum query_error qe;
	size_t		 plen, i;
	bool		 known;
	int		 idx;

	if ((uri = r->io->param(r->io->ctx, "REQUEST_URI")) == NULL ||
	    *uri == '\0')
		uri = "/";
	q = strchr(uri, '?');
	plen = q != NULL ? (size_t)(q - uri) : strlen(uri);
	if (plen > HTTP_PATH_MAX) {
		http_problemf(r, PROBLEM_URI_TOO_LONG, "the path is longer "
		    "than %d bytes", HTTP_PATH_MAX);
		return -1;
	}
	for (i = 0; uri[i] != '\0'; i++)
		if ((unsigned char)uri[i] <= 0x20 ||
		    (unsigned char)uri[i] >= 0x7f) {
			http_problemf(r, PROBLEM_BAD_REQUEST, "the %s must be "
			    "printable ASCII; percent-encode other bytes",
			    i < plen ? "path" : "query string");
			return -1;
		}
	if ((r->path = strndup(uri, plen)) == NULL) {
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
		return -1;
	}
	r->query_str = q != NULL ? q + 1 : "";
	idx = http_route_match(routes, nroutes, r->method, r->path, r, &known,
	    &allow);
	if (idx == -2) {
		http_problem(r, PROBLEM_BAD_REQUEST, "the path has a "
		    "malformed percent-escape, a NUL byte or invalid UTF-8",
		    NULL);
		goto fail;
	}
	if (idx < 0) {
		if (known) {
			http_header(r, "Allow", buf_cstr(&allow));
			http_problemf(r, PROBLEM_METHOD_NOT_ALLOWED, "%s is not "
			    "allowed here; use %s", r->method_str,
			    buf_cstr(&allow));
		} else
			http_problem(r, PROBLEM_NOT_FOUND, "no such resource",
			    NULL);
		goto fail;
	}
	r->route = &routes[idx];
	if ((qe = query_parse(r->query_str, &r->query)) != QUERY_OK) {
		http_problem(r, PROBLEM_INVALID_QUERY, query_strerror(qe),
		    NULL);
		goto fail;
	}
	errors = json_array();
	if (validate_query(r->route->query, &r->query, &r->qv, errors) > 0) {
		http_problem(r, PROBLEM_INVALID_QUERY, "some query parameters "
		    "are invalid; see errors", errors);
		goto fail;
	}
	json_decref(errors);
	buf_release(&allow);
	return http_read_body(r);
fail:
	buf_release(&allow);
	return -1;
}

void
http_serve(struct app *app, const struct route *routes, size_t nroutes,
    const struct http_io *io)
{
	struct req		 r;
	struct log_request	 lr;

	memset(&r, 0, sizeof(r));
	r.app = app;
	r.io = io;
	buf_init(&r.headers, HTTP_HEADERS_MAX);
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	request_id_set(&r, io->param(io->ctx, "HTTP_X_REQUEST_ID"));
	if ((r.method_str = io->param(io->ctx, "REQUEST_METHOD")) == NULL)
		r.method_str = "";
	r.method = http_method_parse(r.method_str);
	r.remote_addr = io->param(io->ctx, "REMOTE_ADDR");
	app->req = &r;

	if (http_prepare(&r, routes, nroutes) == 0) {
		r.route->fn(&r);
		if (!r.responded) {
			log_msg(&app->log, LOGL_ERROR, __func__, r.request_id,
			    "route %s sent no response", r.route->action);
			http_problem(&r, PROBLEM_INTERNAL, "the server did not "
			    "answer; try again later", NULL);
		}
	}

	memset(&lr, 0, sizeof(lr));
	lr.request_id = r.request_id;
	lr.user_id = r.user_id[0] ? r.user_id : NULL;
	lr.workspace_id = r.workspace_id[0] ? r.workspace_id : NULL;
	lr.action = r.route != NULL ? r.route->action : NULL;
	lr.resource = r.resource[0] ? r.resource : NULL;
	lr.result = r.status < 400 ? "success" :
	    r.status < 500 ? "failure" : "error";
	lr.method = r.method_str;
	lr.path = r.path != NULL ? r.path : "";
	lr.status = r.status;
	lr.duration_ms = clock_since_ms(&r.start);
	log_request(&app->log, &lr);

	app->req = NULL;
	json_decref(r.body_json);
	free(r.raw);
	query_free(&r.query);
	buf_release(&r.headers);
	free(r.pathbuf);
	free(r.path);
}
