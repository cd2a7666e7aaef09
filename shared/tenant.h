/*
 * tenant: the frame of every tenancy API request.
 *
 *   tenant_begin()		authenticate, then open the request's one
 *				transaction acting as the caller (RLS)
 *   tenant_org()		the caller's role in an organization: a
 *				stranger gets 404, never a yes/no answer
 *   tenant_idem_begin()	Idempotency-Key: replay the first answer
 *   tenant_answer()		keep the answer for the key, commit, send
 *   tenant_end()		roll back whatever was not committed
 *
 * A mutation therefore commits its change, its audit row and its stored
 * idempotent answer together, or none of them.
 */
#ifndef HXB_TENANT_H
#define HXB_TENANT_H

#include <stdbool.h>

#include <jansson.h>

#include "auth.h"
#include "db.h"
#include "http.h"
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
 * The role in out[i] (a result of SELECT hxb_org_role($1)), with the
 * answer tenant_org() gives when it falls short of `need`.
 */
enum org_role	 tenant_role_of(struct req *, const PGresult *,
		    const char *org_id, enum org_role need);

/* SELECT hxb_org_role($1), for tenant_read() pipelines. */
extern const struct db_stmt tenant_st_org_role;

/* Roll back if still open; every route calls it on every path. */
void		 tenant_end(struct req *);

/*
 * The caller's role in org_id; with `need` above it, answers 404 (for a
 * stranger) or 403 (a member who is no admin) and returns ORG_NONE.
 * Returns ORG_NONE on a database error too (answered).
 */
enum org_role	 tenant_org(struct req *, const char *org_id,
		    enum org_role need);

/*
 * For a POST that creates: with an Idempotency-Key header, look the key
 * up under a transaction-scoped lock.  0 to go on (no key, or a new one),
 * 1 if the first answer was replayed, -1 if answered otherwise (422 for
 * the same key with another request, 400 for a malformed key).
 */
int		 tenant_idem_begin(struct req *, const char *user_id);

/*
 * Answer `status` with `body` (stolen): keep it for the idempotency key
 * if there is one, commit, then send.  On a failed commit, 503 or 500.
 */
void		 tenant_answer(struct req *, int status, json_t *body);

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
