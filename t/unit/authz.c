/*
 * authz: the policy table decides as docs/AUTHZ.md says, for every
 * permission and relation, and names are what --routes and the docs use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "authz.h"

/* The expected verdicts, written out row by row from docs/AUTHZ.md. */
static const char *const expected[PERM__MAX] = {
	/*		   anon  strgr  member viewer wsadm  orgadm */
	[PERM_UNSET] =	  "401   404    404    404    404    404",
	[PERM_PUBLIC] =	  "allow allow  allow  allow  allow  allow",
	[PERM_SIGNED_IN] = "401   allow  allow  allow  allow  allow",
	[PERM_ORG_READ] = "401   404    allow  allow  allow  allow",
	[PERM_ORG_ADMIN] = "401   404    403    403    403    allow",
	[PERM_ORG_SELF] = "401   404    self   self   self   allow",
	[PERM_WS_READ] =  "401   404    404    allow  allow  allow",
	[PERM_WS_ADMIN] = "401   404    404    403    allow  allow",
};

static void
test_table(void **state)
{
	char		 row[128], *tok, *save;
	int		 p, rel;

	(void)state;
	for (p = 0; p < PERM__MAX; p++) {
		snprintf(row, sizeof(row), "%s", expected[p]);
		for (rel = 0, tok = strtok_r(row, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save), rel++) {
			assert_true(rel < REL__MAX);
			assert_string_equal(authz_verdict_name(authz_decide(p,
			    rel)), tok);
		}
		assert_int_equal(rel, REL__MAX);
	}
}

static void
test_out_of_range(void **state)
{
	(void)state;
	assert_int_equal(authz_decide(PERM__MAX, REL_ORG_ADMIN), AZ_NOT_FOUND);
	assert_int_equal(authz_decide(PERM_PUBLIC, REL__MAX), AZ_NOT_FOUND);
	assert_int_equal(authz_decide((enum perm)-1, REL_ORG_ADMIN),
	    AZ_NOT_FOUND);
	assert_string_equal(authz_perm_name(PERM__MAX), "unknown");
}

static void
test_relations(void **state)
{
	(void)state;
	assert_int_equal(authz_org_rel("admin"), REL_ORG_ADMIN);
	assert_int_equal(authz_org_rel("member"), REL_ORG_MEMBER);
	assert_int_equal(authz_org_rel(NULL), REL_STRANGER);
	assert_int_equal(authz_org_rel(""), REL_STRANGER);
	assert_int_equal(authz_org_rel("Admin"), REL_STRANGER);
	assert_int_equal(authz_ws_rel("org_admin"), REL_ORG_ADMIN);
	assert_int_equal(authz_ws_rel("admin"), REL_WS_ADMIN);
	assert_int_equal(authz_ws_rel("viewer"), REL_WS_VIEWER);
	assert_int_equal(authz_ws_rel(NULL), REL_STRANGER);
	assert_int_equal(authz_ws_rel("member"), REL_STRANGER);
}

static void
test_names(void **state)
{
	int	 p;

	(void)state;
	for (p = 0; p < PERM__MAX; p++)
		assert_string_not_equal(authz_perm_name(p), "unknown");
	assert_string_equal(authz_perm_name(PERM_ORG_SELF),
	    "org_admin_or_self");
	assert_true(authz_ws_scoped(PERM_WS_READ));
	assert_true(authz_ws_scoped(PERM_WS_ADMIN));
	assert_false(authz_ws_scoped(PERM_ORG_ADMIN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_relations),
		cmocka_unit_test(test_names),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("authz", tests, NULL, NULL);
}
