/*
 * log: every call writes exactly one line of JSON with the documented
 * fields, or nothing when below the logger's level, whatever the strings
 * in it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

/* The read end of a pipe the logger writes to. */
struct fixture {
	int	 rfd;
	int	 wfd;
};

static int
setup(void **state)
{
	struct fixture	*f;
	int		 p[2];

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(f);
		return -1;
	}
	f->rfd = p[0];
	f->wfd = p[1];
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	close(f->rfd);
	close(f->wfd);
	free(f);
	return 0;
}

/* Everything written so far; caller frees. */
static char *
drain(struct fixture *f)
{
	size_t	 len = 0, size = 1 << 16;
	char	*s = malloc(size);
	ssize_t	 n;

	assert_non_null(s);
	for (;;) {
		n = read(f->rfd, s + len, size - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < size - 1);
	}
	s[len] = '\0';
	return s;
}

/* Exactly one line, parsed as a JSON object; caller frees with json_decref. */
static json_t *
one_line(struct fixture *f)
{
	char		*s = drain(f), *nl;
	json_error_t	 err;
	json_t		*v;

	nl = strchr(s, '\n');
	if (nl == NULL || nl[1] != '\0')
		fail_msg("not exactly one line: [%s]", s);
	v = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	if (v == NULL)
		fail_msg("not JSON: %s: [%s]", err.text, s);
	assert_true(json_is_object(v));
	free(s);
	return v;
}

static void
assert_nothing_written(struct fixture *f)
{
	char	*s = drain(f);

	if (s[0] != '\0')
		fail_msg("wrote: [%s]", s);
	free(s);
}

static const char *
str(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (!json_is_string(v))
		fail_msg("%s is not a string", k);
	return json_string_value(v);
}

static void
assert_null_field(json_t *o, const char *k)
{
	json_t	*v = json_object_get(o, k);

	if (v == NULL || !json_is_null(v))
		fail_msg("%s is missing or not null", k);
}

/*
 * RFC 3339 UTC with milliseconds, and within a few seconds of now (which
 * checks the date arithmetic, not just the shape).
 */
static void
assert_timestamp(json_t *o)
{
	const char	*ts = str(o, "timestamp");
	regex_t		 re;
	struct tm	 tm;
	time_t		 t, now = time(NULL);

	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T"
	    "[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
	    REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&re, ts, 0, NULL, 0) != 0) {
		regfree(&re);
		fail_msg("timestamp %s is not RFC 3339 UTC with ms", ts);
	}
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm));
	t = timegm(&tm);
	if (t < now - 5 || t > now + 5)
		fail_msg("timestamp %s is not now", ts);
}

static const char *const request_keys[] = {
	"timestamp", "level", "service", "request_id", "user_id",
	"workspace_id", "action", "resource", "result", "duration_ms",
	"status", "method", "path",
};

static void
test_request_line(void **state)
{
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r = {
		.request_id = "0123456789abcdef0123456789abcdef",
		.user_id = "hxb-usr-01aryz6s41tsv4rrffq69g5fav",
		.workspace_id = "ws-01aryz6s41tsv4rrffq69g5fav",
		.action = "get_plan",
		.resource = "plans/free",
		.result = "success",
		.method = "GET",
		.path = "/api/v1/plans/free",
		.status = 200,
		.duration_ms = 12.3456,
	};
	json_t			*o;
	size_t			 i;

	log_init(&l, "plans", LOGL_DEBUG, f->wfd);
	log_request(&l, &r);
	o = one_line(f);
	for (i = 0; i < sizeof(request_keys) / sizeof(request_keys[0]); i++)
		if (json_object_get(o, request_keys[i]) == NULL)
			fail_msg("no %s", request_keys[i]);
	assert_int_equal(json_object_size(o),
	    sizeof(request_keys) / sizeof(request_keys[0]));
	assert_timestamp(o);
	assert_string_equal(str(o, "level"), "INFO");
	assert_string_equal(str(o, "service"), "plans");
	assert_string_equal(str(o, "request_id"), r.request_id);
	assert_string_equal(str(o, "user_id"), r.user_id);
	assert_string_equal(str(o, "workspace_id"), r.workspace_id);
	assert_string_equal(str(o, "action"), "get_plan");
	assert_string_equal(str(o, "resource"), "plans/free");
	assert_string_equal(str(o, "result"), "success");
	assert_string_equal(str(o, "method"), "GET");
	assert_string_equal(str(o, "path"), "/api/v1/plans/free");
	assert_true(json_is_integer(json_object_get(o, "status")));
	assert_int_equal(json_integer_value(json_object_get(o, "status")),
	    200);
	assert_true(json_is_number(json_object_get(o, "duration_ms")));
	/* Milliseconds to the microsecond. */
	assert_true(fabs(json_number_value(json_object_get(o,
	    "duration_ms")) - 12.346) < 1e-9);
	json_decref(o);
}

/* duration_ms as %.3f prints it, without printf. */
static void
test_request_duration(void **state)
{
	static const double	 v[] = { 0, 0.0004, 0.0005, 1.9996, 12.3456,
				    999.9999, 86400000.25 };
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r;
	char			*s, want[64];
	size_t			 i;

	memset(&r, 0, sizeof(r));
	r.status = 500;
	log_init(&l, "t", LOGL_INFO, f->wfd);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		r.duration_ms = v[i];
		log_request(&l, &r);
		s = drain(f);
		snprintf(want, sizeof(want), "\"duration_ms\":%.3f,", v[i]);
		if (strstr(s, want) == NULL && i != 2)
			fail_msg("want %s in [%s]", want, s);
		free(s);
	}
}

static void
test_request_nulls(void **state)
{
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r;
	json_t			*o;

	memset(&r, 0, sizeof(r));
	r.status = 404;
	log_init(&l, NULL, LOGL_DEBUG, f->wfd);
	log_request(&l, &r);
	o = one_line(f);
	assert_string_equal(str(o, "service"), "");
	assert_null_field(o, "request_id");
	assert_null_field(o, "user_id");
	assert_null_field(o, "workspace_id");
	assert_null_field(o, "action");
	assert_null_field(o, "resource");
	assert_null_field(o, "result");
	assert_null_field(o, "method");
	assert_null_field(o, "path");
	assert_int_equal(json_integer_value(json_object_get(o, "status")),
	    404);
	json_decref(o);
}

/* The level a request line gets for `status`. */
static const char *
level_of(struct fixture *f, int status)
{
	static char		 level[16];
	struct logger		 l;
	struct log_request	 r;
	json_t			*o;

	memset(&r, 0, sizeof(r));
	r.status = status;
	log_init(&l, "t", LOGL_DEBUG, f->wfd);
	log_request(&l, &r);
	o = one_line(f);
	snprintf(level, sizeof(level), "%s", str(o, "level"));
	json_decref(o);
	return level;
}

static void
test_request_level(void **state)
{
	struct fixture	*f = *state;

	assert_string_equal(level_of(f, 200), "INFO");
	assert_string_equal(level_of(f, 304), "INFO");
	assert_string_equal(level_of(f, 399), "INFO");
	assert_string_equal(level_of(f, 400), "WARN");
	assert_string_equal(level_of(f, 404), "WARN");
	assert_string_equal(level_of(f, 499), "WARN");
	assert_string_equal(level_of(f, 500), "ERROR");
	assert_string_equal(level_of(f, 503), "ERROR");
}

static void
test_request_below_min(void **state)
{
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r;
	json_t			*o;

	memset(&r, 0, sizeof(r));
	log_init(&l, "t", LOGL_WARN, f->wfd);
	r.status = 200;
	log_request(&l, &r);
	assert_nothing_written(f);
	r.status = 404;
	log_request(&l, &r);
	o = one_line(f);
	assert_string_equal(str(o, "level"), "WARN");
	json_decref(o);

	log_init(&l, "t", LOGL_ERROR, f->wfd);
	r.status = 422;
	log_request(&l, &r);
	assert_nothing_written(f);
	r.status = 502;
	log_request(&l, &r);
	o = one_line(f);
	assert_string_equal(str(o, "level"), "ERROR");
	json_decref(o);
}

static void
test_msg_line(void **state)
{
	struct fixture	*f = *state;
	struct logger	 l;
	json_t		*o;

	log_init(&l, "health", LOGL_INFO, f->wfd);
	log_msg(&l, LOGL_WARN, "db_connect", "req-1", "cannot connect to %s "
	    "after %d ms", "db:5432", 2000);
	o = one_line(f);
	assert_timestamp(o);
	assert_string_equal(str(o, "level"), "WARN");
	assert_string_equal(str(o, "service"), "health");
	assert_string_equal(str(o, "request_id"), "req-1");
	assert_string_equal(str(o, "func"), "db_connect");
	assert_string_equal(str(o, "message"),
	    "cannot connect to db:5432 after 2000 ms");
	json_decref(o);

	/* The macros pass __func__ and no request id. */
	log_error(&l, "x=%d", 1);
	o = one_line(f);
	assert_string_equal(str(o, "level"), "ERROR");
	assert_string_equal(str(o, "func"), "test_msg_line");
	assert_null_field(o, "request_id");
	assert_string_equal(str(o, "message"), "x=1");
	json_decref(o);
}

static void
test_msg_below_min(void **state)
{
	struct fixture	*f = *state;
	struct logger	 l;
	json_t		*o;

	log_init(&l, "t", LOGL_WARN, f->wfd);
	log_debug(&l, "hidden %d", 1);
	log_info(&l, "hidden %d", 2);
	assert_nothing_written(f);
	log_warn(&l, "shown");
	o = one_line(f);
	assert_string_equal(str(o, "level"), "WARN");
	json_decref(o);

	log_init(&l, "t", LOGL_DEBUG, f->wfd);
	log_debug(&l, "debug too");
	o = one_line(f);
	assert_string_equal(str(o, "level"), "DEBUG");
	assert_string_equal(str(o, "message"), "debug too");
	json_decref(o);
}

static void
test_hostile_strings(void **state)
{
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r;
	json_t			*o;

	log_init(&l, "svc \"quoted\"\n", LOGL_DEBUG, f->wfd);
	memset(&r, 0, sizeof(r));
	r.status = 400;
	r.method = "G\"ET";
	r.path = "/a\nb\"c\\d\x01\xff\xfe";
	r.resource = "caf\xc3\xa9";
	r.action = "\r\n{\"injected\":true}";
	log_request(&l, &r);
	o = one_line(f);
	assert_string_equal(str(o, "service"), "svc \"quoted\"\n");
	assert_string_equal(str(o, "method"), "G\"ET");
	/* Invalid UTF-8 comes out as one code point per byte. */
	assert_string_equal(str(o, "path"),
	    "/a\nb\"c\\d\x01\xc3\xbf\xc3\xbe");
	assert_string_equal(str(o, "resource"), "caf\xc3\xa9");
	assert_string_equal(str(o, "action"), "\r\n{\"injected\":true}");
	assert_null(json_object_get(o, "injected"));
	json_decref(o);

	log_msg(&l, LOGL_ERROR, "f\"n", "id\n", "%s", "line1\nline2\t\"\xc3(");
	o = one_line(f);
	assert_string_equal(str(o, "func"), "f\"n");
	assert_string_equal(str(o, "request_id"), "id\n");
	assert_string_equal(str(o, "message"),
	    "line1\nline2\t\"\xc3\x83(");
	json_decref(o);
}

static void
test_msg_too_long(void **state)
{
	struct fixture	*f = *state;
	struct logger	 l;
	json_t		*o;
	char		*big;

	big = malloc(20000);
	assert_non_null(big);
	memset(big, 'x', 19999);
	big[19999] = '\0';
	log_init(&l, "t", LOGL_DEBUG, f->wfd);
	log_msg(&l, LOGL_ERROR, __func__, NULL, "%s", big);
	o = one_line(f);
	assert_string_equal(str(o, "message"), "(log message too long)");
	json_decref(o);
	/* A long message that fits is written whole. */
	big[4000] = '\0';
	log_msg(&l, LOGL_ERROR, __func__, NULL, "%s", big);
	o = one_line(f);
	assert_string_equal(str(o, "message"), big);
	json_decref(o);
	free(big);
}

/* Count the lines of s, each of them a JSON object. */
static int
whole_lines(char *s)
{
	char		*line, *nl;
	json_t		*v;
	int		 n = 0;

	for (line = s; *line != '\0'; line = nl + 1, n++) {
		if ((nl = strchr(line, '\n')) == NULL)
			fail_msg("a partial line: [%s]", line);
		*nl = '\0';
		if ((v = json_loads(line, 0, NULL)) == NULL)
			fail_msg("not JSON: [%s]", line);
		json_decref(v);
	}
	return n;
}

static void
test_buffering(void **state)
{
	struct fixture		*f = *state;
	struct logger		 l;
	struct log_request	 r;
	json_t			*o;
	char			*s, *warn;
	int			 i, n, due;

	memset(&r, 0, sizeof(r));
	r.path = "/api/v1/plans";
	log_init(&l, "t", LOGL_INFO, f->wfd);
	assert_int_equal(log_flush_due(), -1);

	/* An INFO request line waits; it is due within the interval. */
	log_buffering(60000);
	r.status = 200;
	r.request_id = "first";
	log_request(&l, &r);
	assert_nothing_written(f);
	due = log_flush_due();
	assert_true(due > 0 && due <= 60000);

	/* A warning is never held, and what waited goes first. */
	r.status = 404;
	r.request_id = "second";
	log_request(&l, &r);
	s = drain(f);
	assert_non_null(strstr(s, "\"first\""));
	assert_non_null(warn = strstr(s, "\"second\""));
	assert_true(strstr(s, "\"first\"") < warn);
	assert_int_equal(whole_lines(s), 2);
	free(s);
	assert_int_equal(log_flush_due(), -1);

	/* Messages are not held either. */
	log_info(&l, "started");
	o = one_line(f);
	json_decref(o);

	/* Full batches (PIPE_BUF) are written at once, in whole lines. */
	r.status = 200;
	for (i = 0; i < 40; i++)
		log_request(&l, &r);
	s = drain(f);
	n = whole_lines(s);
	free(s);
	assert_true(n > 0 && n < 40);
	log_flush();
	s = drain(f);
	assert_true(strlen(s) > 0 && strlen(s) <= PIPE_BUF);
	assert_int_equal(n + whole_lines(s), 40);
	free(s);
	assert_int_equal(log_flush_due(), -1);

	/* With 0, every line is written at once. */
	log_request(&l, &r);
	log_buffering(0);
	o = one_line(f);		/* the pending one, flushed */
	json_decref(o);
	log_request(&l, &r);
	o = one_line(f);
	json_decref(o);
	assert_int_equal(log_flush_due(), -1);
}

static void
test_level_parse(void **state)
{
	enum log_level	 lvl = LOGL__MAX;

	(void)state;
	assert_int_equal(log_level_parse("debug", &lvl), 0);
	assert_int_equal(lvl, LOGL_DEBUG);
	assert_int_equal(log_level_parse("info", &lvl), 0);
	assert_int_equal(lvl, LOGL_INFO);
	assert_int_equal(log_level_parse("warn", &lvl), 0);
	assert_int_equal(lvl, LOGL_WARN);
	assert_int_equal(log_level_parse("error", &lvl), 0);
	assert_int_equal(lvl, LOGL_ERROR);
	assert_int_equal(log_level_parse("ERROR", &lvl), -1);
	assert_int_equal(log_level_parse("warning", &lvl), -1);
	assert_int_equal(log_level_parse("", &lvl), -1);
	assert_int_equal(lvl, LOGL_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_line),
		cmocka_unit_test(test_request_duration),
		cmocka_unit_test(test_request_nulls),
		cmocka_unit_test(test_request_level),
		cmocka_unit_test(test_request_below_min),
		cmocka_unit_test(test_msg_line),
		cmocka_unit_test(test_msg_below_min),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_msg_too_long),
		cmocka_unit_test(test_buffering),
		cmocka_unit_test(test_level_parse),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("log", tests, setup, teardown);
}
