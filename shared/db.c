/*
 * db: PostgreSQL through libpq's asynchronous API so that every wait has a
 * deadline; see db.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "db.h"
#include "log.h"

enum db_kind {
	DB_PREPARE,
	DB_PREPARED,
	DB_PARAMS,
	DB_SCRIPT,
};

void
db_init(struct db *db, const struct config *cfg, const struct logger *log,
    const char *appname)
{
	memset(db, 0, sizeof(*db));
	db->cfg = cfg;
	db->log = log;
	db->appname = appname;
}

static void
db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
	db->in_tx = false;
}

void
db_close(struct db *db)
{
	db_drop(db);
}

void
db_request_begin(struct db *db)
{
	db->stmts = 0;
	db->fresh = false;
	db->request_id = NULL;
}

static void
db_seterr(struct db *db, enum db_err e, const char *sqlstate,
    const char *msg)
{
	size_t	 n;

	db->err = e;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s",
	    sqlstate != NULL ? sqlstate : "");
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg != NULL ? msg : "");
	/* libpq messages end in a newline; logs are one line each. */
	n = strlen(db->errmsg);
	while (n > 0 && (db->errmsg[n - 1] == '\n' || db->errmsg[n - 1] == ' '))
		db->errmsg[--n] = '\0';
	for (char *p = db->errmsg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* Wait until the socket is ready or the deadline (0: none) passes. */
static int
db_wait(struct db *db, bool for_write, long long deadline)
{
	struct pollfd	 pfd;
	long long	 left;
	int		 n;

	pfd.fd = PQsocket(db->conn);
	pfd.events = for_write ? POLLOUT : POLLIN;
	for (;;) {
		left = deadline ? deadline - clock_ms() : -1;
		if (deadline && left <= 0)
			return -1;
		n = poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff : (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -1;
		if (errno != EINTR)
			return -1;
	}
}

/* Server notices ("relation already exists, skipping") go to the debug log. */
static void
db_notice(void *arg, const char *msg)
{
	struct db	*db = arg;
	char		 line[512];
	size_t		 n;

	snprintf(line, sizeof(line), "%s", msg);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug(db->log, "postgres: %s", line);
}

static int
db_connect(struct db *db, long long deadline)
{
	const char	*kw[6], *val[6];
	const char	*pw = config_str(db->cfg, CFG_DATABASE_PASSWORD);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int		 n = 0;

	kw[n] = "dbname", val[n++] = config_str(db->cfg, CFG_DATABASE_URL);
	if (pw != NULL)
		kw[n] = "password", val[n++] = pw;
	kw[n] = "application_name", val[n++] = db->appname;
	kw[n] = "client_encoding", val[n++] = "UTF8";
	/* Timestamps come back as UTC ISO text, for db_ts(). */
	kw[n] = "options", val[n++] = "-c TimeZone=UTC -c DateStyle=ISO,YMD "
	    "-c plan_cache_mode=force_generic_plan";
	kw[n] = NULL, val[n] = NULL;
	db_drop(db);
	db->conn = PQconnectStartParams(kw, val, 1);
	if (db->conn == NULL) {
		db_seterr(db, DB_ERR_CONNECT, NULL, "out of memory");
		return -1;
	}
	if (PQstatus(db->conn) == CONNECTION_BAD)
		goto fail;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			goto fail;
		if (db_wait(db, st == PGRES_POLLING_WRITING, deadline) != 0) {
			db_seterr(db, DB_ERR_CONNECT, NULL,
			    "timed out connecting to PostgreSQL");
			db_drop(db);
			return -1;
		}
		st = PQconnectPoll(db->conn);
	}
	if (PQsetnonblocking(db->conn, 1) != 0)
		goto fail;
	PQsetNoticeProcessor(db->conn, db_notice, db);
	db->fresh = true;
	return 0;
fail:
	db_seterr(db, DB_ERR_CONNECT, NULL, PQerrorMessage(db->conn));
	db_drop(db);
	return -1;
}

/* Cancel what runs on the server, then give up the connection. */
static void
db_cancel(struct db *db)
{
	PGcancel	*c;
	char		 errbuf[256];

	if ((c = PQgetCancel(db->conn)) != NULL) {
		if (!PQcancel(c, errbuf, sizeof(errbuf)))
			log_warn(db->log, "cancel failed: %s", errbuf);
		PQfreeCancel(c);
	}
	db_drop(db);
}

/* Outcomes of the two waits below. */
enum db_io { DB_IO_OK, DB_IO_TIMEOUT, DB_IO_BROKEN };

/* Flush what was queued to the server before the deadline. */
static enum db_io
db_flush(struct db *db, long long deadline)
{
	int	 f;

	while ((f = PQflush(db->conn)) == 1)
		if (db_wait(db, true, deadline) != 0)
			return DB_IO_TIMEOUT;
	return f == 0 ? DB_IO_OK : DB_IO_BROKEN;
}

/* The next result (NULL at the end of a query's results). */
static enum db_io
db_result(struct db *db, long long deadline, PGresult **res)
{
	while (PQisBusy(db->conn)) {
		if (db_wait(db, false, deadline) != 0)
			return DB_IO_TIMEOUT;
		if (!PQconsumeInput(db->conn))
			return DB_IO_BROKEN;
	}
	*res = PQgetResult(db->conn);
	return DB_IO_OK;
}

/*
 * Send one command and collect its results before the deadline.  Returns
 * the last result if every result succeeded, else NULL with the error.
 */
static PGresult *
db_run(struct db *db, enum db_kind kind, const char *name, const char *sql,
    int nparams, const char *const *params, long long deadline)
{
	PGresult	*res, *last = NULL;
	enum db_io	 io;
	int		 ok;
	bool		 failed = false;

	switch (kind) {
	case DB_PREPARE:
		ok = PQsendPrepare(db->conn, name, sql, nparams, NULL);
		break;
	case DB_PREPARED:
		ok = PQsendQueryPrepared(db->conn, name, nparams, params, NULL,
		    NULL, 0);
		break;
	case DB_PARAMS:
		ok = PQsendQueryParams(db->conn, sql, nparams, NULL, params,
		    NULL, NULL, 0);
		break;
	default:
		ok = PQsendQuery(db->conn, sql);
		break;
	}
	if (!ok)
		goto conn_error;
	if ((io = db_flush(db, deadline)) != DB_IO_OK)
		goto io_error;
	for (;;) {
		if ((io = db_result(db, deadline, &res)) != DB_IO_OK)
			goto io_error;
		if (res == NULL)
			break;
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (!failed) {
				PQclear(last);
				last = res;
			} else
				PQclear(res);
			break;
		default:
			if (!failed) {
				db_seterr(db, DB_ERR_QUERY,
				    PQresultErrorField(res, PG_DIAG_SQLSTATE),
				    PQresultErrorField(res,
				    PG_DIAG_MESSAGE_PRIMARY) != NULL ?
				    PQresultErrorField(res,
				    PG_DIAG_MESSAGE_PRIMARY) :
				    PQerrorMessage(db->conn));
				failed = true;
			}
			PQclear(res);
			break;
		}
	}
	if (PQstatus(db->conn) == CONNECTION_BAD) {
		PQclear(last);
		goto conn_error;
	}
	if (failed) {
		PQclear(last);
		return NULL;
	}
	db->err = DB_OK;
	return last;
io_error:
	if (io == DB_IO_TIMEOUT)
		goto timeout;
conn_error:
	PQclear(last);
	db_seterr(db, DB_ERR_CONNECT, NULL, PQerrorMessage(db->conn));
	db_drop(db);
	return NULL;
timeout:
	PQclear(last);
	db_seterr(db, DB_ERR_TIMEOUT, "57014", "statement timed out and was "
	    "cancelled");
	db_cancel(db);
	return NULL;
}

static bool
db_is_prepared(const struct db *db, const struct db_stmt *st)
{
	size_t	 i;

	for (i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == st)
			return true;
	return false;
}

/*
 * One statement with the retry rule: a stale connection (from an earlier
 * request) that fails on the request's first statement is replaced once.
 */
static PGresult *
db_do(struct db *db, enum db_kind kind, const struct db_stmt *st,
    const char *sql, int nparams, const char *const *params, int timeout_ms)
{
	bool		 retry = db->stmts == 0 && !db->in_tx;
	long long	 ctimeout = config_int(db->cfg, CFG_DB_CONNECT_TIMEOUT_MS);
	long long	 deadline;
	PGresult	*res;
	int		 attempt;

	db->stmts++;
	for (attempt = 0; attempt < 2; attempt++) {
		deadline = timeout_ms > 0 ? clock_ms() + timeout_ms : 0;
		if (db->conn == NULL) {
			long long cdl = clock_ms() + ctimeout;

			if (deadline && deadline < cdl)
				cdl = deadline;
			if (db_connect(db, cdl) != 0)
				return NULL;
		}
		retry = retry && !db->fresh;
		if (kind == DB_PREPARED && !db_is_prepared(db, st)) {
			res = db_run(db, DB_PREPARE, st->name, st->sql,
			    st->nparams, NULL, deadline);
			if (res == NULL) {
				if (db->err == DB_ERR_CONNECT && retry) {
					retry = false;
					continue;
				}
				return NULL;
			}
			PQclear(res);
			if (db->nprepared < DB_PREPARED_MAX)
				db->prepared[db->nprepared++] = st;
		}
		res = db_run(db, kind, st != NULL ? st->name : NULL,
		    st != NULL ? st->sql : sql, nparams, params, deadline);
		if (res == NULL && db->err == DB_ERR_CONNECT && retry) {
			log_info(db->log, "connection lost (%s); reconnecting "
			    "and retrying once", db->errmsg);
			retry = false;
			continue;
		}
		return res;
	}
	return NULL;
}

PGresult *
db_exec(struct db *db, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res;

	res = db_do(db, DB_PREPARED, st, NULL, st->nparams, params,
	    (int)config_int(db->cfg, CFG_DB_STATEMENT_TIMEOUT_MS));
	if (res == NULL)
		log_msg(db->log, db->err == DB_ERR_QUERY ? LOGL_WARN :
		    LOGL_ERROR, __func__, NULL, "statement %s failed: %s%s%s",
		    st->name, db->errmsg, db->sqlstate[0] ? " SQLSTATE " : "",
		    db->sqlstate);
	return res;
}

PGresult *
db_query(struct db *db, const char *sql, int nparams,
    const char *const *params)
{
	PGresult	*res;

	res = db_do(db, DB_PARAMS, NULL, sql, nparams, params,
	    (int)config_int(db->cfg, CFG_DB_STATEMENT_TIMEOUT_MS));
	if (res == NULL)
		log_msg(db->log, db->err == DB_ERR_QUERY ? LOGL_WARN :
		    LOGL_ERROR, __func__, NULL, "query failed: %s%s%s",
		    db->errmsg, db->sqlstate[0] ? " SQLSTATE " : "",
		    db->sqlstate);
	return res;
}

int
db_script(struct db *db, const char *sql)
{
	PGresult	*res;

	if ((res = db_do(db, DB_SCRIPT, NULL, sql, 0, NULL, 0)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static int
db_simple(struct db *db, const char *sql)
{
	PGresult	*res;

	if ((res = db_query(db, sql, 0, NULL)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_begin(struct db *db)
{
	if (db_simple(db, "BEGIN") != 0)
		return -1;
	db->in_tx = true;
	return 0;
}

/*
 * The acting user; for a transaction that may write, also the request
 * (the rows the database writes itself carry it).  Reads skip the second
 * setting: each costs the server a GUC change and its undoing.
 */
static const struct db_stmt st_act_as = { "db_act_as",
    "SELECT set_config('hxb.user_id', $1, true)", 1 };
static const struct db_stmt st_act_as_req = { "db_act_as_req",
    "SELECT set_config('hxb.user_id', $1, true), "
    "set_config('hxb.request_id', $2, true)", 2 };

int
db_act_as(struct db *db, const char *user_id)
{
	const char	*params[2] = { user_id, db->request_id != NULL ?
			    db->request_id : "" };
	PGresult	*res;

	if (!db->in_tx || user_id == NULL || *user_id == '\0') {
		db->err = DB_ERR_QUERY;
		snprintf(db->errmsg, sizeof(db->errmsg), "db_act_as needs a "
		    "transaction and a user");
		return -1;
	}
	if ((res = db_exec(db, &st_act_as_req, params)) == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* Prepare st on this connection unless it is; 0, or -1 with err set. */
static int
db_ensure_prepared(struct db *db, const struct db_stmt *st, long long deadline)
{
	PGresult	*res;

	if (db_is_prepared(db, st))
		return 0;
	if ((res = db_run(db, DB_PREPARE, st->name, st->sql, st->nparams,
	    NULL, deadline)) == NULL)
		return -1;
	PQclear(res);
	if (db->nprepared < DB_PREPARED_MAX)
		db->prepared[db->nprepared++] = st;
	return 0;
}

/*
 * One attempt of a pipeline: everything is sent, then one Sync, then every
 * result is read.  Up to the Sync the server runs the statements as one
 * implicit transaction, committed at the Sync if all succeeded and rolled
 * back otherwise (a failed statement makes it skip the rest), so a
 * committed read or write needs no BEGIN or COMMIT, and the transaction-
 * local acting user lasts exactly that long.  With open (db_begin_as()),
 * BEGIN goes first and the transaction stays open for the caller.
 */
static int
db_pipeline_try(struct db *db, const char *user_id, size_t n,
    const struct db_stmt *const *st, const char *const *const *params,
    PGresult **out, bool open, long long deadline)
{
	const char	*act[2] = { user_id, db->request_id != NULL ?
			    db->request_id : "" };
	const struct db_stmt *as = open ? &st_act_as_req : &st_act_as;
	PGresult	*res;
	size_t		 i, q, first = open ? 2 : 1, total = n + first;
	enum db_io	 io;
	bool		 failed = false;

	for (i = 0; i < n; i++)
		out[i] = NULL;
	for (i = 0; i < n; i++)
		if (db_ensure_prepared(db, st[i], deadline) != 0)
			return -1;
	if (db_ensure_prepared(db, as, deadline) != 0)
		return -1;
	if (!PQenterPipelineMode(db->conn))
		goto conn_error;
	if ((open && !PQsendQueryParams(db->conn, "BEGIN", 0, NULL, NULL,
	    NULL, NULL, 0)) || !PQsendQueryPrepared(db->conn, as->name,
	    as->nparams, act, NULL, NULL, 0))
		goto conn_error;
	for (i = 0; i < n; i++)
		if (!PQsendQueryPrepared(db->conn, st[i]->name, st[i]->nparams,
		    params[i], NULL, NULL, 0))
			goto conn_error;
	if (!PQpipelineSync(db->conn))
		goto conn_error;
	if ((io = db_flush(db, deadline)) != DB_IO_OK)
		goto io_error;
	/* Each query's results end with NULL; the sync ends the pipeline. */
	for (q = 0; q <= total; q++) {
		for (;;) {
			if ((io = db_result(db, deadline, &res)) != DB_IO_OK)
				goto io_error;
			if (res == NULL)
				break;
			switch (PQresultStatus(res)) {
			case PGRES_PIPELINE_SYNC:
				PQclear(res);
				q = total;
				goto next;
			case PGRES_TUPLES_OK:
			case PGRES_COMMAND_OK:
				if (q >= first && q < total && !failed)
					out[q - first] = res;
				else
					PQclear(res);
				break;
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				break;
			default:
				if (!failed)
					db_seterr(db, DB_ERR_QUERY,
					    PQresultErrorField(res,
					    PG_DIAG_SQLSTATE),
					    PQresultErrorField(res,
					    PG_DIAG_MESSAGE_PRIMARY));
				failed = true;
				PQclear(res);
				break;
			}
		}
next:
		;
	}
	if (!PQexitPipelineMode(db->conn))
		goto conn_error;
	if (failed) {
		for (i = 0; i < n; i++) {
			PQclear(out[i]);
			out[i] = NULL;
		}
		/* An error inside BEGIN leaves the block open and aborted. */
		db->in_tx = open;
		db_rollback(db);
		return -1;
	}
	db->err = DB_OK;
	db->in_tx = open;
	return 0;
io_error:
	if (io == DB_IO_TIMEOUT)
		goto timeout;
conn_error:
	db_seterr(db, DB_ERR_CONNECT, NULL, PQerrorMessage(db->conn));
	db_drop(db);
	goto fail;
timeout:
	db_seterr(db, DB_ERR_TIMEOUT, "57014", "statement timed out and was "
	    "cancelled");
	db_cancel(db);
fail:
	for (i = 0; i < n; i++) {
		PQclear(out[i]);
		out[i] = NULL;
	}
	return -1;
}

/* db_tx_as(), or (open) db_begin_as(), with the retry rule. */
static int
db_pipeline(struct db *db, const char *user_id, size_t n,
    const struct db_stmt *const *st, const char *const *const *params,
    PGresult **out, bool open)
{
	long long	 timeout = config_int(db->cfg, CFG_DB_STATEMENT_TIMEOUT_MS);
	long long	 ctimeout = config_int(db->cfg, CFG_DB_CONNECT_TIMEOUT_MS);
	bool		 retry = db->stmts == 0 && !db->in_tx;
	int		 attempt, rc = -1;

	if (db->in_tx || n > DB_PIPELINE_MAX || user_id == NULL ||
	    *user_id == '\0') {
		db_seterr(db, DB_ERR_QUERY, NULL, "a pipelined transaction "
		    "needs a user and no open transaction");
		return -1;
	}
	db->stmts++;
	for (attempt = 0; attempt < 2; attempt++) {
		long long deadline = clock_ms() + timeout;

		if (db->conn == NULL && db_connect(db, clock_ms() +
		    ctimeout) != 0)
			return -1;
		retry = retry && !db->fresh;
		rc = db_pipeline_try(db, user_id, n, st, params, out, open,
		    deadline);
		if (rc == 0 || db->err != DB_ERR_CONNECT || !retry)
			break;
		log_info(db->log, "connection lost (%s); reconnecting and "
		    "retrying once", db->errmsg);
		retry = false;
	}
	return rc;
}

/* BEGIN and acting as the user in one round trip. */
int
db_begin_as(struct db *db, const char *user_id)
{
	return db_pipeline(db, user_id, 0, NULL, NULL, NULL, true);
}

int
db_tx_as(struct db *db, const char *user_id, size_t n,
    const struct db_stmt *const *st, const char *const *const *params,
    PGresult **out)
{
	return db_pipeline(db, user_id, n, st, params, out, false);
}

int
db_commit(struct db *db)
{
	int	 rc = db_simple(db, "COMMIT");

	db->in_tx = false;
	return rc;
}

void
db_rollback(struct db *db)
{
	if (db->conn != NULL && db->in_tx)
		(void)db_simple(db, "ROLLBACK");
	db->in_tx = false;
}

int
db_ping(struct db *db, int timeout_ms)
{
	PGresult	*res;

	res = db_do(db, DB_PARAMS, NULL, "SELECT 1", 0, NULL, timeout_ms);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

bool
db_is_sqlstate(const struct db *db, const char *state)
{
	return db->err == DB_ERR_QUERY && strcmp(db->sqlstate, state) == 0;
}

void
db_ts(const char *v, char out[DB_TS_MAX])
{
	size_t	 i, n = strlen(v);
	bool	 shape = n >= 22 && v[4] == '-' && v[7] == '-' && v[10] == ' ' &&
		    v[13] == ':' && v[16] == ':' && strcmp(v + n - 3, "+00") == 0;

	if (!shape) {
		snprintf(out, DB_TS_MAX, "%s", v);
		return;
	}
	memcpy(out, v, 19);
	out[10] = 'T';
	out[19] = '.';
	/* Milliseconds: the first three digits of the fraction, if any. */
	for (i = 0; i < 3; i++)
		out[20 + i] = v[19] == '.' && 20 + i < n - 3 &&
		    v[20 + i] >= '0' && v[20 + i] <= '9' ? v[20 + i] : '0';
	out[23] = 'Z';
	out[24] = '\0';
}
