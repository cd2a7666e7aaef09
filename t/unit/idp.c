/*
 * idp: identity providers are read from the environment, with every
 * mistake reported at once and nothing half-configured accepted.
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
#include "idp.h"

static int
load(char **env, struct idp_set *set, struct buf *err)
{
	buf_init(err, 64 * 1024);
	return idp_load(set, env, err);
}

static void
test_two_kinds(void **state)
{
	char		*env[] = {
		"HXB_IDP_GOOGLE_KIND=oidc",
		"HXB_IDP_GOOGLE_ISSUER=https://accounts.google.com",
		"HXB_IDP_GOOGLE_CLIENT_ID=g-id",
		"HXB_IDP_GOOGLE_CLIENT_SECRET=g-secret",
		"HXB_IDP_GH2_KIND=github",
		"HXB_IDP_GH2_CLIENT_ID=h-id",
		"HXB_IDP_GH2_CLIENT_SECRET=h-secret",
		"HXB_IDP_GH2_API_URL=https://ghe.example/api/v3/",
		"PATH=/bin",
		NULL };
	struct idp_set	 set;
	struct buf	 err;
	struct idp	*g, *h;

	(void)state;
	assert_int_equal(load(env, &set, &err), 0);
	assert_int_equal(set.n, 2);
	assert_non_null(g = idp_find(&set, "google"));
	assert_int_equal(g->kind, IDP_OIDC);
	assert_string_equal(g->issuer, "https://accounts.google.com");
	assert_string_equal(g->scopes, "openid email profile");
	assert_non_null(h = idp_find(&set, "gh2"));
	assert_int_equal(h->kind, IDP_GITHUB);
	assert_string_equal(h->auth_url,
	    "https://github.com/login/oauth/authorize");
	assert_string_equal(h->token_url,
	    "https://github.com/login/oauth/access_token");
	/* Trailing slashes go, so that "<api>/user" is well formed. */
	assert_string_equal(h->api_url, "https://ghe.example/api/v3");
	assert_string_equal(h->scopes, "read:user user:email");
	assert_null(idp_find(&set, "GOOGLE"));
	assert_null(idp_find(&set, "nosuch"));
	idp_free(&set);
	buf_release(&err);
}

static void
test_secret_file(void **state)
{
	char		 path[] = "/tmp/hxb-idp-secret.XXXXXX";
	char		 var[128];
	char		*env[] = { "HXB_IDP_DEV_KIND=oidc",
	    "HXB_IDP_DEV_ISSUER=https://127.0.0.1:1", "HXB_IDP_DEV_CLIENT_ID=x",
	    var, NULL };
	struct idp_set	 set;
	struct buf	 err;
	int		 fd;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, "from-file\n", 10), 10);
	close(fd);
	snprintf(var, sizeof(var), "HXB_IDP_DEV_CLIENT_SECRET_FILE=%s", path);
	assert_int_equal(load(env, &set, &err), 0);
	assert_string_equal(set.v[0].client_secret, "from-file");
	idp_free(&set);
	buf_release(&err);
	unlink(path);
}

static void
test_mistakes(void **state)
{
	char		*env[] = {
		"HXB_IDP_A_KIND=saml",
		"HXB_IDP_B_KIND=oidc",
		"HXB_IDP_B_ISSUER=http://plain.example",
		"HXB_IDP_B_CLIENT_ID=b",
		"HXB_IDP_C_KIND=github",
		"HXB_IDP_C_CLIENT_SECRET=s",
		"HXB_IDP_C_CLIENT_SECRET_FILE=/nonexistent",
		"HXB_IDP_C_TOKEN_URL=http://x",
		"HXB_IDP_bad_KIND=oidc",
		"HXB_IDP_D_KIND=oidc",
		"HXB_IDP_D_ISSUER=https://d.example",
		"HXB_IDP_D_CLIENT_ID=d",
		"HXB_IDP_D_CLIENT_SECRET=d",
		"HXB_IDP_D_SCOPES=email profile",
		NULL };
	struct idp_set	 set;
	struct buf	 err;
	const char	*e;

	(void)state;
	assert_int_equal(load(env, &set, &err), -1);
	e = buf_cstr(&err);
	assert_non_null(strstr(e, "HXB_IDP_A_KIND: must be oidc or github"));
	assert_non_null(strstr(e, "HXB_IDP_B_ISSUER: required, an https URL"));
	assert_non_null(strstr(e, "HXB_IDP_B_CLIENT_SECRET (or _FILE): required"));
	assert_non_null(strstr(e, "HXB_IDP_C_CLIENT_ID: required"));
	assert_non_null(strstr(e, "set either it or HXB_IDP_C_CLIENT_SECRET_FILE"));
	assert_non_null(strstr(e, "HXB_IDP_C_TOKEN_URL: must be an https URL"));
	assert_non_null(strstr(e, "HXB_IDP_bad_KIND: a provider name is"));
	assert_non_null(strstr(e, "HXB_IDP_D_SCOPES: must include openid"));
	/* Nothing half-configured is kept. */
	assert_int_equal(set.n, 0);
	idp_free(&set);
	buf_release(&err);
}

static void
test_none(void **state)
{
	char		*env[] = { "HOME=/", NULL };
	struct idp_set	 set;
	struct buf	 err;

	(void)state;
	assert_int_equal(load(env, &set, &err), 0);
	assert_int_equal(set.n, 0);
	assert_string_equal(idp_kind_name(IDP_GITHUB), "github");
	idp_free(&set);
	buf_release(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_kinds),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_none),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("idp", tests, NULL, NULL);
}
