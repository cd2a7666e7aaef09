/*
 * provisioner: the application plane's worker.  A long-running NATS
 * JetStream consumer; run N of them, they share the work.
 *
 *   provisioner		serve until SIGTERM
 *   provisioner --once	serve until one request has been handled (tests)
 *
 * Requests (hexabase.cp.workspace.*, durable pull consumer "provisioner"
 * on the work-queue stream) are carried out against the host K3s cluster
 * and the workspace's vCluster; the worker answers each with an event
 * (hexabase.app.workspace.*).  Answers (durable consumer "control-plane"
 * on the answers' stream) are applied to PostgreSQL by hxb_ws_answer(),
 * the one thing that moves a workspace's state.  docs/EVENTS.md has the
 * contract, docs/ARCHITECTURE.md the steps.
 *
 * Reliability: a request is acknowledged only once it is answered.  A
 * worker renews its task's lease and sends an in-progress ack at every
 * step and while it waits, so a live worker keeps its request; a killed
 * one's request is delivered again after HXB_WORKER_ACK_WAIT_MS and
 * every step, being server-side apply or a wait, is done again safely.
 * A failed attempt is retried after an exponential backoff with jitter
 * (NAK with delay), up to the task's max_attempts; an error Kubernetes
 * gives for the request itself (422 Invalid, 400, 403) fails the task at
 * once, with the error as last_error.
 *
 * Exit status: 0 stopped, 1 failed, 2 usage or configuration.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "clock.h"
#include "crypto.h"
#include "k8s.h"
#include "lifecycle.h"

#define DURABLE_WORK	"provisioner"
#define DURABLE_ANSWERS	"control-plane"
#define WORK_FILTER	"hexabase.cp.workspace.>"
#define ANSWER_FILTER	"hexabase.app.workspace.>"
#define ANSWERS_BATCH	32

struct worker {
	struct app		*app;
	struct lc		 lc;
	natsSubscription	*work;
	natsSubscription	*answers;
	long			 ack_wait_ms;
	long			 poll_ms;
	bool			 once;
	unsigned		 handled;
};

static const struct db_stmt st_claim = { "prov_claim",
    "SELECT outcome, attempts, max_attempts, last_error "
    "FROM hxb_task_claim($1, $2, $3::integer)", 3 };
static const struct db_stmt st_retry = { "prov_retry",
    "SELECT hxb_task_retry($1, $2, $3)", 3 };
static const struct db_stmt st_answer = { "prov_answer",
    "SELECT hxb_ws_answer($1::jsonb)", 1 };

/* ---- answers ------------------------------------------------------------ */

/*
 * Apply one answer; ack it when PostgreSQL took it (or it was seen
 * before, or names nothing), NAK it for later when PostgreSQL is away.
 */
static void
apply_answer(struct worker *w, natsMsg *m)
{
	const char	*params[1];
	char		*data;
	PGresult	*res;
	int		 len = natsMsg_GetDataLength(m);

	if ((data = malloc((size_t)len + 1)) == NULL) {
		natsMsg_NakWithDelay(m, 1000, NULL);
		return;
	}
	memcpy(data, natsMsg_GetData(m), (size_t)len);
	data[len] = '\0';
	params[0] = data;
	db_request_begin(&w->app->db);
	res = db_exec(&w->app->db, &st_answer, params);
	if (res == NULL) {
		if (w->app->db.err == DB_ERR_QUERY &&
		    !db_is_sqlstate(&w->app->db, "40001") &&
		    !db_is_sqlstate(&w->app->db, "40P01")) {
			/* A malformed answer never becomes good: drop it. */
			log_error(&w->app->log, "answer on %s refused: %s",
			    natsMsg_GetSubject(m), w->app->db.errmsg);
			natsMsg_Ack(m, NULL);
		} else {
			log_warn(&w->app->log, "answer on %s not applied, "
			    "later: %s", natsMsg_GetSubject(m),
			    w->app->db.errmsg);
			natsMsg_NakWithDelay(m, 1000, NULL);
		}
		free(data);
		return;
	}
	log_info(&w->app->log, "answer %s: %s", natsMsg_GetSubject(m),
	    PQgetvalue(res, 0, 0));
	PQclear(res);
	free(data);
	natsMsg_Ack(m, NULL);
}

static void
drain_answers(struct worker *w, int timeout_ms)
{
	natsMsgList	 list;
	int		 n, i;

	if ((n = bus_fetch(&w->app->bus, w->answers, &list, ANSWERS_BATCH,
	    timeout_ms)) <= 0) {
		if (n < 0)
			log_warn(&w->app->log, "answers: %s",
			    w->app->bus.errmsg);
		return;
	}
	for (i = 0; i < n; i++)
		apply_answer(w, list.Msgs[i]);
	natsMsgList_Destroy(&list);
}

/* ---- requests ----------------------------------------------------------- */

/* The lease and in-progress ack, from lifecycle.c's steps. */
static int
keepalive(void *arg)
{
	natsMsg	*m = arg;

	return natsMsg_InProgress(m, NULL) == NATS_OK ? 0 : -1;
}

/* The delay before the attempt after `attempt` (1-based). */
static long
backoff_ms(const struct worker *w, int attempt)
{
	unsigned	 r = 0;

	(void)crypto_random(&r, sizeof(r));
	return clock_backoff_ms((long)config_int(&w->app->cfg,
	    CFG_WORKER_BACKOFF_MS), (long)config_int(&w->app->cfg,
	    CFG_WORKER_BACKOFF_MAX_MS), attempt - 1, r);
}

static void
handle_request(struct worker *w, natsMsg *m)
{
	struct lc_task	 t;
	const char	*params[3];
	char		 lease[32], *data;
	PGresult	*res;
	json_t		*req;
	json_error_t	 jerr;
	int		 rc, attempts, max_attempts;
	const char	*outcome;

	data = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	req = data != NULL ? json_loads(data, JSON_REJECT_DUPLICATES, &jerr) :
	    NULL;
	free(data);
	if (lc_task_init(&t, &w->lc, req) != 0) {
		log_error(&w->app->log, "request on %s is malformed: dropped",
		    natsMsg_GetSubject(m));
		json_decref(req);
		natsMsg_Term(m, NULL);
		return;
	}
	snprintf(lease, sizeof(lease), "%ld", (w->ack_wait_ms + 999) / 1000);
	params[0] = t.task_id;
	params[1] = w->lc.worker_id;
	params[2] = lease;
	db_request_begin(&w->app->db);
	if ((res = db_exec(&w->app->db, &st_claim, params)) == NULL) {
		log_warn(&w->app->log, "task %s: cannot claim, later: %s",
		    t.task_id, w->app->db.errmsg);
		natsMsg_NakWithDelay(m, backoff_ms(w, 1), NULL);
		goto out;
	}
	outcome = PQgetvalue(res, 0, 0);
	attempts = atoi(PQgetvalue(res, 0, 1));
	max_attempts = atoi(PQgetvalue(res, 0, 2));
	log_msg(&w->app->log, LOGL_INFO, __func__, t.request_id,
	    "task %s (%s) of %s: %s, attempt %d of %d", t.task_id, t.type,
	    t.ws_id, outcome, attempts, max_attempts);
	if (strcmp(outcome, "busy") == 0) {
		/*
		 * Another worker's lease is live: this is its request
		 * delivered again a moment early, or a copy the relay sent.
		 * Later it will be done (ack then) or free (claim then).
		 */
		PQclear(res);
		natsMsg_NakWithDelay(m, w->ack_wait_ms / 2, NULL);
		goto out;
	}
	if (strcmp(outcome, "claimed") != 0) {
		if (strcmp(outcome, "exhausted") == 0) {
			snprintf(t.err, sizeof(t.err), "%s",
			    PQgetvalue(res, 0, 3));
			if (t.err[0] == '\0')
				snprintf(t.err, sizeof(t.err), "no attempt "
				    "finished (%d tried)", max_attempts);
			if (lc_answer_failure(&t) != 0) {
				PQclear(res);
				natsMsg_NakWithDelay(m, backoff_ms(w, 1), NULL);
				goto out;
			}
		}
		PQclear(res);
		natsMsg_Ack(m, NULL);
		goto out;
	}
	PQclear(res);
	t.attempt = attempts;
	t.keepalive = keepalive;
	t.keepalive_arg = m;
	rc = lc_run(&t);
	if (rc == 0) {
		lc_fault_point("answered");
		natsMsg_Ack(m, NULL);
	} else if (t.lost) {
		/*
		 * Another worker holds the task now, through this same
		 * message delivered again: leave the message to it.
		 */
		log_msg(&w->app->log, LOGL_WARN, __func__, t.request_id,
		    "task %s: %s", t.task_id, t.err);
	} else if (t.permanent || attempts >= max_attempts) {
		log_msg(&w->app->log, LOGL_ERROR, __func__, t.request_id,
		    "task %s failed: %s", t.task_id, t.err);
		if (lc_answer_failure(&t) == 0)
			natsMsg_Ack(m, NULL);
		else
			natsMsg_NakWithDelay(m, backoff_ms(w, 1), NULL);
	} else {
		long d = backoff_ms(w, attempts);

		log_msg(&w->app->log, LOGL_WARN, __func__, t.request_id,
		    "task %s attempt %d failed, again in %ld ms: %s",
		    t.task_id, attempts, d, t.err);
		params[2] = t.err;
		db_request_begin(&w->app->db);
		if ((res = db_exec(&w->app->db, &st_retry, params)) != NULL)
			PQclear(res);
		natsMsg_NakWithDelay(m, d, NULL);
	}
out:
	lc_task_free(&t);
	json_decref(req);
}

/* ---- the loop ------------------------------------------------------------ */

static int
subscribe(struct worker *w)
{
	struct bus_pull	 p;

	if (w->work != NULL && w->answers != NULL)
		return 0;
	if (bus_stream(&w->app->bus) != 0)
		return -1;
	memset(&p, 0, sizeof(p));
	p.ack_wait_ms = w->ack_wait_ms;
	if (w->work == NULL) {
		p.stream = BUS_STREAM;
		p.durable = DURABLE_WORK;
		p.filter = WORK_FILTER;
		p.max_ack_pending = 10000;
		if (bus_pull(&w->app->bus, &p, &w->work) != 0)
			return -1;
	}
	if (w->answers == NULL) {
		p.stream = BUS_APP_STREAM;
		p.durable = DURABLE_ANSWERS;
		p.filter = ANSWER_FILTER;
		p.ack_wait_ms = 30000;
		p.max_ack_pending = 10000;
		if (bus_pull(&w->app->bus, &p, &w->answers) != 0)
			return -1;
	}
	return 0;
}

static int
serve(struct worker *w)
{
	natsMsgList	 list;
	long		 wait = 250;
	int		 n;

	while (!app_stopping()) {
		if (subscribe(w) != 0) {
			log_warn(&w->app->log, "NATS: %s; again in %ld ms",
			    w->app->bus.errmsg, wait);
			usleep((useconds_t)wait * 1000);
			if (wait < 5000)
				wait *= 2;
			continue;
		}
		wait = 250;
		drain_answers(w, 20);
		if (w->once && w->handled > 0)
			break;
		n = bus_fetch(&w->app->bus, w->work, &list, 1,
		    (int)w->poll_ms);
		if (n < 0) {
			log_warn(&w->app->log, "requests: %s",
			    w->app->bus.errmsg);
			usleep(250 * 1000);
			continue;
		}
		if (n == 0)
			continue;
		handle_request(w, list.Msgs[0]);
		natsMsgList_Destroy(&list);
		w->handled++;
	}
	/* What this worker answered last, applied before it goes. */
	if (w->answers != NULL)
		drain_answers(w, 50);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: provisioner [--print-config] [--once]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const char *const flags[] = { "--once", NULL };
	struct app	 app;
	struct worker	 w;
	char		 host[HOST_NAME_MAX + 1];
	int		 rc, i, status = 1;

	memset(&w, 0, sizeof(w));
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--once") == 0)
			w.once = true;
	rc = app_init(&app, "provisioner", argc, argv, flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : usage();
	}
	w.app = &app;
	w.ack_wait_ms = (long)config_int(&app.cfg, CFG_WORKER_ACK_WAIT_MS);
	w.poll_ms = (long)config_int(&app.cfg, CFG_WORKER_POLL_MS);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (lc_init(&w.lc, &app, host) != 0) {
		lc_fini(&w.lc);
		app_fini(&app);
		return 2;
	}
	app_job_signals();
	log_info(&app.log, "provisioner %s serving %s", w.lc.worker_id,
	    WORK_FILTER);
	if (serve(&w) == 0)
		status = 0;
	if (w.work != NULL)
		natsSubscription_Destroy(w.work);
	if (w.answers != NULL)
		natsSubscription_Destroy(w.answers);
	lc_fini(&w.lc);
	app_fini(&app);
	return status;
}
