/*
 * auth: access tokens; see auth.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "crypto.h"
#include "http.h"
#include "id.h"
#include "jws.h"
#include "keys.h"
#include "log.h"

#define REVOKED_PREFIX	"hxb:revoked:"
#define REVOKED_READY	"hxb:revoked:ready"

static const struct db_stmt st_revoked_recent = { "auth_revoked_recent",
    "SELECT id, greatest(1, ceil(extract(epoch FROM revoked_at - now()) "
    "+ $1::int))::bigint FROM sessions "
    "WHERE revoked_at > now() - make_interval(secs => $1::int)", 1 };

static const struct db_stmt st_session_revoked = { "auth_session_revoked",
    "SELECT revoked_at IS NOT NULL FROM sessions WHERE id = $1", 1 };

/* Seconds a revocation must be remembered: as long as a token lives. */
static long long
revoke_ttl(struct app *app)
{
	return config_int(&app->cfg, CFG_ACCESS_TOKEN_TTL_S) +
	    config_int(&app->cfg, CFG_CLOCK_SKEW_S);
}

char *
auth_issue(struct app *app, const char *user_id, const char *sid,
    long long not_after, long long *exp)
{
	const struct signing_key	*k;
	unsigned char			 rnd[16];
	struct buf			 jti = BUF_INIT(64);
	json_t				*claims;
	long long			 now = (long long)time(NULL), e;
	char				*tok = NULL;

	if ((k = keyring_signer(app)) == NULL)
		return NULL;
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return NULL;
	b64url_encode(&jti, rnd, sizeof(rnd));
	e = now + config_int(&app->cfg, CFG_ACCESS_TOKEN_TTL_S);
	if (not_after > 0 && e > not_after)
		e = not_after;
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s}",
	    "iss", config_str(&app->cfg, CFG_ISSUER),
	    "sub", user_id,
	    "aud", AUTH_AUDIENCE,
	    "exp", (json_int_t)e,
	    "iat", (json_int_t)now,
	    "nbf", (json_int_t)now,
	    "jti", buf_cstr(&jti),
	    "sid", sid);
	if (claims != NULL && !jti.failed)
		tok = jws_sign(k->priv, k->alg, k->kid, claims);
	json_decref(claims);
	buf_release(&jti);
	if (tok == NULL)
		log_error(&app->log, "could not sign an access token");
	else if (exp != NULL)
		*exp = e;
	return tok;
}

/* A claim that must be a string of a bounded length; else NULL. */
static const char *
claim_str(const json_t *claims, const char *name, size_t max)
{
	const char	*s = json_string_value(json_object_get(claims, name));

	return s != NULL && strlen(s) < max ? s : NULL;
}

static int
claim_time(const json_t *claims, const char *name, long long *out)
{
	json_t	*v = json_object_get(claims, name);

	if (!json_is_integer(v))
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* Rebuild the revoked set from PostgreSQL; tells whether `sid` is in it. */
static enum auth_result
revoked_rebuild(struct app *app, const char *sid, bool *revoked)
{
	char		 ttl[24], key[128], secs[24];
	const char	*params[1] = { ttl };
	const char	*argv[5];
	redisReply	*rr;
	PGresult	*res;
	int		 i, n;

	snprintf(ttl, sizeof(ttl), "%lld", revoke_ttl(app));
	if ((res = db_exec(&app->db, &st_revoked_recent, params)) == NULL) {
		log_error(&app->log, "cannot read revoked sessions: %s",
		    app->db.errmsg);
		return AUTH_UNAVAILABLE;
	}
	*revoked = false;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if (strcmp(PQgetvalue(res, i, 0), sid) == 0)
			*revoked = true;
		snprintf(key, sizeof(key), REVOKED_PREFIX "%s",
		    PQgetvalue(res, i, 0));
		snprintf(secs, sizeof(secs), "%s", PQgetvalue(res, i, 1));
		argv[0] = "SET";
		argv[1] = key;
		argv[2] = "1";
		argv[3] = "EX";
		argv[4] = secs;
		if ((rr = redis_cmd(&app->redis, 5, argv, NULL)) == NULL)
			break;
		freeReplyObject(rr);
	}
	PQclear(res);
	if (i == n) {
		argv[0] = "SET";
		argv[1] = REVOKED_READY;
		argv[2] = "1";
		if ((rr = redis_cmd(&app->redis, 3, argv, NULL)) != NULL) {
			freeReplyObject(rr);
			log_info(&app->log, "revoked-session set rebuilt from "
			    "PostgreSQL (%d sessions)", n);
		}
	}
	return AUTH_OK;
}

static enum auth_result
session_check(struct app *app, const char *sid, const char **why)
{
	char		 key[128];
	const char	*argv[3] = { "MGET", REVOKED_READY, key };
	const char	*params[1] = { sid };
	redisReply	*rr;
	PGresult	*res;
	enum auth_result ar;
	bool		 revoked = false, ready;

	snprintf(key, sizeof(key), REVOKED_PREFIX "%s", sid);
	rr = redis_cmd(&app->redis, 3, argv, NULL);
	if (rr != NULL && rr->type == REDIS_REPLY_ARRAY && rr->elements == 2) {
		ready = rr->element[0]->type == REDIS_REPLY_STRING;
		revoked = rr->element[1]->type == REDIS_REPLY_STRING;
		freeReplyObject(rr);
		if (!ready && (ar = revoked_rebuild(app, sid, &revoked)) !=
		    AUTH_OK)
			return ar;
	} else {
		if (rr != NULL)
			freeReplyObject(rr);
		/* Redis is away: ask the source of truth. */
		log_warn(&app->log, "revocation check falls back to "
		    "PostgreSQL: %s", app->redis.errmsg);
		if ((res = db_exec(&app->db, &st_session_revoked, params)) ==
		    NULL)
			return AUTH_UNAVAILABLE;
		revoked = PQntuples(res) != 1 ||
		    strcmp(PQgetvalue(res, 0, 0), "f") != 0;
		PQclear(res);
	}
	if (revoked) {
		*why = "the session has ended";
		return AUTH_INVALID;
	}
	return AUTH_OK;
}

enum auth_result
auth_verify(struct app *app, const char *token, struct principal *p,
    const char **why)
{
	const struct signing_key	*k;
	struct jws			 t;
	const char			*iss, *sub, *sid, *jti, *aud;
	long long			 exp, iat, nbf, now, skew;
	enum auth_result		 ar = AUTH_INVALID;

	memset(p, 0, sizeof(*p));
	memset(&t, 0, sizeof(t));
	*why = "malformed token";
	if (jws_parse(token, &t, why) != 0)
		goto out;
	/* We sign RS256 only; anything else is not ours. */
	if (t.alg != JWS_RS256) {
		*why = "unexpected algorithm";
		goto out;
	}
	if (t.kid == NULL || (k = keyring_find(app, t.kid)) == NULL) {
		*why = "unknown signing key";
		goto out;
	}
	if (k->alg != t.alg || jws_verify(&t, k->pub) != 0) {
		*why = "bad signature";
		goto out;
	}
	now = (long long)time(NULL);
	skew = config_int(&app->cfg, CFG_CLOCK_SKEW_S);
	iss = claim_str(t.claims, "iss", 1024);
	aud = claim_str(t.claims, "aud", 64);
	sub = claim_str(t.claims, "sub", AUTH_ID_MAX);
	sid = claim_str(t.claims, "sid", AUTH_ID_MAX);
	jti = claim_str(t.claims, "jti", AUTH_ID_MAX);
	if (iss == NULL || strcmp(iss, config_str(&app->cfg, CFG_ISSUER))) {
		*why = "wrong issuer";
		goto out;
	}
	if (aud == NULL || strcmp(aud, AUTH_AUDIENCE) != 0) {
		*why = "wrong audience";
		goto out;
	}
	if (claim_time(t.claims, "exp", &exp) != 0 ||
	    claim_time(t.claims, "iat", &iat) != 0) {
		*why = "exp and iat are required";
		goto out;
	}
	if (exp + skew <= now) {
		*why = "token expired";
		goto out;
	}
	if (iat - skew > now || (claim_time(t.claims, "nbf", &nbf) == 0 &&
	    nbf - skew > now)) {
		*why = "token not yet valid";
		goto out;
	}
	if (sub == NULL || !id_valid(sub, ID_USR) || sid == NULL ||
	    !id_valid(sid, ID_SES) || jti == NULL) {
		*why = "missing or malformed sub, sid or jti";
		goto out;
	}
	if ((ar = session_check(app, sid, why)) != AUTH_OK)
		goto out;
	strcpy(p->user_id, sub);
	strcpy(p->sid, sid);
	strcpy(p->jti, jti);
	p->exp = exp;
out:
	jws_clear(&t);
	return ar;
}

int
auth_require(struct req *r, struct principal *p)
{
	const char		*h = http_env(r, "HTTP_AUTHORIZATION");
	const char		*why = "no access token";
	enum auth_result	 ar = AUTH_INVALID;

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		ar = auth_verify(r->app, h, p, &why);
		if (ar == AUTH_OK) {
			snprintf(r->user_id, sizeof(r->user_id), "%s",
			    p->user_id);
			return 0;
		}
	}
	if (ar == AUTH_UNAVAILABLE) {
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "the session could not "
		    "be checked; try again shortly", NULL);
		return -1;
	}
	if (h == NULL)
		http_header(r, "WWW-Authenticate", "Bearer realm=\"hexabase\"");
	else
		http_header(r, "WWW-Authenticate", "Bearer realm=\"hexabase\", "
		    "error=\"invalid_token\"");
	http_problemf(r, PROBLEM_UNAUTHORIZED, "%s", why);
	return -1;
}

int
auth_revoked(struct app *app, const char *const *sids, size_t n)
{
	char		 key[128], ttl[24];
	const char	*argv[5];
	redisReply	*rr;
	size_t		 i;
	int		 rc = 0;

	snprintf(ttl, sizeof(ttl), "%lld", revoke_ttl(app));
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), REVOKED_PREFIX "%s", sids[i]);
		argv[0] = "SET";
		argv[1] = key;
		argv[2] = "1";
		argv[3] = "EX";
		argv[4] = ttl;
		if ((rr = redis_cmd(&app->redis, 5, argv, NULL)) == NULL) {
			log_error(&app->log, "cannot record revoked session "
			    "%s in Redis: %s", sids[i], app->redis.errmsg);
			rc = -1;
			continue;
		}
		freeReplyObject(rr);
	}
	return rc;
}
