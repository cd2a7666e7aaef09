/*
 * config: the HXB_* table through config_load() with a lookup callback:
 * defaults, required values, bounded integers, enums, secrets from files,
 * and a printout that never shows a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "config.h"

#define VARS_MAX	16

/* The environment a test hands to config_load(): name/value pairs. */
struct env {
	const char	*name[VARS_MAX];
	const char	*value[VARS_MAX];
	size_t		 n;
};

static const char *
env_lookup(const char *name, void *arg)
{
	const struct env *e = arg;
	size_t		 i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0)
			return e->value[i];
	return NULL;
}

static void
env_set(struct env *e, const char *name, const char *value)
{
	assert_true(e->n < VARS_MAX);
	e->name[e->n] = name;
	e->value[e->n] = value;
	e->n++;
}

/* An environment with only the one required variable. */
static void
env_minimal(struct env *e)
{
	memset(e, 0, sizeof(*e));
	env_set(e, "HXB_DATABASE_URL", "postgresql://hxb@db/hexabase");
}

/* config_load() of `e`; the problems, if any, in err (caller releases). */
static int
load(struct config *cfg, struct env *e, struct buf *err)
{
	buf_init(err, 0);
	return config_load(cfg, env_lookup, e, err);
}

/* A temporary file holding data[0..len); path[] receives its name. */
static void
temp_file(char path[32], const char *data, size_t len)
{
	int	 fd;

	strcpy(path, "/tmp/hxb-config-XXXXXX");
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void
test_defaults(void **state)
{
	struct config		 cfg;
	struct env		 e;
	struct buf		 err;
	const struct cfg_def	*d;
	int			 k;

	(void)state;
	env_minimal(&e);
	assert_int_equal(load(&cfg, &e, &err), 0);
	assert_int_equal(err.len, 0);
	for (k = 0; k < CFG__MAX; k++) {
		d = config_def((enum cfg_key)k);
		assert_non_null(d);
		if (k == CFG_DATABASE_URL)
			continue;
		if (d->def == NULL) {
			assert_null(config_str(&cfg, (enum cfg_key)k));
			assert_int_equal(cfg.src[k], CFG_SRC_UNSET);
			continue;
		}
		assert_string_equal(config_str(&cfg, (enum cfg_key)k), d->def);
		assert_int_equal(cfg.src[k], CFG_SRC_DEFAULT);
		if (d->type == CFG_INT)
			assert_true(config_int(&cfg, (enum cfg_key)k) ==
			    strtoll(d->def, NULL, 10));
	}
	assert_null(config_def(CFG__MAX));
	assert_string_equal(config_str(&cfg, CFG_DATABASE_URL),
	    "postgresql://hxb@db/hexabase");
	assert_int_equal(cfg.src[CFG_DATABASE_URL], CFG_SRC_ENV);
	assert_string_equal(config_str(&cfg, CFG_LOG_LEVEL), "info");
	assert_true(config_int(&cfg, CFG_MAX_BODY_BYTES) == 1048576);
	assert_null(config_str(&cfg, CFG_DATABASE_PASSWORD));
	config_free(&cfg);
	assert_null(cfg.val[CFG_LOG_LEVEL]);
	buf_release(&err);
}

static void
test_env_overrides(void **state)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;

	(void)state;
	env_minimal(&e);
	env_set(&e, "HXB_LOG_LEVEL", "debug");
	env_set(&e, "HXB_REDIS_TIMEOUT_MS", "10");
	env_set(&e, "HXB_NATS_TIMEOUT_MS", "60000");
	env_set(&e, "HXB_PLANS_CACHE_MS", "0");
	env_set(&e, "HXB_DB_STATEMENT_TIMEOUT_MS", "-0010");
	env_set(&e, "HXB_REDIS_ADDR", "");
	assert_int_equal(load(&cfg, &e, &err), -1);
	/* Only the negative timeout is wrong. */
	assert_string_equal(buf_cstr(&err), "HXB_DB_STATEMENT_TIMEOUT_MS must "
	    "be an integer from 10 to 600000\n");
	assert_string_equal(config_str(&cfg, CFG_LOG_LEVEL), "debug");
	assert_int_equal(cfg.src[CFG_LOG_LEVEL], CFG_SRC_ENV);
	assert_true(config_int(&cfg, CFG_REDIS_TIMEOUT_MS) == 10);
	assert_true(config_int(&cfg, CFG_NATS_TIMEOUT_MS) == 60000);
	assert_true(config_int(&cfg, CFG_PLANS_CACHE_MS) == 0);
	assert_int_equal(cfg.src[CFG_PLANS_CACHE_MS], CFG_SRC_ENV);
	/* An empty optional string is a value, not an absence. */
	assert_string_equal(config_str(&cfg, CFG_REDIS_ADDR), "");
	assert_int_equal(cfg.src[CFG_REDIS_ADDR], CFG_SRC_ENV);
	config_free(&cfg);
	buf_release(&err);
}

static int
lines(const char *s)
{
	int	 n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

static void
test_required(void **state)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(load(&cfg, &e, &err), -1);
	assert_true(strncmp(buf_cstr(&err), "HXB_DATABASE_URL is required: ",
	    30) == 0);
	/* Exactly one problem: one line. */
	assert_int_equal(lines(buf_cstr(&err)), 1);
	assert_null(config_str(&cfg, CFG_DATABASE_URL));
	/* The rest is still filled in. */
	assert_string_equal(config_str(&cfg, CFG_LOG_LEVEL), "info");
	config_free(&cfg);
	buf_release(&err);

	env_set(&e, "HXB_DATABASE_URL", "");
	assert_int_equal(load(&cfg, &e, &err), -1);
	assert_string_equal(buf_cstr(&err),
	    "HXB_DATABASE_URL must not be empty\n");
	config_free(&cfg);
	buf_release(&err);
}

/* Load HXB_REDIS_TIMEOUT_MS (10 to 60000) = v; true if accepted. */
static bool
int_ok(const char *v, long long *out)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	bool		 ok;

	env_minimal(&e);
	env_set(&e, "HXB_REDIS_TIMEOUT_MS", v);
	ok = load(&cfg, &e, &err) == 0;
	if (ok)
		*out = config_int(&cfg, CFG_REDIS_TIMEOUT_MS);
	else
		assert_string_equal(buf_cstr(&err), "HXB_REDIS_TIMEOUT_MS must "
		    "be an integer from 10 to 60000\n");
	config_free(&cfg);
	buf_release(&err);
	return ok;
}

static void
test_bad_integers(void **state)
{
	static const char *const bad[] = {
		"", "12x", "x12", "1e3", "0x10", "+5", "+50", " 50", "50 ",
		"\t50", "\n50", "\v50", "\f50", "\r50", "50\n", "5 0", "9",
		"60001", "-50", "99999999999999999999", "-", "1.5",
	};
	long long	 v = 0;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (int_ok(bad[i], &v))
			fail_msg("accepted \"%s\" as %lld", bad[i], v);
	assert_true(int_ok("10", &v));
	assert_true(v == 10);
	assert_true(int_ok("60000", &v));
	assert_true(v == 60000);
	assert_true(int_ok("010", &v));
	assert_true(v == 10);
}

static void
test_enum(void **state)
{
	static const char *const bad[] = {
		"", "INFO", "Info", "inf", "infoo", "verbose", "info|warn",
		"|", "debug|", " info", "warning",
	};
	static const char *const good[] = { "debug", "info", "warn", "error" };
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env_minimal(&e);
		env_set(&e, "HXB_LOG_LEVEL", bad[i]);
		if (load(&cfg, &e, &err) != -1)
			fail_msg("accepted HXB_LOG_LEVEL=\"%s\"", bad[i]);
		assert_string_equal(buf_cstr(&err), "HXB_LOG_LEVEL must be one "
		    "of debug|info|warn|error\n");
		config_free(&cfg);
		buf_release(&err);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		env_minimal(&e);
		env_set(&e, "HXB_LOG_LEVEL", good[i]);
		assert_int_equal(load(&cfg, &e, &err), 0);
		assert_string_equal(config_str(&cfg, CFG_LOG_LEVEL), good[i]);
		config_free(&cfg);
		buf_release(&err);
	}
}

/*
 * The table has had no CFG_BOOL entry so far; when one appears, its
 * spellings are checked here.  Until then config_bool() is checked on an
 * integer, whose non-zero values are true.  (Not skip(): cmocka 1.1.5
 * prints a skipped test as "not ok # SKIP", which prove counts as failed.)
 */
static void
test_bool_forms(void **state)
{
	static const char *const yes[] = { "1", "true", "TRUE", "yes", "On" };
	static const char *const no[] = { "0", "false", "No", "off", "OFF" };
	static const char *const bad[] = { "", "2", "y", "truee", " true" };
	const struct cfg_def *d = NULL;
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	int		 k;
	size_t		 i;

	(void)state;
	for (k = 0; k < CFG__MAX; k++)
		if ((d = config_def((enum cfg_key)k))->type == CFG_BOOL)
			break;
	if (k == CFG__MAX) {
		env_minimal(&e);
		env_set(&e, "HXB_PLANS_CACHE_MS", "0");
		assert_int_equal(load(&cfg, &e, &err), 0);
		assert_false(config_bool(&cfg, CFG_PLANS_CACHE_MS));
		config_free(&cfg);
		buf_release(&err);
		env_minimal(&e);
		env_set(&e, "HXB_PLANS_CACHE_MS", "250");
		assert_int_equal(load(&cfg, &e, &err), 0);
		assert_true(config_bool(&cfg, CFG_PLANS_CACHE_MS));
		config_free(&cfg);
		buf_release(&err);
		return;
	}
	for (i = 0; i < 5; i++) {
		env_minimal(&e);
		env_set(&e, d->name, yes[i]);
		assert_int_equal(load(&cfg, &e, &err), 0);
		assert_true(config_bool(&cfg, (enum cfg_key)k));
		config_free(&cfg);
		buf_release(&err);
		env_minimal(&e);
		env_set(&e, d->name, no[i]);
		assert_int_equal(load(&cfg, &e, &err), 0);
		assert_false(config_bool(&cfg, (enum cfg_key)k));
		config_free(&cfg);
		buf_release(&err);
		env_minimal(&e);
		env_set(&e, d->name, bad[i]);
		assert_int_equal(load(&cfg, &e, &err), -1);
		config_free(&cfg);
		buf_release(&err);
	}
}

/* Load HXB_DATABASE_PASSWORD_FILE = a file holding data[0..len). */
static int
load_secret(const char *data, size_t len, struct config *cfg,
    struct buf *err)
{
	struct env	 e;
	char		 path[32];
	int		 rc;

	temp_file(path, data, len);
	env_minimal(&e);
	env_set(&e, "HXB_DATABASE_PASSWORD_FILE", path);
	rc = load(cfg, &e, err);
	assert_int_equal(unlink(path), 0);
	return rc;
}

static void
test_secret_file(void **state)
{
	struct config	 cfg;
	struct buf	 err;

	(void)state;
	assert_int_equal(load_secret("s3cret\n", 7, &cfg, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_PASSWORD), "s3cret");
	assert_int_equal(cfg.src[CFG_DATABASE_PASSWORD], CFG_SRC_FILE);
	config_free(&cfg);
	buf_release(&err);

	assert_int_equal(load_secret("s3cret\r\n", 8, &cfg, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_PASSWORD), "s3cret");
	config_free(&cfg);
	buf_release(&err);

	assert_int_equal(load_secret("s3cret", 6, &cfg, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_PASSWORD), "s3cret");
	config_free(&cfg);
	buf_release(&err);

	/* Only one newline goes; inner ones stay. */
	assert_int_equal(load_secret("a\nb\n\n", 5, &cfg, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_PASSWORD), "a\nb\n");
	config_free(&cfg);
	buf_release(&err);

	/* Leading and inner blanks are part of the secret. */
	assert_int_equal(load_secret(" p w ", 5, &cfg, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_PASSWORD), " p w ");
	config_free(&cfg);
	buf_release(&err);
}

static void
test_secret_file_refused(void **state)
{
	static const struct {
		const char	*data;
		size_t		 len;
		const char	*why;
	} bad[] = {
		{ "", 0, "is empty" },
		{ "\n", 1, "is empty" },
		{ "\r\n", 2, "is empty" },
		{ "ab\0cd", 5, "contains a NUL byte" },
		{ "\0", 1, "contains a NUL byte" },
	};
	struct config	 cfg;
	struct buf	 err;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(load_secret(bad[i].data, bad[i].len, &cfg,
		    &err), -1);
		assert_non_null(strstr(buf_cstr(&err), bad[i].why));
		assert_non_null(strstr(buf_cstr(&err),
		    "HXB_DATABASE_PASSWORD_FILE: secret file unusable"));
		assert_null(config_str(&cfg, CFG_DATABASE_PASSWORD));
		config_free(&cfg);
		buf_release(&err);
	}
}

static void
test_secret_file_missing(void **state)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	char		 path[32];

	(void)state;
	/* A name that was just freed, so it surely does not exist. */
	temp_file(path, "x", 1);
	assert_int_equal(unlink(path), 0);
	env_minimal(&e);
	env_set(&e, "HXB_REDIS_PASSWORD_FILE", path);
	assert_int_equal(load(&cfg, &e, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "cannot open"));
	assert_non_null(strstr(buf_cstr(&err), path));
	assert_non_null(strstr(buf_cstr(&err),
	    "HXB_REDIS_PASSWORD_FILE: secret file unusable"));
	config_free(&cfg);
	buf_release(&err);

	/* A directory is not a secret. */
	env_minimal(&e);
	env_set(&e, "HXB_REDIS_PASSWORD_FILE", "/tmp");
	assert_int_equal(load(&cfg, &e, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "not a regular file"));
	config_free(&cfg);
	buf_release(&err);
}

static void
test_secret_file_size(void **state)
{
	struct config	 cfg;
	struct buf	 err;
	char		*big;

	(void)state;
	big = malloc(64 * 1024 + 1);
	assert_non_null(big);
	memset(big, 'k', 64 * 1024 + 1);
	assert_int_equal(load_secret(big, 64 * 1024, &cfg, &err), 0);
	assert_int_equal(strlen(config_str(&cfg, CFG_DATABASE_PASSWORD)),
	    64 * 1024);
	config_free(&cfg);
	buf_release(&err);
	assert_int_equal(load_secret(big, 64 * 1024 + 1, &cfg, &err), -1);
	assert_non_null(strstr(buf_cstr(&err), "larger than"));
	config_free(&cfg);
	buf_release(&err);
	free(big);
}

static void
test_secret_both(void **state)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	char		 path[32];

	(void)state;
	temp_file(path, "from-file", 9);
	env_minimal(&e);
	env_set(&e, "HXB_NATS_TOKEN", "from-env");
	env_set(&e, "HXB_NATS_TOKEN_FILE", path);
	assert_int_equal(load(&cfg, &e, &err), -1);
	assert_string_equal(buf_cstr(&err), "set either HXB_NATS_TOKEN or "
	    "HXB_NATS_TOKEN_FILE, not both\n");
	assert_null(config_str(&cfg, CFG_NATS_TOKEN));
	config_free(&cfg);
	buf_release(&err);

	/* An empty _FILE is as if unset. */
	env_minimal(&e);
	env_set(&e, "HXB_NATS_TOKEN", "from-env");
	env_set(&e, "HXB_NATS_TOKEN_FILE", "");
	assert_int_equal(load(&cfg, &e, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_NATS_TOKEN), "from-env");
	assert_int_equal(cfg.src[CFG_NATS_TOKEN], CFG_SRC_ENV);
	config_free(&cfg);
	buf_release(&err);

	/* _FILE is only read for secrets. */
	env_minimal(&e);
	env_set(&e, "HXB_REDIS_ADDR_FILE", path);
	assert_int_equal(load(&cfg, &e, &err), 0);
	assert_string_equal(config_str(&cfg, CFG_REDIS_ADDR),
	    config_def(CFG_REDIS_ADDR)->def);
	config_free(&cfg);
	buf_release(&err);
	assert_int_equal(unlink(path), 0);
}

static void
test_read_secret_file(void **state)
{
	struct buf	 err = BUF_INIT(0);
	char		 path[32], *s;

	(void)state;
	temp_file(path, "tok\r\n", 5);
	s = config_read_secret_file(path, &err);
	assert_non_null(s);
	assert_string_equal(s, "tok");
	assert_int_equal(err.len, 0);
	free(s);
	assert_int_equal(unlink(path), 0);
	assert_null(config_read_secret_file(path, &err));
	assert_true(err.len > 0);
	buf_release(&err);
}

/* config_print() into a string; caller frees. */
static char *
print_config(const struct config *cfg)
{
	char	*s = NULL;
	size_t	 len = 0;
	FILE	*f;

	assert_non_null(f = open_memstream(&s, &len));
	config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void
test_print(void **state)
{
	struct config	 cfg;
	struct env	 e;
	struct buf	 err;
	char		 path[32], *out, *line, *save = NULL, *copy;
	int		 n = 0;

	(void)state;
	temp_file(path, "file-secret-7f3a\n", 17);
	env_minimal(&e);
	env_set(&e, "HXB_DATABASE_PASSWORD", "env-secret-c0ffee");
	env_set(&e, "HXB_NATS_TOKEN_FILE", path);
	env_set(&e, "HXB_PLANS_CACHE_MS", "250");
	assert_int_equal(load(&cfg, &e, &err), 0);
	out = print_config(&cfg);
	assert_null(strstr(out, "env-secret-c0ffee"));
	assert_null(strstr(out, "file-secret-7f3a"));
	assert_null(strstr(out, "c0ffee"));
	assert_non_null(strstr(out, "HXB_DATABASE_PASSWORD=********\t# env\n"));
	assert_non_null(strstr(out, "HXB_NATS_TOKEN=********\t# file\n"));
	assert_non_null(strstr(out, "HXB_REDIS_PASSWORD=\t# unset\n"));
	assert_non_null(strstr(out,
	    "HXB_DATABASE_URL=postgresql://hxb@db/hexabase\t# env\n"));
	assert_non_null(strstr(out, "HXB_PLANS_CACHE_MS=250\t# env\n"));
	assert_non_null(strstr(out, "HXB_LOG_LEVEL=info\t# default\n"));
	/* One NAME=value line per table entry, in table order. */
	copy = strdup(out);
	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *name;

		assert_true(n < CFG__MAX);
		name = config_def((enum cfg_key)n)->name;
		if (strncmp(line, name, strlen(name)) != 0 ||
		    line[strlen(name)] != '=')
			fail_msg("line %d is \"%s\", not %s=", n, line, name);
		n++;
	}
	assert_int_equal(n, CFG__MAX);
	assert_int_equal(out[strlen(out) - 1], '\n');
	free(copy);
	free(out);
	config_free(&cfg);
	buf_release(&err);
	assert_int_equal(unlink(path), 0);
}

/* With no lookup function the process environment is read. */
static void
test_getenv(void **state)
{
	struct config	 cfg;
	struct buf	 err = BUF_INIT(0);

	(void)state;
	assert_int_equal(setenv("HXB_DATABASE_URL", "from-getenv", 1), 0);
	(void)config_load(&cfg, NULL, NULL, &err);
	assert_string_equal(config_str(&cfg, CFG_DATABASE_URL), "from-getenv");
	assert_int_equal(cfg.src[CFG_DATABASE_URL], CFG_SRC_ENV);
	config_free(&cfg);
	buf_release(&err);
	assert_int_equal(unsetenv("HXB_DATABASE_URL"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_env_overrides),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_bad_integers),
		cmocka_unit_test(test_enum),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_secret_file_refused),
		cmocka_unit_test(test_secret_file_missing),
		cmocka_unit_test(test_secret_file_size),
		cmocka_unit_test(test_secret_both),
		cmocka_unit_test(test_read_secret_file),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_getenv),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
