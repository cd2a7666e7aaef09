/*
 * rbac: who may do what inside a workspace.
 *
 *   POST   /api/v1/workspaces/{wsId}/clusterroleassignments
 *				{group_id, cluster_role}
 *   GET    /api/v1/workspaces/{wsId}/clusterroleassignments
 *   GET    /api/v1/workspaces/{wsId}/clusterroleassignments/{id}
 *   DELETE /api/v1/workspaces/{wsId}/clusterroleassignments/{id}
 *   POST   /api/v1/projects/{projectId}/roles			{name, rules}
 *   GET    /api/v1/projects/{projectId}/roles
 *				presets and custom roles, by id
 *   GET    /api/v1/projects/{projectId}/roles/{roleId}
 *   PATCH  /api/v1/projects/{projectId}/roles/{roleId}		{name?, rules?}
 *   DELETE /api/v1/projects/{projectId}/roles/{roleId}
 *				409 while assigned
 *   POST   /api/v1/projects/{projectId}/roleassignments
 *				{group_id, role}
 *   GET    /api/v1/projects/{projectId}/roleassignments
 *   GET    /api/v1/projects/{projectId}/roleassignments/{id}
 *   DELETE /api/v1/projects/{projectId}/roleassignments/{id}
 *
 * A group of the workspace is bound either to a preset ClusterRole for
 * the whole vCluster (hexabase:workspace-admin, hexabase:workspace-viewer)
 * or, in one project, to a role: a preset (admin, edit, view: Kubernetes'
 * own ClusterRoles, bound in the namespace) or a custom one whose rules
 * stay within the admin ceiling (rbac.h).  Presets are listed with every
 * project's roles and never change.  Workspace admins change all this;
 * whoever sees the workspace reads it.  Every change enqueues the
 * workspace's RBAC sync (0004_rbac.sql).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "rbac.h"
#include "scope.h"
#include "tenant.h"

#define DNS_LABEL	"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
#define GROUP_ID	"grp-[0-7][0-9a-hjkmnp-tv-z]{25}"

#define CRA_COLS \
	"c.id, c.workspace_id, c.group_id, g.name, c.cluster_role, c.created_at"
#define CRA_FROM \
	" FROM cluster_role_assignments c JOIN groups g ON g.id = c.group_id "
#define ROLE_COLS \
	"id, project_id, name, rules, preset, created_at, updated_at"
/* The presets as rows beside the project's own, in one id order. */
#define ROLES_OF \
	" FROM (SELECT v.id, $1::text AS project_id, v.id AS name, " \
	"NULL::jsonb AS rules, true AS preset, NULL::timestamptz AS " \
	"created_at, NULL::timestamptz AS updated_at " \
	"FROM (VALUES ('admin'), ('edit'), ('view')) AS v(id) " \
	"UNION ALL SELECT r.id, r.project_id, r.name, r.rules, false, " \
	"r.created_at, r.updated_at FROM roles r WHERE r.project_id = $1) x "
#define RA_COLS \
	"a.id, a.project_id, a.group_id, g.name, " \
	"coalesce(a.role_id, a.preset), coalesce(r.name, a.preset), a.created_at"
#define RA_FROM \
	" FROM role_assignments a JOIN groups g ON g.id = a.group_id " \
	"LEFT JOIN roles r ON r.id = a.role_id "

static const struct db_stmt st_cra_list = { "rbac_cra_list",
    "SELECT " CRA_COLS CRA_FROM "WHERE c.workspace_id = $1 AND c.id > $2 "
    "ORDER BY c.id LIMIT $3::int", 3 };
static const struct db_stmt st_cra_get = { "rbac_cra_get",
    "SELECT " CRA_COLS CRA_FROM "WHERE c.workspace_id = $1 AND c.id = $2",
    2 };
static const struct db_stmt st_cra_insert = { "rbac_cra_insert",
    "INSERT INTO cluster_role_assignments (id, workspace_id, group_id, "
    "cluster_role) VALUES ($1, $2, $3, $4)", 4 };
static const struct db_stmt st_cra_delete = { "rbac_cra_delete",
    "DELETE FROM cluster_role_assignments WHERE workspace_id = $1 "
    "AND id = $2", 2 };

static const struct db_stmt st_role_list = { "rbac_role_list",
    "SELECT " ROLE_COLS ROLES_OF "WHERE x.id > $2 ORDER BY x.id "
    "LIMIT $3::int", 3 };
static const struct db_stmt st_role_get = { "rbac_role_get",
    "SELECT " ROLE_COLS ROLES_OF "WHERE x.id = $2", 2 };
static const struct db_stmt st_role_lock = { "rbac_role_lock",
    "SELECT id FROM roles WHERE project_id = $1 AND id = $2 FOR UPDATE", 2 };
static const struct db_stmt st_role_insert = { "rbac_role_insert",
    "INSERT INTO roles (id, workspace_id, project_id, name, rules) "
    "VALUES ($1, $2, $3, $4, $5::jsonb)", 5 };
static const struct db_stmt st_role_update = { "rbac_role_update",
    "UPDATE roles SET name = coalesce($3, name), "
    "rules = coalesce($4::jsonb, rules) WHERE project_id = $1 AND id = $2",
    4 };
static const struct db_stmt st_role_assigned = { "rbac_role_assigned",
    "SELECT count(*) FROM role_assignments WHERE role_id = $1", 1 };
static const struct db_stmt st_role_delete = { "rbac_role_delete",
    "DELETE FROM roles WHERE project_id = $1 AND id = $2", 2 };

static const struct db_stmt st_ra_list = { "rbac_ra_list",
    "SELECT " RA_COLS RA_FROM "WHERE a.project_id = $1 AND a.id > $2 "
    "ORDER BY a.id LIMIT $3::int", 3 };
static const struct db_stmt st_ra_get = { "rbac_ra_get",
    "SELECT " RA_COLS RA_FROM "WHERE a.project_id = $1 AND a.id = $2", 2 };
static const struct db_stmt st_ra_insert = { "rbac_ra_insert",
    "INSERT INTO role_assignments (id, workspace_id, project_id, group_id, "
    "role_id, preset) SELECT $1::text, $2::text, $3::text, $4::text, r.id, "
    "$6::text "
    "FROM (SELECT $5::text AS id) AS want "
    "LEFT JOIN roles r ON r.id = want.id AND r.project_id = $3 "
    "WHERE want.id IS NULL OR r.id IS NOT NULL", 6 };
static const struct db_stmt st_ra_delete = { "rbac_ra_delete",
    "DELETE FROM role_assignments WHERE project_id = $1 AND id = $2", 2 };

static const struct field cra_body[] = {
	{ "group_id", FIELD_STRING, true, false, 1, 64, GROUP_ID,
	    "a group id of this workspace" },
	{ "cluster_role", FIELD_STRING, true, false, 1, 64,
	    "hexabase:workspace-admin|hexabase:workspace-viewer",
	    "hexabase:workspace-admin or hexabase:workspace-viewer" },
	{ NULL },
};
enum role_field { R_NAME, R_RULES };
static const struct field role_body[] = {
	[R_NAME] = { "name", FIELD_STRING, true, false, 1, 63, DNS_LABEL,
	    "a DNS label: lowercase letters, digits and '-', starting with "
	    "a letter" },
	[R_RULES] = { "rules", FIELD_ARRAY, true, false, 1, RBAC_RULES_MAX,
	    NULL, NULL },
	{ NULL },
};
static const struct field role_patch_body[] = {
	[R_NAME] = { "name", FIELD_STRING, false, false, 1, 63, DNS_LABEL,
	    "a DNS label: lowercase letters, digits and '-', starting with "
	    "a letter" },
	[R_RULES] = { "rules", FIELD_ARRAY, false, false, 1, RBAC_RULES_MAX,
	    NULL, NULL },
	{ NULL },
};
static const struct field ra_body[] = {
	{ "group_id", FIELD_STRING, true, false, 1, 64, GROUP_ID,
	    "a group id of this workspace" },
	{ "role", FIELD_STRING, true, false, 1, 64,
	    "admin|edit|view|role-[0-7][0-9a-hjkmnp-tv-z]{25}",
	    "admin, edit, view or the id of a role of this project" },
	{ NULL },
};

static void	 create_cra(struct req *);
static void	 list_cra(struct req *);
static void	 get_cra(struct req *);
static void	 delete_cra(struct req *);
static void	 create_role(struct req *);
static void	 list_roles(struct req *);
static void	 get_role(struct req *);
static void	 patch_role(struct req *);
static void	 delete_role(struct req *);
static void	 create_ra(struct req *);
static void	 list_ra(struct req *);
static void	 get_ra(struct req *);
static void	 delete_ra(struct req *);

#define CRA	"/api/v1/workspaces/{wsId}/clusterroleassignments"
#define ROLES	"/api/v1/projects/{projectId}/roles"
#define RAS	"/api/v1/projects/{projectId}/roleassignments"
static const struct route routes[] = {
	{ HTTP_POST, CRA, create_cra, PERM_WS_ADMIN,
	    "create_cluster_role_assignment", cra_body, NULL },
	{ HTTP_GET, CRA, list_cra, PERM_WS_READ,
	    "list_cluster_role_assignments", NULL, page_query },
	{ HTTP_GET, CRA "/{id}", get_cra, PERM_WS_READ,
	    "get_cluster_role_assignment", NULL, NULL },
	{ HTTP_DELETE, CRA "/{id}", delete_cra, PERM_WS_ADMIN,
	    "delete_cluster_role_assignment", NULL, NULL },
	{ HTTP_POST, ROLES, create_role, PERM_WS_ADMIN, "create_role",
	    role_body, NULL },
	{ HTTP_GET, ROLES, list_roles, PERM_WS_READ, "list_roles", NULL,
	    page_query },
	{ HTTP_GET, ROLES "/{roleId}", get_role, PERM_WS_READ, "get_role",
	    NULL, NULL },
	{ HTTP_PATCH, ROLES "/{roleId}", patch_role, PERM_WS_ADMIN,
	    "patch_role", role_patch_body, NULL },
	{ HTTP_DELETE, ROLES "/{roleId}", delete_role, PERM_WS_ADMIN,
	    "delete_role", NULL, NULL },
	{ HTTP_POST, RAS, create_ra, PERM_WS_ADMIN, "create_role_assignment",
	    ra_body, NULL },
	{ HTTP_GET, RAS, list_ra, PERM_WS_READ, "list_role_assignments",
	    NULL, page_query },
	{ HTTP_GET, RAS "/{id}", get_ra, PERM_WS_READ, "get_role_assignment",
	    NULL, NULL },
	{ HTTP_DELETE, RAS "/{id}", delete_ra, PERM_WS_ADMIN,
	    "delete_role_assignment", NULL, NULL },
};
#undef CRA
#undef ROLES
#undef RAS

int
main(int argc, char **argv)
{
	return app_main("rbac", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}

/* ---- rows ------------------------------------------------------------- */

static void
cra_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "workspace_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "group_id", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "group_name", PQgetvalue(res, i, 3));
	jsonw_kv_string(w, "cluster_role", PQgetvalue(res, i, 4));
	tenant_kv_ts(w, "created_at", res, i, 5);
	jsonw_object_end(w);
}

static void
role_write(struct jsonw *w, const PGresult *res, int i)
{
	bool	 preset = strcmp(PQgetvalue(res, i, 4), "t") == 0;

	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "project_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "name", PQgetvalue(res, i, 2));
	jsonw_kv_bool(w, "preset", preset);
	/* A preset is Kubernetes' ClusterRole of its name. */
	if (preset)
		jsonw_kv_string(w, "cluster_role", PQgetvalue(res, i, 0));
	else
		jsonw_kv_null(w, "cluster_role");
	jsonw_key(w, "rules");
	if (PQgetisnull(res, i, 3))
		jsonw_null(w);
	else
		jsonw_raw(w, PQgetvalue(res, i, 3));
	tenant_kv_ts(w, "created_at", res, i, 5);
	tenant_kv_ts(w, "updated_at", res, i, 6);
	jsonw_object_end(w);
}

static void
ra_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "project_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "group_id", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "group_name", PQgetvalue(res, i, 3));
	jsonw_kv_string(w, "role", PQgetvalue(res, i, 4));
	jsonw_kv_string(w, "role_name", PQgetvalue(res, i, 5));
	tenant_kv_ts(w, "created_at", res, i, 6);
	jsonw_object_end(w);
}

/* ---- the scopes ------------------------------------------------------- */

static const struct scope cra_scope = { "wsId", ID_WS, "id", ID_CRA, false,
    "cluster role assignment", "clusterroleassignments", &st_cra_list,
    &st_cra_get, &st_cra_delete, "cluster_role_assignment.delete",
    cra_write };
static const struct scope role_scope = { "projectId", ID_PRJ, "roleId",
    ID_ROLE, true, "role", "roles", &st_role_list, &st_role_get, NULL,
    NULL, role_write };
static const struct scope ra_scope = { "projectId", ID_PRJ, "id", ID_RA,
    false, "role assignment", "roleassignments", &st_ra_list, &st_ra_get,
    &st_ra_delete, "role_assignment.delete", ra_write };

/* ---- cluster-role assignments ----------------------------------------- */

static void
create_cra(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	char			 id[ID_BUFSZ];
	const char		*params[4];

	if (scope_create_begin(r, &p, "wsId", ID_WS, &ws, ID_CRA, id) != 0)
		return;
	http_set_resource(r, "workspaces/%s/clusterroleassignments/%s",
	    ws.id, id);
	params[0] = id;
	params[1] = ws.id;
	params[2] = r->body.str[0];
	params[3] = r->body.str[1];
	if (tenant_try(r, &st_cra_insert, params) != 0) {
		if (db_is_sqlstate(&r->app->db, "23505"))
			tenant_fail(r, PROBLEM_CONFLICT, "the group is already "
			    "bound to that cluster role");
		else
			tenant_field_problem(r, "23503", "group_id", "no such "
			    "group in this workspace");
		return;
	}
	params[0] = ws.id;
	params[1] = id;
	scope_done(r, &ws, p.user_id, "cluster_role_assignment.create", NULL,
	    &st_cra_get, params, cra_write, "cluster role assignment", 201);
}

static void
list_cra(struct req *r)
{
	scope_list(r, &cra_scope);
}

static void
get_cra(struct req *r)
{
	scope_get(r, &cra_scope);
}

static void
delete_cra(struct req *r)
{
	scope_delete(r, &cra_scope);
}

/* ---- roles ------------------------------------------------------------ */

/* What the field table cannot say about a role body; -1 answered. */
static int
role_check(struct req *r)
{
	json_t	*errors = json_array();

	if (r->body.present[R_NAME] && rbac_is_preset(r->body.str[R_NAME]))
		validate_error(errors, "name", "admin, edit and view are the "
		    "preset roles");
	if (r->body.present[R_RULES])
		rbac_rules_check(r->body.json[R_RULES], errors);
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return 0;
	}
	http_problem(r, PROBLEM_VALIDATION, "the role is not valid", errors);
	tenant_end(r);
	return -1;
}

static void
create_role(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*project = http_param(r, "projectId");
	char			 id[ID_BUFSZ];
	const char		*params[5];
	char			*rules;

	if (scope_create_begin(r, &p, "projectId", ID_PRJ, &ws, ID_ROLE,
	    id) != 0 || role_check(r) != 0)
		return;
	if ((rules = json_dumps(r->body.json[R_RULES], JSON_COMPACT)) ==
	    NULL) {
		tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
		return;
	}
	http_set_resource(r, "projects/%s/roles/%s", project, id);
	params[0] = id;
	params[1] = ws.id;
	params[2] = project;
	params[3] = r->body.str[R_NAME];
	params[4] = rules;
	if (tenant_try(r, &st_role_insert, params) != 0) {
		free(rules);
		if (db_is_sqlstate(&r->app->db, "23505"))
			tenant_fail(r, PROBLEM_CONFLICT, "the project has a "
			    "role of that name");
		else
			tenant_db_problem(r);
		return;
	}
	free(rules);
	params[0] = project;
	params[1] = id;
	scope_done(r, &ws, p.user_id, "role.create", NULL, &st_role_get,
	    params, role_write, "role", 201);
}

static void
list_roles(struct req *r)
{
	scope_list(r, &role_scope);
}

static void
get_role(struct req *r)
{
	scope_get(r, &role_scope);
}

/*
 * A route that changes {roleId}: the project judged, a preset refused
 * (409: they never change), the role locked; its JSON, or NULL
 * (answered).
 */
static json_t *
role_begin(struct req *r, struct principal *p, struct tenant_ws *ws,
    const char **project, const char **role)
{
	const char	*params[2];
	PGresult	*res;

	*project = http_param(r, "projectId");
	*role = http_param(r, "roleId");
	if (tenant_ws_begin(r, p, "projectId", ID_PRJ, ws) != 0)
		return NULL;
	if (*role != NULL && rbac_is_preset(*role)) {
		tenant_fail(r, PROBLEM_CONFLICT, "admin, edit and view are "
		    "preset roles: they never change");
		return NULL;
	}
	if (scope_sub_id(r, *role, ID_ROLE, "role") != 0)
		return NULL;
	http_set_resource(r, "projects/%s/roles/%s", *project, *role);
	params[0] = *project;
	params[1] = *role;
	if ((res = tenant_one(r, &st_role_lock, params, "role")) == NULL)
		return NULL;
	PQclear(res);
	return scope_one_json(r, &st_role_get, params, role_write, "role");
}

static void
patch_role(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*project, *role, *params[4];
	char			*rules = NULL;
	json_t			*before;

	if ((before = role_begin(r, &p, &ws, &project, &role)) == NULL)
		return;
	if (!r->body.present[R_NAME] && !r->body.present[R_RULES]) {
		json_decref(before);
		tenant_invalid(r, "", "give name or rules", NULL);
		return;
	}
	if (role_check(r) != 0) {
		json_decref(before);
		return;
	}
	if (r->body.present[R_RULES] && (rules = json_dumps(
	    r->body.json[R_RULES], JSON_COMPACT)) == NULL) {
		json_decref(before);
		tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
		return;
	}
	params[0] = project;
	params[1] = role;
	params[2] = valid_str(&r->body, R_NAME);
	params[3] = rules;
	if (tenant_try(r, &st_role_update, params) != 0) {
		free(rules);
		json_decref(before);
		if (db_is_sqlstate(&r->app->db, "23505"))
			tenant_fail(r, PROBLEM_CONFLICT, "the project has a "
			    "role of that name");
		else
			tenant_db_problem(r);
		return;
	}
	free(rules);
	scope_done(r, &ws, p.user_id, "role.update", before, &st_role_get,
	    params, role_write, "role", 200);
}

static void
delete_role(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*project, *role, *params[2];
	PGresult		*res;
	json_t			*before;
	long long		 n;

	if ((before = role_begin(r, &p, &ws, &project, &role)) == NULL)
		return;
	params[0] = role;
	if ((res = db_exec(&r->app->db, &st_role_assigned, params)) == NULL) {
		json_decref(before);
		tenant_db_problem(r);
		return;
	}
	n = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (n > 0) {
		json_decref(before);
		http_problemf(r, PROBLEM_CONFLICT, "the role is still assigned "
		    "to %lld group(s); remove those assignments first", n);
		tenant_end(r);
		return;
	}
	params[0] = project;
	params[1] = role;
	if (tenant_audit(r, ws.org_id, ws.id, p.user_id, "role.delete",
	    before, NULL) != 0 ||
	    tenant_run(r, &st_role_delete, params) != 0) {
		json_decref(before);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
}

/* ---- role assignments ------------------------------------------------- */

static void
create_ra(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*project = http_param(r, "projectId");
	const char		*role = r->body.str[1];
	bool			 preset = rbac_is_preset(role);
	char			 id[ID_BUFSZ];
	const char		*params[6];
	PGresult		*res;
	int			 n;

	if (scope_create_begin(r, &p, "projectId", ID_PRJ, &ws, ID_RA,
	    id) != 0)
		return;
	http_set_resource(r, "projects/%s/roleassignments/%s", project, id);
	params[0] = id;
	params[1] = ws.id;
	params[2] = project;
	params[3] = r->body.str[0];
	params[4] = preset ? NULL : role;
	params[5] = preset ? role : NULL;
	/* A custom role of another project inserts nothing. */
	if ((res = db_exec(&r->app->db, &st_ra_insert, params)) == NULL) {
		if (db_is_sqlstate(&r->app->db, "23505"))
			tenant_fail(r, PROBLEM_CONFLICT, "the group already "
			    "has that role in this project");
		else
			tenant_field_problem(r, "23503", "group_id", "no such "
			    "group in this workspace");
		return;
	}
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	if (n != 1) {
		tenant_invalid(r, "role", "no such role in this project", NULL);
		return;
	}
	params[0] = project;
	params[1] = id;
	scope_done(r, &ws, p.user_id, "role_assignment.create", NULL,
	    &st_ra_get, params, ra_write, "role assignment", 201);
}

static void
list_ra(struct req *r)
{
	scope_list(r, &ra_scope);
}

static void
get_ra(struct req *r)
{
	scope_get(r, &ra_scope);
}

static void
delete_ra(struct req *r)
{
	scope_delete(r, &ra_scope);
}
