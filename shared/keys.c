/*
 * keys: the signing keyring; see keys.h.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "db.h"
#include "jws.h"
#include "keys.h"
#include "log.h"

#define KEYRING_MISS_MS		1000	/* unknown kid: re-read at most this often */
#define KEYRING_RETRY_MS	1000	/* after a failed read */

static const char *const state_names[KEY_STATE__MAX] = {
	[KEY_NEXT] = "next",
	[KEY_ACTIVE] = "active",
	[KEY_RETIRED] = "retired",
};

static const struct db_stmt st_keys = { "keys_load",
    "SELECT kid, alg, state, public_pem FROM signing_keys "
    "ORDER BY created_at DESC LIMIT 16", 0 };

static const struct db_stmt st_sealed = { "keys_sealed",
    "SELECT encode(private_sealed, 'hex') FROM signing_keys "
    "WHERE kid = $1 AND state = 'active'", 1 };

static void
key_clear(struct signing_key *k)
{
	EVP_PKEY_free(k->pub);
	EVP_PKEY_free(k->priv);
	memset(k, 0, sizeof(*k));
}

void
keyring_free(struct keyring *kr)
{
	size_t	 i;

	for (i = 0; i < kr->n; i++)
		key_clear(&kr->keys[i]);
	kr->n = 0;
	kr->loaded = false;
}

static int
state_parse(const char *s, enum key_state *out)
{
	int	 i;

	for (i = 0; i < KEY_STATE__MAX; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

/*
 * Re-read the table.  A key already held keeps its EVP_PKEYs (the private
 * part in particular, so it is unsealed once per process); its state is
 * refreshed.  On failure the old ring is kept.
 */
static int
keyring_load(struct app *app)
{
	struct keyring		*kr = &app->keys;
	struct signing_key	 next[KEYRING_MAX];
	PGresult		*res;
	const char		*pem;
	size_t			 i, j, n = 0;
	int			 row, rows;

	kr->tried_ms = clock_ms();
	if ((res = db_exec(&app->db, &st_keys, NULL)) == NULL) {
		log_warn(&app->log, "cannot read signing keys: %s",
		    app->db.errmsg);
		return -1;
	}
	memset(next, 0, sizeof(next));
	rows = PQntuples(res);
	for (row = 0; row < rows && n < KEYRING_MAX; row++) {
		struct signing_key	*k = &next[n];

		if (strlen(PQgetvalue(res, row, 0)) >= KID_MAX ||
		    (k->alg = jws_alg_parse(PQgetvalue(res, row, 1))) ==
		    JWS_ALG__MAX ||
		    state_parse(PQgetvalue(res, row, 2), &k->state) != 0) {
			log_error(&app->log, "signing key %s: bad row",
			    PQgetvalue(res, row, 0));
			continue;
		}
		strcpy(k->kid, PQgetvalue(res, row, 0));
		for (j = 0; j < kr->n; j++)
			if (strcmp(kr->keys[j].kid, k->kid) == 0)
				break;
		if (j < kr->n) {
			k->pub = kr->keys[j].pub;
			kr->keys[j].pub = NULL;
			if (k->state == KEY_ACTIVE) {
				k->priv = kr->keys[j].priv;
				kr->keys[j].priv = NULL;
			}
		} else {
			pem = PQgetvalue(res, row, 3);
			if ((k->pub = pkey_from_pem(pem, strlen(pem),
			    false)) == NULL) {
				log_error(&app->log, "signing key %s: public "
				    "key does not parse", k->kid);
				continue;
			}
		}
		n++;
	}
	PQclear(res);
	keyring_free(kr);
	for (i = 0; i < n; i++)
		kr->keys[i] = next[i];
	kr->n = n;
	kr->loaded = true;
	kr->loaded_ms = kr->tried_ms;
	return 0;
}

static void
keyring_refresh(struct app *app)
{
	struct keyring	*kr = &app->keys;
	long long	 now = clock_ms();

	if (kr->loaded && now - kr->loaded_ms <
	    config_int(&app->cfg, CFG_KEYS_REFRESH_MS))
		return;
	if (now - kr->tried_ms < KEYRING_RETRY_MS && kr->tried_ms != 0)
		return;
	(void)keyring_load(app);
}

static const struct signing_key *
keyring_lookup(const struct keyring *kr, const char *kid)
{
	size_t	 i;

	for (i = 0; i < kr->n; i++)
		if (strcmp(kr->keys[i].kid, kid) == 0)
			return &kr->keys[i];
	return NULL;
}

const struct signing_key *
keyring_find(struct app *app, const char *kid)
{
	struct keyring			*kr = &app->keys;
	const struct signing_key	*k;

	if (kid == NULL)
		return NULL;
	keyring_refresh(app);
	if ((k = keyring_lookup(kr, kid)) != NULL)
		return k;
	/* A kid we do not know: perhaps a key created since the last read. */
	if (clock_ms() - kr->tried_ms < KEYRING_MISS_MS)
		return NULL;
	if (keyring_load(app) != 0)
		return NULL;
	return keyring_lookup(kr, kid);
}

size_t
keyring_all(struct app *app, const struct signing_key **out)
{
	keyring_refresh(app);
	*out = app->keys.keys;
	return app->keys.n;
}


/* Lowercase hex (as PostgreSQL's encode() writes it) into bytes. */
static int
unhex(const char *s, struct buf *out)
{
	size_t	 i, n = strlen(s);
	int	 hi, lo;

	if (n % 2 != 0)
		return -1;
	for (i = 0; i < n; i += 2) {
		if ((hi = hex_digit(s[i])) < 0 || (lo = hex_digit(s[i + 1])) < 0)
			return -1;
		buf_addch(out, (char)(hi << 4 | lo));
	}
	return out->failed ? -1 : 0;
}

static EVP_PKEY *
key_unseal(struct app *app, const char *kid)
{
	unsigned char	 master[CRYPTO_KEY_LEN];
	const char	*mk = config_str(&app->cfg, CFG_MASTER_KEY);
	const char	*params[1] = { kid };
	struct buf	 pt = BUF_INIT(64 * 1024), ct = BUF_INIT(64 * 1024);
	EVP_PKEY	*pk = NULL;
	PGresult	*res;

	if (mk == NULL || crypto_parse_key(mk, master) != 0) {
		log_error(&app->log, "HXB_MASTER_KEY is %s: cannot sign",
		    mk == NULL ? "not set" : "not 32 bytes of hex or base64");
		return NULL;
	}
	if ((res = db_exec(&app->db, &st_sealed, params)) == NULL) {
		log_error(&app->log, "cannot read key %s: %s", kid,
		    app->db.errmsg);
		goto out;
	}
	if (PQntuples(res) != 1) {
		log_warn(&app->log, "key %s is no longer active", kid);
		PQclear(res);
		goto out;
	}
	if (unhex(PQgetvalue(res, 0, 0), &ct) != 0 ||
	    crypto_open(master, kid, strlen(kid), ct.data, ct.len, &pt) != 0)
		log_error(&app->log, "key %s does not unseal with this "
		    "HXB_MASTER_KEY", kid);
	else if ((pk = pkey_from_pem(buf_cstr(&pt), pt.len, true)) == NULL)
		log_error(&app->log, "key %s: private key does not parse",
		    kid);
	PQclear(res);
out:
	OPENSSL_cleanse(master, sizeof(master));
	if (pt.data != NULL)
		OPENSSL_cleanse(pt.data, pt.len);
	buf_release(&pt);
	buf_release(&ct);
	return pk;
}

const struct signing_key *
keyring_signer(struct app *app)
{
	struct keyring	*kr = &app->keys;
	size_t		 i;

	keyring_refresh(app);
	for (i = 0; i < kr->n; i++)
		if (kr->keys[i].state == KEY_ACTIVE)
			break;
	if (i == kr->n) {
		/* Perhaps the first key was created since the last read. */
		if (clock_ms() - kr->tried_ms >= KEYRING_MISS_MS &&
		    keyring_load(app) == 0)
			for (i = 0; i < kr->n; i++)
				if (kr->keys[i].state == KEY_ACTIVE)
					break;
		if (i == kr->n) {
			log_error(&app->log, "there is no active signing key; "
			    "run jobs/migrate with HXB_MASTER_KEY set");
			return NULL;
		}
	}
	if (kr->keys[i].priv == NULL &&
	    (kr->keys[i].priv = key_unseal(app, kr->keys[i].kid)) == NULL)
		return NULL;
	return &kr->keys[i];
}

int
key_thumbprint(EVP_PKEY *pk, char out[KID_MAX])
{
	json_t		*jwk;
	const char	*n, *e;
	struct buf	 b = BUF_INIT(8192), t = BUF_INIT(KID_MAX);
	unsigned char	 h[CRYPTO_SHA256_LEN];
	int		 rc = -1;

	if ((jwk = jwk_from_pkey(pk, NULL, JWS_RS256)) == NULL)
		return -1;
	n = json_string_value(json_object_get(jwk, "n"));
	e = json_string_value(json_object_get(jwk, "e"));
	if (n != NULL && e != NULL) {
		/* RFC 7638: the required members, sorted, no whitespace. */
		buf_addf(&b, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e,
		    n);
		if (!b.failed) {
			crypto_sha256(b.data, b.len, h);
			b64url_encode(&t, h, sizeof(h));
			if (!t.failed && t.len < KID_MAX) {
				memcpy(out, t.data, t.len);
				out[t.len] = '\0';
				rc = 0;
			}
		}
	}
	json_decref(jwk);
	buf_release(&b);
	buf_release(&t);
	return rc;
}

int
key_create(struct db *db, const struct logger *log,
    const unsigned char *master, enum key_state state, char kid_out[KID_MAX])
{
	static const struct db_stmt st = { "keys_insert",
	    "INSERT INTO signing_keys (kid, alg, public_pem, private_sealed, "
	    "state, activated_at) VALUES ($1, 'RS256', $2, "
	    "decode($3, 'hex'), $4, CASE WHEN $4 = 'active' THEN now() END)",
	    4 };
	EVP_PKEY	*pk;
	char		*pub = NULL, *priv = NULL;
	struct buf	 sealed = BUF_INIT(64 * 1024), hex = BUF_INIT(128 * 1024);
	const char	*params[4];
	PGresult	*res;
	int		 rc = -1;

	if ((pk = pkey_generate_rsa(2048)) == NULL ||
	    key_thumbprint(pk, kid_out) != 0 ||
	    (pub = pkey_public_pem(pk)) == NULL ||
	    (priv = pkey_private_pem(pk)) == NULL) {
		log_error(log, "cannot generate an RSA key");
		goto out;
	}
	if (crypto_seal(master, kid_out, strlen(kid_out), priv, strlen(priv),
	    &sealed) != 0) {
		log_error(log, "cannot seal the private key");
		goto out;
	}
	crypto_hex(&hex, sealed.data, sealed.len);
	if (hex.failed)
		goto out;
	params[0] = kid_out;
	params[1] = pub;
	params[2] = buf_cstr(&hex);
	params[3] = state_names[state];
	if ((res = db_exec(db, &st, params)) == NULL) {
		log_error(log, "cannot store the key: %s", db->errmsg);
		goto out;
	}
	PQclear(res);
	rc = 0;
out:
	if (priv != NULL) {
		OPENSSL_cleanse(priv, strlen(priv));
		free(priv);
	}
	free(pub);
	EVP_PKEY_free(pk);
	buf_release(&sealed);
	buf_release(&hex);
	return rc;
}
