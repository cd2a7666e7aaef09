/*
 * auth: access tokens; see auth.h.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "app.h"
#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "http.h"
#include "id.h"
#include "jws.h"
#include "keys.h"
#include "log.h"
#include "near.h"
#include "ratelimit.h"

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
auth_sign(struct app *app, json_t *claims, long long now, const char *what)
{
	const struct signing_key	*k;
	unsigned char			 rnd[16];
	struct buf			 jti = BUF_INIT(64);
	char				*tok = NULL;

	if ((k = keyring_signer(app)) != NULL &&
	    crypto_random(rnd, sizeof(rnd)) == 0) {
		b64url_encode(&jti, rnd, sizeof(rnd));
		if (!jti.failed && claims != NULL &&
		    json_object_set_new(claims, "iss", json_string(
		    config_str(&app->cfg, CFG_ISSUER))) == 0 &&
		    json_object_set_new(claims, "iat",
		    json_integer(now)) == 0 &&
		    json_object_set_new(claims, "nbf",
		    json_integer(now)) == 0 &&
		    json_object_set_new(claims, "jti",
		    json_string(buf_cstr(&jti))) == 0)
			tok = jws_sign(k->priv, k->alg, k->kid, claims);
	}
	buf_release(&jti);
	if (tok == NULL)
		log_error(&app->log, "could not sign %s", what);
	return tok;
}

char *
auth_id_token(struct app *app, const char *user_id, const char *aud,
    json_t *groups, const char *email, const char *nonce, long long now,
    long long exp)
{
	json_t	*claims;
	char	*tok;

	claims = json_pack("{s:s, s:s, s:s, s:I}", "sub", user_id, "aud", aud,
	    "azp", aud, "exp", (json_int_t)exp);
	if (claims != NULL && groups != NULL) {
		json_object_set(claims, "groups", groups);
		json_object_set_new(claims, "workspace_id", json_string(aud));
	}
	if (claims != NULL && email != NULL && *email != '\0')
		json_object_set_new(claims, "email", json_string(email));
	if (claims != NULL && nonce != NULL && *nonce != '\0')
		json_object_set_new(claims, "nonce", json_string(nonce));
	tok = auth_sign(app, claims, now, "an ID token");
	json_decref(claims);
	return tok;
}

static char *
issue(struct app *app, const char *aud, const char *user_id, const char *sid,
    const char *idp, long long not_after, long long *exp)
{
	json_t		*claims;
	long long	 now = (long long)time(NULL), e;
	char		*tok;

	e = now + config_int(&app->cfg, CFG_ACCESS_TOKEN_TTL_S);
	if (not_after > 0 && e > not_after)
		e = not_after;
	claims = json_pack("{s:s, s:s, s:I, s:s, s:s}",
	    "sub", user_id,
	    "aud", aud,
	    "exp", (json_int_t)e,
	    "sid", sid,
	    "idp", idp);
	tok = auth_sign(app, claims, now, "an access token");
	json_decref(claims);
	if (tok != NULL && exp != NULL)
		*exp = e;
	return tok;
}

char *
auth_issue(struct app *app, const char *user_id, const char *sid,
    const char *idp, long long not_after, long long *exp)
{
	return issue(app, AUTH_AUDIENCE, user_id, sid, idp, not_after, exp);
}

char *
auth_issue_userinfo(struct app *app, const char *user_id, const char *sid,
    const char *idp, long long not_after, long long *exp)
{
	return issue(app, AUTH_USERINFO_AUDIENCE, user_id, sid, idp,
	    not_after, exp);
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

/* Redis is away: ask the source of truth. */
static enum auth_result
session_check_db(struct app *app, const char *sid, const char **why)
{
	const char	*params[1] = { sid };
	PGresult	*res;
	bool		 revoked;

	log_warn(&app->log, "revocation check falls back to PostgreSQL: %s",
	    app->redis.errmsg);
	if ((res = db_exec(&app->db, &st_session_revoked, params)) == NULL)
		return AUTH_UNAVAILABLE;
	revoked = PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "f") != 0;
	PQclear(res);
	if (revoked) {
		*why = "the session has ended";
		return AUTH_INVALID;
	}
	return AUTH_OK;
}

/*
 * This process's copies of revocation markers and cached profiles, kept
 * current by Redis client-side tracking (see redis_tracking()): a session
 * seen valid costs no Redis round trip until its marker changes, which
 * Redis announces before anyone can have been told of the change (the
 * revoker settles before it answers), or HXB_REDIS_NEAR_MS passes.
 */
static struct near	near;
static bool		near_set;

static struct near *
near_cache(struct app *app)
{
	if (!near_set) {
		near_init(&near, config_int(&app->cfg, CFG_REDIS_NEAR_MS),
		    16384);
		near_set = true;
		if (near.ttl_ms > 0)
			redis_tracking(&app->redis, near_invalidate, &near);
	}
	return &near;
}

/*
 * Keys a request reads: from this process's copies while tracking vouches
 * for them, the others in one MGET sent after the caller's own commands,
 * all in one round trip (none when nothing is missing).
 */
#define LOOKUP_MAX	3

struct lookup {
	const char	*key[LOOKUP_MAX];
	size_t		 n;
	bool		 want_last;	/* copy the last key's value */
	bool		 known[LOOKUP_MAX];
	bool		 exists[LOOKUP_MAX];
	char		*last;		/* malloc'd, when wanted and set */
};

/*
 * cmds and rr have room for npre + 1; the replies to the caller's npre
 * commands are left in rr for it to free.  0, or -1 if the round trip
 * failed (then nothing was read and no reply is left).
 */
static int
lookup(struct app *app, struct lookup *l, size_t npre,
    struct redis_argv *cmds, redisReply **rr)
{
	struct near		*nc = near_cache(app);
	const struct near_entry	*e;
	const redisReply	*v;
	const char		*mget[1 + LOOKUP_MAX] = { "MGET" };
	size_t			 miss[LOOKUP_MAX], nm = 0, n = npre, i, j;
	long long		 now = clock_ms();
	bool			 live, tracked;

	live = nc->ttl_ms > 0 && redis_tracking_poll(&app->redis);
	for (i = 0; i < l->n; i++) {
		l->known[i] = l->exists[i] = false;
		if (live && (e = near_get(nc, l->key[i], strlen(l->key[i]),
		    now)) != NULL) {
			l->known[i] = true;
			l->exists[i] = e->val != NULL;
			if (l->want_last && i == l->n - 1 && e->val != NULL)
				l->last = strndup(e->val, e->vlen);
		} else {
			miss[nm] = i;
			mget[1 + nm++] = l->key[i];
		}
	}
	if (nm > 0)
		cmds[n++] = (struct redis_argv){ (int)(1 + nm), mget, NULL };
	if (n == 0)
		return 0;
	if (redis_pipeline_tracked(&app->redis, n, cmds, rr, &tracked) != 0)
		return -1;
	if (nm == 0)
		return 0;
	if (rr[n - 1]->type == REDIS_REPLY_ARRAY &&
	    rr[n - 1]->elements == nm)
		for (j = 0; j < nm; j++) {
			v = rr[n - 1]->element[j];
			i = miss[j];
			l->known[i] = true;
			l->exists[i] = v->type == REDIS_REPLY_STRING;
			if (l->want_last && i == l->n - 1 && l->exists[i])
				l->last = strndup(v->str, v->len);
			if (tracked)
				near_put(nc, l->key[i], strlen(l->key[i]),
				    l->exists[i] ? v->str : NULL,
				    l->exists[i] ? v->len : 0, now);
		}
	freeReplyObject(rr[n - 1]);
	return 0;
}

/*
 * Whether the session is revoked, from a lookup of { READY, revoked key,
 * ... }; the set is rebuilt from PostgreSQL if Redis has lost it.
 */
static enum auth_result
revocation(struct app *app, const struct lookup *l, const char *sid,
    const char **why)
{
	enum auth_result	 ar;
	bool			 revoked = l->exists[1];

	if (!l->known[1])
		return session_check_db(app, sid, why);
	if (l->known[0] && !l->exists[0] &&
	    (ar = revoked_rebuild(app, sid, &revoked)) != AUTH_OK)
		return ar;
	if (revoked) {
		*why = "the session has ended";
		return AUTH_INVALID;
	}
	return AUTH_OK;
}

static enum auth_result
session_check(struct app *app, const char *sid, const char **why)
{
	char		 key[128];
	struct redis_argv cmds[1];
	redisReply	*rr[1];
	struct lookup	 l = { { REVOKED_READY, key }, 2, false, { 0 },
			    { 0 }, NULL };

	snprintf(key, sizeof(key), REVOKED_PREFIX "%s", sid);
	if (lookup(app, &l, 0, cmds, rr) != 0)
		return session_check_db(app, sid, why);
	return revocation(app, &l, sid, why);
}

/*
 * Tokens this process has verified, so that a client presenting the same
 * token again (as it does for 15 minutes) costs a string comparison, not
 * an RSA verification.  Direct-mapped by a hash of the token, each slot
 * holding the whole token: a hit is an exact match of bytes already
 * verified.  The expiry is checked on every hit, and the signing key must
 * still be known (a deleted key's tokens stop at once).  Revocation is
 * checked on every request, against the tracked copies below.
 */
#define VCACHE_SLOTS	512

struct vcache_entry {
	char			*token;
	size_t			 len;
	char			 kid[KID_MAX];
	struct principal	 p;
};

static struct vcache_entry vcache[VCACHE_SLOTS];

/*
 * The slot: FNV-1a over the last 32 characters, which are the signature
 * (random to anyone without the key); the whole token is compared anyway.
 */
static size_t
vcache_slot(const char *token, size_t len)
{
	uint64_t	 h = 1469598103934665603ULL;
	const char	*p = len > 32 ? token + len - 32 : token;

	for (; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h % VCACHE_SLOTS);
}

static bool
vcache_get(struct app *app, const char *token, struct principal *p)
{
	size_t			 len = strlen(token);
	struct vcache_entry	*e = &vcache[vcache_slot(token, len)];

	if (e->token == NULL || e->len != len ||
	    memcmp(e->token, token, len) != 0)
		return false;
	if (e->p.exp + config_int(&app->cfg, CFG_CLOCK_SKEW_S) <=
	    (long long)time(NULL) || keyring_find(app, e->kid) == NULL) {
		free(e->token);
		memset(e, 0, sizeof(*e));
		return false;
	}
	*p = e->p;
	return true;
}

static void
vcache_put(const char *token, const char *kid, const struct principal *p)
{
	size_t			 len = strlen(token);
	struct vcache_entry	*e = &vcache[vcache_slot(token, len)];
	char			*t;

	if (strlen(kid) >= KID_MAX || (t = strdup(token)) == NULL)
		return;
	free(e->token);
	e->token = t;
	e->len = len;
	strcpy(e->kid, kid);
	e->p = *p;
}

void
auth_cache_clear(void)
{
	size_t	 i;

	for (i = 0; i < VCACHE_SLOTS; i++) {
		free(vcache[i].token);
		memset(&vcache[i], 0, sizeof(vcache[i]));
	}
	near_clear(&near);
}

#define USERINFO_ONLY	"this access token is good for /oauth2/userinfo only"

/* Everything but the revocation check. */
static enum auth_result
token_check(struct app *app, const char *token, struct principal *p,
    const char **why)
{
	const struct signing_key	*k;
	struct jws			 t;
	const char			*iss, *sub, *sid, *jti, *aud, *idp;
	long long			 exp, iat, nbf, now, skew;
	enum auth_result		 ar = AUTH_INVALID;

	if (vcache_get(app, token, p))
		return AUTH_OK;
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
	idp = claim_str(t.claims, "idp", AUTH_ID_MAX);
	if (iss == NULL || strcmp(iss, config_str(&app->cfg, CFG_ISSUER))) {
		*why = "wrong issuer";
		goto out;
	}
	if (aud == NULL || (strcmp(aud, AUTH_AUDIENCE) != 0 &&
	    strcmp(aud, AUTH_USERINFO_AUDIENCE) != 0)) {
		*why = "wrong audience";
		goto out;
	}
	p->userinfo_only = strcmp(aud, AUTH_USERINFO_AUDIENCE) == 0;
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
	strcpy(p->user_id, sub);
	strcpy(p->sid, sid);
	strcpy(p->jti, jti);
	if (idp != NULL)
		strcpy(p->idp, idp);
	p->exp = exp;
	vcache_put(token, t.kid, p);
	ar = AUTH_OK;
out:
	jws_clear(&t);
	return ar;
}

enum auth_result
auth_verify(struct app *app, const char *token, struct principal *p,
    const char **why)
{
	enum auth_result	 ar;

	if ((ar = token_check(app, token, p, why)) == AUTH_OK &&
	    p->userinfo_only) {
		*why = USERINFO_ONLY;
		ar = AUTH_INVALID;
	}
	if (ar == AUTH_OK && (ar = session_check(app, p->sid, why)) !=
	    AUTH_OK)
		memset(p, 0, sizeof(*p));
	return ar;
}

/* The bearer token of the request, or NULL. */
static const char *
bearer(const struct req *r)
{
	const char	*h = http_env(r, "HTTP_AUTHORIZATION");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	for (h += 7; *h == ' '; h++)
		;
	return h;
}

static int
refuse(struct req *r, enum auth_result ar, bool had_token, const char *why)
{
	if (ar == AUTH_UNAVAILABLE) {
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "the session could not "
		    "be checked; try again shortly", NULL);
		return -1;
	}
	if (!had_token)
		http_header(r, "WWW-Authenticate", "Bearer realm=\"hexabase\"");
	else
		http_header(r, "WWW-Authenticate", "Bearer realm=\"hexabase\", "
		    "error=\"invalid_token\"");
	http_problemf(r, PROBLEM_UNAUTHORIZED, "%s", why);
	return -1;
}

static int
accept_principal(struct req *r, const struct principal *p)
{
	snprintf(r->user_id, sizeof(r->user_id), "%s", p->user_id);
	return 0;
}

int
auth_require(struct req *r, struct principal *p)
{
	const char		*tok = bearer(r), *why = "no access token";
	enum auth_result	 ar = AUTH_INVALID;

	if (tok != NULL && (ar = auth_verify(r->app, tok, p, &why)) == AUTH_OK)
		return accept_principal(r, p);
	return refuse(r, ar, tok != NULL, why);
}

int
auth_require_limited(struct req *r, struct principal *p, const char *bucket,
    long long limit, long long window_s)
{
	return auth_require_profile(r, p, bucket, limit, window_s, NULL);
}

/*
 * The per-address count, the revocation check and (for value) a cached
 * document: decided here when the count need not be sent yet and this
 * process holds tracked copies of the rest (the common case), else in one
 * Redis round trip:
 *	SET <rl> 0 EX <window+1> NX	start the window's count, once
 *	INCRBY <rl> <n>			add this worker's requests
 *	MGET <what is not held>		of <ready> <revoked:sid> [<key>]
 * Plain commands on every Redis version, no script to load.
 */
static int
require(struct req *r, struct principal *p, const char *bucket,
    long long limit, long long window_s, char **value, bool userinfo)
{
	char			 key[128], revkey[128];
	const char		*tok = bearer(r), *why = "no access token";
	const char		*ip = r->remote_addr != NULL ? r->remote_addr :
				    "-";
	struct ratelimit_count	 rc;
	struct redis_argv	 cmds[3];
	redisReply		*rr[3];
	struct lookup		 l = { { REVOKED_READY, revkey, key },
				    value != NULL ? 3 : 2, value != NULL,
				    { 0 }, { 0 }, NULL };
	size_t			 nrl = 0;
	enum auth_result	 ar = AUTH_INVALID;
	bool			 failed, over = false;

	if (tok != NULL && (ar = token_check(r->app, tok, p, &why)) ==
	    AUTH_OK && p->userinfo_only && !userinfo) {
		why = USERINFO_ONLY;
		ar = AUTH_INVALID;
	}
	if (tok == NULL || ar != AUTH_OK) {
		/* Bad or missing tokens count as much as good ones. */
		if (ratelimit_check(r, bucket, limit, window_s) != 0)
			return -1;
		return refuse(r, ar, tok != NULL, why);
	}
	if (value != NULL) {
		*value = NULL;
		auth_user_key(p->user_id, key, sizeof(key));
	}
	snprintf(revkey, sizeof(revkey), REVOKED_PREFIX "%s", p->sid);
	if (limit > 0 && window_s > 0 &&
	    (nrl = ratelimit_count(&rc, r->app, bucket, ip, limit, window_s,
	    cmds)) == 0 && rc.over) {
		ratelimit_refuse(r, rc.wait);
		return -1;
	}
	failed = lookup(r->app, &l, nrl, cmds, rr) != 0;
	if (nrl > 0) {
		over = ratelimit_counted(&rc, failed ? NULL : rr[1]);
		if (!failed) {
			freeReplyObject(rr[0]);
			freeReplyObject(rr[1]);
		}
	}
	if (over || (ar = revocation(r->app, &l, p->sid, &why)) != AUTH_OK) {
		free(l.last);
		if (over) {
			ratelimit_refuse(r, rc.wait);
			return -1;
		}
		return refuse(r, ar, true, why);
	}
	if (value != NULL)
		*value = l.last;
	return accept_principal(r, p);
}

int
auth_require_profile(struct req *r, struct principal *p, const char *bucket,
    long long limit, long long window_s, char **value)
{
	return require(r, p, bucket, limit, window_s, value, false);
}

int
auth_require_userinfo(struct req *r, struct principal *p, const char *bucket,
    long long limit, long long window_s)
{
	return require(r, p, bucket, limit, window_s, NULL, true);
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
	/* Every worker's copy is dropped before the caller answers. */
	if (rc == 0 && n > 0 && redis_settle(&app->redis) != 0) {
		log_error(&app->log, "revocations not confirmed by Redis: %s",
		    app->redis.errmsg);
		rc = -1;
	}
	return rc;
}

void
auth_user_key(const char *user_id, char *key, size_t keysz)
{
	snprintf(key, keysz, "hxb:me:%s", user_id);
}

void
auth_user_changed(struct app *app, const char *user_id)
{
	char		 key[128];
	const char	*argv[2] = { "DEL", key };
	redisReply	*rr;

	auth_user_key(user_id, key, sizeof(key));
	if ((rr = redis_cmd(&app->redis, 2, argv, NULL)) == NULL)
		log_warn(&app->log, "cannot drop the cached profile of %s "
		    "(it expires by itself): %s", user_id, app->redis.errmsg);
	else {
		freeReplyObject(rr);
		redis_settle(&app->redis);
	}
}
