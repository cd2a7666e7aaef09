/*
 * audit: see audit.h.
 */
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "http.h"
#include "log.h"

static const struct db_stmt st_audit = { "audit_insert",
    "INSERT INTO audit_log (organization_id, workspace_id, actor_id, action, "
    "resource, result, before, after, request_id, ip) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10::inet)",
    10 };

/* The client address if it is an IP address (inet would refuse others). */
static const char *
client_ip(const struct req *r)
{
	unsigned char	 a[16];

	if (r->remote_addr == NULL)
		return NULL;
	if (inet_pton(AF_INET, r->remote_addr, a) == 1 ||
	    inet_pton(AF_INET6, r->remote_addr, a) == 1)
		return r->remote_addr;
	return NULL;
}

int
audit_write(struct req *r, const struct audit *a)
{
	char		*before = NULL, *after = NULL;
	const char	*params[10];
	PGresult	*res;
	int		 rc = -1;

	if (a->before != NULL && (before = json_dumps(a->before,
	    JSON_COMPACT)) == NULL)
		goto out;
	if (a->after != NULL && (after = json_dumps(a->after,
	    JSON_COMPACT)) == NULL)
		goto out;
	params[0] = a->organization_id;
	params[1] = a->workspace_id;
	params[2] = a->actor_id;
	params[3] = a->action;
	params[4] = a->resource;
	params[5] = a->failure ? "failure" : "success";
	params[6] = before;
	params[7] = after;
	params[8] = r->request_id;
	params[9] = client_ip(r);
	if ((res = db_exec(&r->app->db, &st_audit, params)) != NULL) {
		PQclear(res);
		rc = 0;
	}
out:
	if (rc != 0)
		log_msg(&r->app->log, LOGL_ERROR, __func__, r->request_id,
		    "cannot write the audit record %s: %s", a->action,
		    r->app->db.errmsg);
	free(before);
	free(after);
	return rc;
}

void
db_problem(struct req *r)
{
	struct db	*db = &r->app->db;
	enum db_err	 err = db->err;
	char		 msg[sizeof(db->errmsg)];

	memcpy(msg, db->errmsg, sizeof(msg));
	if (db->in_tx)
		db_rollback(db);
	if (err == DB_ERR_CONNECT || err == DB_ERR_TIMEOUT) {
		http_header(r, "Retry-After", "1");
		http_problem(r, PROBLEM_UNAVAILABLE, "the database is not "
		    "available; try again shortly", NULL);
		return;
	}
	log_msg(&r->app->log, LOGL_ERROR, __func__, r->request_id,
	    "database: %s", msg);
	http_problem(r, PROBLEM_INTERNAL, "the request failed; it has been "
	    "logged", NULL);
}
