/*
 * config: every HXB_* environment variable, declared once in one table.
 *
 * Each entry gives the name, type, default, whether it is required and
 * whether it is a secret.  A secret may instead be read from a file named
 * by <NAME>_FILE (the Kubernetes and Docker secrets convention); setting both
 * is an error.  Secrets are masked by config_print().
 *
 * Ownership: a struct config owns every string it holds; config_free()
 * releases them.  Getters return borrowed pointers valid until then.
 */
#ifndef HXB_CONFIG_H
#define HXB_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct buf;

enum cfg_key {
	CFG_LOG_LEVEL,
	CFG_LOG_FLUSH_MS,
	CFG_MAX_BODY_BYTES,
	CFG_DATABASE_URL,
	CFG_DATABASE_PASSWORD,
	CFG_DB_CONNECT_TIMEOUT_MS,
	CFG_DB_STATEMENT_TIMEOUT_MS,
	CFG_REDIS_ADDR,
	CFG_REDIS_PASSWORD,
	CFG_REDIS_TIMEOUT_MS,
	CFG_REDIS_NEAR_MS,
	CFG_NATS_URL,
	CFG_NATS_TOKEN,
	CFG_NATS_TIMEOUT_MS,
	CFG_READY_TIMEOUT_MS,
	CFG_MIGRATIONS_DIR,
	CFG_PLANS_CACHE_MS,
	CFG_PUBLIC_URL,
	CFG_UI_URL,
	CFG_ISSUER,
	CFG_MASTER_KEY,
	CFG_ACCESS_TOKEN_TTL_S,
	CFG_REFRESH_TOKEN_TTL_S,
	CFG_SESSION_TTL_S,
	CFG_CLOCK_SKEW_S,
	CFG_KEYS_REFRESH_MS,
	CFG_DEV_MODE,
	CFG_TLS_CA_FILE,
	CFG_HTTP_TIMEOUT_MS,
	CFG_AUTH_RATE_LIMIT,
	CFG_AUTH_SESSION_RATE_LIMIT,
	CFG_AUTH_RATE_WINDOW_S,
	CFG_RATE_LIMIT_BATCH,
	CFG_ME_CACHE_S,
	CFG_JWKS_MAX_AGE_S,
	CFG_WORKSPACE_TOKEN_TTL_S,
	CFG_KEY_ROTATE_AFTER_S,
	CFG_KEY_PUBLISH_MARGIN_S,
	CFG_HOST_KUBECONFIG,
	CFG_VCLUSTER_CHART_REPO,
	CFG_VCLUSTER_CHART_VERSION,
	CFG_VCLUSTER_URL,
	CFG_ISSUER_CA_FILE,
	CFG_OIDC_USERNAME_PREFIX,
	CFG_OIDC_GROUPS_PREFIX,
	CFG_WORKER_ACK_WAIT_MS,
	CFG_WORKER_BACKOFF_MS,
	CFG_WORKER_BACKOFF_MAX_MS,
	CFG_WORKER_OUTAGE_S,
	CFG_WORKER_POLL_MS,
	CFG_RECONCILE_STUCK_S,
	CFG_STRIPE_API_URL,
	CFG_STRIPE_SECRET_KEY,
	CFG_STRIPE_WEBHOOK_SECRET,
	CFG_STRIPE_WEBHOOK_SECRET_PREVIOUS,
	CFG_STRIPE_RETRIES,
	CFG_BILLING_GRACE_S,
	CFG_BILLING_RETURN_URL,
	CFG__MAX
};

enum cfg_type {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,
	CFG_ENUM,
	CFG_TYPE__MAX
};

enum cfg_source {
	CFG_SRC_UNSET,
	CFG_SRC_DEFAULT,
	CFG_SRC_ENV,
	CFG_SRC_FILE,
	CFG_SRC__MAX
};

struct cfg_def {
	const char	*name;		/* full variable name, HXB_... */
	enum cfg_type	 type;
	const char	*def;		/* default as text; NULL for none */
	bool		 required;
	bool		 secret;
	long long	 min, max;	/* CFG_INT only */
	const char	*choices;	/* CFG_ENUM only: "a|b|c" */
	const char	*help;		/* one line for --print-config and docs */
};

struct config {
	char		*val[CFG__MAX];	/* NULL when unset */
	long long	 num[CFG__MAX];	/* CFG_INT and CFG_BOOL values */
	enum cfg_source	 src[CFG__MAX];
};

/* Looks a variable up; returns a borrowed string or NULL. */
typedef const char *(*cfg_lookup_fn)(const char *name, void *arg);

/* The declarative table; borrowed, static. */
const struct cfg_def *config_def(enum cfg_key);

/*
 * Fill `cfg` from `lookup` (getenv when NULL).  Every problem is appended
 * to `err` as one line; returns 0 when there were none, -1 otherwise.  The
 * config must be released with config_free() either way.
 */
int		 config_load(struct config *cfg, cfg_lookup_fn lookup, void *arg,
		    struct buf *err);
void		 config_free(struct config *);

const char	*config_str(const struct config *, enum cfg_key);
long long	 config_int(const struct config *, enum cfg_key);
bool		 config_bool(const struct config *, enum cfg_key);

/* Print the effective configuration, secrets masked, one NAME=value a line. */
void		 config_print(const struct config *, FILE *);

/* Read a secret file, at most 64 KiB, without its final newline.  Caller frees. */
char		*config_read_secret_file(const char *path, struct buf *err);

#endif
