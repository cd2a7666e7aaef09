/*
 * reconcile: what makes the lifecycle lose nothing, a cron-style one-shot.
 *
 *   reconcile		all three parts below
 *   reconcile --relay	only the outbox relay and stuck tasks (no
 *			Kubernetes: HXB_HOST_KUBECONFIG is not needed)
 *   reconcile --workspace=ID
 *			the drift pass for that workspace alone
 *
 * 1. The outbox relay.  Every outbox row still unpublished (a handler
 *    could not reach NATS after its commit, or died) is published, its
 *    task id as Nats-Msg-Id (a Stripe event's copy: stripe:<event id>, as
 *    the webhook sends it; anything else: outbox:<row id>), and marked.  Rows are taken FOR UPDATE SKIP
 *    LOCKED, so concurrent runs share them; a row published twice meets
 *    JetStream's duplicate window, then the task's claim.
 * 2. Stuck tasks.  A task pending or running, untouched for
 *    HXB_RECONCILE_STUCK_S and with no live lease, is requested again
 *    (its payload, to its type's subject), and touched: its worker died
 *    past the redelivery, or its request was lost with a stream.  The
 *    worker that claims it counts the attempt, and answers the failure
 *    once max_attempts are spent.
 * 3. Drift.  Each running workspace's vCluster is compared with what
 *    PostgreSQL says it should hold (RBAC, namespaces, quotas, by the
 *    same code as the RBAC sync), and the difference applied or pruned.
 *    Under an advisory lock: one drift pass at a time.
 *
 * Exit status: 0 done, 1 something failed (logged; the rest was still
 * done), 2 usage or configuration.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "lifecycle.h"

#define BATCH		200
/* "hxb_rec" as a number: the drift pass's advisory lock. */
#define DRIFT_LOCK_KEY	"29400159649055001"

/*
 * The two kinds of message the relay sends, each as (key, subject,
 * payload, request id, Nats-Msg-Id) and marked through its key once sent.
 * A stuck task's message id is new for each stuck state, so that
 * JetStream's duplicate window keeps it.
 */
static const struct db_stmt st_outbox = { "rec_outbox",
    "SELECT id::text, subject, payload::text, "
    "coalesce(payload->>'request_id', ''), "
    "coalesce(payload->>'task_id', CASE WHEN stripe_event_id IS NOT NULL "
    "AND subject LIKE 'stripe.webhook.%' THEN 'stripe:' || stripe_event_id "
    "ELSE 'outbox:' || id END) FROM outbox "
    "WHERE published_at IS NULL ORDER BY id LIMIT 200 "
    "FOR UPDATE SKIP LOCKED", 0 };
static const struct db_stmt st_outbox_sent = { "rec_outbox_sent",
    "UPDATE outbox SET published_at = now() WHERE id = $1::bigint", 1 };
static const struct db_stmt st_stuck = { "rec_stuck",
    "SELECT id, hxb_task_subject(type), payload::text, request_id, "
    "id || ':again:' || floor(extract(epoch FROM updated_at))::bigint "
    "FROM tasks WHERE status IN ('pending', 'running') "
    "AND updated_at < now() - make_interval(secs => $1::integer) "
    "AND (lease_until IS NULL OR lease_until < now()) "
    "AND hxb_task_subject(type) IS NOT NULL "
    "ORDER BY updated_at LIMIT 200 FOR UPDATE SKIP LOCKED", 1 };
static const struct db_stmt st_touch = { "rec_touch",
    "UPDATE tasks SET updated_at = now() WHERE id = $1", 1 };
static const struct db_stmt st_drift_lock = { "rec_drift_lock",
    "SELECT pg_try_advisory_lock(" DRIFT_LOCK_KEY ")", 0 };
static const struct db_stmt st_drift_unlock = { "rec_drift_unlock",
    "SELECT pg_advisory_unlock(" DRIFT_LOCK_KEY ")", 0 };
static const struct db_stmt st_running = { "rec_running",
    "SELECT id, organization_id FROM workspaces WHERE status = 'running' "
    "AND id > $1 AND ($2 = '' OR id = $2) ORDER BY id LIMIT 200", 2 };

/*
 * One transaction: the rows `sel` finds, published and marked by `mark`,
 * a batch at most.  1 if there may be more, 0 done, -1 failed (what was
 * sent before the failure stays marked).
 */
static int
send(struct app *app, const char *what, const struct db_stmt *sel,
    const char *const *params, const struct db_stmt *mark, int *count,
    bool warn)
{
	PGresult	*res, *r;
	const char	*p[1];
	int		 i, n, rc = 0;

	db_request_begin(&app->db);
	if (db_begin(&app->db) != 0 ||
	    (res = db_exec(&app->db, sel, params)) == NULL) {
		log_error(&app->log, "%s: %s", what, app->db.errmsg);
		db_rollback(&app->db);
		return -1;
	}
	n = PQntuples(res);
	for (i = 0; i < n && rc == 0; i++) {
		const char *msgid = PQgetvalue(res, i, 4);

		if (bus_publish(&app->bus, PQgetvalue(res, i, 1),
		    PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2),
		    PQgetvalue(res, i, 3), *msgid != '\0' ? msgid : NULL) != 0) {
			rc = -1;
			break;
		}
		p[0] = PQgetvalue(res, i, 0);
		if ((r = db_exec(&app->db, mark, p)) == NULL) {
			rc = -1;
			break;
		}
		PQclear(r);
		if (warn)
			log_msg(&app->log, LOGL_WARN, __func__,
			    PQgetvalue(res, i, 3), "%s: %s requested again on "
			    "%s", what, p[0], PQgetvalue(res, i, 1));
		(*count)++;
	}
	PQclear(res);
	if (db_commit(&app->db) != 0) {
		log_error(&app->log, "%s: %s", what, app->db.errmsg);
		return -1;
	}
	return rc == 0 && n == BATCH ? 1 : rc;
}

/* The drift pass over every running workspace. */
static int
drift(struct app *app, const char *only, unsigned *nws, unsigned *changed,
    unsigned *pruned)
{
	struct lc	 lc;
	struct lc_task	 t;
	PGresult	*res, *list;
	char		 host[HOST_NAME_MAX + 1], last[ID_BUFSZ] = "";
	const char	*p[2];
	int		 i, n, rc = 0;
	bool		 locked;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (lc_init(&lc, app, host) != 0) {
		lc_fini(&lc);
		return -1;
	}
	db_request_begin(&app->db);
	if ((res = db_exec(&app->db, &st_drift_lock, NULL)) == NULL) {
		log_error(&app->log, "drift: %s", app->db.errmsg);
		lc_fini(&lc);
		return -1;
	}
	locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!locked) {
		log_info(&app->log, "drift: another run holds the pass");
		lc_fini(&lc);
		return 0;
	}
	do {
		p[0] = last;
		p[1] = only != NULL ? only : "";
		db_request_begin(&app->db);
		if ((list = db_exec(&app->db, &st_running, p)) == NULL) {
			log_error(&app->log, "drift: %s", app->db.errmsg);
			rc = -1;
			break;
		}
		n = PQntuples(list);
		for (i = 0; i < n && !app_stopping(); i++) {
			snprintf(last, sizeof(last), "%s",
			    PQgetvalue(list, i, 0));
			if (lc_task_drift(&t, &lc, last,
			    PQgetvalue(list, i, 1)) != 0) {
				rc = -1;
				continue;
			}
			if (lc_sync_workspace(&t) != 0) {
				log_error(&app->log, "drift: workspace %s: %s",
				    last, t.err);
				rc = -1;
			} else if (t.repaired > 0 || t.pruned > 0) {
				log_warn(&app->log, "drift: workspace %s: %u "
				    "objects repaired, %u pruned", last,
				    t.repaired, t.pruned);
			}
			(*nws)++;
			*changed += t.repaired;
			*pruned += t.pruned;
			lc_task_free(&t);
		}
		PQclear(list);
	} while (n == BATCH && !app_stopping());
	db_request_begin(&app->db);
	if ((res = db_exec(&app->db, &st_drift_unlock, NULL)) != NULL)
		PQclear(res);
	lc_fini(&lc);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: reconcile [--print-config] [--relay | "
	    "--workspace=ID]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const char *const flags[] = { "--relay", "--workspace=", NULL };
	struct app	 app;
	const char	*only = NULL;
	bool		 relay_only = false;
	unsigned	 nws = 0, changed = 0, pruned = 0;
	int		 rc, i, sent = 0, again = 0, status = 0;
	char		 secs[24];
	const char	*stuck_p[1];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--relay") == 0)
			relay_only = true;
		else if (strncmp(argv[i], "--workspace=", 12) == 0) {
			only = argv[i] + 12;
			if (!id_valid(only, ID_WS))
				return usage();
		}
	}
	rc = app_init(&app, "reconcile", argc, argv, flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : usage();
	}
	app_job_signals();
	if (bus_stream(&app.bus) != 0) {
		log_error(&app.log, "NATS: %s", app.bus.errmsg);
		status = 1;
	} else {
		snprintf(secs, sizeof(secs), "%lld",
		    config_int(&app.cfg, CFG_RECONCILE_STUCK_S));
		stuck_p[0] = secs;
		while ((rc = send(&app, "outbox", &st_outbox, NULL,
		    &st_outbox_sent, &sent, false)) > 0 && !app_stopping())
			;
		if (rc < 0)
			status = 1;
		while ((rc = send(&app, "stuck task", &st_stuck, stuck_p,
		    &st_touch, &again, true)) > 0 && !app_stopping())
			;
		if (rc < 0)
			status = 1;
	}
	if (!relay_only && drift(&app, only, &nws, &changed, &pruned) != 0)
		status = 1;
	log_info(&app.log, "relayed %d outbox rows, requested %d stuck tasks "
	    "again%s", sent, again, relay_only ? "" : "");
	if (!relay_only)
		log_info(&app.log, "drift: %u running workspaces compared, %u "
		    "objects repaired, %u pruned", nws, changed, pruned);
	printf("relayed %d, again %d", sent, again);
	if (!relay_only)
		printf(", workspaces %u, repaired %u, pruned %u", nws, changed,
		    pruned);
	printf("\n");
	app_fini(&app);
	return status;
}
