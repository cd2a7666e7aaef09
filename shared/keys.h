/*
 * keys: the keys that sign Hexabase's own tokens, shared by every process
 * through the signing_keys table.
 *
 * A process keeps the public keys in memory and re-reads the table every
 * HXB_KEYS_REFRESH_MS, or at once (at most once a second) when a token
 * names a kid it does not know, so new keys are picked up without a
 * restart and verification does not touch PostgreSQL on the hot path.
 * The private part of the active key is unsealed (AES-256-GCM under
 * HXB_MASTER_KEY, the kid as associated data) only in processes that sign.
 *
 * Ownership: the keyring owns its EVP_PKEYs; pointers it returns are
 * borrowed until the next keyring call.
 */
#ifndef HXB_KEYS_H
#define HXB_KEYS_H

#include <stdbool.h>

#include <openssl/evp.h>

#include "crypto.h"
#include "jws.h"

struct app;
struct db;
struct logger;

#define KEYRING_MAX	16
#define KID_MAX		65

enum key_state {
	KEY_NEXT,
	KEY_ACTIVE,
	KEY_RETIRED,
	KEY_STATE__MAX
};

struct signing_key {
	char		 kid[KID_MAX];
	enum jws_alg	 alg;
	enum key_state	 state;
	EVP_PKEY	*pub;
	EVP_PKEY	*priv;		/* unsealed on demand; active only */
};

struct keyring {
	struct signing_key	 keys[KEYRING_MAX];
	size_t			 n;
	long long		 loaded_ms;	/* clock_ms() of the last load */
	long long		 tried_ms;	/* of the last attempt */
	bool			 loaded;
};

void		 keyring_free(struct keyring *);

/*
 * The public key for `kid`, loading or re-reading the table when it is
 * stale or the kid is unknown.  NULL if there is no such key (or the table
 * could not be read and no cached key matches).
 */
const struct signing_key *keyring_find(struct app *, const char *kid);

/*
 * The active key with its private part, for signing.  NULL (logged) when
 * there is no active key, no master key, or it does not unseal.
 */
const struct signing_key *keyring_signer(struct app *);

/* Every loaded key, re-read if stale (for JWKS).  Returns the count. */
size_t		 keyring_all(struct app *, const struct signing_key **);

/* RFC 7638 thumbprint of an RSA key, base64url; 0 or -1. */
int		 key_thumbprint(EVP_PKEY *, char out[KID_MAX]);

/*
 * Generate an RSA-2048 key and insert it in `state` (next or active), its
 * private part sealed under `master`.  Runs in the caller's transaction.
 * The kid is written to kid_out.  0, or -1 (logged).
 */
int		 key_create(struct db *, const struct logger *,
		    const unsigned char *master, enum key_state state,
		    char kid_out[KID_MAX]);

#endif
