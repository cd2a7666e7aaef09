/*
 * k8s: credentials, paths, errors, the retry rule and the builders, without
 * an API server (t/k8s tests the calls against a real one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "k8s.h"

/* "CA PEM", "CERT PEM", "KEY PEM" in base64. */
#define CA64	"Q0EgUEVN"
#define CERT64	"Q0VSVCBQRU0="
#define KEY64	"S0VZIFBFTQ=="

static const char kubeconfig[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "clusters:\n"
    "- cluster:\n"
    "    certificate-authority-data: " CA64 "\n"
    "    server: https://127.0.0.1:6443/\n"
    "  name: one\n"
    "- cluster:\n"
    "    server: https://other.example:443\n"
    "    insecure-skip-tls-verify: true\n"
    "  name: lax\n"
    "- cluster:\n"
    "    server: http://127.0.0.1:8080\n"
    "  name: plain\n"
    "contexts:\n"
    "- context:\n"
    "    cluster: one\n"
    "    user: certs\n"
    "    namespace: hxb-system\n"
    "  name: main\n"
    "- context:\n"
    "    cluster: one\n"
    "    user: tok\n"
    "  name: bearer\n"
    "- context:\n"
    "    cluster: lax\n"
    "    user: tok\n"
    "  name: lax\n"
    "- context:\n"
    "    cluster: plain\n"
    "    user: tok\n"
    "  name: plain\n"
    "- context:\n"
    "    cluster: one\n"
    "    user: plugin\n"
    "  name: plugin\n"
    "- context:\n"
    "    cluster: one\n"
    "    user: halfcert\n"
    "  name: halfcert\n"
    "current-context: main\n"
    "users:\n"
    "- name: certs\n"
    "  user:\n"
    "    client-certificate-data: " CERT64 "\n"
    "    client-key-data: " KEY64 "\n"
    "- name: tok\n"
    "  user:\n"
    "    token: s3cret\n"
    "- name: plugin\n"
    "  user:\n"
    "    exec:\n"
    "      command: aws\n"
    "- name: halfcert\n"
    "  user:\n"
    "    client-certificate-data: " CERT64 "\n";

static int
load(struct k8s *c, const char *ctx, struct k8s_err *e)
{
	return k8s_from_kubeconfig_data(c, kubeconfig, strlen(kubeconfig),
	    NULL, ctx, e);
}

static void
test_kubeconfig_current(void **state)
{
	struct k8s	 c;
	struct k8s_err	 e;

	(void)state;
	assert_int_equal(load(&c, NULL, &e), 0);
	assert_string_equal(c.server, "https://127.0.0.1:6443");
	assert_string_equal(c.ca.data, "CA PEM");
	assert_string_equal(c.cert.data, "CERT PEM");
	assert_string_equal(c.key.data, "KEY PEM");
	assert_null(c.token);
	assert_string_equal(c.ns, "hxb-system");
	assert_string_equal(c.manager, "hexabase");
	k8s_free(&c);
}

static void
test_kubeconfig_token(void **state)
{
	struct k8s	 c;
	struct k8s_err	 e;

	(void)state;
	assert_int_equal(load(&c, "bearer", &e), 0);
	assert_string_equal(c.token, "s3cret");
	assert_int_equal(c.cert.len, 0);
	assert_null(c.ns);
	k8s_free(&c);
}

static void
test_kubeconfig_refused(void **state)
{
	static const struct {
		const char	*ctx, *why;
	} cases[] = {
		{ "lax", "insecure-skip-tls-verify" },
		{ "plain", "https" },
		{ "plugin", "exec" },
		{ "halfcert", "needs its key" },
		{ "nowhere", "no context" },
	};
	struct k8s	 c;
	struct k8s_err	 e;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(load(&c, cases[i].ctx, &e), -1);
		assert_int_equal(e.reason, K8S_CONFIG);
		if (strstr(e.message, cases[i].why) == NULL)
			fail_msg("%s: '%s' lacks '%s'", cases[i].ctx,
			    e.message, cases[i].why);
		assert_null(c.server);	/* nothing half-loaded is left */
	}
	assert_int_equal(k8s_from_kubeconfig_data(&c, "a: [b]\n", 7, NULL,
	    NULL, &e), -1);
	assert_non_null(strstr(e.message, "line 1"));
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* Remove the named files of dir (missing ones too), then dir. */
static void
remove_dir(const char *dir, const char *const *names)
{
	char	 path[512];

	for (; *names != NULL; names++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *names);
		unlink(path);
	}
	rmdir(dir);
}

static void
test_kubeconfig_files(void **state)
{
	char		 dir[] = "/tmp/hxb-k8s-unit.XXXXXX", path[512];
	struct k8s	 c;
	struct k8s_err	 e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "ca.crt", "FILE CA");
	write_file(dir, "tok", "from-file\n");
	write_file(dir, "config",
	    "clusters:\n- name: c\n  cluster:\n"
	    "    server: https://[::1]:6443\n"
	    "    certificate-authority: ca.crt\n"
	    "contexts:\n- name: x\n  context: {cluster: c}\n");
	/* Flow mappings with content are refused, with the line. */
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(k8s_from_kubeconfig(&c, path, "x", &e), -1);
	assert_non_null(strstr(e.message, "line 8"));
	write_file(dir, "config",
	    "clusters:\n- name: c\n  cluster:\n"
	    "    server: https://[::1]:6443\n"
	    "    certificate-authority: ca.crt\n"
	    "contexts:\n- name: x\n  context:\n    cluster: c\n"
	    "    user: u\n"
	    "users:\n- name: u\n  user:\n    tokenFile: tok\n");
	assert_int_equal(k8s_from_kubeconfig(&c, path, "x", &e), 0);
	assert_string_equal(c.ca.data, "FILE CA");
	assert_string_equal(c.token, "from-file");
	assert_string_equal(c.server, "https://[::1]:6443");
	k8s_free(&c);
	/* A missing file is named. */
	unlink(strcat(strcpy(path, dir), "/ca.crt"));
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(k8s_from_kubeconfig(&c, path, "x", &e), -1);
	assert_non_null(strstr(e.message, "ca.crt"));
	remove_dir(dir, (const char *const []){ "config", "tok", NULL });
}

static void
test_service_account(void **state)
{
	char		 dir[] = "/tmp/hxb-k8s-sa.XXXXXX";
	struct k8s	 c;
	struct k8s_err	 e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "ca.crt", "SA CA");
	write_file(dir, "token", "sa-token\n");
	write_file(dir, "namespace", "hexabase\n");
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(k8s_from_service_account(&c, dir, &e), -1);
	assert_non_null(strstr(e.message, "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	assert_int_equal(k8s_from_service_account(&c, dir, &e), 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_string_equal(c.ca.data, "SA CA");
	assert_string_equal(c.token, "sa-token");
	assert_string_equal(c.ns, "hexabase");
	k8s_free(&c);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(k8s_from_service_account(&c, dir, &e), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	k8s_free(&c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	remove_dir(dir, (const char *const []){ "ca.crt", "token",
	    "namespace", NULL });
}

static void
test_errors(void **state)
{
	static const char invalid[] = "{\"kind\":\"Status\",\"apiVersion\":"
	    "\"v1\",\"status\":\"Failure\",\"message\":\"ResourceQuota "
	    "\\\"q\\\" is invalid\",\"reason\":\"Invalid\",\"details\":"
	    "{\"name\":\"q\",\"kind\":\"ResourceQuota\",\"causes\":[{"
	    "\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: "
	    "\\\"lots\\\"\",\"field\":\"spec.hard[cpu]\"},{\"reason\":"
	    "\"FieldValueRequired\",\"message\":\"Required value\","
	    "\"field\":\"metadata.name\"}]},\"code\":422}";
	static const char exists[] = "{\"kind\":\"Status\",\"reason\":"
	    "\"AlreadyExists\",\"message\":\"exists\",\"code\":409}";
	static const char conflict[] = "{\"kind\":\"Status\",\"reason\":"
	    "\"Conflict\",\"message\":\"Apply failed with 1 conflict\","
	    "\"code\":409}";
	struct k8s_err	 e;
	char		 s[1024];

	(void)state;
	k8s_err_from(&e, 422, invalid, strlen(invalid));
	assert_int_equal(e.reason, K8S_INVALID);
	assert_string_equal(e.status_reason, "Invalid");
	assert_int_equal(e.ncauses, 2);
	assert_string_equal(e.causes[0].field, "spec.hard[cpu]");
	assert_string_equal(e.causes[0].type, "FieldValueInvalid");
	assert_string_equal(e.causes[1].field, "metadata.name");
	k8s_err_str(&e, s, sizeof(s));
	assert_non_null(strstr(s, "Invalid (HTTP 422)"));
	assert_non_null(strstr(s, "spec.hard[cpu]: Invalid value"));
	assert_false(k8s_retryable(&e));
	k8s_err_from(&e, 409, exists, strlen(exists));
	assert_int_equal(e.reason, K8S_ALREADY_EXISTS);
	k8s_err_from(&e, 409, conflict, strlen(conflict));
	assert_int_equal(e.reason, K8S_CONFLICT);
	/* Not a Status: still typed by the code. */
	k8s_err_from(&e, 404, "404 page not found", 18);
	assert_int_equal(e.reason, K8S_NOT_FOUND);
	assert_non_null(strstr(e.message, "not a Status"));
	k8s_err_from(&e, 503, NULL, 0);
	assert_int_equal(e.reason, K8S_SERVER_ERROR);
	assert_true(k8s_retryable(&e));
	k8s_err_from(&e, 429, NULL, 0);
	assert_true(k8s_retryable(&e));
	k8s_err_from(&e, 401, NULL, 0);
	assert_int_equal(e.reason, K8S_UNAUTHORIZED);
	assert_false(k8s_retryable(&e));
	k8s_err_from(&e, 403, NULL, 0);
	assert_int_equal(e.reason, K8S_FORBIDDEN);
	k8s_err_from(&e, 410, NULL, 0);
	assert_int_equal(e.reason, K8S_GONE);
	k8s_err_from(&e, 418, NULL, 0);
	assert_int_equal(e.reason, K8S_OTHER);
	assert_false(k8s_retryable(&e));
	k8s_err_from(&e, 200, "{}", 2);
	assert_int_equal(e.reason, K8S_OK);
	assert_string_equal(k8s_reason_name(K8S_ALREADY_EXISTS),
	    "AlreadyExists");
}

static void
test_backoff(void **state)
{
	struct k8s	 c;
	long		 d;
	int		 n;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.backoff_ms = 200;
	c.backoff_max_ms = 5000;
	/* Equal jitter: between half and all of the exponential step. */
	assert_int_equal(k8s_backoff(&c, 0, -1, 0), 100);
	assert_int_equal(k8s_backoff(&c, 0, -1, 100), 200);
	assert_int_equal(k8s_backoff(&c, 1, -1, 0), 200);
	assert_int_equal(k8s_backoff(&c, 3, -1, 0), 800);
	for (n = 0; n < 40; n++) {
		d = k8s_backoff(&c, n, -1, (unsigned)n * 7919u);
		assert_true(d >= 100 && d <= 5000);
	}
	assert_int_equal(k8s_backoff(&c, 30, -1, 0), 2500);
	/* Retry-After is a floor, itself capped. */
	assert_int_equal(k8s_backoff(&c, 0, 3, 0), 3000);
	assert_int_equal(k8s_backoff(&c, 5, 0, 0), 2500);
	assert_int_equal(k8s_backoff(&c, 0, 100000, 0), 120000);
}

static void
test_paths(void **state)
{
	struct buf	 b = BUF_INIT(0);
	struct k8s_err	 e;
	json_t		*o;

	(void)state;
	assert_int_equal(k8s_path(&b, "v1", "Namespace", NULL, "ws-1", NULL,
	    &e), 0);
	assert_string_equal(b.data, "/api/v1/namespaces/ws-1");
	assert_int_equal(k8s_path(&b, "v1", "ConfigMap", "p", NULL, NULL, &e),
	    0);
	assert_string_equal(b.data, "/api/v1/namespaces/p/configmaps");
	assert_int_equal(k8s_path(&b, "rbac.authorization.k8s.io/v1",
	    "ClusterRole", NULL, "hxb:ws:admin", NULL, &e), 0);
	assert_string_equal(b.data,
	    "/apis/rbac.authorization.k8s.io/v1/clusterroles/hxb:ws:admin");
	assert_int_equal(k8s_path(&b, "helm.cattle.io/v1", "HelmChart",
	    "kube-system", "vc", "status", &e), 0);
	assert_string_equal(b.data, "/apis/helm.cattle.io/v1/namespaces/"
	    "kube-system/helmcharts/vc/status");
	/* Scope, names and subresources are checked. */
	assert_int_equal(k8s_path(&b, "v1", "ConfigMap", NULL, "x", NULL,
	    &e), -1);
	assert_int_equal(k8s_path(&b, "v1", "Namespace", "ns", "x", NULL,
	    &e), -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "ns", "../x", NULL,
	    &e), -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "ns", "a/b", NULL,
	    &e), -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "..", "x", NULL, &e),
	    -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "ns", "", NULL, &e),
	    -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "ns", "x", "exec", &e),
	    -1);
	assert_int_equal(k8s_path(&b, "v1", "Secret", "ns", NULL, "status",
	    &e), -1);
	assert_int_equal(k8s_path(&b, "apps/v1", "DaemonSet", "ns", "x",
	    NULL, &e), -1);
	assert_int_equal(e.reason, K8S_CONFIG);
	assert_non_null(strstr(e.message, "unknown kind"));
	o = k8s_namespace("ws-2", NULL);
	assert_int_equal(k8s_path_of(&b, o, false, NULL, &e), 0);
	assert_string_equal(b.data, "/api/v1/namespaces/ws-2");
	assert_int_equal(k8s_path_of(&b, o, true, NULL, &e), 0);
	assert_string_equal(b.data, "/api/v1/namespaces");
	json_decref(o);
	buf_release(&b);
}

/* o's field at a dotted path, as compact JSON. */
static void
field(const json_t *o, const char *path, const char *want)
{
	char		 copy[256], *p, *s;
	const json_t	*v = o;
	char		*got;

	snprintf(copy, sizeof(copy), "%s", path);
	for (s = copy; (p = strsep(&s, ".")) != NULL;)
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(p)) :
		    json_object_get(v, p);
	if (v == NULL)
		fail_msg("%s: missing", path);
	got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got %s, want %s", path, got, want);
	free(got);
}

static void
test_builders(void **state)
{
	json_t	*groups = json_pack("[s]", "hxb:ws-1:dev");
	json_t	*rules = json_pack("[{s:[s], s:[s], s:[s]}]", "apiGroups", "",
		    "resources", "pods", "verbs", "get");
	json_t	*o, *bad;
	struct k8s_helm_chart h = { .ns = "hxb", .name = "vc-1",
		.chart = "vcluster", .repo = "https://charts.loft.sh",
		.create_ns = true, .values = "a: 1\n", .backoff_limit = 0 };

	(void)state;
	o = k8s_namespace("p-1", NULL);
	field(o, "metadata.labels", "{\"app.kubernetes.io/managed-by\":"
	    "\"hexabase\"}");
	json_decref(o);
	o = k8s_role_binding("p-1", "devs", "ClusterRole", "edit", groups);
	field(o, "apiVersion", "\"rbac.authorization.k8s.io/v1\"");
	field(o, "metadata.namespace", "\"p-1\"");
	field(o, "roleRef", "{\"apiGroup\":\"rbac.authorization.k8s.io\","
	    "\"kind\":\"ClusterRole\",\"name\":\"edit\"}");
	field(o, "subjects", "[{\"apiGroup\":\"rbac.authorization.k8s.io\","
	    "\"kind\":\"Group\",\"name\":\"hxb:ws-1:dev\"}]");
	json_decref(o);
	o = k8s_cluster_role("r", rules);
	field(o, "rules.0.resources", "[\"pods\"]");
	json_decref(o);
	o = k8s_helm_chart(&h);
	field(o, "spec", "{\"chart\":\"vcluster\",\"createNamespace\":true,"
	    "\"repo\":\"https://charts.loft.sh\",\"valuesContent\":\"a: 1\\n\"}");
	json_decref(o);
	o = k8s_network_policy_isolate("p-1", "iso", "hexabase.io/system");
	field(o, "spec.policyTypes", "[\"Ingress\"]");
	field(o, "spec.ingress.0.from", "[{\"podSelector\":{}},"
	    "{\"namespaceSelector\":{\"matchLabels\":{\"hexabase.io/system\":"
	    "\"true\"}}}]");
	json_decref(o);
	/* Missing or wrong arguments give nothing. */
	assert_null(k8s_namespace(NULL, NULL));
	assert_null(k8s_role(NULL, "r", rules));
	assert_null(k8s_role("ns", "r", NULL));
	assert_null(k8s_role_binding("ns", "b", "Group", "x", groups));
	bad = json_pack("[i]", 1);
	assert_null(k8s_cluster_role_binding("b", "view", bad));
	assert_null(k8s_resource_quota("ns", "q", bad));
	json_decref(bad);
	h.chart = NULL;
	assert_null(k8s_helm_chart(&h));
	json_decref(groups);
	json_decref(rules);
}

static void
test_secret_value(void **state)
{
	json_t		*s = json_pack("{s:{s:s, s:s}}", "data", "config",
			    "aGVsbG8=", "bad", "aGVsbG8");
	unsigned char	*v;
	size_t		 n;

	(void)state;
	assert_non_null(v = k8s_secret_value(s, "config", &n));
	assert_int_equal(n, 5);
	assert_string_equal((char *)v, "hello");
	free(v);
	assert_null(k8s_secret_value(s, "bad", &n));
	assert_null(k8s_secret_value(s, "missing", &n));
	json_decref(s);
	assert_non_null(v = b64_decode("", 0, &n));
	assert_int_equal(n, 0);
	free(v);
	assert_null(b64_decode("aGVs-G8=", 8, &n));
	assert_null(b64_decode("a===", 4, &n));
}

/*
 * Nothing listens on the port: the call is retried with backoff until the
 * deadline, then fails as Unreachable.  The deadline bounds it all.
 */
static void
test_unreachable(void **state)
{
	static const char kc[] = "clusters:\n- name: c\n  cluster:\n"
	    "    server: https://127.0.0.1:1\n"
	    "contexts:\n- name: x\n  context:\n    cluster: c\n"
	    "current-context: x\n";
	struct k8s	 c;
	struct k8s_err	 e;
	long long	 t0;
	json_t		*v;

	(void)state;
	assert_int_equal(k8s_from_kubeconfig_data(&c, kc, strlen(kc), NULL,
	    NULL, &e), 0);
	c.backoff_ms = 20;
	c.backoff_max_ms = 50;
	t0 = clock_ms();
	v = k8s_get(&c, "/version", t0 + 600, &e);
	assert_null(v);
	assert_int_equal(e.reason, K8S_UNREACHABLE);
	assert_true(e.attempts >= 3);
	assert_true(clock_ms() - t0 < 2000);
	/* A deadline already passed makes no attempt. */
	v = k8s_get(&c, "/version", clock_ms() - 1, &e);
	assert_null(v);
	assert_int_equal(e.reason, K8S_TIMEOUT);
	assert_int_equal(e.attempts, 0);
	k8s_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubeconfig_current),
		cmocka_unit_test(test_kubeconfig_token),
		cmocka_unit_test(test_kubeconfig_refused),
		cmocka_unit_test(test_kubeconfig_files),
		cmocka_unit_test(test_service_account),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_secret_value),
		cmocka_unit_test(test_unreachable),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("k8s", tests, NULL, NULL);
}
