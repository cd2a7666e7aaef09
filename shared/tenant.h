/*
 * tenant: the frame of every tenancy API request.
 *
 *   tenant_begin()		authenticate, then open the request's one
 *				transaction acting as the caller (RLS)
 *   tenant_org(), tenant_ws()	the caller's relation to the organization
 *				or workspace, judged against the route's
 *				permission (authz.h): a stranger gets 404,
 *				never a yes/no answer
 *   tenant_idem_begin()	Idempotency-Key: replay the first answer
 *   tenant_answer()		keep the answer for the key, commit, send,
 *				publish the transaction's outbox rows
 *   tenant_end()		roll back whatever was not committed
 *
 * A mutation therefore commits its change, its audit row, its tasks and
 * outbox rows and its stored idempotent answer together, or none of them.
 */
#ifndef HXB_TENANT_H
#define HXB_TENANT_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "authz.h"
#include "db.h"
#include "http.h"
#include "id.h"
#include "page.h"

struct req;

enum org_role {
	ORG_NONE,
	ORG_MEMBER,
	ORG_ADMIN
};

/* 0 in a transaction acting as the caller, or -1 (answered). */
int		 tenant_begin(struct req *, struct principal *);

/*
 * A read in one round trip: authenticate, then run the n statements in
 * one committed transaction acting as the caller (db_tx_as()).  0 with
 * the results in out (the caller PQclear()s them), or -1 (answered).
 */
int		 tenant_read(struct req *, struct principal *, size_t n,
		    const struct db_stmt *const *, const char *const *const *,
		    PGresult **out);

/*
 * For a path id that is malformed, so cannot exist: authenticate (401
 * comes first), then answer 404 "no such <what>".  Always -1.
 */
int		 tenant_bad_id(struct req *, struct principal *,
		    const char *what);

/*
 * The caller's role in an organization, from out[i] of SELECT
 * hxb_org_role($1), judged against the route's permission (authz.h): the
 * role, or ORG_NONE after answering 404 (a stranger) or 403.  A member
 * allowed only about themselves (AZ_SELF) gets ORG_MEMBER; the route
 * checks the "themselves".
 */
enum org_role	 tenant_role_of(struct req *, const PGresult *,
		    const char *org_id);

/* SELECT hxb_org_role($1), for tenant_read() pipelines. */
extern const struct db_stmt tenant_st_org_role;

/* Roll back if still open; every route calls it on every path. */
void		 tenant_end(struct req *);

/* The same as tenant_role_of(), asked in the open transaction. */
enum org_role	 tenant_org(struct req *, const char *org_id);

/*
 * The workspace a route is about, and the caller's relation to it.
 * tenant_st_ws ($1 a workspace id) and tenant_st_project ($1 a project
 * id) both answer (workspace id, organization id, status, access, ...);
 * rows the caller may not see are not there.
 */
struct tenant_ws {
	char		 id[ID_BUFSZ];
	char		 org_id[ID_BUFSZ];
	char		 status[16];
	enum authz_rel	 rel;
};

extern const struct db_stmt tenant_st_ws;
extern const struct db_stmt tenant_st_project;

/*
 * Judge out[] (a result of one of those statements) against the route's
 * permission: 0 with *ws filled in, or -1 after answering 404 ("no such
 * <what>") or 403.  On a route that changes something, a workspace being
 * deleted is a 409.  Sets the log's workspace.
 */
int		 tenant_ws_of(struct req *, const PGresult *, const char *what,
		    struct tenant_ws *);

/* The same, asked in the open transaction with st and its one id. */
int		 tenant_ws(struct req *, const struct db_stmt *,
		    const char *id, const char *what, struct tenant_ws *);

/*
 * Begin a route about the workspace (kind ID_WS) or project (ID_PRJ)
 * whose id is the path parameter `param`: authenticated, in the
 * transaction, judged by tenant_ws_of(), the log's resource set.  A
 * malformed id is a 404 like any unknown one.  0, or -1 (answered).
 */
int		 tenant_ws_begin(struct req *, struct principal *,
		    const char *param, enum id_kind, struct tenant_ws *);

/*
 * For reads that row-level security already limits to what the caller
 * sees: judge "found" (the caller sees the workspace) or not against the
 * route's permission.  0 to answer, or -1 after answering 404.
 */
int		 tenant_visible(struct req *, bool found, const char *what);

/* Run a statement whose rows are not needed; 0, or -1 (answered). */
int		 tenant_run(struct req *, const struct db_stmt *,
		    const char *const *params);

/*
 * Run a statement whose failure the caller answers itself (a constraint
 * it knows how to explain): 0, or -1 with the database's error kept and
 * nothing answered yet.
 */
int		 tenant_try(struct req *, const struct db_stmt *,
		    const char *const *params);

/*
 * Run a statement that must find exactly one row: the result (caller
 * PQclear()s), or NULL after answering 404 "no such <what>" (or the
 * database's error).
 */
PGresult	*tenant_one(struct req *, const struct db_stmt *,
		    const char *const *params, const char *what);

/*
 * Record a change in the audit log, in the transaction; before and after
 * are borrowed.  0, or -1 (answered 500, rolled back).
 */
int		 tenant_audit(struct req *, const char *org_id,
		    const char *ws_id, const char *actor, const char *action,
		    json_t *before, json_t *after);

/*
 * Answer 422 naming one field, `detail` the problem's summary (NULL: the
 * message itself), and roll back.
 */
void		 tenant_invalid(struct req *, const char *field,
		    const char *message, const char *detail);

/*
 * Answer a constraint violation of a body field as 422 with that field,
 * when the last error was `sqlstate`; else as tenant_db_problem().
 */
void		 tenant_field_problem(struct req *, const char *sqlstate,
		    const char *field, const char *message);

/*
 * Queue work for the jobs in the transaction: a tasks row of `type` and
 * an outbox row for `subject` carrying the same JSON, {task_id, type,
 * organization_id, workspace_id, request_id, spec} (spec stolen).  The
 * task id is written to task_id[ID_BUFSZ]; tenant_answer() publishes
 * after the commit.  0, or -1 (answered).
 */
int		 tenant_task(struct req *, const char *org_id,
		    const char *ws_id, const char *type, const char *subject,
		    json_t *spec, char *task_id);

/*
 * For a POST that creates: with an Idempotency-Key header, look the key
 * up under a transaction-scoped lock.  0 to go on (no key, or a new one),
 * 1 if the first answer was replayed, -1 if answered otherwise (422 for
 * the same key with another request, 400 for a malformed key).
 */
int		 tenant_idem_begin(struct req *, const char *user_id);

/*
 * Answer `status` with `body` (stolen): keep it for the idempotency key
 * if there is one, commit, send, then publish what the transaction left
 * in the outbox (tasks, RBAC syncs) and mark it published.  On a failed
 * commit, 503 or 500.
 */
void		 tenant_answer(struct req *, int status, json_t *body);

/* The same for 204 No Content. */
void		 tenant_no_content(struct req *);

/*
 * A list: run st, whose params end with the page's cursor id and limit + 1
 * (page.h), and answer {items, next_cursor} with one item per row from
 * row(); the rows are ordered by column 0, the id the cursor carries.
 */
typedef json_t	*(*tenant_row_fn)(const PGresult *, int row);

void		 tenant_list(struct req *, const struct page *,
		    const struct db_stmt *, const char *const *params,
		    tenant_row_fn);

/* The same answer from a result already read (tenant_read()). */
json_t		*tenant_page(const struct page *, const PGresult *,
		    tenant_row_fn);

/* A timestamptz column as a JSON string in the API's form (db_ts()). */
json_t		*tenant_ts(const PGresult *, int row, int col);

/*
 * Hot reads write their JSON straight into the answer (jsonw.h) rather
 * than building a jansson tree: a row writer renders one row as an
 * object, for a page, for a single answer, or (on the rarer write paths)
 * as a jansson value through tenant_row_json().
 */
struct jsonw;
typedef void	(*tenant_write_fn)(struct jsonw *, const PGresult *, int row);

void		 tenant_send_page(struct req *, const struct page *,
		    const PGresult *, tenant_write_fn);
void		 tenant_send_row(struct req *, int status, const PGresult *,
		    int row, tenant_write_fn);
json_t		*tenant_row_json(const PGresult *, int row, tenant_write_fn);

/* A string column, or null if SQL NULL; a timestamptz column (db_ts()). */
void		 tenant_kv_text(struct jsonw *, const char *key,
		    const PGresult *, int row, int col);
void		 tenant_kv_ts(struct jsonw *, const char *key,
		    const PGresult *, int row, int col);

/* Answer a problem and roll back: the end of a refused request. */
void		 tenant_fail(struct req *, enum problem, const char *detail);

/* Answer a constraint violation or any other database failure. */
void		 tenant_db_problem(struct req *);

#endif
