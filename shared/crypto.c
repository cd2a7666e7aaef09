/*
 * crypto: primitives on OpenSSL 3; see crypto.h.
 */
#include <sys/random.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "buf.h"
#include "crypto.h"

#define GCM_NONCE_LEN	12
#define GCM_TAG_LEN	16

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
crypto_random(void *p, size_t n)
{
	unsigned char	*q = p;
	ssize_t		 got;

	/* getrandom(2) may return short for large requests or on a signal. */
	while (n > 0) {
		if ((got = getrandom(q, n, 0)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		q += got;
		n -= (size_t)got;
	}
	return 0;
}

/*
 * The header gives these no way to report an error, and OpenSSL only fails
 * here when it cannot allocate a few bytes.  Carrying on with a digest that
 * was never computed would be worse than stopping: it could match.
 */
void
crypto_sha256(const void *p, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	if (EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) != 1)
		abort();
}

void
crypto_hmac_sha256(const void *key, size_t keylen, const void *msg,
    size_t msglen, unsigned char out[CRYPTO_SHA256_LEN])
{
	unsigned int	 outlen = CRYPTO_SHA256_LEN;
	static const unsigned char empty;

	if (keylen > INT_MAX)
		abort();
	/* An empty key may come as NULL; give OpenSSL a valid pointer. */
	if (HMAC(EVP_sha256(), key != NULL ? key : &empty, (int)keylen,
	    msg, msglen, out, &outlen) == NULL || outlen != CRYPTO_SHA256_LEN)
		abort();
}

bool
crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_hex(struct buf *b, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	size_t		 i;

	if (n > SIZE_MAX / 2 || !buf_grow(b, n * 2))
		return;
	for (i = 0; i < n; i++) {
		b->data[b->len++] = hex[s[i] >> 4];
		b->data[b->len++] = hex[s[i] & 0xf];
	}
	b->data[b->len] = '\0';
}

void
b64url_encode(struct buf *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t		 i, outlen;
	char		*o;
	uint32_t	 v;

	if (n > SIZE_MAX / 4 * 3 - 3) {
		b->failed = true;
		return;
	}
	outlen = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	if (!buf_grow(b, outlen))
		return;
	o = b->data + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
		*o++ = b64url_alphabet[v >> 6 & 63];
		*o++ = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*o++ = b64url_alphabet[v >> 18 & 63];
		*o++ = b64url_alphabet[v >> 12 & 63];
		*o++ = b64url_alphabet[v >> 6 & 63];
	}
	b->len += outlen;
	b->data[b->len] = '\0';
}

/* The value of a base64url character, or -1. */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Only the one spelling b64url_encode() produces is accepted: a token whose
 * bytes differ but decode the same would let two strings name one thing.
 */
unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char	*out;
	size_t		 i, o = 0, n;
	uint32_t	 v = 0;
	int		 bits = 0, c;

	if (len % 4 == 1)
		return NULL;
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if ((c = b64url_value((unsigned char)s[i])) < 0)
			goto fail;
		v = v << 6 | (uint32_t)c;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1U << bits) - 1;
		}
	}
	/* Left-over bits (2 or 4) must be zero. */
	if (v != 0)
		goto fail;
	out[o] = '\0';
	*outlen = o;
	return out;
fail:
	free(out);
	return NULL;
}

unsigned char *
b64_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char	*out;
	char		*tmp;
	size_t		 i, pad = 0;

	if (len % 4 != 0)
		return NULL;
	while (pad < 2 && len > pad && s[len - 1 - pad] == '=')
		pad++;
	if ((tmp = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len - pad; i++) {
		switch (s[i]) {
		case '+':
			tmp[i] = '-';
			break;
		case '/':
			tmp[i] = '_';
			break;
		case '-':
		case '_':
		case '=':
			free(tmp);
			return NULL;
		default:
			tmp[i] = s[i];
			break;
		}
	}
	out = b64url_decode(tmp, len - pad, outlen);
	free(tmp);
	return out;
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * 32 bytes are 64 hex digits, or 43 base64 characters plus one optional
 * '='.  Both alphabets are taken, as `openssl rand -base64 32` writes the
 * standard one, but not mixed in one key.
 */
int
crypto_parse_key(const char *text, unsigned char key[CRYPTO_KEY_LEN])
{
	char		 tmp[44];
	unsigned char	*raw = NULL;
	size_t		 len, rawlen, i;
	bool		 std = false, url = false;
	int		 hi, lo, rc = -1;

	len = strnlen(text, 65);
	if (len == 64) {
		for (i = 0; i < CRYPTO_KEY_LEN; i++) {
			hi = hex_digit((unsigned char)text[2 * i]);
			lo = hex_digit((unsigned char)text[2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto out;
			tmp[i] = (char)(hi << 4 | lo);
		}
		memcpy(key, tmp, CRYPTO_KEY_LEN);
		rc = 0;
		goto out;
	}
	if (len == 44 && text[43] == '=')
		len = 43;
	if (len != 43)
		goto out;
	for (i = 0; i < len; i++) {
		switch (text[i]) {
		case '+':
			std = true;
			tmp[i] = '-';
			break;
		case '/':
			std = true;
			tmp[i] = '_';
			break;
		case '-':
		case '_':
			url = true;
			/* FALLTHROUGH */
		default:
			tmp[i] = text[i];
			break;
		}
	}
	if (std && url)
		goto out;
	if ((raw = b64url_decode(tmp, len, &rawlen)) == NULL)
		goto out;
	if (rawlen == CRYPTO_KEY_LEN) {
		memcpy(key, raw, CRYPTO_KEY_LEN);
		rc = 0;
	}
	OPENSSL_cleanse(raw, rawlen);
out:
	free(raw);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return rc;
}

/*
 * Layout: nonce || ciphertext || tag.  A random 96-bit nonce per message is
 * safe for far more messages than we will ever seal under one master key.
 */
int
crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const void *pt, size_t ptlen, struct buf *out)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	unsigned char	*p;
	size_t		 start = out->len;
	int		 n, rc = -1;

	if (aadlen > INT_MAX || ptlen > INT_MAX - GCM_NONCE_LEN - GCM_TAG_LEN)
		goto fail;
	if (!buf_grow(out, GCM_NONCE_LEN + ptlen + GCM_TAG_LEN))
		goto fail;
	p = (unsigned char *)out->data + out->len;
	if (crypto_random(p, GCM_NONCE_LEN) != 0)
		goto fail;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p) != 1)
		goto fail;
	p += GCM_NONCE_LEN;
	if (aadlen > 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto fail;
	/* GCM is a stream mode: exactly ptlen bytes come out of Update. */
	if (ptlen > 0 &&
	    (EVP_EncryptUpdate(ctx, p, &n, pt, (int)ptlen) != 1 ||
	    (size_t)n != ptlen))
		goto fail;
	p += ptlen;
	if (EVP_EncryptFinal_ex(ctx, p, &n) != 1 || n != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN,
	    p) != 1)
		goto fail;
	out->len += GCM_NONCE_LEN + ptlen + GCM_TAG_LEN;
	out->data[out->len] = '\0';
	rc = 0;
fail:
	if (rc != 0) {
		ERR_clear_error();
		if (out->data != NULL) {
			out->len = start;
			out->data[start] = '\0';
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/*
 * The plaintext is written into `out` as it is decrypted, so on a bad tag
 * it is wiped before `out` is cut back: nothing unauthenticated escapes.
 */
int
crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const void *ct, size_t ctlen, struct buf *out)
{
	EVP_CIPHER_CTX	*ctx = NULL;
	const unsigned char *c = ct;
	unsigned char	 tag[GCM_TAG_LEN], *p = NULL;
	size_t		 start = out->len, ptlen;
	int		 n, rc = -1;

	if (ctlen < GCM_NONCE_LEN + GCM_TAG_LEN || ctlen > INT_MAX ||
	    aadlen > INT_MAX)
		goto fail;
	ptlen = ctlen - GCM_NONCE_LEN - GCM_TAG_LEN;
	memcpy(tag, c + ctlen - GCM_TAG_LEN, GCM_TAG_LEN);
	if (!buf_grow(out, ptlen))
		goto fail;
	p = (unsigned char *)out->data + out->len;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, c) != 1)
		goto fail;
	if (aadlen > 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
		goto fail;
	if (ptlen > 0 &&
	    (EVP_DecryptUpdate(ctx, p, &n, c + GCM_NONCE_LEN,
	    (int)ptlen) != 1 || (size_t)n != ptlen))
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
	    tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, p + ptlen, &n) != 1 || n != 0)
		goto fail;
	out->len += ptlen;
	out->data[out->len] = '\0';
	rc = 0;
fail:
	if (rc != 0) {
		ERR_clear_error();
		if (p != NULL)
			OPENSSL_cleanse(p, ptlen);
		if (out->data != NULL) {
			out->len = start;
			out->data[start] = '\0';
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

EVP_PKEY *
pkey_generate_rsa(int bits)
{
	EVP_PKEY	*pk;

	if (bits < 2048)
		return NULL;
	if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)) == NULL)
		ERR_clear_error();
	return pk;
}

/*
 * Keys we read are never encrypted.  Without this callback OpenSSL would
 * prompt for a passphrase on the terminal, if there is one.
 */
static int
pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

EVP_PKEY *
pkey_from_pem(const char *pem, size_t len, bool priv)
{
	BIO		*bio;
	EVP_PKEY	*pk = NULL;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		goto out;
	if (priv)
		pk = PEM_read_bio_PrivateKey(bio, NULL, pem_no_passphrase,
		    NULL);
	else
		pk = PEM_read_bio_PUBKEY(bio, NULL, pem_no_passphrase, NULL);
	BIO_free(bio);
out:
	if (pk == NULL)
		ERR_clear_error();
	return pk;
}

/* The contents of a memory BIO as a malloc'd C string. */
static char *
bio_to_string(BIO *bio)
{
	char	*data, *s;
	long	 n;

	if ((n = BIO_get_mem_data(bio, &data)) <= 0)
		return NULL;
	if ((s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	return s;
}

char *
pkey_public_pem(EVP_PKEY *pk)
{
	BIO	*bio;
	char	*s = NULL;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		goto out;
	if (PEM_write_bio_PUBKEY(bio, pk) == 1)
		s = bio_to_string(bio);
	BIO_free(bio);
out:
	if (s == NULL)
		ERR_clear_error();
	return s;
}

/* The secure-memory BIO wipes its buffer when freed. */
char *
pkey_private_pem(EVP_PKEY *pk)
{
	BIO	*bio;
	char	*s = NULL;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		goto out;
	if (PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
	    NULL) == 1)
		s = bio_to_string(bio);
	BIO_free(bio);
out:
	if (s == NULL)
		ERR_clear_error();
	return s;
}
