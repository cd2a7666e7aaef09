/*
 * router: http_route_match() against a route table: literal and {param}
 * segments, percent-decoding, strict refusal of bad escapes, methods and
 * the Allow list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "http.h"

/* Never called: matching only picks a route. */
static void
route_none(struct req *r)
{
	(void)r;
	fail_msg("a route function was called");
}

enum {
	R_ROOT,
	R_PLANS_LIST,
	R_PLANS_CREATE,
	R_PLAN_CURRENT,
	R_PLAN_GET,
	R_PLAN_PUT,
	R_PLAN_DELETE,
	R_MEMBER_GET,
	R_DEEP,
	R_MANY_PARAMS,
	R_OPTIONS,
	R_UPLOAD,
	R__MAX
};

static const struct route routes[R__MAX] = {
	[R_ROOT] = { HTTP_GET, "/", route_none, PERM_PUBLIC, "root", NULL,
	    NULL },
	[R_PLANS_LIST] = { HTTP_GET, "/api/v1/plans", route_none, PERM_PUBLIC,
	    "list_plans", NULL, NULL },
	[R_PLANS_CREATE] = { HTTP_POST, "/api/v1/plans", route_none,
	    PERM_PUBLIC, "create_plan", NULL, NULL },
	/* A literal before the {param} that would also match. */
	[R_PLAN_CURRENT] = { HTTP_GET, "/api/v1/plans/current", route_none,
	    PERM_PUBLIC, "current_plan", NULL, NULL },
	[R_PLAN_GET] = { HTTP_GET, "/api/v1/plans/{planId}", route_none,
	    PERM_PUBLIC, "get_plan", NULL, NULL },
	[R_PLAN_PUT] = { HTTP_PUT, "/api/v1/plans/{planId}", route_none,
	    PERM_PUBLIC, "put_plan", NULL, NULL },
	[R_PLAN_DELETE] = { HTTP_DELETE, "/api/v1/plans/{id}", route_none,
	    PERM_PUBLIC, "delete_plan", NULL, NULL },
	[R_MEMBER_GET] = { HTTP_GET,
	    "/api/v1/orgs/{orgId}/workspaces/{wsId}/members/{userId}",
	    route_none, PERM_PUBLIC, "get_member", NULL, NULL },
	[R_DEEP] = { HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", route_none,
	    PERM_PUBLIC, "deep", NULL, NULL },
	[R_MANY_PARAMS] = { HTTP_GET, "/p/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
	    route_none, PERM_PUBLIC, "nine_params", NULL, NULL },
	[R_OPTIONS] = { HTTP_OPTIONS, "/api/v1/plans", route_none, PERM_PUBLIC,
	    "options_plans", NULL, NULL },
	[R_UPLOAD] = { HTTP_POST, "/upload", route_none, PERM_PUBLIC, "upload",
	    NULL, NULL },
};

/* The outcome of one match; the request's storage is released. */
struct match {
	int	 idx;
	bool	 known;
	char	 allow[128];
	char	 param[3][64];	/* values of the params asked for, or "" */
	size_t	 nparams;
};

/*
 * Match `path` with method `m` and record up to three named params.
 * Frees what the match left in the request.
 */
static struct match
match3(enum http_method m, const char *path, const char *p0,
    const char *p1, const char *p2)
{
	const char	*names[3] = { p0, p1, p2 }, *v;
	struct match	 res;
	struct req	 r;
	struct buf	 allow = BUF_INIT(1024);
	size_t		 i;

	memset(&res, 0, sizeof(res));
	memset(&r, 0, sizeof(r));
	res.known = !res.known;		/* must be overwritten */
	res.idx = http_route_match(routes, R__MAX, m, path, &r, &res.known,
	    &allow);
	assert_false(allow.failed);
	snprintf(res.allow, sizeof(res.allow), "%s", buf_cstr(&allow));
	for (i = 0; i < 3; i++)
		if (names[i] != NULL && (v = http_param(&r, names[i])) != NULL)
			snprintf(res.param[i], sizeof(res.param[i]), "%s", v);
	res.nparams = r.nparams;
	/* The decoded segments belong to the request only on a match. */
	if (res.idx < 0)
		assert_null(r.pathbuf);
	else
		assert_non_null(r.pathbuf);
	free(r.pathbuf);
	buf_release(&allow);
	return res;
}

static struct match
match(enum http_method m, const char *path)
{
	return match3(m, path, NULL, NULL, NULL);
}

static void
test_exact(void **state)
{
	struct match	 res;

	(void)state;
	res = match(HTTP_GET, "/");
	assert_int_equal(res.idx, R_ROOT);
	assert_int_equal(res.nparams, 0);
	res = match(HTTP_GET, "/api/v1/plans");
	assert_int_equal(res.idx, R_PLANS_LIST);
	assert_true(res.known);
	assert_string_equal(res.allow, "");
	res = match(HTTP_POST, "/api/v1/plans");
	assert_int_equal(res.idx, R_PLANS_CREATE);
	res = match(HTTP_OPTIONS, "/api/v1/plans");
	assert_int_equal(res.idx, R_OPTIONS);
	res = match(HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p");
	assert_int_equal(res.idx, R_DEEP);
	/* Literal segments compare exactly, case included. */
	res = match(HTTP_GET, "/api/v1/Plans");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
	res = match(HTTP_GET, "/api/v1/plan");
	assert_int_equal(res.idx, -1);
	res = match(HTTP_GET, "/api/v1/planss");
	assert_int_equal(res.idx, -1);
	res = match(HTTP_GET, "/api/v1");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
}

static void
test_params(void **state)
{
	struct match	 res;

	(void)state;
	res = match3(HTTP_GET, "/api/v1/plans/free", "planId", "id", "plan");
	assert_int_equal(res.idx, R_PLAN_GET);
	assert_int_equal(res.nparams, 1);
	assert_string_equal(res.param[0], "free");
	/* Names are matched whole: no "id" in {planId}, no prefix "plan". */
	assert_string_equal(res.param[1], "");
	assert_string_equal(res.param[2], "");

	/* The first matching route wins: the literal comes first. */
	res = match3(HTTP_GET, "/api/v1/plans/current", "planId", NULL, NULL);
	assert_int_equal(res.idx, R_PLAN_CURRENT);
	assert_int_equal(res.nparams, 0);
	assert_string_equal(res.param[0], "");

	res = match3(HTTP_GET, "/api/v1/orgs/org-1/workspaces/ws-2/members/u3",
	    "orgId", "wsId", "userId");
	assert_int_equal(res.idx, R_MEMBER_GET);
	assert_int_equal(res.nparams, 3);
	assert_string_equal(res.param[0], "org-1");
	assert_string_equal(res.param[1], "ws-2");
	assert_string_equal(res.param[2], "u3");

	/* Each method's own pattern names its params. */
	res = match3(HTTP_DELETE, "/api/v1/plans/pro", "id", "planId", NULL);
	assert_int_equal(res.idx, R_PLAN_DELETE);
	assert_string_equal(res.param[0], "pro");
	assert_string_equal(res.param[1], "");
}

static void
test_http_param_missing(void **state)
{
	struct req	 r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_null(http_param(&r, "planId"));
	assert_null(http_param(&r, ""));
}

static void
test_percent_decoding(void **state)
{
	struct match	 res;

	(void)state;
	res = match3(HTTP_GET, "/api/v1/plans/a%20b", "planId", NULL, NULL);
	assert_int_equal(res.idx, R_PLAN_GET);
	assert_string_equal(res.param[0], "a b");
	res = match3(HTTP_GET, "/api/v1/plans/caf%C3%A9", "planId", NULL, NULL);
	assert_string_equal(res.param[0], "caf\xc3\xa9");
	/* %2F stays inside its segment. */
	res = match3(HTTP_GET, "/api/v1/plans/a%2Fb", "planId", NULL, NULL);
	assert_int_equal(res.idx, R_PLAN_GET);
	assert_string_equal(res.param[0], "a/b");
	/* '+' is not a space in a path. */
	res = match3(HTTP_GET, "/api/v1/plans/a+b", "planId", NULL, NULL);
	assert_string_equal(res.param[0], "a+b");
	/* Literal segments are compared after decoding. */
	res = match(HTTP_GET, "/api/v1/pl%61ns");
	assert_int_equal(res.idx, R_PLANS_LIST);
	/* A decoded '/' does not split: "/api%2Fv1/plans" is two segments. */
	res = match(HTTP_GET, "/api%2Fv1/plans");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
}

static void
test_bad_escapes(void **state)
{
	static const char *const bad[] = {
		"/api/v1/plans/%zz",
		"/api/v1/plans/%",
		"/api/v1/plans/%0",
		"/api/v1/plans/%0g",
		"/api/v1/plans/%00",
		"/api/v1/plans/a%00b",
		"/api/v1/plans/%C3%28",
		"/api/v1/plans/%C0%80",
		"/api/v1/plans/%ED%A0%80",
		"/api/v1/plans/%F4%90%80%80",
		"/api/v1/plans/%C3",
		"/api/v1/plans/\xff",
		"/%zz/v1/plans",
		"/no/such/route/%zz",
		"",
		"api/v1/plans",
	};
	struct match	 res;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		res = match(HTTP_GET, bad[i]);
		if (res.idx != -2)
			fail_msg("%s gave %d, not -2", bad[i], res.idx);
		assert_false(res.known);
		assert_string_equal(res.allow, "");
	}
}

static void
test_empty_segments(void **state)
{
	static const char *const nomatch[] = {
		"/api/v1/plans/",	/* trailing slash */
		"/api/v1/plans/free/",
		"/api//v1/plans",	/* empty segment */
		"//api/v1/plans",
		"/api/v1//plans",
		"/api/v1/plans//",
		"//",
		"/api/v1/orgs/o/workspaces//members/u",	/* empty {param} */
	};
	struct match	 res;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(nomatch) / sizeof(nomatch[0]); i++) {
		res = match(HTTP_GET, nomatch[i]);
		if (res.idx != -1 || res.known)
			fail_msg("%s matched (%d)", nomatch[i], res.idx);
	}
}

static void
test_head(void **state)
{
	struct match	 res;

	(void)state;
	res = match3(HTTP_HEAD, "/api/v1/plans/free", "planId", NULL, NULL);
	assert_int_equal(res.idx, R_PLAN_GET);
	assert_string_equal(res.param[0], "free");
	res = match(HTTP_HEAD, "/");
	assert_int_equal(res.idx, R_ROOT);
	/* HEAD is allowed wherever GET is, and nowhere else. */
	res = match(HTTP_HEAD, "/upload");
	assert_int_equal(res.idx, -1);
	assert_true(res.known);
	assert_string_equal(res.allow, "POST");
}

static void
test_method_not_allowed(void **state)
{
	struct match	 res;
	struct req	 r;
	bool		 known = false;

	(void)state;
	res = match(HTTP_DELETE, "/api/v1/plans");
	assert_int_equal(res.idx, -1);
	assert_true(res.known);
	assert_string_equal(res.allow, "GET, HEAD, POST, OPTIONS");

	res = match(HTTP_POST, "/api/v1/plans/free");
	assert_int_equal(res.idx, -1);
	assert_true(res.known);
	assert_string_equal(res.allow, "GET, HEAD, PUT, DELETE");

	res = match(HTTP_PATCH, "/");
	assert_int_equal(res.idx, -1);
	assert_true(res.known);
	assert_string_equal(res.allow, "GET, HEAD");

	/* An unknown method is not allowed anywhere a route exists. */
	res = match(HTTP_METHOD__MAX, "/api/v1/plans/current");
	assert_int_equal(res.idx, -1);
	assert_true(res.known);
	assert_string_equal(res.allow, "GET, HEAD, PUT, DELETE");

	/* allow may be NULL. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(http_route_match(routes, R__MAX, HTTP_PUT,
	    "/api/v1/plans", &r, &known, NULL), -1);
	assert_true(known);
	assert_null(r.pathbuf);
	assert_int_equal(r.nparams, 0);
}

static void
test_unknown_path(void **state)
{
	struct match	 res;

	(void)state;
	res = match(HTTP_GET, "/api/v2/plans");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
	assert_string_equal(res.allow, "");
	res = match(HTTP_DELETE, "/nope");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
	assert_string_equal(res.allow, "");
	/* One segment too few or too many. */
	res = match(HTTP_GET, "/api/v1/orgs/o/workspaces/w/members");
	assert_false(res.known);
	res = match(HTTP_GET, "/api/v1/orgs/o/workspaces/w/members/u/x");
	assert_false(res.known);
}

static void
test_too_many_segments(void **state)
{
	struct match	 res;

	(void)state;
	/* HTTP_SEGMENTS_MAX segments still match... */
	res = match(HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p");
	assert_int_equal(res.idx, R_DEEP);
	/* ...one more is refused without matching anything. */
	res = match(HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
	res = match(HTTP_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
	res = match(HTTP_GET, "/////////////////////////////////");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
}

static void
test_too_many_params(void **state)
{
	struct match	 res;

	(void)state;
	/* Nine {params} are more than HTTP_PARAMS_MAX: never a match. */
	res = match(HTTP_GET, "/p/1/2/3/4/5/6/7/8/9");
	assert_int_equal(res.idx, -1);
	assert_false(res.known);
}

/* The request keeps the decoded values after the match. */
static void
test_pathbuf_owned(void **state)
{
	struct req	 r;
	bool		 known;
	char		 path[] = "/api/v1/plans/x%41y";
	int		 idx;

	(void)state;
	memset(&r, 0, sizeof(r));
	idx = http_route_match(routes, R__MAX, HTTP_GET, path, &r, &known,
	    NULL);
	assert_int_equal(idx, R_PLAN_GET);
	/* Not borrowed from the path we passed. */
	memset(path, 'z', sizeof(path) - 1);
	assert_string_equal(http_param(&r, "planId"), "xAy");
	free(r.pathbuf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_http_param_missing),
		cmocka_unit_test(test_percent_decoding),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_empty_segments),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_unknown_path),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_pathbuf_owned),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
