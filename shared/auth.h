/*
 * auth: Hexabase's access tokens, for every handler.
 *
 * An access token is a JWT signed RS256 by the active signing key (see
 * keys.h), with iss HXB_ISSUER, sub the user id, aud "hexabase-api", exp,
 * iat, jti and sid, the session it was issued in.  Verification checks the
 * signature by kid, the algorithm, iss, aud and exp, and then that the
 * session has not been revoked: revoked session ids are a set in Redis
 * ("hxb:revoked:<sid>", each kept as long as an access token lives),
 * rebuilt from PostgreSQL whenever Redis has lost it (the marker
 * "hxb:revoked:ready" is missing), and checked in PostgreSQL directly
 * while Redis is unreachable.  The common case costs one RSA verification
 * and one Redis round trip, and no PostgreSQL.
 */
#ifndef HXB_AUTH_H
#define HXB_AUTH_H

#include <stdbool.h>

struct app;
struct req;

#define AUTH_AUDIENCE	"hexabase-api"
#define AUTH_ID_MAX	64

struct principal {
	char		 user_id[AUTH_ID_MAX];
	char		 sid[AUTH_ID_MAX];
	char		 jti[AUTH_ID_MAX];
	long long	 exp;		/* seconds since the epoch */
};

enum auth_result {
	AUTH_OK,
	AUTH_INVALID,		/* refused; the reason is in *why */
	AUTH_UNAVAILABLE	/* revocation could not be checked */
};

/*
 * Sign an access token for a user's session, valid for
 * HXB_ACCESS_TOKEN_TTL_S but never past `not_after` (the session's end,
 * seconds since the epoch; 0 for none).  Returns a malloc'd token and its
 * exp, or NULL (logged) if there is no usable signing key.
 */
char		*auth_issue(struct app *, const char *user_id, const char *sid,
		    long long not_after, long long *exp);

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
 * Add revoked sessions to the Redis set, after their revocation has been
 * committed to PostgreSQL.  0, or -1 if Redis could not be told (logged;
 * verification then learns it from PostgreSQL when Redis recovers only if
 * Redis lost its data, so callers should report the failure).
 */
int		 auth_revoked(struct app *, const char *const *sids, size_t n);

#endif
