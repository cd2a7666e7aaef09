/*
 * workspaces: workspaces (a vCluster each) and the tasks that change them.
 *
 *   POST   /api/v1/organizations/{orgId}/workspaces	admins: 202 {workspace, task}
 *   GET    /api/v1/organizations/{orgId}/workspaces	those the caller sees
 *   GET    /api/v1/organizations/{orgId}/workspaces/{wsId}
 *   PATCH  /api/v1/organizations/{orgId}/workspaces/{wsId}	admins: {plan_id}, 202
 *   DELETE /api/v1/organizations/{orgId}/workspaces/{wsId}	admins: 202
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
 * answer ever carries credentials.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "bus.h"
#include "id.h"
#include "jsonw.h"
#include "log.h"
#include "page.h"
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
    "SELECT max_projects, cpu_millicores, memory_mib, storage_gib "
    "FROM plans WHERE id = $1 AND active", 1 };
static const struct db_stmt st_ws_insert = { "ws_insert",
    "INSERT INTO workspaces (id, organization_id, name, plan_id, "
    "created_by) VALUES ($1, $2, $3, $4, hxb_actor())", 4 };
static const struct db_stmt st_group_insert = { "ws_group_insert",
    "INSERT INTO groups (id, workspace_id, name, parent_id) "
    "VALUES ($1, $2, $3, $4)", 4 };
static const struct db_stmt st_member_insert = { "ws_member_insert",
    "INSERT INTO group_memberships (workspace_id, group_id, user_id) "
    "VALUES ($1, $2, hxb_actor())", 2 };
static const struct db_stmt st_cra_insert = { "ws_cra_insert",
    "INSERT INTO cluster_role_assignments (id, workspace_id, group_id, "
    "cluster_role) VALUES ($1, $2, $3, $4)", 4 };
static const struct db_stmt st_task_insert = { "ws_task_insert",
    "INSERT INTO tasks (id, type, organization_id, workspace_id, payload, "
    "request_id, created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6, "
    "hxb_actor())", 6 };
static const struct db_stmt st_outbox_insert = { "ws_outbox_insert",
    "INSERT INTO outbox (organization_id, workspace_id, subject, payload) "
    "VALUES ($1, $2, $3, $4::jsonb) RETURNING id", 4 };
static const struct db_stmt st_outbox_sent = { "ws_outbox_sent",
    "UPDATE outbox SET published_at = now() WHERE id = $1::bigint", 1 };
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
static const struct db_stmt st_ws_usage = { "ws_usage",
    "SELECT count(*), "
    "coalesce(sum((quota->>'cpu_millicores')::bigint), 0), "
    "coalesce(sum((quota->>'memory_mib')::bigint), 0), "
    "coalesce(sum((quota->>'storage_gib')::bigint), 0) "
    "FROM projects WHERE workspace_id = $1", 1 };
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

static const struct route routes[] = {
	{ HTTP_POST, "/api/v1/organizations/{orgId}/workspaces", create_ws,
	    "create_workspace", create_body, NULL },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/workspaces", list_ws,
	    "list_workspaces", NULL, page_query },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/workspaces/{wsId}", get_ws,
	    "get_workspace", NULL, NULL },
	{ HTTP_PATCH, "/api/v1/organizations/{orgId}/workspaces/{wsId}",
	    patch_ws, "patch_workspace", patch_body, NULL },
	{ HTTP_DELETE, "/api/v1/organizations/{orgId}/workspaces/{wsId}",
	    delete_ws, "delete_workspace", NULL, NULL },
	{ HTTP_GET, "/api/v1/tasks/{taskId}", get_task, "get_task", NULL,
	    NULL },
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

static json_t *
ws_json(const PGresult *res, int i)
{
	return tenant_row_json(res, i, ws_write);
}

static json_t *
task_json(const PGresult *res, int i)
{
	return tenant_row_json(res, i, task_write);
}

static int
run(struct req *r, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	PQclear(res);
	return 0;
}

/* One row of a statement as JSON, or NULL (answered 404 `what`). */
static json_t *
read_one(struct req *r, const struct db_stmt *st, const char *const *params,
    json_t *(*row)(const PGresult *, int), const char *what)
{
	PGresult	*res;
	json_t		*o;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tenant_fail(r, PROBLEM_NOT_FOUND, what);
		return NULL;
	}
	o = row(res, 0);
	PQclear(res);
	return o;
}

static int
audit(struct req *r, const char *org, const char *ws, const char *actor,
    const char *action, json_t *before, json_t *after)
{
	struct audit	 a = { 0 };

	a.organization_id = org;
	a.workspace_id = ws;
	a.actor_id = actor;
	a.action = action;
	a.resource = r->resource;
	a.before = before;
	a.after = after;
	if (audit_write(r, &a) != 0) {
		tenant_fail(r, PROBLEM_INTERNAL, "could not record the change");
		return -1;
	}
	return 0;
}

/* Authenticated, in the transaction, with {orgId} (and {wsId}) valid. */
static const char *
org_begin(struct req *r, struct principal *p, enum org_role need,
    const char **ws)
{
	const char	*org = http_param(r, "orgId");

	if (tenant_begin(r, p) != 0)
		return NULL;
	if (org == NULL || !id_valid(org, ID_ORG)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such organization");
		return NULL;
	}
	if (tenant_org(r, org, need) == ORG_NONE) {
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

/*
 * The task, its outbox row and (after the commit) its publication: what
 * every change of a workspace's lifecycle does.  *outbox_id receives the
 * row's id for the caller to publish after committing.
 */
struct work {
	char		 task_id[ID_BUFSZ];
	char		 outbox_id[24];
	char		*payload;		/* malloc'd JSON */
	const char	*subject;
};

static int
work_queue(struct req *r, const char *org, const char *ws, const char *type,
    const char *subject, json_t *extra, struct work *w)
{
	const char	*params[6];
	PGresult	*res;
	json_t		*payload;

	memset(w, 0, sizeof(*w));
	w->subject = subject;
	if (id_new(&r->app->ids, ID_TASK, w->task_id) != 0) {
		json_decref(extra);
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return -1;
	}
	payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "task_id",
	    w->task_id, "type", type, "organization_id", org,
	    "workspace_id", ws, "request_id", r->request_id, "spec", extra);
	if (payload == NULL || (w->payload = json_dumps(payload,
	    JSON_COMPACT)) == NULL) {
		json_decref(payload);
		tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
		return -1;
	}
	json_decref(payload);
	params[0] = w->task_id;
	params[1] = type;
	params[2] = org;
	params[3] = ws;
	params[4] = w->payload;
	params[5] = r->request_id;
	if (run(r, &st_task_insert, params) != 0)
		goto fail;
	params[0] = org;
	params[1] = ws;
	params[2] = subject;
	params[3] = w->payload;
	if ((res = db_exec(&r->app->db, &st_outbox_insert, params)) == NULL) {
		tenant_db_problem(r);
		goto fail;
	}
	snprintf(w->outbox_id, sizeof(w->outbox_id), "%s",
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
fail:
	free(w->payload);
	w->payload = NULL;
	return -1;
}

/* After the commit: publish, and mark the outbox row sent. */
static void
work_publish(struct req *r, const char *user_id, struct work *w)
{
	const char	*params[1] = { w->outbox_id };
	PGresult	*res;

	if (bus_publish(&r->app->bus, w->subject, w->payload,
	    strlen(w->payload), r->request_id, w->task_id) != 0) {
		log_warn(&r->app->log, "task %s not published, left in the "
		    "outbox: %s", w->task_id, r->app->bus.errmsg);
		goto out;
	}
	if (db_begin_as(&r->app->db, user_id) != 0)
		goto out;
	if ((res = db_exec(&r->app->db, &st_outbox_sent, params)) != NULL) {
		PQclear(res);
		(void)db_commit(&r->app->db);
	}
	db_rollback(&r->app->db);
out:
	free(w->payload);
	w->payload = NULL;
}

/* The workspace and its task, as 202 answers carry them. */
static json_t *
accepted(struct req *r, const char *ws, const char *org, const char *task)
{
	const char	*params[2] = { ws, org };
	json_t		*o, *t;

	if ((o = read_one(r, &st_ws_get, params, ws_json,
	    "no such workspace")) == NULL)
		return NULL;
	params[0] = task;
	if ((t = read_one(r, &st_task_get, params, task_json,
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
	struct work		 w;
	const char		*org, *params[4];
	char			 ws[ID_BUFSZ], g_all[ID_BUFSZ], g_adm[ID_BUFSZ];
	char			 g_usr[ID_BUFSZ], c1[ID_BUFSZ], c2[ID_BUFSZ];
	PGresult		*res;
	json_t			*body;
	int			 rc;

	if ((org = org_begin(r, &p, ORG_ADMIN, NULL)) == NULL)
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
		json_t *errors = json_array();

		validate_error(errors, "plan_id", "no such plan");
		http_problem(r, PROBLEM_VALIDATION, "unknown plan", errors);
		tenant_end(r);
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
	if (run(r, &st_ws_insert, params) != 0)
		return;
#define GROUP(id, name, parent)	do {				\
	params[0] = (id); params[1] = ws; params[2] = (name);	\
	params[3] = (parent);					\
	if (run(r, &st_group_insert, params) != 0)		\
		return;						\
} while (0)
	GROUP(g_all, "WorkspaceMembers", NULL);
	GROUP(g_adm, "WSAdmins", g_all);
	GROUP(g_usr, "WSUsers", g_all);
#undef GROUP
	params[0] = ws;
	params[1] = g_adm;
	if (run(r, &st_member_insert, params) != 0)
		return;
	params[0] = c1;
	params[1] = ws;
	params[2] = g_adm;
	params[3] = "hexabase:workspace-admin";
	if (run(r, &st_cra_insert, params) != 0)
		return;
	params[0] = c2;
	params[2] = g_all;
	params[3] = "hexabase:workspace-viewer";
	if (run(r, &st_cra_insert, params) != 0)
		return;
	if (work_queue(r, org, ws, "create_workspace",
	    "hexabase.cp.workspace.onboarding", json_pack("{s:s, s:s}",
	    "name", r->body.str[C_NAME], "plan_id", r->body.str[C_PLAN]),
	    &w) != 0)
		return;
	if ((body = accepted(r, ws, org, w.task_id)) == NULL ||
	    audit(r, org, ws, p.user_id, "workspace.create", NULL,
	    json_object_get(body, "workspace")) != 0) {
		json_decref(body);
		free(w.payload);
		return;
	}
	tenant_answer(r, 202, body);
	if (r->status == 202)
		work_publish(r, p.user_id, &w);
	else
		free(w.payload);
}

/*
 * Reads are one round trip (tenant_read()).  A malformed id cannot exist:
 * 404, once the caller is known.
 */
static int
ids_ok(struct req *r, struct principal *p, const char *org, const char *ws)
{
	if ((org != NULL && id_valid(org, ID_ORG)) &&
	    (ws == NULL || id_valid(ws, ID_WS)))
		return 0;
	if (auth_require(r, p) == 0)
		http_problem(r, PROBLEM_NOT_FOUND, ws != NULL ?
		    "no such workspace" : "no such organization", NULL);
	return -1;
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
	if (tenant_role_of(r, out[0], org, ORG_MEMBER) != ORG_NONE)
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
	if (PQntuples(out[0]) == 1)
		tenant_send_row(r, 200, out[0], 0, ws_write);
	else
		http_problem(r, PROBLEM_NOT_FOUND, "no such workspace", NULL);
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

/* Whether the workspace's projects fit in plan; -1 answered. */
static int
fits(struct req *r, const char *ws, const char *plan)
{
	const char	*params[1] = { plan };
	PGresult	*lim, *use;
	json_t		*errors;
	static const char *const what[] = { "projects", "cpu_millicores",
			    "memory_mib", "storage_gib" };
	int		 i, rc = 0;

	if ((lim = db_exec(&r->app->db, &st_plan, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	if (PQntuples(lim) != 1) {
		PQclear(lim);
		errors = json_array();
		validate_error(errors, "plan_id", "no such plan");
		http_problem(r, PROBLEM_VALIDATION, "unknown plan", errors);
		tenant_end(r);
		return -1;
	}
	params[0] = ws;
	if ((use = db_exec(&r->app->db, &st_ws_usage, params)) == NULL) {
		PQclear(lim);
		tenant_db_problem(r);
		return -1;
	}
	errors = json_array();
	for (i = 0; i < 4; i++)
		if (atoll(PQgetvalue(use, 0, i)) > atoll(PQgetvalue(lim, 0, i))) {
			char msg[160];

			snprintf(msg, sizeof(msg), "the workspace uses %s %s; "
			    "the plan allows %s", PQgetvalue(use, 0, i),
			    what[i], PQgetvalue(lim, 0, i));
			validate_error(errors, "plan_id", msg);
			rc = -1;
		}
	PQclear(lim);
	PQclear(use);
	if (rc != 0) {
		http_problem(r, PROBLEM_VALIDATION, "the workspace does not fit "
		    "in that plan", errors);
		tenant_end(r);
	} else
		json_decref(errors);
	return rc;
}

static void
patch_ws(struct req *r)
{
	struct principal	 p;
	struct work		 w;
	const char		*org, *ws, *plan = r->body.str[0], *params[2];
	char			 status[32], old[64];
	json_t			*body, *before, *after;
	int			 rc;

	if ((org = org_begin(r, &p, ORG_ADMIN, &ws)) == NULL)
		return;
	if (ws_lock(r, ws, org, status, old) != 0 || fits(r, ws, plan) != 0)
		return;
	params[0] = ws;
	params[1] = plan;
	if (run(r, &st_ws_plan_set, params) != 0 ||
	    work_queue(r, org, ws, "update_workspace",
	    "hexabase.cp.workspace.update", json_pack("{s:s, s:s}", "plan_id",
	    plan, "previous_plan_id", old), &w) != 0)
		return;
	before = json_pack("{s:s}", "plan_id", old);
	after = json_pack("{s:s}", "plan_id", plan);
	rc = audit(r, org, ws, p.user_id, "workspace.update", before, after);
	json_decref(before);
	json_decref(after);
	if (rc != 0 || (body = accepted(r, ws, org, w.task_id)) == NULL) {
		free(w.payload);
		return;
	}
	tenant_answer(r, 202, body);
	if (r->status == 202)
		work_publish(r, p.user_id, &w);
	else
		free(w.payload);
}

static void
delete_ws(struct req *r)
{
	struct principal	 p;
	struct work		 w;
	const char		*org, *ws, *params[1];
	char			 status[32], plan[64];
	json_t			*body, *before;
	int			 rc;

	if ((org = org_begin(r, &p, ORG_ADMIN, &ws)) == NULL)
		return;
	if (ws_lock(r, ws, org, status, plan) != 0)
		return;
	params[0] = ws;
	if (run(r, &st_ws_deleting, params) != 0 ||
	    work_queue(r, org, ws, "delete_workspace",
	    "hexabase.cp.workspace.offboarding", json_object(), &w) != 0)
		return;
	before = json_pack("{s:s}", "status", status);
	rc = audit(r, org, ws, p.user_id, "workspace.delete", before, NULL);
	json_decref(before);
	if (rc != 0 || (body = accepted(r, ws, org, w.task_id)) == NULL) {
		free(w.payload);
		return;
	}
	tenant_answer(r, 202, body);
	if (r->status == 202)
		work_publish(r, p.user_id, &w);
	else
		free(w.payload);
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
		if (auth_require(r, &p) == 0)
			http_problem(r, PROBLEM_NOT_FOUND, "no such task", NULL);
		return;
	}
	http_set_resource(r, "tasks/%s", id);
	if (tenant_read(r, &p, 1, st, params, out) != 0)
		return;
	if (PQntuples(out[0]) == 1)
		tenant_send_row(r, 200, out[0], 0, task_write);
	else
		http_problem(r, PROBLEM_NOT_FOUND, "no such task", NULL);
	PQclear(out[0]);
}
