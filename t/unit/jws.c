/*
 * jws: tokens and keys from RFC 7515 and from an independent implementation
 * (node's crypto) verify; our own tokens round-trip; and every way of
 * getting a forged or confused token past the verifier is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "crypto.h"
#include "jws.h"

/*
 * RFC 7515 appendix A.2 (RS256) and A.3 (ES256): the compact serialisations
 * and the public halves of the keys, as printed in the RFC.
 */
static const char rfc_a2_n[] =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHm"
    "fHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_"
    "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5"
    "z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uD"
    "Zlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9ia"
    "GNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
static const char rfc_a2_token[] =
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTk"
    "zODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4h"
    "iUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKB"
    "YNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb"
    "1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZES"
    "c6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5A"
    "XLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
static const char rfc_a3_token[] =
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTk"
    "zODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEh"
    "U3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
    "pmWQxfKTUJqPP3-Kg6NU1Q";
static const char rfc_a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char rfc_a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char rfc_a3_d[] = "jpsQnnGQmL-YBIffH1136cLSG2XyQSrc7Qo5J2sGz80";

/*
 * Made with node's crypto (OpenSSL underneath, but none of our code):
 * generateKeyPairSync, export({format: "jwk"}), crypto.sign with PSS and
 * salt length 32, or dsaEncoding "ieee-p1363" for ECDSA.  Header
 * {"alg":…,"kid":"node-1"}, payload {"iss":"https://idp.example",
 * "sub":"u-42","aud":"hxb","exp":2000000000}.  The P-521 coordinates both
 * start with zero bits, x with a 0x01 byte and y with a 0x00 byte.
 */
static const char ps256_jwk[] =
    "{\"kty\":\"RSA\",\"n\":\"ylBkSXSBXtFXVNtJxnZcJE3vGVkD_taRVXOCoTl3QH"
    "e4F9Ivt7b3Yf7jDWx_hv8wINC2vwq_R3kuxtzYyfVY1MYQcO0gxrKjB6hkam"
    "nZWVWjYZQRxU6ixtKr6oag-QmB-KM-cM-m-WbgR18xP6n1p_z5IvrYTQpqwl"
    "GufVAJE8BzewLgq2XJcAo0-UtXTXbnWWBlQzw0acTXK3lc-hBY7Dit0KD_w5"
    "AOthZQ0QvsJpwrzx-2KxKqFvtH5eMmEH-u71Ulfn8igIZeuKZb0JjKoIjJvH"
    "OOa6ANDt3JaDvEic_o6PZHotLNPWI0aFuXG3hApsYUC7YRiTMDZOiTcbv30w"
    "\",\"e\":\"AQAB\"}";
static const char ps256_token[] =
    "eyJhbGciOiJQUzI1NiIsImtpZCI6Im5vZGUtMSJ9.eyJpc3MiOiJodHRwczo"
    "vL2lkcC5leGFtcGxlIiwic3ViIjoidS00MiIsImF1ZCI6Imh4YiIsImV4cCI"
    "6MjAwMDAwMDAwMH0.AWmXdbTK8EazJ2xIjYPaN0wB2ZbjqPz9cCW0VijP_wk"
    "NPxjWcPo0rdyjkd0Yc6C1AXvWXFSpwk9qrjocAHth22pUxWKf-7FKcf42KSA"
    "a5eTMM2f_njWX1Zgm2AR6k488OEXvA6vHAI6mqOdilw06Fodmp0dT2-ot9qH"
    "u9XWlRjNv4_nX46R2LVk1ZOA2p18X8gB2Y97IDuw2Mc96090CPDcQS7qMaqJ"
    "7FqA8aj1bz-3ZkRqEM1o5JLBUd5SZNawNW3gj0kFwp6mWWwwaYwk1wKpB85v"
    "IibeND4o3rnzYB5xT-fLOdTglaGkvTuojy1r86eKgFjEPb1y-ZoM49cQimw";
static const char es384_jwk[] =
    "{\"kty\":\"EC\",\"x\":\"S4U3B7hwpL7nquxKYqxirP57sGAt_gEiRTxMmBrxfA1"
    "yxIobloYGhgPl_La5aSHE\",\"y\":\"OBPUG_K0xD0hmGFhbEh_mXieF7CcO7h_"
    "z82in4InQc7-8RmHwf4KTxiK2vq_oguy\",\"crv\":\"P-384\"}";
static const char es384_token[] =
    "eyJhbGciOiJFUzM4NCIsImtpZCI6Im5vZGUtMSJ9.eyJpc3MiOiJodHRwczo"
    "vL2lkcC5leGFtcGxlIiwic3ViIjoidS00MiIsImF1ZCI6Imh4YiIsImV4cCI"
    "6MjAwMDAwMDAwMH0.hf-t45c6QOPP7hJYdCEtxecOuUw89LFqiEEC2D9LTCa"
    "caLn37WnvI2LPmphX_kQ52JtdHxmuyInY39jGSJjmxAnQk6NxfYLLO5FZxQQ"
    "24SFwEQL5eaJlfMDX6IBs6MFP";
static const char es512_jwk[] =
    "{\"kty\":\"EC\",\"x\":\"AR8-f0dskDfB-R7SFot5jeUu4mjqHYD0UndCfRdOXla"
    "Kf-ofH8D_ImKmKTXDESZfQvhEVHbI3zzsPUQXtUt0Zrb5\",\"y\":\"AP4QevmJ"
    "KkhGIFwpapy5JLVMasW0ehgi5Rk7qgAi0xH_qZ3ulfq2Oc4XcJFf0Gy00Y16"
    "6LHdCkqrk7mp5ELZ3K2K\",\"crv\":\"P-521\"}";
static const char es512_token[] =
    "eyJhbGciOiJFUzUxMiIsImtpZCI6Im5vZGUtMSJ9.eyJpc3MiOiJodHRwczo"
    "vL2lkcC5leGFtcGxlIiwic3ViIjoidS00MiIsImF1ZCI6Imh4YiIsImV4cCI"
    "6MjAwMDAwMDAwMH0.APkEW4fddQpY4nDXy41LCvW22Vj-cCZGwDprCFrWmBV"
    "w1PMKmlQgvF2r2LVFMpF6MU16wjWQRlbbYHcTc4AbyE4iASCcu-75LS6BAWM"
    "8ftbX-7IkEMgVjr5KXpI5Zldra_QeT9AUUE_CmumG7LHe1jBmFG73aODQnun"
    "cr0rOG6sn24sk";
/* A 1024-bit RSA key, also from node: too short to be accepted. */
static const char rsa1024_jwk[] =
    "{\"kty\":\"RSA\",\"n\":\"pp75kcmEUCPUFTrty9hBFSG_fXXYKz0hAgQK7CTjwl"
    "q30th7jr7en3EVuRb_77BZjNEtVsvQSTII_-VNC_BfFlRQTAeJHPPKS7pi7V"
    "5dtHwOVCYF3LLV-9mccNfEcap-1nGXjMTM9j9-SOsvnZK-ZtiKACThKFJT97"
    "z-IXHDc-M\",\"e\":\"AQAB\"}";

static EVP_PKEY	*rsa2048;	/* made once: RSA keygen is slow */

/* A key from JWK text, which must be accepted. */
static EVP_PKEY *
key_from_jwk(const char *text)
{
	json_t		*jwk;
	EVP_PKEY	*pk;
	const char	*why = NULL;

	jwk = json_loads(text, 0, NULL);
	assert_non_null(jwk);
	if ((pk = jwk_to_pkey(jwk, &why)) == NULL)
		fail_msg("JWK refused: %s", why);
	json_decref(jwk);
	return pk;
}

static EVP_PKEY *
rfc_a2_key(void)
{
	json_t		*jwk;
	EVP_PKEY	*pk;
	const char	*why = NULL;

	jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", rfc_a2_n,
	    "e", "AQAB");
	assert_non_null(jwk);
	pk = jwk_to_pkey(jwk, &why);
	assert_non_null(pk);
	json_decref(jwk);
	return pk;
}

static EVP_PKEY *
rfc_a3_key(void)
{
	json_t		*jwk;
	EVP_PKEY	*pk;
	const char	*why = NULL;

	jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256",
	    "x", rfc_a3_x, "y", rfc_a3_y);
	assert_non_null(jwk);
	pk = jwk_to_pkey(jwk, &why);
	assert_non_null(pk);
	json_decref(jwk);
	return pk;
}

static EVP_PKEY *
ec_key(const char *curve)
{
	EVP_PKEY	*pk;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
	assert_non_null(pk);
	return pk;
}

/* "<b64 hdr>.<b64 payload>.<sig>" from JSON texts; caller frees. */
static char *
token3(const char *hdr, const char *payload, const char *sig)
{
	struct buf	 b = BUF_INIT(0);
	char		*s;

	b64url_encode(&b, hdr, strlen(hdr));
	buf_addch(&b, '.');
	b64url_encode(&b, payload, strlen(payload));
	buf_addch(&b, '.');
	buf_addstr(&b, sig);
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	return s;
}

/*
 * A token signed by OpenSSL directly, not by jws_sign(): whatever the
 * header says, the signature is `md` with `key` (`pad` for RSA, with a PSS
 * salt of `salt` bytes, or as long as the digest if 0; for EC, R || S of
 * `coord` bytes each).  This makes the tokens jws_sign() refuses
 * to make, such as ES256 with a P-384 key.
 */
static char *
forge(EVP_PKEY *key, const char *hdr, const char *payload, const EVP_MD *md,
    int pad, int salt, size_t coord)
{
	struct buf	 b = BUF_INIT(0);
	EVP_MD_CTX	*mctx;
	EVP_PKEY_CTX	*pctx;
	ECDSA_SIG	*es;
	const BIGNUM	*r, *s;
	const unsigned char *p;
	unsigned char	 sig[1024], raw[132];
	size_t		 siglen = sizeof(sig);
	char		*tok;

	b64url_encode(&b, hdr, strlen(hdr));
	buf_addch(&b, '.');
	b64url_encode(&b, payload, strlen(payload));
	mctx = EVP_MD_CTX_new();
	assert_non_null(mctx);
	assert_int_equal(EVP_DigestSignInit(mctx, &pctx, md, NULL, key), 1);
	if (pad != 0) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, pad), 1);
		if (pad == RSA_PKCS1_PSS_PADDING)
			assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
			    salt ? salt : RSA_PSS_SALTLEN_DIGEST), 1);
	}
	assert_int_equal(EVP_DigestSign(mctx, sig, &siglen,
	    (unsigned char *)b.data, b.len), 1);
	EVP_MD_CTX_free(mctx);
	buf_addch(&b, '.');
	if (coord == 0)
		b64url_encode(&b, sig, siglen);
	else {
		p = sig;
		es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
		assert_non_null(es);
		ECDSA_SIG_get0(es, &r, &s);
		assert_int_equal(BN_bn2binpad(r, raw, (int)coord), coord);
		assert_int_equal(BN_bn2binpad(s, raw + coord, (int)coord),
		    coord);
		ECDSA_SIG_free(es);
		b64url_encode(&b, raw, 2 * coord);
	}
	tok = buf_detach(&b, NULL);
	assert_non_null(tok);
	return tok;
}

/* jws_parse() then jws_verify(); the parse must succeed. */
static int
parse_verify(const char *token, EVP_PKEY *key)
{
	struct jws	 t;
	const char	*why = NULL;
	int		 rc;

	if (jws_parse(token, &t, &why) != 0)
		fail_msg("refused: %s", why);
	rc = jws_verify(&t, key);
	jws_clear(&t);
	return rc;
}

/* jws_parse() must refuse, for the reason given. */
static void
assert_parse_refused(const char *token, const char *want)
{
	struct jws	 t;
	const char	*why = NULL;

	if (jws_parse(token, &t, &why) != -1)
		fail_msg("accepted %.80s", token);
	assert_non_null(why);
	if (want != NULL && strcmp(why, want) != 0)
		fail_msg("refused %.80s for \"%s\", not \"%s\"", token, why,
		    want);
	/* Nothing is left behind, and clearing again is harmless. */
	assert_null(t.header);
	assert_null(t.claims);
	assert_null(t.input);
	assert_null(t.sig);
	jws_clear(&t);
}

/* `token` with its header replaced by the base64url of `hdr`. */
static char *
with_header(const char *token, const char *hdr)
{
	struct buf	 b = BUF_INIT(0);
	char		*s;

	b64url_encode(&b, hdr, strlen(hdr));
	buf_addstr(&b, strchr(token, '.'));
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	return s;
}

/*
 * `token` with one byte of its decoded payload changed (the first `from`
 * becomes `to`), re-encoded, header and signature kept.
 */
static char *
with_payload_byte(const char *token, char from, char to)
{
	const char	*d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
	unsigned char	*raw;
	char		*c, *s;
	struct buf	 b = BUF_INIT(0);
	size_t		 n;

	raw = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
	assert_non_null(raw);
	c = memchr(raw, from, n);
	assert_non_null(c);
	*c = to;
	buf_add(&b, token, (size_t)(d1 - token) + 1);
	b64url_encode(&b, raw, n);
	buf_addstr(&b, d2);
	free(raw);
	s = buf_detach(&b, NULL);
	assert_non_null(s);
	return s;
}

/*
 * Flipping any bit of the signed input or of the signature makes
 * verification fail (checked on the parsed token, so that the base64 and
 * JSON layers cannot be what refuses).
 */
static void
assert_tamper_fails(const char *token, EVP_PKEY *key)
{
	struct jws	 t;
	const char	*why = NULL;
	size_t		 i;

	assert_int_equal(jws_parse(token, &t, &why), 0);
	assert_int_equal(jws_verify(&t, key), 0);
	for (i = 0; i < t.inputlen; i += 3) {
		t.input[i] ^= 0x01;
		assert_int_equal(jws_verify(&t, key), -1);
		t.input[i] ^= 0x01;
	}
	for (i = 0; i < t.siglen; i += 5) {
		t.sig[i] ^= 0x80;
		assert_int_equal(jws_verify(&t, key), -1);
		t.sig[i] ^= 0x80;
	}
	/* A signature one byte short, or one byte of zero longer. */
	t.siglen--;
	assert_int_equal(jws_verify(&t, key), -1);
	t.siglen++;
	assert_int_equal(jws_verify(&t, key), 0);
	jws_clear(&t);
}

static void
test_rfc7515_rs256(void **state)
{
	EVP_PKEY	*rsa, *ec, *other;
	struct jws	 t;
	const char	*why = NULL;
	char		*tok;

	(void)state;
	rsa = rfc_a2_key();
	ec = rfc_a3_key();
	other = key_from_jwk(ps256_jwk);
	assert_int_equal(jws_parse(rfc_a2_token, &t, &why), 0);
	assert_int_equal(t.alg, JWS_RS256);
	assert_null(t.kid);
	assert_string_equal(json_string_value(json_object_get(t.claims,
	    "iss")), "joe");
	assert_true(json_integer_value(json_object_get(t.claims, "exp")) ==
	    1300819380);
	assert_true(json_is_true(json_object_get(t.claims,
	    "http://example.com/is_root")));
	assert_int_equal(t.inputlen, strrchr(rfc_a2_token, '.') -
	    rfc_a2_token);
	assert_memory_equal(t.input, rfc_a2_token, t.inputlen);
	assert_int_equal(t.input[t.inputlen], '\0');
	assert_int_equal(t.siglen, 256);
	assert_int_equal(jws_verify(&t, rsa), 0);
	/* Another RSA key, and an EC key, are not the signer. */
	assert_int_equal(jws_verify(&t, other), -1);
	assert_int_equal(jws_verify(&t, ec), -1);
	assert_int_equal(jws_verify(&t, NULL), -1);
	jws_clear(&t);

	/* "joe" becomes "jof": still a well-formed token, not a signed one. */
	tok = with_payload_byte(rfc_a2_token, 'e', 'f');
	assert_int_equal(parse_verify(tok, rsa), -1);
	free(tok);
	assert_tamper_fails(rfc_a2_token, rsa);

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(other);
}

static void
test_rfc7515_es256(void **state)
{
	EVP_PKEY	*rsa, *ec, *p384;
	struct jws	 t;
	const char	*why = NULL;
	char		*tok;

	(void)state;
	rsa = rfc_a2_key();
	ec = rfc_a3_key();
	p384 = key_from_jwk(es384_jwk);
	assert_int_equal(jws_parse(rfc_a3_token, &t, &why), 0);
	assert_int_equal(t.alg, JWS_ES256);
	assert_int_equal(t.siglen, 64);
	assert_int_equal(jws_verify(&t, ec), 0);
	assert_int_equal(jws_verify(&t, rsa), -1);
	assert_int_equal(jws_verify(&t, p384), -1);
	jws_clear(&t);

	tok = with_payload_byte(rfc_a3_token, 'e', 'f');
	assert_int_equal(parse_verify(tok, ec), -1);
	free(tok);
	assert_tamper_fails(rfc_a3_token, ec);

	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(p384);
}

/* ECDSA signatures in DER, as OpenSSL makes them, are not JWS. */
static void
test_es256_der_signature_refused(void **state)
{
	EVP_PKEY	*ec;
	struct jws	 t;
	const char	*why = NULL;
	unsigned char	*der = NULL;
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	int		 n;

	(void)state;
	ec = rfc_a3_key();
	assert_int_equal(jws_parse(rfc_a3_token, &t, &why), 0);
	es = ECDSA_SIG_new();
	r = BN_bin2bn(t.sig, 32, NULL);
	s = BN_bin2bn(t.sig + 32, 32, NULL);
	assert_int_equal(ECDSA_SIG_set0(es, r, s), 1);
	n = i2d_ECDSA_SIG(es, &der);
	assert_true(n > 64);
	free(t.sig);
	t.sig = malloc((size_t)n);
	assert_non_null(t.sig);
	memcpy(t.sig, der, (size_t)n);
	t.siglen = (size_t)n;
	assert_int_equal(jws_verify(&t, ec), -1);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	jws_clear(&t);
	EVP_PKEY_free(ec);
}

static void
test_node_vectors(void **state)
{
	EVP_PKEY	*ps, *p384, *p521, *p256;
	struct jws	 t;
	const char	*why = NULL;
	char		*tok;

	(void)state;
	ps = key_from_jwk(ps256_jwk);
	p384 = key_from_jwk(es384_jwk);
	p521 = key_from_jwk(es512_jwk);
	p256 = rfc_a3_key();

	assert_int_equal(jws_parse(ps256_token, &t, &why), 0);
	assert_int_equal(t.alg, JWS_PS256);
	assert_string_equal(t.kid, "node-1");
	assert_string_equal(json_string_value(json_object_get(t.claims,
	    "sub")), "u-42");
	jws_clear(&t);
	assert_tamper_fails(ps256_token, ps);
	assert_tamper_fails(es384_token, p384);
	assert_tamper_fails(es512_token, p521);
	assert_int_equal(parse_verify(es384_token, p521), -1);
	assert_int_equal(parse_verify(es512_token, p384), -1);
	assert_int_equal(parse_verify(es384_token, p256), -1);
	assert_int_equal(parse_verify(ps256_token, p256), -1);

	/* The same PSS signature under another alg: padding or hash differ. */
	tok = with_header(ps256_token,
	    "{\"alg\":\"RS256\",\"kid\":\"node-1\"}");
	assert_int_equal(parse_verify(tok, ps), -1);
	free(tok);
	tok = with_header(ps256_token,
	    "{\"alg\":\"PS384\",\"kid\":\"node-1\"}");
	assert_int_equal(parse_verify(tok, ps), -1);
	free(tok);

	EVP_PKEY_free(ps);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(p256);
}

static void
test_sign_verify(void **state)
{
	static const struct {
		enum jws_alg	 alg;
		const char	*curve;		/* NULL: RSA */
		size_t		 siglen;
		const char	*hdr;
	} v[] = {
		{ JWS_RS256, NULL, 256,
		    "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_RS384, NULL, 256,
		    "{\"alg\":\"RS384\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_RS512, NULL, 256,
		    "{\"alg\":\"RS512\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_PS256, NULL, 256,
		    "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_PS384, NULL, 256,
		    "{\"alg\":\"PS384\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_PS512, NULL, 256,
		    "{\"alg\":\"PS512\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_ES256, "P-256", 64,
		    "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_ES384, "P-384", 96,
		    "{\"alg\":\"ES384\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
		{ JWS_ES512, "P-521", 132,
		    "{\"alg\":\"ES512\",\"typ\":\"JWT\",\"kid\":\"k1\"}" },
	};
	json_t		*claims;
	EVP_PKEY	*key, *stranger;
	struct jws	 t;
	struct buf	 b = BUF_INIT(0);
	const char	*why = NULL;
	char		*tok;
	size_t		 i;

	(void)state;
	claims = json_pack("{s:s, s:s, s:I, s:[s, s]}", "iss", "hxb",
	    "sub", "usr-1", "exp", (json_int_t)2000000000, "aud", "a",
	    "b\xc3\xa9");
	assert_non_null(claims);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		key = v[i].curve ? ec_key(v[i].curve) : rsa2048;
		stranger = v[i].curve ? ec_key(v[i].curve) :
		    key_from_jwk(ps256_jwk);
		tok = jws_sign(key, v[i].alg, "k1", claims);
		assert_non_null(tok);
		/* The header, byte for byte. */
		buf_reset(&b);
		b64url_encode(&b, v[i].hdr, strlen(v[i].hdr));
		buf_addch(&b, '.');
		assert_true(strncmp(tok, b.data, b.len) == 0);

		assert_int_equal(jws_parse(tok, &t, &why), 0);
		assert_int_equal(t.alg, v[i].alg);
		assert_string_equal(t.kid, "k1");
		assert_true(json_equal(t.claims, claims));
		assert_int_equal(t.siglen, v[i].siglen);
		assert_int_equal(jws_verify(&t, key), 0);
		assert_int_equal(jws_verify(&t, stranger), -1);
		jws_clear(&t);
		assert_tamper_fails(tok, key);
		free(tok);
		if (v[i].curve != NULL)
			EVP_PKEY_free(key);
		EVP_PKEY_free(stranger);
	}

	/* No kid: none in the header. */
	tok = jws_sign(rsa2048, JWS_RS256, NULL, claims);
	assert_non_null(tok);
	assert_int_equal(jws_parse(tok, &t, &why), 0);
	assert_null(t.kid);
	assert_null(json_object_get(t.header, "kid"));
	assert_string_equal(json_string_value(json_object_get(t.header,
	    "typ")), "JWT");
	jws_clear(&t);
	free(tok);
	buf_release(&b);
	json_decref(claims);
}

/* jws_sign() makes no token that jws_verify() would refuse. */
static void
test_sign_refused(void **state)
{
	EVP_PKEY	*p256, *p384, *small;
	json_t		*claims, *arr;

	(void)state;
	p256 = ec_key("P-256");
	p384 = ec_key("P-384");
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(small);
	claims = json_pack("{s:s}", "sub", "x");
	arr = json_pack("[s]", "x");
	assert_null(jws_sign(rsa2048, JWS_ES256, NULL, claims));
	assert_null(jws_sign(p256, JWS_RS256, NULL, claims));
	assert_null(jws_sign(p256, JWS_PS256, NULL, claims));
	assert_null(jws_sign(p256, JWS_ES384, NULL, claims));
	assert_null(jws_sign(p384, JWS_ES256, NULL, claims));
	assert_null(jws_sign(p384, JWS_ES512, NULL, claims));
	assert_null(jws_sign(small, JWS_RS256, NULL, claims));
	assert_null(jws_sign(rsa2048, JWS_ALG__MAX, NULL, claims));
	assert_null(jws_sign(rsa2048, JWS_RS256, NULL, arr));
	assert_null(jws_sign(rsa2048, JWS_RS256, NULL, NULL));
	assert_null(jws_sign(NULL, JWS_RS256, NULL, claims));
	/* A kid that is not UTF-8 cannot go into JSON. */
	assert_null(jws_sign(rsa2048, JWS_RS256, "k\xff", claims));
	json_decref(claims);
	json_decref(arr);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(small);
}

/*
 * Signatures that are right for the bytes but made with a key the alg does
 * not allow.  Each is first shown to verify with a permitted pairing, so
 * that the refusal is the key check and nothing else.
 */
static void
test_verify_wrong_key_type(void **state)
{
	EVP_PKEY	*p256, *p384, *small;
	char		*tok;

	(void)state;
	p256 = ec_key("P-256");
	p384 = ec_key("P-384");
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_non_null(small);

	tok = forge(p384, "{\"alg\":\"ES384\"}", "{}", EVP_sha384(), 0, 0, 48);
	assert_int_equal(parse_verify(tok, p384), 0);
	free(tok);
	/* SHA-256 on P-384 is a valid ECDSA signature, but not ES256. */
	tok = forge(p384, "{\"alg\":\"ES256\"}", "{}", EVP_sha256(), 0, 0, 48);
	assert_int_equal(parse_verify(tok, p384), -1);
	free(tok);
	tok = forge(p256, "{\"alg\":\"ES384\"}", "{}", EVP_sha384(), 0, 0, 32);
	assert_int_equal(parse_verify(tok, p256), -1);
	free(tok);

	tok = forge(rsa2048, "{\"alg\":\"RS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PADDING, 0, 0);
	assert_int_equal(parse_verify(tok, rsa2048), 0);
	assert_int_equal(parse_verify(tok, p256), -1);
	free(tok);
	tok = forge(small, "{\"alg\":\"RS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PADDING, 0, 0);
	assert_int_equal(parse_verify(tok, small), -1);
	free(tok);
	tok = forge(small, "{\"alg\":\"PS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PSS_PADDING, 0, 0);
	assert_int_equal(parse_verify(tok, small), -1);
	free(tok);
	tok = forge(rsa2048, "{\"alg\":\"PS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PSS_PADDING, 0, 0);
	assert_int_equal(parse_verify(tok, rsa2048), 0);
	free(tok);
	/* RFC 7518 section 3.5: the salt is as long as the digest, no other. */
	tok = forge(rsa2048, "{\"alg\":\"PS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PSS_PADDING, 20, 0);
	assert_int_equal(parse_verify(tok, rsa2048), -1);
	free(tok);
	tok = forge(rsa2048, "{\"alg\":\"PS256\"}", "{}", EVP_sha256(),
	    RSA_PKCS1_PSS_PADDING, 64, 0);
	assert_int_equal(parse_verify(tok, rsa2048), -1);
	free(tok);
	tok = forge(p256, "{\"alg\":\"ES256\"}", "{}", EVP_sha256(), 0, 0, 32);
	assert_int_equal(parse_verify(tok, p256), 0);
	assert_int_equal(parse_verify(tok, rsa2048), -1);
	free(tok);

	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(small);
}

static void
test_refuse_none(void **state)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
		"{\"alg\":\"NONE\"}",
		"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"\"}",
		"{\"alg\":\"rs256\"}", "{\"alg\":\"RS256 \"}",
		"{\"alg\":\"EdDSA\"}", "{\"alg\":\"ES256K\"}",
	};
	size_t		 i;
	char		*tok;

	(void)state;
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		tok = token3(hdrs[i], "{\"sub\":\"admin\"}", "");
		assert_parse_refused(tok, "unsupported alg");
		free(tok);
		tok = token3(hdrs[i], "{\"sub\":\"admin\"}", "c2ln");
		assert_parse_refused(tok, "unsupported alg");
		free(tok);
	}
}

/*
 * The classic confusion: an HS256 token whose HMAC key is the verifier's
 * public key, which an attacker knows.  It never gets as far as a key.
 */
static void
test_refuse_hs256_with_public_key(void **state)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	};
	unsigned char	 mac[CRYPTO_SHA256_LEN];
	struct buf	 b = BUF_INIT(0);
	char		*pem;
	size_t		 i, n;

	(void)state;
	pem = pkey_public_pem(rsa2048);
	assert_non_null(pem);
	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		buf_reset(&b);
		b64url_encode(&b, hdrs[i], strlen(hdrs[i]));
		buf_addch(&b, '.');
		b64url_encode(&b, "{\"sub\":\"admin\"}", 15);
		n = b.len;
		crypto_hmac_sha256(pem, strlen(pem), b.data, n, mac);
		buf_addch(&b, '.');
		b64url_encode(&b, mac, sizeof(mac));
		assert_false(b.failed);
		assert_parse_refused(b.data, "unsupported alg");
	}
	free(pem);
	buf_release(&b);
}

static void
test_parse_malformed(void **state)
{
	static const struct {
		const char	*hdr, *payload, *sig, *why;
	} v[] = {
		{ "{\"alg\":\"RS256\"}", "[1,2]", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "\"sub\"", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "42", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "null", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "{\"sub\":\"a\"} x", "c2ln",
		    "payload is not a JSON object" },
		{ "{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"sub\":\"b\"}",
		    "c2ln", "payload is not a JSON object" },
		{ "[\"RS256\"]", "{}", "c2ln", "header is not a JSON object" },
		{ "", "{}", "c2ln", "header is not a JSON object" },
		{ "{\"alg\":\"RS256\",\"alg\":\"RS256\"}", "{}", "c2ln",
		    "header is not a JSON object" },
		{ "{\"alg\":\"none\",\"alg\":\"RS256\"}", "{}", "c2ln",
		    "header is not a JSON object" },
		{ "{\"alg\":\"RS256\"", "{}", "c2ln",
		    "header is not a JSON object" },
		{ "{\"alg\":\"RS\\u0000256\"}", "{}", "c2ln",
		    "header is not a JSON object" },
		{ "{}", "{}", "c2ln", "missing alg" },
		{ "{\"typ\":\"JWT\"}", "{}", "c2ln", "missing alg" },
		{ "{\"alg\":256}", "{}", "c2ln", "unsupported alg" },
		{ "{\"alg\":null}", "{}", "c2ln", "unsupported alg" },
		{ "{\"alg\":[\"RS256\"]}", "{}", "c2ln", "unsupported alg" },
		{ "{\"alg\":\"RS256\",\"kid\":7}", "{}", "c2ln",
		    "kid is not a string" },
		{ "{\"alg\":\"RS256\",\"kid\":null}", "{}", "c2ln",
		    "kid is not a string" },
		{ "{\"alg\":\"RS256\",\"crit\":[\"exp\"],\"exp\":1}", "{}",
		    "c2ln", "crit header not supported" },
		{ "{\"alg\":\"RS256\",\"crit\":[]}", "{}", "c2ln",
		    "crit header not supported" },
		{ "{\"alg\":\"RS256\",\"b64\":false,\"crit\":[\"b64\"]}", "{}",
		    "c2ln", "crit header not supported" },
		{ "{\"alg\":\"RS256\"}", "{}", "", "missing signature" },
		{ "{\"alg\":\"RS256\"}", "{}", "c2ln=",
		    "signature is not base64url" },
		{ "{\"alg\":\"RS256\"}", "{}", "c2l+",
		    "signature is not base64url" },
		{ "{\"alg\":\"RS256\"}", "{}", "c2lu3",
		    "signature is not base64url" },
		{ "{\"alg\":\"RS256\"}", "{}", "c2lo",
		    NULL },		/* control: well-formed */
	};
	struct jws	 t;
	const char	*why;
	size_t		 i;
	char		*tok;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		tok = token3(v[i].hdr, v[i].payload, v[i].sig);
		if (v[i].why != NULL)
			assert_parse_refused(tok, v[i].why);
		else {
			assert_int_equal(jws_parse(tok, &t, &why), 0);
			jws_clear(&t);
		}
		free(tok);
	}
}

static void
test_parse_structure(void **state)
{
	static const struct {
		const char	*token, *why;
	} v[] = {
		{ "", "not a compact JWS of three parts" },
		{ "eyJhbGciOiJSUzI1NiJ9", "not a compact JWS of three parts" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30",
		    "not a compact JWS of three parts" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.c2ln",
		    "not a compact JWS of three parts" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2ln.",
		    "not a compact JWS of three parts" },
		{ "..", "header is not a JSON object" },
		{ "...", "not a compact JWS of three parts" },
		/* Padding, the standard alphabet, blanks. */
		{ "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",
		    "payload is not base64url" },
		{ "eyJhbGciOiJSUzI1NiJ9=.e30.c2ln", "header is not base64url" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2l/",
		    "signature is not base64url" },
		{ "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln", "header is not base64url" },
		{ " eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "header is not base64url" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n",
		    "signature is not base64url" },
		{ "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
		    "header is not base64url" },
		/* Spare bits set: "e31" would otherwise read as "{}". */
		{ "eyJhbGciOiJSUzI1NiJ9.e31.c2ln", "payload is not base64url" },
		{ "eyJhbGciOiJSUzI1NiJ9.e30.c2lv", NULL },
	};
	struct jws	 t;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (v[i].why != NULL)
			assert_parse_refused(v[i].token, v[i].why);
		else {
			assert_int_equal(jws_parse(v[i].token, &t, &why), 0);
			assert_int_equal(t.alg, JWS_RS256);
			assert_int_equal(t.siglen, 3);
			assert_memory_equal(t.sig, "sio", 3);
			jws_clear(&t);
		}
	}
	assert_parse_refused(NULL, NULL);
}

/*
 * A token of exactly JWS_TOKEN_MAX characters is read; one character more
 * is refused before anything is decoded.
 */
static void
test_parse_length_cap(void **state)
{
	struct buf	 hdr = BUF_INIT(0);
	struct jws	 t;
	const char	*why = NULL;
	char		*tok, *head;
	size_t		 fixed, siglen, pad = 0;

	(void)state;
	/*
	 * Blanks in the header JSON until both signature lengths are
	 * possible in base64 (never 4n + 1).
	 */
	buf_addstr(&hdr, "{\"alg\":\"RS256\"}");
	for (;;) {
		head = token3(buf_cstr(&hdr), "{}", "");
		fixed = strlen(head);
		siglen = JWS_TOKEN_MAX - fixed;
		if (siglen % 4 != 1 && (siglen + 1) % 4 != 1)
			break;
		free(head);
		buf_reset(&hdr);
		buf_addstr(&hdr, "{\"alg\":\"RS256\"");
		for (pad++; hdr.len < 14 + pad;)
			buf_addch(&hdr, ' ');
		buf_addch(&hdr, '}');
	}
	tok = malloc(JWS_TOKEN_MAX + 2);
	assert_non_null(tok);
	memcpy(tok, head, fixed);
	memset(tok + fixed, 'A', siglen + 1);
	tok[JWS_TOKEN_MAX] = '\0';
	assert_int_equal(jws_parse(tok, &t, &why), 0);
	assert_int_equal(t.alg, JWS_RS256);
	jws_clear(&t);
	tok[JWS_TOKEN_MAX] = 'A';
	tok[JWS_TOKEN_MAX + 1] = '\0';
	assert_parse_refused(tok, "token too long");
	free(tok);
	free(head);
	buf_release(&hdr);
}

static void
assert_jwk_refused(const char *text)
{
	json_t		*jwk;
	EVP_PKEY	*pk;
	const char	*why = NULL;

	jwk = json_loads(text, 0, NULL);
	assert_non_null(jwk);
	if ((pk = jwk_to_pkey(jwk, &why)) != NULL) {
		EVP_PKEY_free(pk);
		fail_msg("accepted %.100s", text);
	}
	assert_non_null(why);
	json_decref(jwk);
}

static void
test_jwk_refused(void **state)
{
	json_t		*jwk;
	const char	*why = NULL;
	char		 text[512];

	(void)state;
	/* Too short. */
	assert_jwk_refused(rsa1024_jwk);
	jwk = json_loads(rsa1024_jwk, 0, NULL);
	assert_null(jwk_to_pkey(jwk, &why));
	assert_non_null(strstr(why, "2048"));
	json_decref(jwk);

	/* Private members. */
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}", rfc_a3_x, rfc_a3_y,
	    rfc_a3_d);
	assert_jwk_refused(text);
	jwk = json_loads(text, 0, NULL);
	assert_null(jwk_to_pkey(jwk, &why));
	assert_string_equal(why, "JWK carries private key material");
	json_decref(jwk);
	jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "n", rfc_a2_n,
	    "e", "AQAB", "d", "AQAB");
	assert_null(jwk_to_pkey(jwk, &why));
	json_decref(jwk);
	jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "n", rfc_a2_n,
	    "e", "AQAB", "p", "AQAB");
	assert_null(jwk_to_pkey(jwk, &why));
	json_decref(jwk);

	/* Other types, curves and shapes. */
	assert_jwk_refused("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}");
	assert_jwk_refused("{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}");
	assert_jwk_refused("{\"crv\":\"P-256\"}");
	assert_jwk_refused("{\"kty\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"}");
	assert_jwk_refused("[]");
	assert_jwk_refused("{\"kty\":\"RSA\",\"e\":\"AQAB\"}");
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\"}",
	    rfc_a2_n);
	assert_jwk_refused(text);
	/* e even, e = 1, e as a number, n in padded base64. */
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\","
	    "\"e\":\"AQAA\"}", rfc_a2_n);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\","
	    "\"e\":\"AQ\"}", rfc_a2_n);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\","
	    "\"e\":65537}", rfc_a2_n);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s==\","
	    "\"e\":\"AQAB\"}", rfc_a2_n);
	assert_jwk_refused(text);
	/* Control: the same, well formed. */
	snprintf(text, sizeof(text), "{\"kty\":\"RSA\",\"n\":\"%s\","
	    "\"e\":\"AQAB\",\"kid\":\"x\",\"use\":\"sig\"}", rfc_a2_n);
	EVP_PKEY_free(key_from_jwk(text));

	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-384\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", rfc_a3_x, rfc_a3_y);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"secp256k1\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", rfc_a3_x, rfc_a3_y);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"EC\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", rfc_a3_x, rfc_a3_y);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\"}", rfc_a3_x);
	assert_jwk_refused(text);
	/* A coordinate one byte short (the leading byte dropped), or long. */
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%s\"}",
	    "zc4ncPbEXUGDy-5v20t7WAczNXvp7xO6z248e9FURQ", rfc_a3_y);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%s\"}",
	    "AH_Nzidw9sRdQYPL7m_bS3tYBzM1e-nvE7rPbjx70VRF", rfc_a3_y);
	assert_jwk_refused(text);
	/* Not on the curve: the last bits of y changed. */
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%.42s4\"}", rfc_a3_x, rfc_a3_y);
	assert_jwk_refused(text);
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%s\"}", rfc_a3_x, rfc_a3_x);
	assert_jwk_refused(text);
	/* Control. */
	snprintf(text, sizeof(text), "{\"kty\":\"EC\",\"crv\":\"P-256\","
	    "\"x\":\"%s\",\"y\":\"%s\",\"alg\":\"ES256\"}", rfc_a3_x,
	    rfc_a3_y);
	EVP_PKEY_free(key_from_jwk(text));
	assert_null(jwk_to_pkey(NULL, &why));
}

/* Our public JWK comes back as the same key, and verifies our tokens. */
static void
test_jwk_round_trip(void **state)
{
	static const struct {
		enum jws_alg	 alg;
		const char	*curve;
	} v[] = {
		{ JWS_RS256, NULL }, { JWS_PS512, NULL },
		{ JWS_ES256, "P-256" }, { JWS_ES384, "P-384" },
		{ JWS_ES512, "P-521" },
	};
	json_t		*jwk, *claims;
	EVP_PKEY	*key, *back;
	const char	*why = NULL;
	char		*tok;
	size_t		 i;

	(void)state;
	claims = json_pack("{s:s}", "sub", "usr-1");
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		key = v[i].curve ? ec_key(v[i].curve) : rsa2048;
		jwk = jwk_from_pkey(key, "kid-1", v[i].alg);
		assert_non_null(jwk);
		assert_string_equal(json_string_value(json_object_get(jwk,
		    "kid")), "kid-1");
		assert_string_equal(json_string_value(json_object_get(jwk,
		    "use")), "sig");
		assert_string_equal(json_string_value(json_object_get(jwk,
		    "alg")), jws_alg_name(v[i].alg));
		assert_string_equal(json_string_value(json_object_get(jwk,
		    "kty")), v[i].curve ? "EC" : "RSA");
		if (v[i].curve)
			assert_string_equal(json_string_value(
			    json_object_get(jwk, "crv")), v[i].curve);
		assert_null(json_object_get(jwk, "d"));
		back = jwk_to_pkey(jwk, &why);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(back, key), 1);
		tok = jws_sign(key, v[i].alg, "kid-1", claims);
		assert_non_null(tok);
		assert_int_equal(parse_verify(tok, back), 0);
		free(tok);
		json_decref(jwk);
		EVP_PKEY_free(back);
		if (v[i].curve)
			EVP_PKEY_free(key);
	}
	json_decref(claims);

	/* No kid given: none written.  A key that does not fit the alg. */
	jwk = jwk_from_pkey(rsa2048, NULL, JWS_RS256);
	assert_non_null(jwk);
	assert_null(json_object_get(jwk, "kid"));
	json_decref(jwk);
	assert_null(jwk_from_pkey(rsa2048, "k", JWS_ES256));
	key = ec_key("P-256");
	assert_null(jwk_from_pkey(key, "k", JWS_RS256));
	assert_null(jwk_from_pkey(key, "k", JWS_ES384));
	EVP_PKEY_free(key);
}

/* Published keys come out spelled exactly as they went in. */
static void
test_jwk_encoding(void **state)
{
	EVP_PKEY	*pk;
	json_t		*jwk, *want;

	(void)state;
	pk = rfc_a2_key();
	jwk = jwk_from_pkey(pk, NULL, JWS_RS256);
	assert_non_null(jwk);
	assert_string_equal(json_string_value(json_object_get(jwk, "n")),
	    rfc_a2_n);
	assert_string_equal(json_string_value(json_object_get(jwk, "e")),
	    "AQAB");
	json_decref(jwk);
	EVP_PKEY_free(pk);

	pk = rfc_a3_key();
	jwk = jwk_from_pkey(pk, NULL, JWS_ES256);
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	    rfc_a3_x);
	assert_string_equal(json_string_value(json_object_get(jwk, "y")),
	    rfc_a3_y);
	json_decref(jwk);
	EVP_PKEY_free(pk);

	/* P-521, whose coordinates start with zero bytes and bits. */
	pk = key_from_jwk(es512_jwk);
	jwk = jwk_from_pkey(pk, NULL, JWS_ES512);
	want = json_loads(es512_jwk, 0, NULL);
	assert_non_null(want);
	assert_string_equal(json_string_value(json_object_get(jwk, "x")),
	    json_string_value(json_object_get(want, "x")));
	assert_string_equal(json_string_value(json_object_get(jwk, "y")),
	    json_string_value(json_object_get(want, "y")));
	json_decref(want);
	json_decref(jwk);
	EVP_PKEY_free(pk);
}

static void
test_alg_names(void **state)
{
	static const char *const unknown[] = {
		"none", "HS256", "HS384", "HS512", "rs256", "RS256 ", "",
		"RS1", "EdDSA", "ES256K", "PS256\n",
	};
	unsigned int	 i;

	(void)state;
	for (i = 0; i < JWS_ALG__MAX; i++) {
		assert_non_null(jws_alg_name((enum jws_alg)i));
		assert_int_equal(jws_alg_parse(jws_alg_name((enum jws_alg)i)),
		    i);
	}
	assert_string_equal(jws_alg_name(JWS_PS384), "PS384");
	assert_string_equal(jws_alg_name(JWS_ES512), "ES512");
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_int_equal(jws_alg_parse(unknown[i]), JWS_ALG__MAX);
	assert_int_equal(jws_alg_parse(NULL), JWS_ALG__MAX);
	assert_null(jws_alg_name(JWS_ALG__MAX));
}

static int
group_setup(void **state)
{
	(void)state;
	rsa2048 = pkey_generate_rsa(2048);
	return rsa2048 != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa2048);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_rs256),
		cmocka_unit_test(test_rfc7515_es256),
		cmocka_unit_test(test_es256_der_signature_refused),
		cmocka_unit_test(test_node_vectors),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_refused),
		cmocka_unit_test(test_verify_wrong_key_type),
		cmocka_unit_test(test_refuse_none),
		cmocka_unit_test(test_refuse_hs256_with_public_key),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_structure),
		cmocka_unit_test(test_parse_length_cap),
		cmocka_unit_test(test_jwk_refused),
		cmocka_unit_test(test_jwk_round_trip),
		cmocka_unit_test(test_jwk_encoding),
		cmocka_unit_test(test_alg_names),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("jws", tests, group_setup,
	    group_teardown);
}
