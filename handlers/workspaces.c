/*
 * workspaces: workspaces (a vCluster each) and the tasks that change them.
 *
 *   POST   /api/v1/organizations/{orgId}/workspaces	admins: 202 {workspace, task}
 *   GET    /api/v1/organizations/{orgId}/workspaces	those the caller sees
 *   GET    /api/v1/organizations/{orgId}/workspaces/{wsId}
 *   PATCH  /api/v1/organizations/{orgId}/workspaces/{wsId}	admins: {plan_id}, 202
 *   DELETE /api/v1/organizations/{orgId}/workspaces/{wsId}	admins: 202
 *   GET    /api/v1/organizations/{orgId}/workspaces/{wsId}/kubeconfig
 *						a kubeconfig for its vCluster; 409
 *						until it is running
 *   GET    /api/v1/tasks/{taskId}			whoever sees its workspace
 *
 * Creation is one transaction: the workspace (pending), its default groups
 * (WorkspaceMembers, with WSAdmins and WSUsers under it), the creator in
 * WSAdmins, WSAdmins bound to hexabase:workspace-admin and
 * WorkspaceMembers to hexabase:workspace-viewer, the task and its outbox
 * row.  After the commit the request goes to NATS JetStream (the task id
 * as Nats-Msg-Id) and the outbox row is marked published; if NATS is
 * away the row stays for a relay to send.  Provisioning itself is the
 * jobs' work: until they run, a workspace honestly stays pending.  No
 * answer ever carries credentials: a kubeconfig names the vCluster's
 * endpoint and CA, and runs hxb-credential for a short-lived token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "app.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "quota.h"
#include "scope.h"
#include "tenant.h"

#define DNS_LABEL	"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"

#define WS_COLS \
	"w.id, w.organization_id, w.name, w.plan_id, p.isolation, w.status, " \
	"w.status_reason, w.api_endpoint, w.created_by, w.created_at, " \
	"w.updated_at"
#define TASK_COLS \
	"id, type, status, step, progress, attempts, last_error, " \
	"workspace_id, created_at, updated_at"

static const struct db_stmt st_plan = { "ws_plan",
    "SELECT 1 FROM plans WHERE id = $1 AND active", 1 };
static const struct db_stmt st_ws_insert = { "ws_insert",
    "INSERT INTO workspaces (id, organization_id, name, plan_id, "
    "created_by) VALUES ($1, $2, $3, $4, hxb_actor())", 4 };
static const struct db_stmt st_group_insert = { "ws_group_insert",
    "INSERT INTO groups (id, workspace_id, name, parent_id, builtin) "
    "VALUES ($1, $2, $3, $4, true)", 4 };
static const struct db_stmt st_member_insert = { "ws_member_insert",
    "INSERT INTO group_memberships (workspace_id, group_id, user_id) "
    "VALUES ($1, $2, hxb_actor())", 2 };
static const struct db_stmt st_cra_insert = { "ws_cra_insert",
    "INSERT INTO cluster_role_assignments (id, workspace_id, group_id, "
    "cluster_role) VALUES ($1, $2, $3, $4)", 4 };
static const struct db_stmt st_ws_get = { "ws_get",
    "SELECT " WS_COLS " FROM workspaces w JOIN plans p ON p.id = w.plan_id "
    "WHERE w.id = $1 AND w.organization_id = $2", 2 };
static const struct db_stmt st_ws_list = { "ws_list",
    "SELECT " WS_COLS " FROM workspaces w JOIN plans p ON p.id = w.plan_id "
    "WHERE w.organization_id = $1 AND w.id > $2 AND w.status <> 'deleted' "
    "ORDER BY w.id LIMIT $3::int", 3 };
static const struct db_stmt st_ws_lock = { "ws_lock",
    "SELECT status, plan_id FROM workspaces WHERE id = $1 "
    "AND organization_id = $2 FOR UPDATE", 2 };
static const struct db_stmt st_ws_deleting = { "ws_deleting",
    "UPDATE workspaces SET status = 'deleting', deleted_at = now() "
    "WHERE id = $1", 1 };
static const struct db_stmt st_ws_plan_set = { "ws_plan_set",
    "UPDATE workspaces SET plan_id = $2 WHERE id = $1", 2 };
static const struct db_stmt st_ws_cluster = { "ws_cluster",
    "SELECT w.name, w.status, w.api_endpoint, w.api_ca_pem "
    "FROM workspaces w WHERE w.id = $1 AND w.organization_id = $2", 2 };
static const struct db_stmt st_task_get = { "ws_task_get",
    "SELECT " TASK_COLS " FROM tasks WHERE id = $1", 1 };

enum create_field { C_NAME, C_PLAN };
static const struct field create_body[] = {
	[C_NAME] = { "name", FIELD_STRING, true, false, 1, 63, DNS_LABEL,
	    "a DNS label: lowercase letters, digits and '-', starting with "
	    "a letter" },
	[C_PLAN] = { "plan_id", FIELD_STRING, true, false, 1, 63, DNS_LABEL,
	    "a plan id, as GET /api/v1/plans lists" },
	{ NULL },
};
static const struct field patch_body[] = {
	{ "plan_id", FIELD_STRING, true, false, 1, 63, DNS_LABEL,
	    "a plan id, as GET /api/v1/plans lists" },
	{ NULL },
};

static void	 create_ws(struct req *);
static void	 list_ws(struct req *);
static void	 get_ws(struct req *);
static void	 patch_ws(struct req *);
static void	 delete_ws(struct req *);
static void	 get_task(struct req *);
static void	 get_kubeconfig(struct req *);

static const struct route routes[] = {
	{ HTTP_POST, "/api/v1/organizations/{orgId}/workspaces", create_ws,
	    PERM_ORG_ADMIN, "create_workspace", create_body, NULL },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/workspaces", list_ws,
	    PERM_ORG_READ, "list_workspaces", NULL, page_query },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/workspaces/{wsId}", get_ws,
	    PERM_WS_READ, "get_workspace", NULL, NULL },
	{ HTTP_PATCH, "/api/v1/organizations/{orgId}/workspaces/{wsId}",
	    patch_ws, PERM_ORG_ADMIN, "patch_workspace", patch_body, NULL },
	{ HTTP_DELETE, "/api/v1/organizations/{orgId}/workspaces/{wsId}",
	    delete_ws, PERM_ORG_ADMIN, "delete_workspace", NULL, NULL },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/workspaces/{wsId}/kubeconfig",
	    get_kubeconfig, PERM_WS_READ, "get_kubeconfig", NULL, NULL },
	{ HTTP_GET, "/api/v1/tasks/{taskId}", get_task, PERM_WS_READ,
	    "get_task", NULL, NULL },
};

int
main(int argc, char **argv)
{
	return app_main("workspaces", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv);
}

/* ---- helpers ---------------------------------------------------------- */

static void
ws_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "organization_id", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "name", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "plan_id", PQgetvalue(res, i, 3));
	jsonw_kv_string(w, "isolation", PQgetvalue(res, i, 4));
	jsonw_kv_string(w, "status", PQgetvalue(res, i, 5));
	jsonw_kv_string(w, "status_reason", PQgetvalue(res, i, 6));
	tenant_kv_text(w, "api_endpoint", res, i, 7);
	tenant_kv_text(w, "created_by", res, i, 8);
	tenant_kv_ts(w, "created_at", res, i, 9);
	tenant_kv_ts(w, "updated_at", res, i, 10);
	jsonw_object_end(w);
}

static void
task_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_string(w, "id", PQgetvalue(res, i, 0));
	jsonw_kv_string(w, "type", PQgetvalue(res, i, 1));
	jsonw_kv_string(w, "status", PQgetvalue(res, i, 2));
	jsonw_kv_string(w, "step", PQgetvalue(res, i, 3));
	jsonw_kv_int(w, "progress", atoll(PQgetvalue(res, i, 4)));
	jsonw_kv_int(w, "attempts", atoll(PQgetvalue(res, i, 5)));
	jsonw_kv_string(w, "last_error", PQgetvalue(res, i, 6));
	tenant_kv_text(w, "workspace_id", res, i, 7);
	tenant_kv_ts(w, "created_at", res, i, 8);
	tenant_kv_ts(w, "updated_at", res, i, 9);
	jsonw_object_end(w);
}

/* Authenticated, in the transaction, with {orgId} (and {wsId}) valid. */
static const char *
org_begin(struct req *r, struct principal *p, const char **ws)
{
	const char	*org = http_param(r, "orgId");

	if (tenant_begin(r, p) != 0)
		return NULL;
	if (org == NULL || !id_valid(org, ID_ORG)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such organization");
		return NULL;
	}
	if (tenant_org(r, org) == ORG_NONE) {
		tenant_end(r);
		return NULL;
	}
	if (ws != NULL) {
		*ws = http_param(r, "wsId");
		if (*ws == NULL || !id_valid(*ws, ID_WS)) {
			tenant_fail(r, PROBLEM_NOT_FOUND, "no such workspace");
			return NULL;
		}
		http_set_resource(r, "workspaces/%s", *ws);
		snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", *ws);
	}
	return org;
}

/* The workspace and its task, as 202 answers carry them. */
static json_t *
accepted(struct req *r, const char *ws, const char *org, const char *task)
{
	const char	*params[2] = { ws, org };
	json_t		*o, *t;

	if ((o = scope_one_json(r, &st_ws_get, params, ws_write,
	    "no such workspace")) == NULL)
		return NULL;
	params[0] = task;
	if ((t = scope_one_json(r, &st_task_get, params, task_write,
	    "no such task")) == NULL) {
		json_decref(o);
		return NULL;
	}
	return json_pack("{s:o, s:o}", "workspace", o, "task", t);
}

/* ---- workspaces ------------------------------------------------------- */

static void
create_ws(struct req *r)
{
	struct principal	 p;
	const char		*org, *params[4];
	char			 task[ID_BUFSZ];
	char			 ws[ID_BUFSZ], g_all[ID_BUFSZ], g_adm[ID_BUFSZ];
	char			 g_usr[ID_BUFSZ], c1[ID_BUFSZ], c2[ID_BUFSZ];
	PGresult		*res;
	json_t			*body;
	int			 rc;

	if ((org = org_begin(r, &p, NULL)) == NULL)
		return;
	if ((rc = tenant_idem_begin(r, p.user_id)) != 0) {
		tenant_end(r);
		return;
	}
	params[0] = r->body.str[C_PLAN];
	if ((res = db_exec(&r->app->db, &st_plan, params)) == NULL) {
		tenant_db_problem(r);
		return;
	}
	rc = PQntuples(res);
	PQclear(res);
	if (rc != 1) {
		tenant_invalid(r, "plan_id", "no such plan", "unknown plan");
		return;
	}
	if (id_new(&r->app->ids, ID_WS, ws) != 0 ||
	    id_new(&r->app->ids, ID_GRP, g_all) != 0 ||
	    id_new(&r->app->ids, ID_GRP, g_adm) != 0 ||
	    id_new(&r->app->ids, ID_GRP, g_usr) != 0 ||
	    id_new(&r->app->ids, ID_CRA, c1) != 0 ||
	    id_new(&r->app->ids, ID_CRA, c2) != 0) {
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return;
	}
	http_set_resource(r, "workspaces/%s", ws);
	snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", ws);
	params[0] = ws;
	params[1] = org;
	params[2] = r->body.str[C_NAME];
	params[3] = r->body.str[C_PLAN];
	if (tenant_run(r, &st_ws_insert, params) != 0)
		return;
#define GROUP(id, name, parent)	do {				\
	params[0] = (id); params[1] = ws; params[2] = (name);	\
	params[3] = (parent);					\
	if (tenant_run(r, &st_group_insert, params) != 0)		\
		return;						\
} while (0)
	GROUP(g_all, "WorkspaceMembers", NULL);
	GROUP(g_adm, "WSAdmins", g_all);
	GROUP(g_usr, "WSUsers", g_all);
#undef GROUP
	params[0] = ws;
	params[1] = g_adm;
	if (tenant_run(r, &st_member_insert, params) != 0)
		return;
	params[0] = c1;
	params[1] = ws;
	params[2] = g_adm;
	params[3] = "hexabase:workspace-admin";
	if (tenant_run(r, &st_cra_insert, params) != 0)
		return;
	params[0] = c2;
	params[2] = g_all;
	params[3] = "hexabase:workspace-viewer";
	if (tenant_run(r, &st_cra_insert, params) != 0)
		return;
	if (tenant_task(r, org, ws, "create_workspace",
	    "hexabase.cp.workspace.onboarding", json_pack("{s:s, s:s}",
	    "name", r->body.str[C_NAME], "plan_id", r->body.str[C_PLAN]),
	    task) != 0)
		return;
	if ((body = accepted(r, ws, org, task)) == NULL ||
	    tenant_audit(r, org, ws, p.user_id, "workspace.create", NULL,
	    json_object_get(body, "workspace")) != 0) {
		json_decref(body);
		return;
	}
	tenant_answer(r, 202, body);
}

/*
 * Reads are one round trip (tenant_read()).  A malformed id cannot exist:
 * 404, once the caller is known.
 */
static int
ids_ok(struct req *r, struct principal *p, const char *org, const char *ws)
{
	if (org == NULL || !id_valid(org, ID_ORG))
		return tenant_bad_id(r, p, "organization");
	if (ws != NULL && !id_valid(ws, ID_WS))
		return tenant_bad_id(r, p, "workspace");
	return 0;
}

static void
list_ws(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[2] = { &tenant_st_org_role, &st_ws_list };
	const char		*role_p[1] = { org };
	const char		*list_p[3] = { org, NULL, NULL };
	const char *const	*params[2] = { role_p, list_p };
	PGresult		*out[2];

	if (page_read(r, 50, &pg) != 0 || ids_ok(r, &p, org, NULL) != 0)
		return;
	list_p[1] = pg.after;
	list_p[2] = pg.limit_str;
	if (tenant_read(r, &p, 2, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) != ORG_NONE)
		tenant_send_page(r, &pg, out[1], ws_write);
	PQclear(out[0]);
	PQclear(out[1]);
}

static void
get_ws(struct req *r)
{
	struct principal	 p;
	const char		*org = http_param(r, "orgId");
	const char		*ws = http_param(r, "wsId");
	const struct db_stmt	*st[1] = { &st_ws_get };
	const char		*ws_p[2] = { ws, org };
	const char *const	*params[1] = { ws_p };
	PGresult		*out[1];

	if (ids_ok(r, &p, org, ws) != 0)
		return;
	http_set_resource(r, "workspaces/%s", ws);
	snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", ws);
	/* Row-level security: a stranger, or a member without a group,
	 * finds no row, exactly as for a workspace that never was. */
	if (tenant_read(r, &p, 1, st, params, out) != 0)
		return;
	if (tenant_visible(r, PQntuples(out[0]) == 1, "workspace") == 0)
		tenant_send_row(r, 200, out[0], 0, ws_write);
	PQclear(out[0]);
}

/*
 * Lock the workspace row; its status and plan into out.  -1 answered
 * (404 if the caller does not see it).
 */
static int
ws_lock(struct req *r, const char *ws, const char *org, char status[32],
    char plan[64])
{
	const char	*params[2] = { ws, org };
	PGresult	*res;

	if ((res = db_exec(&r->app->db, &st_ws_lock, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such workspace");
		return -1;
	}
	snprintf(status, 32, "%s", PQgetvalue(res, 0, 0));
	snprintf(plan, 64, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	if (strcmp(status, "deleting") == 0 || strcmp(status, "deleted") == 0) {
		http_problemf(r, PROBLEM_CONFLICT, "the workspace is %s",
		    status);
		tenant_end(r);
		return -1;
	}
	return 0;
}

/*
 * Whether the workspace's projects fit in plan, an active one; -1
 * answered.  Project creates take the same lock (quota.h).
 */
static int
fits(struct req *r, const char *ws, const char *plan)
{
	if (quota_lock(r, ws) != 0)
		return -1;
	return quota_fits(r, ws, plan, true, NULL, NULL, false, "plan_id");
}

static void
patch_ws(struct req *r)
{
	struct principal	 p;
	const char		*org, *ws, *plan = r->body.str[0], *params[2];
	char			 status[32], old[64], task[ID_BUFSZ];
	json_t			*body, *before, *after;
	int			 rc;

	if ((org = org_begin(r, &p, &ws)) == NULL)
		return;
	if (ws_lock(r, ws, org, status, old) != 0 || fits(r, ws, plan) != 0)
		return;
	params[0] = ws;
	params[1] = plan;
	if (tenant_run(r, &st_ws_plan_set, params) != 0 ||
	    tenant_task(r, org, ws, "update_workspace",
	    "hexabase.cp.workspace.update", json_pack("{s:s, s:s}", "plan_id",
	    plan, "previous_plan_id", old), task) != 0)
		return;
	before = json_pack("{s:s}", "plan_id", old);
	after = json_pack("{s:s}", "plan_id", plan);
	rc = tenant_audit(r, org, ws, p.user_id, "workspace.update", before,
	    after);
	json_decref(before);
	json_decref(after);
	if (rc != 0 || (body = accepted(r, ws, org, task)) == NULL)
		return;
	tenant_answer(r, 202, body);
}

static void
delete_ws(struct req *r)
{
	struct principal	 p;
	const char		*org, *ws, *params[1];
	char			 status[32], plan[64], task[ID_BUFSZ];
	json_t			*body, *before;
	int			 rc;

	if ((org = org_begin(r, &p, &ws)) == NULL)
		return;
	if (ws_lock(r, ws, org, status, plan) != 0)
		return;
	params[0] = ws;
	if (tenant_run(r, &st_ws_deleting, params) != 0 ||
	    tenant_task(r, org, ws, "delete_workspace",
	    "hexabase.cp.workspace.offboarding", json_object(), task) != 0)
		return;
	before = json_pack("{s:s}", "status", status);
	rc = tenant_audit(r, org, ws, p.user_id, "workspace.delete", before,
	    NULL);
	json_decref(before);
	if (rc != 0 || (body = accepted(r, ws, org, task)) == NULL)
		return;
	tenant_answer(r, 202, body);
}

/* ---- tasks ------------------------------------------------------------ */

static void
get_task(struct req *r)
{
	struct principal	 p;
	const char		*id = http_param(r, "taskId");
	const struct db_stmt	*st[1] = { &st_task_get };
	const char		*task_p[1] = { id };
	const char *const	*params[1] = { task_p };
	PGresult		*out[1];

	if (id == NULL || !id_valid(id, ID_TASK)) {
		tenant_bad_id(r, &p, "task");
		return;
	}
	http_set_resource(r, "tasks/%s", id);
	/* Row-level security shows a task to whoever sees its workspace. */
	if (tenant_read(r, &p, 1, st, params, out) != 0)
		return;
	if (tenant_visible(r, PQntuples(out[0]) == 1, "task") == 0)
		tenant_send_row(r, 200, out[0], 0, task_write);
	PQclear(out[0]);
}

/* ---- kubeconfig ------------------------------------------------------- */

/* `key: "value"` at `indent`; JSON's string escapes are YAML's too. */
static void
yaml_kv(struct buf *b, int indent, const char *key, const char *value)
{
	buf_addf(b, "%*s%s: ", indent, "", key);
	buf_add_json_string(b, value);
	buf_addch(b, '\n');
}

/*
 * The kubeconfig: the vCluster's endpoint and CA, and a user whose token
 * comes from hxb-credential, signed in to this platform.  Written as YAML
 * (what kubectl writes) with every scalar quoted.
 */
static void
kubeconfig_write(struct req *r, struct buf *b, const char *ws,
    const char *name, const char *server, const char *ca_pem)
{
	const char	*base = config_str(&r->app->cfg, CFG_PUBLIC_URL);
	unsigned char	*ca;
	size_t		 n = strlen(ca_pem), bl = strlen(base), i;
	char		 ctx[128], url[1024];
	const char	*args[] = { "get-token", "--server", url,
			    "--workspace", ws };

	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	snprintf(ctx, sizeof(ctx), "hexabase-%s", name);
	buf_addstr(b, "apiVersion: v1\nkind: Config\nclusters:\n");
	buf_addf(b, "- name: \"%s\"\n  cluster:\n", ctx);
	yaml_kv(b, 4, "server", server);
	if ((ca = malloc(4 * ((n + 2) / 3) + 1)) == NULL) {
		b->failed = true;
		return;
	}
	EVP_EncodeBlock(ca, (const unsigned char *)ca_pem, (int)n);
	yaml_kv(b, 4, "certificate-authority-data", (const char *)ca);
	free(ca);
	buf_addstr(b, "contexts:\n");
	buf_addf(b, "- name: \"%s\"\n  context:\n", ctx);
	buf_addf(b, "    cluster: \"%s\"\n    user: \"%s\"\n", ctx, ctx);
	buf_addf(b, "current-context: \"%s\"\n", ctx);
	buf_addstr(b, "users:\n");
	buf_addf(b, "- name: \"%s\"\n  user:\n    exec:\n", ctx);
	yaml_kv(b, 6, "apiVersion", "client.authentication.k8s.io/v1");
	yaml_kv(b, 6, "command", "hxb-credential");
	snprintf(url, sizeof(url), "%.*s", (int)bl, base);
	buf_addstr(b, "      args:\n");
	for (i = 0; i < sizeof(args) / sizeof(args[0]); i++) {
		buf_addstr(b, "      - ");
		buf_add_json_string(b, args[i]);
		buf_addch(b, '\n');
	}
	yaml_kv(b, 6, "interactiveMode", "Never");
	buf_addstr(b, "      provideClusterInfo: false\n");
	yaml_kv(b, 6, "installHint", "hxb-credential is installed with "
	    "Hexabase (make run puts it in var/bin); sign in once with: "
	    "hxb-credential login --server <this platform's URL>");
	buf_addstr(b, "preferences: {}\n");
}

static void
get_kubeconfig(struct req *r)
{
	struct principal	 p;
	const char		*org = http_param(r, "orgId");
	const char		*ws = http_param(r, "wsId");
	const struct db_stmt	*st[1] = { &st_ws_cluster };
	const char		*ws_p[2] = { ws, org };
	const char *const	*params[1] = { ws_p };
	PGresult		*out[1];
	struct buf		 b = BUF_INIT(256 * 1024);
	char			 cd[160];

	if (ids_ok(r, &p, org, ws) != 0)
		return;
	http_set_resource(r, "workspaces/%s/kubeconfig", ws);
	snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", ws);
	if (tenant_read(r, &p, 1, st, params, out) != 0)
		return;
	if (tenant_visible(r, PQntuples(out[0]) == 1, "workspace") != 0)
		goto out;
	if (strcmp(PQgetvalue(out[0], 0, 1), "running") != 0 ||
	    PQgetisnull(out[0], 0, 2) || PQgetisnull(out[0], 0, 3)) {
		http_problemf(r, PROBLEM_CONFLICT, "the workspace is %s; its "
		    "kubeconfig is ready once it is running",
		    PQgetvalue(out[0], 0, 1));
		goto out;
	}
	kubeconfig_write(r, &b, ws, PQgetvalue(out[0], 0, 0),
	    PQgetvalue(out[0], 0, 2), PQgetvalue(out[0], 0, 3));
	if (b.failed) {
		http_problem(r, PROBLEM_UNAVAILABLE, "out of memory", NULL);
		goto out;
	}
	snprintf(cd, sizeof(cd), "attachment; filename=\"%s.kubeconfig\"",
	    PQgetvalue(out[0], 0, 0));
	http_header(r, "Content-Disposition", cd);
	http_header(r, "Cache-Control", "no-store");
	http_send(r, 200, "application/yaml", b.data, b.len);
out:
	PQclear(out[0]);
	buf_release(&b);
}
