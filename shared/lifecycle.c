/*
 * lifecycle: the steps of the workspace lifecycle; see lifecycle.h.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "app.h"
#include "clock.h"
#include "crypto.h"
#include "id.h"
#include "lifecycle.h"

#define CALL_MS		20000	/* one Kubernetes call, retries included */
#define POLL_MS		500	/* between looks while waiting */
#define LIST_PAGE	500
#define HASH_ANNOTATION	"hexabase.ai/config-hash"
#define HELM_HASH	"helmcharts.helm.cattle.io/configHash"
#define CA_CONFIGMAP	"hxb-oidc-ca"
#define CA_MOUNT	"/var/run/hexabase/oidc"

static const struct db_stmt st_progress = { "lc_progress",
    "SELECT hxb_task_progress($1, $2, $3, $4::integer, $5::integer, $6)",
    6 };
static const struct db_stmt st_desired = { "lc_desired",
    "SELECT hxb_ws_desired($1)::text", 1 };

/* What a vCluster's objects may be, for pruning: listed by label. */
static const struct {
	const char	*api_version;
	const char	*kind;
	const char	*list;		/* every namespace at once */
	bool		 namespaced;
} kinds[] = {
	{ "rbac.authorization.k8s.io/v1", "RoleBinding",
	    "/apis/rbac.authorization.k8s.io/v1/rolebindings", true },
	{ "rbac.authorization.k8s.io/v1", "Role",
	    "/apis/rbac.authorization.k8s.io/v1/roles", true },
	{ "v1", "ResourceQuota", "/api/v1/resourcequotas", true },
	{ "v1", "LimitRange", "/api/v1/limitranges", true },
	{ "networking.k8s.io/v1", "NetworkPolicy",
	    "/apis/networking.k8s.io/v1/networkpolicies", true },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
	    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", false },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole",
	    "/apis/rbac.authorization.k8s.io/v1/clusterroles", false },
	{ "v1", "Namespace", "/api/v1/namespaces", false },
};

/* ---- errors and progress -------------------------------------------------- */

/*
 * The deadline of one Kubernetes call, its retries included: CALL_MS,
 * and never more than a third of the lease, so that the worker renews
 * its lease (and in-progress ack) before its request is delivered to
 * another.
 */
static long long
until(const struct lc_task *t)
{
	long long	 ms = t->lc->lease_s * 1000 / 3;

	return clock_ms() + (ms < CALL_MS ? ms : CALL_MS);
}

void
lc_fault_point(const char *point)
{
#ifdef HXB_TEST_FAULTS
	const char	*at = getenv("HXB_TEST_STOP_AT");

	if (at != NULL && strcmp(at, point) == 0)
		raise(SIGSTOP);
#else
	(void)point;
#endif
}

static void
fail(struct lc_task *t, bool permanent, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	t->permanent = permanent;
}

/*
 * Errors Kubernetes gives for the request itself: trying again changes
 * nothing.  The rest (unreachable, 5xx, 429, timeouts, a missing CRD)
 * may pass.
 */
static bool
k8s_permanent(const struct k8s_err *e)
{
	switch (e->reason) {
	case K8S_BAD_REQUEST:
	case K8S_INVALID:
	case K8S_FORBIDDEN:
	case K8S_METHOD_NOT_ALLOWED:
	case K8S_NOT_ACCEPTABLE:
	case K8S_CONFIG:
		return true;
	default:
		return false;
	}
}

static int
kfail(struct lc_task *t, const char *what, const struct k8s_err *e)
{
	char	 why[768];

	k8s_err_str(e, why, sizeof(why));
	fail(t, k8s_permanent(e), "%s: %s", what, why);
	return -1;
}

static int
progress(struct lc_task *t, const char *step, int pct)
{
	struct app	*app = t->lc->app;
	const char	*params[6];
	char		 p[16], lease[16];
	PGresult	*res;
	bool		 ours;

	if (step != t->step)
		snprintf(t->step, sizeof(t->step), "%s", step);
	t->alive_ms = clock_ms();
	if (t->keepalive != NULL && t->keepalive(t->keepalive_arg) != 0)
		log_warn(&app->log, "task %s: in-progress ack failed",
		    t->task_id);
	if (t->task_id == NULL)
		return 0;
	t->pct = pct;
	snprintf(p, sizeof(p), "%d", pct);
	snprintf(lease, sizeof(lease), "%ld", t->lc->lease_s);
	params[0] = t->task_id;
	params[1] = t->lc->worker_id;
	params[2] = t->step;
	params[3] = p;
	params[4] = lease;
	params[5] = t->note;
	db_request_begin(&app->db);
	if ((res = db_exec(&app->db, &st_progress, params)) == NULL) {
		fail(t, false, "recording progress: %s", app->db.errmsg);
		return -1;
	}
	ours = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!ours) {
		t->lost = true;
		fail(t, false, "the task's lease went to another worker");
		return -1;
	}
	if (step == t->step)
		return 0;	/* a renewal, not a new step */
	lc_fault_point(t->step);
	return 0;
}

/* While waiting: renew the lease a few times per ack wait. */
static int
alive(struct lc_task *t, int pct)
{
	if (app_stopping()) {
		fail(t, false, "the worker is stopping");
		return -1;
	}
	if (clock_ms() - t->alive_ms < t->lc->lease_s * 1000 / 4)
		return 0;
	return progress(t, t->step, pct);
}

/*
 * After a failed call: true if the caller should make it again.  An API
 * that is away is waited out for HXB_WORKER_OUTAGE_S within the attempt
 * (each call has already retried with backoff for its deadline), the
 * lease renewed and the error noted on the task, so that a restart of
 * the API server does not spend the task's attempts in seconds.
 */
static bool
again(struct lc_task *t, const struct k8s_err *e, const char *what)
{
	char	 why[768], note[1024];

	/* Away or overloaded (k8s_retryable()), not refused. */
	if (!k8s_retryable(e) || app_stopping())
		return false;
	if (t->outage_until == 0)
		t->outage_until = clock_ms() + config_int(&t->lc->app->cfg,
		    CFG_WORKER_OUTAGE_S) * 1000;
	if (clock_ms() >= t->outage_until)
		return false;
	k8s_err_str(e, why, sizeof(why));
	snprintf(note, sizeof(note), "%s: %s (retrying)", what, why);
	t->note = note;
	t->alive_ms = 0;		/* renew now, with the note */
	if (alive(t, t->pct) != 0) {
		t->note = NULL;
		return false;
	}
	t->note = NULL;
	usleep(POLL_MS * 1000);
	return true;
}

/* ---- the request ---------------------------------------------------------- */

int
lc_init(struct lc *lc, struct app *app, const char *host)
{
	const char	*kc = config_str(&app->cfg, CFG_HOST_KUBECONFIG);
	const char	*ca = config_str(&app->cfg, CFG_ISSUER_CA_FILE);
	struct k8s_err	 err;
	FILE		*f;
	char		 chunk[4096];
	size_t		 n;

	memset(lc, 0, sizeof(*lc));
	lc->app = app;
	buf_init(&lc->issuer_ca, 64 * 1024);
	snprintf(lc->worker_id, sizeof(lc->worker_id), "%s:%ld", host,
	    (long)getpid());
	lc->lease_s = (config_int(&app->cfg, CFG_WORKER_ACK_WAIT_MS) + 999) /
	    1000;
	if ((kc != NULL ? k8s_from_kubeconfig(&lc->host, kc, NULL, &err) :
	    k8s_from_service_account(&lc->host, NULL, &err)) != 0) {
		log_error(&app->log, "the host cluster (%s): %s", kc != NULL ?
		    kc : "service account", err.message);
		return -1;
	}
	lc->host.log = &app->log;
	if (ca != NULL) {
		if ((f = fopen(ca, "r")) == NULL) {
			log_error(&app->log, "HXB_ISSUER_CA_FILE %s: cannot "
			    "read it", ca);
			return -1;
		}
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			buf_add(&lc->issuer_ca, chunk, n);
		fclose(f);
		if (lc->issuer_ca.failed || lc->issuer_ca.len == 0 ||
		    strstr(lc->issuer_ca.data, "-----BEGIN CERTIFICATE-----") ==
		    NULL) {
			log_error(&app->log, "HXB_ISSUER_CA_FILE %s: not a PEM "
			    "certificate", ca);
			return -1;
		}
	}
	return 0;
}

void
lc_fini(struct lc *lc)
{
	k8s_free(&lc->host);
	buf_release(&lc->issuer_ca);
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The workspace's names on the host, once its ids are checked; 0 or -1. */
static int
names(struct lc_task *t)
{
	if (t->ws_id == NULL || t->org_id == NULL ||
	    !id_valid(t->ws_id, ID_WS) || !id_valid(t->org_id, ID_ORG))
		return -1;
	snprintf(t->ns, sizeof(t->ns), "hxb-%s", t->ws_id);
	snprintf(t->release, sizeof(t->release), "%s", t->ws_id);
	return 0;
}

int
lc_task_init(struct lc_task *t, struct lc *lc, const json_t *req)
{
	memset(t, 0, sizeof(*t));
	t->lc = lc;
	t->req = req;
	t->task_id = str(req, "task_id");
	t->type = str(req, "type");
	t->ws_id = str(req, "workspace_id");
	t->org_id = str(req, "organization_id");
	t->request_id = str(req, "request_id");
	if (t->task_id == NULL || t->type == NULL ||
	    !id_valid(t->task_id, ID_TASK))
		return -1;
	return names(t);
}

int
lc_task_drift(struct lc_task *t, struct lc *lc, const char *ws_id,
    const char *org_id)
{
	memset(t, 0, sizeof(*t));
	t->lc = lc;
	t->type = "rbac_sync";
	t->ws_id = ws_id;
	t->org_id = org_id;
	return names(t);
}

void
lc_task_free(struct lc_task *t)
{
	json_decref(t->desired);
	t->desired = NULL;
}

static int
read_desired(struct lc_task *t)
{
	struct app	*app = t->lc->app;
	const char	*params[1] = { t->ws_id };
	PGresult	*res;
	json_error_t	 jerr;

	if (t->desired != NULL)
		return 0;
	db_request_begin(&app->db);
	if ((res = db_exec(&app->db, &st_desired, params)) == NULL) {
		fail(t, false, "reading the workspace: %s", app->db.errmsg);
		return -1;
	}
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		fail(t, true, "the workspace %s does not exist", t->ws_id);
		return -1;
	}
	t->desired = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
	PQclear(res);
	if (t->desired == NULL) {
		fail(t, false, "reading the workspace: %s", jerr.text);
		return -1;
	}
	return 0;
}

static const json_t *
plan(const struct lc_task *t)
{
	return json_object_get(json_object_get(t->desired, "workspace"),
	    "plan");
}

static long long
plan_int(const struct lc_task *t, const char *k)
{
	return json_integer_value(json_object_get(plan(t), k));
}

/* ---- answers --------------------------------------------------------------- */

/*
 * Publish hexabase.app.workspace.<event> for the task, with `extra`
 * merged in (stolen); its Nats-Msg-Id is task:event, so a repeated
 * answer inside the duplicate window is dropped by JetStream, and
 * hxb_ws_answer() takes a later one as a duplicate.
 */
static int
answer(struct lc_task *t, const char *event, json_t *extra)
{
	struct app	*app = t->lc->app;
	char		 subject[128], msgid[128], now[32];
	char		*data;
	json_t		*o;
	struct timespec	 ts;
	struct tm	 tm;
	int		 rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
	    "event", event, "task_id", t->task_id, "type", t->type,
	    "workspace_id", t->ws_id, "organization_id", t->org_id,
	    "request_id", t->request_id != NULL ? t->request_id : "",
	    "attempt", t->attempt, "occurred_at", now);
	if (o == NULL) {
		json_decref(extra);
		fail(t, false, "out of memory");
		return -1;
	}
	if (json_object_get(t->req, "tier") != NULL)
		json_object_set(o, "tier", json_object_get(t->req, "tier"));
	if (json_object_get(t->req, "isolation") != NULL)
		json_object_set(o, "isolation",
		    json_object_get(t->req, "isolation"));
	if (extra != NULL)
		json_object_update(o, extra);
	json_decref(extra);
	data = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (data == NULL) {
		fail(t, false, "out of memory");
		return -1;
	}
	snprintf(subject, sizeof(subject), "hexabase.app.workspace.%s", event);
	snprintf(msgid, sizeof(msgid), "%s:%s", t->task_id, event);
	rc = bus_publish(&app->bus, subject, data, strlen(data),
	    t->request_id, msgid);
	free(data);
	if (rc != 0)
		fail(t, false, "publishing %s: %s", subject, app->bus.errmsg);
	return rc;
}

int
lc_answer_failure(struct lc_task *t)
{
	const char	*ev;

	if (strcmp(t->type, "create_workspace") == 0)
		ev = "provision_failed";
	else if (strcmp(t->type, "delete_workspace") == 0)
		ev = "deprovision_failed";
	else if (strcmp(t->type, "update_workspace") == 0)
		ev = "update_failed";
	else if (strcmp(t->type, "suspend_workspace") == 0)
		ev = "suspend_failed";
	else if (strcmp(t->type, "resume_workspace") == 0)
		ev = "resume_failed";
	else
		ev = "sync_failed";
	return answer(t, ev, json_pack("{s:s, s:s}", "error", t->err,
	    "step", t->step));
}

/* ---- Kubernetes helpers ---------------------------------------------------- */

static json_t *
labels(const struct lc_task *t)
{
	json_t	*l = json_pack("{s:s, s:s, s:s}", LC_LABEL_MANAGED,
		    LC_MANAGED_BY, "hexabase.ai/workspace", t->ws_id,
		    "hexabase.ai/organization", t->org_id);
	const char *tier = str(plan(t), "id");
	const char *iso = str(plan(t), "isolation");

	if (l != NULL && tier != NULL)
		json_object_set_new(l, "hexabase.ai/tier", json_string(tier));
	if (l != NULL && iso != NULL)
		json_object_set_new(l, "hexabase.ai/isolation",
		    json_string(iso));
	return l;
}

/* Set metadata.labels (stolen) on obj; obj returned, or NULL. */
static json_t *
labelled(json_t *obj, json_t *l)
{
	json_t	*md = json_object_get(obj, "metadata");

	if (obj == NULL || l == NULL || md == NULL ||
	    json_object_set_new(md, "labels", l) != 0) {
		json_decref(obj);
		json_decref(l);
		return NULL;
	}
	return obj;
}

/* Server-side apply; the answer (new reference) or NULL with err set. */
static json_t *
apply(struct lc_task *t, struct k8s *c, json_t *obj, const char *what)
{
	struct k8s_err	 e;
	json_t		*v;

	if (obj == NULL) {
		fail(t, false, "%s: out of memory", what);
		return NULL;
	}
	while ((v = k8s_apply(c, obj, NULL, until(t), &e)) == NULL &&
	    again(t, &e, what))
		;
	json_decref(obj);
	if (v == NULL)
		kfail(t, what, &e);
	else
		t->outage_until = 0;
	return v;
}

static int
apply0(struct lc_task *t, struct k8s *c, json_t *obj, const char *what)
{
	json_t	*v = apply(t, c, obj, what);

	json_decref(v);
	return v != NULL ? 0 : -1;
}

/* GET: the object; NULL with *gone if it is not there, or with err set. */
static json_t *
get(struct lc_task *t, struct k8s *c, const char *api, const char *kind,
    const char *ns, const char *name, bool *gone, const char *what)
{
	struct buf	 p = BUF_INIT(0);
	struct k8s_err	 e;
	json_t		*v = NULL;

	*gone = false;
	if (k8s_path(&p, api, kind, ns, name, NULL, &e) != 0) {
		buf_release(&p);
		kfail(t, what, &e);
		return NULL;
	}
	while ((v = k8s_get(c, p.data, until(t), &e)) == NULL &&
	    e.reason != K8S_NOT_FOUND && again(t, &e, what))
		;
	buf_release(&p);
	if (v == NULL) {
		if (e.reason == K8S_NOT_FOUND)
			*gone = true;
		else
			kfail(t, what, &e);
	}
	if (v != NULL || *gone)
		t->outage_until = 0;
	return v;
}

static int
del(struct lc_task *t, struct k8s *c, const char *api, const char *kind,
    const char *ns, const char *name, const char *what)
{
	struct buf	 p = BUF_INIT(0);
	struct k8s_err	 e;
	int		 rc;

	if (k8s_path(&p, api, kind, ns, name, NULL, &e) != 0) {
		buf_release(&p);
		return kfail(t, what, &e);
	}
	while ((rc = k8s_delete(c, p.data, until(t), &e)) != 0 &&
	    again(t, &e, what))
		;
	buf_release(&p);
	if (rc == 0)
		t->outage_until = 0;
	return rc == 0 ? 0 : kfail(t, what, &e);
}

static bool
condition(const json_t *obj, const char *type, const char *status)
{
	const json_t	*c;
	size_t		 i;

	json_array_foreach(json_object_get(json_object_get(obj, "status"),
	    "conditions"), i, c) {
		const char *ty = str(c, "type"), *st = str(c, "status");

		if (ty != NULL && st != NULL && strcmp(ty, type) == 0 &&
		    strcmp(st, status) == 0)
			return true;
	}
	return false;
}

static const char *
annotation(const json_t *meta, const char *k)
{
	return str(json_object_get(meta, "annotations"), k);
}

/* ---- the vCluster's HelmChart ------------------------------------------------ */

static json_t *
quantity_map(const struct lc_task *t)
{
	char	 cpu[32], mem[32], sto[32], pods[32], svc[32], pvc[32];

	snprintf(cpu, sizeof(cpu), "%lldm", plan_int(t, "cpu_millicores"));
	snprintf(mem, sizeof(mem), "%lldMi", plan_int(t, "memory_mib"));
	snprintf(sto, sizeof(sto), "%lldGi", plan_int(t, "storage_gib"));
	snprintf(pods, sizeof(pods), "%lld", plan_int(t, "max_pods"));
	snprintf(svc, sizeof(svc), "%lld", plan_int(t, "max_services"));
	snprintf(pvc, sizeof(pvc), "%lld", plan_int(t, "max_pvcs"));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "requests.cpu", cpu, "limits.cpu", cpu, "requests.memory", mem,
	    "limits.memory", mem, "requests.storage", sto, "count/pods", pods,
	    "count/services", svc, "count/persistentvolumeclaims", pvc);
}

/* The host part of an https URL, for the API server's certificate. */
static void
url_host(const char *url, char *out, size_t n)
{
	const char	*p = strstr(url, "://");
	size_t		 len;

	p = p != NULL ? p + 3 : url;
	len = strcspn(p, ":/");
	snprintf(out, n, "%.*s", (int)len, p);
}

/* The public URL of the workspace's API server, or "" if not set. */
static void
public_url(const struct lc_task *t, char *out, size_t n)
{
	const char	*tmpl = config_str(&t->lc->app->cfg, CFG_VCLUSTER_URL);
	const char	*p;
	struct buf	 b = BUF_INIT(0);

	out[0] = '\0';
	if (tmpl == NULL)
		return;
	while ((p = strstr(tmpl, "{ws}")) != NULL) {
		buf_add(&b, tmpl, (size_t)(p - tmpl));
		buf_addstr(&b, t->ws_id);
		tmpl = p + 4;
	}
	buf_addstr(&b, tmpl);
	if (!b.failed)
		snprintf(out, n, "%s", b.data);
	buf_release(&b);
}

/*
 * The chart's values, from the plan: OIDC on the virtual API server,
 * quotas and policies, dedicated nodes for bridge and silo, and the
 * config hash on the control plane's pods (so that ready pods prove the
 * current values were rolled out).
 */
static json_t *
chart_values(const struct lc_task *t, const char *hash)
{
	const struct config *cfg = &t->lc->app->cfg;
	const char	*iso = str(plan(t), "isolation");
	const char	*uprefix = config_str(cfg, CFG_OIDC_USERNAME_PREFIX);
	const char	*gprefix = config_str(cfg, CFG_OIDC_GROUPS_PREFIX);
	json_t		*args, *v, *ss, *cp;
	char		 a[512], url[512], host[256], toleration[128];
	bool		 dedicated = iso != NULL && strcmp(iso, "pool") != 0;

	args = json_array();
	snprintf(a, sizeof(a), "--oidc-issuer-url=%s",
	    config_str(cfg, CFG_ISSUER));
	json_array_append_new(args, json_string(a));
	snprintf(a, sizeof(a), "--oidc-client-id=%s", t->ws_id);
	json_array_append_new(args, json_string(a));
	json_array_append_new(args, json_string("--oidc-username-claim=sub"));
	snprintf(a, sizeof(a), "--oidc-username-prefix=%s",
	    uprefix != NULL ? uprefix : "-");
	json_array_append_new(args, json_string(a));
	json_array_append_new(args, json_string("--oidc-groups-claim=groups"));
	if (gprefix != NULL) {
		snprintf(a, sizeof(a), "--oidc-groups-prefix=%s", gprefix);
		json_array_append_new(args, json_string(a));
	}
	json_array_append_new(args, json_string("--oidc-signing-algs=RS256"));
	if (t->lc->issuer_ca.len > 0)
		json_array_append_new(args,
		    json_string("--oidc-ca-file=" CA_MOUNT "/ca.crt"));

	ss = json_pack("{s:{s:{s:s}, s:{s:s}}}", "pods", "annotations",
	    HASH_ANNOTATION, hash, "labels", "hexabase.ai/workspace",
	    t->ws_id);
	if (t->lc->issuer_ca.len > 0)
		json_object_set_new(ss, "persistence", json_pack(
		    "{s:[{s:s, s:{s:s}}], s:[{s:s, s:s, s:b}]}",
		    "addVolumes", "name", "hxb-oidc-ca", "configMap", "name",
		    CA_CONFIGMAP, "addVolumeMounts", "name", "hxb-oidc-ca",
		    "mountPath", CA_MOUNT, "readOnly", 1));
	snprintf(toleration, sizeof(toleration), "dedicated=%s:NoSchedule",
	    t->ws_id);
	if (dedicated)
		json_object_set_new(ss, "scheduling", json_pack(
		    "{s:{s:s}, s:[{s:s, s:s, s:s, s:s}]}", "nodeSelector",
		    "hexabase.ai/node-pool", t->ws_id, "tolerations", "key",
		    "dedicated", "operator", "Equal", "value", t->ws_id,
		    "effect", "NoSchedule"));
	cp = json_pack("{s:{s:{s:b, s:{s:o}}}, s:o}", "distro", "k8s",
	    "enabled", 1, "apiServer", "extraArgs", args, "statefulSet", ss);
	public_url(t, url, sizeof(url));
	if (url[0] != '\0') {
		url_host(url, host, sizeof(host));
		json_object_set_new(cp, "proxy", json_pack("{s:[s]}",
		    "extraSANs", host));
	}
	snprintf(a, sizeof(a), "https://%s.%s.svc:443", t->release, t->ns);
	v = json_pack("{s:o, s:{s:{s:b, s:o}, s:{s:b, s:{s:s, s:s}, "
	    "s:{s:s, s:s}}, s:{s:b}, s:s}, s:{s:s}}",
	    "controlPlane", cp,
	    "policies",
	    "resourceQuota", "enabled", 1, "quota", quantity_map(t),
	    "limitRange", "enabled", 1, "default", "cpu", "500m", "memory",
	    "512Mi", "defaultRequest", "cpu", "100m", "memory", "128Mi",
	    "networkPolicy", "enabled", 1,
	    "podSecurityStandard", "baseline",
	    "exportKubeConfig", "server", a);
	if (v != NULL && dedicated) {
		snprintf(a, sizeof(a), "%s", t->ws_id);
		json_object_set_new(v, "sync", json_pack("{s:{s:{s:b, s:{s:{s:s}}}}, "
		    "s:{s:{s:[s]}}}", "fromHost", "nodes", "enabled", 1,
		    "selector", "labels", "hexabase.ai/node-pool", a, "toHost",
		    "pods", "enforceTolerations", toleration));
	}
	return v;
}

#define CHART_BACKOFF_LIMIT	3
#define CHART_FAILURE_POLICY	"abort"

/* The install's timeout, the plan's deadline: "900s". */
static void
chart_timeout(const struct lc_task *t, char out[32])
{
	snprintf(out, 32, "%llds", plan_int(t, "provision_timeout_s"));
}

/*
 * The hash of everything that decides what the install does: the chart,
 * its repository and version, its job settings, and the values with an
 * empty hash in the place of this one.  0, or -1 out of memory.
 */
static int
chart_hash(const struct lc_task *t, char hash[65])
{
	const struct config *cfg = &t->lc->app->cfg;
	struct buf	 hx = BUF_INIT(0);
	unsigned char	 md[CRYPTO_SHA256_LEN];
	char		*values, *seed, timeout[32];
	json_t		*v;

	if ((v = chart_values(t, "")) == NULL)
		return -1;
	values = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(v);
	if (values == NULL)
		return -1;
	chart_timeout(t, timeout);
	if (asprintf(&seed, "vcluster\n%s\n%s\n%s\n%s\n%d\n%s",
	    config_str(cfg, CFG_VCLUSTER_CHART_REPO),
	    config_str(cfg, CFG_VCLUSTER_CHART_VERSION), timeout,
	    CHART_FAILURE_POLICY, CHART_BACKOFF_LIMIT, values) < 0) {
		free(values);
		return -1;
	}
	free(values);
	crypto_sha256(seed, strlen(seed), md);
	free(seed);
	crypto_hex(&hx, md, 16);
	snprintf(hash, 65, "%s", hx.failed ? "" : hx.data);
	buf_release(&hx);
	return hash[0] != '\0' ? 0 : -1;
}

/* The HelmChart, its values carrying their hash (written to hash). */
static json_t *
helm_chart(const struct lc_task *t, char hash[65])
{
	const struct config *cfg = &t->lc->app->cfg;
	struct k8s_helm_chart h;
	char		*values, timeout[32];
	json_t		*v, *o;

	if (chart_hash(t, hash) != 0 || (v = chart_values(t, hash)) == NULL)
		return NULL;
	values = json_dumps(v, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(v);
	if (values == NULL)
		return NULL;
	chart_timeout(t, timeout);
	memset(&h, 0, sizeof(h));
	h.ns = t->ns;
	h.name = t->release;
	h.chart = "vcluster";
	h.repo = config_str(cfg, CFG_VCLUSTER_CHART_REPO);
	h.version = config_str(cfg, CFG_VCLUSTER_CHART_VERSION);
	h.target_ns = t->ns;
	h.values = values;
	h.timeout = timeout;
	h.backoff_limit = CHART_BACKOFF_LIMIT;
	h.failure_policy = CHART_FAILURE_POLICY;
	o = labelled(k8s_helm_chart(&h), labels(t));
	free(values);
	if (o != NULL)
		json_object_set_new(json_object_get(o, "metadata"),
		    "annotations", json_pack("{s:s}", HASH_ANNOTATION, hash));
	return o;
}

/* When the field manager last changed the object (RFC 3339), or "". */
static const char *
applied_at(const json_t *obj)
{
	const json_t	*mf;
	size_t		 i;

	json_array_foreach(json_object_get(json_object_get(obj, "metadata"),
	    "managedFields"), i, mf) {
		const char *m = str(mf, "manager"), *op = str(mf, "operation");

		if (m != NULL && op != NULL && strcmp(m, LC_MANAGED_BY) == 0 &&
		    strcmp(op, "Apply") == 0 && str(mf, "time") != NULL)
			return str(mf, "time");
	}
	return "";
}

/* ---- readiness ------------------------------------------------------------- */

/*
 * The admin client of the vCluster, from Secret vc-<release> on the
 * host; it never leaves this process.  0 with the CA in ca (PEM), 1 if
 * the Secret is not there yet, -1 with err set.
 */
static int
virtual_client(struct lc_task *t, struct k8s *v, struct buf *ca)
{
	char		 name[96];
	json_t		*s;
	unsigned char	*cfg, *pem;
	size_t		 len, plen;
	struct k8s_err	 e;
	bool		 gone;
	int		 rc;

	snprintf(name, sizeof(name), "vc-%s", t->release);
	if ((s = get(t, &t->lc->host, "v1", "Secret", t->ns, name, &gone,
	    "reading the vCluster's kubeconfig")) == NULL)
		return gone ? 1 : -1;
	cfg = k8s_secret_value(s, "config", &len);
	pem = k8s_secret_value(s, "certificate-authority", &plen);
	json_decref(s);
	if (cfg == NULL) {
		free(pem);
		return 1;
	}
	memset(v, 0, sizeof(*v));
	rc = k8s_from_kubeconfig_data(v, (char *)cfg, len, NULL, NULL, &e);
	OPENSSL_cleanse(cfg, len);
	free(cfg);
	if (rc != 0) {
		free(pem);
		return kfail(t, "the vCluster's kubeconfig", &e);
	}
	v->log = &t->lc->app->log;
	buf_reset(ca);
	if (pem != NULL && plen > 0)
		buf_add(ca, pem, plen);
	else if (v->ca.len > 0)
		buf_add(ca, v->ca.data, v->ca.len);
	free(pem);
	return 0;
}

/*
 * One look at readiness, as the vcluster CLI judges it and more: the
 * install Job of the current spec completed, the control plane's pods
 * ready with the current config hash, the kubeconfig Secret there, the
 * virtual API answering.  1 ready (v and ca filled), 0 not yet (why
 * says what is missing), -1 failed (err set).
 */
static int
ready_once(struct lc_task *t, const char *hash, const char *since,
    struct k8s *v, struct buf *ca, char *why, size_t whylen)
{
	struct k8s	*h = &t->lc->host;
	struct k8s_err	 e;
	struct buf	 p = BUF_INIT(0);
	char		 name[96], sel[160];
	json_t		*job, *pods, *item, *ver;
	const char	*started;
	size_t		 i, nready = 0;
	bool		 gone;
	int		 rc;

	snprintf(name, sizeof(name), "helm-install-%s", t->release);
	if ((job = get(t, h, "batch/v1", "Job", t->ns, name, &gone,
	    "reading the helm install job")) == NULL) {
		if (!gone)
			return -1;
		snprintf(why, whylen, "the helm install job has not started");
		return 0;
	}
	if (condition(job, "Failed", "True")) {
		json_decref(job);
		fail(t, true, "the vcluster chart did not install: the helm "
		    "job %s/%s failed", t->ns, name);
		return -1;
	}
	started = str(json_object_get(job, "status"), "startTime");
	if (!condition(job, "Complete", "True") || started == NULL ||
	    strcmp(started, since) < 0) {
		json_decref(job);
		snprintf(why, whylen, "the helm install job of the current "
		    "values has not completed");
		return 0;
	}
	if (str(json_object_get(json_object_get(json_object_get(
	    json_object_get(job, "spec"), "template"), "metadata"),
	    "annotations"), HELM_HASH) == NULL) {
		json_decref(job);
		snprintf(why, whylen, "the helm install job has no config hash");
		return 0;
	}
	json_decref(job);

	snprintf(sel, sizeof(sel), "app=vcluster,release=%s", t->release);
	if (k8s_path(&p, "v1", "Pod", t->ns, NULL, NULL, &e) != 0) {
		buf_release(&p);
		return kfail(t, "listing the vCluster's pods", &e);
	}
	while ((pods = k8s_list_sel(h, p.data, sel, 0, NULL, until(t),
	    &e)) == NULL && again(t, &e, "listing the vCluster's pods"))
		;
	buf_release(&p);
	if (pods == NULL)
		return kfail(t, "listing the vCluster's pods", &e);
	json_array_foreach(json_object_get(pods, "items"), i, item) {
		const json_t *md = json_object_get(item, "metadata");
		const char *hh = annotation(md, HASH_ANNOTATION);

		if (json_object_get(md, "deletionTimestamp") != NULL)
			continue;
		if (hh == NULL || strcmp(hh, hash) != 0 ||
		    !condition(item, "Ready", "True")) {
			nready = 0;
			break;
		}
		nready++;
	}
	json_decref(pods);
	if (nready == 0) {
		snprintf(why, whylen, "the vCluster's pods of the current "
		    "values are not ready");
		return 0;
	}

	if ((rc = virtual_client(t, v, ca)) != 0) {
		if (rc > 0)
			snprintf(why, whylen, "the vCluster's kubeconfig "
			    "Secret vc-%s is not there", t->release);
		return rc > 0 ? 0 : -1;
	}
	ver = k8s_get(v, "/version", until(t), &e);
	if (ver == NULL) {
		char	 w[512];

		k8s_err_str(&e, w, sizeof(w));
		snprintf(why, whylen, "the vCluster's API server does not "
		    "answer: %s", w);
		k8s_free(v);
		return 0;
	}
	json_decref(ver);
	return 1;
}

/* Wait for readiness until the plan's deadline. */
static int
wait_ready(struct lc_task *t, const char *hash, const char *since,
    struct k8s *v, struct buf *ca, int pct)
{
	long long	 timeout = plan_int(t, "provision_timeout_s");
	long long	 deadline = clock_ms() + timeout * 1000;
	char		 why[768] = "";
	int		 rc;

	for (;;) {
		if ((rc = ready_once(t, hash, since, v, ca, why,
		    sizeof(why))) != 0)
			return rc > 0 ? 0 : -1;
		if (clock_ms() >= deadline) {
			fail(t, true, "the vCluster was not ready within %lld "
			    "s: %s", timeout, why);
			return -1;
		}
		if (alive(t, pct) != 0)
			return -1;
		usleep(POLL_MS * 1000);
	}
}

/* ---- inside the vCluster ------------------------------------------------------- */

static json_t *
group_subjects(const struct lc_task *t, const json_t *names)
{
	const char	*prefix = config_str(&t->lc->app->cfg,
			    CFG_OIDC_GROUPS_PREFIX);
	json_t		*out = json_array(), *n;
	size_t		 i;
	char		 g[256];

	json_array_foreach(names, i, n) {
		snprintf(g, sizeof(g), "%s%s", prefix != NULL ? prefix : "",
		    json_string_value(n));
		json_array_append_new(out, json_string(g));
	}
	return out;
}

static json_t *
admin_rules(void)
{
	return json_pack("[{s:[s], s:[s], s:[s]}, {s:[s], s:[s]}]",
	    "apiGroups", "*", "resources", "*", "verbs", "*",
	    "nonResourceURLs", "*", "verbs", "*");
}

/* Read everything but Secrets; no writes. */
static json_t *
viewer_rules(void)
{
	return json_pack("[{s:[s], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s], "
	    "s:[s,s,s]}, {s:[s,s,s,s,s,s,s,s], s:[s], s:[s,s,s]}]",
	    "apiGroups", "", "resources", "pods", "pods/log", "services",
	    "endpoints", "configmaps", "persistentvolumeclaims", "namespaces",
	    "events", "serviceaccounts", "resourcequotas", "limitranges",
	    "replicationcontrollers", "nodes", "persistentvolumes",
	    "verbs", "get", "list", "watch",
	    "apiGroups", "apps", "batch", "autoscaling", "networking.k8s.io",
	    "policy", "discovery.k8s.io", "rbac.authorization.k8s.io",
	    "storage.k8s.io", "resources", "*", "verbs", "get", "list",
	    "watch");
}

/*
 * A role's rules as the API keeps them (api_groups, resources, verbs,
 * resource_names) as Kubernetes PolicyRules (new reference).
 */
static json_t *
k8s_rules(const json_t *rules)
{
	static const struct { const char *from, *to; } keys[] = {
		{ "api_groups", "apiGroups" }, { "resources", "resources" },
		{ "verbs", "verbs" }, { "resource_names", "resourceNames" },
	};
	json_t	*out = json_array(), *r, *o;
	size_t	 i, k;

	json_array_foreach(rules, i, r) {
		o = json_object();
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (json_object_get(r, keys[k].from) != NULL)
				json_object_set(o, keys[k].to,
				    json_object_get(r, keys[k].from));
		json_array_append_new(out, o);
	}
	return out;
}

/* The objects a workspace's vCluster should hold. */
static json_t *
desired_objects(struct lc_task *t)
{
	json_t		*out = json_array(), *l, *p, *o, *q, *lim, *x;
	const json_t	*crs = json_object_get(t->desired, "cluster_roles");
	const char	*cr;
	json_t		*names;
	size_t		 i, j;

	l = labels(t);
	json_array_append_new(out, labelled(k8s_cluster_role(
	    "hexabase:workspace-admin", x = admin_rules()), json_copy(l)));
	json_decref(x);
	json_array_append_new(out, labelled(k8s_cluster_role(
	    "hexabase:workspace-viewer", x = viewer_rules()), json_copy(l)));
	json_decref(x);
	json_object_foreach((json_t *)crs, cr, names) {
		x = group_subjects(t, names);
		json_array_append_new(out, labelled(k8s_cluster_role_binding(cr,
		    cr, x), json_copy(l)));
		json_decref(x);
	}
	json_array_foreach(json_object_get(t->desired, "projects"), i, p) {
		const char *ns = str(p, "name");
		const json_t *quota = json_object_get(p, "quota"), *r;
		json_t *nl = json_copy(l);
		char v[32];

		json_object_set_new(nl, "hexabase.ai/project",
		    json_string(str(p, "id")));
		if (str(p, "parent_id") != NULL) {
			json_object_set_new(nl, "hexabase.ai/parent",
			    json_string(str(p, "parent_id")));
			json_object_set_new(nl, "hexabase.ai/parent-name",
			    json_string(str(p, "parent_name")));
		}
		json_array_append_new(out, labelled(k8s_namespace(ns, NULL),
		    nl));
		/* The project's quota; a kind it leaves open, the plan's. */
		q = quantity_map(t);
#define QSET(key, fmt, ...) do {					\
		const json_t *qv = json_object_get(quota, key);		\
		if (json_is_integer(qv)) {				\
			long long n = json_integer_value(qv);		\
			snprintf(v, sizeof(v), fmt, n);			\
			__VA_ARGS__					\
		}							\
	} while (0)
		QSET("cpu_millicores", "%lldm",
		    json_object_set_new(q, "requests.cpu", json_string(v));
		    json_object_set_new(q, "limits.cpu", json_string(v)););
		QSET("memory_mib", "%lldMi",
		    json_object_set_new(q, "requests.memory", json_string(v));
		    json_object_set_new(q, "limits.memory", json_string(v)););
		QSET("storage_gib", "%lldGi",
		    json_object_set_new(q, "requests.storage", json_string(v)););
		QSET("pods", "%lld",
		    json_object_set_new(q, "count/pods", json_string(v)););
		QSET("services", "%lld",
		    json_object_set_new(q, "count/services", json_string(v)););
		QSET("pvcs", "%lld", json_object_set_new(q,
		    "count/persistentvolumeclaims", json_string(v)););
#undef QSET
		json_array_append_new(out, labelled(k8s_resource_quota(ns,
		    "hexabase-quota", q), json_copy(l)));
		json_decref(q);
		lim = json_pack("[{s:s, s:{s:s, s:s}, s:{s:s, s:s}}]", "type",
		    "Container", "default", "cpu", "500m", "memory", "512Mi",
		    "defaultRequest", "cpu", "100m", "memory", "128Mi");
		json_array_append_new(out, labelled(k8s_limit_range(ns,
		    "hexabase-limits", lim), json_copy(l)));
		json_decref(lim);
		/* Ingress only from its own namespace, unless it opts out. */
		if (!json_is_false(json_object_get(p, "network_isolated")))
			json_array_append_new(out, labelled(
			    k8s_network_policy_isolate(ns, "hexabase-isolate",
			    NULL), json_copy(l)));
		json_array_foreach(json_object_get(p, "roles"), j, r) {
			x = k8s_rules(json_object_get(r, "rules"));
			json_array_append_new(out, labelled(k8s_role(ns,
			    str(r, "name"), x), json_copy(l)));
			json_decref(x);
		}
		json_array_foreach(json_object_get(p, "bindings"), j, r) {
			x = group_subjects(t, json_object_get(r, "groups"));
			o = k8s_role_binding(ns, str(r, "id"), str(r, "kind"),
			    str(r, "role"), x);
			json_decref(x);
			json_array_append_new(out, labelled(o, json_copy(l)));
		}
	}
	json_decref(l);
	/* A builder that failed left a null: refuse the lot. */
	json_array_foreach(out, i, o)
		if (!json_is_object(o)) {
			json_decref(out);
			return NULL;
		}
	return out;
}

/* Path of a listed item of kinds[k]. */
static int
item_path(struct buf *b, size_t k, const json_t *item)
{
	const json_t	*md = json_object_get(item, "metadata");
	struct k8s_err	 e;

	buf_reset(b);
	return k8s_path(b, kinds[k].api_version, kinds[k].kind,
	    kinds[k].namespaced ? str(md, "namespace") : NULL,
	    str(md, "name"), NULL, &e);
}

/*
 * What the vCluster holds under our label: path -> resourceVersion.
 */
static json_t *
observed(struct lc_task *t, struct k8s *v)
{
	json_t		*seen = json_object(), *page, *item;
	struct k8s_err	 e;
	struct buf	 p = BUF_INIT(0);
	char		*cont = NULL, sel[160];
	size_t		 k, i;

	/* Ours, and this workspace's (one server may host several in tests). */
	snprintf(sel, sizeof(sel), "%s=%s,hexabase.ai/workspace=%s",
	    LC_LABEL_MANAGED, LC_MANAGED_BY, t->ws_id);

	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		do {
			while ((page = k8s_list_sel(v, kinds[k].list, sel,
			    LIST_PAGE, cont, until(t), &e)) == NULL &&
			    again(t, &e, "listing the vCluster's objects"))
				;
			free(cont);
			cont = NULL;
			if (page == NULL) {
				buf_release(&p);
				json_decref(seen);
				kfail(t, "listing the vCluster's objects", &e);
				return NULL;
			}
			json_array_foreach(json_object_get(page, "items"), i,
			    item) {
				const char *rv = str(json_object_get(item,
				    "metadata"), "resourceVersion");

				if (item_path(&p, k, item) == 0)
					json_object_set_new(seen, p.data,
					    json_string(rv != NULL ? rv : ""));
			}
			if (str(json_object_get(page, "metadata"),
			    "continue") != NULL && *str(json_object_get(page,
			    "metadata"), "continue") != '\0')
				cont = strdup(str(json_object_get(page,
				    "metadata"), "continue"));
			json_decref(page);
		} while (cont != NULL);
	}
	buf_release(&p);
	return seen;
}

/* Apply the desired objects into v, prune the rest: 0 or -1. */
static int
sync_into(struct lc_task *t, struct k8s *v, int pct)
{
	json_t		*want, *seen, *keep, *o, *got, *rv;
	struct buf	 p = BUF_INIT(0);
	struct k8s_err	 e;
	const char	*path;
	size_t		 i;
	int		 rc = -1;

	if (read_desired(t) != 0)
		return -1;
	if ((want = desired_objects(t)) == NULL) {
		fail(t, false, "building the workspace's objects: out of "
		    "memory");
		return -1;
	}
	keep = json_object();
	if ((seen = observed(t, v)) == NULL)
		goto out;
	json_array_foreach(want, i, o) {
		if (k8s_path_of(&p, o, false, NULL, &e) != 0) {
			kfail(t, "naming an object", &e);
			goto out;
		}
		json_object_set_new(keep, p.data, json_true());
		rv = json_object_get(seen, p.data);
		if ((got = apply(t, v, json_incref(o), p.data)) == NULL)
			goto out;
		if (rv == NULL || !json_equal(rv, json_object_get(
		    json_object_get(got, "metadata"), "resourceVersion")))
			t->repaired++;
		json_decref(got);
		if (alive(t, pct) != 0)
			goto out;
		if (i == json_array_size(want) / 2)
			lc_fault_point("workspace RBAC (half)");
	}
	json_object_foreach(seen, path, rv) {
		if (json_object_get(keep, path) != NULL)
			continue;
		while ((rc = k8s_delete(v, path, until(t), &e)) != 0 &&
		    again(t, &e, "pruning"))
			;
		if (rc != 0) {
			kfail(t, "pruning", &e);
			goto out;
		}
		t->pruned++;
	}
	rc = 0;
out:
	buf_release(&p);
	json_decref(want);
	json_decref(seen);
	json_decref(keep);
	return rc;
}

/* ---- the tasks ------------------------------------------------------------------ */

static int
host_namespace(struct lc_task *t)
{
	return apply0(t, &t->lc->host, labelled(k8s_namespace(t->ns, NULL),
	    labels(t)), "creating the host namespace");
}

static int
issuer_ca(struct lc_task *t)
{
	json_t	*cm;

	if (t->lc->issuer_ca.len == 0)
		return 0;
	cm = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s%}}", "apiVersion", "v1",
	    "kind", "ConfigMap", "metadata", "name", CA_CONFIGMAP, "namespace",
	    t->ns, "data", "ca.crt", t->lc->issuer_ca.data,
	    t->lc->issuer_ca.len);
	return apply0(t, &t->lc->host, labelled(cm, labels(t)),
	    "writing the issuer's CA");
}

/*
 * Onboarding and plan change: the host namespace, the HelmChart, the
 * wait, the objects inside, then the answer with the API's address.
 */
static int
provision(struct lc_task *t, const char *event)
{
	struct k8s	 v;
	struct buf	 ca = BUF_INIT(64 * 1024);
	char		 hash[65], url[512];
	char		*since = NULL;
	json_t		*chart, *got;
	int		 rc = -1;

	if (strcmp(event, "provisioned") == 0 &&
	    answer(t, "provisioning", NULL) != 0)
		return -1;
	if (read_desired(t) != 0)
		return -1;
	if (progress(t, "host namespace", 10) != 0 || host_namespace(t) != 0 ||
	    issuer_ca(t) != 0)
		return -1;
	if (progress(t, "vcluster chart", 20) != 0)
		return -1;
	if ((chart = helm_chart(t, hash)) == NULL) {
		fail(t, false, "building the HelmChart: out of memory");
		return -1;
	}
	if ((got = apply(t, &t->lc->host, chart, "writing the vCluster's "
	    "HelmChart")) == NULL)
		return -1;
	since = strdup(applied_at(got));
	json_decref(got);
	if (since == NULL) {
		fail(t, false, "out of memory");
		return -1;
	}
	if (progress(t, "waiting for the vCluster", 30) != 0 ||
	    wait_ready(t, hash, since, &v, &ca, 30) != 0)
		goto out;
	if (progress(t, "workspace RBAC", 80) != 0 ||
	    sync_into(t, &v, 80) != 0) {
		k8s_free(&v);
		goto out;
	}
	public_url(t, url, sizeof(url));
	if (url[0] == '\0')
		snprintf(url, sizeof(url), "%s", v.server);
	k8s_free(&v);
	if (progress(t, "finishing", 95) != 0)
		goto out;
	rc = answer(t, event, json_pack("{s:s, s:s%}", "api_endpoint", url,
	    "api_ca_pem", ca.len > 0 ? ca.data : "", ca.len));
out:
	free(since);
	buf_release(&ca);
	return rc;
}

static int
wait_gone(struct lc_task *t, const char *api, const char *kind,
    const char *ns, const char *name, const char *what, int pct)
{
	long long	 timeout = plan_int(t, "provision_timeout_s");
	long long	 deadline = clock_ms() + timeout * 1000;
	json_t		*o;
	bool		 gone;

	for (;;) {
		if ((o = get(t, &t->lc->host, api, kind, ns, name, &gone,
		    what)) == NULL)
			return gone ? 0 : -1;
		json_decref(o);
		if (clock_ms() >= deadline) {
			fail(t, false, "%s: still there after %lld s", what,
			    timeout);
			return -1;
		}
		if (alive(t, pct) != 0)
			return -1;
		usleep(POLL_MS * 1000);
	}
}

/*
 * Offboarding: the HelmChart goes (helm-controller's delete job and
 * finalizer uninstall the release), then the host namespace.
 */
static int
deprovision(struct lc_task *t)
{
	if (read_desired(t) != 0)
		return -1;
	if (progress(t, "removing the vCluster", 20) != 0 ||
	    del(t, &t->lc->host, "helm.cattle.io/v1", "HelmChart", t->ns,
	    t->release, "deleting the HelmChart") != 0 ||
	    wait_gone(t, "helm.cattle.io/v1", "HelmChart", t->ns, t->release,
	    "the vCluster's uninstall", 30) != 0)
		return -1;
	if (progress(t, "removing the host namespace", 60) != 0 ||
	    del(t, &t->lc->host, "v1", "Namespace", NULL, t->ns,
	    "deleting the host namespace") != 0 ||
	    wait_gone(t, "v1", "Namespace", NULL, t->ns,
	    "the host namespace's deletion", 70) != 0)
		return -1;
	if (progress(t, "finishing", 95) != 0)
		return -1;
	return answer(t, "deprovisioned", NULL);
}

/* An RBAC sync: into the running vCluster, desired state read now. */
static int
sync_task(struct lc_task *t, bool answered)
{
	struct k8s	 v;
	struct buf	 ca = BUF_INIT(64 * 1024);
	const char	*status;
	int		 rc;

	if (read_desired(t) != 0)
		return -1;
	status = str(json_object_get(t->desired, "workspace"), "status");
	if (status == NULL || (strcmp(status, "running") != 0 &&
	    strcmp(status, "suspended") != 0)) {
		/*
		 * Not running: its provisioning applies the state, or it
		 * is going.  Nothing to do.
		 */
		return !answered ? 0 : answer(t, "synced", json_pack("{s:s}",
		    "skipped", status != NULL ? status : "gone"));
	}
	if (progress(t, "workspace RBAC", 30) != 0)
		return -1;
	rc = virtual_client(t, &v, &ca);
	buf_release(&ca);
	if (rc != 0) {
		if (rc > 0)
			fail(t, false, "the vCluster's kubeconfig Secret "
			    "vc-%s is not there", t->release);
		return -1;
	}
	rc = sync_into(t, &v, 50);
	k8s_free(&v);
	if (rc != 0 || progress(t, "finishing", 95) != 0)
		return -1;
	return !answered ? 0 : answer(t, "synced", json_pack("{s:i, s:i}",
	    "changed", t->repaired, "pruned", t->pruned));
}

/*
 * Suspend and resume, as `vcluster pause` and `resume` do: the control
 * plane's StatefulSet scaled to zero (its replicas kept in an
 * annotation) and the workloads it synced to the host deleted; then
 * back.
 */
static int
scale(struct lc_task *t, bool down)
{
	struct k8s_err	 e;
	struct buf	 p = BUF_INIT(0);
	char		 sel[160], n[24];
	json_t		*sts, *o, *pods, *item;
	const char	*prev;
	long long	 replicas = 1;
	bool		 gone;
	size_t		 i;

	if ((sts = get(t, &t->lc->host, "apps/v1", "StatefulSet", t->ns,
	    t->release, &gone, "reading the vCluster's StatefulSet")) == NULL) {
		if (gone)
			fail(t, true, "the vCluster has no StatefulSet %s/%s",
			    t->ns, t->release);
		return -1;
	}
	prev = annotation(json_object_get(sts, "metadata"),
	    "loft.sh/paused-replicas");
	if (down) {
		replicas = json_integer_value(json_object_get(
		    json_object_get(sts, "spec"), "replicas"));
		if (prev != NULL)
			replicas = atoll(prev);
		if (replicas < 1)
			replicas = 1;
	} else if (prev != NULL && atoll(prev) > 0)
		replicas = atoll(prev);
	json_decref(sts);
	snprintf(n, sizeof(n), "%lld", replicas);
	o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:I}}", "apiVersion",
	    "apps/v1", "kind", "StatefulSet", "metadata", "name", t->release,
	    "namespace", t->ns, "spec", "replicas", down ? (json_int_t)0 :
	    (json_int_t)replicas);
	if (o != NULL && down)
		json_object_set_new(json_object_get(o, "metadata"),
		    "annotations", json_pack("{s:s, s:s}", "loft.sh/paused",
		    "true", "loft.sh/paused-replicas", n));
	if (apply0(t, &t->lc->host, o, down ? "scaling the vCluster down" :
	    "scaling the vCluster up") != 0)
		return -1;
	if (!down)
		return 0;
	/* The workloads the vCluster synced to the host go too. */
	snprintf(sel, sizeof(sel), "vcluster.loft.sh/managed-by=%s",
	    t->release);
	if (k8s_path(&p, "v1", "Pod", t->ns, NULL, NULL, &e) != 0 ||
	    (pods = k8s_list_sel(&t->lc->host, p.data, sel, 0, NULL,
	    until(t), &e)) == NULL) {
		buf_release(&p);
		return kfail(t, "listing the vCluster's workloads", &e);
	}
	buf_release(&p);
	json_array_foreach(json_object_get(pods, "items"), i, item)
		if (del(t, &t->lc->host, "v1", "Pod", t->ns,
		    str(json_object_get(item, "metadata"), "name"),
		    "deleting a workload") != 0) {
			json_decref(pods);
			return -1;
		}
	json_decref(pods);
	return 0;
}

static int
suspend(struct lc_task *t)
{
	if (read_desired(t) != 0 || progress(t, "scaling down", 30) != 0 ||
	    scale(t, true) != 0 || progress(t, "finishing", 95) != 0)
		return -1;
	return answer(t, "suspended", NULL);
}

static int
resume(struct lc_task *t)
{
	char	 hash[65];
	struct k8s v;
	struct buf ca = BUF_INIT(64 * 1024);
	int	 rc;

	if (read_desired(t) != 0 || progress(t, "scaling up", 30) != 0 ||
	    scale(t, false) != 0)
		return -1;
	/* Ready again: the same checks as onboarding, the same spec. */
	if (chart_hash(t, hash) != 0) {
		fail(t, false, "out of memory");
		return -1;
	}
	if (progress(t, "waiting for the vCluster", 50) != 0 ||
	    wait_ready(t, hash, "", &v, &ca, 50) != 0) {
		buf_release(&ca);
		return -1;
	}
	k8s_free(&v);
	buf_release(&ca);
	rc = progress(t, "finishing", 95);
	return rc != 0 ? -1 : answer(t, "resumed", NULL);
}

int
lc_run(struct lc_task *t)
{
	if (strcmp(t->type, "create_workspace") == 0)
		return provision(t, "provisioned");
	if (strcmp(t->type, "update_workspace") == 0)
		return provision(t, "updated");
	if (strcmp(t->type, "delete_workspace") == 0)
		return deprovision(t);
	if (strcmp(t->type, "rbac_sync") == 0)
		return sync_task(t, true);
	if (strcmp(t->type, "suspend_workspace") == 0)
		return suspend(t);
	if (strcmp(t->type, "resume_workspace") == 0)
		return resume(t);
	fail(t, true, "unknown task type %s", t->type);
	return -1;
}

int
lc_sync_workspace(struct lc_task *t)
{
	return sync_task(t, false);
}
