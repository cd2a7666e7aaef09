/*
 * tenant: see tenant.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "buf.h"
#include "bus.h"
#include "crypto.h"
#include "http.h"
#include "id.h"
#include "jsonw.h"
#include "log.h"
#include "tenant.h"

#define IDEM_KEY_MAX	255

const struct db_stmt tenant_st_org_role = { "tenant_org_role",
    "SELECT hxb_org_role($1)", 1 };

static const struct db_stmt st_idem_lock = { "tenant_idem_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7))", 2 };

/*
 * Idempotency records are kept for IDEM_TTL; an older one is forgotten
 * when its key comes again.  They hold no key and no answer in clear:
 * `key` is a digest of the client's key, `response` the answer sealed
 * under a key derived from it (idem_seal_key()), so the table alone
 * gives away no secret an answer carried (an invitation's token).
 */
#define IDEM_TTL	"24 hours"

static const struct db_stmt st_idem_expire = { "tenant_idem_expire",
    "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 "
    "AND created_at <= now() - interval '" IDEM_TTL "'", 2 };

static const struct db_stmt st_idem_get = { "tenant_idem_get",
    "SELECT encode(request_hash, 'hex'), route, status, response "
    "FROM idempotency_keys WHERE user_id = $1 AND key = $2", 2 };

static const struct db_stmt st_idem_put = { "tenant_idem_put",
    "INSERT INTO idempotency_keys (user_id, key, route, request_hash, "
    "status, response) VALUES ($1, $2, $3, decode($4, 'hex'), $5::int, $6)",
    6 };

#define WS_COLS_ACCESS \
	"w.id, w.organization_id, w.status, hxb_ws_access(w.id)"

const struct db_stmt tenant_st_ws = { "tenant_ws",
    "SELECT " WS_COLS_ACCESS " FROM workspaces w WHERE w.id = $1", 1 };

const struct db_stmt tenant_st_project = { "tenant_project",
    "SELECT " WS_COLS_ACCESS ", p.id FROM projects p "
    "JOIN workspaces w ON w.id = p.workspace_id WHERE p.id = $1", 1 };

static const struct db_stmt st_task_insert = { "tenant_task_insert",
    "INSERT INTO tasks (id, type, organization_id, workspace_id, payload, "
    "request_id, created_by) VALUES ($1, $2, $3, $4, $5::jsonb, $6, "
    "hxb_actor())", 6 };

static const struct db_stmt st_outbox_insert = { "tenant_outbox_insert",
    "INSERT INTO outbox (organization_id, workspace_id, subject, payload) "
    "VALUES ($1, $2, $3, $4::jsonb)", 4 };

static const struct db_stmt st_outbox_mine = { "tenant_outbox_mine",
    "SELECT id, subject, payload, task_id FROM hxb_outbox_mine() LIMIT 16",
    0 };

static const struct db_stmt st_outbox_sent = { "tenant_outbox_sent",
    "UPDATE outbox SET published_at = now() "
    "WHERE id = ANY ($1::bigint[]) AND published_at IS NULL", 1 };

/* The request's idempotency state, between begin and answer. */
struct idem {
	bool		 active;
	char		 user_id[AUTH_ID_MAX];
	char		 key[IDEM_KEY_MAX + 1];		/* the client's */
	char		 key_id[2 * CRYPTO_SHA256_LEN + 1];	/* stored */
	unsigned char	 seal[CRYPTO_KEY_LEN];
	char		 hash[2 * CRYPTO_SHA256_LEN + 1];
};

/*
 * What the transaction left in the outbox, read before its commit and
 * published after it.  A transaction that leaves more than OUTBOX_MAX
 * rows leaves the rest to the relay (jobs/reconcile).
 */
#define OUTBOX_MAX	16

struct outbox {
	size_t		 n;
	char		 actor[AUTH_ID_MAX];
	struct {
		char	 id[24];
		char	*subject;	/* malloc'd */
		char	*payload;	/* malloc'd */
		char	*task_id;	/* malloc'd; NULL if none */
	}		 rows[OUTBOX_MAX];
};

/* One request at a time per process. */
static struct idem idem;
static struct outbox outbox;

static void
outbox_clear(void)
{
	size_t	 i;

	for (i = 0; i < outbox.n; i++) {
		free(outbox.rows[i].subject);
		free(outbox.rows[i].payload);
		free(outbox.rows[i].task_id);
	}
	memset(&outbox, 0, sizeof(outbox));
}

int
tenant_begin(struct req *r, struct principal *p)
{
	memset(&idem, 0, sizeof(idem));
	outbox_clear();
	if (auth_require(r, p) != 0)
		return -1;
	snprintf(outbox.actor, sizeof(outbox.actor), "%s", p->user_id);
	r->app->db.request_id = r->request_id;
	if (db_begin_as(&r->app->db, p->user_id) != 0) {
		db_problem(r);
		return -1;
	}
	return 0;
}

void
tenant_end(struct req *r)
{
	db_rollback(&r->app->db);
	memset(&idem, 0, sizeof(idem));
	outbox_clear();
}

int
tenant_bad_id(struct req *r, struct principal *p, const char *what)
{
	if (auth_require(r, p) == 0)
		http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", what);
	return -1;
}

int
tenant_run(struct req *r, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
tenant_try(struct req *r, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res;

	if ((res = db_exec(&r->app->db, st, params)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

PGresult *
tenant_one(struct req *r, const struct db_stmt *st, const char *const *params,
    const char *what)
{
	PGresult	*res;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", what);
		tenant_end(r);
		return NULL;
	}
	return res;
}

int
tenant_audit(struct req *r, const char *org_id, const char *ws_id,
    const char *actor, const char *action, json_t *before, json_t *after)
{
	struct audit	 a = { 0 };

	a.organization_id = org_id;
	a.workspace_id = ws_id;
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

int
tenant_task(struct req *r, const char *org_id, const char *ws_id,
    const char *type, const char *subject, json_t *spec, char *task_id)
{
	const char	*params[6];
	char		*payload = NULL;
	json_t		*o;
	int		 rc = -1;

	if (id_new(&r->app->ids, ID_TASK, task_id) != 0) {
		json_decref(spec);
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return -1;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "task_id", task_id,
	    "type", type, "organization_id", org_id, "workspace_id", ws_id,
	    "request_id", r->request_id, "spec", spec);
	if (o == NULL || (payload = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		tenant_fail(r, PROBLEM_INTERNAL, "out of memory");
		return -1;
	}
	json_decref(o);
	params[0] = task_id;
	params[1] = type;
	params[2] = org_id;
	params[3] = ws_id;
	params[4] = payload;
	params[5] = r->request_id;
	if (tenant_run(r, &st_task_insert, params) != 0)
		goto out;
	params[0] = org_id;
	params[1] = ws_id;
	params[2] = subject;
	params[3] = payload;
	if (tenant_run(r, &st_outbox_insert, params) != 0)
		goto out;
	rc = 0;
out:
	free(payload);
	return rc;
}

void
tenant_invalid(struct req *r, const char *field, const char *message,
    const char *detail)
{
	json_t	*errors = json_array();

	validate_error(errors, field, message);
	http_problem(r, PROBLEM_VALIDATION, detail != NULL ? detail : message,
	    errors);
	tenant_end(r);
}

void
tenant_field_problem(struct req *r, const char *sqlstate, const char *field,
    const char *message)
{
	if (db_is_sqlstate(&r->app->db, sqlstate))
		tenant_invalid(r, field, message, NULL);
	else
		tenant_db_problem(r);
}

json_t *
tenant_page(const struct page *pg, const PGresult *res, tenant_row_fn row)
{
	json_t	*items = json_array();
	int	 i, n = PQntuples(res);
	int	 shown = n > pg->limit ? (int)pg->limit : n;

	for (i = 0; i < shown; i++)
		json_array_append_new(items, row(res, i));
	return page_answer(pg, items, n, 0, shown > 0 ?
	    PQgetvalue(res, shown - 1, 0) : NULL);
}

void
tenant_list(struct req *r, const struct page *pg, const struct db_stmt *st,
    const char *const *params, tenant_row_fn row)
{
	PGresult	*res;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return;
	}
	tenant_answer(r, 200, tenant_page(pg, res, row));
	PQclear(res);
}

json_t *
tenant_ts(const PGresult *res, int i, int col)
{
	char	 out[DB_TS_MAX];

	db_ts(PQgetvalue(res, i, col), out);
	return json_string(out);
}

void
tenant_kv_text(struct jsonw *w, const char *key, const PGresult *res, int i,
    int col)
{
	if (PQgetisnull(res, i, col))
		jsonw_kv_null(w, key);
	else
		jsonw_kv_string(w, key, PQgetvalue(res, i, col));
}

void
tenant_kv_ts(struct jsonw *w, const char *key, const PGresult *res, int i,
    int col)
{
	char	 out[DB_TS_MAX];

	if (PQgetisnull(res, i, col)) {
		jsonw_kv_null(w, key);
		return;
	}
	db_ts(PQgetvalue(res, i, col), out);
	jsonw_kv_string(w, key, out);
}

void
tenant_send_page(struct req *r, const struct page *pg, const PGresult *res,
    tenant_write_fn row)
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
		row(&w, res, i);
	jsonw_array_end(&w);
	if (n > shown && shown > 0 && cursor_encode(0, PQgetvalue(res,
	    shown - 1, 0), next) == 0)
		jsonw_kv_string(&w, "next_cursor", next);
	else
		jsonw_kv_null(&w, "next_cursor");
	jsonw_object_end(&w);
	http_json_buf(r, 200, &b);
	buf_release(&b);
}

void
tenant_send_row(struct req *r, int status, const PGresult *res, int i,
    tenant_write_fn row)
{
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;

	jsonw_init(&w, &b);
	row(&w, res, i);
	http_json_buf(r, status, &b);
	buf_release(&b);
}

json_t *
tenant_row_json(const PGresult *res, int i, tenant_write_fn row)
{
	struct buf	 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw	 w;
	json_t		*o = NULL;

	jsonw_init(&w, &b);
	row(&w, res, i);
	if (!b.failed)
		o = json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	return o;
}

void
tenant_fail(struct req *r, enum problem pr, const char *detail)
{
	http_problem(r, pr, detail, NULL);
	tenant_end(r);
}

void
tenant_db_problem(struct req *r)
{
	const struct db	*db = &r->app->db;

	if (db_is_sqlstate(db, "23505"))
		http_problem(r, PROBLEM_CONFLICT, "that name is already taken",
		    NULL);
	else if (db_is_sqlstate(db, "23503"))
		http_problem(r, PROBLEM_CONFLICT, "other resources still "
		    "depend on this one", NULL);
	else if (db_is_sqlstate(db, "HXC01"))
		http_problem(r, PROBLEM_VALIDATION, "that would make a "
		    "hierarchy loop", NULL);
	else if (db_is_sqlstate(db, "42501"))
		http_problem(r, PROBLEM_NOT_FOUND, "no such resource", NULL);
	else if (db->err == DB_ERR_QUERY && strncmp(db->sqlstate, "22", 2) == 0)
		http_problem(r, PROBLEM_VALIDATION, "a value is out of range",
		    NULL);
	else
		db_problem(r);
	tenant_end(r);
}

int
tenant_read(struct req *r, struct principal *p, size_t n,
    const struct db_stmt *const *st, const char *const *const *params,
    PGresult **out)
{
	memset(&idem, 0, sizeof(idem));
	outbox_clear();
	if (auth_require(r, p) != 0)
		return -1;
	r->app->db.request_id = r->request_id;
	if (db_tx_as(&r->app->db, p->user_id, n, st, params, out) != 0) {
		tenant_db_problem(r);
		return -1;
	}
	return 0;
}

/* Answer a refusal; the verdict is not AZ_ALLOW or AZ_SELF. */
static void
tenant_refuse(struct req *r, enum authz_verdict v, const char *what)
{
	if (v == AZ_FORBIDDEN)
		http_problemf(r, PROBLEM_FORBIDDEN, "you may see this %s but "
		    "not do this: %s", what, authz_perm_name(r->route->perm));
	else
		http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", what);
}

enum org_role
tenant_role_of(struct req *r, const PGresult *res, const char *org_id)
{
	const char		*v = PQntuples(res) == 1 &&
				    !PQgetisnull(res, 0, 0) ?
				    PQgetvalue(res, 0, 0) : NULL;
	enum authz_rel		 rel = authz_org_rel(v);
	enum authz_verdict	 verdict = authz_decide(r->route->perm, rel);

	if (verdict != AZ_ALLOW && verdict != AZ_SELF) {
		tenant_refuse(r, verdict, "organization");
		return ORG_NONE;
	}
	http_set_resource(r, "organizations/%s", org_id);
	return rel == REL_ORG_ADMIN ? ORG_ADMIN : ORG_MEMBER;
}

enum org_role
tenant_org(struct req *r, const char *org_id)
{
	const char	*params[1] = { org_id };
	PGresult	*res;
	enum org_role	 role;

	if ((res = db_exec(&r->app->db, &tenant_st_org_role, params)) ==
	    NULL) {
		db_problem(r);
		return ORG_NONE;
	}
	role = tenant_role_of(r, res, org_id);
	PQclear(res);
	return role;
}

int
tenant_ws_of(struct req *r, const PGresult *res, const char *what,
    struct tenant_ws *ws)
{
	enum authz_verdict	 v;

	memset(ws, 0, sizeof(*ws));
	ws->rel = REL_STRANGER;
	if (PQntuples(res) == 1) {
		snprintf(ws->id, sizeof(ws->id), "%s", PQgetvalue(res, 0, 0));
		snprintf(ws->org_id, sizeof(ws->org_id), "%s",
		    PQgetvalue(res, 0, 1));
		snprintf(ws->status, sizeof(ws->status), "%s",
		    PQgetvalue(res, 0, 2));
		ws->rel = authz_ws_rel(PQgetisnull(res, 0, 3) ? NULL :
		    PQgetvalue(res, 0, 3));
	}
	if ((v = authz_decide(r->route->perm, ws->rel)) != AZ_ALLOW) {
		tenant_refuse(r, v, what);
		return -1;
	}
	snprintf(r->workspace_id, sizeof(r->workspace_id), "%s", ws->id);
	if (r->method != HTTP_GET && r->method != HTTP_HEAD &&
	    (strcmp(ws->status, "deleting") == 0 ||
	    strcmp(ws->status, "deleted") == 0)) {
		http_problemf(r, PROBLEM_CONFLICT, "the workspace is %s",
		    ws->status);
		return -1;
	}
	return 0;
}

int
tenant_ws(struct req *r, const struct db_stmt *st, const char *id,
    const char *what, struct tenant_ws *ws)
{
	const char	*params[1] = { id };
	PGresult	*res;
	int		 rc;

	if ((res = db_exec(&r->app->db, st, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	rc = tenant_ws_of(r, res, what, ws);
	PQclear(res);
	if (rc != 0)
		tenant_end(r);
	return rc;
}

int
tenant_ws_begin(struct req *r, struct principal *p, const char *param,
    enum id_kind kind, struct tenant_ws *ws)
{
	const char	*id = http_param(r, param);
	const char	*what = kind == ID_PRJ ? "project" : "workspace";

	if (tenant_begin(r, p) != 0)
		return -1;
	if (id == NULL || !id_valid(id, kind)) {
		http_problemf(r, PROBLEM_NOT_FOUND, "no such %s", what);
		tenant_end(r);
		return -1;
	}
	http_set_resource(r, "%ss/%s", what, id);
	return tenant_ws(r, kind == ID_PRJ ? &tenant_st_project :
	    &tenant_st_ws, id, what, ws);
}

int
tenant_visible(struct req *r, bool found, const char *what)
{
	enum authz_verdict	 v;

	v = authz_decide(r->route->perm, found ? REL_WS_VIEWER : REL_STRANGER);
	if (v != AZ_ALLOW) {
		tenant_refuse(r, v, what);
		return -1;
	}
	return 0;
}

/* SHA-256 of route, path and the body in canonical form (sorted keys). */
static int
idem_hash(struct req *r, char out[2 * CRYPTO_SHA256_LEN + 1])
{
	struct buf	 b = BUF_INIT(0), hex = BUF_INIT(0);
	unsigned char	 md[CRYPTO_SHA256_LEN];
	char		*body = NULL;
	int		 rc = -1;

	if (r->body_json != NULL && (body = json_dumps(r->body_json,
	    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)) == NULL)
		return -1;
	buf_addstr(&b, r->route->action);
	buf_addch(&b, '\n');
	buf_addstr(&b, r->path);
	buf_addch(&b, '\n');
	if (body != NULL)
		buf_addstr(&b, body);
	free(body);
	if (!b.failed) {
		crypto_sha256(b.data, b.len, md);
		crypto_hex(&hex, md, sizeof(md));
		if (!hex.failed && hex.len == 2 * CRYPTO_SHA256_LEN) {
			memcpy(out, hex.data, hex.len + 1);
			rc = 0;
		}
	}
	buf_release(&b);
	buf_release(&hex);
	return rc;
}

static bool
idem_key_ok(const char *k)
{
	size_t	 n = 0;

	for (; k[n] != '\0'; n++)
		if ((unsigned char)k[n] < 0x21 || (unsigned char)k[n] > 0x7e)
			return false;
	return n >= 1 && n <= IDEM_KEY_MAX;
}

/*
 * From the client's key: what the table stores in its place (the hex of
 * HMAC-SHA256 keyed with it over "id" and the user), and the key that
 * seals the answer (the same over "seal").  Keys are per user.
 */
static void
idem_derive(void)
{
	struct buf	 b = BUF_INIT(0), hx = BUF_INIT(0);
	unsigned char	 md[CRYPTO_SHA256_LEN];

	buf_addstr(&b, "hxb idempotency id ");
	buf_addstr(&b, idem.user_id);
	crypto_hmac_sha256(idem.key, strlen(idem.key), b.data, b.len, md);
	crypto_hex(&hx, md, sizeof(md));
	snprintf(idem.key_id, sizeof(idem.key_id), "%s", buf_cstr(&hx));
	buf_reset(&b);
	buf_addstr(&b, "hxb idempotency seal ");
	buf_addstr(&b, idem.user_id);
	crypto_hmac_sha256(idem.key, strlen(idem.key), b.data, b.len,
	    idem.seal);
	buf_release(&b);
	buf_release(&hx);
}

/* The answer sealed for the table, base64url; NULL-terminated in out. */
static int
idem_seal(const char *route, const char *body, struct buf *out)
{
	struct buf	 ct = BUF_INIT(0);
	int		 rc = -1;

	if (crypto_seal(idem.seal, route, strlen(route), body, strlen(body),
	    &ct) == 0 && !ct.failed) {
		b64url_encode(out, ct.data, ct.len);
		rc = out->failed ? -1 : 0;
	}
	buf_release(&ct);
	return rc;
}

/* The stored answer, opened; -1 if it does not open (tampered). */
static int
idem_open(const char *route, const char *stored, struct buf *out)
{
	unsigned char	*ct;
	size_t		 n;
	int		 rc;

	if ((ct = b64url_decode(stored, strlen(stored), &n)) == NULL)
		return -1;
	rc = crypto_open(idem.seal, route, strlen(route), ct, n, out);
	free(ct);
	return rc == 0 && !out->failed ? 0 : -1;
}

int
tenant_idem_begin(struct req *r, const char *user_id)
{
	const char	*key = http_env(r, "HTTP_IDEMPOTENCY_KEY");
	const char	*params[2];
	PGresult	*res;
	json_t		*errors;
	struct buf	 body = BUF_INIT(0);
	int		 status;

	if (key == NULL)
		return 0;
	if (!idem_key_ok(key)) {
		errors = json_array();
		validate_error(errors, "Idempotency-Key", "must be 1 to 255 "
		    "visible ASCII characters");
		http_problem(r, PROBLEM_BAD_REQUEST, "bad Idempotency-Key "
		    "header", errors);
		return -1;
	}
	snprintf(idem.user_id, sizeof(idem.user_id), "%s", user_id);
	snprintf(idem.key, sizeof(idem.key), "%s", key);
	idem_derive();
	if (idem_hash(r, idem.hash) != 0) {
		http_problem(r, PROBLEM_INTERNAL, "out of memory", NULL);
		return -1;
	}
	params[0] = idem.user_id;
	params[1] = idem.key_id;
	if ((res = db_exec(&r->app->db, &st_idem_lock, params)) == NULL) {
		db_problem(r);
		return -1;
	}
	PQclear(res);
	if ((res = db_exec(&r->app->db, &st_idem_expire, params)) == NULL) {
		db_problem(r);
		return -1;
	}
	PQclear(res);
	if ((res = db_exec(&r->app->db, &st_idem_get, params)) == NULL) {
		db_problem(r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		idem.active = true;
		return 0;
	}
	if (strcmp(PQgetvalue(res, 0, 0), idem.hash) != 0 ||
	    strcmp(PQgetvalue(res, 0, 1), r->route->action) != 0 ||
	    idem_open(r->route->action, PQgetvalue(res, 0, 3), &body) != 0) {
		PQclear(res);
		buf_release(&body);
		http_problem(r, PROBLEM_VALIDATION, "this Idempotency-Key was "
		    "used for a different request", NULL);
		return -1;
	}
	status = atoi(PQgetvalue(res, 0, 2));
	PQclear(res);
	http_header(r, "Idempotent-Replayed", "true");
	http_json_buf(r, status, &body);
	buf_release(&body);
	return 1;
}

/* Read this transaction's outbox rows, before the commit. */
static int
outbox_take(struct req *r)
{
	PGresult	*res;
	int		 i, n;

	if (r->method == HTTP_GET || r->method == HTTP_HEAD)
		return 0;
	if ((res = db_exec(&r->app->db, &st_outbox_mine, NULL)) == NULL)
		return -1;
	n = PQntuples(res);
	for (i = 0; i < n && outbox.n < OUTBOX_MAX; i++) {
		snprintf(outbox.rows[outbox.n].id, sizeof(outbox.rows[0].id),
		    "%s", PQgetvalue(res, i, 0));
		outbox.rows[outbox.n].subject = strdup(PQgetvalue(res, i, 1));
		outbox.rows[outbox.n].payload = strdup(PQgetvalue(res, i, 2));
		if (!PQgetisnull(res, i, 3))
			outbox.rows[outbox.n].task_id =
			    strdup(PQgetvalue(res, i, 3));
		outbox.n++;
		if (outbox.rows[outbox.n - 1].subject == NULL ||
		    outbox.rows[outbox.n - 1].payload == NULL) {
			PQclear(res);
			return -1;
		}
	}
	PQclear(res);
	return 0;
}

/*
 * After the commit: publish each row with its task id as Nats-Msg-Id
 * (outbox:<row id> for a row that has none),
 * then mark what went out as published, as the caller (the outbox's
 * policy).  What could not go out stays for the relay; nothing here
 * changes the answer already decided.
 */
static void
outbox_publish(struct req *r)
{
	const struct db_stmt	*st[1] = { &st_outbox_sent };
	const char		*params[1];
	const char *const	*pp[1] = { params };
	struct buf		 ids = BUF_INIT(1024);
	PGresult		*out[1];
	size_t			 i, sent = 0;

	buf_addch(&ids, '{');
	for (i = 0; i < outbox.n; i++) {
		char	 mid[64];

		/* The relay's Nats-Msg-Id for the same row (jobs/reconcile). */
		snprintf(mid, sizeof(mid), "outbox:%s", outbox.rows[i].id);
		if (bus_publish(&r->app->bus, outbox.rows[i].subject,
		    outbox.rows[i].payload, strlen(outbox.rows[i].payload),
		    r->request_id, outbox.rows[i].task_id != NULL ?
		    outbox.rows[i].task_id : mid) != 0)
			log_warn(&r->app->log, "outbox row %s (%s) not "
			    "published, left for the relay: %s",
			    outbox.rows[i].id, outbox.rows[i].subject,
			    r->app->bus.errmsg);
		else {
			if (sent++ > 0)
				buf_addch(&ids, ',');
			buf_addstr(&ids, outbox.rows[i].id);
		}
	}
	buf_addch(&ids, '}');
	if (sent > 0 && !ids.failed) {
		params[0] = buf_cstr(&ids);
		if (db_tx_as(&r->app->db, outbox.actor, 1, st, pp, out) == 0)
			PQclear(out[0]);
	}
	buf_release(&ids);
	outbox_clear();
}

/* Keep the answer for the idempotency key, take the outbox, commit. */
static int
tenant_commit(struct req *r, int status, const char *body)
{
	struct buf	 sealed = BUF_INIT(0);
	char		 code[8];
	const char	*params[6];
	PGresult	*res;

	if (idem.active) {
		if (idem_seal(r->route->action, body, &sealed) != 0) {
			buf_release(&sealed);
			tenant_fail(r, PROBLEM_INTERNAL, "could not keep the "
			    "answer for the Idempotency-Key");
			return -1;
		}
		snprintf(code, sizeof(code), "%d", status);
		params[0] = idem.user_id;
		params[1] = idem.key_id;
		params[2] = r->route->action;
		params[3] = idem.hash;
		params[4] = code;
		params[5] = buf_cstr(&sealed);
		res = db_exec(&r->app->db, &st_idem_put, params);
		buf_release(&sealed);
		if (res == NULL) {
			tenant_db_problem(r);
			return -1;
		}
		PQclear(res);
	}
	if (outbox_take(r) != 0 || db_commit(&r->app->db) != 0) {
		db_problem(r);
		tenant_end(r);
		return -1;
	}
	memset(&idem, 0, sizeof(idem));
	return 0;
}

void
tenant_answer(struct req *r, int status, json_t *body)
{
	struct buf	 b = BUF_INIT(0);
	char		*s;

	if ((s = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		http_problem(r, PROBLEM_INTERNAL, "out of memory", NULL);
		tenant_end(r);
		return;
	}
	json_decref(body);
	if (tenant_commit(r, status, s) != 0) {
		free(s);
		return;
	}
	buf_addstr(&b, s);
	free(s);
	http_json_buf(r, status, &b);
	buf_release(&b);
	outbox_publish(r);
}

void
tenant_no_content(struct req *r)
{
	if (tenant_commit(r, 204, "") != 0)
		return;
	http_no_content(r);
	outbox_publish(r);
}
