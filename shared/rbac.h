/*
 * rbac: the rules of a custom project role, checked against the ceiling.
 *
 * A custom role is a Kubernetes Role in the project's namespace.  Its
 * rules are PolicyRules written with our field names:
 *
 *	{"api_groups": ["apps"], "resources": ["deployments"],
 *	 "verbs": ["get", "list"], "resource_names": ["web"]}
 *
 * resource_names optional.  No rule may grant more than the preset
 * `admin` role does: the union of Kubernetes' aggregated admin, edit and
 * view ClusterRoles (aggregate-to-admin, -edit and -view of its bootstrap
 * policy), resource by resource and verb by verb.  No wildcard, no
 * verb Kubernetes does not know, no empty list.  docs/AUTHZ.md prints
 * the ceiling from rbac_ceiling_print().
 */
#ifndef HXB_RBAC_H
#define HXB_RBAC_H

#include <stdio.h>

#include <jansson.h>

#define RBAC_RULES_MAX	100
#define RBAC_LIST_MAX	50

/* The project roles every project has, bound to Kubernetes' own. */
extern const char *const rbac_presets[];	/* NULL-terminated */

/* Whether s names a preset role (admin, edit or view). */
int	 rbac_is_preset(const char *s);

/*
 * Check a rules array.  Every problem is appended to `errors` as
 * {field: "rules[i].verbs[j]" and so on, message}.  Returns the number of
 * problems.
 */
int	 rbac_rules_check(const json_t *rules, json_t *errors);

/* The ceiling as a Markdown table, for docs/AUTHZ.md. */
void	 rbac_ceiling_print(FILE *);

#endif
