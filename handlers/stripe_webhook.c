/*
 * stripe_webhook: Stripe's events.
 *
 *   POST /webhooks/stripe	public; Stripe signs what it sends
 *
 * Nothing of the body is trusted, or even parsed, before its
 * Stripe-Signature checks out (shared/stripe.c) against the endpoint's
 * secret, or its previous one during a rotation.  A verified event is then
 * applied in one transaction by hxb_stripe_event() (sql/0008_billing.sql):
 * stored under its unique id, its effect on the organization's billing
 * and workspaces, the requests for the jobs, and its copy for NATS
 * (stripe.webhook.<type>) in the outbox.  After the commit the outbox rows
 * are published; what NATS does not take stays for jobs/reconcile's relay.
 *
 * Answers: 200 {received, outcome} for an event applied, stale, ignored
 * (a type we do not handle) or seen before (duplicate: no second
 * effect); 400 for a signature that does not check out or a malformed
 * event; 503 when the database is away, so that Stripe retries.  nginx
 * rate-limits the route and refuses a body over its size before it is
 * read.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "stripe.h"

#define OUTBOX_MAX	64

static const struct db_stmt st_event = { "stripe_event",
    "SELECT hxb_stripe_event($1::jsonb, $2::integer)", 2 };
static const struct db_stmt st_outbox = { "stripe_outbox",
    "SELECT id, subject, payload, task_id FROM hxb_outbox_mine() LIMIT 64",
    0 };
static const struct db_stmt st_published = { "stripe_published",
    "SELECT hxb_stripe_published($1, $2::bigint[])", 2 };

static const struct field raw_body[] = {
	{ FIELD_RAW, FIELD_STRING, false, false, 0, 0, NULL, NULL },
	{ NULL, FIELD_STRING, false, false, 0, 0, NULL, NULL },
};

static void	 post_event(struct req *);

static const struct route routes[] = {
	{ HTTP_POST, "/webhooks/stripe", post_event, PERM_PUBLIC,
	    "stripe_webhook", raw_body, NULL },
};

/* The shapes of an event's id and type, compiled once per process. */
enum shape { SHAPE_ID, SHAPE_TYPE, SHAPE__MAX };
static const char *const shapes[SHAPE__MAX] = {
	[SHAPE_ID] = "^evt_[A-Za-z0-9_]{1,200}$",
	[SHAPE_TYPE] = "^[a-z0-9_]+(\\.[a-z0-9_]+)*$",
};
static regex_t	 shape_rx[SHAPE__MAX];
static bool	 shape_ready[SHAPE__MAX];

static bool
matches(const char *s, enum shape k)
{
	if (s == NULL)
		return false;
	if (!shape_ready[k]) {
		if (regcomp(&shape_rx[k], shapes[k], REG_EXTENDED |
		    REG_NOSUB) != 0)
			return false;
		shape_ready[k] = true;
	}
	return regexec(&shape_rx[k], s, 0, NULL, 0) == 0;
}

/*
 * The event's shape, enough to store and dispatch it: NULL if it is
 * sound, else what is wrong.
 */
static const char *
event_problem(const json_t *ev)
{
	json_t	*created = json_object_get(ev, "created");

	if (!json_is_object(ev))
		return "the event is not a JSON object";
	if (!matches(json_string_value(json_object_get(ev, "id")), SHAPE_ID))
		return "the event has no id of the form evt_...";
	if (!matches(json_string_value(json_object_get(ev, "type")),
	    SHAPE_TYPE) ||
	    strlen(json_string_value(json_object_get(ev, "type"))) > 100)
		return "the event has no type";
	if (!json_is_integer(created) || json_integer_value(created) <= 0)
		return "the event has no created time";
	if (!json_is_object(json_object_get(json_object_get(ev, "data"),
	    "object")))
		return "the event has no data.object";
	return NULL;
}

struct row {
	char	*id, *subject, *payload, *msg_id;
};

/*
 * After the commit: publish what the transaction wrote to the outbox, a
 * request with its task id as Nats-Msg-Id and the event's copy with the
 * event id, and mark what went out.
 */
static void
publish(struct req *r, const char *event_id, struct row *rows, int n)
{
	struct buf	 ids = BUF_INIT(4096);
	const char	*params[2];
	PGresult	*res;
	int		 i, sent = 0;

	buf_addch(&ids, '{');
	for (i = 0; i < n; i++) {
		if (bus_publish(&r->app->bus, rows[i].subject, rows[i].payload,
		    strlen(rows[i].payload), r->request_id,
		    rows[i].msg_id) != 0) {
			log_warn(&r->app->log, "outbox row %s (%s) not "
			    "published, left for the relay: %s", rows[i].id,
			    rows[i].subject, r->app->bus.errmsg);
			continue;
		}
		if (sent++ > 0)
			buf_addch(&ids, ',');
		buf_addstr(&ids, rows[i].id);
	}
	buf_addch(&ids, '}');
	if (sent > 0 && !ids.failed) {
		params[0] = event_id;
		params[1] = buf_cstr(&ids);
		if ((res = db_exec(&r->app->db, &st_published, params)) != NULL)
			PQclear(res);
	}
	buf_release(&ids);
}

static void
db_unavailable(struct req *r)
{
	db_rollback(&r->app->db);
	http_header(r, "Retry-After", "5");
	http_problem(r, PROBLEM_UNAVAILABLE, "the event could not be stored; "
	    "Stripe will send it again", NULL);
}

static void
post_event(struct req *r)
{
	struct app	*app = r->app;
	const char	*secrets[2], *params[2], *event_id, *v;
	const char	*header = http_env(r, "HTTP_STRIPE_SIGNATURE");
	enum stripe_sig	 sig;
	struct row	 rows[OUTBOX_MAX];
	json_error_t	 jerr;
	json_t		*ev;
	PGresult	*res;
	char		 grace[24], outcome[16];
	size_t		 nsec = 0;
	int		 i, n = 0;

	http_set_resource(r, "webhooks/stripe");
	if ((v = config_str(&app->cfg, CFG_STRIPE_WEBHOOK_SECRET)) != NULL &&
	    *v != '\0')
		secrets[nsec++] = v;
	if ((v = config_str(&app->cfg,
	    CFG_STRIPE_WEBHOOK_SECRET_PREVIOUS)) != NULL && *v != '\0')
		secrets[nsec++] = v;
	if (nsec == 0) {
		log_error(&app->log, "no webhook secret is configured "
		    "(HXB_STRIPE_WEBHOOK_SECRET): Stripe's events are refused");
		http_problem(r, PROBLEM_UNAVAILABLE, "the webhook is not "
		    "configured", NULL);
		return;
	}
	sig = stripe_verify(header, r->raw, r->rawlen, secrets, nsec,
	    (long long)time(NULL), STRIPE_TOLERANCE_S);
	if (sig != STRIPE_SIG_OK) {
		http_problem(r, PROBLEM_BAD_REQUEST, stripe_sig_text(sig), NULL);
		return;
	}
	if ((ev = json_loadb(r->raw, r->rawlen, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		http_problemf(r, PROBLEM_MALFORMED_BODY, "the event is not "
		    "valid JSON: %s (line %d, column %d)", jerr.text, jerr.line,
		    jerr.column);
		return;
	}
	if ((v = event_problem(ev)) != NULL) {
		json_decref(ev);
		http_problem(r, PROBLEM_MALFORMED_BODY, v, NULL);
		return;
	}
	event_id = json_string_value(json_object_get(ev, "id"));
	http_set_resource(r, "stripe-events/%s", event_id);

	snprintf(grace, sizeof(grace), "%lld",
	    config_int(&app->cfg, CFG_BILLING_GRACE_S));
	params[0] = r->raw;
	params[1] = grace;
	if (db_begin(&app->db) != 0) {
		json_decref(ev);
		db_unavailable(r);
		return;
	}
	if ((res = db_exec(&app->db, &st_event, params)) == NULL) {
		log_error(&app->log, "stripe event %s not applied: %s",
		    event_id, app->db.errmsg);
		json_decref(ev);
		/* Data the schema cannot take (classes 22, 23) will not
		 * take later either: say so, rather than "try again". */
		if (app->db.err == DB_ERR_QUERY && (strncmp(app->db.sqlstate,
		    "22", 2) == 0 || strncmp(app->db.sqlstate, "23", 2) == 0)) {
			db_rollback(&app->db);
			http_problem(r, PROBLEM_BAD_REQUEST, "the event's data "
			    "could not be applied", NULL);
		} else
			db_unavailable(r);
		return;
	}
	snprintf(outcome, sizeof(outcome), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	/* A duplicate wrote nothing to publish. */
	if (strcmp(outcome, "duplicate") == 0)
		res = NULL;
	else if ((res = db_exec(&app->db, &st_outbox, NULL)) == NULL) {
		json_decref(ev);
		db_unavailable(r);
		return;
	}
	for (i = 0; res != NULL && i < PQntuples(res) && n < OUTBOX_MAX; i++,
	    n++) {
		struct buf mid = BUF_INIT(256);

		if (!PQgetisnull(res, i, 3))
			buf_addstr(&mid, PQgetvalue(res, i, 3));
		else if (strncmp(PQgetvalue(res, i, 1), "stripe.webhook.",
		    15) == 0)
			buf_addf(&mid, "stripe:%s", event_id);
		else
			buf_addf(&mid, "outbox:%s", PQgetvalue(res, i, 0));
		rows[n].id = strdup(PQgetvalue(res, i, 0));
		rows[n].subject = strdup(PQgetvalue(res, i, 1));
		rows[n].payload = strdup(PQgetvalue(res, i, 2));
		rows[n].msg_id = mid.failed ? NULL : strdup(buf_cstr(&mid));
		buf_release(&mid);
		if (rows[n].id == NULL || rows[n].subject == NULL ||
		    rows[n].payload == NULL || rows[n].msg_id == NULL) {
			n++;
			PQclear(res);
			json_decref(ev);
			db_unavailable(r);
			goto out;
		}
	}
	PQclear(res);
	if (db_commit(&app->db) != 0) {
		json_decref(ev);
		db_unavailable(r);
		goto out;
	}
	log_info(&app->log, "stripe event %s (%s): %s", event_id,
	    json_string_value(json_object_get(ev, "type")), outcome);
	http_json(r, 200, json_pack("{s:b, s:s}", "received", 1, "outcome",
	    outcome));
	publish(r, event_id, rows, n);
	json_decref(ev);
out:
	for (i = 0; i < n; i++) {
		free(rows[i].id);
		free(rows[i].subject);
		free(rows[i].payload);
		free(rows[i].msg_id);
	}
}

int
main(int argc, char **argv)
{
	int	 rc, k;

	rc = app_main("stripe_webhook", routes, sizeof(routes) /
	    sizeof(routes[0]), argc, argv);
	for (k = 0; k < SHAPE__MAX; k++)
		if (shape_ready[k])
			regfree(&shape_rx[k]);
	return rc;
}
