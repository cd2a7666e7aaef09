/*
 * http: whole requests through http_serve() over a fake transport, from
 * CGI parameters to the parsed response: routing, request ids, body and
 * query checks, problem+json, HEAD and the default headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "config.h"
#include "http.h"
#include "log.h"

#define MAX_BODY	1024	/* HXB_MAX_BODY_BYTES in these tests */
#define HEADERS_MAX	32

/* ---- The routes under test. ---- */

enum {
	F_NAME,
	F_SLUG,
	F_CODE,
	F_TITLE,
	F_COUNT,
	F_AGE,
	F_ENABLED,
	F_RATIO,
	F_META,
	F_TAGS,
	F_NOTE,
	F__MAX
};

static const struct field thing_body[F__MAX + 1] = {
	[F_NAME] = { "name", FIELD_STRING, true, false, 2, 5, NULL, NULL },
	[F_SLUG] = { "slug", FIELD_STRING, false, false, 0, 0,
	    "[a-z][a-z0-9-]*", "must be lowercase letters, digits and dashes" },
	[F_CODE] = { "code", FIELD_STRING, false, false, 0, 0, "[0-9]{3}",
	    NULL },
	[F_TITLE] = { "title", FIELD_STRING, false, false, 1, 0, NULL, NULL },
	[F_COUNT] = { "count", FIELD_INT, false, false, 1, 10, NULL, NULL },
	[F_AGE] = { "age", FIELD_INT, false, false, 0, 0, NULL, NULL },
	[F_ENABLED] = { "enabled", FIELD_BOOL, false, false, 0, 0, NULL, NULL },
	[F_RATIO] = { "ratio", FIELD_NUMBER, false, false, 0, 0, NULL, NULL },
	[F_META] = { "meta", FIELD_OBJECT, false, false, 0, 0, NULL, NULL },
	[F_TAGS] = { "tags", FIELD_ARRAY, false, false, 1, 3, NULL, NULL },
	[F_NOTE] = { "note", FIELD_STRING, false, true, 0, 0, NULL, NULL },
	[F__MAX] = { NULL, FIELD_STRING, false, false, 0, 0, NULL, NULL },
};

enum {
	Q_LIMIT,
	Q_ACTIVE,
	Q_Q,
	Q_KIND,
	Q_RATIO,
	Q__MAX
};

static const struct field thing_query[Q__MAX + 1] = {
	[Q_LIMIT] = { "limit", FIELD_INT, false, false, 1, 100, NULL, NULL },
	[Q_ACTIVE] = { "active", FIELD_BOOL, false, false, 0, 0, NULL, NULL },
	[Q_Q] = { "q", FIELD_STRING, false, false, 0, 5, NULL, NULL },
	[Q_KIND] = { "kind", FIELD_STRING, false, false, 0, 0, "free|pro",
	    "must be free or pro" },
	[Q_RATIO] = { "ratio", FIELD_NUMBER, false, false, 0, 0, NULL, NULL },
	[Q__MAX] = { NULL, FIELD_STRING, false, false, 0, 0, NULL, NULL },
};

/* Echo the validated query. */
static void
list_things(struct req *r)
{
	const struct valid *v = &r->qv;
	json_t		*o = json_object();

	json_object_set_new(o, "limit", v->present[Q_LIMIT] ?
	    json_integer(v->num[Q_LIMIT]) : json_null());
	json_object_set_new(o, "active", v->present[Q_ACTIVE] ?
	    json_boolean(v->num[Q_ACTIVE]) : json_null());
	json_object_set_new(o, "q", v->present[Q_Q] ?
	    json_string(v->str[Q_Q]) : json_null());
	json_object_set_new(o, "kind", v->present[Q_KIND] ?
	    json_string(v->str[Q_KIND]) : json_null());
	http_json(r, 200, o);
}

/* Echo the validated body, as a handler reads it. */
static void
create_thing(struct req *r)
{
	const struct valid *v = &r->body;
	json_t		*o = json_object();

	json_object_set_new(o, "name", json_string(v->str[F_NAME]));
	if (v->present[F_SLUG])
		json_object_set_new(o, "slug", json_string(v->str[F_SLUG]));
	if (v->present[F_COUNT])
		json_object_set_new(o, "count", json_integer(v->num[F_COUNT]));
	if (v->present[F_AGE])
		json_object_set_new(o, "age", json_integer(v->num[F_AGE]));
	if (v->present[F_ENABLED])
		json_object_set_new(o, "enabled",
		    json_boolean(v->num[F_ENABLED]));
	if (v->present[F_RATIO])
		json_object_set_new(o, "ratio", json_real(v->real[F_RATIO]));
	if (v->present[F_META])
		json_object_set(o, "meta", v->json[F_META]);
	if (v->present[F_TAGS])
		json_object_set_new(o, "ntags",
		    json_integer((json_int_t)json_array_size(v->json[F_TAGS])));
	json_object_set_new(o, "note", json_boolean(v->present[F_NOTE]));
	http_set_resource(r, "things/%s", v->str[F_NAME]);
	http_json(r, 201, o);
}

static void
get_thing(struct req *r)
{
	http_set_resource(r, "things/%s", http_param(r, "id"));
	http_json(r, 200, json_pack("{s:s}", "id", http_param(r, "id")));
}

/* 204: an empty body through the streaming writer's buffer. */
static void
delete_thing(struct req *r)
{
	struct buf	 b = BUF_INIT(16);

	http_json_buf(r, 204, &b);
	buf_release(&b);
}

static void
silent(struct req *r)
{
	(void)r;
}

static void
cached(struct req *r)
{
	http_header(r, "Cache-Control", "public, max-age=60");
	http_header(r, "ETag", "\"v1\"");
	http_json(r, 200, json_object());
}

static void
twice(struct req *r)
{
	http_json(r, 200, json_pack("{s:i}", "answer", 1));
	http_problem(r, PROBLEM_CONFLICT, "the second answer", NULL);
}

static void
unbuildable(struct req *r)
{
	http_json(r, 200, NULL);
}

/* More extra headers than HTTP_HEADERS_MAX holds, its own caching first. */
static void
many_headers(struct req *r)
{
	char	 name[32], value[128];
	int	 i;

	http_header(r, "Cache-Control", "public, max-age=60");
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "X-Extra-%d", i);
		http_header(r, name, value);
	}
	http_json(r, 200, json_object());
}

static void
conflict(struct req *r)
{
	http_problemf(r, PROBLEM_CONFLICT, "thing %s already exists",
	    http_param(r, "id"));
}

/* A route that also takes form-encoded bodies, as /oauth2/token does. */
static const struct field form_body[] = {
	{ "grant", FIELD_STRING, true, false, 1, 32, NULL, NULL },
	{ "code", FIELD_STRING, false, false, 0, 64, NULL, NULL },
	{ "*", FIELD_STRING, false, false, 0, 0, NULL, NULL },
	{ FIELD_FORM, FIELD_STRING, false, false, 0, 0, NULL, NULL },
	{ NULL, FIELD_STRING, false, false, 0, 0, NULL, NULL },
};

static void
form_echo(struct req *r)
{
	http_json(r, 200, json_pack("{s:s, s:s?}", "grant", r->body.str[0],
	    "code", r->body.present[1] ? r->body.str[1] : NULL));
}

static const struct route routes[] = {
	{ HTTP_POST, "/form", form_echo, PERM_PUBLIC, "form", form_body,
	    NULL },
	{ HTTP_GET, "/things", list_things, PERM_PUBLIC, "list_things", NULL,
	    thing_query },
	{ HTTP_POST, "/things", create_thing, PERM_PUBLIC, "create_thing",
	    thing_body, NULL },
	{ HTTP_GET, "/things/{id}", get_thing, PERM_PUBLIC, "get_thing", NULL,
	    NULL },
	{ HTTP_DELETE, "/things/{id}", delete_thing, PERM_PUBLIC,
	    "delete_thing", NULL, NULL },
	{ HTTP_PUT, "/things/{id}", conflict, PERM_PUBLIC, "put_thing", NULL,
	    NULL },
	{ HTTP_GET, "/silent", silent, PERM_PUBLIC, "silent", NULL, NULL },
	{ HTTP_GET, "/cached", cached, PERM_PUBLIC, "cached", NULL, NULL },
	{ HTTP_GET, "/twice", twice, PERM_PUBLIC, "twice", NULL, NULL },
	{ HTTP_GET, "/unbuildable", unbuildable, PERM_PUBLIC, "unbuildable",
	    NULL, NULL },
	{ HTTP_GET, "/many-headers", many_headers, PERM_PUBLIC, "many_headers",
	    NULL, NULL },
};

#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

/* ---- The fake transport. ---- */

#define PARAMS_MAX	8

struct fake {
	const char	*name[PARAMS_MAX];
	const char	*value[PARAMS_MAX];
	size_t		 nparams;
	const char	*body;
	size_t		 bodylen;
	size_t		 off;
	size_t		 chunk;		/* most bytes one read returns */
	int		 reads;
	int		 writes;
	struct buf	 out;
};

static const char *
fake_param(void *ctx, const char *name)
{
	struct fake	*f = ctx;
	size_t		 i;

	for (i = 0; i < f->nparams; i++)
		if (strcmp(f->name[i], name) == 0)
			return f->value[i];
	return NULL;
}

static long
fake_read(void *ctx, char *p, size_t len)
{
	struct fake	*f = ctx;
	size_t		 n = f->bodylen - f->off;

	f->reads++;
	if (n > len)
		n = len;
	if (f->chunk > 0 && n > f->chunk)
		n = f->chunk;
	memcpy(p, f->body + f->off, n);
	f->off += n;
	return (long)n;
}

static int
fake_write(void *ctx, const char *p, size_t len)
{
	struct fake	*f = ctx;

	f->writes++;
	return buf_add(&f->out, p, len) ? 0 : -1;
}

static void
fake_set(struct fake *f, const char *name, const char *value)
{
	if (value == NULL)
		return;
	assert_true(f->nparams < PARAMS_MAX);
	f->name[f->nparams] = name;
	f->value[f->nparams] = value;
	f->nparams++;
}

/* ---- Requests and responses. ---- */

struct request {
	const char	*method;
	const char	*uri;
	const char	*content_type;
	const char	*content_length;	/* NULL: strlen(body) if body */
	const char	*request_id;
	const char	*body;
	size_t		 chunk;
};

struct response {
	char		*raw;		/* owned: everything written */
	int		 status;
	char		 reason[64];
	char		*hname[HEADERS_MAX];	/* borrowed from raw */
	char		*hvalue[HEADERS_MAX];
	size_t		 nheaders;
	const char	*body;		/* borrowed from raw */
	size_t		 bodylen;
	json_t		*json;		/* owned; NULL without a body */
	int		 reads;
};

struct fixture {
	struct app	 app;
	int		 devnull;
};

static const char *
cfg_lookup(const char *name, void *arg)
{
	(void)arg;
	if (strcmp(name, "HXB_DATABASE_URL") == 0)
		return "postgresql://unused";
	if (strcmp(name, "HXB_MAX_BODY_BYTES") == 0)
		return "1024";
	return NULL;
}

static int
setup(void **state)
{
	struct fixture	*f;
	struct buf	 err = BUF_INIT(4096);

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	if (config_load(&f->app.cfg, cfg_lookup, NULL, &err) != 0) {
		fprintf(stderr, "config: %s", buf_cstr(&err));
		buf_release(&err);
		config_free(&f->app.cfg);
		free(f);
		return -1;
	}
	buf_release(&err);
	/* Request log lines would clutter the TAP stream. */
	f->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (f->devnull == -1) {
		config_free(&f->app.cfg);
		free(f);
		return -1;
	}
	f->app.service = "test";
	log_init(&f->app.log, "test", LOGL_ERROR, f->devnull);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	config_free(&f->app.cfg);
	close(f->devnull);
	free(f);
	return 0;
}

static void
response_free(struct response *resp)
{
	json_decref(resp->json);
	free(resp->raw);
	memset(resp, 0, sizeof(*resp));
}

/* Split "Status: ...\r\nName: value\r\n...\r\n\r\nbody". */
static void
response_parse(struct response *resp, size_t len)
{
	char		*p = resp->raw, *eol, *colon, *end;
	json_error_t	 err;

	end = strstr(p, "\r\n\r\n");
	if (end == NULL)
		fail_msg("no end of headers in [%s]", p);
	resp->body = end + 4;
	resp->bodylen = len - (size_t)(resp->body - resp->raw);
	end[2] = '\0';
	if (sscanf(p, "Status: %d %63[^\r]", &resp->status,
	    resp->reason) != 2)
		fail_msg("bad status line in [%s]", p);
	p = strstr(p, "\r\n") + 2;
	while (*p != '\0') {
		eol = strstr(p, "\r\n");
		assert_non_null(eol);
		*eol = '\0';
		if (strchr(p, '\n') != NULL || strchr(p, '\r') != NULL)
			fail_msg("bare line break in header [%s]", p);
		if ((colon = strstr(p, ": ")) == NULL)
			fail_msg("header without ': ' [%s]", p);
		*colon = '\0';
		assert_true(resp->nheaders < HEADERS_MAX);
		resp->hname[resp->nheaders] = p;
		resp->hvalue[resp->nheaders] = colon + 2;
		resp->nheaders++;
		p = eol + 2;
	}
	if (resp->bodylen > 0) {
		resp->json = json_loadb(resp->body, resp->bodylen,
		    JSON_REJECT_DUPLICATES, &err);
		if (resp->json == NULL)
			fail_msg("body is not JSON (%s): [%.*s]", err.text,
			    (int)resp->bodylen, resp->body);
	}
}

/* The one value of a header, or NULL; fails if it is there twice. */
static const char *
header(const struct response *resp, const char *name)
{
	const char	*v = NULL;
	size_t		 i;

	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->hname[i], name) == 0) {
			if (v != NULL)
				fail_msg("header %s twice", name);
			v = resp->hvalue[i];
		}
	return v;
}

static void
expect_header(const struct response *resp, const char *name,
    const char *want)
{
	const char	*v = header(resp, name);

	if (v == NULL)
		fail_msg("no %s header", name);
	assert_string_equal(v, want);
}

/* Serve one request and parse what was written. */
static void
serve(struct fixture *fx, const struct request *rq, struct response *resp)
{
	struct fake	 f;
	struct http_io	 io = { fake_param, fake_read, fake_write, &f };
	char		 cl[32];
	const char	*ctlen = rq->content_length;
	size_t		 len;

	memset(&f, 0, sizeof(f));
	memset(resp, 0, sizeof(*resp));
	buf_init(&f.out, 0);
	if (ctlen == NULL && rq->body != NULL) {
		snprintf(cl, sizeof(cl), "%zu", strlen(rq->body));
		ctlen = cl;
	}
	fake_set(&f, "REQUEST_METHOD", rq->method);
	fake_set(&f, "REQUEST_URI", rq->uri);
	fake_set(&f, "CONTENT_TYPE", rq->content_type);
	fake_set(&f, "CONTENT_LENGTH", ctlen);
	fake_set(&f, "HTTP_X_REQUEST_ID", rq->request_id);
	fake_set(&f, "REMOTE_ADDR", "127.0.0.1");
	f.body = rq->body != NULL ? rq->body : "";
	f.bodylen = strlen(f.body);
	f.chunk = rq->chunk;

	http_serve(&fx->app, routes, NROUTES, &io);

	assert_null(fx->app.req);
	assert_false(f.out.failed);
	/* One response, written at once. */
	assert_int_equal(f.writes, 1);
	resp->reads = f.reads;
	resp->raw = buf_detach(&f.out, &len);
	assert_non_null(resp->raw);
	response_parse(resp, len);
}

/* The checks every response passes. */
static void
check_common(const struct response *resp, const char *method)
{
	const char	*cl = header(resp, "Content-Length");
	const char	*rid = header(resp, "X-Request-Id");

	assert_non_null(cl);
	assert_non_null(rid);
	assert_true(strlen(rid) > 0);
	assert_non_null(header(resp, "Content-Type"));
	if (method != NULL && strcmp(method, "HEAD") == 0)
		assert_int_equal(resp->bodylen, 0);
	else
		assert_int_equal(strtoul(cl, NULL, 10), resp->bodylen);
}

static const char *
jstr(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (!json_is_string(v))
		fail_msg("%s is not a string", k);
	return json_string_value(v);
}

/*
 * An RFC 9457 problem with every member we promise, consistent with the
 * status line and the headers.
 */
static void
check_problem(const struct response *resp, int status, const char *slug,
    const char *instance)
{
	static const char *const keys[] = {
		"type", "title", "status", "detail", "instance", "request_id",
		"errors",
	};
	char	 type[128];
	size_t	 i;

	check_common(resp, NULL);
	if (resp->status != status)
		fail_msg("status %d, not %d: %.*s", resp->status, status,
		    (int)resp->bodylen, resp->body);
	expect_header(resp, "Content-Type",
	    "application/problem+json");
	assert_non_null(resp->json);
	assert_true(json_is_object(resp->json));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_get(resp->json, keys[i]) == NULL)
			fail_msg("problem without %s", keys[i]);
	assert_int_equal(json_object_size(resp->json),
	    sizeof(keys) / sizeof(keys[0]));
	snprintf(type, sizeof(type), "https://hexabase.ai/problems/%s", slug);
	assert_string_equal(jstr(resp->json, "type"), type);
	assert_true(strlen(jstr(resp->json, "title")) > 0);
	assert_true(strlen(jstr(resp->json, "detail")) > 0);
	assert_int_equal(json_integer_value(json_object_get(resp->json,
	    "status")), status);
	if (instance != NULL)
		assert_string_equal(jstr(resp->json, "instance"), instance);
	assert_string_equal(jstr(resp->json, "request_id"),
	    header(resp, "X-Request-Id"));
	assert_true(json_is_array(json_object_get(resp->json, "errors")));
	expect_header(resp, "Cache-Control", "no-store");
}

static size_t
nerrors(const struct response *resp)
{
	return json_array_size(json_object_get(resp->json, "errors"));
}

/* errors[] holds {field, message}, each entry with exactly those two. */
static bool
has_error(const struct response *resp, const char *field, const char *msg)
{
	json_t	*errors = json_object_get(resp->json, "errors"), *e;
	size_t	 i;

	json_array_foreach(errors, i, e) {
		assert_int_equal(json_object_size(e), 2);
		if (strcmp(jstr(e, "field"), field) == 0 &&
		    strcmp(jstr(e, "message"), msg) == 0)
			return true;
	}
	return false;
}

/* One validation problem (422) about one field. */
static void
expect_one_error(struct fixture *fx, const char *body, int status,
    const char *slug, const char *field, const char *msg)
{
	struct response	 resp;

	serve(fx, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .body = body }, &resp);
	check_problem(&resp, status, slug, "/things");
	if (nerrors(&resp) != 1 || !has_error(&resp, field, msg))
		fail_msg("%s: want {%s: %s}, got %.*s", body, field, msg,
		    (int)resp.bodylen, resp.body);
	response_free(&resp);
}

static void
expect_field_error(struct fixture *fx, const char *body, const char *field,
    const char *msg)
{
	expect_one_error(fx, body, 422, "validation-error", field, msg);
}

/* One invalid-query problem about one parameter. */
static void
expect_query_error(struct fixture *fx, const char *uri, const char *field,
    const char *msg)
{
	struct response	 resp;

	serve(fx, &(struct request){ .method = "GET", .uri = uri }, &resp);
	check_problem(&resp, 400, "invalid-query", "/things");
	if (nerrors(&resp) != 1 || !has_error(&resp, field, msg))
		fail_msg("%s: want {%s: %s}, got %.*s", uri, field, msg,
		    (int)resp.bodylen, resp.body);
	response_free(&resp);
}

/* POST /things with `body`; the status it gets. */
static int
post_status(struct fixture *fx, const char *body)
{
	struct response	 resp;
	int		 status;

	serve(fx, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .body = body }, &resp);
	status = resp.status;
	response_free(&resp);
	return status;
}

/* ---- Routing. ---- */

static void
test_ok(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things/caf%C3%A9?" }, &resp);
	check_common(&resp, "GET");
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.reason, "OK");
	expect_header(&resp, "Content-Type", "application/json");
	expect_header(&resp, "Cache-Control", "no-store");
	assert_string_equal(jstr(resp.json, "id"), "caf\xc3\xa9");
	assert_int_equal(resp.reads, 0);
	response_free(&resp);
}

static void
test_not_found(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/nothing/here?x=1" }, &resp);
	check_problem(&resp, 404, "not-found", "/nothing/here");
	assert_string_equal(resp.reason, "Not Found");
	assert_int_equal(nerrors(&resp), 0);
	assert_null(header(&resp, "Allow"));
	response_free(&resp);

	/* Trailing slash, empty segment, too many segments. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things/" }, &resp);
	check_problem(&resp, 404, "not-found", "/things/");
	response_free(&resp);
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "//things" }, &resp);
	check_problem(&resp, 404, "not-found", "//things");
	response_free(&resp);
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17" }, &resp);
	check_problem(&resp, 404, "not-found", NULL);
	response_free(&resp);

	/* No REQUEST_URI at all is "/". */
	serve(*state, &(struct request){ .method = "GET" }, &resp);
	check_problem(&resp, 404, "not-found", "/");
	response_free(&resp);
}

static void
test_method_not_allowed(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "DELETE",
	    .uri = "/things" }, &resp);
	check_problem(&resp, 405, "method-not-allowed", "/things");
	assert_string_equal(resp.reason, "Method Not Allowed");
	expect_header(&resp, "Allow", "GET, HEAD, POST");
	assert_string_equal(jstr(resp.json, "detail"),
	    "DELETE is not allowed here; use GET, HEAD, POST");
	response_free(&resp);

	serve(*state, &(struct request){ .method = "POST",
	    .uri = "/things/x" }, &resp);
	check_problem(&resp, 405, "method-not-allowed", "/things/x");
	expect_header(&resp, "Allow",
	    "GET, HEAD, PUT, DELETE");
	response_free(&resp);

	/* A method we do not know, or none at all. */
	serve(*state, &(struct request){ .method = "BREW",
	    .uri = "/things" }, &resp);
	check_problem(&resp, 405, "method-not-allowed", "/things");
	expect_header(&resp, "Allow", "GET, HEAD, POST");
	response_free(&resp);
	serve(*state, &(struct request){ .uri = "/silent" }, &resp);
	check_problem(&resp, 405, "method-not-allowed", "/silent");
	expect_header(&resp, "Allow", "GET, HEAD");
	response_free(&resp);
	/* Method names are case-sensitive. */
	serve(*state, &(struct request){ .method = "get",
	    .uri = "/silent" }, &resp);
	assert_int_equal(resp.status, 405);
	response_free(&resp);
}

static void
test_route_problem(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "PUT",
	    .uri = "/things/t1" }, &resp);
	check_problem(&resp, 409, "conflict", "/things/t1");
	assert_string_equal(resp.reason, "Conflict");
	assert_string_equal(jstr(resp.json, "title"), "Conflict");
	assert_string_equal(jstr(resp.json, "detail"),
	    "thing t1 already exists");
	response_free(&resp);
}

/* ---- Request ids. ---- */

static bool
hex32(const char *s)
{
	size_t	 i;

	if (strlen(s) != 32)
		return false;
	for (i = 0; i < 32; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return false;
	return true;
}

/* The request id a request with HTTP_X_REQUEST_ID = given gets. */
static void
request_id_of(struct fixture *fx, const char *given, char out[128])
{
	struct response	 resp;

	serve(fx, &(struct request){ .method = "GET", .uri = "/nowhere",
	    .request_id = given }, &resp);
	check_problem(&resp, 404, "not-found", "/nowhere");
	snprintf(out, 128, "%s", header(&resp, "X-Request-Id"));
	response_free(&resp);
}

static void
test_request_id_given(void **state)
{
	static const char *const safe[] = {
		"0123456789abcdef0123456789abcdef",
		"abc-123_x.y",
		"A",
		/* 64 characters, the most there is room for. */
		"01234567890123456789012345678901"
		"23456789012345678901234567890123",
	};
	struct response	 resp;
	char		 got[128];
	size_t		 i;

	for (i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		request_id_of(*state, safe[i], got);
		assert_string_equal(got, safe[i]);
	}
	/* Also on a success. */
	serve(*state, &(struct request){ .method = "GET", .uri = "/things/a",
	    .request_id = "req-42" }, &resp);
	assert_int_equal(resp.status, 200);
	expect_header(&resp, "X-Request-Id", "req-42");
	response_free(&resp);
}

static void
test_request_id_unsafe(void **state)
{
	static const char *const unsafe[] = {
		"", "has\"quote", "line\nbreak", "cr\rlf", "with space",
		"slash/", "semi;colon", "caf\xc3\xa9", "tab\t", "colon:",
		/* 65 characters: one too many. */
		"01234567890123456789012345678901"
		"234567890123456789012345678901234",
	};
	char	 got[128], other[128];
	size_t	 i;

	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		request_id_of(*state, unsafe[i], got);
		if (!hex32(got))
			fail_msg("\"%s\" gave id %s", unsafe[i], got);
	}
	/* None given: generated, and not the same twice. */
	request_id_of(*state, NULL, got);
	assert_true(hex32(got));
	request_id_of(*state, NULL, other);
	assert_true(hex32(other));
	assert_string_not_equal(got, other);
}

/* ---- The body. ---- */

static void
test_create(void **state)
{
	struct response	 resp;
	json_t		*meta;

	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json",
	    .body = "{\"name\":\"h\xc3\xa9llo\",\"slug\":\"a-1\",\"count\":10,"
	    "\"age\":9223372036854775807,\"enabled\":false,"
	    "\"ratio\":1234567.125,\"meta\":{\"k\":[1,\"v\"]},"
	    "\"tags\":[1,2,3],\"note\":null}" }, &resp);
	check_common(&resp, "POST");
	if (resp.status != 201)
		fail_msg("%d: %.*s", resp.status, (int)resp.bodylen, resp.body);
	assert_string_equal(resp.reason, "Created");
	assert_string_equal(jstr(resp.json, "name"), "h\xc3\xa9llo");
	assert_string_equal(jstr(resp.json, "slug"), "a-1");
	assert_int_equal(json_integer_value(json_object_get(resp.json,
	    "count")), 10);
	assert_true(json_integer_value(json_object_get(resp.json, "age")) ==
	    9223372036854775807LL);
	assert_true(json_is_false(json_object_get(resp.json, "enabled")));
	assert_true(json_number_value(json_object_get(resp.json, "ratio")) ==
	    1234567.125);
	/* An object field is handed over as it came. */
	meta = json_pack("{s:[i, s]}", "k", 1, "v");
	assert_true(json_equal(json_object_get(resp.json, "meta"), meta));
	json_decref(meta);
	assert_int_equal(json_integer_value(json_object_get(resp.json,
	    "ntags")), 3);
	/* A null for a nullable field is as if it were absent. */
	assert_true(json_is_false(json_object_get(resp.json, "note")));
	response_free(&resp);
}

static void
test_too_large(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .content_length = "1025",
	    .body = "{\"name\":\"abc\"}" }, &resp);
	check_problem(&resp, 413, "payload-too-large", "/things");
	assert_string_equal(resp.reason, "Content Too Large");
	assert_non_null(strstr(jstr(resp.json, "detail"), "1024"));
	assert_int_equal(resp.reads, 0);
	response_free(&resp);

	/* Checked before anything else about the body. */
	serve(*state, &(struct request){ .method = "GET", .uri = "/things/x",
	    .content_length = "99999999" }, &resp);
	check_problem(&resp, 413, "payload-too-large", "/things/x");
	assert_int_equal(resp.reads, 0);
	response_free(&resp);
}

static void
test_max_body_exactly(void **state)
{
	struct response	 resp;
	char		 body[MAX_BODY + 1];

	/* {"name":"abc"} padded with blanks to exactly the limit. */
	memset(body, ' ', MAX_BODY);
	memcpy(body, "{\"name\":\"abc\"", 13);
	body[MAX_BODY - 1] = '}';
	body[MAX_BODY] = '\0';
	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .body = body }, &resp);
	assert_int_equal(resp.status, 201);
	assert_true(resp.reads >= 1);
	response_free(&resp);
	/* Short reads are put together. */
	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .body = body, .chunk = 7 },
	    &resp);
	assert_int_equal(resp.status, 201);
	assert_int_equal(resp.reads, (MAX_BODY + 6) / 7);
	response_free(&resp);
}

static void
test_bad_content_length(void **state)
{
	static const char *const bad[] = {
		"abc", "12abc", "-1", "+5", " 5", "5 ", "0x10", "1e3",
		"99999999999999999999999",
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(*state, &(struct request){ .method = "POST",
		    .uri = "/things", .content_type = "application/json",
		    .content_length = bad[i], .body = "{\"name\":\"abc\"}" },
		    &resp);
		check_problem(&resp, 400, "bad-request", "/things");
		assert_non_null(strstr(jstr(resp.json, "detail"),
		    "Content-Length"));
		assert_int_equal(resp.reads, 0);
		response_free(&resp);
	}
}

static void
test_short_body(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .content_length = "20",
	    .body = "{\"name\":\"abc\"}" }, &resp);
	check_problem(&resp, 400, "bad-request", "/things");
	assert_string_equal(jstr(resp.json, "detail"),
	    "the body ended after 14 of 20 bytes");
	response_free(&resp);

	/* Only Content-Length bytes are read. */
	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json", .content_length = "14",
	    .body = "{\"name\":\"abc\"}garbage" }, &resp);
	assert_int_equal(resp.status, 201);
	response_free(&resp);
}

static void
test_body_not_accepted(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET", .uri = "/things/x",
	    .content_type = "application/json", .body = "{}" }, &resp);
	check_problem(&resp, 400, "bad-request", "/things/x");
	assert_non_null(strstr(jstr(resp.json, "detail"), "no request body"));
	assert_int_equal(resp.reads, 0);
	response_free(&resp);

	/* An empty or zero Content-Length is no body. */
	serve(*state, &(struct request){ .method = "GET", .uri = "/things/x",
	    .content_length = "0" }, &resp);
	assert_int_equal(resp.status, 200);
	response_free(&resp);
	serve(*state, &(struct request){ .method = "GET", .uri = "/things/x",
	    .content_length = "" }, &resp);
	assert_int_equal(resp.status, 200);
	response_free(&resp);
}

static void
test_content_type(void **state)
{
	static const char *const bad[] = {
		NULL, "", "text/plain", "application/jsonx",
		"application/json-patch+json",
		"application/x-www-form-urlencoded",
		"json", "application/problem+json",
	};
	static const char *const good[] = {
		"application/json", "APPLICATION/JSON", "Application/Json",
		"application/json; charset=utf-8",
		"application/json;charset=UTF-8",
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(*state, &(struct request){ .method = "POST",
		    .uri = "/things", .content_type = bad[i],
		    .body = "{\"name\":\"abc\"}" }, &resp);
		check_problem(&resp, 415, "unsupported-media-type", "/things");
		assert_string_equal(resp.reason, "Unsupported Media Type");
		assert_int_equal(resp.reads, 0);
		response_free(&resp);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		serve(*state, &(struct request){ .method = "POST",
		    .uri = "/things", .content_type = good[i],
		    .body = "{\"name\":\"abc\"}" }, &resp);
		if (resp.status != 201)
			fail_msg("Content-Type %s gave %d", good[i],
			    resp.status);
		response_free(&resp);
	}
}

static void
test_form_body(void **state)
{
	static const char *const form = "application/x-www-form-urlencoded";
	static const struct { const char *ctype, *body; int status;
	    const char *grant, *code; } cases[] = {
		{ form, "grant=a+b&code=x%2By%20z", 200, "a b", "x+y z" },
		{ "application/x-www-form-urlencoded; charset=UTF-8",
		    "code=1&grant=g&unknown=ignored", 200, "g", "1" },
		{ "application/json", "{\"grant\":\"j\",\"other\":1}", 200, "j",
		    NULL },
		{ form, "grant=%zz", 400, NULL, NULL },
		{ form, "grant=a&grant=b", 400, NULL, NULL },
		{ form, "grant=%00", 400, NULL, NULL },
		{ form, "code=only", 422, NULL, NULL },
		{ "text/plain", "grant=a", 415, NULL, NULL },
		/* The marker is no field of a JSON body. */
		{ "application/json", "{\"grant\":\"j\","
		    "\"application/x-www-form-urlencoded\":\"x\"}", 422, NULL,
		    NULL },
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		serve(*state, &(struct request){ .method = "POST",
		    .uri = "/form", .content_type = cases[i].ctype,
		    .body = cases[i].body }, &resp);
		if (resp.status != cases[i].status)
			fail_msg("case %zu: %d: %.*s", i, resp.status,
			    (int)resp.bodylen, resp.body);
		if (cases[i].grant != NULL)
			assert_string_equal(jstr(resp.json, "grant"),
			    cases[i].grant);
		if (cases[i].code != NULL)
			assert_string_equal(jstr(resp.json, "code"),
			    cases[i].code);
		response_free(&resp);
	}
	/* Routes without the marker still take JSON only. */
	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = form, .body = "name=abc" }, &resp);
	check_problem(&resp, 415, "unsupported-media-type", "/things");
	response_free(&resp);
}

static void
test_empty_body(void **state)
{
	/* No body on a route that takes one: validated as {}. */
	expect_field_error(*state, NULL, "name", "is required");
	expect_field_error(*state, "", "name", "is required");
}

static void
test_malformed_json(void **state)
{
	static const char *const bad[] = {
		"{",
		"{\"name\":}",
		"{\"name\":\"abc\",}",
		"{'name':'abc'}",
		"{\"name\":\"abc\"} x",
		"{\"name\":\"abc\"}{}",
		"nul",
		/* Duplicate keys. */
		"{\"name\":\"abc\",\"name\":\"abd\"}",
		/* Invalid UTF-8 in a string, raw or as a lone surrogate. */
		"{\"name\":\"ab\xff\"}",
		"{\"name\":\"\xc3(\"}",
		"{\"name\":\"\\ud800x\"}",
		/* A NUL byte, escaped. */
		"{\"name\":\"a\\u0000b\"}",
		/* Top-level scalars. */
		"5",
		"\"name\"",
		"null",
		/* An integer too big for 64 bits. */
		"{\"name\":\"abc\",\"count\":99999999999999999999}",
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(*state, &(struct request){ .method = "POST",
		    .uri = "/things", .content_type = "application/json",
		    .body = bad[i] }, &resp);
		if (resp.status != 400)
			fail_msg("%s gave %d", bad[i], resp.status);
		check_problem(&resp, 400, "malformed-body", "/things");
		assert_non_null(strstr(jstr(resp.json, "detail"),
		    "not valid JSON"));
		assert_int_equal(nerrors(&resp), 0);
		response_free(&resp);
	}
	/* A top-level array parses, but is not an object: 422. */
	expect_field_error(*state, "[]", "", "the body must be a JSON object");
	expect_field_error(*state, "[{\"name\":\"abc\"}]", "",
	    "the body must be a JSON object");
}

static void
test_unknown_field(void **state)
{
	expect_field_error(*state, "{\"name\":\"abc\",\"bogus\":1}", "bogus",
	    "is not a known field");
	/* Names are case-sensitive. */
	expect_field_error(*state, "{\"name\":\"abc\",\"Name\":\"x\"}", "Name",
	    "is not a known field");
}

static void
test_required(void **state)
{
	expect_field_error(*state, "{}", "name", "is required");
	expect_field_error(*state, "{\"count\":1}", "name", "is required");
	/* null is a value of the wrong type, unless the field is nullable. */
	expect_field_error(*state, "{\"name\":null}", "name",
	    "must be a string");
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"note\":null}"), 201);
}

static void
test_wrong_types(void **state)
{
	static const struct {
		const char	*body;
		const char	*field;
		const char	*msg;
	} cases[] = {
		{ "{\"name\":5}", "name", "must be a string" },
		{ "{\"name\":[\"abc\"]}", "name", "must be a string" },
		{ "{\"name\":\"abc\",\"count\":\"5\"}", "count",
		    "must be an integer" },
		{ "{\"name\":\"abc\",\"count\":1.5}", "count",
		    "must be an integer" },
		{ "{\"name\":\"abc\",\"count\":true}", "count",
		    "must be an integer" },
		{ "{\"name\":\"abc\",\"enabled\":\"true\"}", "enabled",
		    "must be a boolean" },
		{ "{\"name\":\"abc\",\"enabled\":1}", "enabled",
		    "must be a boolean" },
		{ "{\"name\":\"abc\",\"ratio\":\"0.5\"}", "ratio",
		    "must be a number" },
		{ "{\"name\":\"abc\",\"meta\":[]}", "meta",
		    "must be an object" },
		{ "{\"name\":\"abc\",\"meta\":\"{}\"}", "meta",
		    "must be an object" },
		{ "{\"name\":\"abc\",\"tags\":{}}", "tags",
		    "must be an array" },
		{ "{\"name\":\"abc\",\"tags\":null}", "tags",
		    "must be an array" },
		{ "{\"name\":\"abc\",\"note\":1}", "note",
		    "must be a string" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_field_error(*state, cases[i].body, cases[i].field,
		    cases[i].msg);
	/* An integer is a number. */
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"ratio\":2}"), 201);
}

static void
test_string_length(void **state)
{
	/* Counted in characters: one 2-byte character is too short. */
	expect_field_error(*state, "{\"name\":\"a\"}", "name",
	    "must be at least 2 characters");
	expect_field_error(*state, "{\"name\":\"\xc3\xa9\"}", "name",
	    "must be at least 2 characters");
	expect_field_error(*state, "{\"name\":\"\"}", "name",
	    "must be at least 2 characters");
	/* Five characters in six, ten or twenty bytes are not too long. */
	assert_int_equal(post_status(*state, "{\"name\":\"h\xc3\xa9llo\"}"),
	    201);
	assert_int_equal(post_status(*state,
	    "{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"), 201);
	assert_int_equal(post_status(*state,
	    "{\"name\":\"\\ud83d\\ude00\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}"), 201);
	assert_int_equal(post_status(*state, "{\"name\":\"ab\"}"), 201);
	expect_field_error(*state, "{\"name\":\"h\xc3\xa9llos\"}", "name",
	    "must be at most 5 characters");
	expect_field_error(*state, "{\"name\":\"abcdef\"}", "name",
	    "must be at most 5 characters");
	/* A minimum of one says "empty". */
	expect_field_error(*state, "{\"name\":\"abc\",\"title\":\"\"}", "title",
	    "must not be empty");
}

static void
test_pattern(void **state)
{
	static const char *const bad_slugs[] = {
		"Bad", "a b", "-abc", "1abc", "abc!", "abc\\n", "",
	};
	char	 body[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad_slugs) / sizeof(bad_slugs[0]); i++) {
		snprintf(body, sizeof(body),
		    "{\"name\":\"abc\",\"slug\":\"%s\"}", bad_slugs[i]);
		expect_field_error(*state, body, "slug",
		    "must be lowercase letters, digits and dashes");
	}
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"slug\":\"abc-1-\"}"), 201);
	/* Without a hint, a generic message; the match is anchored. */
	expect_field_error(*state, "{\"name\":\"abc\",\"code\":\"1234\"}",
	    "code", "has an invalid format");
	expect_field_error(*state, "{\"name\":\"abc\",\"code\":\"x123\"}",
	    "code", "has an invalid format");
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"code\":\"123\"}"), 201);
}

static void
test_int_range(void **state)
{
	expect_field_error(*state, "{\"name\":\"abc\",\"count\":0}", "count",
	    "must be from 1 to 10");
	expect_field_error(*state, "{\"name\":\"abc\",\"count\":11}", "count",
	    "must be from 1 to 10");
	expect_field_error(*state, "{\"name\":\"abc\",\"count\":-1}", "count",
	    "must be from 1 to 10");
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"count\":1}"), 201);
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"count\":10}"), 201);
	/* A maximum of 0 is no maximum. */
	expect_field_error(*state, "{\"name\":\"abc\",\"age\":-1}", "age",
	    "must be at least 0");
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"age\":0}"), 201);
}

static void
test_array_items(void **state)
{
	expect_field_error(*state, "{\"name\":\"abc\",\"tags\":[]}", "tags",
	    "must be an array of 1 to 3 items");
	expect_field_error(*state, "{\"name\":\"abc\",\"tags\":[1,2,3,4]}",
	    "tags", "must be an array of 1 to 3 items");
	assert_int_equal(post_status(*state,
	    "{\"name\":\"abc\",\"tags\":[\"x\"]}"), 201);
}

static void
test_many_errors(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "POST", .uri = "/things",
	    .content_type = "application/json",
	    .body = "{\"bogus\":1,\"count\":0,\"enabled\":\"no\",\"tags\":[],"
	    "\"slug\":\"A\",\"extra\":null}" }, &resp);
	check_problem(&resp, 422, "validation-error", "/things");
	assert_string_equal(resp.reason, "Unprocessable Content");
	assert_string_equal(jstr(resp.json, "title"),
	    "Request validation failed");
	assert_int_equal(nerrors(&resp), 7);
	assert_true(has_error(&resp, "bogus", "is not a known field"));
	assert_true(has_error(&resp, "extra", "is not a known field"));
	assert_true(has_error(&resp, "name", "is required"));
	assert_true(has_error(&resp, "count", "must be from 1 to 10"));
	assert_true(has_error(&resp, "enabled", "must be a boolean"));
	assert_true(has_error(&resp, "tags",
	    "must be an array of 1 to 3 items"));
	assert_true(has_error(&resp, "slug",
	    "must be lowercase letters, digits and dashes"));
	response_free(&resp);
}

/* ---- The query. ---- */

static void
test_query_ok(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things?limit=100&active=false&q=h%C3%A9l+o&kind=pro" },
	    &resp);
	check_common(&resp, "GET");
	assert_int_equal(resp.status, 200);
	assert_int_equal(json_integer_value(json_object_get(resp.json,
	    "limit")), 100);
	assert_true(json_is_false(json_object_get(resp.json, "active")));
	assert_string_equal(jstr(resp.json, "q"), "h\xc3\xa9l o");
	assert_string_equal(jstr(resp.json, "kind"), "pro");
	response_free(&resp);

	/* Nothing given, or only empty pieces. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things?&&" }, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(json_is_null(json_object_get(resp.json, "limit")));
	assert_true(json_is_null(json_object_get(resp.json, "active")));
	response_free(&resp);
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things?limit=1&active=true" }, &resp);
	assert_int_equal(resp.status, 200);
	assert_true(json_is_true(json_object_get(resp.json, "active")));
	response_free(&resp);
}

static void
test_query_unknown(void **state)
{
	struct response	 resp;

	expect_query_error(*state, "/things?bogus=1", "bogus",
	    "is not a known query parameter");
	expect_query_error(*state, "/things?LIMIT=1", "LIMIT",
	    "is not a known query parameter");
	/* A route without a query table takes none. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things/x?limit=1" }, &resp);
	check_problem(&resp, 400, "invalid-query", "/things/x");
	assert_true(has_error(&resp, "limit",
	    "is not a known query parameter"));
	response_free(&resp);
	/* Several at once. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things?a=1&limit=0&b" }, &resp);
	check_problem(&resp, 400, "invalid-query", "/things");
	assert_int_equal(nerrors(&resp), 3);
	assert_true(has_error(&resp, "a", "is not a known query parameter"));
	assert_true(has_error(&resp, "b", "is not a known query parameter"));
	assert_true(has_error(&resp, "limit", "must be from 1 to 100"));
	response_free(&resp);
}

/* A query string refused as a whole, before its parameters are checked. */
static void
expect_query_refused(struct fixture *fx, const char *uri, const char *detail)
{
	struct response	 resp;

	serve(fx, &(struct request){ .method = "GET", .uri = uri }, &resp);
	check_problem(&resp, 400, "invalid-query", "/things");
	assert_string_equal(jstr(resp.json, "detail"), detail);
	assert_int_equal(nerrors(&resp), 0);
	response_free(&resp);
}

static void
test_query_refused(void **state)
{
	char	*uri;

	expect_query_refused(*state, "/things?limit=1&limit=2",
	    query_strerror(QUERY_DUPLICATE));
	expect_query_refused(*state, "/things?limit=1&%6Cimit=2",
	    query_strerror(QUERY_DUPLICATE));
	expect_query_refused(*state, "/things?q=%zz",
	    query_strerror(QUERY_BAD_ENCODING));
	expect_query_refused(*state, "/things?q=%00",
	    query_strerror(QUERY_BAD_ENCODING));
	expect_query_refused(*state, "/things?q=%C3%28",
	    query_strerror(QUERY_BAD_ENCODING));
	expect_query_refused(*state, "/things?=x",
	    query_strerror(QUERY_EMPTY_KEY));
	expect_query_refused(*state, "/things?a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&"
	    "p&q&r&s&t&u&v&w&x&y&z&aa&bb&cc&dd&ee&ff&gg",
	    query_strerror(QUERY_TOO_MANY));
	/* A long query does not make the URI too long; it is refused. */
	uri = malloc(QUERY_LEN_MAX + 16);
	assert_non_null(uri);
	strcpy(uri, "/things?q=");
	memset(uri + 10, 'x', QUERY_LEN_MAX);
	uri[10 + QUERY_LEN_MAX] = '\0';
	expect_query_refused(*state, uri, query_strerror(QUERY_TOO_LONG));
	free(uri);
}

static void
test_query_int(void **state)
{
	static const char *const bad[] = {
		"12x", "+1", "", "%201", "1%20", "%0A5", "%095", "1.0", "0x10",
		"-", "99999999999999999999", "1e2",
	};
	char	 uri[64];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(uri, sizeof(uri), "/things?limit=%s", bad[i]);
		expect_query_error(*state, uri, "limit", "must be an integer");
	}
	expect_query_error(*state, "/things?limit", "limit",
	    "must be an integer");
	expect_query_error(*state, "/things?limit=0", "limit",
	    "must be from 1 to 100");
	expect_query_error(*state, "/things?limit=101", "limit",
	    "must be from 1 to 100");
	expect_query_error(*state, "/things?limit=-5", "limit",
	    "must be from 1 to 100");
	expect_query_error(*state, "/things?limit=-0", "limit",
	    "must be from 1 to 100");
}

static void
test_query_bool(void **state)
{
	static const char *const bad[] = {
		"1", "0", "TRUE", "True", "yes", "", "truee", "%20true",
	};
	char	 uri[64];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(uri, sizeof(uri), "/things?active=%s", bad[i]);
		expect_query_error(*state, uri, "active",
		    "must be true or false");
	}
}

static void
test_query_string(void **state)
{
	struct response	 resp;

	/* Five characters in seven bytes fit; six do not. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/things?q=%C3%A9%C3%A9abc" }, &resp);
	assert_int_equal(resp.status, 200);
	response_free(&resp);
	expect_query_error(*state, "/things?q=%C3%A9%C3%A9abcd", "q",
	    "must be at most 5 characters");
	expect_query_error(*state, "/things?kind=basic", "kind",
	    "must be free or pro");
	expect_query_error(*state, "/things?kind=free%7Cpro", "kind",
	    "must be free or pro");
	expect_query_error(*state, "/things?kind=", "kind",
	    "must be free or pro");
	expect_query_error(*state, "/things?ratio=0.5", "ratio",
	    "cannot be a query parameter");
}

/* ---- The request line. ---- */

static void
test_uri_bytes(void **state)
{
	static const char *const bad[] = {
		"/things/a b", "/things/a\tb", "/things/\x7f", "/things/\x80",
		"/things/caf\xc3\xa9", "/things/a\nb", "/things/\x01",
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(*state, &(struct request){ .method = "GET",
		    .uri = bad[i] }, &resp);
		check_problem(&resp, 400, "bad-request", NULL);
		assert_non_null(strstr(jstr(resp.json, "detail"),
		    "printable ASCII"));
		response_free(&resp);
	}
}

static void
test_path_escapes(void **state)
{
	static const char *const bad[] = {
		"/things/%zz", "/things/%0", "/things/%00", "/things/%C3%28",
		"/things/%", "/nowhere/%ED%A0%80",
	};
	struct response	 resp;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		serve(*state, &(struct request){ .method = "GET",
		    .uri = bad[i] }, &resp);
		check_problem(&resp, 400, "bad-request", bad[i]);
		assert_non_null(strstr(jstr(resp.json, "detail"),
		    "percent-escape"));
		response_free(&resp);
	}
}

static void
test_uri_too_long(void **state)
{
	struct response	 resp;
	char		*uri;

	uri = malloc(HTTP_PATH_MAX + 64);
	assert_non_null(uri);
	/* Exactly HTTP_PATH_MAX bytes of path: not too long, just unknown. */
	uri[0] = '/';
	memset(uri + 1, 'a', HTTP_PATH_MAX - 1);
	strcpy(uri + HTTP_PATH_MAX, "?x=1");
	serve(*state, &(struct request){ .method = "GET", .uri = uri }, &resp);
	check_problem(&resp, 404, "not-found", NULL);
	response_free(&resp);
	/* One more byte of path. */
	memset(uri + 1, 'a', HTTP_PATH_MAX);
	uri[HTTP_PATH_MAX + 1] = '\0';
	serve(*state, &(struct request){ .method = "GET", .uri = uri }, &resp);
	check_problem(&resp, 414, "uri-too-long", "");
	assert_string_equal(resp.reason, "URI Too Long");
	response_free(&resp);
	free(uri);
}

/* ---- Responses. ---- */

static void
test_silent_route(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET", .uri = "/silent" },
	    &resp);
	check_problem(&resp, 500, "internal-error", "/silent");
	assert_string_equal(resp.reason, "Internal Server Error");
	response_free(&resp);
	/* A body that could not be built is a 500 too. */
	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/unbuildable" }, &resp);
	check_problem(&resp, 500, "internal-error", "/unbuildable");
	response_free(&resp);
}

static void
test_answered_twice(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET", .uri = "/twice" },
	    &resp);
	assert_int_equal(resp.status, 200);
	assert_int_equal(json_integer_value(json_object_get(resp.json,
	    "answer")), 1);
	assert_null(strstr(resp.body, "Status:"));
	response_free(&resp);
}

static void
test_head(void **state)
{
	struct response	 get, head;

	serve(*state, &(struct request){ .method = "GET", .uri = "/things/h" },
	    &get);
	serve(*state, &(struct request){ .method = "HEAD", .uri = "/things/h" },
	    &head);
	check_common(&head, "HEAD");
	assert_int_equal(head.status, 200);
	assert_int_equal(head.bodylen, 0);
	assert_null(head.json);
	/* The headers a GET would have, Content-Length included. */
	expect_header(&head, "Content-Length",
	    header(&get, "Content-Length"));
	assert_true(strtoul(header(&head, "Content-Length"), NULL, 10) > 0);
	expect_header(&head, "Content-Type", "application/json");
	expect_header(&head, "Cache-Control", "no-store");
	response_free(&get);
	response_free(&head);

	/* A problem to a HEAD request has no body either. */
	serve(*state, &(struct request){ .method = "HEAD", .uri = "/nowhere" },
	    &head);
	check_common(&head, "HEAD");
	assert_int_equal(head.status, 404);
	expect_header(&head, "Content-Type",
	    "application/problem+json");
	assert_int_equal(head.bodylen, 0);
	response_free(&head);
}

static void
test_no_content(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "DELETE",
	    .uri = "/things/x" }, &resp);
	check_common(&resp, "DELETE");
	assert_int_equal(resp.status, 204);
	assert_string_equal(resp.reason, "No Content");
	expect_header(&resp, "Content-Length", "0");
	assert_int_equal(resp.bodylen, 0);
	response_free(&resp);
}

static void
test_cache_control(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET", .uri = "/cached" },
	    &resp);
	check_common(&resp, "GET");
	assert_int_equal(resp.status, 200);
	/* header() fails if there are two. */
	expect_header(&resp, "Cache-Control",
	    "public, max-age=60");
	expect_header(&resp, "ETag", "\"v1\"");
	response_free(&resp);
}

/*
 * Extra headers beyond HTTP_HEADERS_MAX are dropped, but the response
 * still goes out, and says no-store: the route's own Cache-Control went
 * with the rest, and a response must never become cacheable by accident.
 */
static void
test_headers_overflow(void **state)
{
	struct response	 resp;

	serve(*state, &(struct request){ .method = "GET",
	    .uri = "/many-headers" }, &resp);
	check_common(&resp, "GET");
	assert_int_equal(resp.status, 200);
	assert_null(header(&resp, "X-Extra-0"));
	expect_header(&resp, "Cache-Control", "no-store");
	response_free(&resp);
}

/* The request's log line carries what the route and the response said. */
static void
test_log_line(void **state)
{
	struct fixture	*fx = *state;
	struct response	 resp;
	struct logger	 saved = fx->app.log;
	json_error_t	 err;
	json_t		*line;
	char		 text[4096];
	ssize_t		 n;
	int		 p[2];

	assert_int_equal(pipe(p), 0);
	log_init(&fx->app.log, "test", LOGL_DEBUG, p[1]);
	serve(fx, &(struct request){ .method = "POST", .uri = "/things?",
	    .content_type = "application/json", .request_id = "log-1",
	    .body = "{\"name\":\"abc\"}" }, &resp);
	fx->app.log = saved;
	assert_int_equal(resp.status, 201);
	response_free(&resp);
	close(p[1]);
	n = read(p[0], text, sizeof(text) - 1);
	close(p[0]);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strchr(text, '\n'));
	assert_string_equal(strchr(text, '\n') + 1, "");
	line = json_loads(text, 0, &err);
	if (line == NULL)
		fail_msg("log line is not JSON: %s", text);
	assert_string_equal(jstr(line, "level"), "INFO");
	assert_string_equal(jstr(line, "service"), "test");
	assert_string_equal(jstr(line, "request_id"), "log-1");
	assert_string_equal(jstr(line, "action"), "create_thing");
	assert_string_equal(jstr(line, "resource"), "things/abc");
	assert_string_equal(jstr(line, "result"), "success");
	assert_string_equal(jstr(line, "method"), "POST");
	assert_string_equal(jstr(line, "path"), "/things");
	assert_int_equal(json_integer_value(json_object_get(line, "status")),
	    201);
	assert_true(json_is_null(json_object_get(line, "user_id")));
	json_decref(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_route_problem),
		cmocka_unit_test(test_request_id_given),
		cmocka_unit_test(test_request_id_unsafe),
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_max_body_exactly),
		cmocka_unit_test(test_bad_content_length),
		cmocka_unit_test(test_short_body),
		cmocka_unit_test(test_body_not_accepted),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_form_body),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_unknown_field),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_string_length),
		cmocka_unit_test(test_pattern),
		cmocka_unit_test(test_int_range),
		cmocka_unit_test(test_array_items),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_query_ok),
		cmocka_unit_test(test_query_unknown),
		cmocka_unit_test(test_query_refused),
		cmocka_unit_test(test_query_int),
		cmocka_unit_test(test_query_bool),
		cmocka_unit_test(test_query_string),
		cmocka_unit_test(test_uri_bytes),
		cmocka_unit_test(test_path_escapes),
		cmocka_unit_test(test_uri_too_long),
		cmocka_unit_test(test_silent_route),
		cmocka_unit_test(test_answered_twice),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_no_content),
		cmocka_unit_test(test_cache_control),
		cmocka_unit_test(test_headers_overflow),
		cmocka_unit_test(test_log_line),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
