/*
 * plans: the public plan catalog.
 *
 *   GET /api/v1/plans?limit=&cursor=	active plans, cheapest first
 *   GET /api/v1/plans/{planId}		one active plan
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cursor.h"

#define PLAN_COLS \
	"id, name, description, price_cents, currency, cpu_millicores, " \
	"memory_mib, storage_gib, max_pods, max_services, max_pvcs, " \
	"max_projects, max_members, isolation, sort_order"

enum plan_col {
	COL_ID, COL_NAME, COL_DESCRIPTION, COL_PRICE, COL_CURRENCY, COL_CPU,
	COL_MEMORY, COL_STORAGE, COL_PODS, COL_SERVICES, COL_PVCS,
	COL_PROJECTS, COL_MEMBERS, COL_ISOLATION, COL_SORT, COL__MAX
};

static const struct db_stmt stmt_get = { "plans_get",
	"SELECT " PLAN_COLS " FROM plans WHERE id = $1 AND active", 1 };

static const struct db_stmt stmt_list = { "plans_list",
	"SELECT " PLAN_COLS " FROM plans WHERE active "
	"AND (sort_order, id) > ($1::integer, $2::text) "
	"ORDER BY sort_order, id LIMIT $3::integer", 3 };

enum list_field { LIST_LIMIT, LIST_CURSOR, LIST__MAX };

static const struct field list_query[LIST__MAX + 1] = {
	[LIST_LIMIT] = { "limit", FIELD_INT, false, false, 1, 100, NULL,
	    NULL },
	[LIST_CURSOR] = { "cursor", FIELD_STRING, false, false, 1,
	    CURSOR_MAX - 1, "[A-Za-z0-9_-]+",
	    "must be a next_cursor from an earlier page" },
	[LIST__MAX] = { NULL },
};

static void	 list_plans(struct req *);
static void	 get_plan(struct req *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/plans", list_plans, "list_plans", NULL,
	    list_query },
	{ HTTP_GET, "/api/v1/plans/{planId}", get_plan, "get_plan", NULL,
	    NULL },
};

/* 2000 millicores -> "2", 500 -> "500m". */
static json_t *
quantity_cpu(long m)
{
	char	 s[32];

	if (m % 1000 == 0)
		snprintf(s, sizeof(s), "%ld", m / 1000);
	else
		snprintf(s, sizeof(s), "%ldm", m);
	return json_string(s);
}

/* 4096 MiB -> "4Gi", 512 -> "512Mi". */
static json_t *
quantity_mib(long mib)
{
	char	 s[32];

	if (mib % 1024 == 0)
		snprintf(s, sizeof(s), "%ldGi", mib / 1024);
	else
		snprintf(s, sizeof(s), "%ldMi", mib);
	return json_string(s);
}

static long
col_long(const PGresult *res, int row, enum plan_col c)
{
	return strtol(PQgetvalue(res, row, c), NULL, 10);
}

static json_t *
plan_json(const PGresult *res, int row)
{
	char	 storage[32];

	snprintf(storage, sizeof(storage), "%sGi",
	    PQgetvalue(res, row, COL_STORAGE));
	return json_pack("{s:s, s:s, s:s, s:{s:i, s:s, s:s}, "
	    "s:{s:o, s:o, s:s, s:i, s:i, s:i}, s:{s:i, s:i}, s:s}",
	    "id", PQgetvalue(res, row, COL_ID),
	    "name", PQgetvalue(res, row, COL_NAME),
	    "description", PQgetvalue(res, row, COL_DESCRIPTION),
	    "price",
		"amount", (int)col_long(res, row, COL_PRICE),
		"currency", PQgetvalue(res, row, COL_CURRENCY),
		"interval", "month",
	    "quotas",
		"cpu", quantity_cpu(col_long(res, row, COL_CPU)),
		"memory", quantity_mib(col_long(res, row, COL_MEMORY)),
		"storage", storage,
		"pods", (int)col_long(res, row, COL_PODS),
		"services", (int)col_long(res, row, COL_SERVICES),
		"persistentvolumeclaims", (int)col_long(res, row, COL_PVCS),
	    "limits",
		"max_projects", (int)col_long(res, row, COL_PROJECTS),
		"max_members", (int)col_long(res, row, COL_MEMBERS),
	    "isolation", PQgetvalue(res, row, COL_ISOLATION));
}

static void
db_failed(struct req *r)
{
	if (r->app->db.err == DB_ERR_QUERY)
		http_problem(r, PROBLEM_INTERNAL, "the plan catalog could not "
		    "be read", NULL);
	else
		http_problem(r, PROBLEM_UNAVAILABLE, "the database is not "
		    "reachable; try again shortly", NULL);
}

static void
get_plan(struct req *r)
{
	const char	*id = http_param(r, "planId");
	const char	*params[1] = { id };
	PGresult	*res;

	http_set_resource(r, "plans/%s", id);
	/* Ids are DNS labels; anything else cannot exist. */
	if (strlen(id) > 63 || strspn(id, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789-") != strlen(id)) {
		http_problem(r, PROBLEM_NOT_FOUND, "no such plan", NULL);
		return;
	}
	if ((res = db_exec(&r->app->db, &stmt_get, params)) == NULL) {
		db_failed(r);
		return;
	}
	if (PQntuples(res) == 0)
		http_problem(r, PROBLEM_NOT_FOUND, "no such plan", NULL);
	else {
		http_header(r, "Cache-Control", "public, max-age=60");
		http_json(r, 200, plan_json(res, 0));
	}
	PQclear(res);
}

static void
list_plans(struct req *r)
{
	long long	 limit = r->qv.present[LIST_LIMIT] ?
			    r->qv.num[LIST_LIMIT] : 100;
	long long	 after_key = INT_MIN;
	char		 after_id[CURSOR_ID_MAX] = "";
	char		 key[32], lim[32], next[CURSOR_MAX];
	const char	*params[3] = { key, after_id, lim };
	PGresult	*res;
	json_t		*items;
	int		 i, n;

	http_set_resource(r, "plans");
	if (r->qv.present[LIST_CURSOR] &&
	    (cursor_decode(r->qv.str[LIST_CURSOR], &after_key, after_id) != 0
	    || after_key < INT_MIN || after_key > INT_MAX)) {
		json_t *errors = json_array();

		validate_error(errors, "cursor",
		    "must be a next_cursor from an earlier page");
		http_problem(r, PROBLEM_INVALID_QUERY, "the cursor is not "
		    "valid", errors);
		return;
	}
	snprintf(key, sizeof(key), "%lld", after_key);
	snprintf(lim, sizeof(lim), "%lld", limit + 1);
	if ((res = db_exec(&r->app->db, &stmt_list, params)) == NULL) {
		db_failed(r);
		return;
	}
	items = json_array();
	n = PQntuples(res);
	for (i = 0; i < n && i < limit; i++)
		json_array_append_new(items, plan_json(res, i));
	if (n > limit && cursor_encode(col_long(res, i - 1, COL_SORT),
	    PQgetvalue(res, i - 1, COL_ID), next) == 0)
		http_json(r, 200, json_pack("{s:o, s:s}", "items", items,
		    "next_cursor", next));
	else
		http_json(r, 200, json_pack("{s:o, s:n}", "items", items,
		    "next_cursor"));
	PQclear(res);
}

int
main(int argc, char **argv)
{
	return app_main("plans", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}
