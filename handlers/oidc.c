/*
 * oidc: Hexabase as the OpenID Provider that every vCluster API server
 * trusts.
 *
 *   GET /.well-known/openid-configuration	the discovery document
 *   GET /.well-known/jwks.json		every published signing key
 *
 * The issuer is HXB_ISSUER, byte for byte the "iss" of every token
 * Hexabase signs, and an https URL (nginx serves it over TLS).  JWKS
 * lists the keys that are next (published before they sign, so that
 * verifiers have them cached first), active, and retired but not yet
 * deleted (tokens they signed may still be live); jobs/rotate-keys moves
 * them along.  Both answers may be cached for HXB_JWKS_MAX_AGE_S.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "jws.h"
#include "keys.h"

static void	 discovery(struct req *);
static void	 jwks(struct req *);

static const struct route routes[] = {
	{ HTTP_GET, "/.well-known/openid-configuration", discovery,
	    PERM_PUBLIC, "openid_configuration", NULL, NULL },
	{ HTTP_GET, "/.well-known/jwks.json", jwks, PERM_PUBLIC, "jwks",
	    NULL, NULL },
};

static void
cache_for(struct req *r)
{
	char	 v[64];

	snprintf(v, sizeof(v), "public, max-age=%lld",
	    config_int(&r->app->cfg, CFG_JWKS_MAX_AGE_S));
	http_header(r, "Cache-Control", v);
}

/* issuer + path, as a new JSON string. */
static json_t *
at(const char *issuer, const char *path)
{
	return json_sprintf("%s%s", issuer, path);
}

static void
discovery(struct req *r)
{
	const char	*iss = config_str(&r->app->cfg, CFG_ISSUER);
	json_t		*doc;

	/*
	 * The authorization-code endpoints (authorization, token,
	 * userinfo, PKCE methods) are named here once they are served.
	 */
	doc = json_pack("{s:s, s:o, s:[s], s:[s], s:[s], s:[s, s, s, s], "
	    "s:[s, s, s, s, s, s, s, s, s, s, s, s]}",
	    "issuer", iss,
	    "jwks_uri", at(iss, "/.well-known/jwks.json"),
	    "response_types_supported", "code",
	    "subject_types_supported", "public",
	    "id_token_signing_alg_values_supported", "RS256",
	    "scopes_supported", "openid", "email", "profile", "groups",
	    "claims_supported", "iss", "sub", "aud", "exp", "iat", "nbf",
	    "jti", "email", "email_verified", "name", "groups",
	    "workspace_id");
	if (doc == NULL) {
		http_problemf(r, PROBLEM_INTERNAL, "the discovery document");
		return;
	}
	cache_for(r);
	http_json(r, 200, doc);
}

static void
jwks(struct req *r)
{
	const struct signing_key	*k;
	json_t				*keys = json_array(), *jwk;
	size_t				 i, n;

	n = keyring_all(r->app, &k);
	for (i = 0; i < n; i++) {
		if ((jwk = jwk_from_pkey(k[i].pub, k[i].kid, k[i].alg)) ==
		    NULL || json_array_append_new(keys, jwk) != 0) {
			json_decref(keys);
			http_problemf(r, PROBLEM_INTERNAL, "a signing key could "
			    "not be published");
			return;
		}
	}
	if (n == 0) {
		/* Never cache an empty set: a verifier would refuse all. */
		json_decref(keys);
		http_header(r, "Retry-After", "1");
		http_problemf(r, PROBLEM_UNAVAILABLE, "no signing key could "
		    "be read");
		return;
	}
	cache_for(r);
	http_json(r, 200, json_pack("{s:o}", "keys", keys));
}

int
main(int argc, char **argv)
{
	struct app	 app;
	int		 rc;

	if ((rc = app_routes("oidc", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv)) != 0)
		return rc > 0 ? 0 : 2;
	if ((rc = app_init(&app, "oidc", argc, argv, app_route_flags)) != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	rc = app_serve(&app, routes, sizeof(routes) / sizeof(routes[0]));
	app_fini(&app);
	return rc;
}
