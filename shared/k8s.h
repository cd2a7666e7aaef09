/*
 * k8s: a small client of the Kubernetes REST API, on libcurl and jansson.
 *
 * Credentials come from a kubeconfig (server, CA inline or in a file, a
 * client certificate and key or a bearer token) or from the in-cluster
 * service account.  Only https is spoken and TLS verification is always
 * on: a kubeconfig that asks to skip it is refused.
 *
 * Every call takes a deadline (an absolute clock_ms() time) that bounds
 * the whole call, retries included; each attempt is further bounded by
 * the client's attempt timeout.  429, 5xx and failed connections are
 * retried with exponential backoff and jitter, honouring Retry-After; no
 * other 4xx is ever retried.  Failures are typed (struct k8s_err), taken
 * from the API server's Status object when it sent one.
 *
 * Ownership: a struct k8s owns its credentials and its curl handle, and
 * k8s_free() releases them.  Calls that return json_t * return a new
 * reference for the caller.  Not thread-safe: one client per thread.
 */
#ifndef HXB_K8S_H
#define HXB_K8S_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"

struct logger;

enum k8s_reason {
	K8S_OK = 0,
	K8S_BAD_REQUEST,	/* 400 BadRequest */
	K8S_UNAUTHORIZED,	/* 401 */
	K8S_FORBIDDEN,		/* 403 */
	K8S_NOT_FOUND,		/* 404 */
	K8S_METHOD_NOT_ALLOWED,	/* 405 */
	K8S_NOT_ACCEPTABLE,	/* 406, 415 */
	K8S_ALREADY_EXISTS,	/* 409 AlreadyExists */
	K8S_CONFLICT,		/* 409 Conflict: resourceVersion or fields */
	K8S_GONE,		/* 410 Expired: a stale continue token */
	K8S_INVALID,		/* 422 Invalid: see the causes */
	K8S_TOO_MANY_REQUESTS,	/* 429, after the retries */
	K8S_SERVER_ERROR,	/* 5xx, after the retries */
	K8S_TIMEOUT,		/* the attempt or the deadline ran out */
	K8S_UNREACHABLE,	/* no connection, after the retries */
	K8S_TLS,		/* the server's certificate was refused */
	K8S_PROTOCOL,		/* an answer that is not what the API sends */
	K8S_CONFIG,		/* bad credentials or arguments here */
	K8S_OTHER		/* any other status */
};

#define K8S_CAUSES_MAX	16

struct k8s_cause {
	char	 type[64];	/* FieldValueRequired, FieldManagerConflict */
	char	 field[256];	/* spec.hard[cpu], .metadata.labels.x */
	char	 message[256];
};

struct k8s_err {
	enum k8s_reason	 reason;
	long		 code;		/* HTTP status, 0 if none */
	int		 attempts;
	char		 status_reason[64];	/* Status.reason verbatim */
	char		 message[512];
	size_t		 ncauses;
	struct k8s_cause causes[K8S_CAUSES_MAX];
};

struct k8s {
	char		*server;	/* https://host[:port], no '/' at end */
	struct buf	 ca;		/* PEM; empty: the system's CAs */
	struct buf	 cert;		/* client certificate, PEM */
	struct buf	 key;		/* its key, PEM */
	char		*token;		/* bearer token */
	char		*token_file;	/* re-read when it changes */
	long long	 token_read_ms;
	char		*ns;		/* the context's namespace, or NULL */
	char		*manager;	/* field manager: "hexabase" */
	long		 attempt_ms;	/* one attempt's timeout */
	long		 backoff_ms;	/* the first retry's delay */
	long		 backoff_max_ms;
	const struct logger *log;	/* retries are logged here; may be NULL */
	void		*curl;
	struct buf	 body;		/* the last answer */
	char		 retry_after[32];
};

const char	*k8s_reason_name(enum k8s_reason);

/*
 * Credentials.  `context` NULL means the current context.  `basedir` is
 * where relative file names in the kubeconfig are resolved (the file's own
 * directory for k8s_from_kubeconfig()).  0, or -1 with err (K8S_CONFIG).
 */
int	 k8s_from_kubeconfig(struct k8s *, const char *path,
	    const char *context, struct k8s_err *);
int	 k8s_from_kubeconfig_data(struct k8s *, const char *, size_t,
	    const char *basedir, const char *context, struct k8s_err *);
/*
 * The in-cluster service account: KUBERNETES_SERVICE_HOST and _PORT, and
 * token, ca.crt and namespace under `dir` (NULL: the standard
 * /var/run/secrets/kubernetes.io/serviceaccount).
 */
int	 k8s_from_service_account(struct k8s *, const char *dir,
	    struct k8s_err *);
void	 k8s_free(struct k8s *);

/*
 * Paths.  k8s_path() builds the path of a kind the table knows (the kinds
 * the control plane uses), for a namespace (NULL for cluster-scoped
 * kinds), a name (NULL: the collection) and a subresource (NULL, or
 * "status").  k8s_path_of() does the same from an object's apiVersion,
 * kind, metadata.namespace and metadata.name.  0, or -1 with err.
 */
int	 k8s_path(struct buf *, const char *api_version, const char *kind,
	    const char *ns, const char *name, const char *sub,
	    struct k8s_err *);
int	 k8s_path_of(struct buf *, const json_t *obj, bool collection,
	    const char *sub, struct k8s_err *);

/* GET an object (or, with a subresource path, its status). */
json_t	*k8s_get(struct k8s *, const char *path, long long deadline,
	    struct k8s_err *);
/*
 * One page of a list: `limit` items at most (0: the server's choice),
 * after the `cont` token (NULL: the first page); the List's
 * metadata.continue is the next page's token.  A stale token is K8S_GONE.
 */
json_t	*k8s_list(struct k8s *, const char *path, long limit,
	    const char *cont, long long deadline, struct k8s_err *);
/* The same, of the objects matching a label selector ("a=b,c"). */
json_t	*k8s_list_sel(struct k8s *, const char *path, const char *selector,
	    long limit, const char *cont, long long deadline,
	    struct k8s_err *);
/* DELETE; 0 if deleted or already gone. */
int	 k8s_delete(struct k8s *, const char *path, long long deadline,
	    struct k8s_err *);

struct k8s_apply_opts {
	const char	*manager;	/* NULL: the client's */
	bool		 no_force;	/* leave conflicts to the caller */
	bool		 dry_run;
	const char	*sub;		/* NULL, or "status" */
};
/*
 * Server-side apply: PATCH application/apply-patch+yaml with the object as
 * JSON, fieldManager and (unless no_force) force=true.  opts may be NULL.
 */
json_t	*k8s_apply(struct k8s *, const json_t *obj,
	    const struct k8s_apply_opts *, long long deadline,
	    struct k8s_err *);
/* POST: create only; an existing object is K8S_ALREADY_EXISTS. */
json_t	*k8s_create(struct k8s *, const json_t *obj, long long deadline,
	    struct k8s_err *);
/* The status subresource. */
json_t	*k8s_get_status(struct k8s *, const json_t *obj, long long deadline,
	    struct k8s_err *);
json_t	*k8s_apply_status(struct k8s *, const json_t *obj, long long deadline,
	    struct k8s_err *);

/*
 * The retry rule, exposed for the unit tests: whether an attempt's outcome
 * may be retried, and the delay before retry `n` (0-based) given a
 * Retry-After value in seconds (-1: none) and a random number.
 */
bool	 k8s_retryable(const struct k8s_err *);
long	 k8s_backoff(const struct k8s *, int n, long retry_after_s,
	    unsigned rnd);
/* Fill err from an answer's status code and body (a Status, or not). */
void	 k8s_err_from(struct k8s_err *, long code, const char *body,
	    size_t len);
/* "Invalid: ... (spec.x: Required value; ...)", for logs. */
void	 k8s_err_str(const struct k8s_err *, char *, size_t);

/*
 * Builders: new objects with apiVersion, kind and metadata (name,
 * namespace, and the label app.kubernetes.io/managed-by=hexabase), ready
 * for k8s_apply().  NULL when out of memory or an argument is missing.
 */
json_t	*k8s_namespace(const char *name, const json_t *labels);
json_t	*k8s_cluster_role(const char *name, const json_t *rules);
json_t	*k8s_role(const char *ns, const char *name, const json_t *rules);
/* A binding of a ClusterRole or Role to groups (a JSON array of names). */
json_t	*k8s_cluster_role_binding(const char *name, const char *cluster_role,
	    const json_t *groups);
json_t	*k8s_role_binding(const char *ns, const char *name,
	    const char *role_kind, const char *role, const json_t *groups);
/* `hard`: an object of resource name to quantity string. */
json_t	*k8s_resource_quota(const char *ns, const char *name,
	    const json_t *hard);
/* `limits`: the LimitRange's spec.limits array. */
json_t	*k8s_limit_range(const char *ns, const char *name,
	    const json_t *limits);
/*
 * Isolation of a namespace: every pod selected, ingress only from pods
 * of the same namespace and from namespaces labelled
 * `allow_label`=true (NULL: none).
 */
json_t	*k8s_network_policy_isolate(const char *ns, const char *name,
	    const char *allow_label);

struct k8s_helm_chart {
	const char	*ns;		/* where the HelmChart object lives */
	const char	*name;
	const char	*chart;
	const char	*repo;
	const char	*version;
	const char	*target_ns;
	bool		 create_ns;
	const char	*values;	/* valuesContent, YAML or JSON */
	const char	*timeout;	/* "10m" */
	int		 backoff_limit;	/* 0: the controller's default */
	const char	*failure_policy;	/* "reinstall", "abort" */
};
json_t	*k8s_helm_chart(const struct k8s_helm_chart *);

/*
 * A Secret's data[key], base64-decoded: a malloc'd buffer with a NUL
 * after the data, its length in *len; NULL if there is no such key or it
 * is not base64.  Secrets are only ever read, never built.
 */
unsigned char	*k8s_secret_value(const json_t *secret, const char *key,
		    size_t *len);

#endif
