/*
 * quota: a project's resource quota and what a workspace's plan allows.
 *
 * A quota is a JSON object of whole numbers in the plans' units:
 *
 *	{"cpu_millicores": 500, "memory_mib": 1024, "storage_gib": 10,
 *	 "pods": 20, "services": 5, "pvcs": 2}
 *
 * every key optional (absent: no quota of that kind).  The projects of a
 * workspace together must fit in its plan: their number in max_projects,
 * each kind's sum in the plan's limit of that kind.  The jobs render a
 * quota as the namespace's ResourceQuota.
 *
 * The checks run in the caller's transaction under quota_lock(), so that
 * two projects created at once cannot both take the last of a limit, nor
 * a plan change slip between a check and a create.
 */
#ifndef HXB_QUOTA_H
#define HXB_QUOTA_H

#include <stdbool.h>

#include <jansson.h>

struct req;

enum quota_kind {
	QUOTA_CPU,
	QUOTA_MEMORY,
	QUOTA_STORAGE,
	QUOTA_PODS,
	QUOTA_SERVICES,
	QUOTA_PVCS,
	QUOTA__MAX
};

/* The key of a kind in a quota object, e.g. "cpu_millicores". */
const char	*quota_key(enum quota_kind);

/*
 * Check the shape of a quota object: known keys, whole numbers from 0 to
 * 10^9.  Problems go to `errors` as {field: "<prefix>.<key>", message}.
 * Returns the number of problems.
 */
int		 quota_check(const json_t *quota, const char *prefix,
		    json_t *errors);

/* Serialize plan changes and project quotas of a workspace; 0 or -1. */
int		 quota_lock(struct req *, const char *ws_id);

/*
 * Whether the workspace's projects fit in `plan_id` (one of the catalog
 * still offered, if `active`; 422 "unknown plan" otherwise), with the
 * project
 * `except` (NULL for none) counted as `quota` instead of what it has now,
 * and one more project if `adding`.  0 if they fit; -1 after answering:
 * 422 naming each limit passed, or a database error.  The errors name
 * `field` ("plan_id", say); with field "quota", a kind's error names
 * "quota.<key>" and the number of projects names no field.
 * Rolls back on -1.
 */
int		 quota_fits(struct req *, const char *ws_id,
		    const char *plan_id, bool active, const char *except,
		    const json_t *quota, bool adding, const char *field);

#endif
