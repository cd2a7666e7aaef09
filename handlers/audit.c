/*
 * audit: an organization's audit log, for its admins.
 *
 *   GET /api/v1/organizations/{orgId}/audit-logs
 *	?actor=&action=&resource=&from=&to=&limit=&cursor=
 *
 * Newest first, keyset-paged by the entry's id.  from is inclusive, to
 * exclusive, both RFC 3339.  A stranger gets 404, a member 403; row-level
 * security shows the log to the organization's admins alone anyway.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "tenant.h"

#define RFC3339 \
	"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
	"(\\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"

static const struct db_stmt st_audit = { "audit_list",
    "SELECT id, occurred_at, actor_id, action, resource, result, "
    "before, after, request_id, host(ip), workspace_id FROM audit_log "
    "WHERE organization_id = $1 "
    "AND ($2::text IS NULL OR actor_id = $2) "
    "AND ($3::text IS NULL OR action = $3) "
    "AND ($4::text IS NULL OR resource = $4) "
    "AND ($5::timestamptz IS NULL OR occurred_at >= $5::timestamptz) "
    "AND ($6::timestamptz IS NULL OR occurred_at < $6::timestamptz) "
    "AND ($7::bigint IS NULL OR id < $7::bigint) "
    "ORDER BY id DESC LIMIT $8::int", 8 };

enum audit_q { Q_LIMIT, Q_CURSOR, Q_ACTOR, Q_ACTION, Q_RESOURCE, Q_FROM,
    Q_TO };

static const struct field audit_query[] = {
	[Q_LIMIT] = { "limit", FIELD_INT, false, false, 1, 100, NULL, NULL },
	[Q_CURSOR] = { "cursor", FIELD_STRING, false, false, 1,
	    CURSOR_MAX - 1, "[A-Za-z0-9_-]+",
	    "must be a next_cursor from an earlier page" },
	[Q_ACTOR] = { "actor", FIELD_STRING, false, false, 1, 64,
	    "hxb-usr-[0-9a-z]{26}", "a user id" },
	[Q_ACTION] = { "action", FIELD_STRING, false, false, 1, 100,
	    "[a-z][a-z_.]{0,99}", "an action such as member.role" },
	[Q_RESOURCE] = { "resource", FIELD_STRING, false, false, 1, 500, NULL,
	    NULL },
	[Q_FROM] = { "from", FIELD_STRING, false, false, 20, 40, RFC3339,
	    "an RFC 3339 time" },
	[Q_TO] = { "to", FIELD_STRING, false, false, 20, 40, RFC3339,
	    "an RFC 3339 time" },
	{ NULL },
};

static void	 list_audit(struct req *);

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/organizations/{orgId}/audit-logs", list_audit,
	    PERM_ORG_ADMIN, "list_audit_logs", NULL, audit_query },
};

int
main(int argc, char **argv)
{
	return app_main("audit", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}

static void
entry_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	jsonw_kv_int(w, "id", atoll(PQgetvalue(res, i, 0)));
	tenant_kv_ts(w, "occurred_at", res, i, 1);
	tenant_kv_text(w, "actor_id", res, i, 2);
	jsonw_kv_string(w, "action", PQgetvalue(res, i, 3));
	jsonw_kv_string(w, "resource", PQgetvalue(res, i, 4));
	jsonw_kv_string(w, "result", PQgetvalue(res, i, 5));
	jsonw_key(w, "before");
	if (PQgetisnull(res, i, 6))
		jsonw_null(w);
	else
		jsonw_raw(w, PQgetvalue(res, i, 6));
	jsonw_key(w, "after");
	if (PQgetisnull(res, i, 7))
		jsonw_null(w);
	else
		jsonw_raw(w, PQgetvalue(res, i, 7));
	jsonw_kv_string(w, "request_id", PQgetvalue(res, i, 8));
	tenant_kv_text(w, "ip", res, i, 9);
	tenant_kv_text(w, "workspace_id", res, i, 10);
	jsonw_object_end(w);
}

/* The page: the entries' ids are the cursor's key. */
static void
send_page(struct req *r, const struct page *pg, const PGresult *res)
{
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;
	char		 next[CURSOR_MAX];
	int		 i, n = PQntuples(res);
	int		 shown = n > pg->limit ? (int)pg->limit : n;

	jsonw_init(&w, &b);
	jsonw_object(&w);
	jsonw_key(&w, "items");
	jsonw_array(&w);
	for (i = 0; i < shown; i++)
		entry_write(&w, res, i);
	jsonw_array_end(&w);
	if (n > shown && shown > 0 && cursor_encode(atoll(PQgetvalue(res,
	    shown - 1, 0)), "audit", next) == 0)
		jsonw_kv_string(&w, "next_cursor", next);
	else
		jsonw_kv_null(&w, "next_cursor");
	jsonw_object_end(&w);
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

static void
list_audit(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[2] = { &tenant_st_org_role, &st_audit };
	const char		*role_p[1] = { org };
	const char		*q[8];
	const char *const	*params[2] = { role_p, q };
	char			 before[24];
	PGresult		*out[2];
	int			 k;

	if (page_read(r, 50, &pg) != 0)
		return;
	if (org == NULL || !id_valid(org, ID_ORG)) {
		tenant_bad_id(r, &p, "organization");
		return;
	}
	q[0] = org;
	for (k = Q_ACTOR; k <= Q_TO; k++)
		q[1 + k - Q_ACTOR] = valid_str(&r->qv, k);
	snprintf(before, sizeof(before), "%lld", pg.key);
	q[6] = pg.key != LLONG_MIN ? before : NULL;
	q[7] = pg.limit_str;
	if (tenant_read(r, &p, 2, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) != ORG_NONE)
		send_page(r, &pg, out[1]);
	PQclear(out[0]);
	PQclear(out[1]);
}
