/*
 * rbac: custom role rules are checked field by field and against the
 * admin ceiling (Kubernetes' aggregated admin, edit and view roles); run
 * with --ceiling, prints the ceiling for docs/AUTHZ.md (t/docs/authz.t).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbac.h"

/* The problems rbac_rules_check() finds in rules (JSON text). */
static json_t *
check(const char *rules)
{
	json_error_t	 e;
	json_t		*r = json_loads(rules, 0, &e), *errors = json_array();
	int		 n;

	assert_non_null(r);
	n = rbac_rules_check(r, errors);
	assert_int_equal(n, (int)json_array_size(errors));
	json_decref(r);
	return errors;
}

static void
expect_ok(const char *rules)
{
	json_t	*errors = check(rules);

	if (json_array_size(errors) != 0) {
		char *s = json_dumps(errors, 0);

		print_error("unexpected: %s\n", s);
		free(s);
	}
	assert_int_equal(json_array_size(errors), 0);
	json_decref(errors);
}

/* The first problem names `field` and its message contains `msg`. */
static void
expect_error(const char *rules, const char *field, const char *msg)
{
	json_t	*errors = check(rules), *e0 = json_array_get(errors, 0);

	assert_non_null(e0);
	assert_string_equal(json_string_value(json_object_get(e0, "field")),
	    field);
	assert_non_null(strstr(json_string_value(json_object_get(e0,
	    "message")), msg));
	json_decref(errors);
}

#define RULE(g, r, v)	"[{\"api_groups\":[" g "],\"resources\":[" r \
			"],\"verbs\":[" v "]}]"

static void
test_within(void **state)
{
	(void)state;
	/* What Kubernetes' admin, edit and view grant in a namespace. */
	expect_ok(RULE("\"\"", "\"pods\"", "\"get\",\"list\",\"watch\","
	    "\"create\",\"update\",\"patch\",\"delete\",\"deletecollection\""));
	expect_ok(RULE("\"apps\"", "\"deployments\",\"statefulsets/scale\"",
	    "\"get\",\"patch\""));
	expect_ok(RULE("\"\"", "\"serviceaccounts\"", "\"impersonate\""));
	expect_ok(RULE("\"rbac.authorization.k8s.io\"", "\"roles\","
	    "\"rolebindings\"", "\"create\",\"delete\""));
	expect_ok(RULE("\"\"", "\"pods/log\"", "\"get\""));
	expect_ok(RULE("\"batch\"", "\"jobs\",\"cronjobs\"", "\"create\""));
	expect_ok(RULE("\"networking.k8s.io\"", "\"networkpolicies\"",
	    "\"update\""));
	expect_ok(RULE("\"authorization.k8s.io\"",
	    "\"localsubjectaccessreviews\"", "\"create\""));
	expect_ok("[{\"api_groups\":[\"\"],\"resources\":[\"configmaps\"],"
	    "\"verbs\":[\"get\"],\"resource_names\":[\"app-config\"]}]");
}

static void
test_beyond(void **state)
{
	(void)state;
	/* Cluster-scoped, or more than admin has in a namespace. */
	expect_error(RULE("\"\"", "\"nodes\"", "\"get\""), "rules[0]",
	    "get on nodes is beyond");
	expect_error(RULE("\"\"", "\"resourcequotas\"", "\"update\""),
	    "rules[0]", "update on resourcequotas");
	expect_error(RULE("\"\"", "\"limitranges\"", "\"delete\""),
	    "rules[0]", "delete on limitranges");
	expect_error(RULE("\"\"", "\"namespaces\"", "\"delete\""), "rules[0]",
	    "delete on namespaces");
	expect_error(RULE("\"\"", "\"pods/log\"", "\"delete\""), "rules[0]",
	    "delete on pods/log");
	expect_error(RULE("\"rbac.authorization.k8s.io\"", "\"roles\"",
	    "\"escalate\""), "rules[0]", "escalate on "
	    "rbac.authorization.k8s.io/roles");
	expect_error(RULE("\"rbac.authorization.k8s.io\"", "\"clusterroles\"",
	    "\"get\""), "rules[0]", "get on rbac.authorization.k8s.io/"
	    "clusterroles");
	expect_error(RULE("\"apps\"", "\"pods\"", "\"get\""), "rules[0]",
	    "get on apps/pods");
	expect_error(RULE("\"\"", "\"secrets\"", "\"bind\""), "rules[0]",
	    "bind on secrets");
	expect_error(RULE("\"\"", "\"serviceaccounts/token\"", "\"get\""),
	    "rules[0]", "get on serviceaccounts/token");
}

static void
test_shape(void **state)
{
	(void)state;
	expect_error("[]", "rules", "1 to 100");
	expect_error("{}", "rules", "1 to 100");
	expect_error("[1]", "rules[0]", "an object");
	expect_error("[{\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]",
	    "rules[0].api_groups", "required");
	expect_error(RULE("\"\"", "\"pods\"", ""), "rules[0].verbs",
	    "1 to 50");
	expect_error("[{\"api_groups\":[\"\"],\"resources\":\"pods\","
	    "\"verbs\":[\"get\"]}]", "rules[0].resources", "1 to 50");
	expect_error(RULE("\"\"", "\"pods\"", "\"fly\""), "rules[0].verbs[0]",
	    "not a Kubernetes verb");
	expect_error(RULE("\"\"", "\"pods\"", "\"get\",7"),
	    "rules[0].verbs[1]", "a verb");
	expect_error(RULE("\"*\"", "\"pods\"", "\"get\""),
	    "rules[0].api_groups[0]", "no wildcard");
	expect_error(RULE("\"\"", "\"*\"", "\"get\""),
	    "rules[0].resources[0]", "no wildcard");
	expect_error(RULE("\"\"", "\"pods/*\"", "\"get\""),
	    "rules[0].resources[0]", "no wildcard");
	expect_error(RULE("\"\"", "\"pods\"", "\"*\""), "rules[0].verbs[0]",
	    "no wildcard");
	expect_error(RULE("\"Apps\"", "\"pods\"", "\"get\""),
	    "rules[0].api_groups[0]", "API group");
	expect_error("[{\"api_groups\":[\"\"],\"resources\":[\"pods\"],"
	    "\"verbs\":[\"get\"],\"non_resource_urls\":[\"/x\"]}]",
	    "rules[0].non_resource_urls", "not a known field");
	expect_error("[{\"api_groups\":[\"\"],\"resources\":[\"pods\"],"
	    "\"verbs\":[\"get\"],\"resource_names\":[]}]",
	    "rules[0].resource_names", "1 to 50");
	expect_error("[{\"api_groups\":[\"\"],\"resources\":[\"pods\"],"
	    "\"verbs\":[\"get\"],\"resource_names\":[\"a b\"]}]",
	    "rules[0].resource_names[0]", "an object name");
}

static void
test_every_problem(void **state)
{
	json_t	*errors;

	(void)state;
	/* Each rule is judged: both of these are reported, by index. */
	errors = check("[" "{\"api_groups\":[\"\"],\"resources\":[\"nodes\"],"
	    "\"verbs\":[\"get\",\"list\"]},"
	    "{\"api_groups\":[\"\"],\"resources\":[\"pods\"],"
	    "\"verbs\":[\"get\"]},"
	    "{\"api_groups\":[\"x\"],\"resources\":[\"y\"],"
	    "\"verbs\":[\"get\"]}]");
	assert_int_equal(json_array_size(errors), 3);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(errors, 2), "field")), "rules[2]");
	json_decref(errors);
}

static void
test_presets(void **state)
{
	(void)state;
	assert_true(rbac_is_preset("admin"));
	assert_true(rbac_is_preset("edit"));
	assert_true(rbac_is_preset("view"));
	assert_false(rbac_is_preset("Admin"));
	assert_false(rbac_is_preset("cluster-admin"));
	assert_false(rbac_is_preset(""));
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_beyond),
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_every_problem),
		cmocka_unit_test(test_presets),
	};

	if (argc == 2 && strcmp(argv[1], "--ceiling") == 0) {
		rbac_ceiling_print(stdout);
		return 0;
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("rbac", tests, NULL, NULL);
}
