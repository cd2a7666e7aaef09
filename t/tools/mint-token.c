/*
 * mint-token: sign an access token with the stack's active signing key,
 * with times the API would never issue, for the tests that need a token
 * that is ours in every way but its age (an expired one).  Test tooling,
 * never installed.
 *
 *   mint-token USER_ID SESSION_ID IAT_OFFSET_S EXP_OFFSET_S
 *
 * The offsets are seconds from now (negative: in the past).  Run it with
 * the handlers' environment (t/stack.sh with-env DIR ...), which names
 * the database and the master key.  Prints the token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "crypto.h"
#include "jws.h"
#include "keys.h"

int
main(int argc, char **argv)
{
	struct app			 app;
	const struct signing_key	*k;
	unsigned char			 rnd[16];
	struct buf			 jti = BUF_INIT(64);
	json_t				*claims = NULL;
	long long			 now = (long long)time(NULL);
	char				*tok = NULL;
	int				 rc;

	if (argc != 5) {
		fprintf(stderr, "usage: mint-token USER_ID SESSION_ID "
		    "IAT_OFFSET_S EXP_OFFSET_S\n");
		return 2;
	}
	if ((rc = app_init(&app, "mint-token", 1, argv, NULL)) != 0) {
		app_fini(&app);
		return 2;
	}
	if ((k = keyring_signer(&app)) == NULL ||
	    crypto_random(rnd, sizeof(rnd)) != 0)
		goto out;
	b64url_encode(&jti, rnd, sizeof(rnd));
	claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}",
	    "iss", config_str(&app.cfg, CFG_ISSUER), "sub", argv[1],
	    "aud", AUTH_AUDIENCE,
	    "exp", (json_int_t)(now + atoll(argv[4])),
	    "iat", (json_int_t)(now + atoll(argv[3])),
	    "nbf", (json_int_t)(now + atoll(argv[3])),
	    "jti", buf_cstr(&jti), "sid", argv[2], "idp", "dev");
	if (claims != NULL)
		tok = jws_sign(k->priv, k->alg, k->kid, claims);
out:
	if (tok != NULL)
		printf("%s\n", tok);
	else
		fprintf(stderr, "mint-token: could not sign (no active key, "
		    "or no master key)\n");
	free(tok);
	json_decref(claims);
	buf_release(&jti);
	app_fini(&app);
	return tok != NULL ? 0 : 1;
}
