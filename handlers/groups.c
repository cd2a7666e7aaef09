/*
 * groups: a workspace's hierarchical groups and their members.
 *
 *   POST   /api/v1/workspaces/{wsId}/groups
 *				{name, parent_id?}
 *   GET    /api/v1/workspaces/{wsId}/groups
 *				?view=tree for the hierarchy
 *   GET    /api/v1/workspaces/{wsId}/groups/{groupId}
 *   PATCH  /api/v1/workspaces/{wsId}/groups/{groupId}
 *				rename, re-parent
 *   DELETE /api/v1/workspaces/{wsId}/groups/{groupId}
 *				409 with children or members
 *   POST   /api/v1/workspaces/{wsId}/groups/{groupId}/members	{user_id}
 *   GET    /api/v1/workspaces/{wsId}/groups/{groupId}/members
 *   GET    /api/v1/workspaces/{wsId}/groups/{groupId}/members/{userId}
 *   DELETE /api/v1/workspaces/{wsId}/groups/{groupId}/members/{userId}
 *
 * Workspace admins change groups, whoever sees the workspace reads them
 * (the route table's permissions, authz.h).  A user's effective groups
 * are the groups they are in and every ancestor of those
 * (hxb_effective_groups() in SQL, the one definition); their names are
 * what a workspace token's groups claim carries, so a group name is a
 * Kubernetes RBAC subject.  The built-in groups (WorkspaceMembers,
 * WSAdmins, WSUsers) are neither renamed, moved nor deleted.  The
 * database refuses a parent that would make a loop (0004_rbac.sql), and
 * enqueues the workspace's RBAC sync with every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "scope.h"
#include "tenant.h"

#define GROUP_NAME	"[A-Za-z][A-Za-z0-9_.-]{0,62}"
#define GROUP_ID	"grp-[0-7][0-9a-hjkmnp-tv-z]{25}"
#define USER_ID		"hxb-usr-[0-7][0-9a-hjkmnp-tv-z]{25}"
#define TREE_MAX	10000

#define GROUP_COLS \
	"g.id, g.workspace_id, g.name, g.parent_id, g.builtin, " \
	"g.created_at, g.updated_at"
#define MEMBER_COLS \
	"u.id, m.group_id, u.email, u.display_name, m.created_at"

static const struct db_stmt st_get = { "groups_get",
    "SELECT " GROUP_COLS " FROM groups g "
    "WHERE g.workspace_id = $1 AND g.id = $2", 2 };
static const struct db_stmt st_list = { "groups_list",
    "SELECT " GROUP_COLS " FROM groups g "
    "WHERE g.workspace_id = $1 AND g.id > $2 ORDER BY g.id LIMIT $3::int",
    3 };
static const struct db_stmt st_tree = { "groups_tree",
    "SELECT " GROUP_COLS " FROM groups g WHERE g.workspace_id = $1 "
    "ORDER BY g.name COLLATE \"C\" LIMIT 10001", 1 };
static const struct db_stmt st_insert = { "groups_insert",
    "INSERT INTO groups (id, workspace_id, name, parent_id) "
    "VALUES ($1, $2, $3, $4)", 4 };
/*
 * Row locks, by what is about to happen: a delete keeps anything from
 * joining or hanging under the group meanwhile (their foreign keys wait
 * on FOR UPDATE); a move takes no more than it needs, so that the
 * foreign-key check of a concurrent move towards this group does not
 * wait on it while holding the hierarchy lock (0004_rbac.sql), which
 * would be a deadlock.
 */
static const struct db_stmt st_lock = { "groups_lock",
    "SELECT " GROUP_COLS " FROM groups g "
    "WHERE g.workspace_id = $1 AND g.id = $2 FOR UPDATE", 2 };
static const struct db_stmt st_lock_move = { "groups_lock_move",
    "SELECT " GROUP_COLS " FROM groups g "
    "WHERE g.workspace_id = $1 AND g.id = $2 FOR NO KEY UPDATE", 2 };
static const struct db_stmt st_lock_share = { "groups_lock_share",
    "SELECT " GROUP_COLS " FROM groups g "
    "WHERE g.workspace_id = $1 AND g.id = $2 FOR KEY SHARE", 2 };
static const struct db_stmt st_update = { "groups_update",
    "UPDATE groups SET name = coalesce($3, name), "
    "parent_id = CASE WHEN $4::boolean THEN $5 ELSE parent_id END "
    "WHERE workspace_id = $1 AND id = $2", 5 };
static const struct db_stmt st_tree_lock = { "groups_tree_lock",
    "SELECT hxb_tree_lock('groups', $1)", 1 };
static const struct db_stmt st_in_use = { "groups_in_use",
    "SELECT (SELECT count(*) FROM groups c WHERE c.workspace_id = $1 "
    "AND c.parent_id = $2), (SELECT count(*) FROM group_memberships m "
    "WHERE m.workspace_id = $1 AND m.group_id = $2)", 2 };
static const struct db_stmt st_delete = { "groups_delete",
    "DELETE FROM groups WHERE workspace_id = $1 AND id = $2", 2 };

static const struct db_stmt st_member_org = { "groups_member_org",
    "SELECT 1 FROM organization_users WHERE organization_id = $1 "
    "AND user_id = $2", 2 };
static const struct db_stmt st_member_add = { "groups_member_add",
    "INSERT INTO group_memberships (workspace_id, group_id, user_id) "
    "VALUES ($1, $2, $3)", 3 };
static const struct db_stmt st_member_get = { "groups_member_get",
    "SELECT " MEMBER_COLS " FROM group_memberships m "
    "JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 "
    "AND m.group_id = $2 AND m.user_id = $3", 3 };
static const struct db_stmt st_members = { "groups_members",
    "SELECT " MEMBER_COLS " FROM group_memberships m "
    "JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 "
    "AND m.group_id = $2 AND m.user_id > $3 ORDER BY m.user_id "
    "LIMIT $4::int", 4 };
static const struct db_stmt st_member_drop = { "groups_member_drop",
    "DELETE FROM group_memberships WHERE workspace_id = $1 "
    "AND group_id = $2 AND user_id = $3", 3 };

enum create_field { C_NAME, C_PARENT };
static const struct field create_body[] = {
	[C_NAME] = { "name", FIELD_STRING, true, false, 1, 63, GROUP_NAME,
	    "a letter, then letters, digits, '_', '.' or '-'" },
	[C_PARENT] = { "parent_id", FIELD_STRING, false, true, 1, 64,
	    GROUP_ID, "a group id of this workspace" },
	{ NULL },
};
static const struct field patch_body[] = {
	[C_NAME] = { "name", FIELD_STRING, false, false, 1, 63, GROUP_NAME,
	    "a letter, then letters, digits, '_', '.' or '-'" },
	[C_PARENT] = { "parent_id", FIELD_STRING, false, true, 1, 64,
	    GROUP_ID, "a group id of this workspace, or null for none" },
	{ NULL },
};
static const struct field member_body[] = {
	{ "user_id", FIELD_STRING, true, false, 1, 64, USER_ID,
	    "a user id" },
	{ NULL },
};

enum list_field { L_LIMIT, L_CURSOR, L_VIEW };
static const struct field list_query[] = {
	[L_LIMIT] = { "limit", FIELD_INT, false, false, 1, 100, NULL, NULL },
	[L_CURSOR] = { "cursor", FIELD_STRING, false, false, 1,
	    CURSOR_MAX - 1, "[A-Za-z0-9_-]+",
	    "must be a next_cursor from an earlier page" },
	[L_VIEW] = { "view", FIELD_STRING, false, false, 1, 8, "flat|tree",
	    "flat or tree" },
	{ NULL },
};

static void	 create_group(struct req *);
static void	 list_groups(struct req *);
static void	 get_group(struct req *);
static void	 patch_group(struct req *);
static void	 delete_group(struct req *);
static void	 add_member(struct req *);
static void	 list_members(struct req *);
static void	 get_member(struct req *);
static void	 remove_member(struct req *);

#define G	"/api/v1/workspaces/{wsId}/groups"
static const struct route routes[] = {
	{ HTTP_POST, G, create_group, PERM_WS_ADMIN, "create_group",
	    create_body, NULL },
	{ HTTP_GET, G, list_groups, PERM_WS_READ, "list_groups", NULL,
	    list_query },
	{ HTTP_GET, G "/{groupId}", get_group, PERM_WS_READ, "get_group",
	    NULL, NULL },
	{ HTTP_PATCH, G "/{groupId}", patch_group, PERM_WS_ADMIN,
	    "patch_group", patch_body, NULL },
	{ HTTP_DELETE, G "/{groupId}", delete_group, PERM_WS_ADMIN,
	    "delete_group", NULL, NULL },
	{ HTTP_POST, G "/{groupId}/members", add_member, PERM_WS_ADMIN,
	    "add_group_member", member_body, NULL },
	{ HTTP_GET, G "/{groupId}/members", list_members, PERM_WS_READ,
	    "list_group_members", NULL, page_query },
	{ HTTP_GET, G "/{groupId}/members/{userId}", get_member,
	    PERM_WS_READ, "get_group_member", NULL, NULL },
	{ HTTP_DELETE, G "/{groupId}/members/{userId}", remove_member,
	    PERM_WS_ADMIN, "remove_group_member", NULL, NULL },
};
#undef G

int
main(int argc, char **argv)
{
	return app_main("groups", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}

/* ---- helpers ---------------------------------------------------------- */

static void
group_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "workspace_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "name", PQgetvalue(res, i, 2));
	tenant_kv_text(w, "parent_id", res, i, 3);
	jsonw_kv_bool(w, "builtin", strcmp(PQgetvalue(res, i, 4), "t") == 0);
	tenant_kv_ts(w, "created_at", res, i, 5);
	tenant_kv_ts(w, "updated_at", res, i, 6);
	jsonw_object_end(w);
}

static void
member_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "user_id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "group_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "email", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "name", PQgetvalue(res, i, 3));
	tenant_kv_ts(w, "added_at", res, i, 4);
	jsonw_object_end(w);
}

static const struct scope group_scope = { "wsId", ID_WS, "groupId", ID_GRP,
    false, "group", "groups", &st_list, &st_get, &st_delete, "group.delete",
    group_write };

/*
 * A route about {groupId}: the workspace judged, the hierarchy lock taken
 * first if `move` (before any row lock: see above), the group locked with
 * `lock`; the group as JSON, or NULL (answered).
 */
static json_t *
group_begin(struct req *r, struct principal *p, struct tenant_ws *ws,
    const char **group, const struct db_stmt *lock, bool move)
{
	const char	*params[2];

	if (tenant_ws_begin(r, p, "wsId", ID_WS, ws) != 0)
		return NULL;
	params[0] = ws->id;
	if (move && tenant_run(r, &st_tree_lock, params) != 0)
		return NULL;
	*group = http_param(r, "groupId");
	if (*group == NULL || !id_valid(*group, ID_GRP)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such group");
		return NULL;
	}
	http_set_resource(r, "workspaces/%s/groups/%s", ws->id, *group);
	params[1] = *group;
	return scope_one_json(r, lock, params, group_write, "group");
}

/*
 * A failed write of a group: a parent that is not in this workspace or
 * would make a loop is the body's fault (422, parent_id); the rest as
 * usual (409 for a taken name).
 */
static void
write_problem(struct req *r)
{
	if (db_is_sqlstate(&r->app->db, "HXC01"))
		tenant_field_problem(r, "HXC01", "parent_id", "would make the "
		    "group its own ancestor");
	else
		tenant_field_problem(r, "23503", "parent_id", "no such group "
		    "in this workspace");
}

/* ---- groups ----------------------------------------------------------- */

static void
create_group(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	char			 id[ID_BUFSZ];
	const char		*params[4];

	if (scope_create_begin(r, &p, "wsId", ID_WS, &ws, ID_GRP, id) != 0)
		return;
	http_set_resource(r, "workspaces/%s/groups/%s", ws.id, id);
	params[0] = id;
	params[1] = ws.id;
	params[2] = r->body.str[C_NAME];
	params[3] = valid_str(&r->body, C_PARENT);
	if (tenant_try(r, &st_insert, params) != 0) {
		write_problem(r);
		return;
	}
	params[1] = id;
	params[0] = ws.id;
	scope_done(r, &ws, p.user_id, "group.create", NULL, &st_get, params,
	    group_write, "group", 201);
}

/*
 * The hierarchy: every group once, each under its parent, roots first,
 * siblings by name.  A workspace of more than TREE_MAX groups is paged
 * flat instead.
 */
static json_t *
tree(const PGresult *res)
{
	json_t		*byid = json_object(), *roots = json_array();
	json_t		*o, *parent;
	int		 i, n = PQntuples(res);

	for (i = 0; i < n; i++) {
		o = tenant_row_json(res, i, group_write);
		json_object_set_new(o, "children", json_array());
		json_object_set_new(byid, PQgetvalue(res, i, 0), o);
	}
	for (i = 0; i < n; i++) {
		o = json_object_get(byid, PQgetvalue(res, i, 0));
		parent = PQgetisnull(res, i, 3) ? NULL :
		    json_object_get(byid, PQgetvalue(res, i, 3));
		if (parent != NULL)
			json_array_append(json_object_get(parent, "children"),
			    o);
		else
			json_array_append(roots, o);
	}
	json_decref(byid);
	return json_pack("{s:o, s:n}", "items", roots, "next_cursor");
}

static void
list_groups(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*ws = http_param(r, "wsId");
	bool			 as_tree = r->qv.present[L_VIEW] &&
				    strcmp(r->qv.str[L_VIEW], "tree") == 0;
	const struct db_stmt	*st[1] = { as_tree ? &st_tree : &st_list };
	const char		*list_p[3] = { ws, NULL, NULL };
	const char *const	*params[1] = { list_p };
	PGresult		*out[1];

	if (page_read(r, 50, &pg) != 0)
		return;
	if (as_tree && (r->qv.present[L_LIMIT] || r->qv.present[L_CURSOR])) {
		json_t *errors = json_array();

		validate_error(errors, "view", "the tree is one answer: no "
		    "limit or cursor");
		http_problem(r, PROBLEM_INVALID_QUERY, "bad query", errors);
		return;
	}
	list_p[1] = pg.after;
	list_p[2] = pg.limit_str;
	if (scope_read(r, &p, "wsId", ID_WS, NULL, ID_GRP, false, NULL, 1, st,
	    params, out) != 0)
		return;
	if (!as_tree)
		tenant_send_page(r, &pg, out[0], group_write);
	else if (PQntuples(out[0]) > TREE_MAX) {
		json_t *errors = json_array();

		validate_error(errors, "view", "the workspace has too many "
		    "groups for one tree: page the flat list instead");
		http_problem(r, PROBLEM_INVALID_QUERY, "the workspace has more "
		    "than 10000 groups", errors);
	}
	else
		http_json(r, 200, tree(out[0]));
	PQclear(out[0]);
}

static void
get_group(struct req *r)
{
	scope_get(r, &group_scope);
}

static void
patch_group(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*group, *params[5];
	json_t			*before, *parent;
	bool			 move;

	/* parent_id: null moves the group to the top. */
	parent = json_object_get(r->body_json, "parent_id");
	move = parent != NULL;
	if ((before = group_begin(r, &p, &ws, &group, &st_lock_move,
	    move)) == NULL)
		return;
	if (!r->body.present[C_NAME] && !move) {
		json_decref(before);
		tenant_invalid(r, "", "give name or parent_id",
		    "nothing to change");
		return;
	}
	if (json_is_true(json_object_get(before, "builtin"))) {
		json_decref(before);
		tenant_fail(r, PROBLEM_CONFLICT, "a built-in group is neither "
		    "renamed nor moved");
		return;
	}
	params[0] = ws.id;
	params[1] = group;
	params[2] = valid_str(&r->body, C_NAME);
	params[3] = move ? "true" : "false";
	params[4] = valid_str(&r->body, C_PARENT);
	if (tenant_try(r, &st_update, params) != 0) {
		json_decref(before);
		write_problem(r);
		return;
	}
	scope_done(r, &ws, p.user_id, "group.update", before, &st_get, params,
	    group_write, "group", 200);
}

static void
delete_group(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*group, *params[2];
	PGresult		*res;
	json_t			*before;
	long long		 children, members;

	if ((before = group_begin(r, &p, &ws, &group, &st_lock, false)) ==
	    NULL)
		return;
	if (json_is_true(json_object_get(before, "builtin"))) {
		json_decref(before);
		tenant_fail(r, PROBLEM_CONFLICT, "a built-in group cannot be "
		    "deleted");
		return;
	}
	params[0] = ws.id;
	params[1] = group;
	if ((res = db_exec(&r->app->db, &st_in_use, params)) == NULL) {
		json_decref(before);
		tenant_db_problem(r);
		return;
	}
	children = atoll(PQgetvalue(res, 0, 0));
	members = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (children > 0 || members > 0) {
		json_decref(before);
		http_problemf(r, PROBLEM_CONFLICT, "the group still has %lld "
		    "child group(s) and %lld member(s); move or remove them "
		    "first", children, members);
		tenant_end(r);
		return;
	}
	if (tenant_audit(r, ws.org_id, ws.id, p.user_id, "group.delete",
	    before, NULL) != 0 || tenant_run(r, &st_delete, params) != 0) {
		json_decref(before);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
}

/* ---- members ---------------------------------------------------------- */

static void
add_member(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*group, *user = r->body.str[0], *params[3];
	PGresult		*res;
	json_t			*group_o;
	int			 n;

	if ((group_o = group_begin(r, &p, &ws, &group, &st_lock_share,
	    false)) == NULL)
		return;
	json_decref(group_o);
	if (tenant_idem_begin(r, p.user_id) != 0) {
		tenant_end(r);
		return;
	}
	params[0] = ws.org_id;
	params[1] = user;
	if ((res = db_exec(&r->app->db, &st_member_org, params)) == NULL) {
		tenant_db_problem(r);
		return;
	}
	n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		tenant_invalid(r, "user_id", "is not a member of the "
		    "workspace's organization", "only members of the "
		    "organization join its groups");
		return;
	}
	http_set_resource(r, "workspaces/%s/groups/%s/members/%s", ws.id,
	    group, user);
	params[0] = ws.id;
	params[1] = group;
	params[2] = user;
	if (tenant_try(r, &st_member_add, params) != 0) {
		if (db_is_sqlstate(&r->app->db, "23505"))
			tenant_fail(r, PROBLEM_CONFLICT, "the user is already "
			    "a member of this group");
		else
			tenant_db_problem(r);
		return;
	}
	scope_done(r, &ws, p.user_id, "group.member.add", NULL, &st_member_get,
	    params, member_write, "member", 201);
}

static void
list_members(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*ws = http_param(r, "wsId");
	const char		*group = http_param(r, "groupId");
	const struct db_stmt	*st[2] = { &st_get, &st_members };
	const char		*get_p[2] = { ws, group };
	const char		*list_p[4] = { ws, group, NULL, NULL };
	const char *const	*params[2] = { get_p, list_p };
	PGresult		*out[2];

	if (page_read(r, 50, &pg) != 0)
		return;
	list_p[2] = pg.after;
	list_p[3] = pg.limit_str;
	if (scope_read(r, &p, "wsId", ID_WS, group, ID_GRP, false, "group", 2,
	    st, params, out) != 0)
		return;
	if (PQntuples(out[0]) == 1)
		tenant_send_page(r, &pg, out[1], member_write);
	else
		http_problem(r, PROBLEM_NOT_FOUND, "no such group", NULL);
	PQclear(out[0]);
	PQclear(out[1]);
}

static void
get_member(struct req *r)
{
	struct principal	 p;
	const char		*ws = http_param(r, "wsId");
	const char		*group = http_param(r, "groupId");
	const char		*user = http_param(r, "userId");
	const struct db_stmt	*st[1] = { &st_member_get };
	const char		*get_p[3] = { ws, group, user };
	const char *const	*params[1] = { get_p };
	PGresult		*out[1];

	if (group == NULL || !id_valid(group, ID_GRP)) {
		tenant_bad_id(r, &p, "group");
		return;
	}
	if (scope_read(r, &p, "wsId", ID_WS, user, ID_USR, false, "member", 1,
	    st, params, out) != 0)
		return;
	if (PQntuples(out[0]) == 1)
		tenant_send_row(r, 200, out[0], 0, member_write);
	else
		http_problem(r, PROBLEM_NOT_FOUND, "no such member", NULL);
	PQclear(out[0]);
}

static void
remove_member(struct req *r)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*group, *user = http_param(r, "userId");
	const char		*params[3];
	json_t			*group_o, *before;

	if ((group_o = group_begin(r, &p, &ws, &group, &st_lock_share,
	    false)) == NULL)
		return;
	json_decref(group_o);
	if (user == NULL || !id_valid(user, ID_USR)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such member");
		return;
	}
	http_set_resource(r, "workspaces/%s/groups/%s/members/%s", ws.id,
	    group, user);
	params[0] = ws.id;
	params[1] = group;
	params[2] = user;
	if ((before = scope_one_json(r, &st_member_get, params, member_write,
	    "member")) == NULL)
		return;
	if (tenant_audit(r, ws.org_id, ws.id, p.user_id,
	    "group.member.remove", before, NULL) != 0 ||
	    tenant_run(r, &st_member_drop, params) != 0) {
		json_decref(before);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
}
