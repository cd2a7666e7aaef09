/*
 * k8sc: the shared/k8s client from the command line, for the tests of
 * t/k8s against a real API server.  Never installed.
 *
 *   k8sc [options] VERB ARGS
 *	-k FILE		kubeconfig
 *	-s DIR		in-cluster service account directory instead
 *	-c NAME		kubeconfig context
 *	-d MS		deadline of each call (default 30000)
 *	-a MS		timeout of one attempt
 *	-m NAME		field manager (default hexabase)
 *	-F		apply without force
 *
 *   get PATH | list PATH LIMIT [CONTINUE] | list-all PATH LIMIT |
 *   delete PATH | apply FILE | create FILE | status FILE |
 *   apply-status FILE | builders NS | helmchart NS NAME |
 *   secret PATH KEY | sequence NS PREFIX N | version
 *
 * FILE is a JSON object, or - for standard input.  An answer is printed
 * as JSON; a failure as "error: Reason code=N attempts=N: message" and a
 * "cause:" line for each cause, with exit status 1.  Usage: status 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "k8s.h"
#include "log.h"

static long	 deadline_ms = 30000;

static int
usage(void)
{
	fprintf(stderr, "usage: k8sc [-k kubeconfig | -s sa-dir] [-c context] "
	    "[-d ms] [-a ms] [-m manager] [-F] verb args\n");
	return 2;
}

static long long
deadline(void)
{
	return clock_ms() + deadline_ms;
}

static int
fail(const struct k8s_err *e)
{
	size_t	 i;

	printf("error: %s code=%ld attempts=%d status_reason=%s: %s\n",
	    k8s_reason_name(e->reason), e->code, e->attempts,
	    e->status_reason, e->message);
	for (i = 0; i < e->ncauses; i++)
		printf("cause: %s %s: %s\n", e->causes[i].type,
		    e->causes[i].field, e->causes[i].message);
	return 1;
}

static int
print(json_t *v, const struct k8s_err *e)
{
	if (v == NULL)
		return fail(e);
	json_dumpf(v, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	printf("\n");
	json_decref(v);
	return 0;
}

static json_t *
load(const char *file)
{
	json_error_t	 je;
	json_t		*v;

	v = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &je) :
	    json_load_file(file, 0, &je);
	if (v == NULL)
		fprintf(stderr, "k8sc: %s: %s\n", file, je.text);
	return v;
}

/* Apply one object of each builder; print "ok Kind name" for each. */
static int
builders(struct k8s *c, const char *ns)
{
	struct k8s_err	 e;
	json_t		*objs[9], *rules, *groups, *hard, *limits, *labels, *v;
	size_t		 i, n = 0;
	int		 rc = 0;

	rules = json_pack("[{s:[s], s:[s], s:[s, s]}]", "apiGroups", "",
	    "resources", "configmaps", "verbs", "get", "list");
	groups = json_pack("[s, s]", "hxb:ws-1:developers", "hxb:ws-1:qa");
	hard = json_pack("{s:s, s:s, s:s}", "requests.cpu", "2",
	    "requests.memory", "4Gi", "pods", "20");
	limits = json_pack("[{s:s, s:{s:s, s:s}, s:{s:s, s:s}}]", "type",
	    "Container", "default", "cpu", "500m", "memory", "512Mi",
	    "defaultRequest", "cpu", "100m", "memory", "128Mi");
	labels = json_pack("{s:s}", "hexabase.io/workspace", "ws-1");
	objs[n++] = k8s_namespace(ns, labels);
	objs[n++] = k8s_cluster_role("hxb-test-reader", rules);
	objs[n++] = k8s_cluster_role_binding("hxb-test-readers",
	    "hxb-test-reader", groups);
	objs[n++] = k8s_role(ns, "reader", rules);
	objs[n++] = k8s_role_binding(ns, "readers", "Role", "reader", groups);
	objs[n++] = k8s_role_binding(ns, "viewers", "ClusterRole", "view",
	    groups);
	objs[n++] = k8s_resource_quota(ns, "hexabase-quota", hard);
	objs[n++] = k8s_limit_range(ns, "hexabase-limits", limits);
	objs[n++] = k8s_network_policy_isolate(ns, "hexabase-isolation",
	    "hexabase.io/system");
	for (i = 0; i < n; i++) {
		if (objs[i] == NULL) {
			printf("error: builder %zu gave nothing\n", i);
			rc = 1;
			continue;
		}
		if ((v = k8s_apply(c, objs[i], NULL, deadline(), &e)) == NULL) {
			rc = fail(&e);
		} else {
			printf("ok %s %s\n", json_string_value(json_object_get(v,
			    "kind")), json_string_value(json_object_get(
			    json_object_get(v, "metadata"), "name")));
			json_decref(v);
		}
		json_decref(objs[i]);
	}
	json_decref(rules);
	json_decref(groups);
	json_decref(hard);
	json_decref(limits);
	json_decref(labels);
	return rc;
}

static int
helmchart(struct k8s *c, const char *ns, const char *name)
{
	struct k8s_helm_chart	 h = {
		.ns = ns, .name = name, .chart = "vcluster",
		.repo = "https://charts.loft.sh", .version = "0.20.0",
		.target_ns = "hxb-ws-1", .create_ns = true,
		.values = "controlPlane:\n  distro:\n    k3s:\n      enabled: "
		    "true\n", .timeout = "10m", .backoff_limit = 3,
		.failure_policy = "reinstall",
	};
	struct k8s_err		 e;
	json_t			*o = k8s_helm_chart(&h);
	int			 rc;

	if (o == NULL) {
		printf("error: the builder gave nothing\n");
		return 1;
	}
	rc = print(k8s_apply(c, o, NULL, deadline(), &e), &e);
	json_decref(o);
	return rc;
}

/* Follow continue tokens; print each page's names, then the totals. */
static int
list_all(struct k8s *c, const char *path, long limit)
{
	struct k8s_err	 e;
	json_t		*page, *it;
	char		*cont = NULL;
	const char	*next;
	size_t		 i, items = 0, pages = 0;

	do {
		if ((page = k8s_list(c, path, limit, cont, deadline(), &e)) ==
		    NULL) {
			free(cont);
			return fail(&e);
		}
		pages++;
		printf("page %zu:", pages);
		json_array_foreach(json_object_get(page, "items"), i, it) {
			printf(" %s", json_string_value(json_object_get(
			    json_object_get(it, "metadata"), "name")));
			items++;
		}
		printf("\n");
		free(cont);
		next = json_string_value(json_object_get(json_object_get(page,
		    "metadata"), "continue"));
		cont = next != NULL && *next != '\0' ? strdup(next) : NULL;
		json_decref(page);
	} while (cont != NULL);
	printf("items %zu pages %zu\n", items, pages);
	return 0;
}

/* Apply n ConfigMaps, 200 ms apart, each with the full deadline. */
static int
sequence(struct k8s *c, const char *ns, const char *prefix, int n)
{
	struct timespec	 ts = { 0, 200000000L };
	struct k8s_err	 e;
	json_t		*o, *v;
	char		 name[128];
	int		 i, rc = 0;

	for (i = 1; i <= n; i++) {
		snprintf(name, sizeof(name), "%s-%d", prefix, i);
		o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i}}", "apiVersion",
		    "v1", "kind", "ConfigMap", "metadata", "name", name,
		    "namespace", ns, "data", "i", i);
		/* data values are strings */
		json_object_set_new(json_object_get(o, "data"), "i",
		    json_sprintf("%d", i));
		if ((v = k8s_apply(c, o, NULL, deadline(), &e)) == NULL)
			rc = fail(&e);
		else
			printf("ok %d attempts=%d\n", i, e.attempts);
		fflush(stdout);
		json_decref(v);
		json_decref(o);
		nanosleep(&ts, NULL);
	}
	return rc;
}

int
main(int argc, char *argv[])
{
	struct k8s		 c;
	struct k8s_err		 e;
	struct k8s_apply_opts	 ao = { NULL, false, false, NULL };
	struct logger		 log;
	const char		*kc = NULL, *sa = NULL, *ctx = NULL, *verb;
	unsigned char		*sv;
	size_t			 len;
	json_t			*o, *v;
	long			 attempt_ms = 0;
	int			 ch, rc;

	while ((ch = getopt(argc, argv, "k:s:c:d:a:m:F")) != -1) {
		switch (ch) {
		case 'k':
			kc = optarg;
			break;
		case 's':
			sa = optarg;
			break;
		case 'c':
			ctx = optarg;
			break;
		case 'd':
			deadline_ms = atol(optarg);
			break;
		case 'a':
			attempt_ms = atol(optarg);
			break;
		case 'm':
			ao.manager = optarg;
			break;
		case 'F':
			ao.no_force = true;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || (kc == NULL) == (sa == NULL))
		return usage();
	verb = argv[0];
	if ((kc != NULL ? k8s_from_kubeconfig(&c, kc, ctx, &e) :
	    k8s_from_service_account(&c, sa, &e)) != 0)
		return fail(&e);
	log_init(&log, "k8sc", LOGL_INFO, 2);
	c.log = &log;
	if (attempt_ms > 0)
		c.attempt_ms = attempt_ms;
	rc = 2;
	if (strcmp(verb, "get") == 0 && argc == 2)
		rc = print(k8s_get(&c, argv[1], deadline(), &e), &e);
	else if (strcmp(verb, "version") == 0 && argc == 1) {
		if ((v = k8s_get(&c, "/version", deadline(), &e)) == NULL)
			rc = fail(&e);
		else {
			printf("%s\n", json_string_value(json_object_get(v,
			    "gitVersion")));
			json_decref(v);
			rc = 0;
		}
	} else if (strcmp(verb, "list") == 0 && (argc == 3 || argc == 4))
		rc = print(k8s_list(&c, argv[1], atol(argv[2]), argc == 4 ?
		    argv[3] : NULL, deadline(), &e), &e);
	else if (strcmp(verb, "list-all") == 0 && argc == 3)
		rc = list_all(&c, argv[1], atol(argv[2]));
	else if (strcmp(verb, "delete") == 0 && argc == 2) {
		rc = k8s_delete(&c, argv[1], deadline(), &e) == 0 ? 0 :
		    fail(&e);
		if (rc == 0)
			printf("deleted\n");
	} else if ((strcmp(verb, "apply") == 0 || strcmp(verb, "create") ==
	    0 || strcmp(verb, "status") == 0 || strcmp(verb, "apply-status")
	    == 0) && argc == 2) {
		if ((o = load(argv[1])) == NULL)
			rc = 2;
		else {
			if (strcmp(verb, "apply") == 0)
				v = k8s_apply(&c, o, &ao, deadline(), &e);
			else if (strcmp(verb, "create") == 0)
				v = k8s_create(&c, o, deadline(), &e);
			else if (strcmp(verb, "status") == 0)
				v = k8s_get_status(&c, o, deadline(), &e);
			else
				v = k8s_apply_status(&c, o, deadline(), &e);
			rc = print(v, &e);
			json_decref(o);
		}
	} else if (strcmp(verb, "builders") == 0 && argc == 2)
		rc = builders(&c, argv[1]);
	else if (strcmp(verb, "helmchart") == 0 && argc == 3)
		rc = helmchart(&c, argv[1], argv[2]);
	else if (strcmp(verb, "secret") == 0 && argc == 3) {
		if ((v = k8s_get(&c, argv[1], deadline(), &e)) == NULL)
			rc = fail(&e);
		else {
			sv = k8s_secret_value(v, argv[2], &len);
			rc = sv == NULL ? 1 : 0;
			if (sv != NULL)
				printf("%s\n", (char *)sv);
			else
				printf("error: no such key\n");
			free(sv);
			json_decref(v);
		}
	} else if (strcmp(verb, "sequence") == 0 && argc == 4)
		rc = sequence(&c, argv[1], argv[2], atoi(argv[3]));
	else
		(void)usage();
	log_flush();
	k8s_free(&c);
	return rc;
}
