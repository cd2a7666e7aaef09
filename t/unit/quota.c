/*
 * quota: the shape of a project quota (the fit against a plan needs
 * PostgreSQL and is tested through the API, t/api/projects.t).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quota.h"

/* The fields quota_check() reports for a quota (JSON text), joined. */
static void
expect(const char *quota, const char *fields)
{
	json_t		*q = json_loads(quota, JSON_DECODE_ANY, NULL);
	json_t		*errors = json_array(), *e;
	char		 got[512] = "";
	size_t		 i;
	int		 n;

	assert_non_null(q);
	n = quota_check(q, "quota", errors);
	assert_int_equal(n, (int)json_array_size(errors));
	json_array_foreach(errors, i, e) {
		if (i > 0)
			strncat(got, " ", sizeof(got) - strlen(got) - 1);
		strncat(got, json_string_value(json_object_get(e, "field")),
		    sizeof(got) - strlen(got) - 1);
	}
	assert_string_equal(got, fields);
	json_decref(errors);
	json_decref(q);
}

static void
test_good(void **state)
{
	(void)state;
	expect("{}", "");
	expect("{\"cpu_millicores\":500,\"memory_mib\":1024,\"storage_gib\":"
	    "10,\"pods\":20,\"services\":5,\"pvcs\":0}", "");
	expect("{\"pods\":1000000000}", "");
}

static void
test_bad(void **state)
{
	(void)state;
	expect("[]", "quota");
	expect("5", "quota");
	expect("{\"cpu\":1}", "quota.cpu");
	expect("{\"pods\":-1}", "quota.pods");
	expect("{\"pods\":1000000001}", "quota.pods");
	expect("{\"pods\":1.5}", "quota.pods");
	expect("{\"pods\":\"2\"}", "quota.pods");
	expect("{\"pods\":null}", "quota.pods");
	expect("{\"pods\":true,\"gpus\":1,\"pvcs\":2}", "quota.pods quota.gpus");
}

static void
test_keys(void **state)
{
	(void)state;
	assert_string_equal(quota_key(QUOTA_CPU), "cpu_millicores");
	assert_string_equal(quota_key(QUOTA_PVCS), "pvcs");
	assert_string_equal(quota_key(QUOTA__MAX), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_keys),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
