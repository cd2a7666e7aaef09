/*
 * quota: project quotas against plans; see quota.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "http.h"
#include "quota.h"
#include "tenant.h"
#include "validate.h"

#define QUOTA_VALUE_MAX	1000000000LL

static const char *const keys[QUOTA__MAX] = {
	[QUOTA_CPU] = "cpu_millicores",
	[QUOTA_MEMORY] = "memory_mib",
	[QUOTA_STORAGE] = "storage_gib",
	[QUOTA_PODS] = "pods",
	[QUOTA_SERVICES] = "services",
	[QUOTA_PVCS] = "pvcs",
};

static const struct db_stmt st_lock = { "quota_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended('quota ' || $1, 7))", 1 };

/* Column 0 the number of projects, then one per kind, in enum order. */
static const struct db_stmt st_limits = { "quota_limits",
    "SELECT max_projects, cpu_millicores, memory_mib, storage_gib, "
    "max_pods, max_services, max_pvcs, active FROM plans WHERE id = $1", 1 };

static const struct db_stmt st_usage = { "quota_usage",
    "SELECT count(*), "
    "coalesce(sum((quota->>'cpu_millicores')::bigint), 0), "
    "coalesce(sum((quota->>'memory_mib')::bigint), 0), "
    "coalesce(sum((quota->>'storage_gib')::bigint), 0), "
    "coalesce(sum((quota->>'pods')::bigint), 0), "
    "coalesce(sum((quota->>'services')::bigint), 0), "
    "coalesce(sum((quota->>'pvcs')::bigint), 0) "
    "FROM projects WHERE workspace_id = $1 "
    "AND ($2::text IS NULL OR id <> $2)", 2 };

const char *
quota_key(enum quota_kind k)
{
	return (unsigned)k < QUOTA__MAX ? keys[k] : "unknown";
}

static int
quota_kind_of(const char *key)
{
	int	 k;

	for (k = 0; k < QUOTA__MAX; k++)
		if (strcmp(keys[k], key) == 0)
			return k;
	return -1;
}

int
quota_check(const json_t *quota, const char *prefix, json_t *errors)
{
	const char	*key;
	json_t		*v;
	char		 field[128];
	int		 n = 0;

	if (!json_is_object(quota)) {
		validate_error(errors, prefix, "must be an object");
		return 1;
	}
	json_object_foreach((json_t *)quota, key, v) {
		snprintf(field, sizeof(field), "%s.%s", prefix, key);
		if (quota_kind_of(key) < 0) {
			validate_error(errors, field, "is not a known quota: "
			    "cpu_millicores, memory_mib, storage_gib, pods, "
			    "services or pvcs");
			n++;
		} else if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > QUOTA_VALUE_MAX) {
			validate_error(errors, field, "must be a whole number "
			    "from 0 to 1000000000");
			n++;
		}
	}
	return n;
}

int
quota_lock(struct req *r, const char *ws_id)
{
	const char	*params[1] = { ws_id };

	return tenant_run(r, &st_lock, params);
}

int
quota_fits(struct req *r, const char *ws_id, const char *plan_id,
    bool active, const char *except, const json_t *quota, bool adding,
    const char *field)
{
	const char	*params[2];
	PGresult	*lim = NULL, *use = NULL;
	json_t		*errors = NULL, *v;
	long long	 want, allow;
	char		 msg[200], name[64];
	int		 k, rc = -1;

	params[0] = plan_id;
	if ((lim = db_exec(&r->app->db, &st_limits, params)) == NULL)
		goto dberr;
	if (PQntuples(lim) != 1 || (active && strcmp(PQgetvalue(lim, 0,
	    QUOTA__MAX + 1), "t") != 0)) {
		tenant_invalid(r, field, "no such plan", "unknown plan");
		goto out;
	}
	params[0] = ws_id;
	params[1] = except;
	if ((use = db_exec(&r->app->db, &st_usage, params)) == NULL)
		goto dberr;
	errors = json_array();
	/* Column 0 is the count of projects; 1 + k the kind k. */
	for (k = -1; k < QUOTA__MAX; k++) {
		want = atoll(PQgetvalue(use, 0, k + 1));
		allow = atoll(PQgetvalue(lim, 0, k + 1));
		if (k < 0 && adding)
			want++;
		if (k >= 0 && quota != NULL &&
		    (v = json_object_get(quota, keys[k])) != NULL)
			want += json_integer_value(v);
		if (want <= allow)
			continue;
		snprintf(msg, sizeof(msg), "the workspace would use %lld %s; "
		    "its plan allows %lld", want, k < 0 ? "projects" : keys[k],
		    allow);
		/* On a project, a kind's error names its quota field. */
		if (strcmp(field, "quota") != 0)
			snprintf(name, sizeof(name), "%s", field);
		else if (k < 0)
			name[0] = '\0';
		else
			snprintf(name, sizeof(name), "quota.%s", keys[k]);
		validate_error(errors, name, msg);
	}
	if (json_array_size(errors) > 0) {
		http_problem(r, PROBLEM_VALIDATION, "that does not fit in the "
		    "workspace's plan", errors);
		errors = NULL;
		tenant_end(r);
		goto out;
	}
	rc = 0;
	goto out;
dberr:
	tenant_db_problem(r);
out:
	json_decref(errors);
	PQclear(lim);
	PQclear(use);
	return rc;
}
