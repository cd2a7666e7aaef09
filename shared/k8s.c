/*
 * k8s: see k8s.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "crypto.h"
#include "k8s.h"
#include "log.h"
#include "yaml.h"

#define K8S_BODY_MAX		(64 * 1024 * 1024)
#define K8S_FILE_MAX		(1024 * 1024)
#define K8S_TOKEN_REREAD_MS	60000
#define K8S_RETRY_AFTER_MAX_S	120
#define K8S_SA_DIR		"/var/run/secrets/kubernetes.io/serviceaccount"
#define K8S_MANAGED_BY		"app.kubernetes.io/managed-by"

static const char *const reason_names[] = {
	[K8S_OK] = "OK",
	[K8S_BAD_REQUEST] = "BadRequest",
	[K8S_UNAUTHORIZED] = "Unauthorized",
	[K8S_FORBIDDEN] = "Forbidden",
	[K8S_NOT_FOUND] = "NotFound",
	[K8S_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
	[K8S_NOT_ACCEPTABLE] = "NotAcceptable",
	[K8S_ALREADY_EXISTS] = "AlreadyExists",
	[K8S_CONFLICT] = "Conflict",
	[K8S_GONE] = "Gone",
	[K8S_INVALID] = "Invalid",
	[K8S_TOO_MANY_REQUESTS] = "TooManyRequests",
	[K8S_SERVER_ERROR] = "ServerError",
	[K8S_TIMEOUT] = "Timeout",
	[K8S_UNREACHABLE] = "Unreachable",
	[K8S_TLS] = "TLS",
	[K8S_PROTOCOL] = "Protocol",
	[K8S_CONFIG] = "Config",
	[K8S_OTHER] = "Other",
};

const char *
k8s_reason_name(enum k8s_reason r)
{
	if ((size_t)r < sizeof(reason_names) / sizeof(reason_names[0]))
		return reason_names[r];
	return "Other";
}

static void
seterr(struct k8s_err *err, enum k8s_reason r, long code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
seterr(struct k8s_err *err, enum k8s_reason r, long code, const char *fmt,
    ...)
{
	va_list	 ap;

	err->reason = r;
	err->code = code;
	err->status_reason[0] = '\0';
	err->ncauses = 0;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static void
err_clear(struct k8s_err *err)
{
	memset(err, 0, sizeof(*err));
}

static void
copy_str(char *dst, size_t n, const json_t *v)
{
	snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

void
k8s_err_from(struct k8s_err *err, long code, const char *body, size_t len)
{
	json_t		*st, *causes, *c;
	const char	*r;
	size_t		 i;

	err->code = code;
	err->status_reason[0] = '\0';
	err->message[0] = '\0';
	err->ncauses = 0;
	st = body != NULL && len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
	if (json_is_object(st) && json_is_string(json_object_get(st,
	    "kind")) && strcmp(json_string_value(json_object_get(st, "kind")),
	    "Status") == 0) {
		copy_str(err->status_reason, sizeof(err->status_reason),
		    json_object_get(st, "reason"));
		copy_str(err->message, sizeof(err->message),
		    json_object_get(st, "message"));
		causes = json_object_get(json_object_get(st, "details"),
		    "causes");
		json_array_foreach(causes, i, c) {
			if (err->ncauses == K8S_CAUSES_MAX)
				break;
			copy_str(err->causes[err->ncauses].type,
			    sizeof(err->causes[0].type),
			    json_object_get(c, "reason"));
			copy_str(err->causes[err->ncauses].field,
			    sizeof(err->causes[0].field),
			    json_object_get(c, "field"));
			copy_str(err->causes[err->ncauses].message,
			    sizeof(err->causes[0].message),
			    json_object_get(c, "message"));
			err->ncauses++;
		}
	} else if (code >= 400)
		snprintf(err->message, sizeof(err->message), "HTTP %ld from "
		    "the API server, not a Status", code);
	json_decref(st);
	r = err->status_reason;
	switch (code) {
	case 400:
		err->reason = K8S_BAD_REQUEST;
		break;
	case 401:
		err->reason = K8S_UNAUTHORIZED;
		break;
	case 403:
		err->reason = K8S_FORBIDDEN;
		break;
	case 404:
		err->reason = K8S_NOT_FOUND;
		break;
	case 405:
		err->reason = K8S_METHOD_NOT_ALLOWED;
		break;
	case 406:
	case 415:
		err->reason = K8S_NOT_ACCEPTABLE;
		break;
	case 409:
		err->reason = strcmp(r, "AlreadyExists") == 0 ?
		    K8S_ALREADY_EXISTS : K8S_CONFLICT;
		break;
	case 410:
		err->reason = K8S_GONE;
		break;
	case 422:
		err->reason = K8S_INVALID;
		break;
	case 429:
		err->reason = K8S_TOO_MANY_REQUESTS;
		break;
	default:
		if (code >= 500 && code <= 599)
			err->reason = K8S_SERVER_ERROR;
		else if (code >= 200 && code <= 299)
			err->reason = K8S_OK;
		else
			err->reason = K8S_OTHER;
		break;
	}
}

void
k8s_err_str(const struct k8s_err *err, char *out, size_t n)
{
	struct buf	 b = BUF_INIT(0);
	size_t		 i;

	buf_addf(&b, "%s", k8s_reason_name(err->reason));
	if (err->code != 0)
		buf_addf(&b, " (HTTP %ld)", err->code);
	if (err->message[0] != '\0')
		buf_addf(&b, ": %s", err->message);
	for (i = 0; i < err->ncauses; i++)
		buf_addf(&b, "%s%s: %s", i == 0 ? " [" : "; ",
		    err->causes[i].field, err->causes[i].message);
	if (err->ncauses > 0)
		buf_addch(&b, ']');
	snprintf(out, n, "%s", b.failed || b.data == NULL ? "?" : b.data);
	buf_release(&b);
}

bool
k8s_retryable(const struct k8s_err *err)
{
	switch (err->reason) {
	case K8S_TOO_MANY_REQUESTS:
	case K8S_SERVER_ERROR:
	case K8S_UNREACHABLE:
	case K8S_TIMEOUT:
		return true;
	default:
		return false;
	}
}

long
k8s_backoff(const struct k8s *c, int n, long retry_after_s, unsigned rnd)
{
	long	 d = clock_backoff_ms(c->backoff_ms, c->backoff_max_ms, n, rnd);

	if (retry_after_s >= 0) {
		if (retry_after_s > K8S_RETRY_AFTER_MAX_S)
			retry_after_s = K8S_RETRY_AFTER_MAX_S;
		if (retry_after_s * 1000 > d)
			d = retry_after_s * 1000;
	}
	return d;
}

/* Read a whole small file into b; 0, or -1 with err. */
static int
read_file(const char *path, struct buf *b, struct k8s_err *err)
{
	FILE	*f;
	char	 chunk[4096];
	size_t	 n;

	buf_reset(b);
	if ((f = fopen(path, "re")) == NULL) {
		seterr(err, K8S_CONFIG, 0, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(b, chunk, n);
	if (ferror(f) || b->failed) {
		fclose(f);
		seterr(err, K8S_CONFIG, 0, "%s: unreadable or over %d bytes",
		    path, K8S_FILE_MAX);
		return -1;
	}
	fclose(f);
	buf_addstr(b, "");	/* a C string even when empty */
	return 0;
}

static void
creds_init(struct k8s *c)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->ca, K8S_FILE_MAX);
	buf_init(&c->cert, K8S_FILE_MAX);
	buf_init(&c->key, K8S_FILE_MAX);
	buf_init(&c->body, K8S_BODY_MAX);
	c->manager = strdup("hexabase");
	c->attempt_ms = 30000;
	c->backoff_ms = 200;
	c->backoff_max_ms = 5000;
}

void
k8s_free(struct k8s *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->server);
	buf_release(&c->ca);
	if (c->key.data != NULL)
		explicit_bzero(c->key.data, c->key.len);
	buf_release(&c->cert);
	buf_release(&c->key);
	buf_release(&c->body);
	if (c->token != NULL)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	free(c->ns);
	free(c->manager);
	memset(c, 0, sizeof(*c));
}

/* A token file's content, trailing blanks cut; 0 or -1 with err. */
static int
token_load(struct k8s *c, struct k8s_err *err)
{
	struct buf	 b = BUF_INIT(K8S_FILE_MAX);
	int		 rc = -1;

	if (read_file(c->token_file, &b, err) == 0) {
		while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
		    b.data[b.len - 1] == '\r' || b.data[b.len - 1] == ' '))
			b.data[--b.len] = '\0';
		if (b.len == 0)
			seterr(err, K8S_CONFIG, 0, "%s: empty", c->token_file);
		else {
			if (c->token != NULL)
				explicit_bzero(c->token, strlen(c->token));
			free(c->token);
			c->token = b.data;
			b.data = NULL;
			c->token_read_ms = clock_ms();
			rc = 0;
		}
	}
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_release(&b);
	return rc;
}

static const char *
str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The entry called `name` in a kubeconfig list ("clusters", "users"). */
static const json_t *
named(const json_t *root, const char *list, const char *name, const char *in)
{
	const json_t	*e;
	size_t		 i;

	json_array_foreach(json_object_get(root, list), i, e) {
		const char *n = str_at(e, "name");

		if (n != NULL && strcmp(n, name) == 0)
			return json_object_get(e, in);
	}
	return NULL;
}

/* PEM material, from "<k>-data" (base64) or "<k>" (a file). */
static int
pem_from(const json_t *o, const char *k, const char *basedir, struct buf *out,
    struct k8s_err *err)
{
	char		 dk[64], path[4096];
	const char	*data, *file;
	unsigned char	*raw;
	size_t		 len;

	snprintf(dk, sizeof(dk), "%s-data", k);
	data = str_at(o, dk);
	file = str_at(o, k);
	if (data != NULL && file != NULL) {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: both %s and %s", dk, k);
		return -1;
	}
	if (data != NULL) {
		if ((raw = b64_decode(data, strlen(data), &len)) == NULL) {
			seterr(err, K8S_CONFIG, 0, "kubeconfig: %s is not "
			    "base64", dk);
			return -1;
		}
		buf_reset(out);
		buf_add(out, raw, len);
		buf_addstr(out, "");
		explicit_bzero(raw, len);
		free(raw);
		return out->failed ? -1 : 0;
	}
	if (file == NULL)
		return 0;
	if (file[0] == '/' || basedir == NULL)
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", basedir, file);
	return read_file(path, out, err);
}

/* Keys we do not follow, with why: each would weaken or bypass a check. */
static const char *const refused_cluster[] = {
	"insecure-skip-tls-verify", "proxy-url", NULL
};
static const char *const refused_user[] = {
	"exec", "auth-provider", "username", "password", "as", "as-groups",
	NULL
};

static int
refuse_keys(const json_t *o, const char *const *keys, const char *what,
    struct k8s_err *err)
{
	const json_t	*v;

	for (; *keys != NULL; keys++) {
		v = json_object_get(o, *keys);
		if (v == NULL || json_is_null(v) || (json_is_string(v) &&
		    strcmp(json_string_value(v), "false") == 0))
			continue;
		seterr(err, K8S_CONFIG, 0, "kubeconfig: the %s's \"%s\" is "
		    "not supported", what, *keys);
		return -1;
	}
	return 0;
}

static int
set_server(struct k8s *c, const char *server, struct k8s_err *err)
{
	size_t	 n;

	if (server == NULL || strncmp(server, "https://", 8) != 0 ||
	    server[8] == '\0') {
		seterr(err, K8S_CONFIG, 0, "the server must be an https URL");
		return -1;
	}
	free(c->server);
	if ((c->server = strdup(server)) == NULL) {
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return -1;
	}
	n = strlen(c->server);
	while (n > 8 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	return 0;
}

int
k8s_from_kubeconfig_data(struct k8s *c, const char *data, size_t len,
    const char *basedir, const char *context, struct k8s_err *err)
{
	char		 why[YAML_ERR_MAX];
	json_t		*root;
	const json_t	*ctx, *cl, *us;
	const char	*cname, *uname, *tok, *tfile, *ns;
	char		 path[4096];
	int		 rc = -1;

	creds_init(c);
	err_clear(err);
	if ((root = yaml_parse(data, len, why)) == NULL) {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: %s", why);
		goto out;
	}
	if (context == NULL)
		context = str_at(root, "current-context");
	if (context == NULL || *context == '\0') {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: no context chosen");
		goto out;
	}
	if ((ctx = named(root, "contexts", context, "context")) == NULL) {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: no context \"%s\"",
		    context);
		goto out;
	}
	cname = str_at(ctx, "cluster");
	uname = str_at(ctx, "user");
	if (cname == NULL || (cl = named(root, "clusters", cname,
	    "cluster")) == NULL) {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: the context's cluster "
		    "is missing");
		goto out;
	}
	us = uname != NULL ? named(root, "users", uname, "user") : NULL;
	if (uname != NULL && us == NULL) {
		seterr(err, K8S_CONFIG, 0, "kubeconfig: no user \"%s\"",
		    uname);
		goto out;
	}
	if (refuse_keys(cl, refused_cluster, "cluster", err) != 0 ||
	    (us != NULL && refuse_keys(us, refused_user, "user", err) != 0))
		goto out;
	if (set_server(c, str_at(cl, "server"), err) != 0 ||
	    pem_from(cl, "certificate-authority", basedir, &c->ca, err) != 0)
		goto out;
	if (us != NULL) {
		if (pem_from(us, "client-certificate", basedir, &c->cert,
		    err) != 0 || pem_from(us, "client-key", basedir, &c->key,
		    err) != 0)
			goto out;
		if ((c->cert.len == 0) != (c->key.len == 0)) {
			seterr(err, K8S_CONFIG, 0, "kubeconfig: a client "
			    "certificate needs its key, and a key its "
			    "certificate");
			goto out;
		}
		tok = str_at(us, "token");
		tfile = str_at(us, "tokenFile");
		if (tok != NULL && (c->token = strdup(tok)) == NULL)
			goto nomem;
		if (tok == NULL && tfile != NULL) {
			if (tfile[0] == '/' || basedir == NULL)
				snprintf(path, sizeof(path), "%s", tfile);
			else
				snprintf(path, sizeof(path), "%s/%s", basedir,
				    tfile);
			if ((c->token_file = strdup(path)) == NULL)
				goto nomem;
			if (token_load(c, err) != 0)
				goto out;
		}
	}
	if ((ns = str_at(ctx, "namespace")) != NULL &&
	    (c->ns = strdup(ns)) == NULL)
		goto nomem;
	rc = 0;
	goto out;
nomem:
	seterr(err, K8S_CONFIG, 0, "out of memory");
out:
	json_decref(root);
	if (rc != 0)
		k8s_free(c);
	return rc;
}

int
k8s_from_kubeconfig(struct k8s *c, const char *path, const char *context,
    struct k8s_err *err)
{
	struct buf	 b = BUF_INIT(K8S_FILE_MAX);
	char		 dir[4096], *slash;
	int		 rc;

	err_clear(err);
	if (read_file(path, &b, err) != 0) {
		buf_release(&b);
		creds_init(c);
		k8s_free(c);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	rc = k8s_from_kubeconfig_data(c, b.data, b.len, dir, context, err);
	explicit_bzero(b.data, b.len);
	buf_release(&b);
	return rc;
}

int
k8s_from_service_account(struct k8s *c, const char *dir, struct k8s_err *err)
{
	const char	*host = getenv("KUBERNETES_SERVICE_HOST");
	const char	*port = getenv("KUBERNETES_SERVICE_PORT");
	char		 url[512], path[4096];
	struct buf	 ns = BUF_INIT(K8S_FILE_MAX);

	creds_init(c);
	err_clear(err);
	if (dir == NULL)
		dir = K8S_SA_DIR;
	if (host == NULL || *host == '\0') {
		seterr(err, K8S_CONFIG, 0, "not in a cluster: "
		    "KUBERNETES_SERVICE_HOST is not set");
		goto fail;
	}
	if (port == NULL || *port == '\0')
		port = "443";
	snprintf(url, sizeof(url), strchr(host, ':') != NULL ?
	    "https://[%s]:%s" : "https://%s:%s", host, port);
	if (set_server(c, url, err) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	if (read_file(path, &c->ca, err) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/token", dir);
	if ((c->token_file = strdup(path)) == NULL || token_load(c, err) != 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/namespace", dir);
	if (read_file(path, &ns, err) == 0) {
		while (ns.len > 0 && (ns.data[ns.len - 1] == '\n' ||
		    ns.data[ns.len - 1] == ' '))
			ns.data[--ns.len] = '\0';
		c->ns = ns.len > 0 ? strdup(ns.data) : NULL;
	}
	buf_release(&ns);
	err_clear(err);
	return 0;
fail:
	buf_release(&ns);
	k8s_free(c);
	return -1;
}

/* Paths. */

struct kind {
	const char	*api_version;
	const char	*kind;
	const char	*resource;
	bool		 namespaced;
};

static const struct kind kinds[] = {
	{ "v1", "Namespace", "namespaces", false },
	{ "v1", "Secret", "secrets", true },
	{ "v1", "ConfigMap", "configmaps", true },
	{ "v1", "ServiceAccount", "serviceaccounts", true },
	{ "v1", "ResourceQuota", "resourcequotas", true },
	{ "v1", "LimitRange", "limitranges", true },
	{ "v1", "Pod", "pods", true },
	{ "apps/v1", "StatefulSet", "statefulsets", true },
	{ "apps/v1", "Deployment", "deployments", true },
	{ "batch/v1", "Job", "jobs", true },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles",
	    false },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
	    "clusterrolebindings", false },
	{ "rbac.authorization.k8s.io/v1", "Role", "roles", true },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings",
	    true },
	{ "networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true },
	{ "helm.cattle.io/v1", "HelmChart", "helmcharts", true },
	{ "apiextensions.k8s.io/v1", "CustomResourceDefinition",
	    "customresourcedefinitions", false },
};

/* Names as Kubernetes allows them in paths; never "." or "..". */
static bool
name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > 253 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == ':' || *s == '_'))
			return false;
	return true;
}

int
k8s_path(struct buf *b, const char *api_version, const char *kind,
    const char *ns, const char *name, const char *sub, struct k8s_err *err)
{
	const struct kind	*k = NULL;
	size_t			 i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (api_version != NULL && kind != NULL &&
		    strcmp(kinds[i].api_version, api_version) == 0 &&
		    strcmp(kinds[i].kind, kind) == 0)
			k = &kinds[i];
	if (k == NULL) {
		seterr(err, K8S_CONFIG, 0, "unknown kind %s %s",
		    api_version != NULL ? api_version : "?",
		    kind != NULL ? kind : "?");
		return -1;
	}
	if (k->namespaced != (ns != NULL) || (ns != NULL && !name_ok(ns)) ||
	    (name != NULL && !name_ok(name)) || (sub != NULL &&
	    (name == NULL || strcmp(sub, "status") != 0))) {
		seterr(err, K8S_CONFIG, 0, "a bad namespace, name or "
		    "subresource for a %s", kind);
		return -1;
	}
	buf_reset(b);
	buf_addstr(b, strchr(k->api_version, '/') != NULL ? "/apis/" : "/api/");
	buf_addstr(b, k->api_version);
	if (ns != NULL)
		buf_addf(b, "/namespaces/%s", ns);
	buf_addf(b, "/%s", k->resource);
	if (name != NULL)
		buf_addf(b, "/%s", name);
	if (sub != NULL)
		buf_addf(b, "/%s", sub);
	if (b->failed) {
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return -1;
	}
	return 0;
}

int
k8s_path_of(struct buf *b, const json_t *obj, bool collection,
    const char *sub, struct k8s_err *err)
{
	const json_t	*md = json_object_get(obj, "metadata");
	const char	*name = str_at(md, "name");

	if (!collection && name == NULL) {
		seterr(err, K8S_CONFIG, 0, "an object without metadata.name");
		return -1;
	}
	return k8s_path(b, str_at(obj, "apiVersion"), str_at(obj, "kind"),
	    str_at(md, "namespace"), collection ? NULL : name, sub, err);
}

/* Transport. */

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf	*b = arg;

	buf_add(b, p, size * n);
	return b->failed ? 0 : size * n;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct k8s	*c = arg;
	size_t		 len = size * n, i;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		p += 12;
		len -= 12;
		while (len > 0 && *p == ' ') {
			p++;
			len--;
		}
		for (i = 0; i < len && i < sizeof(c->retry_after) - 1 &&
		    p[i] >= '0' && p[i] <= '9'; i++)
			c->retry_after[i] = p[i];
		c->retry_after[i] = '\0';
	}
	return size * n;
}

static int
curl_setup(struct k8s *c, struct k8s_err *err)
{
	static bool	 global_done;
	struct curl_blob blob;
	CURL		*h;

	if (c->curl != NULL)
		return 0;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			seterr(err, K8S_CONFIG, 0, "curl_global_init failed");
			return -1;
		}
		global_done = true;
	}
	if ((h = curl_easy_init()) == NULL) {
		seterr(err, K8S_CONFIG, 0, "curl_easy_init failed");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hexabase");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	if (c->ca.len > 0) {
		/* This CA alone: not the system's as well. */
		blob.data = c->ca.data;
		blob.len = c->ca.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cert.len > 0) {
		blob.data = c->cert.data;
		blob.len = c->cert.len;
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		blob.data = c->key.data;
		blob.len = c->key.len;
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
	}
	c->curl = h;
	return 0;
}

static enum k8s_reason
curl_reason(CURLcode cc)
{
	switch (cc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CRL_BADFILE:
		return K8S_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return K8S_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return K8S_UNREACHABLE;
	case CURLE_WRITE_ERROR:
		return K8S_PROTOCOL;
	default:
		return K8S_OTHER;
	}
}

/* One attempt; 0 with a 2xx answer in c->body, or -1 with err. */
static int
attempt(struct k8s *c, const char *method, const char *url,
    const char *ctype, const char *body, long timeout_ms,
    struct k8s_err *err)
{
	struct curl_slist	*hl = NULL, *t;
	struct buf		 auth = BUF_INIT(0);
	CURLcode		 cc;
	CURL			*h = c->curl;
	long			 code = 0;
	bool			 ok = true;

	buf_reset(&c->body);
	c->retry_after[0] = '\0';
	if (c->token_file != NULL &&
	    clock_ms() - c->token_read_ms >= K8S_TOKEN_REREAD_MS &&
	    token_load(c, err) != 0)
		return -1;
	ok = (t = curl_slist_append(hl, "Accept: application/json")) != NULL;
	hl = ok ? t : hl;
	if (ok && ctype != NULL) {
		char line[128];

		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		ok = (t = curl_slist_append(hl, line)) != NULL;
		hl = ok ? t : hl;
	}
	if (ok && c->token != NULL) {
		buf_addf(&auth, "Authorization: Bearer %s", c->token);
		ok = !auth.failed &&
		    (t = curl_slist_append(hl, auth.data)) != NULL;
		hl = ok ? t : hl;
		explicit_bzero(auth.data, auth.len);
		buf_release(&auth);
	}
	if (!ok) {
		curl_slist_free_all(hl);
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (cc != CURLE_OK) {
		seterr(err, curl_reason(cc), 0, "%s %s: %s", method, url,
		    curl_easy_strerror(cc));
		if (cc == CURLE_WRITE_ERROR && c->body.failed)
			snprintf(err->message, sizeof(err->message), "%s %s: "
			    "an answer over %d bytes", method, url,
			    K8S_BODY_MAX);
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	k8s_err_from(err, code, c->body.data, c->body.len);
	return err->reason == K8S_OK ? 0 : -1;
}

/*
 * A call with the retry rule.  Returns the answer's JSON for a 2xx (NULL
 * answer with want_json false), or NULL with err.
 */
static json_t *
call(struct k8s *c, const char *method, const char *path, const char *query,
    const char *ctype, const char *body, bool want_json, long long deadline,
    struct k8s_err *err, int *rc)
{
	struct buf	 url = BUF_INIT(0);
	json_error_t	 je;
	json_t		*v = NULL;
	long long	 left;
	long		 delay, ra;
	unsigned	 rnd;
	char		 why[768];
	struct timespec	 ts;
	int		 n;

	*rc = -1;
	err_clear(err);
	if (c->server == NULL) {
		seterr(err, K8S_CONFIG, 0, "no credentials");
		return NULL;
	}
	if (curl_setup(c, err) != 0)
		return NULL;
	buf_addf(&url, "%s%s%s%s", c->server, path, query != NULL ? "?" : "",
	    query != NULL ? query : "");
	if (url.failed) {
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return NULL;
	}
	for (n = 0;; n++) {
		if ((left = deadline - clock_ms()) <= 0) {
			if (n == 0)
				seterr(err, K8S_TIMEOUT, 0, "%s %s: the deadline "
				    "had passed", method, path);
			else
				err->reason = K8S_TIMEOUT;
			break;
		}
		if (attempt(c, method, url.data, ctype, body,
		    left < c->attempt_ms ? (long)left : c->attempt_ms,
		    err) == 0) {
			err->attempts = n + 1;
			*rc = 0;
			if (!want_json)
				break;
			v = json_loadb(c->body.data != NULL ? c->body.data :
			    "", c->body.len, 0, &je);
			if (v == NULL) {
				seterr(err, K8S_PROTOCOL, 200, "%s %s: an "
				    "answer that is not JSON: %s", method,
				    path, je.text);
				*rc = -1;
			}
			break;
		}
		err->attempts = n + 1;
		if (!k8s_retryable(err))
			break;
		ra = c->retry_after[0] != '\0' ? atol(c->retry_after) : -1;
		if (crypto_random(&rnd, sizeof(rnd)) != 0)
			rnd = (unsigned)clock_ms();
		delay = k8s_backoff(c, n, ra, rnd);
		if (clock_ms() + delay >= deadline)
			break;	/* no time for another attempt: the last error */
		if (c->log != NULL) {
			k8s_err_str(err, why, sizeof(why));
			log_info(c->log, "k8s: %s %s: %s; retry %d in %ld ms",
			    method, path, why, n + 1, delay);
		}
		ts.tv_sec = delay / 1000;
		ts.tv_nsec = delay % 1000 * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	buf_release(&url);
	return v;
}

json_t *
k8s_get(struct k8s *c, const char *path, long long deadline,
    struct k8s_err *err)
{
	int	 rc;

	return call(c, "GET", path, NULL, NULL, NULL, true, deadline, err, &rc);
}

json_t *
k8s_list(struct k8s *c, const char *path, long limit, const char *cont,
    long long deadline, struct k8s_err *err)
{
	return k8s_list_sel(c, path, NULL, limit, cont, deadline, err);
}

/* Append "&name=<value, escaped>" (no '&' first); -1 out of memory. */
static int
query_add(struct k8s *c, struct buf *q, const char *name, const char *value,
    struct k8s_err *err)
{
	char	*esc;

	if (c->curl == NULL && curl_setup(c, err) != 0)
		return -1;
	if ((esc = curl_easy_escape(c->curl, value, 0)) == NULL) {
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return -1;
	}
	buf_addf(q, "%s%s=%s", q->len > 0 ? "&" : "", name, esc);
	curl_free(esc);
	return 0;
}

json_t *
k8s_list_sel(struct k8s *c, const char *path, const char *selector,
    long limit, const char *cont, long long deadline, struct k8s_err *err)
{
	struct buf	 q = BUF_INIT(0);
	json_t		*v;
	int		 rc;

	if (limit > 0)
		buf_addf(&q, "limit=%ld", limit);
	if ((selector != NULL && *selector != '\0' &&
	    query_add(c, &q, "labelSelector", selector, err) != 0) ||
	    (cont != NULL && *cont != '\0' &&
	    query_add(c, &q, "continue", cont, err) != 0)) {
		buf_release(&q);
		return NULL;
	}
	if (q.failed) {
		buf_release(&q);
		seterr(err, K8S_CONFIG, 0, "out of memory");
		return NULL;
	}
	v = call(c, "GET", path, q.len > 0 ? q.data : NULL, NULL, NULL, true,
	    deadline, err, &rc);
	buf_release(&q);
	return v;
}

int
k8s_delete(struct k8s *c, const char *path, long long deadline,
    struct k8s_err *err)
{
	int	 rc;

	(void)call(c, "DELETE", path, "propagationPolicy=Background", NULL,
	    NULL, false, deadline, err, &rc);
	if (rc != 0 && err->reason == K8S_NOT_FOUND) {
		err_clear(err);
		return 0;
	}
	return rc;
}

json_t *
k8s_apply(struct k8s *c, const json_t *obj, const struct k8s_apply_opts *o,
    long long deadline, struct k8s_err *err)
{
	struct k8s_apply_opts	 none = { NULL, false, false, NULL };
	struct buf		 path = BUF_INIT(0), q = BUF_INIT(0);
	json_t			*v = NULL;
	char			*body = NULL, *esc;
	int			 rc;

	err_clear(err);
	if (o == NULL)
		o = &none;
	if (curl_setup(c, err) != 0)
		return NULL;
	if (k8s_path_of(&path, obj, false, o->sub, err) != 0)
		goto out;
	if ((esc = curl_easy_escape(c->curl, o->manager != NULL ? o->manager :
	    c->manager, 0)) == NULL)
		goto nomem;
	buf_addf(&q, "fieldManager=%s%s%s", esc, o->no_force ? "" :
	    "&force=true", o->dry_run ? "&dryRun=All" : "");
	curl_free(esc);
	if (q.failed || (body = json_dumps(obj, JSON_COMPACT)) == NULL)
		goto nomem;
	v = call(c, "PATCH", path.data, q.data, "application/apply-patch+yaml",
	    body, true, deadline, err, &rc);
	goto out;
nomem:
	seterr(err, K8S_CONFIG, 0, "out of memory");
out:
	free(body);
	buf_release(&path);
	buf_release(&q);
	return v;
}

json_t *
k8s_create(struct k8s *c, const json_t *obj, long long deadline,
    struct k8s_err *err)
{
	struct buf	 path = BUF_INIT(0);
	json_t		*v = NULL;
	char		*body = NULL;
	int		 rc;

	err_clear(err);
	if (k8s_path_of(&path, obj, true, NULL, err) != 0)
		goto out;
	if ((body = json_dumps(obj, JSON_COMPACT)) == NULL) {
		seterr(err, K8S_CONFIG, 0, "out of memory");
		goto out;
	}
	v = call(c, "POST", path.data, NULL, "application/json", body, true,
	    deadline, err, &rc);
out:
	free(body);
	buf_release(&path);
	return v;
}

json_t *
k8s_get_status(struct k8s *c, const json_t *obj, long long deadline,
    struct k8s_err *err)
{
	struct buf	 path = BUF_INIT(0);
	json_t		*v = NULL;

	err_clear(err);
	if (k8s_path_of(&path, obj, false, "status", err) == 0)
		v = k8s_get(c, path.data, deadline, err);
	buf_release(&path);
	return v;
}

json_t *
k8s_apply_status(struct k8s *c, const json_t *obj, long long deadline,
    struct k8s_err *err)
{
	struct k8s_apply_opts	 o = { NULL, false, false, "status" };

	return k8s_apply(c, obj, &o, deadline, err);
}

/* Builders. */

static json_t *
object(const char *api_version, const char *kind, const char *name)
{
	if (name == NULL || *name == '\0')
		return NULL;
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion",
	    api_version, "kind", kind, "metadata", "name", name, "labels",
	    K8S_MANAGED_BY, "hexabase");
}

static json_t *
namespaced(const char *api_version, const char *kind, const char *ns,
    const char *name)
{
	json_t	*o;

	if (ns == NULL || *ns == '\0')
		return NULL;
	if ((o = object(api_version, kind, name)) != NULL &&
	    json_object_set_new(json_object_get(o, "metadata"), "namespace",
	    json_string(ns)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Set o[k] to a deep copy of v; on failure o is released. */
static json_t *
with(json_t *o, const char *k, const json_t *v)
{
	if (o != NULL && (v == NULL || json_object_set_new(o, k,
	    json_deep_copy(v)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
k8s_namespace(const char *name, const json_t *labels)
{
	json_t		*o = object("v1", "Namespace", name), *l;
	const char	*k;
	json_t		*v;

	if (o == NULL || labels == NULL)
		return o;
	l = json_object_get(json_object_get(o, "metadata"), "labels");
	json_object_foreach((json_t *)labels, k, v)
		if (!json_is_string(v) || json_object_set(l, k, v) != 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

json_t *
k8s_cluster_role(const char *name, const json_t *rules)
{
	return with(object("rbac.authorization.k8s.io/v1", "ClusterRole",
	    name), "rules", rules);
}

json_t *
k8s_role(const char *ns, const char *name, const json_t *rules)
{
	return with(namespaced("rbac.authorization.k8s.io/v1", "Role", ns,
	    name), "rules", rules);
}

/* The subjects of a binding: one Group each. */
static json_t *
group_subjects(const json_t *groups)
{
	json_t		*a = json_array(), *g;
	size_t		 i;

	if (a == NULL || !json_is_array(groups))
		goto fail;
	json_array_foreach(groups, i, g)
		if (!json_is_string(g) || json_array_append_new(a,
		    json_pack("{s:s, s:s, s:O}", "kind", "Group", "apiGroup",
		    "rbac.authorization.k8s.io", "name", g)) != 0)
			goto fail;
	return a;
fail:
	json_decref(a);
	return NULL;
}

static json_t *
binding(json_t *o, const char *role_kind, const char *role,
    const json_t *groups)
{
	json_t	*subjects;

	if (o == NULL)
		return NULL;
	if (role == NULL || role_kind == NULL || (strcmp(role_kind, "Role") !=
	    0 && strcmp(role_kind, "ClusterRole") != 0) ||
	    (subjects = group_subjects(groups)) == NULL) {
		json_decref(o);
		return NULL;
	}
	if (json_object_set_new(o, "roleRef", json_pack("{s:s, s:s, s:s}",
	    "apiGroup", "rbac.authorization.k8s.io", "kind", role_kind,
	    "name", role)) != 0 || json_object_set_new(o, "subjects",
	    subjects) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
k8s_cluster_role_binding(const char *name, const char *cluster_role,
    const json_t *groups)
{
	return binding(object("rbac.authorization.k8s.io/v1",
	    "ClusterRoleBinding", name), "ClusterRole", cluster_role,
	    groups);
}

json_t *
k8s_role_binding(const char *ns, const char *name, const char *role_kind,
    const char *role, const json_t *groups)
{
	return binding(namespaced("rbac.authorization.k8s.io/v1",
	    "RoleBinding", ns, name), role_kind, role, groups);
}

/* o with spec {k: v}; v NULL (a wrong type) or a failure releases o. */
static json_t *
with_spec(json_t *o, const char *k, const json_t *v)
{
	if (o != NULL && (v == NULL || json_object_set_new(o, "spec",
	    json_pack("{s:O}", k, v)) != 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
k8s_resource_quota(const char *ns, const char *name, const json_t *hard)
{
	return with_spec(namespaced("v1", "ResourceQuota", ns, name), "hard",
	    json_is_object(hard) ? hard : NULL);
}

json_t *
k8s_limit_range(const char *ns, const char *name, const json_t *limits)
{
	return with_spec(namespaced("v1", "LimitRange", ns, name), "limits",
	    json_is_array(limits) ? limits : NULL);
}

json_t *
k8s_network_policy_isolate(const char *ns, const char *name,
    const char *allow_label)
{
	json_t	*o = namespaced("networking.k8s.io/v1", "NetworkPolicy", ns,
		    name);
	json_t	*from;

	if (o == NULL)
		return NULL;
	from = json_pack("[{s:{}}]", "podSelector");
	if (from != NULL && allow_label != NULL)
		json_array_append_new(from, json_pack("{s:{s:{s:s}}}",
		    "namespaceSelector", "matchLabels", allow_label, "true"));
	if (from == NULL || json_array_size(from) != (allow_label ? 2u : 1u) ||
	    json_object_set_new(o, "spec", json_pack("{s:{}, s:[s], s:[{s:o}]}",
	    "podSelector", "policyTypes", "Ingress", "ingress", "from",
	    from)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
k8s_helm_chart(const struct k8s_helm_chart *h)
{
	json_t	*o = namespaced("helm.cattle.io/v1", "HelmChart", h->ns,
		    h->name);
	json_t	*spec = json_object();
	int	 bad = 0;

	if (o == NULL || spec == NULL || h->chart == NULL) {
		json_decref(o);
		json_decref(spec);
		return NULL;
	}
#define SET_STR(k, v)	if ((v) != NULL) \
		bad |= json_object_set_new(spec, (k), json_string(v))
	SET_STR("chart", h->chart);
	SET_STR("repo", h->repo);
	SET_STR("version", h->version);
	SET_STR("targetNamespace", h->target_ns);
	SET_STR("valuesContent", h->values);
	SET_STR("timeout", h->timeout);
	SET_STR("failurePolicy", h->failure_policy);
#undef SET_STR
	if (h->create_ns)
		bad |= json_object_set_new(spec, "createNamespace",
		    json_true());
	if (h->backoff_limit > 0)
		bad |= json_object_set_new(spec, "backOffLimit",
		    json_integer(h->backoff_limit));
	bad |= json_object_set_new(o, "spec", spec);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

unsigned char *
k8s_secret_value(const json_t *secret, const char *key, size_t *len)
{
	const char	*v = str_at(json_object_get(secret, "data"), key);

	if (v == NULL)
		return NULL;
	return b64_decode(v, strlen(v), len);
}
