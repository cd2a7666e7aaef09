/*
 * crypto: the small set of primitives the rest of the code needs, on
 * OpenSSL: random bytes, SHA-256, HMAC-SHA256, constant-time comparison,
 * base64url, AES-256-GCM sealing of secrets at rest, and key handling
 * (PEM, generation).
 *
 * Ownership: functions returning char * or unsigned char * return memory
 * the caller frees; EVP_PKEY results are released with EVP_PKEY_free().
 */
#ifndef HXB_CRYPTO_H
#define HXB_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

struct buf;

#define CRYPTO_KEY_LEN		32	/* AES-256 */
#define CRYPTO_SHA256_LEN	32

/* Fill `p` with `n` bytes from the OS CSPRNG.  0, or -1 on failure. */
int		 crypto_random(void *p, size_t n);

void		 crypto_sha256(const void *, size_t,
		    unsigned char out[CRYPTO_SHA256_LEN]);
void		 crypto_hmac_sha256(const void *key, size_t keylen,
		    const void *msg, size_t msglen,
		    unsigned char out[CRYPTO_SHA256_LEN]);

/* Compare without an early exit; true when equal. */
bool		 crypto_equal(const void *, const void *, size_t);

/* The value of a hexadecimal digit, either case; -1 if c is not one. */
int		 hex_digit(int c);
/* Lowercase hex of `n` bytes, appended to `b`. */
void		 crypto_hex(struct buf *b, const void *, size_t n);

/* base64url without padding (RFC 4648 section 5), appended to `b`. */
void		 b64url_encode(struct buf *b, const void *, size_t n);
/*
 * Decode base64url (padding refused, so is any character outside the
 * alphabet and any non-zero trailing bits).  Returns a malloc'd buffer
 * with a NUL after the data (handy for JSON), its length in *outlen, or
 * NULL if the input is not canonical base64url or memory ran out.
 */
unsigned char	*b64url_decode(const char *, size_t len, size_t *outlen);
/*
 * Decode standard base64 with its padding (RFC 4648 section 4), as
 * Kubernetes writes Secret data and kubeconfig certificates; otherwise
 * the same as b64url_decode().
 */
unsigned char	*b64_decode(const char *, size_t len, size_t *outlen);

/*
 * The master key: 64 hex digits, or base64/base64url of exactly 32 bytes.
 * 0, or -1 if `text` is neither.
 */
int		 crypto_parse_key(const char *text,
		    unsigned char key[CRYPTO_KEY_LEN]);

/*
 * AES-256-GCM.  crypto_seal() appends nonce (12 random bytes), ciphertext
 * and tag (16 bytes) to `out`; `aad` is authenticated, not stored (bind a
 * ciphertext to its row, e.g. the kid).  crypto_open() reverses it and
 * fails (-1) on any tampering or a wrong key or aad.  Both return 0 on
 * success.
 */
int		 crypto_seal(const unsigned char key[CRYPTO_KEY_LEN],
		    const void *aad, size_t aadlen,
		    const void *pt, size_t ptlen, struct buf *out);
int		 crypto_open(const unsigned char key[CRYPTO_KEY_LEN],
		    const void *aad, size_t aadlen,
		    const void *ct, size_t ctlen, struct buf *out);

/* A new RSA key of `bits` bits (2048 or more), or NULL. */
EVP_PKEY	*pkey_generate_rsa(int bits);
/* A key from PEM: SubjectPublicKeyInfo, or PKCS#8 private when `priv`. */
EVP_PKEY	*pkey_from_pem(const char *pem, size_t len, bool priv);
/* PEM text of the public part, or of the private key (PKCS#8, clear). */
char		*pkey_public_pem(EVP_PKEY *);
char		*pkey_private_pem(EVP_PKEY *);

#endif
