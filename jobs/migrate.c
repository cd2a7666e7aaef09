/*
 * migrate: apply the numbered SQL files of HXB_MIGRATIONS_DIR in order.
 *
 *   migrate		apply what is pending
 *   migrate --status	list every migration and whether it is applied
 *
 * Each file runs in its own transaction together with its row in
 * schema_migrations, which records a SHA-256 of the file.  The runner
 * refuses to go on if an applied file has changed or disappeared, or if a
 * new file sorts before one already applied.  Several copies may start at
 * once: an advisory lock lets one work while the others wait, and those
 * then find nothing left to do.
 *
 * Exit status: 0 done, 1 refused or failed, 2 usage or configuration.
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "app.h"
#include "crypto.h"
#include "keys.h"
#include "config.h"

#define MIGRATIONS_MAX	1000
#define MIGRATION_SIZE_MAX (16 * 1024 * 1024)
/* "hxb_mig" as a number: the advisory lock key of this runner. */
#define MIGRATE_LOCK_KEY "29400159648983399"

struct migration {
	int	 version;
	char	*name;		/* file name */
	char	*sql;
	char	 sum[65];	/* hex SHA-256 of the file */
	bool	 applied;
};

static int
cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static int
sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n = 0, i;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32)
		return -1;
	for (i = 0; i < n; i++)
		snprintf(out + i * 2, 3, "%02x", md[i]);
	return 0;
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE		*f;
	struct buf	 b = BUF_INIT(MIGRATION_SIZE_MAX);
	char		 chunk[8192];
	size_t		 n;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f))
		b.failed = true;
	fclose(f);
	return buf_detach(&b, lenp);
}

/* Read the directory; returns the count or -1 after saying why. */
static int
migrations_load(const char *dir, struct migration *m)
{
	DIR		*d;
	struct dirent	*de;
	regex_t		 re;
	char		 path[4096];
	size_t		 len;
	int		 n = 0, i;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "migrate: cannot open %s: %s\n", dir,
		    strerror(errno));
		return -1;
	}
	regcomp(&re, "^[0-9]{4}_[a-z0-9_]+\\.sql$", REG_EXTENDED | REG_NOSUB);
	while ((de = readdir(d)) != NULL) {
		if (regexec(&re, de->d_name, 0, NULL, 0) != 0)
			continue;
		if (n == MIGRATIONS_MAX) {
			fprintf(stderr, "migrate: more than %d migrations\n",
			    MIGRATIONS_MAX);
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		m[n].version = atoi(de->d_name);
		m[n].applied = false;
		m[n].name = strdup(de->d_name);
		if ((m[n].sql = slurp(path, &len)) == NULL ||
		    m[n].name == NULL) {
			fprintf(stderr, "migrate: cannot read %s\n", path);
			free(m[n].name);
			free(m[n].sql);
			goto fail;
		}
		sha256_hex(m[n].sql, len, m[n].sum);
		n++;
	}
	regfree(&re);
	closedir(d);
	qsort(m, (size_t)n, sizeof(*m), cmp_migration);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			fprintf(stderr, "migrate: %s and %s have the same "
			    "number; renumber one\n", m[i - 1].name,
			    m[i].name);
			goto fail_loaded;
		}
	return n;
fail:
	regfree(&re);
	closedir(d);
fail_loaded:
	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].sql);
	}
	return -1;
}

static int
query_ok(struct db *db, const char *sql, int n, const char *const *p)
{
	PGresult	*res;

	if ((res = db_query(db, sql, n, p)) == NULL) {
		fprintf(stderr, "migrate: %s\n", db->errmsg);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* Wait for the advisory lock, saying so while another runner holds it. */
static int
migrate_lock(struct db *db)
{
	const char	*p[1] = { MIGRATE_LOCK_KEY };
	struct timespec	 ts = { 0, 200 * 1000000L };
	PGresult	*res;
	bool		 said = false, got;

	for (;;) {
		res = db_query(db, "SELECT pg_try_advisory_lock($1::bigint)",
		    1, p);
		if (res == NULL) {
			fprintf(stderr, "migrate: %s\n", db->errmsg);
			return -1;
		}
		got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (got)
			return 0;
		if (!said)
			fprintf(stderr, "migrate: another migrate is running; "
			    "waiting for it\n");
		said = true;
		nanosleep(&ts, NULL);
	}
}

/* Compare what the database has applied with the files. */
static int
migrate_verify(struct db *db, struct migration *m, int n, int *newest)
{
	PGresult	*res;
	int		 i, j, rows, v, rc = 0;
	const char	*sum, *name;

	*newest = 0;
	res = db_query(db, "SELECT version, name, checksum FROM "
	    "schema_migrations ORDER BY version", 0, NULL);
	if (res == NULL) {
		fprintf(stderr, "migrate: %s\n", db->errmsg);
		return -1;
	}
	rows = PQntuples(res);
	for (i = 0; i < rows; i++) {
		v = atoi(PQgetvalue(res, i, 0));
		name = PQgetvalue(res, i, 1);
		sum = PQgetvalue(res, i, 2);
		if (v > *newest)
			*newest = v;
		for (j = 0; j < n && m[j].version != v; j++)
			;
		if (j == n) {
			fprintf(stderr, "migrate: %s was applied but is "
			    "missing from the migrations directory; restore "
			    "it\n", name);
			rc = -1;
			continue;
		}
		if (strcmp(m[j].sum, sum) != 0) {
			fprintf(stderr, "migrate: %s has changed since it was "
			    "applied (checksum %.12s, now %.12s); restore it "
			    "and put the change in a new migration\n",
			    m[j].name, sum, m[j].sum);
			rc = -1;
		}
		m[j].applied = true;
	}
	PQclear(res);
	for (j = 0; j < n; j++)
		if (!m[j].applied && m[j].version < *newest) {
			fprintf(stderr, "migrate: %s is older than %04d, which "
			    "is already applied; give it a higher number\n",
			    m[j].name, *newest);
			rc = -1;
		}
	return rc;
}

static int
migrate_apply(struct db *db, const struct migration *m)
{
	char		 version[16];
	const char	*p[3] = { version, m->name, m->sum };

	snprintf(version, sizeof(version), "%d", m->version);
	if (db_begin(db) != 0) {
		fprintf(stderr, "migrate: %s\n", db->errmsg);
		return -1;
	}
	if (db_script(db, m->sql) != 0) {
		fprintf(stderr, "migrate: %s failed: %s\n", m->name,
		    db->errmsg);
		db_rollback(db);
		return -1;
	}
	if (query_ok(db, "INSERT INTO schema_migrations (version, name, "
	    "checksum) VALUES ($1::integer, $2, $3)", 3, p) != 0 ||
	    db_commit(db) != 0) {
		db_rollback(db);
		return -1;
	}
	printf("migrate: applied %s\n", m->name);
	return 0;
}

/*
 * The first signing key.  Tokens cannot be issued without an active key,
 * so the runner creates one, sealed under HXB_MASTER_KEY, when there is
 * none; jobs/rotate-keys replaces it later.  Without a master key it only
 * says so: such a deployment cannot sign anything.
 */
static int
ensure_signing_key(struct app *app)
{
	unsigned char	 master[CRYPTO_KEY_LEN];
	const char	*mk = config_str(&app->cfg, CFG_MASTER_KEY);
	char		 kid[KID_MAX];
	PGresult	*res;
	int		 have, rc = -1;

	res = db_query(&app->db, "SELECT count(*) FROM signing_keys "
	    "WHERE state = 'active'", 0, NULL);
	if (res == NULL) {
		fprintf(stderr, "migrate: %s\n", app->db.errmsg);
		return -1;
	}
	have = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (have > 0)
		return 0;
	if (mk == NULL) {
		fprintf(stderr, "migrate: no active signing key, and "
		    "HXB_MASTER_KEY is not set to create one; nothing can "
		    "sign tokens yet\n");
		return 0;
	}
	if (crypto_parse_key(mk, master) != 0) {
		fprintf(stderr, "migrate: HXB_MASTER_KEY must be 64 hex digits "
		    "or base64 of 32 bytes\n");
		return -1;
	}
	if (db_begin(&app->db) == 0 &&
	    key_create(&app->db, &app->log, master, KEY_ACTIVE, kid) == 0 &&
	    db_commit(&app->db) == 0) {
		printf("migrate: created signing key %s\n", kid);
		rc = 0;
	} else {
		db_rollback(&app->db);
		fprintf(stderr, "migrate: cannot create the signing key: %s\n",
		    app->db.errmsg);
	}
	OPENSSL_cleanse(master, sizeof(master));
	return rc;
}

int
main(int argc, char **argv)
{
	static const char *const flags[] = { "--status", NULL };
	static struct migration m[MIGRATIONS_MAX];
	struct app	 app;
	int		 rc, n, i, newest, status = 1;
	bool		 show = false;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--status") == 0)
			show = true;
	rc = app_init(&app, "migrate", argc, argv, flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	if ((n = migrations_load(config_str(&app.cfg, CFG_MIGRATIONS_DIR),
	    m)) < 0)
		goto out;
	db_request_begin(&app.db);
	if (migrate_lock(&app.db) != 0)
		goto out_free;
	if (db_script(&app.db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version integer PRIMARY KEY CHECK (version > 0), "
	    "name text NOT NULL, "
	    "checksum text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'), "
	    "applied_at timestamptz NOT NULL DEFAULT now())") != 0) {
		fprintf(stderr, "migrate: %s\n", app.db.errmsg);
		goto out_free;
	}
	if (migrate_verify(&app.db, m, n, &newest) != 0) {
		fprintf(stderr, "migrate: refusing to run\n");
		goto out_free;
	}
	if (show) {
		for (i = 0; i < n; i++)
			printf("%s\t%s\n", m[i].name, m[i].applied ?
			    "applied" : "pending");
		status = 0;
		goto out_free;
	}
	for (i = 0; i < n; i++)
		if (!m[i].applied && migrate_apply(&app.db, &m[i]) != 0)
			goto out_free;
	if (ensure_signing_key(&app) != 0)
		goto out_free;
	/* The JetStream stream, where NATS is configured (not in a bare
	 * schema run). */
	if (app.cfg.src[CFG_NATS_URL] == CFG_SRC_DEFAULT)
		log_info(&app.log, "HXB_NATS_URL not set: the JetStream stream "
		    "%s was not checked", BUS_STREAM);
	else if (bus_stream(&app.bus) != 0) {
		fprintf(stderr, "migrate: %s\n", app.bus.errmsg);
		goto out_free;
	}
	status = 0;
out_free:
	for (i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].sql);
	}
out:
	app_fini(&app);
	return status;
}
