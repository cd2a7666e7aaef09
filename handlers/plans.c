/*
 * plans: the public plan catalog.
 *
 *   GET /api/v1/plans?limit=&cursor=	active plans, cheapest first
 *   GET /api/v1/plans/{planId}		one active plan
 *
 * The catalog is a handful of rows that change rarely, so each worker
 * keeps the whole of it for HXB_PLANS_CACHE_MS (1 s by default) and answers
 * both routes from that copy: the seed's "conditional caching of API
 * responses".  A change reaches every worker within that time.  With 0,
 * every request reads the database.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "clock.h"
#include "cursor.h"
#include "jsonw.h"
#include "page.h"

#define PLAN_COLS \
	"id, name, description, price_cents, currency, cpu_millicores, " \
	"memory_mib, storage_gib, max_pods, max_services, max_pvcs, " \
	"max_projects, max_members, isolation, sort_order"

enum plan_col {
	COL_ID, COL_NAME, COL_DESCRIPTION, COL_PRICE, COL_CURRENCY, COL_CPU,
	COL_MEMORY, COL_STORAGE, COL_PODS, COL_SERVICES, COL_PVCS,
	COL_PROJECTS, COL_MEMBERS, COL_ISOLATION, COL_SORT, COL__MAX
};

static const struct db_stmt stmt_catalog = { "plans_catalog",
	"SELECT " PLAN_COLS " FROM plans WHERE active "
	"ORDER BY sort_order, id LIMIT 1000", 0 };

/* The worker's copy of the catalog. */
struct catalog {
	PGresult	*res;		/* owned; NULL until first read */
	long long	 loaded_ms;	/* CLOCK_MONOTONIC */
};

static void	 list_plans(struct req *);
static void	 get_plan(struct req *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/plans", list_plans, PERM_PUBLIC, "list_plans",
	    NULL, page_query },
	{ HTTP_GET, "/api/v1/plans/{planId}", get_plan, PERM_PUBLIC,
	    "get_plan", NULL, NULL },
};

static long
col_long(const PGresult *res, int row, enum plan_col c)
{
	return strtol(PQgetvalue(res, row, c), NULL, 10);
}

static void
kv_col(struct jsonw *w, const char *k, const PGresult *res, int row,
    enum plan_col c)
{
	jsonw_kv_string(w, k, PQgetvalue(res, row, c));
}

static void
kv_num(struct jsonw *w, const char *k, const PGresult *res, int row,
    enum plan_col c)
{
	jsonw_kv_int(w, k, col_long(res, row, c));
}

/*
 * Quotas as Kubernetes quantities: 2000 millicores -> "2", 500 -> "500m";
 * 4096 MiB -> "4Gi", 512 -> "512Mi"; storage is whole GiB.
 */
static void
kv_quantity(struct jsonw *w, const char *k, long v, long unit,
    const char *whole, const char *part)
{
	char	 s[32];

	if (v % unit == 0)
		snprintf(s, sizeof(s), "%ld%s", v / unit, whole);
	else
		snprintf(s, sizeof(s), "%ld%s", v, part);
	jsonw_kv_string(w, k, s);
}

static void
plan_write(struct jsonw *w, const PGresult *res, int row)
{
	jsonw_object(w);
	kv_col(w, "id", res, row, COL_ID);
	kv_col(w, "name", res, row, COL_NAME);
	kv_col(w, "description", res, row, COL_DESCRIPTION);
	jsonw_key(w, "price");
	jsonw_object(w);
	kv_num(w, "amount", res, row, COL_PRICE);
	kv_col(w, "currency", res, row, COL_CURRENCY);
	jsonw_kv_string(w, "interval", "month");
	jsonw_object_end(w);
	jsonw_key(w, "quotas");
	jsonw_object(w);
	kv_quantity(w, "cpu", col_long(res, row, COL_CPU), 1000, "", "m");
	kv_quantity(w, "memory", col_long(res, row, COL_MEMORY), 1024, "Gi",
	    "Mi");
	kv_quantity(w, "storage", col_long(res, row, COL_STORAGE), 1, "Gi",
	    "Gi");
	kv_num(w, "pods", res, row, COL_PODS);
	kv_num(w, "services", res, row, COL_SERVICES);
	kv_num(w, "persistentvolumeclaims", res, row, COL_PVCS);
	jsonw_object_end(w);
	jsonw_key(w, "limits");
	jsonw_object(w);
	kv_num(w, "max_projects", res, row, COL_PROJECTS);
	kv_num(w, "max_members", res, row, COL_MEMBERS);
	jsonw_object_end(w);
	kv_col(w, "isolation", res, row, COL_ISOLATION);
	jsonw_object_end(w);
}

/*
 * The catalog, fresh enough; borrowed until the next call.  NULL when the
 * database cannot be read, after a problem has been sent.
 */
static const PGresult *
catalog_get(struct req *r)
{
	struct catalog	*c = r->app->arg;
	long long	 ttl = config_int(&r->app->cfg, CFG_PLANS_CACHE_MS);
	PGresult	*res;

	if (c->res != NULL && ttl > 0 && clock_ms() - c->loaded_ms < ttl)
		return c->res;
	if ((res = db_exec(&r->app->db, &stmt_catalog, NULL)) == NULL) {
		if (r->app->db.err == DB_ERR_QUERY)
			http_problem(r, PROBLEM_INTERNAL, "the plan catalog "
			    "could not be read", NULL);
		else {
			http_header(r, "Retry-After", "1");
			http_problem(r, PROBLEM_UNAVAILABLE, "the database is "
			    "not reachable; try again shortly", NULL);
		}
		return NULL;
	}
	PQclear(c->res);
	c->res = res;
	c->loaded_ms = clock_ms();
	return res;
}

static void
get_plan(struct req *r)
{
	const char	*id = http_param(r, "planId");
	const PGresult	*res;
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;
	int		 i, n;

	http_set_resource(r, "plans/%s", id);
	if ((res = catalog_get(r)) == NULL)
		return;
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		if (strcmp(PQgetvalue(res, i, COL_ID), id) == 0)
			break;
	if (i == n) {
		http_problem(r, PROBLEM_NOT_FOUND, "no such plan", NULL);
		return;
	}
	jsonw_init(&w, &b);
	plan_write(&w, res, i);
	http_header(r, "Cache-Control", "public, max-age=60");
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

/* Rows sort by (sort_order, id); a page starts after the cursor's row. */
static bool
row_after(const PGresult *res, int i, long long key, const char *id)
{
	long long	 k = col_long(res, i, COL_SORT);

	return k > key || (k == key && strcmp(PQgetvalue(res, i, COL_ID),
	    id) > 0);
}

static void
list_plans(struct req *r)
{
	struct page	 pg;
	char		 next[CURSOR_MAX];
	const PGresult	*res;
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;
	int		 i, n, last = -1;
	long long	 count = 0;

	http_set_resource(r, "plans");
	if (page_read(r, 100, &pg) != 0)
		return;
	if ((res = catalog_get(r)) == NULL)
		return;
	n = PQntuples(res);
	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_key(&w, "items");
	jsonw_array(&w);
	for (i = 0; i < n; i++) {
		if (!row_after(res, i, pg.key, pg.after))
			continue;
		if (count == pg.limit)
			break;
		plan_write(&w, res, i);
		last = i;
		count++;
	}
	jsonw_array_end(&w);
	if (i < n && last >= 0 && cursor_encode(col_long(res, last, COL_SORT),
	    PQgetvalue(res, last, COL_ID), next) == 0)
		jsonw_kv_string(&w, "next_cursor", next);
	else
		jsonw_kv_null(&w, "next_cursor");
	jsonw_object_end(&w);
	http_header(r, "Cache-Control", "public, max-age=60");
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

int
main(int argc, char **argv)
{
	struct catalog	 catalog = { NULL, 0 };
	struct app	 app;
	int		 rc;

	if ((rc = app_routes("plans", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv)) != 0)
		return rc > 0 ? 0 : 2;
	if ((rc = app_init(&app, "plans", argc, argv, app_route_flags)) != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : 2;
	}
	app.arg = &catalog;
	rc = app_serve(&app, routes, sizeof(routes) / sizeof(routes[0]));
	PQclear(catalog.res);
	app_fini(&app);
	return rc;
}
