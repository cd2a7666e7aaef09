/*
 * idp: external identity providers; see idp.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "crypto.h"
#include "httpc.h"
#include "idp.h"
#include "jws.h"
#include "log.h"

extern char **environ;

#define IDP_MAX			16
#define DISCOVERY_TTL_MS	(3600 * 1000LL)
#define JWKS_TTL_MS		(3600 * 1000LL)
#define JWKS_MISS_MS		5000	/* unknown kid: refetch at most this often */

#define GITHUB_AUTH_URL		"https://github.com/login/oauth/authorize"
#define GITHUB_TOKEN_URL	"https://github.com/login/oauth/access_token"
#define GITHUB_API_URL		"https://api.github.com"

static const char *const kind_names[IDP_KIND__MAX] = {
	[IDP_OIDC] = "oidc",
	[IDP_GITHUB] = "github",
};

const char *
idp_kind_name(enum idp_kind k)
{
	return k < IDP_KIND__MAX ? kind_names[k] : "?";
}

static void
fail(struct idp_err *e, enum problem p, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
fail(struct idp_err *e, enum problem p, const char *code, const char *fmt,
    ...)
{
	va_list	 ap;

	e->problem = p;
	snprintf(e->code, sizeof(e->code), "%s", code != NULL ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
}

/* ---- configuration ---------------------------------------------------- */

static const char *
env_get(char **env, const char *name)
{
	size_t	 n = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* HXB_IDP_<NAME>_<what>, or NULL. */
static const char *
pvar(char **env, const char *upper, const char *what)
{
	char	 name[128];

	snprintf(name, sizeof(name), "HXB_IDP_%s_%s", upper, what);
	return env_get(env, name);
}

static bool
https_url(const char *s)
{
	return s != NULL && strncmp(s, "https://", 8) == 0 && s[8] != '\0' &&
	    s[8] != '/' && strpbrk(s, " \t\r\n\"<>\\^`{|}") == NULL;
}

static char *
xstrdup(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* Drop trailing slashes, so that "<base>/path" is well formed. */
static char *
dup_base(const char *s)
{
	char	*d = xstrdup(s);
	size_t	 n;

	if (d != NULL)
		for (n = strlen(d); n > 9 && d[n - 1] == '/'; n--)
			d[n - 1] = '\0';
	return d;
}

static void
idp_clear(struct idp *p)
{
	free(p->issuer);
	if (p->client_secret != NULL) {
		OPENSSL_cleanse(p->client_secret, strlen(p->client_secret));
		free(p->client_secret);
	}
	free(p->client_id);
	free(p->scopes);
	free(p->auth_url);
	free(p->token_url);
	free(p->api_url);
	free(p->jwks_uri);
	free(p->userinfo_url);
	json_decref(p->jwks);
	memset(p, 0, sizeof(*p));
}

static int
idp_load_one(struct idp *p, char **env, const char *upper, struct buf *err)
{
	const char	*kind, *v, *f;
	char		*secret;
	size_t		 i;
	int		 bad = 0;

	memset(p, 0, sizeof(*p));
	for (i = 0; upper[i] != '\0'; i++)
		p->name[i] = (char)tolower((unsigned char)upper[i]);
	kind = pvar(env, upper, "KIND");
	if (strcmp(kind, "oidc") == 0)
		p->kind = IDP_OIDC;
	else if (strcmp(kind, "github") == 0)
		p->kind = IDP_GITHUB;
	else {
		buf_addf(err, "HXB_IDP_%s_KIND: must be oidc or github\n",
		    upper);
		return -1;
	}
	if ((v = pvar(env, upper, "CLIENT_ID")) == NULL || *v == '\0') {
		buf_addf(err, "HXB_IDP_%s_CLIENT_ID: required\n", upper);
		bad = 1;
	} else
		p->client_id = xstrdup(v);
	v = pvar(env, upper, "CLIENT_SECRET");
	f = pvar(env, upper, "CLIENT_SECRET_FILE");
	if (v != NULL && f != NULL) {
		buf_addf(err, "HXB_IDP_%s_CLIENT_SECRET: set either it or "
		    "HXB_IDP_%s_CLIENT_SECRET_FILE, not both\n", upper, upper);
		bad = 1;
	} else if (f != NULL) {
		if ((secret = config_read_secret_file(f, err)) == NULL)
			bad = 1;
		p->client_secret = secret;
	} else if (v != NULL && *v != '\0')
		p->client_secret = xstrdup(v);
	else {
		buf_addf(err, "HXB_IDP_%s_CLIENT_SECRET (or _FILE): required\n",
		    upper);
		bad = 1;
	}
	v = pvar(env, upper, "SCOPES");
	p->scopes = xstrdup(v != NULL ? v : p->kind == IDP_OIDC ?
	    "openid email profile" : "read:user user:email");
	if (p->kind == IDP_OIDC) {
		v = pvar(env, upper, "ISSUER");
		if (!https_url(v)) {
			buf_addf(err, "HXB_IDP_%s_ISSUER: required, an https "
			    "URL\n", upper);
			bad = 1;
		} else
			p->issuer = xstrdup(v);
		if (strstr(p->scopes, "openid") == NULL) {
			buf_addf(err, "HXB_IDP_%s_SCOPES: must include "
			    "openid\n", upper);
			bad = 1;
		}
	} else {
		const char *const what[3] = { "AUTH_URL", "TOKEN_URL",
		    "API_URL" };
		const char *const def[3] = { GITHUB_AUTH_URL, GITHUB_TOKEN_URL,
		    GITHUB_API_URL };
		char	**dst[3] = { &p->auth_url, &p->token_url,
		    &p->api_url };

		for (i = 0; i < 3; i++) {
			if ((v = pvar(env, upper, what[i])) == NULL)
				v = def[i];
			if (!https_url(v)) {
				buf_addf(err, "HXB_IDP_%s_%s: must be an https "
				    "URL\n", upper, what[i]);
				bad = 1;
			} else
				*dst[i] = dup_base(v);
		}
	}
	return bad ? -1 : 0;
}

int
idp_load(struct idp_set *set, char **env, struct buf *err)
{
	char		 upper[IDP_NAME_MAX];
	char		**ep;
	const char	*e, *s;
	size_t		 n;
	int		 rc = 0;

	memset(set, 0, sizeof(*set));
	if (env == NULL)
		env = environ;
	if ((set->v = calloc(IDP_MAX, sizeof(*set->v))) == NULL) {
		buf_addstr(err, "out of memory\n");
		return -1;
	}
	for (ep = env; *ep != NULL; ep++) {
		e = *ep;
		if (strncmp(e, "HXB_IDP_", 8) != 0 ||
		    (s = strstr(e + 8, "_KIND=")) == NULL)
			continue;
		n = (size_t)(s - (e + 8));
		if (n == 0 || n >= IDP_NAME_MAX || strspn(e + 8,
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n ||
		    !isupper((unsigned char)e[8])) {
			buf_addf(err, "%.*s: a provider name is a capital "
			    "letter then up to 31 capitals or digits\n",
			    (int)(s + 5 - e), e);
			rc = -1;
			continue;
		}
		if (set->n == IDP_MAX) {
			buf_addf(err, "more than %d identity providers\n",
			    IDP_MAX);
			rc = -1;
			break;
		}
		memcpy(upper, e + 8, n);
		upper[n] = '\0';
		if (idp_load_one(&set->v[set->n], env, upper, err) != 0) {
			idp_clear(&set->v[set->n]);
			rc = -1;
			continue;
		}
		set->n++;
	}
	return rc;
}

void
idp_free(struct idp_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		idp_clear(&set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

struct idp *
idp_find(struct idp_set *set, const char *name)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->v[i].name, name) == 0)
			return &set->v[i];
	return NULL;
}

void
idp_user_free(struct idp_user *u)
{
	free(u->subject);
	free(u->email);
	free(u->name);
	free(u->avatar_url);
	memset(u, 0, sizeof(*u));
}

/* ---- HTTP with JSON --------------------------------------------------- */

/*
 * Call the IdP and parse a JSON object answer.  A transport failure or a
 * non-JSON answer is a 502; the status is left to the caller.
 */
static json_t *
call_json(struct app *app, struct idp *p, const char *url, const char *form,
    const char *const *headers, long *status, struct idp_err *e)
{
	struct httpc_resp	 r;
	json_error_t		 je;
	json_t			*j = NULL;

	httpc_resp_init(&r);
	if (httpc_request(app, url, form, headers, &r) != 0)
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "identity provider %s "
		    "unreachable: %s", p->name, r.error);
	else if ((j = json_loadb(r.body.data ? r.body.data : "", r.body.len,
	    JSON_REJECT_DUPLICATES, &je)) == NULL || (!json_is_object(j) &&
	    !json_is_array(j))) {
		json_decref(j);
		j = NULL;
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "identity provider %s "
		    "answered %ld without JSON", p->name, r.status);
	} else
		*status = r.status;
	httpc_resp_free(&r);
	return j;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- OpenID Connect --------------------------------------------------- */

static int
discover(struct app *app, struct idp *p, struct idp_err *e)
{
	const char	*hdr[] = { "Accept: application/json", NULL };
	struct buf	 url = BUF_INIT(4096);
	json_t		*d, *a, *v;
	const char	*iss, *auth, *tok, *jwks, *ui;
	long		 status = 0;
	size_t		 i, n;
	unsigned int	 algs = 0;
	enum jws_alg	 alg;
	int		 rc = -1;

	if (p->discovered_ms != 0 &&
	    clock_ms() - p->discovered_ms < DISCOVERY_TTL_MS)
		return 0;
	/* OpenID Connect Discovery 1.0 section 4: issuer + the path. */
	n = strlen(p->issuer);
	buf_add(&url, p->issuer, n > 0 && p->issuer[n - 1] == '/' ? n - 1 : n);
	buf_addstr(&url, "/.well-known/openid-configuration");
	d = call_json(app, p, buf_cstr(&url), NULL, hdr, &status, e);
	buf_release(&url);
	if (d == NULL)
		return -1;
	if (status != 200 || !json_is_object(d)) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "discovery of %s answered "
		    "%ld", p->name, status);
		goto out;
	}
	iss = jstr(d, "issuer");
	auth = jstr(d, "authorization_endpoint");
	tok = jstr(d, "token_endpoint");
	jwks = jstr(d, "jwks_uri");
	ui = jstr(d, "userinfo_endpoint");
	/* Section 4.3: the issuer must be the one we asked for, exactly. */
	if (iss == NULL || strcmp(iss, p->issuer) != 0) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "discovery of %s names "
		    "another issuer", p->name);
		goto out;
	}
	if (!https_url(auth) || !https_url(tok) || !https_url(jwks) ||
	    (ui != NULL && !https_url(ui))) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "discovery of %s lacks "
		    "https endpoints", p->name);
		goto out;
	}
	a = json_object_get(d, "id_token_signing_alg_values_supported");
	json_array_foreach(a, i, v)
		if ((alg = jws_alg_parse(json_string_value(v))) !=
		    JWS_ALG__MAX)
			algs |= 1U << alg;
	if (!json_is_array(a))
		algs = 1U << JWS_RS256;	/* the default the spec names */
	if (algs == 0) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s signs ID tokens with no "
		    "algorithm we accept", p->name);
		goto out;
	}
	p->basic_auth = true;
	a = json_object_get(d, "token_endpoint_auth_methods_supported");
	if (json_is_array(a)) {
		bool	 basic = false, post = false;

		json_array_foreach(a, i, v) {
			if (json_is_string(v) && strcmp(json_string_value(v),
			    "client_secret_basic") == 0)
				basic = true;
			if (json_is_string(v) && strcmp(json_string_value(v),
			    "client_secret_post") == 0)
				post = true;
		}
		if (!basic && !post) {
			fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s supports neither "
			    "client_secret_basic nor client_secret_post",
			    p->name);
			goto out;
		}
		p->basic_auth = basic;
	}
	free(p->auth_url);
	free(p->token_url);
	free(p->jwks_uri);
	free(p->userinfo_url);
	p->auth_url = xstrdup(auth);
	p->token_url = xstrdup(tok);
	p->jwks_uri = xstrdup(jwks);
	p->userinfo_url = xstrdup(ui);
	p->algs = algs;
	p->iss_param = json_is_true(json_object_get(d,
	    "authorization_response_iss_parameter_supported"));
	p->discovered_ms = clock_ms();
	rc = 0;
out:
	json_decref(d);
	return rc;
}

static int
jwks_fetch(struct app *app, struct idp *p, struct idp_err *e)
{
	const char	*hdr[] = { "Accept: application/json", NULL };
	json_t		*j;
	long		 status = 0;

	p->jwks_ms = clock_ms();
	if ((j = call_json(app, p, p->jwks_uri, NULL, hdr, &status, e)) ==
	    NULL)
		return -1;
	if (status != 200 || !json_is_array(json_object_get(j, "keys"))) {
		json_decref(j);
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "the JWKS of %s is not "
		    "usable (%ld)", p->name, status);
		return -1;
	}
	json_decref(p->jwks);
	p->jwks = j;
	return 0;
}

/* The JWK for the token's kid (or the only signing key if it has none). */
static const json_t *
jwks_lookup(const json_t *jwks, const char *kid)
{
	const json_t	*keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	const char	*use;
	size_t		 i, n = 0;

	json_array_foreach(keys, i, k) {
		use = jstr(k, "use");
		if (use != NULL && strcmp(use, "sig") != 0)
			continue;
		if (kid != NULL) {
			if (jstr(k, "kid") != NULL &&
			    strcmp(jstr(k, "kid"), kid) == 0)
				return k;
		} else {
			found = k;
			n++;
		}
	}
	return n == 1 ? found : NULL;
}

static bool
aud_has(const json_t *aud, const char *who, size_t *count)
{
	const json_t	*v;
	size_t		 i;
	bool		 has = false;

	*count = 0;
	if (json_is_string(aud)) {
		*count = 1;
		return strcmp(json_string_value(aud), who) == 0;
	}
	json_array_foreach(aud, i, v) {
		(*count)++;
		if (json_is_string(v) && strcmp(json_string_value(v), who) == 0)
			has = true;
	}
	return has;
}

int
idp_verify_id_token(struct app *app, struct idp *p, const char *token,
    const char *nonce, json_t **claims, struct idp_err *e)
{
	struct jws	 t;
	const json_t	*jwk;
	const char	*why = NULL, *s, *azp;
	EVP_PKEY	*pk = NULL;
	json_t		*v;
	long long	 now = (long long)time(NULL), skew, exp, iat, nbf;
	size_t		 naud;
	int		 rc = -1;

	*claims = NULL;
	memset(&t, 0, sizeof(t));
	skew = config_int(&app->cfg, CFG_CLOCK_SKEW_S);
	if (jws_parse(token, &t, &why) != 0) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token from %s is "
		    "refused: %s", p->name, why);
		goto out;
	}
	if ((p->algs & (1U << t.alg)) == 0) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token from %s is "
		    "signed with %s, which it does not advertise", p->name,
		    jws_alg_name(t.alg));
		goto out;
	}
	if (p->jwks == NULL && jwks_fetch(app, p, e) != 0)
		goto out;
	if ((jwk = jwks_lookup(p->jwks, t.kid)) == NULL &&
	    (p->jwks_ms == 0 || clock_ms() - p->jwks_ms >= JWKS_MISS_MS ||
	    clock_ms() - p->jwks_ms >= JWKS_TTL_MS)) {
		/* A kid we have not seen: the provider may have rotated. */
		if (jwks_fetch(app, p, e) != 0)
			goto out;
		jwk = jwks_lookup(p->jwks, t.kid);
	}
	if (jwk == NULL) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token from %s is "
		    "signed with an unknown key", p->name);
		goto out;
	}
	if ((s = jstr(jwk, "alg")) != NULL && strcmp(s,
	    jws_alg_name(t.alg)) != 0) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token from %s "
		    "uses its key with another algorithm", p->name);
		goto out;
	}
	if ((pk = jwk_to_pkey(jwk, &why)) == NULL) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "a JWK of %s is unusable: "
		    "%s", p->name, why);
		goto out;
	}
	if (jws_verify(&t, pk) != 0) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token from %s "
		    "has a bad signature", p->name);
		goto out;
	}
	/* OpenID Connect Core 1.0 section 3.1.3.7. */
	if ((s = jstr(t.claims, "iss")) == NULL || strcmp(s, p->issuer)) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token is not "
		    "from %s's issuer", p->name);
		goto out;
	}
	v = json_object_get(t.claims, "aud");
	if (!aud_has(v, p->client_id, &naud)) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token is not "
		    "meant for us");
		goto out;
	}
	azp = jstr(t.claims, "azp");
	if ((naud > 1 && azp == NULL) || (json_object_get(t.claims, "azp") &&
	    (azp == NULL || strcmp(azp, p->client_id) != 0))) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token was "
		    "issued to another party (azp)");
		goto out;
	}
	if (!json_is_integer(json_object_get(t.claims, "exp")) ||
	    !json_is_integer(json_object_get(t.claims, "iat"))) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token lacks exp "
		    "or iat");
		goto out;
	}
	exp = json_integer_value(json_object_get(t.claims, "exp"));
	iat = json_integer_value(json_object_get(t.claims, "iat"));
	v = json_object_get(t.claims, "nbf");
	nbf = json_is_integer(v) ? json_integer_value(v) : iat;
	if (exp + skew <= now) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token has "
		    "expired");
		goto out;
	}
	if (iat - skew > now || nbf - skew > now) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token is not "
		    "valid yet (iat or nbf in the future)");
		goto out;
	}
	if ((s = jstr(t.claims, "nonce")) == NULL ||
	    strlen(s) != strlen(nonce) || !crypto_equal(s, nonce,
	    strlen(nonce))) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token's nonce "
		    "does not match this sign-in");
		goto out;
	}
	if ((s = jstr(t.claims, "sub")) == NULL || *s == '\0' ||
	    strlen(s) > 255) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the ID token has no "
		    "usable sub");
		goto out;
	}
	*claims = json_incref(t.claims);
	rc = 0;
out:
	EVP_PKEY_free(pk);
	jws_clear(&t);
	return rc;
}

/* email_verified is a boolean, but some providers send "true". */
static bool
verified(const json_t *v)
{
	return json_is_true(v) || (json_is_string(v) &&
	    strcmp(json_string_value(v), "true") == 0);
}

static bool
plausible_email(const char *s)
{
	const char	*at;

	return s != NULL && strlen(s) <= 254 && (at = strchr(s, '@')) != NULL &&
	    at != s && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
	    strpbrk(s, " \t\r\n") == NULL;
}

static void
user_fill(struct idp_user *u, const char *sub, const char *email,
    const char *name, const char *avatar)
{
	u->subject = xstrdup(sub);
	u->email = xstrdup(email);
	u->name = xstrdup(name != NULL ? name : "");
	u->avatar_url = avatar != NULL && https_url(avatar) &&
	    strlen(avatar) <= 2048 ? xstrdup(avatar) : NULL;
}

/* The token endpoint's request, authenticated as a confidential client. */
static void
token_request(struct idp *p, const char *code, const char *redirect_uri,
    const char *verifier, bool basic, struct buf *form, struct buf *auth)
{
	struct buf	 cred = BUF_INIT(4096);

	buf_addstr(form, "grant_type=authorization_code&code=");
	httpc_form_escape(form, code);
	buf_addstr(form, "&redirect_uri=");
	httpc_form_escape(form, redirect_uri);
	buf_addstr(form, "&code_verifier=");
	httpc_form_escape(form, verifier);
	if (basic) {
		/* RFC 6749 section 2.3.1: each part form-encoded first. */
		httpc_form_escape(&cred, p->client_id);
		buf_addch(&cred, ':');
		httpc_form_escape(&cred, p->client_secret);
		buf_addstr(auth, "Authorization: Basic ");
		/* Standard base64, with padding, as HTTP Basic wants. */
		{
			unsigned char	*o;
			int		 n;

			if ((o = malloc(4 * ((cred.len + 2) / 3) + 1)) != NULL) {
				n = EVP_EncodeBlock(o,
				    (const unsigned char *)buf_cstr(&cred),
				    (int)cred.len);
				buf_add(auth, o, (size_t)n);
				OPENSSL_cleanse(o, (size_t)n);
				free(o);
			} else
				auth->failed = true;
		}
	} else {
		buf_addstr(form, "&client_id=");
		httpc_form_escape(form, p->client_id);
		buf_addstr(form, "&client_secret=");
		httpc_form_escape(form, p->client_secret);
	}
	if (cred.data != NULL)
		OPENSSL_cleanse(cred.data, cred.len);
	buf_release(&cred);
}

/* An error answer of a token endpoint (RFC 6749 section 5.2). */
static bool
token_error(struct idp *p, const json_t *j, long status, struct idp_err *e)
{
	const char	*err = jstr(j, "error");

	if (err == NULL && status == 200)
		return false;
	if (err != NULL)
		fail(e, PROBLEM_SIGNIN_FAILED, err, "%s refused the "
		    "authorization code: %s", p->name, err);
	else
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s's token endpoint "
		    "answered %ld", p->name, status);
	return true;
}

static int
oidc_finish(struct app *app, struct idp *p, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce,
    struct idp_user *u, struct idp_err *e)
{
	struct buf	 form = BUF_INIT(16384), auth = BUF_INIT(4096);
	struct buf	 bearer = BUF_INIT(JWS_TOKEN_MAX);
	const char	*hdr[4] = { "Accept: application/json", NULL, NULL, NULL };
	json_t		*j = NULL, *claims = NULL, *ui = NULL;
	const char	*idt, *at, *email, *name, *pic, *sub;
	json_t		*ev;
	long		 status = 0;
	int		 rc = -1;

	if (discover(app, p, e) != 0)
		return -1;
	token_request(p, code, redirect_uri, verifier, p->basic_auth, &form,
	    &auth);
	if (form.failed || auth.failed) {
		fail(e, PROBLEM_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if (p->basic_auth)
		hdr[1] = buf_cstr(&auth);
	if ((j = call_json(app, p, p->token_url, buf_cstr(&form), hdr,
	    &status, e)) == NULL)
		goto out;
	if (token_error(p, j, status, e))
		goto out;
	if ((idt = jstr(j, "id_token")) == NULL) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s returned no ID token",
		    p->name);
		goto out;
	}
	if (idp_verify_id_token(app, p, idt, nonce, &claims, e) != 0)
		goto out;
	sub = jstr(claims, "sub");
	email = jstr(claims, "email");
	ev = json_object_get(claims, "email_verified");
	name = jstr(claims, "name");
	pic = jstr(claims, "picture");
	if (email == NULL && p->userinfo_url != NULL &&
	    (at = jstr(j, "access_token")) != NULL) {
		/* Section 5.3: the claims may only be at the UserInfo endpoint. */
		buf_addstr(&bearer, "Authorization: Bearer ");
		buf_addstr(&bearer, at);
		hdr[1] = buf_cstr(&bearer);
		if ((ui = call_json(app, p, p->userinfo_url, NULL, hdr,
		    &status, e)) == NULL)
			goto out;
		/* Section 5.3.2: its sub must be the ID token's. */
		if (status != 200 || jstr(ui, "sub") == NULL ||
		    strcmp(jstr(ui, "sub"), sub) != 0) {
			fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s's userinfo does "
			    "not match the ID token", p->name);
			goto out;
		}
		email = jstr(ui, "email");
		ev = json_object_get(ui, "email_verified");
		if (name == NULL)
			name = jstr(ui, "name");
		if (pic == NULL)
			pic = jstr(ui, "picture");
	}
	if (!plausible_email(email) || !verified(ev)) {
		fail(e, PROBLEM_FORBIDDEN, NULL, "%s did not vouch for a "
		    "verified email address; sign-in needs one", p->name);
		goto out;
	}
	user_fill(u, sub, email, name, pic);
	rc = 0;
out:
	json_decref(j);
	json_decref(claims);
	json_decref(ui);
	buf_release_secret(&form);
	buf_release_secret(&auth);
	buf_release_secret(&bearer);
	return rc;
}

/* ---- GitHub ----------------------------------------------------------- */

static int
github_finish(struct app *app, struct idp *p, const char *code,
    const char *redirect_uri, const char *verifier, struct idp_user *u,
    struct idp_err *e)
{
	struct buf	 form = BUF_INIT(16384), bearer = BUF_INIT(4096);
	struct buf	 url = BUF_INIT(4096);
	const char	*hdr[5] = { "Accept: application/json", NULL, NULL,
	    NULL, NULL };
	json_t		*j = NULL, *user = NULL, *emails = NULL, *v, *id;
	const char	*at, *email = NULL, *login;
	char		 sub[32];
	long		 status = 0;
	size_t		 i;
	int		 rc = -1;

	token_request(p, code, redirect_uri, verifier, false, &form, NULL);
	if (form.failed) {
		fail(e, PROBLEM_INTERNAL, NULL, "out of memory");
		goto out;
	}
	if ((j = call_json(app, p, p->token_url, buf_cstr(&form), hdr,
	    &status, e)) == NULL)
		goto out;
	/* GitHub reports a bad code as 200 with an "error" member. */
	if (token_error(p, j, status, e))
		goto out;
	if ((at = jstr(j, "access_token")) == NULL) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s returned no access "
		    "token", p->name);
		goto out;
	}
	buf_addstr(&bearer, "Authorization: Bearer ");
	buf_addstr(&bearer, at);
	hdr[0] = "Accept: application/vnd.github+json";
	hdr[1] = "X-GitHub-Api-Version: 2022-11-28";
	hdr[2] = buf_cstr(&bearer);
	buf_addf(&url, "%s/user", p->api_url);
	if ((user = call_json(app, p, buf_cstr(&url), NULL, hdr, &status,
	    e)) == NULL)
		goto out;
	id = json_object_get(user, "id");
	if (status != 200 || !json_is_integer(id) ||
	    json_integer_value(id) <= 0) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s: GET /user answered "
		    "%ld", p->name, status);
		goto out;
	}
	buf_addstr(&url, "/emails");
	if ((emails = call_json(app, p, buf_cstr(&url), NULL, hdr, &status,
	    e)) == NULL)
		goto out;
	if (status != 200 || !json_is_array(emails)) {
		fail(e, PROBLEM_BAD_GATEWAY, NULL, "%s: GET /user/emails "
		    "answered %ld", p->name, status);
		goto out;
	}
	json_array_foreach(emails, i, v)
		if (json_is_true(json_object_get(v, "primary")) &&
		    json_is_true(json_object_get(v, "verified")))
			email = jstr(v, "email");
	if (!plausible_email(email)) {
		fail(e, PROBLEM_FORBIDDEN, NULL, "the %s account has no "
		    "verified primary email; sign-in needs one", p->name);
		goto out;
	}
	/* The numeric id is stable; the login can be renamed. */
	snprintf(sub, sizeof(sub), "%" JSON_INTEGER_FORMAT,
	    json_integer_value(id));
	login = jstr(user, "login");
	user_fill(u, sub, email, jstr(user, "name") != NULL ?
	    jstr(user, "name") : login, jstr(user, "avatar_url"));
	rc = 0;
out:
	json_decref(j);
	json_decref(user);
	json_decref(emails);
	buf_release_secret(&form);
	buf_release_secret(&bearer);
	buf_release(&url);
	return rc;
}

/* ---- the flow --------------------------------------------------------- */

int
idp_auth_url(struct app *app, struct idp *p, const char *redirect_uri,
    const char *state, const char *nonce, const char *challenge,
    struct buf *url, struct idp_err *e)
{
	if (p->kind == IDP_OIDC && discover(app, p, e) != 0)
		return -1;
	buf_addstr(url, p->auth_url);
	buf_addch(url, strchr(p->auth_url, '?') != NULL ? '&' : '?');
	buf_addstr(url, "response_type=code&client_id=");
	httpc_form_escape(url, p->client_id);
	buf_addstr(url, "&redirect_uri=");
	httpc_form_escape(url, redirect_uri);
	buf_addstr(url, "&scope=");
	httpc_form_escape(url, p->scopes);
	buf_addstr(url, "&state=");
	httpc_form_escape(url, state);
	if (p->kind == IDP_OIDC) {
		buf_addstr(url, "&nonce=");
		httpc_form_escape(url, nonce);
	}
	buf_addstr(url, "&code_challenge=");
	httpc_form_escape(url, challenge);
	buf_addstr(url, "&code_challenge_method=S256");
	if (url->failed) {
		fail(e, PROBLEM_INTERNAL, NULL, "out of memory");
		return -1;
	}
	return 0;
}

int
idp_check_iss(struct app *app, struct idp *p, const char *iss,
    struct idp_err *e)
{
	if (p->kind != IDP_OIDC)
		return 0;
	if (discover(app, p, e) != 0)
		return -1;
	if ((iss != NULL && strcmp(iss, p->issuer) != 0) ||
	    (iss == NULL && p->iss_param)) {
		fail(e, PROBLEM_SIGNIN_FAILED, NULL, "the authorization "
		    "response does not come from %s's issuer (iss)", p->name);
		return -1;
	}
	return 0;
}

int
idp_finish(struct app *app, struct idp *p, const char *code,
    const char *redirect_uri, const char *verifier, const char *nonce,
    struct idp_user *u, struct idp_err *e)
{
	memset(u, 0, sizeof(*u));
	if (p->kind == IDP_OIDC)
		return oidc_finish(app, p, code, redirect_uri, verifier, nonce,
		    u, e);
	return github_finish(app, p, code, redirect_uri, verifier, u, e);
}
