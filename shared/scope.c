/*
 * scope: things inside a workspace or project; see scope.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "page.h"
#include "rbac.h"
#include "scope.h"

static const char *
scope_what(enum id_kind kind)
{
	return kind == ID_PRJ ? "project" : "workspace";
}

int
scope_read(struct req *r, struct principal *p, const char *param,
    enum id_kind kind, const char *sub, enum id_kind sub_kind, bool presets,
    const char *sub_what, size_t n, const struct db_stmt *const *more,
    const char *const *const *more_params, PGresult **out)
{
	struct tenant_ws	 ws;
	const char		*id = http_param(r, param);
	const char		*what = scope_what(kind);
	const struct db_stmt	*st[DB_PIPELINE_MAX];
	const char		*id_p[1] = { id };
	const char *const	*params[DB_PIPELINE_MAX];
	PGresult		*res[DB_PIPELINE_MAX];
	size_t			 i;

	if (n + 1 > DB_PIPELINE_MAX) {
		http_problem(r, PROBLEM_INTERNAL, "too many statements for "
		    "one round trip", NULL);
		return -1;
	}
	if (id == NULL || !id_valid(id, kind))
		return tenant_bad_id(r, p, what);
	if (sub != NULL && !id_valid(sub, sub_kind) &&
	    !(presets && rbac_is_preset(sub)))
		return tenant_bad_id(r, p, sub_what);
	http_set_resource(r, "%ss/%s", what, id);
	st[0] = kind == ID_PRJ ? &tenant_st_project : &tenant_st_ws;
	params[0] = id_p;
	for (i = 0; i < n; i++) {
		st[i + 1] = more[i];
		params[i + 1] = more_params[i];
	}
	if (tenant_read(r, p, n + 1, st, params, res) != 0)
		return -1;
	if (tenant_ws_of(r, res[0], what, &ws) != 0) {
		for (i = 0; i <= n; i++)
			PQclear(res[i]);
		return -1;
	}
	PQclear(res[0]);
	for (i = 0; i < n; i++)
		out[i] = res[i + 1];
	return 0;
}

json_t *
scope_one_json(struct req *r, const struct db_stmt *st,
    const char *const *params, tenant_write_fn row, const char *what)
{
	PGresult	*res;
	json_t		*o;

	if ((res = tenant_one(r, st, params, what)) == NULL)
		return NULL;
	o = tenant_row_json(res, 0, row);
	PQclear(res);
	return o;
}

void
scope_done(struct req *r, const struct tenant_ws *ws, const char *actor,
    const char *action, json_t *before, const struct db_stmt *st,
    const char *const *params, tenant_write_fn row, const char *what,
    int status)
{
	json_t	*after;

	if ((after = scope_one_json(r, st, params, row, what)) == NULL) {
		json_decref(before);
		return;
	}
	if (tenant_audit(r, ws->org_id, ws->id, actor, action, before,
	    after) != 0) {
		json_decref(before);
		json_decref(after);
		return;
	}
	json_decref(before);
	tenant_answer(r, status, after);
}

int
scope_sub_id(struct req *r, const char *id, enum id_kind kind,
    const char *what)
{
	if (id != NULL && id_valid(id, kind))
		return 0;
	http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", what);
	tenant_end(r);
	return -1;
}

int
scope_create_begin(struct req *r, struct principal *p, const char *param,
    enum id_kind scope, struct tenant_ws *ws, enum id_kind kind, char *id)
{
	if (tenant_ws_begin(r, p, param, scope, ws) != 0)
		return -1;
	if (tenant_idem_begin(r, p->user_id) != 0) {
		tenant_end(r);
		return -1;
	}
	if (id_new(&r->app->ids, kind, id) != 0) {
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return -1;
	}
	return 0;
}

void
scope_list(struct req *r, const struct scope *s)
{
	struct principal	 p;
	struct page		 pg;
	const char		*list_p[3] = { http_param(r, s->param), NULL,
				    NULL };
	PGresult		*res;

	if (page_read(r, 50, &pg) != 0)
		return;
	list_p[1] = pg.after;
	list_p[2] = pg.limit_str;
	if (scope_read(r, &p, s->param, s->kind, NULL, s->id_kind, false,
	    NULL, 1, &s->list, (const char *const *[]){ list_p }, &res) != 0)
		return;
	tenant_send_page(r, &pg, res, s->row);
	PQclear(res);
}

void
scope_get(struct req *r, const struct scope *s)
{
	struct principal	 p;
	const char		*id = http_param(r, s->id_param);
	const char		*get_p[2] = { http_param(r, s->param), id };
	PGresult		*res;

	if (scope_read(r, &p, s->param, s->kind, id, s->id_kind, s->presets,
	    s->what, 1, &s->get, (const char *const *[]){ get_p }, &res) != 0)
		return;
	http_set_resource(r, "%ss/%s/%s/%s", scope_what(s->kind), get_p[0],
	    s->path, id);
	if (PQntuples(res) == 1)
		tenant_send_row(r, 200, res, 0, s->row);
	else
		http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", s->what);
	PQclear(res);
}

void
scope_delete(struct req *r, const struct scope *s)
{
	struct principal	 p;
	struct tenant_ws	 ws;
	const char		*id = http_param(r, s->id_param);
	const char		*params[2] = { http_param(r, s->param), id };
	json_t			*before;

	if (tenant_ws_begin(r, &p, s->param, s->kind, &ws) != 0 ||
	    scope_sub_id(r, id, s->id_kind, s->what) != 0)
		return;
	http_set_resource(r, "%ss/%s/%s/%s", scope_what(s->kind), params[0],
	    s->path, id);
	if ((before = scope_one_json(r, s->get, params, s->row, s->what)) ==
	    NULL)
		return;
	if (tenant_audit(r, ws.org_id, ws.id, p.user_id, s->deleted, before,
	    NULL) != 0 || tenant_run(r, s->del, params) != 0) {
		json_decref(before);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
}
