/*
 * jws: JSON Web Tokens in compact JWS form (RFC 7515, 7519) and JSON Web
 * Keys (RFC 7517, 7518), on OpenSSL.
 *
 * The verifier never takes the algorithm from the token alone: the caller
 * names the key, and jws_verify() refuses unless the token's alg belongs to
 * that key's type (RS and PS with RSA keys of at least 2048 bits, ES256 with
 * P-256, ES384 with P-384, ES512 with P-521).  "none" and the HMAC
 * algorithms are never accepted by jws_parse(), so a public key can never be
 * used as an HMAC secret.
 *
 * Ownership: a struct jws owns its copies; jws_clear() releases them.
 */
#ifndef HXB_JWS_H
#define HXB_JWS_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

enum jws_alg {
	JWS_RS256,
	JWS_RS384,
	JWS_RS512,
	JWS_PS256,
	JWS_PS384,
	JWS_PS512,
	JWS_ES256,
	JWS_ES384,
	JWS_ES512,
	JWS_ALG__MAX
};

#define JWS_TOKEN_MAX	16384	/* longer tokens are refused unparsed */

struct jws {
	json_t		*header;	/* owned */
	json_t		*claims;	/* owned; the payload, a JSON object */
	enum jws_alg	 alg;
	const char	*kid;		/* borrowed from header; may be NULL */
	char		*input;		/* owned: "<header>.<payload>" */
	size_t		 inputlen;
	unsigned char	*sig;		/* owned, raw (ES: R || S) */
	size_t		 siglen;
};

const char	*jws_alg_name(enum jws_alg);
/* The alg with this JOSE name, or JWS_ALG__MAX (also for none, HS*). */
enum jws_alg	 jws_alg_parse(const char *);

/*
 * Split and decode a compact token: three base64url parts, a header that is
 * a JSON object with a supported "alg" (and "kid" a string if present, and
 * no "crit"), a payload that is a JSON object.  The signature is NOT
 * checked.  Returns 0, or -1 with *why set to a short static reason.
 * Always call jws_clear() afterwards.
 */
int		 jws_parse(const char *token, struct jws *, const char **why);
void		 jws_clear(struct jws *);

/* 0 if the signature verifies with `key` for the token's alg; -1 if not. */
int		 jws_verify(const struct jws *, EVP_PKEY *key);

/*
 * Sign `claims` with `key` as compact JWS; the header is
 * {"alg":…,"typ":"JWT","kid":…} (kid omitted when NULL).  Returns a
 * malloc'd string, or NULL.
 */
char		*jws_sign(EVP_PKEY *key, enum jws_alg, const char *kid,
		    const json_t *claims);

/*
 * A public key from a JWK (kty RSA with n and e, or kty EC with crv, x and
 * y).  Returns NULL with *why set if the JWK is malformed, unsupported or
 * an RSA key below 2048 bits.  A JWK carrying private members ("d") is
 * refused: it would mean someone published a private key.
 */
EVP_PKEY	*jwk_to_pkey(const json_t *jwk, const char **why);

/* The public JWK of an RSA or EC key, with kid, use "sig" and alg; new ref. */
json_t		*jwk_from_pkey(EVP_PKEY *, const char *kid, enum jws_alg);

#endif
