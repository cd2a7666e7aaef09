/*
 * oidc: Hexabase as the OpenID Provider that every vCluster API server
 * trusts.
 *
 *   GET  /.well-known/openid-configuration	the discovery document
 *   GET  /.well-known/jwks.json		every published signing key
 *   POST /api/v1/workspaces/{wsId}/token[?format=exec-credential]
 *					a token for the workspace's vCluster
 *
 * The discovery document names the authorization-code endpoints under
 * /oauth2/, which the auth handler serves (it owns sessions).
 *
 * The issuer is HXB_ISSUER, byte for byte the "iss" of every token
 * Hexabase signs, and an https URL (nginx serves it over TLS).  JWKS
 * lists the keys that are next (published before they sign, so that
 * verifiers have them cached first), active, and retired but not yet
 * deleted (tokens they signed may still be live); jobs/rotate-keys moves
 * them along.  Both answers may be cached for HXB_JWKS_MAX_AGE_S.
 *
 * A workspace token is an ID token for one vCluster: aud is the
 * workspace id (so workspace B's API server refuses A's tokens), groups
 * are the caller's effective groups there by name (hxb_my_group_names(),
 * through hxb_effective_groups(), the one definition), and it lives
 * HXB_WORKSPACE_TOKEN_TTL_S.  Only a
 * caller with a group in the workspace gets one: 403 for whoever sees the
 * workspace without one, 404 for anyone else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <time.h>

#include "app.h"
#include "auth.h"
#include "jws.h"
#include "keys.h"
#include "id.h"
#include "scope.h"
#include "tenant.h"

static void	 discovery(struct req *);
static void	 jwks(struct req *);
static void	 ws_token(struct req *);

enum { T_FORMAT };

static const struct field token_query[] = {
	[T_FORMAT] = { "format", FIELD_STRING, false, false, 1, 16,
	    "exec-credential", "exec-credential, or leave it out" },
	{ NULL },
};

static const struct route routes[] = {
	{ HTTP_GET, "/.well-known/openid-configuration", discovery,
	    PERM_PUBLIC, "openid_configuration", NULL, NULL },
	{ HTTP_GET, "/.well-known/jwks.json", jwks, PERM_PUBLIC, "jwks",
	    NULL, NULL },
	{ HTTP_POST, "/api/v1/workspaces/{wsId}/token", ws_token,
	    PERM_WS_READ, "workspace_token", NULL, token_query },
};

/*
 * The acting user's effective groups in the workspace by name, and (when
 * there is one) its status and the user's email, in one round trip
 * (0006_oauth2.sql).  Without a group, the workspace is read through
 * row-level security to tell 403 from 404.
 */
static const struct db_stmt st_claims = { "oidc_claims",
    "SELECT status, to_json(groups), email FROM hxb_ws_token_claims($1)",
    1 };

static void
cache_for(struct req *r)
{
	char	 v[64];

	snprintf(v, sizeof(v), "public, max-age=%lld",
	    config_int(&r->app->cfg, CFG_JWKS_MAX_AGE_S));
	http_header(r, "Cache-Control", v);
}

static void
discovery(struct req *r)
{
	const char	*iss = config_str(&r->app->cfg, CFG_ISSUER);
	json_t		*doc;

	/* The authorization-code endpoints are served by the auth handler. */
	doc = json_pack("{s:s, s:o, s:o, s:o, s:o, s:[s], s:[s], s:[s], "
	    "s:[s, s], s:[s], s:[s], s:[s], s:[s, s, s, s, s], "
	    "s:[s, s, s, s, s, s, s, s, s, s, s, s, s, s, s], s:b}",
	    "issuer", iss,
	    "jwks_uri", json_sprintf("%s/.well-known/jwks.json", iss),
	    "authorization_endpoint", json_sprintf("%s/oauth2/authorize", iss),
	    "token_endpoint", json_sprintf("%s/oauth2/token", iss),
	    "userinfo_endpoint", json_sprintf("%s/oauth2/userinfo", iss),
	    "response_types_supported", "code",
	    "response_modes_supported", "query",
	    "subject_types_supported", "public",
	    "grant_types_supported", "authorization_code", "refresh_token",
	    "token_endpoint_auth_methods_supported", "none",
	    "code_challenge_methods_supported", "S256",
	    "id_token_signing_alg_values_supported", "RS256",
	    "scopes_supported", "openid", "email", "profile", "groups",
	    "offline_access",
	    "claims_supported", "iss", "sub", "aud", "azp", "exp", "iat",
	    "nbf", "jti", "nonce", "email", "email_verified", "name",
	    "picture", "groups", "workspace_id",
	    "authorization_response_iss_parameter_supported", 1);
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

/* "2026-12-03T10:15:00Z" for seconds since the epoch. */
static void
rfc3339(long long t, char out[32])
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Without a group: 404 to whoever may not see the workspace, else 403. */
static void
ws_token_refused(struct req *r, struct principal *p)
{
	PGresult	*res[1];

	if (scope_read(r, p, "wsId", ID_WS, NULL, ID_WS, false, NULL, 0,
	    NULL, NULL, res) != 0)
		return;
	http_problemf(r, PROBLEM_FORBIDDEN, "you have no group in this "
	    "workspace, so its cluster would grant you nothing");
}

static void
ws_token(struct req *r)
{
	struct principal	 p;
	const char		*ws = http_param(r, "wsId");
	const char		*claims_p[1] = { ws };
	const struct db_stmt	*st[1] = { &st_claims };
	const char *const	*params[1] = { claims_p };
	PGresult		*res[1];
	const char		*status;
	json_t			*groups;
	long long		 now, exp;
	char			*tok, when[32];
	bool			 exec = r->qv.present[T_FORMAT];

	if (!id_valid(ws, ID_WS)) {
		tenant_bad_id(r, &p, "workspace");
		return;
	}
	http_set_resource(r, "workspaces/%s", ws);
	if (tenant_read(r, &p, 1, st, params, res) != 0)
		return;
	groups = json_loads(PQgetvalue(res[0], 0, 1), 0, NULL);
	if (json_array_size(groups) == 0) {
		PQclear(res[0]);
		json_decref(groups);
		ws_token_refused(r, &p);
		return;
	}
	snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", ws);
	status = PQgetvalue(res[0], 0, 0);
	if (strcmp(status, "deleting") == 0 || strcmp(status, "deleted") == 0) {
		http_problemf(r, PROBLEM_CONFLICT, "the workspace is %s",
		    status);
		goto out;
	}
	now = (long long)time(NULL);
	exp = now + config_int(&r->app->cfg, CFG_WORKSPACE_TOKEN_TTL_S);
	if ((tok = auth_id_token(r->app, p.user_id, ws, groups,
	    PQgetisnull(res[0], 0, 2) ? NULL : PQgetvalue(res[0], 0, 2), NULL,
	    now, exp)) == NULL) {
		http_header(r, "Retry-After", "1");
		http_problemf(r, PROBLEM_UNAVAILABLE, "no signing key is "
		    "available");
		goto out;
	}
	rfc3339(exp, when);
	http_header(r, "Cache-Control", "no-store");
	if (exec)
		http_json(r, 200, json_pack("{s:s, s:s, s:{s:s, s:s}}",
		    "apiVersion", "client.authentication.k8s.io/v1",
		    "kind", "ExecCredential", "status", "token", tok,
		    "expirationTimestamp", when));
	else
		http_json(r, 200, json_pack("{s:s, s:s}", "token", tok,
		    "expires_at", when));
	explicit_bzero(tok, strlen(tok));
	free(tok);
out:
	PQclear(res[0]);
	json_decref(groups);
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
