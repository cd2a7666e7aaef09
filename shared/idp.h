/*
 * idp: the external identity providers users sign in with.
 *
 * Providers are configured in the environment, any number of them:
 * HXB_IDP_<NAME>_KIND (oidc or github), _ISSUER (oidc), _CLIENT_ID,
 * _CLIENT_SECRET or _CLIENT_SECRET_FILE, _SCOPES, and for github _AUTH_URL,
 * _TOKEN_URL and _API_URL.  The provider's name in URLs is NAME in
 * lowercase.
 *
 * The oidc kind reads the issuer's discovery document and runs the
 * authorization-code flow with PKCE (S256), state and nonce; the ID token
 * is verified in full (signature by kid against the provider's JWKS, which
 * is cached and fetched again when an unknown kid arrives; the algorithm
 * against an allow-list; iss, aud, azp, exp, iat, nbf and the nonce).  The
 * github kind runs GitHub's OAuth code flow and reads GET /user and GET
 * /user/emails.  Either way the result is a subject and a verified email;
 * a provider that cannot vouch for the email does not sign anyone in.
 *
 * Ownership: an idp_set owns its providers and their caches.
 */
#ifndef HXB_IDP_H
#define HXB_IDP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "http.h"

struct app;
struct buf;

#define IDP_NAME_MAX	33

enum idp_kind {
	IDP_OIDC,
	IDP_GITHUB,
	IDP_KIND__MAX
};

struct idp {
	char		 name[IDP_NAME_MAX];	/* lowercase, as in URLs */
	enum idp_kind	 kind;
	char		*issuer;
	char		*client_id;
	char		*client_secret;
	char		*scopes;
	char		*auth_url;		/* github, or from discovery */
	char		*token_url;
	char		*api_url;		/* github */

	/* oidc: what discovery said, and the JWKS; refreshed as needed. */
	char		*jwks_uri;
	char		*userinfo_url;
	bool		 basic_auth;		/* client_secret_basic */
	bool		 iss_param;		/* RFC 9207: iss in responses */
	unsigned int	 algs;			/* allowed ID token algs, bits */
	long long	 discovered_ms;
	json_t		*jwks;
	long long	 jwks_ms;
};

struct idp_set {
	struct idp	*v;
	size_t		 n;
};

struct idp_user {
	char		*subject;
	char		*email;		/* verified */
	char		*name;
	char		*avatar_url;	/* https, or NULL */
};

struct idp_err {
	enum problem	 problem;	/* what to answer */
	char		 detail[256];
	char		 code[64];	/* the IdP's error code, if it sent one */
};

/*
 * Read every provider from `env` (environ when NULL).  Problems are
 * appended to `err` one a line; returns 0 or -1.
 */
int		 idp_load(struct idp_set *, char **env, struct buf *err);
void		 idp_free(struct idp_set *);
struct idp	*idp_find(struct idp_set *, const char *name);
const char	*idp_kind_name(enum idp_kind);

/* The authorization URL to send the browser to. */
int		 idp_auth_url(struct app *, struct idp *,
		    const char *redirect_uri, const char *state,
		    const char *nonce, const char *code_challenge,
		    struct buf *url, struct idp_err *);

/*
 * RFC 9207: the iss parameter of an authorization response (NULL if
 * absent) must be the provider's issuer, and must be there if the
 * provider says it sends it.  0, or -1 with e filled in.
 */
int		 idp_check_iss(struct app *, struct idp *, const char *iss,
		    struct idp_err *);

/* Redeem the code and establish who signed in. */
int		 idp_finish(struct app *, struct idp *, const char *code,
		    const char *redirect_uri, const char *code_verifier,
		    const char *nonce, struct idp_user *, struct idp_err *);

/*
 * Verify an ID token against the provider (exposed for tests).  On
 * success *claims is a new reference to the payload.
 */
int		 idp_verify_id_token(struct app *, struct idp *,
		    const char *token, const char *nonce, json_t **claims,
		    struct idp_err *);

void		 idp_user_free(struct idp_user *);

#endif
