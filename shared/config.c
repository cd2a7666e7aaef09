/*
 * config: the HXB_* variables; see config.h.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"

#define SECRET_FILE_MAX	(64 * 1024)
#define NAME_MAX_LEN	128

static const struct cfg_def defs[CFG__MAX] = {
	[CFG_LOG_LEVEL] = { "HXB_LOG_LEVEL", CFG_ENUM, "info", false, false,
	    0, 0, "debug|info|warn|error",
	    "lowest level written to the JSON log on stderr" },
	[CFG_LOG_FLUSH_MS] = { "HXB_LOG_FLUSH_MS", CFG_INT, "100", false,
	    false, 0, 1000, NULL,
	    "how long a handler may hold INFO request lines to write them "
	    "in batches; 0 writes every line at once" },
	[CFG_MAX_BODY_BYTES] = { "HXB_MAX_BODY_BYTES", CFG_INT, "1048576",
	    false, false, 0, 64LL * 1024 * 1024, NULL,
	    "largest request body accepted, checked before reading" },
	[CFG_DATABASE_URL] = { "HXB_DATABASE_URL", CFG_STRING, NULL, true,
	    false, 0, 0, NULL,
	    "libpq connection string or URI, without the password" },
	[CFG_DATABASE_PASSWORD] = { "HXB_DATABASE_PASSWORD", CFG_STRING, NULL,
	    false, true, 0, 0, NULL,
	    "PostgreSQL password (or HXB_DATABASE_PASSWORD_FILE)" },
	[CFG_DB_CONNECT_TIMEOUT_MS] = { "HXB_DB_CONNECT_TIMEOUT_MS", CFG_INT,
	    "2000", false, false, 100, 60000, NULL,
	    "deadline for opening a PostgreSQL connection" },
	[CFG_DB_STATEMENT_TIMEOUT_MS] = { "HXB_DB_STATEMENT_TIMEOUT_MS",
	    CFG_INT, "5000", false, false, 10, 600000, NULL,
	    "deadline for one SQL statement; it is cancelled after that" },
	[CFG_REDIS_ADDR] = { "HXB_REDIS_ADDR", CFG_STRING, "127.0.0.1:6379",
	    false, false, 0, 0, NULL,
	    "Redis address: host:port, or the path of a unix socket" },
	[CFG_REDIS_PASSWORD] = { "HXB_REDIS_PASSWORD", CFG_STRING, NULL,
	    false, true, 0, 0, NULL,
	    "Redis AUTH password (or HXB_REDIS_PASSWORD_FILE)" },
	[CFG_REDIS_TIMEOUT_MS] = { "HXB_REDIS_TIMEOUT_MS", CFG_INT, "1000",
	    false, false, 10, 60000, NULL,
	    "connect and command deadline for Redis" },
	[CFG_REDIS_NEAR_MS] = { "HXB_REDIS_NEAR_MS", CFG_INT, "10000",
	    false, false, 0, 600000, NULL,
	    "longest a worker keeps its own copy of a session's revocation "
	    "state and a cached profile, kept current by Redis client-side "
	    "tracking; 0 asks Redis on every request" },
	[CFG_NATS_URL] = { "HXB_NATS_URL", CFG_STRING,
	    "nats://127.0.0.1:4222", false, false, 0, 0, NULL,
	    "NATS server URL(s), comma-separated" },
	[CFG_NATS_TOKEN] = { "HXB_NATS_TOKEN", CFG_STRING, NULL, false, true,
	    0, 0, NULL, "NATS authentication token (or HXB_NATS_TOKEN_FILE)" },
	[CFG_NATS_TIMEOUT_MS] = { "HXB_NATS_TIMEOUT_MS", CFG_INT, "1000",
	    false, false, 10, 60000, NULL,
	    "connect and JetStream request deadline for NATS" },
	[CFG_READY_TIMEOUT_MS] = { "HXB_READY_TIMEOUT_MS", CFG_INT, "1000",
	    false, false, 10, 10000, NULL,
	    "budget of each dependency check in GET /readyz" },
	[CFG_MIGRATIONS_DIR] = { "HXB_MIGRATIONS_DIR", CFG_STRING, "sql",
	    false, false, 0, 0, NULL,
	    "directory of numbered migrations read by jobs/migrate" },
	[CFG_PLANS_CACHE_MS] = { "HXB_PLANS_CACHE_MS", CFG_INT, "1000",
	    false, false, 0, 3600000, NULL,
	    "how long a plans worker reuses the catalog it read; 0 reads "
	    "it on every request" },
	[CFG_PUBLIC_URL] = { "HXB_PUBLIC_URL", CFG_STRING,
	    "http://127.0.0.1:8080", false, false, 0, 0, NULL,
	    "external base URL of the API; IdP redirect URIs are built on it" },
	[CFG_UI_URL] = { "HXB_UI_URL", CFG_STRING, "/", false, false, 0, 0,
	    NULL, "where a browser lands after sign-in without redirect_to" },
	[CFG_ISSUER] = { "HXB_ISSUER", CFG_STRING, "https://127.0.0.1:8443",
	    false, false, 0, 0, NULL,
	    "the iss of every token Hexabase signs (an https URL)" },
	[CFG_MASTER_KEY] = { "HXB_MASTER_KEY", CFG_STRING, NULL, false, true,
	    0, 0, NULL, "32-byte key (64 hex digits or base64) sealing "
	    "private signing keys with AES-256-GCM (or HXB_MASTER_KEY_FILE)" },
	[CFG_ACCESS_TOKEN_TTL_S] = { "HXB_ACCESS_TOKEN_TTL_S", CFG_INT, "900",
	    false, false, 60, 3600, NULL, "lifetime of an access token" },
	[CFG_REFRESH_TOKEN_TTL_S] = { "HXB_REFRESH_TOKEN_TTL_S", CFG_INT,
	    "1209600", false, false, 300, 31536000, NULL,
	    "idle lifetime of a refresh token; each refresh starts it again" },
	[CFG_SESSION_TTL_S] = { "HXB_SESSION_TTL_S", CFG_INT, "2592000",
	    false, false, 300, 31536000, NULL,
	    "absolute lifetime of a session, however often it is refreshed" },
	[CFG_CLOCK_SKEW_S] = { "HXB_CLOCK_SKEW_S", CFG_INT, "60", false,
	    false, 0, 300, NULL,
	    "clock skew allowed when checking exp, iat and nbf" },
	[CFG_KEYS_REFRESH_MS] = { "HXB_KEYS_REFRESH_MS", CFG_INT, "30000",
	    false, false, 100, 3600000, NULL,
	    "how often a process re-reads the signing keys from PostgreSQL" },
	[CFG_DEV_MODE] = { "HXB_DEV_MODE", CFG_BOOL, "false", false, false,
	    0, 0, NULL, "development: the refresh cookie is sent without "
	    "Secure, so it works over plain http on loopback" },
	[CFG_TLS_CA_FILE] = { "HXB_TLS_CA_FILE", CFG_STRING, NULL, false,
	    false, 0, 0, NULL, "CA bundle for outgoing TLS (IdPs); unset uses "
	    "the system bundle.  Verification is always on" },
	[CFG_HTTP_TIMEOUT_MS] = { "HXB_HTTP_TIMEOUT_MS", CFG_INT, "5000",
	    false, false, 100, 60000, NULL,
	    "deadline of one outgoing HTTP call (IdP discovery, tokens, APIs)" },
	[CFG_AUTH_RATE_LIMIT] = { "HXB_AUTH_RATE_LIMIT", CFG_INT, "60", false,
	    false, 0, 1000000, NULL, "sign-in requests (login, callback, "
	    "refresh) per client IP per window; 0 turns the limit off" },
	[CFG_AUTH_SESSION_RATE_LIMIT] = { "HXB_AUTH_SESSION_RATE_LIMIT",
	    CFG_INT, "6000", false, false, 0, 100000000, NULL,
	    "other /auth requests (me, sessions, logout) per client IP per "
	    "window; 0 turns the limit off" },
	[CFG_AUTH_RATE_WINDOW_S] = { "HXB_AUTH_RATE_WINDOW_S", CFG_INT, "60",
	    false, false, 1, 3600, NULL, "the rate-limit window" },
	[CFG_RATE_LIMIT_BATCH] = { "HXB_RATE_LIMIT_BATCH", CFG_INT, "32",
	    false, false, 1, 1000, NULL, "most requests a worker counts "
	    "before sending its count to Redis, while the address is below "
	    "half its limit (and never more than a 64th of the limit); 1 "
	    "sends every request" },
	[CFG_ME_CACHE_S] = { "HXB_ME_CACHE_S", CFG_INT, "60", false, false,
	    0, 3600, NULL, "how long Redis keeps a user's profile for GET "
	    "/auth/me; changes drop it at once; 0 reads PostgreSQL every time" },
	[CFG_JWKS_MAX_AGE_S] = { "HXB_JWKS_MAX_AGE_S", CFG_INT, "300", false,
	    false, 0, 86400, NULL, "how long verifiers may cache the JWKS and "
	    "discovery documents (Cache-Control max-age); jobs/rotate-keys "
	    "publishes a key at least this long, plus a margin, before it "
	    "signs" },
	[CFG_WORKSPACE_TOKEN_TTL_S] = { "HXB_WORKSPACE_TOKEN_TTL_S", CFG_INT,
	    "900", false, false, 60, 3600, NULL, "lifetime of a workspace "
	    "token (the ID token a vCluster's API server accepts)" },
	[CFG_KEY_ROTATE_AFTER_S] = { "HXB_KEY_ROTATE_AFTER_S", CFG_INT,
	    "2592000", false, false, 3600, 31536000, NULL, "the age of the "
	    "active signing key at which jobs/rotate-keys publishes its "
	    "successor" },
	[CFG_KEY_PUBLISH_MARGIN_S] = { "HXB_KEY_PUBLISH_MARGIN_S", CFG_INT,
	    "60", false, false, 0, 3600, NULL, "what jobs/rotate-keys adds to "
	    "the JWKS max-age and the key refresh interval before a published "
	    "key signs, and to a retired key's last token lifetime before it "
	    "is deleted" },
	[CFG_HOST_KUBECONFIG] = { "HXB_HOST_KUBECONFIG", CFG_STRING, NULL,
	    false, false, 0, 0, NULL,
	    "kubeconfig of the host K3s cluster for the lifecycle jobs; "
	    "unset: the pod's service account" },
	[CFG_VCLUSTER_CHART_REPO] = { "HXB_VCLUSTER_CHART_REPO", CFG_STRING,
	    "https://charts.loft.sh", false, false, 0, 0, NULL,
	    "Helm repository of the vcluster chart" },
	[CFG_VCLUSTER_CHART_VERSION] = { "HXB_VCLUSTER_CHART_VERSION",
	    CFG_STRING, "0.30.1", false, false, 0, 0, NULL,
	    "the pinned vcluster chart version every workspace runs" },
	[CFG_VCLUSTER_URL] = { "HXB_VCLUSTER_URL", CFG_STRING, NULL, false,
	    false, 0, 0, NULL,
	    "public https URL of a workspace's API server, {ws} standing for "
	    "its id (https://{ws}.k.example.com); unset: the server the "
	    "vCluster's kubeconfig names" },
	[CFG_ISSUER_CA_FILE] = { "HXB_ISSUER_CA_FILE", CFG_STRING, NULL,
	    false, false, 0, 0, NULL,
	    "PEM CA of the issuer's certificate when it is private: mounted "
	    "into every vCluster's API server as --oidc-ca-file" },
	[CFG_OIDC_USERNAME_PREFIX] = { "HXB_OIDC_USERNAME_PREFIX", CFG_STRING,
	    "hxb:", false, false, 0, 0, NULL,
	    "--oidc-username-prefix of the vCluster API servers" },
	[CFG_OIDC_GROUPS_PREFIX] = { "HXB_OIDC_GROUPS_PREFIX", CFG_STRING,
	    NULL, false, false, 0, 0, NULL,
	    "--oidc-groups-prefix of the vCluster API servers; RBAC subjects "
	    "carry it" },
	[CFG_WORKER_ACK_WAIT_MS] = { "HXB_WORKER_ACK_WAIT_MS", CFG_INT,
	    "30000", false, false, 1000, 3600000, NULL,
	    "how long a request stays with a worker that neither acks nor "
	    "reports progress before it is delivered again; also the task's "
	    "lease" },
	[CFG_WORKER_BACKOFF_MS] = { "HXB_WORKER_BACKOFF_MS", CFG_INT, "1000",
	    false, false, 10, 600000, NULL,
	    "first delay before a failed attempt is retried; doubled each "
	    "attempt, with jitter" },
	[CFG_WORKER_BACKOFF_MAX_MS] = { "HXB_WORKER_BACKOFF_MAX_MS", CFG_INT,
	    "60000", false, false, 10, 3600000, NULL,
	    "longest delay between attempts" },
	[CFG_WORKER_OUTAGE_S] = { "HXB_WORKER_OUTAGE_S", CFG_INT, "120",
	    false, false, 0, 3600, NULL,
	    "how long a worker waits out a Kubernetes API that is away "
	    "(unreachable, 5xx, 429) within one attempt, renewing its lease, "
	    "before the attempt fails and is retried with backoff" },
	[CFG_WORKER_POLL_MS] = { "HXB_WORKER_POLL_MS", CFG_INT, "1000",
	    false, false, 10, 60000, NULL,
	    "how long an idle worker waits for a request before it looks "
	    "at the answers again" },
	[CFG_RECONCILE_STUCK_S] = { "HXB_RECONCILE_STUCK_S", CFG_INT, "300",
	    false, false, 1, 86400, NULL,
	    "jobs/reconcile sends again a task unfinished and untouched this "
	    "long, and an outbox row unpublished this long" },
	[CFG_STRIPE_API_URL] = { "HXB_STRIPE_API_URL", CFG_STRING,
	    "https://api.stripe.com", false, false, 0, 0, NULL,
	    "base URL of the Stripe API (https; stripe-mock in tests)" },
	[CFG_STRIPE_SECRET_KEY] = { "HXB_STRIPE_SECRET_KEY", CFG_STRING, NULL,
	    false, true, 0, 0, NULL, "Stripe secret API key, sk_live_... or "
	    "sk_test_... (or HXB_STRIPE_SECRET_KEY_FILE); unset, billing "
	    "calls answer 503" },
	[CFG_STRIPE_WEBHOOK_SECRET] = { "HXB_STRIPE_WEBHOOK_SECRET",
	    CFG_STRING, NULL, false, true, 0, 0, NULL,
	    "signing secret of the webhook endpoint, whsec_... (or "
	    "HXB_STRIPE_WEBHOOK_SECRET_FILE); unset, the webhook answers 503" },
	[CFG_STRIPE_WEBHOOK_SECRET_PREVIOUS] = {
	    "HXB_STRIPE_WEBHOOK_SECRET_PREVIOUS", CFG_STRING, NULL, false, true,
	    0, 0, NULL, "during a secret rotation, the endpoint's other "
	    "secret: events signed with either are accepted (or "
	    "HXB_STRIPE_WEBHOOK_SECRET_PREVIOUS_FILE)" },
	[CFG_STRIPE_RETRIES] = { "HXB_STRIPE_RETRIES", CFG_INT, "2", false,
	    false, 0, 10, NULL,
	    "retries of a Stripe call answered 409, 429 or 5xx, or not "
	    "answered, with backoff and the same Idempotency-Key" },
	[CFG_BILLING_GRACE_S] = { "HXB_BILLING_GRACE_S", CFG_INT, "259200",
	    false, false, 0, 31536000, NULL,
	    "how long an organization may stay past due (its first failed "
	    "payment) before its paid workspaces are suspended" },
	[CFG_BILLING_RETURN_URL] = { "HXB_BILLING_RETURN_URL", CFG_STRING,
	    NULL, false, false, 0, 0, NULL,
	    "where Checkout and the customer portal send the browser back "
	    "(an absolute URL; {org} is the organization id); unset, "
	    "HXB_PUBLIC_URL + /billing?organization={org}" },
};

static const char *const src_names[CFG_SRC__MAX] = {
	[CFG_SRC_UNSET] = "unset",
	[CFG_SRC_DEFAULT] = "default",
	[CFG_SRC_ENV] = "env",
	[CFG_SRC_FILE] = "file",
};

const struct cfg_def *
config_def(enum cfg_key k)
{
	return k < CFG__MAX ? &defs[k] : NULL;
}

static const char *
lookup_env(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

/*
 * Read a whole secret file.  Returns an allocated string the caller frees,
 * or NULL with a line in `err`.  One trailing newline (LF or CRLF) is
 * dropped because editors add it; NUL bytes and an empty secret are refused.
 */
char *
config_read_secret_file(const char *path, struct buf *err)
{
	struct stat	 st;
	struct buf	 b = BUF_INIT(SECRET_FILE_MAX);
	char		 chunk[4096];
	ssize_t		 n;
	int		 fd;
	char		*s = NULL;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		buf_addf(err, "cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		buf_addf(err, "%s is not a regular file\n", path);
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			buf_addf(err, "cannot read %s: %s\n", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (!buf_add(&b, chunk, (size_t)n)) {
			buf_addf(err, "%s is larger than %d bytes\n", path,
			    SECRET_FILE_MAX);
			goto out;
		}
	}
	if (b.len > 0 && b.data[b.len - 1] == '\n')
		b.len--;
	if (b.len > 0 && b.data[b.len - 1] == '\r')
		b.len--;
	if (b.len == 0) {
		buf_addf(err, "%s is empty\n", path);
		goto out;
	}
	if (memchr(b.data, '\0', b.len) != NULL) {
		buf_addf(err, "%s contains a NUL byte\n", path);
		goto out;
	}
	b.data[b.len] = '\0';
	s = buf_detach(&b, NULL);
out:
	buf_release(&b);
	close(fd);
	return s;
}

/* Bounded integer parse in the spirit of strtonum(3). */
static bool
parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (*s == '\0' || isspace((unsigned char)*s) || *s == '+')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_bool(const char *s, long long *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return true;
		}
	}
	return false;
}

static bool
enum_has(const char *choices, const char *s)
{
	size_t		 n = strlen(s);
	const char	*p = choices, *bar;

	for (;;) {
		bar = strchr(p, '|');
		if ((bar ? (size_t)(bar - p) : strlen(p)) == n &&
		    strncmp(p, s, n) == 0)
			return true;
		if (bar == NULL)
			return false;
		p = bar + 1;
	}
}

/* Check one value against its definition; append a line to err if bad. */
static bool
config_check(struct config *cfg, enum cfg_key k, struct buf *err)
{
	const struct cfg_def	*d = &defs[k];
	const char		*v = cfg->val[k];

	switch (d->type) {
	case CFG_INT:
		if (!parse_int(v, d->min, d->max, &cfg->num[k])) {
			buf_addf(err, "%s must be an integer from %lld to "
			    "%lld\n", d->name, d->min, d->max);
			return false;
		}
		break;
	case CFG_BOOL:
		if (!parse_bool(v, &cfg->num[k])) {
			buf_addf(err, "%s must be true or false\n", d->name);
			return false;
		}
		break;
	case CFG_ENUM:
		if (!enum_has(d->choices, v)) {
			buf_addf(err, "%s must be one of %s\n", d->name,
			    d->choices);
			return false;
		}
		break;
	default:
		if (d->required && *v == '\0') {
			buf_addf(err, "%s must not be empty\n", d->name);
			return false;
		}
		break;
	}
	return true;
}

int
config_load(struct config *cfg, cfg_lookup_fn lookup, void *arg,
    struct buf *err)
{
	char		 fname[NAME_MAX_LEN];
	const char	*v, *file;
	size_t		 k;
	int		 rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (lookup == NULL)
		lookup = lookup_env;

	for (k = 0; k < CFG__MAX; k++) {
		const struct cfg_def *d = &defs[k];

		v = lookup(d->name, arg);
		file = NULL;
		if (d->secret) {
			snprintf(fname, sizeof(fname), "%s_FILE", d->name);
			file = lookup(fname, arg);
			if (file != NULL && *file == '\0')
				file = NULL;
		}
		if (v != NULL && file != NULL) {
			buf_addf(err, "set either %s or %s, not both\n",
			    d->name, fname);
			rc = -1;
			continue;
		}
		if (file != NULL) {
			if ((cfg->val[k] = config_read_secret_file(file,
			    err)) == NULL) {
				buf_addf(err, "%s: secret file unusable\n",
				    fname);
				rc = -1;
				continue;
			}
			cfg->src[k] = CFG_SRC_FILE;
		} else if (v != NULL) {
			cfg->val[k] = strdup(v);
			cfg->src[k] = CFG_SRC_ENV;
		} else if (d->def != NULL) {
			cfg->val[k] = strdup(d->def);
			cfg->src[k] = CFG_SRC_DEFAULT;
		} else {
			if (d->required) {
				buf_addf(err, "%s is required: %s\n", d->name,
				    d->help);
				rc = -1;
			}
			continue;
		}
		if (cfg->val[k] == NULL) {
			buf_addf(err, "%s: out of memory\n", d->name);
			rc = -1;
			continue;
		}
		if (!config_check(cfg, k, err))
			rc = -1;
	}
	return rc;
}

void
config_free(struct config *cfg)
{
	size_t	 k;

	for (k = 0; k < CFG__MAX; k++) {
		if (cfg->val[k] != NULL && defs[k].secret)
			explicit_bzero(cfg->val[k], strlen(cfg->val[k]));
		free(cfg->val[k]);
		cfg->val[k] = NULL;
	}
}

const char *
config_str(const struct config *cfg, enum cfg_key k)
{
	return cfg->val[k];
}

long long
config_int(const struct config *cfg, enum cfg_key k)
{
	return cfg->num[k];
}

bool
config_bool(const struct config *cfg, enum cfg_key k)
{
	return cfg->num[k] != 0;
}

void
config_print(const struct config *cfg, FILE *f)
{
	size_t	 k;

	for (k = 0; k < CFG__MAX; k++) {
		const char *v = cfg->val[k];

		if (v == NULL)
			v = "";
		else if (defs[k].secret)
			v = "********";
		fprintf(f, "%s=%s\t# %s\n", defs[k].name, v,
		    src_names[cfg->src[k]]);
	}
}
