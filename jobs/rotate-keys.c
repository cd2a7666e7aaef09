/*
 * rotate-keys: move the signing keys along, a cron-style one-shot.
 *
 *   rotate-keys		do what is due
 *   rotate-keys --force	also prepare a successor now, whatever the
 *				active key's age
 *
 * One run, in one transaction under an advisory lock (so concurrent runs
 * take turns and the later ones find nothing to do):
 *
 *   1. A "next" key whose activate_after has come becomes "active"; the
 *	active key becomes "retired".
 *   2. Retired keys are deleted once no token they signed can be live:
 *	HXB_KEYS_REFRESH_MS (a signer may use a key that long after it was
 *	retired) + the longer of HXB_ACCESS_TOKEN_TTL_S and
 *	HXB_WORKSPACE_TOKEN_TTL_S + HXB_CLOCK_SKEW_S + the margin after
 *	their retirement.
 *   3. If there is no next key and the active key is older than
 *	HXB_KEY_ROTATE_AFTER_S (or --force), a next key is created.  It is
 *	published at once (JWKS lists next keys) and becomes active no
 *	sooner than HXB_KEYS_REFRESH_MS (until every process serves it) +
 *	HXB_JWKS_MAX_AGE_S (until every verifier's cached JWKS has it) +
 *	HXB_KEY_PUBLISH_MARGIN_S from now: a verifier that refuses to
 *	refetch a fresh JWKS for an unknown kid never meets one.
 *
 * Running it again changes nothing until the next step is due.  Every
 * process reads the keys from PostgreSQL, so every replica agrees.
 *
 * Exit status: 0 done (or nothing due), 1 failed, 2 usage or configuration.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "app.h"
#include "buf.h"
#include "crypto.h"
#include "keys.h"

/* "hxb_rot" as a number: the advisory lock of this job. */
#define ROTATE_LOCK_KEY	"29400159649054324"

static const struct db_stmt st_lock = { "rot_lock",
    "SELECT pg_advisory_xact_lock(" ROTATE_LOCK_KEY ")", 0 };

/* Step 1: the due next key, if any, and the active one it replaces. */
static const struct db_stmt st_activate = { "rot_activate",
    "WITH due AS (SELECT kid FROM signing_keys WHERE state = 'next' AND "
    "activate_after <= now() ORDER BY activate_after, kid LIMIT 1), "
    "old AS (UPDATE signing_keys SET state = 'retired', retired_at = now() "
    "WHERE state = 'active' AND EXISTS (SELECT 1 FROM due) RETURNING kid) "
    "SELECT (SELECT kid FROM due), (SELECT kid FROM old)", 0 };

static const struct db_stmt st_promote = { "rot_promote",
    "UPDATE signing_keys SET state = 'active', activated_at = now() "
    "WHERE kid = $1 AND state = 'next'", 1 };

/* Step 2. */
static const struct db_stmt st_delete = { "rot_delete",
    "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < "
    "now() - make_interval(secs => $1::double precision) RETURNING kid",
    1 };

/* Step 3: whether a successor is wanted. */
static const struct db_stmt st_want = { "rot_want",
    "SELECT NOT EXISTS (SELECT 1 FROM signing_keys WHERE state = 'next') "
    "AND ($2::boolean OR NOT EXISTS (SELECT 1 FROM signing_keys WHERE "
    "state = 'active' AND activated_at > now() - "
    "make_interval(secs => $1::double precision)))", 2 };

static const struct db_stmt st_schedule = { "rot_schedule",
    "UPDATE signing_keys SET activate_after = now() + "
    "make_interval(secs => $2::double precision) WHERE kid = $1 "
    "RETURNING to_char(activate_after AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", 2 };

static int
usage(void)
{
	fprintf(stderr, "usage: rotate-keys [--force]\n");
	return 2;
}

static int
rotate(struct app *app, const unsigned char *master, bool force)
{
	struct db	*db = &app->db;
	const struct config *cfg = &app->cfg;
	long long	 refresh_s = (config_int(cfg, CFG_KEYS_REFRESH_MS) + 999) /
			    1000;
	long long	 margin = config_int(cfg, CFG_KEY_PUBLISH_MARGIN_S);
	long long	 ttl = config_int(cfg, CFG_ACCESS_TOKEN_TTL_S);
	char		 keep[32], after[32], delay[32], kid[KID_MAX];
	const char	*p[2];
	struct buf	 said = BUF_INIT(0);	/* printed once committed */
	PGresult	*res;
	int		 i;

	if (config_int(cfg, CFG_WORKSPACE_TOKEN_TTL_S) > ttl)
		ttl = config_int(cfg, CFG_WORKSPACE_TOKEN_TTL_S);
	snprintf(keep, sizeof(keep), "%lld", refresh_s + ttl +
	    config_int(cfg, CFG_CLOCK_SKEW_S) + margin);
	snprintf(after, sizeof(after), "%lld",
	    config_int(cfg, CFG_KEY_ROTATE_AFTER_S));
	snprintf(delay, sizeof(delay), "%lld", refresh_s +
	    config_int(cfg, CFG_JWKS_MAX_AGE_S) + margin);
	if (db_begin(db) != 0 || (res = db_exec(db, &st_lock, NULL)) == NULL)
		goto fail;
	PQclear(res);

	if ((res = db_exec(db, &st_activate, NULL)) == NULL)
		goto fail;
	if (!PQgetisnull(res, 0, 0)) {
		snprintf(kid, sizeof(kid), "%s", PQgetvalue(res, 0, 0));
		buf_addf(&said, "rotate-keys: activated %s", kid);
		if (!PQgetisnull(res, 0, 1))
			buf_addf(&said, ", retired %s", PQgetvalue(res, 0, 1));
		buf_addch(&said, '\n');
		PQclear(res);
		p[0] = kid;
		if ((res = db_exec(db, &st_promote, p)) == NULL)
			goto fail;
	}
	PQclear(res);

	p[0] = keep;
	if ((res = db_exec(db, &st_delete, p)) == NULL)
		goto fail;
	for (i = 0; i < PQntuples(res); i++)
		buf_addf(&said, "rotate-keys: deleted %s\n",
		    PQgetvalue(res, i, 0));
	PQclear(res);

	p[0] = after;
	p[1] = force ? "true" : "false";
	if ((res = db_exec(db, &st_want, p)) == NULL)
		goto fail;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		if (master == NULL) {
			fprintf(stderr, "rotate-keys: a new key is due, but "
			    "HXB_MASTER_KEY is not set to seal it\n");
			db_rollback(db);
			buf_release(&said);
			return -1;
		}
		if (key_create(db, &app->log, master, KEY_NEXT, kid) != 0)
			goto fail;
		p[0] = kid;
		p[1] = delay;
		if ((res = db_exec(db, &st_schedule, p)) == NULL)
			goto fail;
		buf_addf(&said, "rotate-keys: published %s, active from %s\n",
		    kid, PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	if (db_commit(db) != 0)
		goto fail;
	if (said.len > 0)
		fputs(said.data, stdout);
	buf_release(&said);
	return 0;
fail:
	fprintf(stderr, "rotate-keys: %s\n", db->errmsg);
	db_rollback(db);
	buf_release(&said);
	return -1;
}

int
main(int argc, char **argv)
{
	static const char *const flags[] = { "--force", NULL };
	unsigned char	 master[CRYPTO_KEY_LEN];
	const char	*mk;
	struct app	 app;
	bool		 force = false, have_master = false;
	int		 rc, i, status = 1;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--force") == 0)
			force = true;
	rc = app_init(&app, "rotate-keys", argc, argv, flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : usage();
	}
	if ((mk = config_str(&app.cfg, CFG_MASTER_KEY)) != NULL) {
		if (crypto_parse_key(mk, master) != 0) {
			fprintf(stderr, "rotate-keys: HXB_MASTER_KEY must be 64 "
			    "hex digits or base64 of 32 bytes\n");
			app_fini(&app);
			return 2;
		}
		have_master = true;
	}
	db_request_begin(&app.db);
	if (rotate(&app, have_master ? master : NULL, force) == 0)
		status = 0;
	OPENSSL_cleanse(master, sizeof(master));
	app_fini(&app);
	return status;
}
