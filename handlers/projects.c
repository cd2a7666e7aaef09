/*
 * projects: a workspace's projects, each a namespace in its vCluster.
 *
 *   POST   /api/v1/workspaces/{wsId}/projects
 *				{name, display_name?, parent_id?, quota?,
 *				 network_isolated?}
 *   GET    /api/v1/workspaces/{wsId}/projects
 *   GET    /api/v1/projects/{projectId}
 *   PATCH  /api/v1/projects/{projectId}
 *				{display_name?, parent_id?, quota?,
 *				 network_isolated?}
 *   DELETE /api/v1/projects/{projectId}
 *				409 while it has child projects
 *
 * A project's name is its namespace: an RFC 1123 label that Kubernetes
 * does not keep for itself (default, kube-*), and it never changes.  The
 * plan limits how many projects a workspace has and what their quotas
 * add up to (quota.h); both are checked under the workspace's quota
 * lock, so racing creates cannot overrun them.  A parent (the namespace
 * hierarchy) is a project of the same workspace, never a descendant.
 * Every change enqueues the workspace's RBAC sync (0004_rbac.sql), which
 * the jobs apply to the vCluster.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "quota.h"
#include "scope.h"
#include "tenant.h"

#define NS_NAME		"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
#define PROJECT_ID	"prj-[0-7][0-9a-hjkmnp-tv-z]{25}"

#define PROJECT_COLS \
	"p.id, p.workspace_id, p.name, p.display_name, p.parent_project_id, " \
	"p.quota, p.status, p.created_at, p.updated_at, p.network_isolated"

static const struct db_stmt st_get = { "projects_get",
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.id = $1", 1 };
static const struct db_stmt st_list = { "projects_list",
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.workspace_id = $1 "
    "AND p.id > $2 ORDER BY p.id LIMIT $3::int", 3 };
static const struct db_stmt st_plan = { "projects_plan",
    "SELECT plan_id FROM workspaces WHERE id = $1", 1 };
static const struct db_stmt st_insert = { "projects_insert",
    "INSERT INTO projects (id, workspace_id, name, display_name, "
    "parent_project_id, quota, network_isolated) VALUES ($1, $2, $3, $4, "
    "$5, coalesce($6::jsonb, '{}'), coalesce($7::boolean, true))", 7 };
/*
 * A delete locks the project against new children (their foreign keys
 * wait); a change takes no more than it needs, so that a concurrent
 * move towards this project does not deadlock with it on the hierarchy
 * lock (0004_rbac.sql).
 */
static const struct db_stmt st_lock = { "projects_lock",
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.id = $1 FOR UPDATE",
    1 };
static const struct db_stmt st_lock_change = { "projects_lock_change",
    "SELECT " PROJECT_COLS " FROM projects p WHERE p.id = $1 "
    "FOR NO KEY UPDATE", 1 };
static const struct db_stmt st_update = { "projects_update",
    "UPDATE projects SET display_name = coalesce($2, display_name), "
    "parent_project_id = CASE WHEN $3::boolean THEN $4 "
    "ELSE parent_project_id END, quota = coalesce($5::jsonb, quota), "
    "network_isolated = coalesce($6::boolean, network_isolated) "
    "WHERE id = $1", 6 };
static const struct db_stmt st_tree_lock = { "projects_tree_lock",
    "SELECT hxb_tree_lock('projects', $1)", 1 };
static const struct db_stmt st_children = { "projects_children",
    "SELECT count(*) FROM projects WHERE workspace_id = $1 "
    "AND parent_project_id = $2", 2 };
static const struct db_stmt st_delete = { "projects_delete",
    "DELETE FROM projects WHERE id = $1", 1 };

enum project_field { F_NAME, F_DISPLAY, F_PARENT, F_QUOTA, F_NETISO };
static const struct field create_body[] = {
	[F_NAME] = { "name", FIELD_STRING, true, false, 1, 63, NS_NAME,
	    "an RFC 1123 label: lowercase letters, digits and '-', starting "
	    "and ending with a letter or digit" },
	[F_DISPLAY] = { "display_name", FIELD_STRING, false, true, 0, 200,
	    NULL, NULL },
	[F_PARENT] = { "parent_id", FIELD_STRING, false, true, 1, 64,
	    PROJECT_ID, "a project id of this workspace" },
	[F_QUOTA] = { "quota", FIELD_OBJECT, false, true, 0, 0, NULL, NULL },
	[F_NETISO] = { "network_isolated", FIELD_BOOL, false, false, 0, 0,
	    NULL, NULL },
	{ NULL },
};
static const struct field patch_body[] = {
	/* Declared to be refused with a reason (patch_project()). */
	[F_NAME] = { "name", FIELD_STRING, false, true, 0, 0, NULL, NULL },
	[F_DISPLAY] = { "display_name", FIELD_STRING, false, false, 0, 200,
	    NULL, NULL },
	[F_PARENT] = { "parent_id", FIELD_STRING, false, true, 1, 64,
	    PROJECT_ID, "a project id of this workspace, or null for none" },
	[F_QUOTA] = { "quota", FIELD_OBJECT, false, false, 0, 0, NULL, NULL },
	[F_NETISO] = { "network_isolated", FIELD_BOOL, false, false, 0, 0,
	    NULL, NULL },
	{ NULL },
};

static void	 create_project(struct req *);
static void	 list_projects(struct req *);
static void	 get_project(struct req *);
static void	 patch_project(struct req *);
static void	 delete_project(struct req *);

static const struct route routes[] = {
	{ HTTP_POST, "/api/v1/workspaces/{wsId}/projects", create_project,
	    PERM_WS_ADMIN, "create_project", create_body, NULL },
	{ HTTP_GET, "/api/v1/workspaces/{wsId}/projects", list_projects,
	    PERM_WS_READ, "list_projects", NULL, page_query },
	{ HTTP_GET, "/api/v1/projects/{projectId}", get_project,
	    PERM_WS_READ, "get_project", NULL, NULL },
	{ HTTP_PATCH, "/api/v1/projects/{projectId}", patch_project,
	    PERM_WS_ADMIN, "patch_project", patch_body, NULL },
	{ HTTP_DELETE, "/api/v1/projects/{projectId}", delete_project,
	    PERM_WS_ADMIN, "delete_project", NULL, NULL },
};

int
main(int argc, char **argv)
{
	return app_main("projects", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv);
}

/* ---- helpers ---------------------------------------------------------- */

static void
project_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "workspace_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "name", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "namespace", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "display_name", PQgetvalue(res, i, 3));
	tenant_kv_text(w, "parent_id", res, i, 4);
	jsonw_key(w, "quota");
	jsonw_raw(w, PQgetvalue(res, i, 5));
	jsonw_kv_string(w, "status", PQgetvalue(res, i, 6));
	tenant_kv_ts(w, "created_at", res, i, 7);
	tenant_kv_ts(w, "updated_at", res, i, 8);
	jsonw_kv_bool(w, "network_isolated", *PQgetvalue(res, i, 9) == 't');
	jsonw_object_end(w);
}

/* The project as JSON through st (404 "no such project" if none). */
static json_t *
read_one(struct req *r, const struct db_stmt *st, const char *id)
{
	const char	*params[1] = { id };

	return scope_one_json(r, st, params, project_write, "project");
}

/*
 * What the generic validator cannot say: a name Kubernetes keeps for
 * itself, and the quota's own fields.  0, or -1 (answered 422).
 */
static int
body_check(struct req *r)
{
	json_t	*errors = json_array();
	const char *name = valid_str(&r->body, F_NAME);

	if (name != NULL && (strcmp(name, "default") == 0 ||
	    strncmp(name, "kube-", 5) == 0))
		validate_error(errors, "name", "default and kube-* are "
		    "Kubernetes' own namespaces");
	if (r->body.present[F_QUOTA])
		quota_check(r->body.json[F_QUOTA], "quota", errors);
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return 0;
	}
	http_problem(r, PROBLEM_VALIDATION, "the request has invalid fields",
	    errors);
	tenant_end(r);
	return -1;
}

/*
 * Whether the projects, with this one's quota as `quota` (or one more
 * project when `except` is NULL), still fit the workspace's plan, read
 * under the quota lock so that a plan change cannot slip in.
 */
static int
plan_fits(struct req *r, const char *ws, const char *except,
    const json_t *quota)
{
	const char	*params[1] = { ws };
	PGresult	*res;
	char		 plan[64];

	if (quota_lock(r, ws) != 0 ||
	    (res = tenant_one(r, &st_plan, params, "workspace")) == NULL)
		return -1;
	snprintf(plan, sizeof(plan), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return quota_fits(r, ws, plan, false, except, quota, except == NULL,
	    "quota");
}

/*
 * A failed write: a taken name is a conflict (409), a bad parent the
 * body's fault (422).
 */
static void
write_problem(struct req *r)
{
	if (db_is_sqlstate(&r->app->db, "HXC01"))
		tenant_field_problem(r, "HXC01", "parent_id", "would make the "
		    "project its own ancestor");
	else if (db_is_sqlstate(&r->app->db, "23505"))
		tenant_fail(r, PROBLEM_CONFLICT, "a project of that name (a "
		    "namespace) exists in the workspace");
	else
		tenant_field_problem(r, "23503", "parent_id", "no such project "
		    "in this workspace");
}

/* ---- routes ----------------------------------------------------------- */

static void
create_project(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	char			 id[ID_BUFSZ];
	const char		*params[7];
	char			*quota = NULL;

	if (scope_create_begin(r, &p, "wsId", ID_WS, &ws, ID_PRJ, id) != 0)
		return;
	if (body_check(r) != 0 || plan_fits(r, ws.id, NULL,
	    r->body.present[F_QUOTA] ? r->body.json[F_QUOTA] : NULL) != 0)
		return;
	if (r->body.present[F_QUOTA] && (quota = json_dumps(
	    r->body.json[F_QUOTA], JSON_COMPACT)) == NULL) {
		tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
		return;
	}
	http_set_resource(r, "projects/%s", id);
	params[0] = id;
	params[1] = ws.id;
	params[2] = r->body.str[F_NAME];
	params[3] = r->body.present[F_DISPLAY] ? r->body.str[F_DISPLAY] : "";
	params[4] = valid_str(&r->body, F_PARENT);
	params[5] = quota;
	params[6] = valid_bool(&r->body, F_NETISO);
	if (tenant_try(r, &st_insert, params) != 0) {
		free(quota);
		write_problem(r);
		return;
	}
	free(quota);
	scope_done(r, &ws, p.user_id, "project.create", NULL, &st_get, params,
	    project_write, "project", 201);
}

static void
list_projects(struct req *r)
{
	static const struct scope projects = { "wsId", ID_WS, NULL, ID_PRJ,
	    false, "project", "projects", &st_list, NULL, NULL, NULL,
	    project_write };

	scope_list(r, &projects);
}

static void
get_project(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*id = http_param(r, "projectId");
	const struct db_stmt	*st[2] = { &tenant_st_project, &st_get };
	const char		*id_p[1] = { id };
	const char *const	*params[2] = { id_p, id_p };
	PGresult		*out[2];

	if (id == NULL || !id_valid(id, ID_PRJ)) {
		tenant_bad_id(r, &p, "project");
		return;
	}
	http_set_resource(r, "projects/%s", id);
	if (tenant_read(r, &p, 2, st, params, out) != 0)
		return;
	if (tenant_ws_of(r, out[0], "project", &ws) == 0) {
		if (PQntuples(out[1]) == 1)
			tenant_send_row(r, 200, out[1], 0, project_write);
		else
			http_problem(r, PROBLEM_NOT_FOUND, "no such project",
			    NULL);
	}
	PQclear(out[0]);
	PQclear(out[1]);
}

static void
patch_project(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*id = http_param(r, "projectId");
	const char		*params[6];
	char			*quota = NULL;
	json_t			*before;
	bool			 move;

	if (tenant_ws_begin(r, &p, "projectId", ID_PRJ, &ws) != 0)
		return;
	if (json_object_get(r->body_json, "name") != NULL) {
		tenant_invalid(r, "name", "cannot change: it is the "
		    "project's namespace", "a project keeps its name");
		return;
	}
	/* parent_id: null makes the project a top-level one. */
	move = json_object_get(r->body_json, "parent_id") != NULL;
	if (!r->body.present[F_DISPLAY] && !r->body.present[F_QUOTA] &&
	    !r->body.present[F_NETISO] && !move) {
		tenant_invalid(r, "", "give display_name, parent_id, quota or "
		    "network_isolated", "nothing to change");
		return;
	}
	params[0] = ws.id;
	if (body_check(r) != 0 || (move && tenant_run(r, &st_tree_lock,
	    params) != 0) || (before = read_one(r, &st_lock_change, id)) ==
	    NULL)
		return;
	if (r->body.present[F_QUOTA]) {
		if (plan_fits(r, ws.id, id, r->body.json[F_QUOTA]) != 0) {
			json_decref(before);
			return;
		}
		if ((quota = json_dumps(r->body.json[F_QUOTA],
		    JSON_COMPACT)) == NULL) {
			json_decref(before);
			tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
			return;
		}
	}
	params[0] = id;
	params[1] = valid_str(&r->body, F_DISPLAY);
	params[2] = move ? "true" : "false";
	params[3] = valid_str(&r->body, F_PARENT);
	params[4] = quota;
	params[5] = valid_bool(&r->body, F_NETISO);
	if (tenant_try(r, &st_update, params) != 0) {
		free(quota);
		json_decref(before);
		write_problem(r);
		return;
	}
	free(quota);
	scope_done(r, &ws, p.user_id, "project.update", before, &st_get,
	    params, project_write, "project", 200);
}

static void
delete_project(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*id = http_param(r, "projectId");
	const char		*params[2];
	PGresult		*res;
	json_t			*before;
	long long		 children;

	if (tenant_ws_begin(r, &p, "projectId", ID_PRJ, &ws) != 0)
		return;
	/* Locked first: a child created meanwhile waits, then is seen. */
	if ((before = read_one(r, &st_lock, id)) == NULL)
		return;
	params[0] = ws.id;
	params[1] = id;
	if ((res = db_exec(&r->app->db, &st_children, params)) == NULL) {
		json_decref(before);
		tenant_db_problem(r);
		return;
	}
	children = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (children > 0) {
		json_decref(before);
		http_problemf(r, PROBLEM_CONFLICT, "the project still has %lld "
		    "child project(s); delete or move them first", children);
		tenant_end(r);
		return;
	}
	params[0] = id;
	if (tenant_audit(r, ws.org_id, ws.id, p.user_id, "project.delete",
	    before, NULL) != 0 || tenant_run(r, &st_delete, params) != 0) {
		json_decref(before);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
}
