/*
 * db: the pure parts of shared/db.c, here the timestamp conversion from
 * the server's UTC ISO text to the API's RFC 3339 form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db.h"

static void
test_db_ts(void **state)
{
	char	 out[DB_TS_MAX];

	(void)state;
	db_ts("2026-12-03 01:14:43.593217+00", out);
	assert_string_equal(out, "2026-12-03T01:14:43.593Z");
	db_ts("2026-12-03 01:14:43+00", out);
	assert_string_equal(out, "2026-12-03T01:14:43.000Z");
	db_ts("2026-12-03 01:14:43.5+00", out);
	assert_string_equal(out, "2026-12-03T01:14:43.500Z");
	db_ts("2026-12-03 01:14:43.05+00", out);
	assert_string_equal(out, "2026-12-03T01:14:43.050Z");
	/* Not what our sessions produce: left as it is, never garbled. */
	db_ts("2026-12-03 02:14:43.5+01", out);
	assert_string_equal(out, "2026-12-03 02:14:43.5+01");
	db_ts("", out);
	assert_string_equal(out, "");
	db_ts("infinity", out);
	assert_string_equal(out, "infinity");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_ts),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
