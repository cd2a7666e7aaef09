/*
 * auth: Hexabase's access tokens, for every handler.
 *
 * An access token is a JWT signed RS256 by the active signing key (see
 * keys.h), with iss HXB_ISSUER, sub the user id, aud "hexabase-api", exp,
 * iat, nbf, jti, sid (the session it was issued in) and idp (the identity
 * provider of that session).  Verification checks the
 * signature by kid, the algorithm, iss, aud and exp, and then that the
 * session has not been revoked: revoked session ids are a set in Redis
 * ("hxb:revoked:<sid>", each kept as long as an access token lives),
 * rebuilt from PostgreSQL whenever Redis has lost it (the marker
 * "hxb:revoked:ready" is missing), and checked in PostgreSQL directly
 * while Redis is unreachable.
 *
 * Each worker keeps its own copy of the markers it has read, through
 * Redis client-side tracking (redis_tracking(), near.h): Redis tells it
 * when one changes, and a revocation is settled (redis_settle()) before
 * it is answered, so every worker refuses the session in the next request
 * it starts.  The common case, a token this worker has seen, costs a
 * string comparison, a non-blocking read of the invalidation connection
 * and no round trip; a new token costs one RSA verification and one Redis
 * round trip, and never PostgreSQL.
 */
#ifndef HXB_AUTH_H
#define HXB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct app;
struct req;

#define AUTH_AUDIENCE	"hexabase-api"
/* A workspace OAuth client's access token: good for /oauth2/userinfo only. */
#define AUTH_USERINFO_AUDIENCE "hexabase-userinfo"
#define AUTH_ID_MAX	64

struct principal {
	char		 user_id[AUTH_ID_MAX];
	char		 sid[AUTH_ID_MAX];
	char		 jti[AUTH_ID_MAX];
	char		 idp[AUTH_ID_MAX];	/* the provider signed in with */
	long long	 exp;		/* seconds since the epoch */
	bool		 userinfo_only;	/* aud AUTH_USERINFO_AUDIENCE */
};

enum auth_result {
	AUTH_OK,
	AUTH_INVALID,		/* refused; the reason is in *why */
	AUTH_UNAVAILABLE	/* revocation could not be checked */
};

/*
 * Sign `claims` with the active key after adding iss (HXB_ISSUER), iat
 * and nbf (`now`) and a random jti: every token Hexabase issues.  Returns
 * a malloc'd token, or NULL (logged as `what`) if it cannot be signed.
 */
char		*auth_sign(struct app *, json_t *claims, long long now,
		    const char *what);

/*
 * Sign an ID token for OAuth 2.0 client `aud` (a workspace id, whose
 * vCluster trusts it, or the kubectl plugin's client id), valid until
 * `exp`.  `groups` (the effective groups by name) and the workspace_id
 * claim are set for a workspace; `email` and `nonce` may be NULL.
 * Returns a malloc'd token, or NULL (logged).
 */
char		*auth_id_token(struct app *, const char *user_id,
		    const char *aud, json_t *groups, const char *email,
		    const char *nonce, long long now, long long exp);

/*
 * Sign an access token for a user's session, valid for
 * HXB_ACCESS_TOKEN_TTL_S but never past `not_after` (the session's end,
 * seconds since the epoch; 0 for none).  Returns a malloc'd token and its
 * exp, or NULL (logged) if there is no usable signing key.
 */
char		*auth_issue(struct app *, const char *user_id, const char *sid,
		    const char *idp, long long not_after, long long *exp);
/* The same with audience AUTH_USERINFO_AUDIENCE. */
char		*auth_issue_userinfo(struct app *, const char *user_id,
		    const char *sid, const char *idp, long long not_after,
		    long long *exp);

/* Verify a token string (see the top of this file). */
enum auth_result auth_verify(struct app *, const char *token,
		    struct principal *, const char **why);

/*
 * Authenticate the request from "Authorization: Bearer <token>".  On
 * success fills `p`, records the user in the log line and returns 0.
 * Otherwise it has answered (401 with WWW-Authenticate, or 503) and
 * returns -1.
 */
int		 auth_require(struct req *, struct principal *);

/*
 * auth_require(), with the request also counted against a per-address
 * limit (see ratelimit.h) in the same Redis round trip as the revocation
 * check: 429 when over the limit, whatever the token.
 */
int		 auth_require_limited(struct req *, struct principal *,
		    const char *bucket, long long limit, long long window_s);

/*
 * The same, also reading the caller's profile (auth_user_key()) from
 * Redis in that round trip, for a cache-aside read on the hot path:
 * *profile is a malloc'd copy, or NULL if it is not cached or Redis could
 * not be asked.
 */
int		 auth_require_profile(struct req *, struct principal *,
		    const char *bucket, long long limit, long long window_s,
		    char **profile);

/*
 * auth_require_limited() that also takes a workspace client's access
 * token (AUTH_USERINFO_AUDIENCE), which every other route refuses: for
 * /oauth2/userinfo.
 */
int		 auth_require_userinfo(struct req *, struct principal *,
		    const char *bucket, long long limit, long long window_s);

/* Forget the tokens this process has verified (at exit, for leak checks). */
void		 auth_cache_clear(void);

/*
 * The user's profile as GET /auth/me shows it (email, name, avatar and
 * organization memberships) is cached in Redis under auth_user_key() for
 * HXB_ME_CACHE_S.  Whatever changes any of it calls auth_user_changed()
 * after committing; the expiry bounds the staleness if that call fails.
 */
void		 auth_user_key(const char *user_id, char *key, size_t keysz);
void		 auth_user_changed(struct app *, const char *user_id);

/*
 * Add revoked sessions to the Redis set, after their revocation has been
 * committed to PostgreSQL.  0, or -1 if Redis could not be told (logged;
 * verification then learns it from PostgreSQL when Redis recovers only if
 * Redis lost its data, so callers should report the failure).
 */
int		 auth_revoked(struct app *, const char *const *sids, size_t n);

#endif
