/*
 * jws: compact JWS and JWK on OpenSSL 3; see jws.h.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "crypto.h"
#include "jws.h"

#define RSA_MIN_BITS	2048
#define RSA_MAX_BITS	16384	/* OpenSSL's own limit for verifying */
#define EC_COORD_MAX	66	/* P-521 */

enum alg_family {
	FAMILY_RSA,		/* RSASSA-PKCS1-v1_5 */
	FAMILY_PSS,		/* RSASSA-PSS, salt as long as the digest */
	FAMILY_EC,		/* ECDSA, signature as R || S */
};

static const struct alg_info {
	const char	*name;
	enum alg_family	 family;
	const EVP_MD	*(*md)(void);
	const char	*crv;		/* EC: JOSE curve name */
	const char	*group;		/* EC: OpenSSL group name */
	int		 nid;		/* EC: the curve */
	size_t		 coord;		/* EC: coordinate size */
} algs[JWS_ALG__MAX] = {
	[JWS_RS256] = { "RS256", FAMILY_RSA, EVP_sha256, NULL, NULL, 0, 0 },
	[JWS_RS384] = { "RS384", FAMILY_RSA, EVP_sha384, NULL, NULL, 0, 0 },
	[JWS_RS512] = { "RS512", FAMILY_RSA, EVP_sha512, NULL, NULL, 0, 0 },
	[JWS_PS256] = { "PS256", FAMILY_PSS, EVP_sha256, NULL, NULL, 0, 0 },
	[JWS_PS384] = { "PS384", FAMILY_PSS, EVP_sha384, NULL, NULL, 0, 0 },
	[JWS_PS512] = { "PS512", FAMILY_PSS, EVP_sha512, NULL, NULL, 0, 0 },
	[JWS_ES256] = { "ES256", FAMILY_EC, EVP_sha256, "P-256",
	    SN_X9_62_prime256v1, NID_X9_62_prime256v1, 32 },
	[JWS_ES384] = { "ES384", FAMILY_EC, EVP_sha384, "P-384",
	    SN_secp384r1, NID_secp384r1, 48 },
	[JWS_ES512] = { "ES512", FAMILY_EC, EVP_sha512, "P-521",
	    SN_secp521r1, NID_secp521r1, 66 },
};

const char *
jws_alg_name(enum jws_alg alg)
{
	if ((unsigned int)alg >= JWS_ALG__MAX)
		return NULL;
	return algs[alg].name;
}

enum jws_alg
jws_alg_parse(const char *name)
{
	unsigned int	 i;

	if (name == NULL)
		return JWS_ALG__MAX;
	for (i = 0; i < JWS_ALG__MAX; i++)
		if (strcmp(algs[i].name, name) == 0)
			return (enum jws_alg)i;
	return JWS_ALG__MAX;
}

/* The NID of an EC key's named curve, or NID_undef. */
static int
ec_key_nid(EVP_PKEY *key)
{
	char	 name[80];
	size_t	 len;
	int	 nid;

	if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
	    name, sizeof(name), &len) != 1) {
		ERR_clear_error();
		return NID_undef;
	}
	if ((nid = OBJ_sn2nid(name)) == NID_undef)
		nid = EC_curve_nist2nid(name);
	return nid;
}

/*
 * Whether `key` may be used with `a`.  This, not the token, decides: an
 * RSA key is never used for ECDSA, a P-256 key never for ES384, and keys
 * too short to trust are refused outright.  RSA-PSS-restricted keys are
 * refused too: we never make them and they carry their own parameters.
 */
static bool
key_fits(const struct alg_info *a, EVP_PKEY *key)
{
	if (key == NULL)
		return false;
	switch (a->family) {
	case FAMILY_RSA:
	case FAMILY_PSS:
		return EVP_PKEY_is_a(key, "RSA") &&
		    EVP_PKEY_get_bits(key) >= RSA_MIN_BITS &&
		    EVP_PKEY_get_bits(key) <= RSA_MAX_BITS;
	case FAMILY_EC:
		return EVP_PKEY_is_a(key, "EC") &&
		    ec_key_nid(key) == a->nid;
	}
	return false;
}

static int
set_padding(const struct alg_info *a, EVP_PKEY_CTX *pctx)
{
	switch (a->family) {
	case FAMILY_RSA:
		if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
			return -1;
		break;
	case FAMILY_PSS:
		/* RFC 7518 section 3.5: MGF1 with the same hash. */
		if (EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST) <= 0 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, a->md()) <= 0)
			return -1;
		break;
	case FAMILY_EC:
		break;
	}
	return 0;
}

/*
 * JWS carries ECDSA signatures as fixed-size R || S (RFC 7518 section
 * 3.4); OpenSSL wants DER.  The DER is OPENSSL_malloc'd.
 */
static int
ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen, size_t coord,
    unsigned char **der, size_t *derlen)
{
	ECDSA_SIG	*sig = NULL;
	BIGNUM		*r = NULL, *s = NULL;
	int		 n, rc = -1;

	*der = NULL;
	if (rawlen != 2 * coord)
		return -1;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(raw, (int)coord, NULL)) == NULL ||
	    (s = BN_bin2bn(raw + coord, (int)coord, NULL)) == NULL ||
	    ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL;		/* owned by sig now */
	if ((n = i2d_ECDSA_SIG(sig, der)) <= 0)
		goto out;
	*derlen = (size_t)n;
	rc = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

static int
ecdsa_der_to_raw(const unsigned char *der, size_t derlen, size_t coord,
    unsigned char *raw)
{
	ECDSA_SIG	*sig;
	const BIGNUM	*r, *s;
	const unsigned char *p = der;
	int		 rc = -1;

	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL)
		return -1;
	ECDSA_SIG_get0(sig, &r, &s);
	if (p == der + derlen &&
	    BN_bn2binpad(r, raw, (int)coord) == (int)coord &&
	    BN_bn2binpad(s, raw + coord, (int)coord) == (int)coord)
		rc = 0;
	ECDSA_SIG_free(sig);
	return rc;
}

/*
 * A JSON object from the base64url text s[0..n).  *notb64 tells the two
 * failures apart, for the reason given to the caller.
 */
static json_t *
decode_object(const char *s, size_t n, bool *notb64)
{
	unsigned char	*raw;
	size_t		 rawlen;
	json_t		*o;

	*notb64 = false;
	if ((raw = b64url_decode(s, n, &rawlen)) == NULL) {
		*notb64 = true;
		return NULL;
	}
	o = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES,
	    NULL);
	free(raw);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int
jws_parse(const char *token, struct jws *j, const char **why)
{
	const char	*d1, *d2, *end, *w = NULL;
	json_t		*v;
	size_t		 len;
	bool		 notb64;

	memset(j, 0, sizeof(*j));
	j->alg = JWS_ALG__MAX;
	if (token == NULL) {
		w = "no token";
		goto fail;
	}
	if ((len = strnlen(token, JWS_TOKEN_MAX + 1)) > JWS_TOKEN_MAX) {
		w = "token too long";
		goto fail;
	}
	end = token + len;
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL) {
		w = "not a compact JWS of three parts";
		goto fail;
	}

	if ((j->header = decode_object(token, (size_t)(d1 - token),
	    &notb64)) == NULL) {
		w = notb64 ? "header is not base64url" :
		    "header is not a JSON object";
		goto fail;
	}
	if ((v = json_object_get(j->header, "alg")) == NULL) {
		w = "missing alg";
		goto fail;
	}
	/* Unknown, "none" and HS* all land here: see jws.h. */
	if ((j->alg = jws_alg_parse(json_string_value(v))) == JWS_ALG__MAX) {
		w = "unsupported alg";
		goto fail;
	}
	if ((v = json_object_get(j->header, "kid")) != NULL) {
		if ((j->kid = json_string_value(v)) == NULL) {
			w = "kid is not a string";
			goto fail;
		}
	}
	/*
	 * We understand no extension, and RFC 7515 section 4.1.11 says a
	 * token naming one it needs must then be refused.
	 */
	if (json_object_get(j->header, "crit") != NULL) {
		w = "crit header not supported";
		goto fail;
	}

	if ((j->claims = decode_object(d1 + 1, (size_t)(d2 - d1 - 1),
	    &notb64)) == NULL) {
		w = notb64 ? "payload is not base64url" :
		    "payload is not a JSON object";
		goto fail;
	}
	if (d2 + 1 == end) {
		w = "missing signature";
		goto fail;
	}
	if ((j->sig = b64url_decode(d2 + 1, (size_t)(end - d2 - 1),
	    &j->siglen)) == NULL) {
		w = "signature is not base64url";
		goto fail;
	}
	j->inputlen = (size_t)(d2 - token);
	if ((j->input = strndup(token, j->inputlen)) == NULL) {
		w = "out of memory";
		goto fail;
	}
	return 0;
fail:
	if (why != NULL)
		*why = w;
	jws_clear(j);
	return -1;
}

void
jws_clear(struct jws *j)
{
	json_decref(j->header);
	json_decref(j->claims);
	free(j->input);
	free(j->sig);
	memset(j, 0, sizeof(*j));
	j->alg = JWS_ALG__MAX;
}

int
jws_verify(const struct jws *j, EVP_PKEY *key)
{
	const struct alg_info *a;
	EVP_MD_CTX	*mctx = NULL;
	EVP_PKEY_CTX	*pctx = NULL;
	unsigned char	*der = NULL;
	const unsigned char *sig;
	size_t		 siglen;
	int		 rc = -1;

	if ((unsigned int)j->alg >= JWS_ALG__MAX || j->input == NULL ||
	    j->sig == NULL)
		return -1;
	a = &algs[j->alg];
	if (!key_fits(a, key))
		return -1;
	sig = j->sig;
	siglen = j->siglen;
	if (a->family == FAMILY_EC) {
		if (ecdsa_raw_to_der(j->sig, j->siglen, a->coord, &der,
		    &siglen) != 0)
			goto out;
		sig = der;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(mctx, &pctx, a->md(), NULL, key) != 1 ||
	    set_padding(a, pctx) != 0)
		goto out;
	if (EVP_DigestVerify(mctx, sig, siglen,
	    (const unsigned char *)j->input, j->inputlen) == 1)
		rc = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(mctx);
	OPENSSL_free(der);
	return rc;
}

char *
jws_sign(EVP_PKEY *key, enum jws_alg alg, const char *kid,
    const json_t *claims)
{
	const struct alg_info *a;
	struct buf	 b = BUF_INIT(JWS_TOKEN_MAX);
	json_t		*hdr = NULL;
	EVP_MD_CTX	*mctx = NULL;
	EVP_PKEY_CTX	*pctx = NULL;
	unsigned char	*sig = NULL, raw[2 * EC_COORD_MAX];
	char		*hs = NULL, *cs = NULL, *tok = NULL;
	size_t		 siglen;

	if ((unsigned int)alg >= JWS_ALG__MAX || !json_is_object(claims))
		return NULL;
	a = &algs[alg];
	if (!key_fits(a, key))
		return NULL;
	if ((hdr = json_pack("{s:s, s:s}", "alg", a->name, "typ",
	    "JWT")) == NULL)
		goto out;
	if (kid != NULL &&
	    json_object_set_new(hdr, "kid", json_string(kid)) != 0)
		goto out;
	if ((hs = json_dumps(hdr, JSON_COMPACT)) == NULL ||
	    (cs = json_dumps(claims, JSON_COMPACT)) == NULL)
		goto out;
	b64url_encode(&b, hs, strlen(hs));
	buf_addch(&b, '.');
	b64url_encode(&b, cs, strlen(cs));
	if (b.failed)
		goto out;

	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, &pctx, a->md(), NULL, key) != 1 ||
	    set_padding(a, pctx) != 0 ||
	    EVP_DigestSign(mctx, NULL, &siglen, (unsigned char *)b.data,
	    b.len) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(mctx, sig, &siglen, (unsigned char *)b.data,
	    b.len) != 1)
		goto out;
	buf_addch(&b, '.');
	if (a->family == FAMILY_EC) {
		if (ecdsa_der_to_raw(sig, siglen, a->coord, raw) != 0)
			goto out;
		b64url_encode(&b, raw, 2 * a->coord);
	} else
		b64url_encode(&b, sig, siglen);
	tok = buf_detach(&b, NULL);
out:
	ERR_clear_error();
	buf_release(&b);
	EVP_MD_CTX_free(mctx);
	free(sig);
	free(hs);
	free(cs);
	json_decref(hdr);
	return tok;
}

/* Build a public key of type `type` from `params`. */
static EVP_PKEY *
pkey_fromdata(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pk = NULL;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* A BIGNUM from the base64url member `name` of `jwk`, or NULL. */
static BIGNUM *
jwk_bn(const json_t *jwk, const char *name)
{
	const char	*s;
	unsigned char	*raw;
	size_t		 len;
	BIGNUM		*bn = NULL;

	if ((s = json_string_value(json_object_get(jwk, name))) == NULL ||
	    (raw = b64url_decode(s, strlen(s), &len)) == NULL)
		return NULL;
	if (len > 0 && len <= RSA_MAX_BITS / 8)
		bn = BN_bin2bn(raw, (int)len, NULL);
	free(raw);
	return bn;
}

static EVP_PKEY *
jwk_rsa(const json_t *jwk, const char **why)
{
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	BIGNUM		*n = NULL, *e = NULL;
	EVP_PKEY	*pk = NULL;
	const char	*w = NULL;

	if ((n = jwk_bn(jwk, "n")) == NULL || (e = jwk_bn(jwk, "e")) == NULL) {
		w = "RSA JWK lacks a valid n or e";
		goto out;
	}
	if (BN_num_bits(n) < RSA_MIN_BITS) {
		w = "RSA key shorter than 2048 bits";
		goto out;
	}
	if (!BN_is_odd(n)) {
		w = "RSA modulus is even";
		goto out;
	}
	/* e = 1 would make the "signature" the padded digest itself. */
	if (!BN_is_odd(e) || BN_is_one(e) || BN_cmp(e, n) >= 0) {
		w = "RSA exponent is invalid";
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (pk = pkey_fromdata("RSA", params)) == NULL)
		w = "RSA JWK refused by OpenSSL";
out:
	if (w != NULL)
		*why = w;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pk;
}

/*
 * The coordinates must have exactly the curve's size (RFC 7518 section
 * 6.2.1.2), and the point must be on the curve: a point off it is the
 * classic invalid-curve attack on careless verifiers.
 */
static EVP_PKEY *
jwk_ec(const json_t *jwk, const char **why)
{
	const struct alg_info *a = NULL;
	OSSL_PARAM	 params[3];
	EVP_PKEY_CTX	*ctx = NULL;
	EVP_PKEY	*pk = NULL;
	unsigned char	 pub[1 + 2 * EC_COORD_MAX], *x = NULL, *y = NULL;
	const char	*crv, *xs, *ys, *w = NULL;
	size_t		 xlen, ylen;
	unsigned int	 i;

	crv = json_string_value(json_object_get(jwk, "crv"));
	for (i = 0; crv != NULL && i < JWS_ALG__MAX; i++)
		if (algs[i].crv != NULL && strcmp(algs[i].crv, crv) == 0)
			a = &algs[i];
	if (a == NULL) {
		w = "unsupported EC curve";
		goto out;
	}
	xs = json_string_value(json_object_get(jwk, "x"));
	ys = json_string_value(json_object_get(jwk, "y"));
	if (xs == NULL || ys == NULL ||
	    (x = b64url_decode(xs, strlen(xs), &xlen)) == NULL ||
	    (y = b64url_decode(ys, strlen(ys), &ylen)) == NULL ||
	    xlen != a->coord || ylen != a->coord) {
		w = "EC JWK lacks valid x and y";
		goto out;
	}
	pub[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(pub + 1, x, a->coord);
	memcpy(pub + 1 + a->coord, y, a->coord);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)a->group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * a->coord);
	params[2] = OSSL_PARAM_construct_end();
	if ((pk = pkey_fromdata("EC", params)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(ctx) != 1) {
		w = "EC point is not on the curve";
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	if (w != NULL)
		*why = w;
	EVP_PKEY_CTX_free(ctx);
	free(x);
	free(y);
	return pk;
}

EVP_PKEY *
jwk_to_pkey(const json_t *jwk, const char **why)
{
	static const char *const private[] = {
		"d", "p", "q", "dp", "dq", "qi", "oth", "k",
	};
	const char	*kty, *w = "out of memory";
	EVP_PKEY	*pk = NULL;
	size_t		 i;

	if (!json_is_object(jwk)) {
		w = "JWK is not an object";
		goto out;
	}
	for (i = 0; i < sizeof(private) / sizeof(private[0]); i++)
		if (json_object_get(jwk, private[i]) != NULL) {
			w = "JWK carries private key material";
			goto out;
		}
	if ((kty = json_string_value(json_object_get(jwk, "kty"))) == NULL)
		w = "JWK lacks kty";
	else if (strcmp(kty, "RSA") == 0)
		pk = jwk_rsa(jwk, &w);
	else if (strcmp(kty, "EC") == 0)
		pk = jwk_ec(jwk, &w);
	else
		w = "unsupported kty";
out:
	if (pk == NULL) {
		ERR_clear_error();
		if (why != NULL)
			*why = w;
	}
	return pk;
}

/*
 * Set `name` in `o` to the base64url of `bn`, left-padded with zeros to
 * `pad` bytes (0: the minimum, as RFC 7518 wants for RSA).
 */
static int
jwk_set_bn(json_t *o, const char *name, const BIGNUM *bn, size_t pad)
{
	unsigned char	 raw[RSA_MAX_BITS / 8];
	struct buf	 b = BUF_INIT(0);
	int		 n, rc = -1;

	if (pad == 0)
		pad = (size_t)BN_num_bytes(bn);
	if (pad == 0 || pad > sizeof(raw) ||
	    (n = BN_bn2binpad(bn, raw, (int)pad)) < 0 || (size_t)n != pad)
		return -1;
	b64url_encode(&b, raw, pad);
	if (!b.failed &&
	    json_object_set_new(o, name, json_string(buf_cstr(&b))) == 0)
		rc = 0;
	buf_release(&b);
	return rc;
}

json_t *
jwk_from_pkey(EVP_PKEY *pk, const char *kid, enum jws_alg alg)
{
	const struct alg_info *a;
	json_t		*o;
	BIGNUM		*p1 = NULL, *p2 = NULL;
	bool		 ok = false;

	if ((unsigned int)alg >= JWS_ALG__MAX)
		return NULL;
	a = &algs[alg];
	if (!key_fits(a, pk) || (o = json_object()) == NULL)
		return NULL;
	if (a->family == FAMILY_EC) {
		ok = json_object_set_new(o, "kty", json_string("EC")) == 0 &&
		    json_object_set_new(o, "crv", json_string(a->crv)) == 0 &&
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X,
		    &p1) == 1 &&
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y,
		    &p2) == 1 &&
		    jwk_set_bn(o, "x", p1, a->coord) == 0 &&
		    jwk_set_bn(o, "y", p2, a->coord) == 0;
	} else {
		ok = json_object_set_new(o, "kty", json_string("RSA")) == 0 &&
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N,
		    &p1) == 1 &&
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E,
		    &p2) == 1 &&
		    jwk_set_bn(o, "n", p1, 0) == 0 &&
		    jwk_set_bn(o, "e", p2, 0) == 0;
	}
	if (ok && kid != NULL)
		ok = json_object_set_new(o, "kid", json_string(kid)) == 0;
	if (ok)
		ok = json_object_set_new(o, "use", json_string("sig")) == 0 &&
		    json_object_set_new(o, "alg", json_string(a->name)) == 0;
	BN_free(p1);
	BN_free(p2);
	if (!ok) {
		ERR_clear_error();
		json_decref(o);
		o = NULL;
	}
	return o;
}
