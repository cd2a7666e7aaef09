/*
 * crypto: published vectors for the primitives, strict base64url, the
 * master-key spellings, and AES-GCM sealing that refuses any tampering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "crypto.h"

/* The hex of a digest, for comparing with the published text. */
static void
assert_hex(const unsigned char *p, size_t n, const char *want)
{
	struct buf	 b = BUF_INIT(0);

	crypto_hex(&b, p, n);
	assert_false(b.failed);
	assert_string_equal(buf_cstr(&b), want);
	buf_release(&b);
}

static void
assert_decodes(const char *s, const void *want, size_t wantlen)
{
	unsigned char	*p;
	size_t		 n = 12345;

	if ((p = b64url_decode(s, strlen(s), &n)) == NULL)
		fail_msg("refused %s", s);
	assert_int_equal(n, wantlen);
	assert_memory_equal(p, want, wantlen);
	assert_int_equal(p[n], '\0');
	free(p);
}

static void
assert_refused(const char *s, size_t len)
{
	unsigned char	*p;
	size_t		 n;

	if ((p = b64url_decode(s, len, &n)) != NULL) {
		free(p);
		fail_msg("accepted \"%.*s\"", (int)len, s);
	}
}

/* RFC 4648 section 10, without the padding, and the two URL characters. */
static void
test_b64url_vectors(void **state)
{
	static const struct {
		const char	*raw;
		size_t		 len;
		const char	*enc;
	} v[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xef\xbe", 3, "----" },
		{ "\xff\xff\xff", 3, "____" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\0\0\0\0", 4, "AAAAAA" },
	};
	struct buf	 b = BUF_INIT(0);
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_reset(&b);
		b64url_encode(&b, v[i].raw, v[i].len);
		assert_false(b.failed);
		assert_string_equal(buf_cstr(&b), v[i].enc);
		assert_int_equal(b.len, strlen(v[i].enc));
		assert_decodes(v[i].enc, v[i].raw, v[i].len);
	}
	/* Encoding appends. */
	buf_reset(&b);
	buf_addstr(&b, "x.");
	b64url_encode(&b, "foo", 3);
	assert_string_equal(buf_cstr(&b), "x.Zm9v");
	buf_release(&b);
}

static void
test_b64url_refused(void **state)
{
	static const char *const bad[] = {
		"Zg==", "Zg=", "Zm8=", "=", "Z", "Zm9vY", "AAAAA",
		"Zm+v", "Zm/v", "Zm9 v", "Zm9v\n", " Zm9v", "Zm.v",
		"Zm9v\xc3\xa9", "Zm9%",
		/* Spare low bits set: "Zh" would also decode to "f". */
		"Zh", "Zm9", "Zm9vYh", "Zm9vYmF",
	};
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_refused(bad[i], strlen(bad[i]));
	/* A NUL inside the given length is not skipped over. */
	assert_refused("Zm\0v", 4);
	/* The length is what counts, not the NUL. */
	assert_decodes("Zm9v", "foo", 3);
	assert_refused("Zm9vY", 5);
}

static void
test_b64url_round_trip(void **state)
{
	unsigned char	 raw[200], *back;
	struct buf	 b = BUF_INIT(0);
	size_t		 n, len;

	(void)state;
	assert_int_equal(crypto_random(raw, sizeof(raw)), 0);
	for (n = 0; n <= sizeof(raw); n++) {
		buf_reset(&b);
		b64url_encode(&b, raw, n);
		assert_false(b.failed);
		assert_int_equal(b.len, (n * 4 + 2) / 3);
		back = b64url_decode(b.data, b.len, &len);
		assert_non_null(back);
		assert_int_equal(len, n);
		assert_memory_equal(back, raw, n);
		free(back);
	}
	buf_release(&b);
}

/* A buffer at its cap fails, and stays failed. */
static void
test_b64url_cap(void **state)
{
	struct buf	 b = BUF_INIT(5);

	(void)state;
	b64url_encode(&b, "foo", 3);
	assert_false(b.failed);
	b64url_encode(&b, "f", 1);
	assert_true(b.failed);
	buf_release(&b);
	buf_init(&b, 7);
	crypto_hex(&b, "abcd", 4);
	assert_true(b.failed);
	buf_release(&b);
}

static void
test_hex(void **state)
{
	struct buf	 b = BUF_INIT(0);

	(void)state;
	crypto_hex(&b, "\x00\x01\xab\xff\x7f", 5);
	assert_string_equal(buf_cstr(&b), "0001abff7f");
	crypto_hex(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "0001abff7f");
	crypto_hex(&b, "\x10", 1);
	assert_string_equal(buf_cstr(&b), "0001abff7f10");
	buf_release(&b);
}

/* FIPS 180-2 appendix B.1, and the empty string. */
static void
test_sha256(void **state)
{
	unsigned char	 h[CRYPTO_SHA256_LEN];

	(void)state;
	crypto_sha256("abc", 3, h);
	assert_hex(h, sizeof(h), "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, h);
	assert_hex(h, sizeof(h), "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 test cases 1 and 2. */
static void
test_hmac_sha256(void **state)
{
	unsigned char	 key[20], h[CRYPTO_SHA256_LEN];

	(void)state;
	memset(key, 0x0b, sizeof(key));
	crypto_hmac_sha256(key, sizeof(key), "Hi There", 8, h);
	assert_hex(h, sizeof(h), "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, h);
	assert_hex(h, sizeof(h), "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

static void
test_equal(void **state)
{
	unsigned char	 a[32], b[32];
	size_t		 i;

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	memcpy(b, a, sizeof(a));
	assert_true(crypto_equal(a, b, sizeof(a)));
	assert_true(crypto_equal(a, b, 0));
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		assert_false(crypto_equal(a, b, sizeof(a)));
		b[i] ^= 0x80;
	}
	b[31] ^= 1;
	assert_true(crypto_equal(a, b, 31));
}

static void
test_random(void **state)
{
	unsigned char	 a[32], b[32], big[4096];

	(void)state;
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), 0);
	/* More than getrandom(2) promises in one call without a short read. */
	assert_int_equal(crypto_random(big, sizeof(big)), 0);
}

static void
key_bytes(unsigned char k[CRYPTO_KEY_LEN])
{
	size_t	 i;

	for (i = 0; i < CRYPTO_KEY_LEN; i++)
		k[i] = (unsigned char)((i * 37 % 256) ^ 0xf8);
}

static void
test_parse_key_accepted(void **state)
{
	static const char *const good[] = {
		"f8ddb2976c4126fbd0b58a6f4419fed3"
		    "a88d62471cf1d6ab80653a1ff4c9ae83",
		"F8DDB2976C4126FBD0B58A6F4419FED3"
		    "A88D62471CF1D6AB80653A1FF4C9AE83",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroM=",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroM",
		"-N2yl2xBJvvQtYpvRBn-06iNYkcc8dargGU6H_TJroM",
		"-N2yl2xBJvvQtYpvRBn-06iNYkcc8dargGU6H_TJroM=",
	};
	unsigned char	 want[CRYPTO_KEY_LEN], got[CRYPTO_KEY_LEN];
	size_t		 i;

	(void)state;
	key_bytes(want);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(got, 0, sizeof(got));
		if (crypto_parse_key(good[i], got) != 0)
			fail_msg("refused %s", good[i]);
		assert_memory_equal(got, want, sizeof(want));
	}
}

static void
test_parse_key_refused(void **state)
{
	static const char *const bad[] = {
		"",
		/* 31 and 33 bytes, in hex and in base64. */
		"f8ddb2976c4126fbd0b58a6f4419fed"
		    "3a88d62471cf1d6ab80653a1ff4c9ae",
		"f8ddb2976c4126fbd0b58a6f4419fed3a"
		    "88d62471cf1d6ab80653a1ff4c9ae8300",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJrg==",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroMA",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJrg",
		/* An odd number of hex digits, a non-hex digit. */
		"f8ddb2976c4126fbd0b58a6f4419fed"
		    "3a88d62471cf1d6ab80653a1ff4c9ae8",
		"g8ddb2976c4126fbd0b58a6f4419fed3"
		    "a88d62471cf1d6ab80653a1ff4c9ae83",
		"f8ddb2976c4126fbd0b58a6f4419fed3"
		    "a88d62471cf1d6ab80653a1ff4c9ae8 ",
		/* Surrounding blanks are not trimmed here. */
		"f8ddb2976c4126fbd0b58a6f4419fed3a"
		    "88d62471cf1d6ab80653a1ff4c9ae83\n",
		" f8ddb2976c4126fbd0b58a6f4419fed"
		    "3a88d62471cf1d6ab80653a1ff4c9ae83",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroM=\n",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroM==",
		/* The two alphabets mixed, spare bits set, padding inside. */
		"+N2yl2xBJvvQtYpvRBn-06iNYkcc8dargGU6H/TJroM",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8dargGU6H/TJroN",
		"+N2yl2xBJvvQtYpvRBn+06iNYkcc8da=gGU6H/TJroM",
		"correct horse battery staple, and then some.",
	};
	unsigned char	 key[CRYPTO_KEY_LEN];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (crypto_parse_key(bad[i], key) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_seal_round_trip(void **state)
{
	static const size_t lens[] = { 0, 1, 15, 16, 17, 100, 4000 };
	unsigned char	 key[CRYPTO_KEY_LEN], pt[4000];
	struct buf	 ct = BUF_INIT(0), ct2 = BUF_INIT(0);
	struct buf	 out = BUF_INIT(0);
	size_t		 i, n;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	assert_int_equal(crypto_random(pt, sizeof(pt)), 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = lens[i];
		buf_reset(&ct);
		buf_reset(&ct2);
		buf_reset(&out);
		assert_int_equal(crypto_seal(key, "kid-1", 5, pt, n, &ct), 0);
		assert_int_equal(ct.len, 12 + n + 16);
		/* A fresh nonce each time: never the same ciphertext. */
		assert_int_equal(crypto_seal(key, "kid-1", 5, pt, n, &ct2), 0);
		assert_memory_not_equal(ct.data, ct2.data, ct.len);
		/* Opening appends to what is there. */
		buf_addstr(&out, "pre");
		assert_int_equal(crypto_open(key, "kid-1", 5, ct.data, ct.len,
		    &out), 0);
		assert_int_equal(out.len, 3 + n);
		assert_memory_equal(out.data, "pre", 3);
		assert_memory_equal(out.data + 3, pt, n);
		assert_int_equal(out.data[out.len], '\0');
	}
	/* No aad at all is also authenticated, as the empty aad. */
	buf_reset(&ct);
	buf_reset(&out);
	assert_int_equal(crypto_seal(key, NULL, 0, "secret", 6, &ct), 0);
	assert_int_equal(crypto_open(key, "", 0, ct.data, ct.len, &out), 0);
	assert_string_equal(buf_cstr(&out), "secret");
	buf_release(&ct);
	buf_release(&ct2);
	buf_release(&out);
}

/* Opening fails and leaves `out` as it was. */
static void
assert_open_fails(const unsigned char *key, const char *aad,
    const void *ct, size_t len)
{
	struct buf	 out = BUF_INIT(0);

	buf_addstr(&out, "kept");
	assert_int_equal(crypto_open(key, aad, strlen(aad), ct, len, &out),
	    -1);
	assert_int_equal(out.len, 4);
	assert_string_equal(buf_cstr(&out), "kept");
	buf_release(&out);
}

static void
test_open_bit_flips(void **state)
{
	unsigned char	 key[CRYPTO_KEY_LEN], *c;
	struct buf	 ct = BUF_INIT(0);
	size_t		 i;
	int		 bit;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	assert_int_equal(crypto_seal(key, "kid-1", 5,
	    "-----BEGIN PRIVATE KEY-----", 27, &ct), 0);
	c = (unsigned char *)ct.data;
	/* Nonce, ciphertext and tag alike. */
	for (i = 0; i < ct.len; i++)
		for (bit = 0; bit < 8; bit++) {
			c[i] ^= (unsigned char)(1 << bit);
			assert_open_fails(key, "kid-1", c, ct.len);
			c[i] ^= (unsigned char)(1 << bit);
		}
	buf_release(&ct);
}

static void
test_open_wrong_key_aad_length(void **state)
{
	unsigned char	 key[CRYPTO_KEY_LEN], other[CRYPTO_KEY_LEN];
	struct buf	 ct = BUF_INIT(0), out = BUF_INIT(0);
	size_t		 n;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	memcpy(other, key, sizeof(key));
	other[31] ^= 1;
	assert_int_equal(crypto_seal(key, "kid-1", 5, "secret", 6, &ct), 0);
	assert_int_equal(crypto_open(key, "kid-1", 5, ct.data, ct.len, &out),
	    0);
	assert_open_fails(other, "kid-1", ct.data, ct.len);
	assert_open_fails(key, "kid-2", ct.data, ct.len);
	assert_open_fails(key, "kid-", ct.data, ct.len);
	assert_open_fails(key, "", ct.data, ct.len);
	/* Every shorter prefix, down to nothing; and one byte more. */
	for (n = 0; n < ct.len; n++)
		assert_open_fails(key, "kid-1", ct.data, n);
	buf_addch(&ct, '\0');
	assert_open_fails(key, "kid-1", ct.data, ct.len);
	buf_release(&ct);
	buf_release(&out);
}

static void
test_pem_round_trip(void **state)
{
	EVP_PKEY	*rsa, *ec, *pk;
	char		*pub, *priv, *pub2;

	(void)state;
	assert_null(pkey_generate_rsa(1024));
	rsa = pkey_generate_rsa(2048);
	assert_non_null(rsa);
	assert_int_equal(EVP_PKEY_get_bits(rsa), 2048);
	assert_true(EVP_PKEY_is_a(rsa, "RSA"));

	pub = pkey_public_pem(rsa);
	priv = pkey_private_pem(rsa);
	assert_non_null(pub);
	assert_non_null(priv);
	assert_non_null(strstr(pub, "-----BEGIN PUBLIC KEY-----\n"));
	/* PKCS#8 in the clear, not the traditional "RSA PRIVATE KEY". */
	assert_true(strncmp(priv, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);

	pk = pkey_from_pem(pub, strlen(pub), false);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, rsa), 1);
	pub2 = pkey_public_pem(pk);
	assert_string_equal(pub2, pub);
	free(pub2);
	EVP_PKEY_free(pk);

	pk = pkey_from_pem(priv, strlen(priv), true);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, rsa), 1);
	pub2 = pkey_public_pem(pk);
	assert_string_equal(pub2, pub);
	free(pub2);
	EVP_PKEY_free(pk);

	/* Each kind only where it is asked for; junk and truncation fail. */
	assert_null(pkey_from_pem(pub, strlen(pub), true));
	assert_null(pkey_from_pem(priv, strlen(priv), false));
	assert_null(pkey_from_pem(pub, strlen(pub) / 2, false));
	assert_null(pkey_from_pem(priv, strlen(priv) / 2, true));
	assert_null(pkey_from_pem("hello", 5, false));
	assert_null(pkey_from_pem("", 0, true));

	/* EC keys too. */
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	free(pub);
	free(priv);
	pub = pkey_public_pem(ec);
	priv = pkey_private_pem(ec);
	assert_non_null(pub);
	assert_non_null(priv);
	pk = pkey_from_pem(priv, strlen(priv), true);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, ec), 1);
	EVP_PKEY_free(pk);
	pk = pkey_from_pem(pub, strlen(pub), false);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, ec), 1);
	EVP_PKEY_free(pk);

	free(pub);
	free(priv);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

/* An encrypted key is refused, without asking for a passphrase. */
static void
test_pem_encrypted_refused(void **state)
{
	EVP_PKEY	*ec;
	BIO		*bio;
	char		*data;
	long		 n;

	(void)state;
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(ec);
	bio = BIO_new(BIO_s_mem());
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, ec,
	    EVP_aes_256_cbc(), "pass", 4, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	assert_non_null(memmem(data, (size_t)n, "ENCRYPTED PRIVATE KEY", 21));
	assert_null(pkey_from_pem(data, (size_t)n, true));
	BIO_free(bio);
	EVP_PKEY_free(ec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_vectors),
		cmocka_unit_test(test_b64url_refused),
		cmocka_unit_test(test_b64url_round_trip),
		cmocka_unit_test(test_b64url_cap),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac_sha256),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_parse_key_accepted),
		cmocka_unit_test(test_parse_key_refused),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_open_bit_flips),
		cmocka_unit_test(test_open_wrong_key_aad_length),
		cmocka_unit_test(test_pem_round_trip),
		cmocka_unit_test(test_pem_encrypted_refused),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
