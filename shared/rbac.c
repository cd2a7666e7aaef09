/*
 * rbac: custom role rules against the admin ceiling; see rbac.h.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rbac.h"
#include "validate.h"

enum verb {
	V_GET, V_LIST, V_WATCH, V_CREATE, V_UPDATE, V_PATCH, V_DELETE,
	V_DELETECOLLECTION, V_IMPERSONATE, V_BIND, V_ESCALATE, V_USE,
	V_PROXY, V_APPROVE, V_SIGN, V__MAX
};

static const char *const verbs[V__MAX] = {
	"get", "list", "watch", "create", "update", "patch", "delete",
	"deletecollection", "impersonate", "bind", "escalate", "use",
	"proxy", "approve", "sign",
};

#define B(v)	(1u << (v))
#define READ	(B(V_GET) | B(V_LIST) | B(V_WATCH))
#define WRITE	(B(V_CREATE) | B(V_UPDATE) | B(V_PATCH) | B(V_DELETE) | \
		 B(V_DELETECOLLECTION))
#define ALL	(READ | WRITE)

/*
 * What the preset admin role may do in its namespace: Kubernetes'
 * bootstrap policy, system:aggregate-to-admin, -edit and -view merged
 * (plugin/pkg/auth/authorizer/rbac/bootstrappolicy, testdata
 * cluster-roles.yaml).  Anything not here is beyond the ceiling.
 */
static const struct {
	const char	*group;
	const char	*resource;
	unsigned	 verbs;
} ceiling[] = {
	{ "", "pods", ALL },
	{ "", "pods/attach", ALL },
	{ "", "pods/exec", ALL },
	{ "", "pods/portforward", ALL },
	{ "", "pods/proxy", ALL },
	{ "", "pods/eviction", B(V_CREATE) },
	{ "", "pods/log", READ },
	{ "", "pods/status", READ },
	{ "", "configmaps", ALL },
	{ "", "events", ALL },
	{ "", "persistentvolumeclaims", ALL },
	{ "", "persistentvolumeclaims/status", READ },
	{ "", "replicationcontrollers", ALL },
	{ "", "replicationcontrollers/scale", ALL },
	{ "", "replicationcontrollers/status", READ },
	{ "", "secrets", ALL },
	{ "", "serviceaccounts", ALL | B(V_IMPERSONATE) },
	{ "", "serviceaccounts/token", B(V_CREATE) },
	{ "", "services", ALL },
	{ "", "services/proxy", ALL },
	{ "", "services/status", READ },
	{ "", "endpoints", READ },
	{ "", "bindings", READ },
	{ "", "limitranges", READ },
	{ "", "resourcequotas", READ },
	{ "", "resourcequotas/status", READ },
	{ "", "namespaces", READ },
	{ "", "namespaces/status", READ },
	{ "apps", "controllerrevisions", READ },
	{ "apps", "daemonsets", ALL },
	{ "apps", "daemonsets/status", READ },
	{ "apps", "deployments", ALL },
	{ "apps", "deployments/rollback", WRITE },
	{ "apps", "deployments/scale", ALL },
	{ "apps", "deployments/status", READ },
	{ "apps", "replicasets", ALL },
	{ "apps", "replicasets/scale", ALL },
	{ "apps", "replicasets/status", READ },
	{ "apps", "statefulsets", ALL },
	{ "apps", "statefulsets/scale", ALL },
	{ "apps", "statefulsets/status", READ },
	{ "autoscaling", "horizontalpodautoscalers", ALL },
	{ "autoscaling", "horizontalpodautoscalers/status", READ },
	{ "batch", "cronjobs", ALL },
	{ "batch", "cronjobs/status", READ },
	{ "batch", "jobs", ALL },
	{ "batch", "jobs/status", READ },
	{ "extensions", "daemonsets", ALL },
	{ "extensions", "daemonsets/status", READ },
	{ "extensions", "deployments", ALL },
	{ "extensions", "deployments/rollback", WRITE },
	{ "extensions", "deployments/scale", ALL },
	{ "extensions", "deployments/status", READ },
	{ "extensions", "ingresses", ALL },
	{ "extensions", "ingresses/status", READ },
	{ "extensions", "networkpolicies", ALL },
	{ "extensions", "replicasets", ALL },
	{ "extensions", "replicasets/scale", ALL },
	{ "extensions", "replicasets/status", READ },
	{ "extensions", "replicationcontrollers/scale", ALL },
	{ "policy", "poddisruptionbudgets", ALL },
	{ "policy", "poddisruptionbudgets/status", READ },
	{ "networking.k8s.io", "ingresses", ALL },
	{ "networking.k8s.io", "ingresses/status", READ },
	{ "networking.k8s.io", "networkpolicies", ALL },
	{ "discovery.k8s.io", "endpointslices", READ },
	{ "coordination.k8s.io", "leases", ALL },
	{ "rbac.authorization.k8s.io", "roles", ALL },
	{ "rbac.authorization.k8s.io", "rolebindings", ALL },
	{ "authorization.k8s.io", "localsubjectaccessreviews", B(V_CREATE) },
};

#define NCEILING	(sizeof(ceiling) / sizeof(ceiling[0]))

const char *const rbac_presets[] = { "admin", "edit", "view", NULL };

int
rbac_is_preset(const char *s)
{
	size_t	 i;

	for (i = 0; rbac_presets[i] != NULL; i++)
		if (strcmp(s, rbac_presets[i]) == 0)
			return 1;
	return 0;
}

static int
verb_of(const char *s)
{
	int	 v;

	for (v = 0; v < V__MAX; v++)
		if (strcmp(verbs[v], s) == 0)
			return v;
	return -1;
}

/* The verbs admin has on group/resource; 0 if none. */
static unsigned
ceiling_of(const char *group, const char *resource)
{
	size_t	 i;

	for (i = 0; i < NCEILING; i++)
		if (strcmp(ceiling[i].group, group) == 0 &&
		    strcmp(ceiling[i].resource, resource) == 0)
			return ceiling[i].verbs;
	return 0;
}

/*
 * A non-empty array of at most RBAC_LIST_MAX strings, each matching
 * `pattern` (a literal: validate_pattern()); problems to errors as
 * rules[i].<key>[j].  Returns the number of problems.
 */
static int
check_list(const json_t *rule, int i, const char *key, bool required,
    const char *pattern, const char *hint, json_t *errors)
{
	const json_t	*a = json_object_get(rule, key), *v;
	char		 field[96];
	size_t		 j;
	int		 n = 0;

	snprintf(field, sizeof(field), "rules[%d].%s", i, key);
	if (a == NULL) {
		if (required)
			validate_error(errors, field, "is required");
		return required ? 1 : 0;
	}
	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > RBAC_LIST_MAX) {
		validate_error(errors, field, "must be an array of 1 to 50 "
		    "strings");
		return 1;
	}
	json_array_foreach(a, j, v) {
		snprintf(field, sizeof(field), "rules[%d].%s[%zu]", i, key, j);
		if (!json_is_string(v) || json_string_length(v) > 253 ||
		    !validate_pattern(pattern, json_string_value(v))) {
			validate_error(errors, field, hint);
			n++;
		}
	}
	return n;
}

/* One rule: its shape, then each (group, resource, verb) against admin. */
static int
check_rule(const json_t *rule, int i, json_t *errors)
{
	const char	*key, *group, *resource, *verb;
	const json_t	*g, *res, *v;
	json_t		*val;
	char		 field[96], msg[300];
	size_t		 a, b, c;
	unsigned	 have;
	int		 n = 0, vb;

	snprintf(field, sizeof(field), "rules[%d]", i);
	if (!json_is_object(rule)) {
		validate_error(errors, field, "must be an object");
		return 1;
	}
	json_object_foreach((json_t *)rule, key, val) {
		if (strcmp(key, "api_groups") != 0 &&
		    strcmp(key, "resources") != 0 &&
		    strcmp(key, "verbs") != 0 &&
		    strcmp(key, "resource_names") != 0) {
			snprintf(field, sizeof(field), "rules[%d].%s", i, key);
			validate_error(errors, field, "is not a known field");
			n++;
		}
	}
	n += check_list(rule, i, "api_groups", true,
	    "([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
	    "[a-z0-9])?)*)?", "an API group: \"\" for the core group, or a "
	    "DNS name such as apps; no wildcard", errors);
	n += check_list(rule, i, "resources", true,
	    "[a-z][a-z0-9]*(/[a-z][a-z0-9]*)?", "a resource such as pods "
	    "or pods/log; no wildcard", errors);
	n += check_list(rule, i, "verbs", true, "[a-z]+",
	    "a verb such as get; no wildcard", errors);
	n += check_list(rule, i, "resource_names", false,
	    "[A-Za-z0-9]([-A-Za-z0-9_.:]*[A-Za-z0-9])?",
	    "an object name", errors);
	if (n > 0)
		return n;
	json_array_foreach(json_object_get(rule, "verbs"), c, v) {
		if (verb_of(json_string_value(v)) < 0) {
			snprintf(field, sizeof(field), "rules[%d].verbs[%zu]",
			    i, c);
			validate_error(errors, field, "is not a Kubernetes "
			    "verb");
			n++;
		}
	}
	if (n > 0)
		return n;
	/* Each combination must be within admin's; say which is not. */
	json_array_foreach(json_object_get(rule, "api_groups"), a, g) {
		group = json_string_value(g);
		json_array_foreach(json_object_get(rule, "resources"), b, res) {
			resource = json_string_value(res);
			have = ceiling_of(group, resource);
			json_array_foreach(json_object_get(rule, "verbs"), c,
			    v) {
				verb = json_string_value(v);
				vb = verb_of(verb);
				if (have & B(vb))
					continue;
				snprintf(field, sizeof(field), "rules[%d]", i);
				snprintf(msg, sizeof(msg), "%s on %s%s%s is "
				    "beyond what the admin role allows",
				    verb, group, *group ? "/" : "", resource);
				validate_error(errors, field, msg);
				n++;
			}
		}
	}
	return n;
}

int
rbac_rules_check(const json_t *rules, json_t *errors)
{
	const json_t	*rule;
	size_t		 i;
	int		 n = 0;

	if (!json_is_array(rules) || json_array_size(rules) == 0 ||
	    json_array_size(rules) > RBAC_RULES_MAX) {
		validate_error(errors, "rules", "must be an array of 1 to 100 "
		    "rules");
		return 1;
	}
	json_array_foreach(rules, i, rule)
		n += check_rule(rule, (int)i, errors);
	return n;
}

void
rbac_ceiling_print(FILE *f)
{
	size_t	 i;
	int	 v;
	char	 sep;

	fprintf(f, "| API group | resource | verbs |\n|---|---|---|\n");
	for (i = 0; i < NCEILING; i++) {
		fprintf(f, "| %s | %s | ", *ceiling[i].group ?
		    ceiling[i].group : "(core)", ceiling[i].resource);
		sep = ' ';
		for (v = 0; v < V__MAX; v++)
			if (ceiling[i].verbs & B(v)) {
				fprintf(f, "%s%s", sep == ',' ? ", " : "",
				    verbs[v]);
				sep = ',';
			}
		fprintf(f, " |\n");
	}
}
