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
#include "crypto.h"
#include "http.h"
#include "jsonw.h"
#include "log.h"
#include "tenant.h"

#define IDEM_KEY_MAX	255

const struct db_stmt tenant_st_org_role = { "tenant_org_role",
    "SELECT hxb_org_role($1)", 1 };

static const struct db_stmt st_idem_lock = { "tenant_idem_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 7))", 2 };

static const struct db_stmt st_idem_get = { "tenant_idem_get",
    "SELECT encode(request_hash, 'hex'), route, status, response "
    "FROM idempotency_keys WHERE user_id = $1 AND key = $2", 2 };

static const struct db_stmt st_idem_put = { "tenant_idem_put",
    "INSERT INTO idempotency_keys (user_id, key, route, request_hash, "
    "status, response) VALUES ($1, $2, $3, decode($4, 'hex'), $5::int, $6)",
    6 };

/* The request's idempotency state, between begin and answer. */
struct idem {
	bool		 active;
	char		 user_id[AUTH_ID_MAX];
	char		 key[IDEM_KEY_MAX + 1];
	char		 hash[2 * CRYPTO_SHA256_LEN + 1];
};

/* One request at a time per process. */
static struct idem idem;

int
tenant_begin(struct req *r, struct principal *p)
{
	memset(&idem, 0, sizeof(idem));
	if (auth_require(r, p) != 0)
		return -1;
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
	if (auth_require(r, p) != 0)
		return -1;
	if (db_tx_as(&r->app->db, p->user_id, n, st, params, out) != 0) {
		tenant_db_problem(r);
		return -1;
	}
	return 0;
}

enum org_role
tenant_role_of(struct req *r, const PGresult *res, const char *org_id,
    enum org_role need)
{
	const char	*v = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
			    PQgetvalue(res, 0, 0) : "";
	enum org_role	 role = ORG_NONE;

	if (strcmp(v, "admin") == 0)
		role = ORG_ADMIN;
	else if (strcmp(v, "member") == 0)
		role = ORG_MEMBER;
	if (role == ORG_NONE) {
		http_problem(r, PROBLEM_NOT_FOUND, "no such organization",
		    NULL);
		return ORG_NONE;
	}
	if (role < need) {
		http_problem(r, PROBLEM_FORBIDDEN, "only an organization "
		    "admin may do this", NULL);
		return ORG_NONE;
	}
	http_set_resource(r, "organizations/%s", org_id);
	return role;
}

enum org_role
tenant_org(struct req *r, const char *org_id, enum org_role need)
{
	const char	*params[1] = { org_id };
	PGresult	*res;
	enum org_role	 role;

	if ((res = db_exec(&r->app->db, &tenant_st_org_role, params)) ==
	    NULL) {
		db_problem(r);
		return ORG_NONE;
	}
	role = tenant_role_of(r, res, org_id, need);
	PQclear(res);
	return role;
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
	if (idem_hash(r, idem.hash) != 0) {
		http_problem(r, PROBLEM_INTERNAL, "out of memory", NULL);
		return -1;
	}
	params[0] = idem.user_id;
	params[1] = idem.key;
	if ((res = db_exec(&r->app->db, &st_idem_lock, params)) == NULL) {
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
	    strcmp(PQgetvalue(res, 0, 1), r->route->action) != 0) {
		PQclear(res);
		http_problem(r, PROBLEM_VALIDATION, "this Idempotency-Key was "
		    "used for a different request", NULL);
		return -1;
	}
	status = atoi(PQgetvalue(res, 0, 2));
	buf_addstr(&body, PQgetvalue(res, 0, 3));
	PQclear(res);
	http_header(r, "Idempotent-Replayed", "true");
	http_json_buf(r, status, &body);
	buf_release(&body);
	return 1;
}

void
tenant_answer(struct req *r, int status, json_t *body)
{
	struct buf	 b = BUF_INIT(0);
	char		*s;
	char		 code[8];
	const char	*params[6];
	PGresult	*res;

	if ((s = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		http_problem(r, PROBLEM_INTERNAL, "out of memory", NULL);
		tenant_end(r);
		return;
	}
	json_decref(body);
	if (idem.active) {
		snprintf(code, sizeof(code), "%d", status);
		params[0] = idem.user_id;
		params[1] = idem.key;
		params[2] = r->route->action;
		params[3] = idem.hash;
		params[4] = code;
		params[5] = s;
		if ((res = db_exec(&r->app->db, &st_idem_put, params)) ==
		    NULL) {
			free(s);
			tenant_db_problem(r);
			return;
		}
		PQclear(res);
	}
	if (db_commit(&r->app->db) != 0) {
		free(s);
		db_problem(r);
		tenant_end(r);
		return;
	}
	memset(&idem, 0, sizeof(idem));
	buf_addstr(&b, s);
	free(s);
	http_json_buf(r, status, &b);
	buf_release(&b);
}
