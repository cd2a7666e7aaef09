/*
 * auth: sign-in through external identity providers, and sessions.
 *
 *   GET    /auth/providers			the configured providers
 *   POST   /auth/login/{provider}		{redirect_to?} -> {auth_url, state}
 *   GET    /auth/login/{provider}?redirect_to	302 to the provider
 *   GET    /auth/callback/{provider}?code&state
 *					user, session, refresh cookie; 302 to
 *					redirect_to or HXB_UI_URL, or JSON
 *   POST   /auth/refresh			{refresh_token?} or the cookie
 *   POST   /auth/logout			ends this session
 *   GET    /auth/me				who am I, and my organizations
 *   GET    /auth/sessions			my live sessions
 *   DELETE /auth/sessions/{sessionId}		end one of them
 *   POST   /auth/sessions/revoke-all		{keep_current?} end all
 *   GET    /oauth2/authorize			authorization code + PKCE, for
 *						public clients on a loopback
 *						redirect: sign-in, then a code
 *   POST   /oauth2/token			code or refresh token -> tokens
 *   GET    /oauth2/userinfo			the signed-in user's claims
 *
 * There are no passwords and no other way in.  A sign-in keeps its state,
 * nonce and PKCE verifier in Redis for ten minutes under a random state
 * that is taken (GETDEL) exactly once.  A session hands out an access
 * token (see shared/auth.h) and a refresh token: 256 random bits, stored
 * only as a SHA-256 hash, rotated on every use; presenting a rotated one
 * again revokes the whole session.  Every sign-in, failure, reuse, logout
 * and revocation is written to audit_log.
 *
 * The /oauth2 endpoints make Hexabase an OAuth 2.0 authorization server
 * for public clients (RFC 6749, RFC 7636 with S256 only, RFC 8252
 * loopback redirects, RFC 9207 iss): the kubectl plugin (client id
 * hexabase-cli, which gets a platform session like the web UI's) and
 * off-the-shelf OIDC clients such as kubelogin with a workspace id as the
 * client id, which get that workspace's ID token and a refresh token good
 * only at /oauth2/token for it.  The authorization request rides in the
 * sign-in state; the code lives 60 s in Redis, taken once.
 */
#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "crypto.h"
#include "cursor.h"
#include "httpc.h"
#include "idp.h"
#include "jsonw.h"
#include "log.h"
#include "page.h"
#include "ratelimit.h"

#define LOGIN_TTL_S	600
#define REDIRECT_MAX	1024
#define RANDOM_LEN	32		/* bytes: 256 bits */
#define B64_RANDOM	43		/* base64url of RANDOM_LEN */
#define RT_PREFIX	"hxbrt_"
#define RT_LEN		(sizeof(RT_PREFIX) - 1 + B64_RANDOM)
#define COOKIE_NAME	"hxb_refresh"
#define CLI_CLIENT	"hexabase-cli"
#define CODE_TTL_S	"60"
#define VERIFIER_CHARS	\
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

struct state {
	struct idp_set	 idps;
};

static struct idp_set *
idps(struct req *r)
{
	return &((struct state *)r->app->arg)->idps;
}

/* ---- routes ----------------------------------------------------------- */

static void	 list_providers(struct req *);
static void	 login_post(struct req *);
static void	 login_get(struct req *);
static void	 callback(struct req *);
static void	 refresh(struct req *);
static void	 logout(struct req *);
static void	 me(struct req *);
static void	 list_sessions(struct req *);
static void	 delete_session(struct req *);
static void	 revoke_all(struct req *);
static void	 authorize(struct req *);
static void	 token(struct req *);
static void	 userinfo(struct req *);

static const struct field login_body[] = {
	{ "redirect_to", FIELD_STRING, false, true, 1, REDIRECT_MAX, NULL,
	    NULL },
	{ NULL },
};

static const struct field login_query[] = {
	{ "redirect_to", FIELD_STRING, false, false, 1, REDIRECT_MAX, NULL,
	    NULL },
	{ NULL },
};

enum cb_field { CB_CODE, CB_STATE, CB_ERROR, CB_ERROR_DESC, CB_ISS, CB_ANY };

static const struct field callback_query[] = {
	[CB_CODE] = { "code", FIELD_STRING, false, false, 1, 2048, NULL,
	    NULL },
	[CB_STATE] = { "state", FIELD_STRING, false, false, 1, 256, NULL,
	    NULL },
	[CB_ERROR] = { "error", FIELD_STRING, false, false, 1, 64,
	    "[A-Za-z0-9_.-]+", "an OAuth error code" },
	[CB_ERROR_DESC] = { "error_description", FIELD_STRING, false, false,
	    0, 1024, NULL, NULL },
	[CB_ISS] = { "iss", FIELD_STRING, false, false, 1, 1024, NULL, NULL },
	/* Providers add their own (iss, scope, session_state, hd...). */
	[CB_ANY] = { "*", FIELD_STRING, false, false, 0, 0, NULL, NULL },
	{ NULL },
};

static const struct field refresh_body[] = {
	{ "refresh_token", FIELD_STRING, false, false, 1, 128, NULL, NULL },
	{ NULL },
};

static const struct field revoke_all_body[] = {
	{ "keep_current", FIELD_BOOL, false, false, 0, 0, NULL, NULL },
	{ NULL },
};

enum az_field { AZ_RESPONSE_TYPE, AZ_CLIENT_ID, AZ_REDIRECT_URI, AZ_SCOPE,
	AZ_STATE, AZ_NONCE, AZ_CHALLENGE, AZ_METHOD, AZ_IDP, AZ_ANY };

/* Checked by authorize() itself: most errors go back to the client. */
static const struct field authorize_query[] = {
	[AZ_RESPONSE_TYPE] = { "response_type", FIELD_STRING, false, false,
	    0, 64, NULL, NULL },
	[AZ_CLIENT_ID] = { "client_id", FIELD_STRING, false, false, 0, 64,
	    NULL, NULL },
	[AZ_REDIRECT_URI] = { "redirect_uri", FIELD_STRING, false, false, 0,
	    REDIRECT_MAX, NULL, NULL },
	[AZ_SCOPE] = { "scope", FIELD_STRING, false, false, 0, 512, NULL,
	    NULL },
	[AZ_STATE] = { "state", FIELD_STRING, false, false, 0, 512, NULL,
	    NULL },
	[AZ_NONCE] = { "nonce", FIELD_STRING, false, false, 0, 512, NULL,
	    NULL },
	[AZ_CHALLENGE] = { "code_challenge", FIELD_STRING, false, false, 0,
	    128, NULL, NULL },
	[AZ_METHOD] = { "code_challenge_method", FIELD_STRING, false, false,
	    0, 16, NULL, NULL },
	[AZ_IDP] = { "idp", FIELD_STRING, false, false, 1, IDP_NAME_MAX - 1,
	    NULL, NULL },
	/* RFC 6749 section 3.1: unknown parameters are ignored. */
	[AZ_ANY] = { "*", FIELD_STRING, false, false, 0, 0, NULL, NULL },
	{ NULL },
};

enum tk_field { TK_GRANT, TK_CODE, TK_REDIRECT_URI, TK_CLIENT_ID,
	TK_VERIFIER, TK_REFRESH, TK_ANY, TK_FORM };

static const struct field token_body[] = {
	[TK_GRANT] = { "grant_type", FIELD_STRING, false, false, 0, 64, NULL,
	    NULL },
	[TK_CODE] = { "code", FIELD_STRING, false, false, 0, 128, NULL, NULL },
	[TK_REDIRECT_URI] = { "redirect_uri", FIELD_STRING, false, false, 0,
	    REDIRECT_MAX, NULL, NULL },
	[TK_CLIENT_ID] = { "client_id", FIELD_STRING, false, false, 0, 64,
	    NULL, NULL },
	[TK_VERIFIER] = { "code_verifier", FIELD_STRING, false, false, 0, 128,
	    NULL, NULL },
	[TK_REFRESH] = { "refresh_token", FIELD_STRING, false, false, 0, 128,
	    NULL, NULL },
	[TK_ANY] = { "*", FIELD_STRING, false, false, 0, 0, NULL, NULL },
	[TK_FORM] = { FIELD_FORM, FIELD_STRING, false, false, 0, 0, NULL,
	    NULL },
	{ NULL },
};

static const struct route routes[] = {
	{ HTTP_GET, "/auth/providers", list_providers, PERM_PUBLIC,
	    "list_providers", NULL, NULL },
	{ HTTP_POST, "/auth/login/{provider}", login_post, PERM_PUBLIC,
	    "login", login_body, NULL },
	{ HTTP_GET, "/auth/login/{provider}", login_get, PERM_PUBLIC, "login",
	    NULL, login_query },
	{ HTTP_GET, "/auth/callback/{provider}", callback, PERM_PUBLIC,
	    "callback", NULL, callback_query },
	{ HTTP_POST, "/auth/refresh", refresh, PERM_PUBLIC, "refresh",
	    refresh_body, NULL },
	{ HTTP_POST, "/auth/logout", logout, PERM_SIGNED_IN, "logout", NULL,
	    NULL },
	{ HTTP_GET, "/auth/me", me, PERM_SIGNED_IN, "me", NULL, NULL },
	{ HTTP_GET, "/auth/sessions", list_sessions, PERM_SIGNED_IN,
	    "list_sessions", NULL, page_query },
	{ HTTP_DELETE, "/auth/sessions/{sessionId}", delete_session,
	    PERM_SIGNED_IN, "revoke_session", NULL, NULL },
	{ HTTP_POST, "/auth/sessions/revoke-all", revoke_all, PERM_SIGNED_IN,
	    "revoke_all_sessions", revoke_all_body, NULL },
	{ HTTP_GET, "/oauth2/authorize", authorize, PERM_PUBLIC,
	    "oauth2_authorize", NULL, authorize_query },
	{ HTTP_POST, "/oauth2/token", token, PERM_PUBLIC, "oauth2_token",
	    token_body, NULL },
	{ HTTP_GET, "/oauth2/userinfo", userinfo, PERM_SIGNED_IN,
	    "oauth2_userinfo", NULL, NULL },
	{ HTTP_POST, "/oauth2/userinfo", userinfo, PERM_SIGNED_IN,
	    "oauth2_userinfo", NULL, NULL },
};

/* ---- statements ------------------------------------------------------- */

static const struct db_stmt st_lock = { "auth_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1 };

static const struct db_stmt st_identity = { "auth_identity",
    "SELECT user_id FROM user_identities WHERE provider = $1 AND "
    "subject = $2", 2 };

static const struct db_stmt st_identity_touch = { "auth_identity_touch",
    "UPDATE user_identities SET email = $3, last_login_at = now() "
    "WHERE provider = $1 AND subject = $2", 3 };

static const struct db_stmt st_user_touch = { "auth_user_touch",
    "UPDATE users SET last_login_at = now(), "
    "display_name = CASE WHEN $2 = '' THEN display_name ELSE $2 END, "
    "avatar_url = coalesce($3, avatar_url), "
    "email = CASE WHEN EXISTS (SELECT 1 FROM users o WHERE "
    "lower(o.email) = lower($4) AND o.id <> $1) THEN email ELSE $4 END, "
    "email_verified = true WHERE id = $1", 4 };

static const struct db_stmt st_user_by_email = { "auth_user_by_email",
    "SELECT id FROM users WHERE lower(email) = lower($1)", 1 };

static const struct db_stmt st_user_insert = { "auth_user_insert",
    "INSERT INTO users (id, email, email_verified, display_name, "
    "avatar_url, last_login_at) VALUES ($1, $2, true, $3, $4, now())", 4 };

static const struct db_stmt st_identity_insert = { "auth_identity_insert",
    "INSERT INTO user_identities (provider, subject, user_id, email) "
    "VALUES ($1, $2, $3, $4)", 4 };

static const struct db_stmt st_org_insert = { "auth_org_insert",
    "INSERT INTO organizations (id, name, display_name, is_personal) "
    "VALUES ($1, $2, $3, true)", 3 };

static const struct db_stmt st_member_insert = { "auth_member_insert",
    "INSERT INTO organization_users (organization_id, user_id, role) "
    "VALUES ($1, $2, 'admin')", 2 };

static const struct db_stmt st_session_insert = { "auth_session_insert",
    "INSERT INTO sessions (id, user_id, provider, expires_at, ip, "
    "user_agent, client_id) VALUES ($1, $2, $3, "
    "now() + make_interval(secs => $4::int), $5::inet, left($6, 512), $7) "
    "RETURNING extract(epoch FROM expires_at)::bigint", 7 };

static const struct db_stmt st_rt_insert = { "auth_rt_insert",
    "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) "
    "SELECT decode($1, 'hex'), $2, least(s.expires_at, now() + "
    "make_interval(secs => $3::int)) FROM sessions s WHERE s.id = $2", 3 };

static const struct db_stmt st_user_get = { "auth_user_get",
    "SELECT id, email, display_name, avatar_url FROM users WHERE id = $1",
    1 };

static const struct db_stmt st_rt_rotate = { "auth_rt_rotate",
    "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = "
    "decode($1, 'hex') AND rotated_at IS NULL AND expires_at > now() "
    "RETURNING session_id", 1 };

static const struct db_stmt st_rt_find = { "auth_rt_find",
    "SELECT session_id, rotated_at IS NOT NULL FROM refresh_tokens "
    "WHERE token_hash = decode($1, 'hex')", 1 };

static const struct db_stmt st_session_use = { "auth_session_use",
    "UPDATE sessions SET last_used_at = now(), ip = coalesce($2::inet, ip) "
    "WHERE id = $1 AND revoked_at IS NULL AND expires_at > now() "
    "RETURNING user_id, extract(epoch FROM expires_at)::bigint, provider, "
    "coalesce(client_id, '')", 2 };

static const struct db_stmt st_session_revoke = { "auth_session_revoke",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = $2 "
    "WHERE id = $1 AND revoked_at IS NULL RETURNING id, user_id", 2 };

static const struct db_stmt st_session_revoke_own = { "auth_session_revoke_own",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = 'revoked' "
    "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING id", 2 };

static const struct db_stmt st_session_own = { "auth_session_own",
    "SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2", 2 };

static const struct db_stmt st_session_revoke_all = { "auth_session_revoke_all",
    "UPDATE sessions SET revoked_at = now(), revoke_reason = 'revoke_all' "
    "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() "
    "AND NOT ($2::bool AND id = $3) RETURNING id", 3 };

/* One row per organization (or one with NULLs), the cheapest plan. */
static const struct db_stmt st_me = { "auth_me",
    "SELECT u.id, u.email, u.display_name, u.avatar_url, o.id, o.name, "
    "m.role FROM users u "
    "LEFT JOIN organization_users m ON m.user_id = u.id "
    "LEFT JOIN organizations o ON o.id = m.organization_id "
    "WHERE u.id = $1 ORDER BY o.name LIMIT 1000", 1 };

static const struct db_stmt st_sessions = { "auth_sessions",
    "SELECT id, provider, hxb_ts(created_at), hxb_ts(last_used_at), "
    "hxb_ts(expires_at), host(ip), user_agent FROM sessions "
    "WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now() "
    "AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3::int", 3 };

/* ---- helpers ---------------------------------------------------------- */

/* `n` random bytes as base64url into out (at least 4n/3 + 2 bytes). */
static int
random_b64(char *out, size_t outsz, size_t n)
{
	unsigned char	 rnd[64];
	struct buf	 b = BUF_INIT(128);
	int		 rc = -1;

	if (n > sizeof(rnd) || crypto_random(rnd, n) != 0)
		return -1;
	b64url_encode(&b, rnd, n);
	if (!b.failed && b.len < outsz) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
		rc = 0;
	}
	OPENSSL_cleanse(rnd, sizeof(rnd));
	buf_release(&b);
	return rc;
}

static void
sha256_hex(const char *s, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	unsigned char	 h[CRYPTO_SHA256_LEN];
	struct buf	 b = BUF_INIT(2 * CRYPTO_SHA256_LEN + 1);

	crypto_sha256(s, strlen(s), h);
	crypto_hex(&b, h, sizeof(h));
	snprintf(out, 2 * CRYPTO_SHA256_LEN + 1, "%s", buf_cstr(&b));
	buf_release(&b);
}

/* The client address if it is an IP address, for inet columns. */
static const char *
client_ip(const struct req *r)
{
	const char	*a = r->remote_addr;

	return a != NULL && *a != '\0' && strspn(a, "0123456789abcdefABCDEF.:")
	    == strlen(a) ? a : NULL;
}

/*
 * A same-origin path: starts with one "/" (not "//", which is another
 * host, nor "/\", which browsers read the same way), printable ASCII, no
 * backslash anywhere.
 */
static bool
redirect_ok(const char *s)
{
	const char	*p;

	if (s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return false;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '\\')
			return false;
	return true;
}

static void
redirect_refused(struct req *r)
{
	json_t	*errors = json_array();

	validate_error(errors, "redirect_to", "must be a path on this site, "
	    "starting with a single /");
	http_problem(r, PROBLEM_VALIDATION, "redirect_to must stay on this "
	    "site", errors);
}

static int
limit_signin(struct req *r)
{
	return ratelimit_check(r, "auth", config_int(&r->app->cfg,
	    CFG_AUTH_RATE_LIMIT), config_int(&r->app->cfg,
	    CFG_AUTH_RATE_WINDOW_S));
}

/* The authenticated routes: token, revocation and count in one go. */
static int
session_auth(struct req *r, struct principal *pr)
{
	return auth_require_limited(r, pr, "auth-session",
	    config_int(&r->app->cfg, CFG_AUTH_SESSION_RATE_LIMIT),
	    config_int(&r->app->cfg, CFG_AUTH_RATE_WINDOW_S));
}

static struct idp *
provider(struct req *r)
{
	const char	*name = http_param(r, "provider");
	struct idp	*p;

	if ((p = idp_find(idps(r), name)) == NULL) {
		http_problemf(r, PROBLEM_NOT_FOUND, "no identity provider "
		    "is called %s", name);
		return NULL;
	}
	http_set_resource(r, "auth/providers/%s", p->name);
	return p;
}

static void
redirect_uri(struct req *r, const struct idp *p, struct buf *b)
{
	const char	*base = config_str(&r->app->cfg, CFG_PUBLIC_URL);
	size_t		 n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_add(b, base, n);
	buf_addf(b, "/auth/callback/%s", p->name);
}

static void
idp_problem(struct req *r, const struct idp_err *e)
{
	json_t	*ext = NULL;

	if (e->code[0] != '\0')
		ext = json_pack("{s:s}", "idp_error", e->code);
	http_problem_ext(r, e->problem, e->detail, NULL, ext);
}

static void
set_refresh_cookie(struct req *r, const char *token, long long max_age)
{
	char	 v[512];

	snprintf(v, sizeof(v), COOKIE_NAME "=%s; Path=/auth; Max-Age=%lld; "
	    "HttpOnly; SameSite=Lax%s", token, max_age,
	    config_bool(&r->app->cfg, CFG_DEV_MODE) ? "" : "; Secure");
	http_header(r, "Set-Cookie", v);
}

/* An audit row in its own transaction, for refusals. */
static void
audit_alone(struct req *r, const struct audit *a)
{
	if (db_begin(&r->app->db) != 0)
		return;
	if (audit_write(r, a) != 0) {
		db_rollback(&r->app->db);
		return;
	}
	(void)db_commit(&r->app->db);
}

static void
audit_login_failure(struct req *r, const struct idp *p, const char *reason,
    const char *idp_error)
{
	char		 res[64];
	json_t		*after;
	struct audit	 a = { 0 };

	snprintf(res, sizeof(res), "auth/providers/%s", p->name);
	after = json_pack("{s:s, s:s?}", "reason", reason, "idp_error",
	    idp_error != NULL && *idp_error != '\0' ? idp_error : NULL);
	a.action = "auth.login";
	a.resource = res;
	a.failure = true;
	a.after = after;
	audit_alone(r, &a);
	json_decref(after);
}

/* ---- sign-in ---------------------------------------------------------- */

/*
 * Start a sign-in at provider `p`: keep state, nonce and PKCE verifier
 * (and, for an OAuth 2.0 authorization request, `oauth2`) in Redis, and
 * send the browser, or the caller's JSON, to the provider.
 */
static void
login_start(struct req *r, struct idp *p, const char *redirect_to,
    json_t *oauth2, bool browser)
{
	char		 state[B64_RANDOM + 1], nonce[B64_RANDOM + 1];
	char		 verifier[B64_RANDOM + 1], key[64];
	unsigned char	 h[CRYPTO_SHA256_LEN];
	struct buf	 challenge = BUF_INIT(64), url = BUF_INIT(8192);
	struct buf	 cb = BUF_INIT(2048);
	struct idp_err	 e;
	json_t		*saved = NULL;
	char		*js = NULL;
	const char	*argv[6];
	redisReply	*rr;

	if (random_b64(state, sizeof(state), RANDOM_LEN) != 0 ||
	    random_b64(nonce, sizeof(nonce), RANDOM_LEN) != 0 ||
	    random_b64(verifier, sizeof(verifier), RANDOM_LEN) != 0) {
		http_problem(r, PROBLEM_UNAVAILABLE, "no randomness", NULL);
		goto out;
	}
	/* RFC 7636 section 4.2: S256. */
	crypto_sha256(verifier, strlen(verifier), h);
	b64url_encode(&challenge, h, sizeof(h));
	redirect_uri(r, p, &cb);
	if (idp_auth_url(r->app, p, buf_cstr(&cb), state, nonce,
	    buf_cstr(&challenge), &url, &e) != 0) {
		idp_problem(r, &e);
		goto out;
	}
	saved = json_pack("{s:s, s:s, s:s, s:s?, s:O*}", "provider", p->name,
	    "nonce", nonce, "verifier", verifier, "redirect_to", redirect_to,
	    "oauth2", oauth2);
	if (saved == NULL || (js = json_dumps(saved, JSON_COMPACT)) == NULL) {
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
		goto out;
	}
	snprintf(key, sizeof(key), "hxb:login:%s", state);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = js;
	argv[3] = "EX";
	argv[4] = "600";
	argv[5] = "NX";
	if ((rr = redis_cmd(&r->app->redis, 6, argv, NULL)) == NULL ||
	    rr->type != REDIS_REPLY_STATUS) {
		if (rr != NULL)
			freeReplyObject(rr);
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "sign-in is unavailable "
		    "for a moment; try again", NULL);
		goto out;
	}
	freeReplyObject(rr);
	if (browser)
		http_redirect(r, buf_cstr(&url));
	else
		http_json(r, 200, json_pack("{s:s, s:s}", "auth_url",
		    buf_cstr(&url), "state", state));
out:
	json_decref(saved);
	free(js);
	buf_release(&challenge);
	buf_release(&url);
	buf_release(&cb);
}

static void
login(struct req *r, const char *redirect_to, bool browser)
{
	struct idp	*p;

	if (limit_signin(r) != 0 || (p = provider(r)) == NULL)
		return;
	if (redirect_to != NULL && !redirect_ok(redirect_to)) {
		redirect_refused(r);
		return;
	}
	login_start(r, p, redirect_to, NULL, browser);
}

static void
login_post(struct req *r)
{
	login(r, valid_str(&r->body, 0), false);
}

static void
login_get(struct req *r)
{
	login(r, valid_str(&r->qv, 0), true);
}

/* Take the JSON under Redis key `key`, once (GETDEL).  NULL if none. */
static json_t *
take_json(struct req *r, const char *key, bool *unavailable)
{
	const char	*argv[2] = { "GETDEL", key };
	redisReply	*rr;
	json_t		*j = NULL;

	*unavailable = false;
	if ((rr = redis_cmd(&r->app->redis, 2, argv, NULL)) == NULL ||
	    rr->type == REDIS_REPLY_ERROR)
		*unavailable = true;
	else if (rr->type == REDIS_REPLY_STRING)
		j = json_loadb(rr->str, rr->len, 0, NULL);
	if (rr != NULL)
		freeReplyObject(rr);
	return j;
}

/* Take the saved sign-in for `state`, once.  NULL if there is none. */
static json_t *
take_state(struct req *r, const char *state, bool *unavailable)
{
	char	 key[300];

	snprintf(key, sizeof(key), "hxb:login:%s", state);
	return take_json(r, key, unavailable);
}

/* A personal organization's name: a DNS label from the email, unique. */
static int
org_slug(const char *email, char out[64])
{
	char		 suffix[16];
	unsigned char	 rnd[6];
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	size_t		 i, n = 0;

	for (i = 0; email[i] != '\0' && email[i] != '@' && n < 40; i++) {
		char c = (char)tolower((unsigned char)email[i]);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[n++] = c;
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	if (n == 0 || !(out[0] >= 'a' && out[0] <= 'z')) {
		memmove(out + 1, out, n);
		out[0] = 'u';
		n++;
	}
	if (crypto_random(rnd, sizeof(rnd)) != 0)
		return -1;
	for (i = 0; i < sizeof(rnd); i++)
		suffix[i] = alpha[rnd[i] % 36];
	suffix[sizeof(rnd)] = '\0';
	snprintf(out + n, 64 - n, "-%s", suffix);
	return 0;
}

struct signin {
	char		 user_id[ID_BUFSZ];
	char		 sid[ID_BUFSZ];
	char		 refresh[RT_LEN + 1];
	long long	 session_end;
	bool		 created;	/* a new user */
	bool		 linked;	/* a new identity of an existing user */
};

static PGresult *
exec1(struct req *r, const struct db_stmt *st, const char *const *params)
{
	return db_exec(&r->app->db, st, params);
}

/* Insert a refresh token for session `sid`; the clear token into out. */
static int
refresh_token_new(struct req *r, const char *sid, char out[RT_LEN + 1])
{
	char		 rnd[B64_RANDOM + 1], hash[2 * CRYPTO_SHA256_LEN + 1];
	char		 ttl[24];
	const char	*params[3] = { hash, sid, ttl };
	PGresult	*res;

	if (random_b64(rnd, sizeof(rnd), RANDOM_LEN) != 0)
		return -1;
	snprintf(out, RT_LEN + 1, RT_PREFIX "%s", rnd);
	sha256_hex(out, hash);
	snprintf(ttl, sizeof(ttl), "%lld", config_int(&r->app->cfg,
	    CFG_REFRESH_TOKEN_TTL_S));
	if ((res = exec1(r, &st_rt_insert, params)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
session_new(struct req *r, const char *provider_name, const char *client,
    struct signin *s)
{
	char		 ttl[24];
	const char	*ua = http_env(r, "HTTP_USER_AGENT");
	const char	*params[7];
	PGresult	*res;

	if (id_new(&r->app->ids, ID_SES, s->sid) != 0)
		return -1;
	snprintf(ttl, sizeof(ttl), "%lld", config_int(&r->app->cfg,
	    CFG_SESSION_TTL_S));
	params[0] = s->sid;
	params[1] = s->user_id;
	params[2] = provider_name;
	params[3] = ttl;
	params[4] = client_ip(r);
	params[5] = ua != NULL ? ua : "";
	params[6] = client;
	if ((res = exec1(r, &st_session_insert, params)) == NULL)
		return -1;
	s->session_end = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	/* An OAuth client's first refresh token comes with its code. */
	if (client != NULL)
		return 0;
	return refresh_token_new(r, s->sid, s->refresh);
}

/*
 * The sign-in transaction: find or create the user (and, for a new one,
 * the personal organization), open a session (for OAuth 2.0 client
 * `client`, or NULL for the platform), record it.  Serialized per
 * identity and per email with advisory locks, so concurrent first
 * sign-ins of one person create one user and one organization.
 */
static int
signin_tx(struct req *r, const struct idp *p, const struct idp_user *u,
    const char *client, struct signin *s)
{
	struct buf	 lk = BUF_INIT(1024), lk2 = BUF_INIT(512);
	char		 org_id[ID_BUFSZ], slug[64], res_name[96];
	char		 display[256];
	const char	*params[6];
	PGresult	*res;
	json_t		*after = NULL;
	struct audit	 a = { 0 };
	int		 rc = -1;
	size_t		 i;

	memset(s, 0, sizeof(*s));
	buf_addf(&lk, "idp:%s:%s", p->name, u->subject);
	buf_addstr(&lk2, "email:");
	for (i = 0; u->email[i] != '\0'; i++)
		buf_addch(&lk2, (char)tolower((unsigned char)u->email[i]));
	if (lk.failed || lk2.failed || db_begin(&r->app->db) != 0)
		goto out;
	params[0] = buf_cstr(&lk);
	if ((res = exec1(r, &st_lock, params)) == NULL)
		goto out;
	PQclear(res);
	params[0] = buf_cstr(&lk2);
	if ((res = exec1(r, &st_lock, params)) == NULL)
		goto out;
	PQclear(res);

	params[0] = p->name;
	params[1] = u->subject;
	if ((res = exec1(r, &st_identity, params)) == NULL)
		goto out;
	if (PQntuples(res) == 1) {
		snprintf(s->user_id, sizeof(s->user_id), "%s",
		    PQgetvalue(res, 0, 0));
		PQclear(res);
		params[2] = u->email;
		if ((res = exec1(r, &st_identity_touch, params)) == NULL)
			goto out;
		PQclear(res);
	} else {
		PQclear(res);
		params[0] = u->email;
		if ((res = exec1(r, &st_user_by_email, params)) == NULL)
			goto out;
		if (PQntuples(res) == 1) {
			/* Same verified email: the same person (docs/AUTHZ.md). */
			snprintf(s->user_id, sizeof(s->user_id), "%s",
			    PQgetvalue(res, 0, 0));
			s->linked = true;
		}
		PQclear(res);
		if (!s->linked) {
			if (id_new(&r->app->ids, ID_USR, s->user_id) != 0 ||
			    id_new(&r->app->ids, ID_ORG, org_id) != 0 ||
			    org_slug(u->email, slug) != 0)
				goto out;
			params[0] = s->user_id;
			params[1] = u->email;
			params[2] = u->name;
			params[3] = u->avatar_url;
			if ((res = exec1(r, &st_user_insert, params)) == NULL)
				goto out;
			PQclear(res);
			/* The new user creates (and claims) the organization. */
			if (db_act_as(&r->app->db, s->user_id) != 0)
				goto out;
			snprintf(display, sizeof(display), "%.180s (personal)",
			    *u->name != '\0' ? u->name : u->email);
			params[0] = org_id;
			params[1] = slug;
			params[2] = display;
			if ((res = exec1(r, &st_org_insert, params)) == NULL)
				goto out;
			PQclear(res);
			params[0] = org_id;
			params[1] = s->user_id;
			if ((res = exec1(r, &st_member_insert, params)) ==
			    NULL)
				goto out;
			PQclear(res);
			s->created = true;
		}
		params[0] = p->name;
		params[1] = u->subject;
		params[2] = s->user_id;
		params[3] = u->email;
		if ((res = exec1(r, &st_identity_insert, params)) == NULL)
			goto out;
		PQclear(res);
	}
	params[0] = s->user_id;
	params[1] = u->name;
	params[2] = u->avatar_url;
	params[3] = u->email;
	if ((res = exec1(r, &st_user_touch, params)) == NULL)
		goto out;
	PQclear(res);
	if (session_new(r, p->name, client, s) != 0)
		goto out;

	snprintf(res_name, sizeof(res_name), "users/%s", s->user_id);
	after = json_pack("{s:s, s:s, s:b, s:b, s:s?}", "provider", p->name,
	    "session_id", s->sid, "new_user", s->created, "linked_identity",
	    s->linked, "client_id", client);
	a.organization_id = s->created ? org_id : NULL;
	a.actor_id = s->user_id;
	a.action = "auth.login";
	a.resource = res_name;
	a.after = after;
	if (audit_write(r, &a) != 0 || db_commit(&r->app->db) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		db_rollback(&r->app->db);
	json_decref(after);
	buf_release(&lk);
	buf_release(&lk2);
	return rc;
}

static json_t *
user_json(struct req *r, const char *user_id)
{
	const char	*params[1] = { user_id };
	PGresult	*res;
	json_t		*j = NULL;

	if ((res = exec1(r, &st_user_get, params)) == NULL)
		return NULL;
	if (PQntuples(res) == 1)
		j = json_pack("{s:s, s:s, s:s, s:s?}",
		    "id", PQgetvalue(res, 0, 0),
		    "email", PQgetvalue(res, 0, 1),
		    "name", PQgetvalue(res, 0, 2),
		    "avatar_url", PQgetisnull(res, 0, 3) ? NULL :
		    PQgetvalue(res, 0, 3));
	PQclear(res);
	return j;
}

/* The JSON answer of a sign-in or refresh. */
static void
token_answer(struct req *r, const char *user_id, const char *sid,
    const char *idp, const char *refresh_token, long long session_end,
    bool with_user)
{
	char		*at;
	long long	 exp, now = (long long)time(NULL);
	json_t		*body, *user = NULL;

	if ((at = auth_issue(r->app, user_id, sid, idp, session_end, &exp)) ==
	    NULL) {
		http_problem(r, PROBLEM_UNAVAILABLE, "tokens cannot be signed "
		    "right now; try again later", NULL);
		return;
	}
	if (with_user && (user = user_json(r, user_id)) == NULL) {
		free(at);
		db_problem(r);
		return;
	}
	body = json_pack("{s:s, s:s, s:I, s:s}", "access_token", at,
	    "token_type", "Bearer", "expires_in", (json_int_t)(exp - now),
	    "refresh_token", refresh_token);
	if (user != NULL)
		json_object_set_new(body, "user", user);
	OPENSSL_cleanse(at, strlen(at));
	free(at);
	http_json(r, 200, body);
}

static void	 oauth2_error_redirect(struct req *, json_t *oauth2,
		    const char *error, const char *desc);
static void	 oauth2_code(struct req *, json_t *oauth2,
		    const struct signin *);

/* A sign-in failed after its state was found: tell whoever started it. */
static void
signin_failed(struct req *r, json_t *oauth2, const struct idp_err *e)
{
	if (oauth2 != NULL)
		oauth2_error_redirect(r, oauth2, "access_denied", e->detail);
	else
		idp_problem(r, e);
}

static void
callback(struct req *r)
{
	struct idp	*p;
	const char	*code, *state, *err, *s;
	json_t		*saved = NULL, *oauth2 = NULL;
	struct idp_user	 u = { 0 };
	struct idp_err	 e = { 0 };
	struct buf	 cb = BUF_INIT(2048);
	struct signin	 si;
	bool		 unavailable = false;

	memset(&si, 0, sizeof(si));
	if (limit_signin(r) != 0 || (p = provider(r)) == NULL)
		goto out;
	code = valid_str(&r->qv, CB_CODE);
	state = valid_str(&r->qv, CB_STATE);
	err = valid_str(&r->qv, CB_ERROR);
	/* Taken first, so that a state is spent whatever happens next. */
	if (state != NULL)
		saved = take_state(r, state, &unavailable);
	if (unavailable) {
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "sign-in is unavailable "
		    "for a moment; start again", NULL);
		goto out;
	}
	if (saved == NULL || (s = json_string_value(json_object_get(saved,
	    "provider"))) == NULL || strcmp(s, p->name) != 0) {
		json_decref(saved);
		saved = NULL;
	} else if (!json_is_object(oauth2 = json_object_get(saved, "oauth2")))
		oauth2 = NULL;
	if (err != NULL) {
		audit_login_failure(r, p, "the provider returned an error",
		    err);
		snprintf(e.code, sizeof(e.code), "%s", err);
		snprintf(e.detail, sizeof(e.detail), "%s did not sign you "
		    "in: %s", p->name, err);
		e.problem = PROBLEM_SIGNIN_FAILED;
		signin_failed(r, oauth2, &e);
		goto out;
	}
	if (saved == NULL) {
		audit_login_failure(r, p, "unknown, expired or replayed state",
		    NULL);
		http_problem(r, PROBLEM_SIGNIN_FAILED, "the sign-in state is "
		    "unknown, expired or already used; start again", NULL);
		goto out;
	}
	if (code == NULL) {
		snprintf(e.detail, sizeof(e.detail), "the provider sent no "
		    "authorization code");
		e.problem = PROBLEM_SIGNIN_FAILED;
		signin_failed(r, oauth2, &e);
		goto out;
	}
	/*
	 * RFC 9207: a response names its issuer, so that a code from one
	 * provider is never redeemed at another (the mix-up attack).
	 */
	if (idp_check_iss(r->app, p, r->qv.present[CB_ISS] ?
	    r->qv.str[CB_ISS] : NULL, &e) != 0) {
		audit_login_failure(r, p, e.detail, NULL);
		signin_failed(r, oauth2, &e);
		goto out;
	}
	redirect_uri(r, p, &cb);
	if (idp_finish(r->app, p, code, buf_cstr(&cb),
	    json_string_value(json_object_get(saved, "verifier")),
	    json_string_value(json_object_get(saved, "nonce")), &u, &e) != 0) {
		audit_login_failure(r, p, e.detail, e.code);
		signin_failed(r, oauth2, &e);
		goto out;
	}
	if (signin_tx(r, p, &u, oauth2 == NULL ? NULL :
	    json_string_value(json_object_get(oauth2, "client_id")), &si) !=
	    0) {
		db_problem(r);
		goto out;
	}
	snprintf(r->user_id, sizeof(r->user_id), "%s", si.user_id);
	/* Name, avatar, email or (for a new user) organizations may differ. */
	auth_user_changed(r->app, si.user_id);
	if (oauth2 != NULL) {
		oauth2_code(r, oauth2, &si);
		goto out;
	}
	if (http_wants_json(r)) {
		token_answer(r, si.user_id, si.sid, p->name, si.refresh,
		    si.session_end, true);
		goto out;
	}
	set_refresh_cookie(r, si.refresh, config_int(&r->app->cfg,
	    CFG_REFRESH_TOKEN_TTL_S));
	s = json_string_value(json_object_get(saved, "redirect_to"));
	http_redirect(r, s != NULL ? s : config_str(&r->app->cfg,
	    CFG_UI_URL));
out:
	OPENSSL_cleanse(&si, sizeof(si));
	json_decref(saved);
	idp_user_free(&u);
	buf_release(&cb);
}

/* ---- refresh and logout ----------------------------------------------- */

static bool
refresh_format_ok(const char *t)
{
	return strlen(t) == RT_LEN && strncmp(t, RT_PREFIX,
	    sizeof(RT_PREFIX) - 1) == 0 && strspn(t + sizeof(RT_PREFIX) - 1,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
	    == B64_RANDOM;
}

/* An OAuth 2.0 error (RFC 6749 section 5.2), as a problem with its members. */
static void
oauth2_error(struct req *r, enum problem p, const char *error,
    const char *desc)
{
	http_problem_ext(r, p, desc, NULL, json_pack("{s:s, s:s}", "error",
	    error, "error_description", desc));
}

static void
refresh_refused(struct req *r, bool oauth2, const char *why)
{
	if (oauth2) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_grant", why);
		return;
	}
	http_header(r, "WWW-Authenticate", "Bearer realm=\"hexabase\", "
	    "error=\"invalid_token\"");
	http_problem(r, PROBLEM_UNAUTHORIZED, why, NULL);
}

/* A rotated token came back: someone holds a copy.  End the session. */
static void
refresh_reuse(struct req *r, bool oauth2, const char *sid)
{
	const char	*params[2] = { sid, "reuse" };
	char		 res_name[96], user[ID_BUFSZ] = "";
	PGresult	*res;
	json_t		*after;
	struct audit	 a = { 0 };

	if ((res = exec1(r, &st_session_revoke, params)) == NULL) {
		db_problem(r);
		return;
	}
	if (PQntuples(res) == 1)
		snprintf(user, sizeof(user), "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	snprintf(res_name, sizeof(res_name), "sessions/%s", sid);
	after = json_pack("{s:s}", "session_id", sid);
	a.actor_id = *user != '\0' ? user : NULL;
	a.action = "auth.refresh.reuse";
	a.resource = res_name;
	a.failure = true;
	a.after = after;
	if (audit_write(r, &a) != 0 || db_commit(&r->app->db) != 0) {
		json_decref(after);
		db_problem(r);
		return;
	}
	json_decref(after);
	(void)auth_revoked(r->app, &sid, 1);
	log_msg(&r->app->log, LOGL_WARN, __func__, r->request_id,
	    "refresh token reused; session %s revoked", sid);
	refresh_refused(r, oauth2, "this refresh token was already used; the "
	    "session has been ended");
}

/* A session whose refresh token was just rotated. */
struct rotated {
	char		 sid[ID_BUFSZ];
	char		 user[ID_BUFSZ];
	char		 idp[IDP_NAME_MAX];
	char		 fresh[RT_LEN + 1];
	long long	 end;
};

/*
 * In the transaction begun by the caller: session out->sid is still live
 * and was opened for `client` (NULL: the platform itself, whose sessions
 * the kubectl plugin's share); fill in out and give it a new refresh
 * token, committed.  Returns 0, or -1 with the refusal sent (see
 * refresh_refused()) and the transaction rolled back.
 */
static int
session_renew(struct req *r, const char *client, bool oauth2,
    struct rotated *out)
{
	const char	*params[2] = { out->sid, client_ip(r) };
	const char	*owner;
	PGresult	*res;
	bool		 ok;

	if ((res = exec1(r, &st_session_use, params)) == NULL)
		goto dbfail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_rollback(&r->app->db);
		refresh_refused(r, oauth2, "the session has ended");
		return -1;
	}
	owner = PQgetvalue(res, 0, 3);
	/* The plugin's sessions are platform sessions; a workspace's aren't. */
	if (client == NULL)
		ok = *owner == '\0' || strcmp(owner, CLI_CLIENT) == 0;
	else
		ok = strcmp(owner, client) == 0;
	if (!ok) {
		PQclear(res);
		db_rollback(&r->app->db);
		refresh_refused(r, oauth2, "this refresh token was issued to "
		    "another client");
		return -1;
	}
	snprintf(out->user, sizeof(out->user), "%s", PQgetvalue(res, 0, 0));
	out->end = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(out->idp, sizeof(out->idp), "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	if (refresh_token_new(r, out->sid, out->fresh) != 0 ||
	    db_commit(&r->app->db) != 0)
		goto dbfail;
	snprintf(r->user_id, sizeof(r->user_id), "%s", out->user);
	return 0;
dbfail:
	db_problem(r);
	return -1;
}

/*
 * Rotate refresh token `tok` of a session opened for `client` (NULL: the
 * platform itself, whose sessions the kubectl plugin's share).  Returns 0
 * with the new token committed, or -1 with the refusal sent: as a 401 for
 * /auth/refresh, or as an OAuth 2.0 error when `oauth2`.  A token of
 * another client's session is refused without being spent.
 */
static int
refresh_rotate(struct req *r, const char *tok, const char *client,
    bool oauth2, struct rotated *out)
{
	char		 hash[2 * CRYPTO_SHA256_LEN + 1];
	const char	*params[1];
	PGresult	*res;
	bool		 rotated;

	memset(out, 0, sizeof(*out));
	if (!refresh_format_ok(tok)) {
		refresh_refused(r, oauth2, "the refresh token is not valid");
		return -1;
	}
	sha256_hex(tok, hash);
	params[0] = hash;
	if (db_begin(&r->app->db) != 0)
		goto dbfail;
	if ((res = exec1(r, &st_rt_rotate, params)) == NULL)
		goto dbfail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		if ((res = exec1(r, &st_rt_find, params)) == NULL)
			goto dbfail;
		rotated = PQntuples(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 1), "t") == 0;
		snprintf(out->sid, sizeof(out->sid), "%s", PQntuples(res) ==
		    1 ? PQgetvalue(res, 0, 0) : "");
		PQclear(res);
		if (rotated) {
			refresh_reuse(r, oauth2, out->sid);
			return -1;
		}
		db_rollback(&r->app->db);
		refresh_refused(r, oauth2, "the refresh token is not valid or "
		    "has expired");
		return -1;
	}
	snprintf(out->sid, sizeof(out->sid), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return session_renew(r, client, oauth2, out);
dbfail:
	db_problem(r);
	return -1;
}

static void
refresh(struct req *r)
{
	char		 tok[256];
	struct rotated	 rt;
	bool		 from_cookie = false;
	int		 rc;

	if (limit_signin(r) != 0)
		return;
	if (r->body.present[0])
		snprintf(tok, sizeof(tok), "%s", r->body.str[0]);
	else if (http_cookie(r, COOKIE_NAME, tok, sizeof(tok)) == 0)
		from_cookie = true;
	else {
		refresh_refused(r, false, "no refresh token: send it in the "
		    "body or the cookie");
		return;
	}
	rc = refresh_rotate(r, tok, NULL, false, &rt);
	OPENSSL_cleanse(tok, sizeof(tok));
	if (rc != 0)
		return;
	if (from_cookie)
		set_refresh_cookie(r, rt.fresh, config_int(&r->app->cfg,
		    CFG_REFRESH_TOKEN_TTL_S));
	token_answer(r, rt.user, rt.sid, rt.idp, rt.fresh, rt.end, false);
	OPENSSL_cleanse(&rt, sizeof(rt));
}

/* End sessions of the caller; writes one audit row.  Returns the count. */
static int
revoke(struct req *r, const struct principal *pr, const char *action,
    const struct db_stmt *st, const char *const *params, json_t *ids)
{
	PGresult	*res;
	const char	**sids = NULL;
	char		 res_name[96];
	struct audit	 a = { 0 };
	json_t		*after;
	int		 i, n;

	if (db_begin(&r->app->db) != 0)
		return -1;
	if ((res = exec1(r, st, params)) == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	snprintf(res_name, sizeof(res_name), "users/%s", pr->user_id);
	after = json_pack("{s:O}", "sessions", ids);
	a.actor_id = pr->user_id;
	a.action = action;
	a.resource = res_name;
	a.after = after;
	i = n > 0 ? audit_write(r, &a) : 0;
	json_decref(after);
	if (i != 0 || db_commit(&r->app->db) != 0)
		return -1;
	if (n > 0 && (sids = calloc((size_t)n, sizeof(*sids))) != NULL) {
		for (i = 0; i < n; i++)
			sids[i] = json_string_value(json_array_get(ids,
			    (size_t)i));
		(void)auth_revoked(r->app, sids, (size_t)n);
	}
	free(sids);
	return n;
}

static void
logout(struct req *r)
{
	struct principal	 pr;
	const char		*params[2];
	json_t			*ids = json_array();

	if (session_auth(r, &pr) != 0)
		goto out;
	params[0] = pr.sid;
	params[1] = "logout";
	if (revoke(r, &pr, "auth.logout", &st_session_revoke, params, ids) < 0) {
		db_problem(r);
		goto out;
	}
	http_header(r, "Set-Cookie", COOKIE_NAME "=; Path=/auth; Max-Age=0; "
	    "HttpOnly; SameSite=Lax");
	http_json(r, 200, json_pack("{s:s}", "session_id", pr.sid));
out:
	json_decref(ids);
}

/* ---- OAuth 2.0 authorization server ------------------------------------ */

/* The claims of a workspace token, as the oidc handler reads them. */
static const struct db_stmt st_ws_claims = { "auth_ws_claims",
    "SELECT to_json(groups), email FROM hxb_ws_token_claims($1)", 1 };

/* The kubectl plugin, or a workspace (its vCluster is the audience). */
static bool
client_ok(const char *id)
{
	return strcmp(id, CLI_CLIENT) == 0 || id_valid(id, ID_WS);
}

/*
 * RFC 8252 section 7.3: a native client's redirect is http on a loopback
 * address, on whatever port it could listen; no fragment, nothing a
 * browser would read differently.
 */
static bool
loopback_redirect_ok(const char *u)
{
	static const char *const hosts[] = { "http://127.0.0.1", "http://[::1]",
	    "http://localhost" };
	const char	*p = NULL;
	size_t		 i, n;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]) && p == NULL; i++)
		if (strncmp(u, hosts[i], strlen(hosts[i])) == 0)
			p = u + strlen(hosts[i]);
	if (p == NULL)
		return false;
	if (*p == ':') {
		p++;
		n = strspn(p, "0123456789");
		if (n == 0 || n > 5 || strtol(p, NULL, 10) > 65535)
			return false;
		p += n;
	}
	if (*p != '\0' && *p != '/' && *p != '?')
		return false;
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '\\' || *p == '#')
			return false;
	return true;
}

/* Whether space-separated `scope` holds `want`. */
static bool
scope_has(const char *scope, const char *want)
{
	size_t	 n = strlen(want), k;

	while (*scope != '\0') {
		scope += strspn(scope, " ");
		k = strcspn(scope, " ");
		if (k == n && strncmp(scope, want, n) == 0)
			return true;
		scope += k;
	}
	return false;
}

/* The client's redirect_uri with `params` (already "a=b&c=d") added. */
static void
client_redirect(struct req *r, json_t *oauth2, struct buf *params)
{
	const char	*ru = json_string_value(json_object_get(oauth2,
			    "redirect_uri"));
	const char	*st = json_string_value(json_object_get(oauth2,
			    "state"));
	struct buf	 u = BUF_INIT(8192);

	buf_addstr(&u, ru);
	buf_addch(&u, strchr(ru, '?') != NULL ? '&' : '?');
	buf_add(&u, params->data, params->len);
	if (st != NULL) {
		buf_addstr(&u, "&state=");
		httpc_form_escape(&u, st);
	}
	/* RFC 9207: the client can tell which server answered. */
	buf_addstr(&u, "&iss=");
	httpc_form_escape(&u, config_str(&r->app->cfg, CFG_ISSUER));
	if (u.failed)
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
	else
		http_redirect(r, buf_cstr(&u));
	buf_release(&u);
}

/* RFC 6749 section 4.1.2.1: an error, told to the client. */
static void
oauth2_error_redirect(struct req *r, json_t *oauth2, const char *error,
    const char *desc)
{
	struct buf	 p = BUF_INIT(2048);

	buf_addstr(&p, "error=");
	httpc_form_escape(&p, error);
	buf_addstr(&p, "&error_description=");
	httpc_form_escape(&p, desc);
	client_redirect(r, oauth2, &p);
	buf_release(&p);
}

/*
 * The user's effective groups in workspace `ws`, by name (an array, empty
 * if none or if the workspace is not theirs to see), and email, acting as
 * the user (hxb_ws_token_claims()).  NULL on a database error (a problem
 * is not sent).
 */
static json_t *
ws_claims(struct req *r, const char *user_id, const char *ws,
    char email[320])
{
	const struct db_stmt	*st[1] = { &st_ws_claims };
	const char		*ws_p[1] = { ws };
	const char *const	*params[1] = { ws_p };
	PGresult		*res;
	json_t			*groups;

	if (db_tx_as(&r->app->db, user_id, 1, st, params, &res) != 0)
		return NULL;
	groups = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	snprintf(email, 320, "%s", PQgetisnull(res, 0, 1) ? "" :
	    PQgetvalue(res, 0, 1));
	PQclear(res);
	return groups;
}

/* Several providers and none named: let the person choose. */
static void
choose_provider(struct req *r)
{
	struct idp_set	*set = idps(r);
	struct buf	 b = BUF_INIT(64 * 1024);
	size_t		 i;

	buf_addstr(&b, "<!doctype html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>Sign in to Hexabase</title>"
	    "</head><body><h1>Sign in to Hexabase</h1><p>Choose how to sign "
	    "in:</p><ul>\n");
	for (i = 0; i < set->n; i++) {
		buf_addstr(&b, "<li><a href=\"authorize?");
		buf_add_html(&b, r->query_str);
		buf_addstr(&b, "&amp;idp=");
		buf_add_html(&b, set->v[i].name);
		buf_addstr(&b, "\">");
		buf_add_html(&b, set->v[i].name);
		buf_addstr(&b, "</a></li>\n");
	}
	buf_addstr(&b, "</ul></body></html>\n");
	http_header(r, "Cache-Control", "no-store");
	http_header(r, "Content-Security-Policy", "default-src 'none'; "
	    "frame-ancestors 'none'");
	if (b.failed)
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
	else
		http_send(r, 200, "text/html; charset=utf-8", b.data, b.len);
	buf_release(&b);
}

static void
authorize(struct req *r)
{
	const char	*client = valid_str(&r->qv, AZ_CLIENT_ID);
	const char	*ru = valid_str(&r->qv, AZ_REDIRECT_URI);
	const char	*rt = valid_str(&r->qv, AZ_RESPONSE_TYPE);
	const char	*scope = valid_str(&r->qv, AZ_SCOPE);
	const char	*ch = valid_str(&r->qv, AZ_CHALLENGE);
	const char	*method = valid_str(&r->qv, AZ_METHOD);
	const char	*idp_name = valid_str(&r->qv, AZ_IDP);
	struct idp	*p = NULL;
	json_t		*oauth2;

	if (limit_signin(r) != 0)
		return;
	/* Without a known client and redirect, nothing may be redirected. */
	if (client == NULL || !client_ok(client)) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
		    "client_id must be hexabase-cli or a workspace id");
		return;
	}
	if (ru == NULL || !loopback_redirect_ok(ru)) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
		    "redirect_uri must be an http URL on a loopback address "
		    "(127.0.0.1, [::1] or localhost), on any port");
		return;
	}
	oauth2 = json_pack("{s:s, s:s, s:s?}", "client_id", client,
	    "redirect_uri", ru, "state", valid_str(&r->qv, AZ_STATE));
	if (oauth2 == NULL) {
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
		return;
	}
	if (rt == NULL || strcmp(rt, "code") != 0)
		oauth2_error_redirect(r, oauth2, "unsupported_response_type",
		    "response_type must be code");
	else if (scope == NULL || !scope_has(scope, "openid"))
		oauth2_error_redirect(r, oauth2, "invalid_scope",
		    "scope must include openid");
	else if (method == NULL || strcmp(method, "S256") != 0)
		oauth2_error_redirect(r, oauth2, "invalid_request",
		    "PKCE is required: send code_challenge_method=S256");
	else if (ch == NULL || strlen(ch) != B64_RANDOM || strspn(ch,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
	    != B64_RANDOM)
		oauth2_error_redirect(r, oauth2, "invalid_request",
		    "code_challenge must be the base64url SHA-256 of the "
		    "verifier (43 characters)");
	else if (idp_name != NULL && (p = idp_find(idps(r), idp_name)) ==
	    NULL)
		oauth2_error_redirect(r, oauth2, "invalid_request",
		    "idp names no identity provider here");
	else if (p == NULL && idps(r)->n != 1)
		choose_provider(r);
	else {
		if (p == NULL)
			p = &idps(r)->v[0];
		json_object_set_new(oauth2, "challenge", json_string(ch));
		json_object_set_new(oauth2, "scope", json_string(scope));
		if (valid_str(&r->qv, AZ_NONCE) != NULL)
			json_object_set_new(oauth2, "nonce",
			    json_string(valid_str(&r->qv, AZ_NONCE)));
		http_set_resource(r, "auth/providers/%s", p->name);
		login_start(r, p, NULL, oauth2, true);
	}
	json_decref(oauth2);
}

/* End a session nobody will be handed (the client may not have it). */
static void
session_drop(struct req *r, const char *sid)
{
	const char	*params[2] = { sid, "revoked" };
	PGresult	*res;

	if ((res = exec1(r, &st_session_revoke, params)) != NULL)
		PQclear(res);
	(void)auth_revoked(r->app, &sid, 1);
}

static void
code_key(const char *code, char key[96])
{
	char	 hash[2 * CRYPTO_SHA256_LEN + 1];

	sha256_hex(code, hash);
	snprintf(key, 96, "hxb:oauth2:code:%s", hash);
}

/*
 * The sign-in of an authorization request is done: hand the client a
 * code for it (60 s, taken once), or access_denied to someone who has no
 * group in the workspace they asked a token for.
 */
static void
oauth2_code(struct req *r, json_t *oauth2, const struct signin *si)
{
	const char	*client = json_string_value(json_object_get(oauth2,
			    "client_id"));
	char		 code[B64_RANDOM + 1], key[96], email[320];
	const char	*argv[6];
	struct buf	 p = BUF_INIT(1024);
	json_t		*groups, *entry = NULL;
	char		*js = NULL;
	redisReply	*rr;

	if (id_valid(client, ID_WS)) {
		if ((groups = ws_claims(r, si->user_id, client, email)) ==
		    NULL) {
			db_problem(r);
			goto out;
		}
		if (json_array_size(groups) == 0) {
			json_decref(groups);
			session_drop(r, si->sid);
			oauth2_error_redirect(r, oauth2, "access_denied",
			    "you have no group in this workspace, so its "
			    "cluster would grant you nothing");
			goto out;
		}
		json_decref(groups);
	}
	/* The session says the rest (user, provider, end) at the exchange. */
	entry = json_pack("{s:O, s:O, s:O, s:O, s:O?, s:s}",
	    "client_id", json_object_get(oauth2, "client_id"),
	    "redirect_uri", json_object_get(oauth2, "redirect_uri"),
	    "challenge", json_object_get(oauth2, "challenge"),
	    "scope", json_object_get(oauth2, "scope"),
	    "nonce", json_object_get(oauth2, "nonce"),
	    "sid", si->sid);
	if (entry == NULL || (js = json_dumps(entry, JSON_COMPACT)) == NULL ||
	    random_b64(code, sizeof(code), RANDOM_LEN) != 0) {
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
		goto out;
	}
	code_key(code, key);
	argv[0] = "SET";
	argv[1] = key;
	argv[2] = js;
	argv[3] = "EX";
	argv[4] = CODE_TTL_S;
	argv[5] = "NX";
	if ((rr = redis_cmd(&r->app->redis, 6, argv, NULL)) == NULL ||
	    rr->type != REDIS_REPLY_STATUS) {
		if (rr != NULL)
			freeReplyObject(rr);
		session_drop(r, si->sid);
		oauth2_error_redirect(r, oauth2, "temporarily_unavailable",
		    "sign-in is unavailable for a moment; start again");
		goto out;
	}
	freeReplyObject(rr);
	buf_addstr(&p, "code=");
	buf_addstr(&p, code);
	client_redirect(r, oauth2, &p);
out:
	OPENSSL_cleanse(code, sizeof(code));
	json_decref(entry);
	free(js);
	buf_release(&p);
}

/* Take authorization code `code` once; NULL if unknown or spent. */
static json_t *
take_code(struct req *r, const char *code, bool *unavailable)
{
	char	 key[96];

	code_key(code, key);
	return take_json(r, key, unavailable);
}

/*
 * The token response: an access token for the session, its refresh
 * token, and an ID token for the client (for a workspace: its groups,
 * refused if there are none any more).
 */
static void
tokens_answer(struct req *r, const char *client, const struct rotated *s,
    const char *nonce, const char *scope)
{
	char		*at = NULL, *idt = NULL, email[320] = "";
	long long	 exp, idexp, now = (long long)time(NULL);
	json_t		*groups = NULL, *body, *u;

	if (id_valid(client, ID_WS)) {
		if ((groups = ws_claims(r, s->user, client, email)) == NULL) {
			db_problem(r);
			return;
		}
		if (json_array_size(groups) == 0) {
			json_decref(groups);
			oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_grant",
			    "you have no group in this workspace any more");
			return;
		}
	} else if ((u = user_json(r, s->user)) != NULL) {
		snprintf(email, sizeof(email), "%s", json_string_value(
		    json_object_get(u, "email")));
		json_decref(u);
	}
	idexp = now + config_int(&r->app->cfg, CFG_WORKSPACE_TOKEN_TTL_S);
	/* A workspace client's access token is good for userinfo only. */
	if ((at = (groups != NULL ? auth_issue_userinfo : auth_issue)(r->app,
	    s->user, s->sid, s->idp, s->end, &exp)) == NULL ||
	    (idt = auth_id_token(r->app, s->user, client, groups, email, nonce,
	    now, idexp)) == NULL) {
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "tokens cannot be signed "
		    "right now; try again later", NULL);
		goto out;
	}
	body = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s*}", "access_token", at,
	    "token_type", "Bearer", "expires_in", (json_int_t)(exp - now),
	    "refresh_token", s->fresh, "id_token", idt, "scope", scope);
	http_header(r, "Cache-Control", "no-store");
	http_header(r, "Pragma", "no-cache");
	http_json(r, 200, body);
out:
	json_decref(groups);
	if (at != NULL)
		OPENSSL_cleanse(at, strlen(at));
	if (idt != NULL)
		OPENSSL_cleanse(idt, strlen(idt));
	free(at);
	free(idt);
}

/* grant_type=authorization_code, with the PKCE verifier. */
static void
token_code(struct req *r, const char *client)
{
	const char	*code = valid_str(&r->body, TK_CODE);
	const char	*ru = valid_str(&r->body, TK_REDIRECT_URI);
	const char	*ver = valid_str(&r->body, TK_VERIFIER);
	const char	*want;
	unsigned char	 h[CRYPTO_SHA256_LEN];
	struct buf	 ch = BUF_INIT(64);
	struct rotated	 s;
	json_t		*e = NULL;
	bool		 unavailable;

	memset(&s, 0, sizeof(s));
	if (code == NULL || ru == NULL || ver == NULL) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
		    "code, redirect_uri and code_verifier are required");
		goto out;
	}
	if (strlen(ver) < 43 || strlen(ver) > 128 ||
	    strspn(ver, VERIFIER_CHARS) != strlen(ver)) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
		    "code_verifier must be 43 to 128 unreserved characters");
		goto out;
	}
	if ((e = take_code(r, code, &unavailable)) == NULL) {
		if (unavailable) {
			http_header(r, "Retry-After", "1");
			http_problem(r, PROBLEM_UNAVAILABLE, "tokens are "
			    "unavailable for a moment; try again", NULL);
		} else
			oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_grant",
			    "the authorization code is unknown, expired or "
			    "already used");
		goto out;
	}
	crypto_sha256(ver, strlen(ver), h);
	b64url_encode(&ch, h, sizeof(h));
	want = json_string_value(json_object_get(e, "challenge"));
	if (strcmp(client, json_string_value(json_object_get(e,
	    "client_id"))) != 0 || strcmp(ru, json_string_value(
	    json_object_get(e, "redirect_uri"))) != 0 || want == NULL ||
	    ch.failed || ch.len != strlen(want) ||
	    !crypto_equal(buf_cstr(&ch), want, ch.len)) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_grant", "the "
		    "code was not issued to this client and redirect_uri, or "
		    "the code_verifier does not match its challenge");
		goto out;
	}
	/* The session may have ended since; its first refresh token. */
	snprintf(s.sid, sizeof(s.sid), "%s", json_string_value(
	    json_object_get(e, "sid")));
	if (db_begin(&r->app->db) != 0) {
		db_problem(r);
		goto out;
	}
	if (session_renew(r, client, true, &s) != 0)
		goto out;
	tokens_answer(r, client, &s, json_string_value(json_object_get(e,
	    "nonce")), json_string_value(json_object_get(e, "scope")));
out:
	OPENSSL_cleanse(&s, sizeof(s));
	json_decref(e);
	buf_release(&ch);
}

static void
token(struct req *r)
{
	const char	*grant = valid_str(&r->body, TK_GRANT);
	const char	*client = valid_str(&r->body, TK_CLIENT_ID);
	const char	*rt = valid_str(&r->body, TK_REFRESH);
	struct rotated	 s;

	if (limit_signin(r) != 0)
		return;
	if (grant == NULL) {
		oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
		    "grant_type is required");
		return;
	}
	if (client == NULL || !client_ok(client)) {
		http_header(r, "WWW-Authenticate", "Basic realm=\"hexabase\"");
		oauth2_error(r, PROBLEM_UNAUTHORIZED, "invalid_client",
		    "client_id must be hexabase-cli or a workspace id");
		return;
	}
	if (strcmp(grant, "authorization_code") == 0)
		token_code(r, client);
	else if (strcmp(grant, "refresh_token") == 0) {
		if (rt == NULL) {
			oauth2_error(r, PROBLEM_BAD_REQUEST, "invalid_request",
			    "refresh_token is required");
			return;
		}
		if (refresh_rotate(r, rt, client, true, &s) != 0)
			return;
		tokens_answer(r, client, &s, NULL, NULL);
		OPENSSL_cleanse(&s, sizeof(s));
	} else
		oauth2_error(r, PROBLEM_BAD_REQUEST, "unsupported_grant_type",
		    "grant_type must be authorization_code or refresh_token");
}

/* OpenID Connect Core section 5.3, from a platform access token. */
static void
userinfo(struct req *r)
{
	struct principal	 pr;
	const char		*params[1];
	PGresult		*res;

	if (auth_require_userinfo(r, &pr, "auth-session",
	    config_int(&r->app->cfg, CFG_AUTH_SESSION_RATE_LIMIT),
	    config_int(&r->app->cfg, CFG_AUTH_RATE_WINDOW_S)) != 0)
		return;
	params[0] = pr.user_id;
	if ((res = exec1(r, &st_user_get, params)) == NULL) {
		db_problem(r);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		http_problem(r, PROBLEM_NOT_FOUND, "no such user", NULL);
		return;
	}
	http_header(r, "Cache-Control", "no-store");
	http_json(r, 200, json_pack("{s:s, s:s, s:b, s:s, s:s?}",
	    "sub", PQgetvalue(res, 0, 0), "email", PQgetvalue(res, 0, 1),
	    "email_verified", 1, "name", PQgetvalue(res, 0, 2),
	    "picture", PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3)));
	PQclear(res);
}

/* ---- who am I, and sessions ------------------------------------------- */

/*
 * The profile without the session's provider, as cached: a JSON object.
 * NULL if the user is gone; *failed on a database error.
 */
static char *
profile_build(struct req *r, const char *user_id, bool *failed)
{
	const char	*params[1] = { user_id };
	PGresult	*res;
	struct buf	 b = BUF_INIT(256 * 1024);
	struct jsonw	 w;
	char		*doc;
	int		 i, n;

	*failed = false;
	if (db_begin_as(&r->app->db, user_id) != 0) {
		*failed = true;
		return NULL;
	}
	res = exec1(r, &st_me, params);
	db_rollback(&r->app->db);	/* read only */
	if (res == NULL) {
		*failed = true;
		return NULL;
	}
	if ((n = PQntuples(res)) == 0) {
		PQclear(res);
		return NULL;
	}
	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_kv_string(&w, "id", PQgetvalue(res, 0, 0));
	jsonw_kv_string(&w, "email", PQgetvalue(res, 0, 1));
	jsonw_kv_string(&w, "name", PQgetvalue(res, 0, 2));
	if (PQgetisnull(res, 0, 3))
		jsonw_kv_null(&w, "avatar_url");
	else
		jsonw_kv_string(&w, "avatar_url", PQgetvalue(res, 0, 3));
	jsonw_key(&w, "organizations");
	jsonw_array(&w);
	for (i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 4))
			continue;
		jsonw_object(&w);
		jsonw_kv_string(&w, "id", PQgetvalue(res, i, 4));
		jsonw_kv_string(&w, "name", PQgetvalue(res, i, 5));
		jsonw_kv_string(&w, "role", PQgetvalue(res, i, 6));
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	PQclear(res);
	if (b.failed || (doc = buf_detach(&b, NULL)) == NULL) {
		buf_release(&b);
		*failed = true;
		return NULL;
	}
	return doc;
}

static void
profile_store(struct req *r, const char *key, const char *doc, long long ttl)
{
	char		 secs[24];
	const char	*argv[5] = { "SET", key, doc, "EX", secs };
	redisReply	*rr;

	snprintf(secs, sizeof(secs), "%lld", ttl);
	if ((rr = redis_cmd(&r->app->redis, 5, argv, NULL)) != NULL)
		freeReplyObject(rr);
}

/*
 * GET /auth/me: the profile comes from Redis in the same round trip as the
 * token's revocation check (cache-aside, dropped by every change, see
 * auth_user_changed()), else from PostgreSQL; the provider is the
 * session's, from the token.
 */
static void
me(struct req *r)
{
	struct principal	 pr;
	long long		 ttl = config_int(&r->app->cfg, CFG_ME_CACHE_S);
	char			 key[128], *doc = NULL;
	struct buf		 b = BUF_INIT(512 * 1024);
	size_t			 n;
	bool			 failed;

	if (auth_require_profile(r, &pr, "auth-session",
	    config_int(&r->app->cfg, CFG_AUTH_SESSION_RATE_LIMIT),
	    config_int(&r->app->cfg, CFG_AUTH_RATE_WINDOW_S),
	    ttl > 0 ? &doc : NULL) != 0)
		return;
	if (doc == NULL) {
		if ((doc = profile_build(r, pr.user_id, &failed)) == NULL) {
			if (failed) {
				db_problem(r);
				return;
			}
			http_header(r, "WWW-Authenticate", "Bearer "
			    "realm=\"hexabase\", error=\"invalid_token\"");
			http_problem(r, PROBLEM_UNAUTHORIZED, "the user no "
			    "longer exists", NULL);
			return;
		}
		if (ttl > 0) {
			auth_user_key(pr.user_id, key, sizeof(key));
			profile_store(r, key, doc, ttl);
		}
	}
	/* {...cached...} + "provider": the object's last byte is its "}". */
	n = strlen(doc);
	if (n < 2 || doc[n - 1] != '}') {
		free(doc);
		http_problem(r, PROBLEM_INTERNAL, "a cached profile is damaged",
		    NULL);
		auth_user_changed(r->app, pr.user_id);
		return;
	}
	buf_add(&b, doc, n - 1);
	buf_addstr(&b, ",\"provider\":");
	buf_add_json_string(&b, pr.idp);
	buf_addch(&b, '}');
	free(doc);
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

static void
list_sessions(struct req *r)
{
	struct principal	 pr;
	const char		*params[3];
	struct page		 pg;
	char			 next[CURSOR_MAX];
	PGresult		*res;
	struct buf		 b = BUF_INIT(256 * 1024);
	struct jsonw		 w;
	int			 i, n, shown;

	if (session_auth(r, &pr) != 0)
		return;
	if (page_read(r, 50, &pg) != 0)
		return;
	params[0] = pr.user_id;
	params[1] = pg.after;
	params[2] = pg.limit_str;
	if ((res = exec1(r, &st_sessions, params)) == NULL) {
		db_problem(r);
		return;
	}
	n = PQntuples(res);
	shown = n > pg.limit ? (int)pg.limit : n;
	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_key(&w, "items");
	jsonw_array(&w);
	for (i = 0; i < shown; i++) {
		jsonw_object(&w);
		jsonw_kv_string(&w, "id", PQgetvalue(res, i, 0));
		jsonw_kv_string(&w, "provider", PQgetvalue(res, i, 1));
		jsonw_kv_string(&w, "created_at", PQgetvalue(res, i, 2));
		jsonw_kv_string(&w, "last_used_at", PQgetvalue(res, i, 3));
		jsonw_kv_string(&w, "expires_at", PQgetvalue(res, i, 4));
		if (PQgetisnull(res, i, 5))
			jsonw_kv_null(&w, "ip");
		else
			jsonw_kv_string(&w, "ip", PQgetvalue(res, i, 5));
		jsonw_kv_string(&w, "user_agent", PQgetvalue(res, i, 6));
		jsonw_kv_bool(&w, "current",
		    strcmp(PQgetvalue(res, i, 0), pr.sid) == 0);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	if (n > shown && cursor_encode(0, PQgetvalue(res, shown - 1, 0),
	    next) == 0)
		jsonw_kv_string(&w, "next_cursor", next);
	else
		jsonw_kv_null(&w, "next_cursor");
	jsonw_object_end(&w);
	PQclear(res);
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

static void
delete_session(struct req *r)
{
	struct principal	 pr;
	const char		*id = http_param(r, "sessionId");
	const char		*params[2];
	PGresult		*res;
	json_t			*ids = json_array();
	int			 n;

	if (session_auth(r, &pr) != 0)
		goto out;
	http_set_resource(r, "sessions/%s", id);
	params[0] = id;
	params[1] = pr.user_id;
	if ((n = revoke(r, &pr, "auth.session.revoke", &st_session_revoke_own,
	    params, ids)) < 0) {
		db_problem(r);
		goto out;
	}
	if (n == 0) {
		/* Already ended is fine; someone else's does not exist. */
		if ((res = exec1(r, &st_session_own, params)) == NULL) {
			db_problem(r);
			goto out;
		}
		n = PQntuples(res);
		PQclear(res);
		if (n == 0) {
			http_problem(r, PROBLEM_NOT_FOUND, "no such session",
			    NULL);
			goto out;
		}
	}
	http_no_content(r);
out:
	json_decref(ids);
}

static void
revoke_all(struct req *r)
{
	struct principal	 pr;
	const char		*params[3];
	json_t			*ids = json_array();
	int			 n;

	if (session_auth(r, &pr) != 0)
		goto out;
	params[0] = pr.user_id;
	params[1] = r->body.present[0] && r->body.num[0] ? "true" : "false";
	params[2] = pr.sid;
	if ((n = revoke(r, &pr, "auth.session.revoke_all",
	    &st_session_revoke_all, params, ids)) < 0) {
		db_problem(r);
		goto out;
	}
	http_json(r, 200, json_pack("{s:i, s:O}", "revoked", n, "sessions",
	    ids));
out:
	json_decref(ids);
}

static void
list_providers(struct req *r)
{
	struct idp_set	*set = idps(r);
	json_t		*items = json_array();
	size_t		 i;

	for (i = 0; i < set->n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "name",
		    set->v[i].name, "kind", idp_kind_name(set->v[i].kind)));
	http_json(r, 200, json_pack("{s:o, s:n}", "items", items,
	    "next_cursor"));
}

int
main(int argc, char **argv)
{
	struct app	 app;
	struct state	 st;
	struct buf	 err = BUF_INIT(64 * 1024);
	int		 rc;

	memset(&st, 0, sizeof(st));
	if ((rc = app_routes("auth", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv)) != 0)
		return rc > 0 ? 0 : 2;
	if ((rc = app_init(&app, "auth", argc, argv, app_route_flags)) != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	if (idp_load(&st.idps, NULL, &err) != 0) {
		fprintf(stderr, "auth: identity provider configuration:\n%s",
		    buf_cstr(&err));
		buf_release(&err);
		idp_free(&st.idps);
		app_fini(&app);
		return 2;
	}
	buf_release(&err);
	if (st.idps.n == 0)
		log_warn(&app.log, "no identity providers are configured "
		    "(HXB_IDP_<NAME>_KIND); nobody can sign in");
	app.arg = &st;
	rc = app_serve(&app, routes, sizeof(routes) / sizeof(routes[0]));
	idp_free(&st.idps);
	httpc_cleanup();
	app_fini(&app);
	return rc;
}
