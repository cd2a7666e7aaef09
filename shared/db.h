/*
 * db: one PostgreSQL connection per process, opened lazily (after fork),
 * with deadlines on connecting and on every statement.
 *
 * Every statement is parameterized.  Hot statements are declared once as a
 * `struct db_stmt` and prepared on first use on each connection.  If the
 * server went away (a restart, a failover), the first statement of a
 * request is retried once on a new connection; later statements are not,
 * because a half-done request must fail rather than be replayed.
 *
 * Ownership: results are returned to the caller, who frees them with
 * PQclear().  The struct db borrows the configuration and logger.
 */
#ifndef HXB_DB_H
#define HXB_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

struct config;
struct logger;

#define DB_PREPARED_MAX	64

struct db_stmt {
	const char	*name;		/* unique per process */
	const char	*sql;
	int		 nparams;
};

enum db_err {
	DB_OK,
	DB_ERR_CONNECT,		/* cannot reach the server */
	DB_ERR_TIMEOUT,		/* deadline passed; the statement was cancelled */
	DB_ERR_QUERY,		/* the server refused the statement */
	DB_ERR__MAX
};

struct db {
	PGconn			*conn;
	const struct config	*cfg;
	const struct logger	*log;
	const char		*appname;
	const char		*request_id;	/* of the request, for the
						 * transaction (borrowed) */
	const struct db_stmt	*prepared[DB_PREPARED_MAX];
	size_t			 nprepared;
	unsigned int		 stmts;		/* in this request */
	bool			 fresh;		/* opened in this request */
	bool			 in_tx;
	enum db_err		 err;
	char			 sqlstate[6];
	char			 errmsg[512];
};

void		 db_init(struct db *, const struct config *,
		    const struct logger *, const char *appname);
void		 db_close(struct db *);

/* Mark the start of a request: the retry rule counts from here. */
void		 db_request_begin(struct db *);

/*
 * Run a declared statement.  Returns a result with status TUPLES_OK or
 * COMMAND_OK, which the caller PQclear()s; or NULL with db->err, ->sqlstate
 * and ->errmsg set.
 */
PGresult	*db_exec(struct db *, const struct db_stmt *,
		    const char *const *params);

/* Run an ad-hoc parameterized statement (not prepared). */
PGresult	*db_query(struct db *, const char *sql, int nparams,
		    const char *const *params);

/* Run a script of several statements (migrations); no parameters. */
int		 db_script(struct db *, const char *sql);

int		 db_begin(struct db *);

/*
 * Row-level security: in the open transaction, act as this user
 * (hxb.user_id, transaction-local; sql/0003_tenancy.sql), for the
 * request db->request_id names, if any (hxb.request_id, which the rows
 * the database writes itself carry, such as RBAC-sync tasks).  Tenant tables
 * show and accept nothing without it.  db_begin_as() is db_begin() and
 * db_act_as() together.  0, or -1 with db->err set.
 */
int		 db_act_as(struct db *, const char *user_id);
int		 db_begin_as(struct db *, const char *user_id);

/*
 * A whole short transaction in one round trip (libpq pipeline mode): act
 * as user_id, then the n declared statements, all in the one implicit
 * transaction that ends at the pipeline's Sync.  For reads,
 * and for writes that need no decision between their statements.  0 with
 * every statement's result in out (the caller PQclear()s them), or -1
 * with db->err set and the transaction rolled back.  Not inside another
 * transaction.
 */
#define DB_PIPELINE_MAX	8

int		 db_tx_as(struct db *, const char *user_id, size_t n,
		    const struct db_stmt *const *, const char *const *const *,
		    PGresult **out);
int		 db_commit(struct db *);
void		 db_rollback(struct db *);

/* Cheap liveness check within `timeout_ms`; 0 when the server answers. */
int		 db_ping(struct db *, int timeout_ms);

/*
 * A timestamptz as the server sends it on our connections (UTC, ISO:
 * "2026-12-03 01:14:43.593217+00") as RFC 3339 with milliseconds
 * ("2026-12-03T01:14:43.593Z"), the API's one format; anything else is
 * copied as it is.  Cheaper than to_char() in SQL by far.
 */
#define DB_TS_MAX	32
void		 db_ts(const char *, char out[DB_TS_MAX]);

/* True if the last error was this SQLSTATE (e.g. "23505"). */
bool		 db_is_sqlstate(const struct db *, const char *);

#endif
