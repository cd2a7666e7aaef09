/*
 * billing-sync: Stripe and PostgreSQL made to agree about billing.
 *
 *   billing-sync			every organization with billing, once
 *					(the schedule: a CronJob, make run's
 *					loop)
 *   billing-sync --organization=ID	that organization, once
 *   billing-sync --listen		serve requests (hexabase.cp.billing.sync,
 *					durable consumer "billing-sync") until
 *					SIGTERM: a workspace added, removed or
 *					re-planned, a Checkout completed
 *
 * For each organization that is a Stripe customer:
 *   1. its subscription is read from Stripe (found by the customer's
 *	list if we know of none) and applied as a report of now, through
 *	the same hxb_billing_subscription() as the webhook;
 *   2. while it is live, its items are made to match the workspaces:
 *	one item per paid plan's price, its quantity the organization's
 *	workspaces on that plan.  A price with workspaces and no item gets
 *	one; a quantity that differs is set; an item with no workspace is
 *	deleted (the subscription canceled if no paid workspace is left).
 *	Stripe prorates each change;
 *   3. its invoices, the upcoming invoice's total and the default
 *	payment method are stored, for GET .../billing;
 *   4. its payments are enforced (hxb_billing_enforce()): past due beyond
 *	HXB_BILLING_GRACE_S suspends its paid workspaces, paid up resumes
 *	what billing suspended.
 *
 * Safe to run concurrently: an organization is synced under an advisory
 * lock (another run skips it), and each change is sent with an
 * Idempotency-Key made of the subscription, the change and the items it
 * was decided from, so two runs deciding the same change from the same
 * facts make it once.  Idempotent: a second run finds nothing to change.
 *
 * Exit status: 0 done, 1 something failed (logged; the rest was still
 * done), 2 usage or configuration.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "app.h"
#include "buf.h"
#include "id.h"
#include "stripe.h"

#define DURABLE		"billing-sync"
#define FILTER		"hexabase.cp.billing.>"
#define ITEMS_MAX	20		/* Stripe's cap per subscription */
#define BATCH		32
#define HELD_DELAY_MS	2000		/* another run holds the organization */
#define FAILED_DELAY_MS	30000		/* Stripe or the database failed */

static const struct db_stmt st_lock = { "bs_lock",
    "SELECT pg_try_advisory_lock(hashtextextended('hxb-billing:' || $1, 0))",
    1 };
static const struct db_stmt st_unlock = { "bs_unlock",
    "SELECT pg_advisory_unlock(hashtextextended('hxb-billing:' || $1, 0))",
    1 };
static const struct db_stmt st_account = { "bs_account",
    "SELECT stripe_customer_id, subscription_id, subscription_status "
    "FROM billing_accounts WHERE organization_id = $1", 1 };
static const struct db_stmt st_orgs = { "bs_orgs",
    "SELECT organization_id FROM billing_accounts WHERE organization_id > $1 "
    "AND ($2 = '' OR organization_id = $2) ORDER BY 1 LIMIT 200", 2 };
static const struct db_stmt st_apply = { "bs_apply",
    "SELECT hxb_billing_subscription($1, $2::jsonb, now())", 2 };
static const struct db_stmt st_desired = { "bs_desired",
    "SELECT p.stripe_price_id, count(*)::text FROM workspaces w "
    "JOIN plans p ON p.id = w.plan_id WHERE w.organization_id = $1 "
    "AND w.status NOT IN ('deleting', 'deleted') AND p.price_cents > 0 "
    "AND p.stripe_price_id IS NOT NULL GROUP BY 1 ORDER BY 1", 1 };
static const struct db_stmt st_invoice = { "bs_invoice",
    "SELECT hxb_billing_invoice($1, $2::jsonb, now())", 2 };
static const struct db_stmt st_upcoming = { "bs_upcoming",
    "UPDATE billing_accounts SET upcoming_total = $2::bigint, "
    "upcoming_currency = $3, upcoming_at = now() "
    "WHERE organization_id = $1", 3 };
static const struct db_stmt st_no_upcoming = { "bs_no_upcoming",
    "UPDATE billing_accounts SET upcoming_total = NULL, "
    "upcoming_currency = NULL, upcoming_at = now() "
    "WHERE organization_id = $1", 1 };
static const struct db_stmt st_customer = { "bs_customer",
    "UPDATE billing_accounts SET customer_email = left($2::jsonb->>'email', "
    "254), customer_name = left($2::jsonb->>'name', 200), "
    "default_payment_method_id = hxb_stripe_id($2::jsonb #> "
    "'{invoice_settings,default_payment_method}'), "
    "payment_method = CASE WHEN jsonb_typeof($2::jsonb #> "
    "'{invoice_settings,default_payment_method}') = 'object' "
    "THEN hxb_billing_pm($2::jsonb #> "
    "'{invoice_settings,default_payment_method}') ELSE payment_method END, "
    "customer_at = now(), payment_method_at = now() "
    "WHERE organization_id = $1", 2 };
static const struct db_stmt st_enforce = { "bs_enforce",
    "SELECT suspended, resumed FROM hxb_billing_enforce($1, $2::integer)",
    2 };
static const struct db_stmt st_synced = { "bs_synced",
    "UPDATE billing_accounts SET synced_at = now() "
    "WHERE organization_id = $1", 1 };
static const struct db_stmt st_audit = { "bs_audit",
    "INSERT INTO audit_log (organization_id, action, resource, before, "
    "after) VALUES ($1, 'billing.repaired', 'organizations/' || $1 || "
    "'/billing', $2::jsonb, $3::jsonb)", 3 };
static const struct db_stmt st_mine = { "bs_mine",
    "SELECT id, subject, payload::text, coalesce(payload->>'task_id', "
    "'outbox:' || id) FROM outbox WHERE created_xact = pg_current_xact_id() "
    "AND published_at IS NULL ORDER BY id", 0 };
static const struct db_stmt st_sent = { "bs_sent",
    "UPDATE outbox SET published_at = now() WHERE id = $1::bigint", 1 };

struct totals {
	unsigned	 orgs, added, updated, removed, canceled, suspended,
			 resumed, failed;
};

struct item {
	const char	*id;		/* si_..., NULL if only desired */
	const char	*price;
	long long	 have, want;	/* quantities */
};

static bool
live(const char *status)
{
	static const char *const states[] = { "incomplete", "trialing",
	    "active", "past_due", "unpaid", "paused" };
	size_t	 i;

	for (i = 0; status != NULL && i < sizeof(states) / sizeof(states[0]);
	    i++)
		if (strcmp(status, states[i]) == 0)
			return true;
	return false;
}

/* One statement in its own transaction; the result or NULL (logged). */
static PGresult *
run(struct app *app, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res;

	if ((res = db_exec(&app->db, st, params)) == NULL)
		log_error(&app->log, "%s: %s", st->name, app->db.errmsg);
	return res;
}

static int
run_void(struct app *app, const struct db_stmt *st, const char *const *params)
{
	PGresult	*res = run(app, st, params);

	PQclear(res);
	return res != NULL ? 0 : -1;
}

/*
 * The organization's subscription as Stripe has it now, applied: the
 * object (caller json_decref()s), or NULL if there is none or it could
 * not be read (*failed set).
 */
static json_t *
subscription(struct app *app, const char *org, const char *cus,
    const char *sub, bool *failed)
{
	struct stripe_resp	 sr;
	struct buf		 path = BUF_INIT(0);
	const char		*params[2];
	json_t			*s = NULL, *v;
	char			*text;
	size_t			 i;

	if (sub != NULL) {
		buf_addf(&path, "/v1/subscriptions/%s", sub);
		if (stripe_call(app, "GET", buf_cstr(&path), NULL, NULL,
		    &sr) == STRIPE_OK)
			s = json_incref(sr.json);
		else if (sr.status != 404)
			*failed = true;
		stripe_resp_free(&sr);
	}
	if (s == NULL || !live(json_string_value(json_object_get(s,
	    "status")))) {
		/* Another one, made since (a new Checkout)? */
		buf_reset(&path);
		buf_addf(&path, "/v1/subscriptions?customer=%s&status=all&"
		    "limit=10", cus);
		if (stripe_call(app, "GET", buf_cstr(&path), NULL, NULL,
		    &sr) != STRIPE_OK)
			*failed = true;
		else
			json_array_foreach(json_object_get(sr.json, "data"), i,
			    v) {
				if (live(json_string_value(json_object_get(v,
				    "status")))) {
					json_decref(s);
					s = json_incref(v);
					break;
				}
			}
		stripe_resp_free(&sr);
	}
	buf_release(&path);
	if (s == NULL || !stripe_id_ok(json_string_value(json_object_get(s,
	    "id")), "sub_")) {
		json_decref(s);
		return NULL;
	}
	if ((text = json_dumps(s, JSON_COMPACT)) == NULL) {
		json_decref(s);
		*failed = true;
		return NULL;
	}
	params[0] = org;
	params[1] = text;
	if (run_void(app, &st_apply, params) != 0)
		*failed = true;
	free(text);
	return s;
}

/*
 * The items the subscription has and should have, into items[]; the
 * fingerprint of what it has into fp (the facts a change is decided
 * from).  The count, or -1.
 */
static int
items_of(struct app *app, const char *org, json_t *sub, PGresult **desired,
    struct item *items, struct buf *fp)
{
	const char	*params[1] = { org };
	json_t		*it, *price;
	size_t		 i;
	int		 n = 0, j, k;

	json_array_foreach(json_object_get(json_object_get(sub, "items"),
	    "data"), i, it) {
		if (n == ITEMS_MAX)
			break;
		price = json_object_get(it, "price");
		items[n].id = json_string_value(json_object_get(it, "id"));
		items[n].price = json_is_string(price) ?
		    json_string_value(price) :
		    json_string_value(json_object_get(price, "id"));
		items[n].have = json_integer_value(json_object_get(it,
		    "quantity"));
		items[n].want = 0;
		/* Item ids go into paths: only well-formed ones. */
		if (!stripe_id_ok(items[n].id, "si_") || items[n].price == NULL)
			continue;
		buf_addf(fp, "%s:%s:%lld;", items[n].id, items[n].price,
		    items[n].have);
		n++;
	}
	if ((*desired = run(app, &st_desired, params)) == NULL)
		return -1;
	for (j = 0; j < PQntuples(*desired); j++) {
		const char *p = PQgetvalue(*desired, j, 0);

		for (k = 0; k < n; k++)
			if (strcmp(items[k].price, p) == 0)
				break;
		if (k == n) {
			if (n == ITEMS_MAX)
				break;
			items[n].id = NULL;
			items[n].price = p;
			items[n].have = 0;
			n++;
		}
		items[k].want = strtoll(PQgetvalue(*desired, j, 1), NULL, 10);
	}
	return n;
}

/* One change to Stripe; 0, or -1 (logged). */
static int
change(struct app *app, const char *method, const char *path,
    const char *form, const char *what, const char *const *parts,
    size_t nparts)
{
	struct stripe_resp	 sr;
	char			 key[STRIPE_IDEM_MAX];
	enum stripe_outcome	 o;

	stripe_idem_key(key, what, parts, nparts);
	o = stripe_call(app, method, path, form, key, &sr);
	stripe_resp_free(&sr);
	log_info(&app->log, "billing: %s %s %s (Idempotency-Key %s)",
	    o == STRIPE_OK ? "done" : "failed", method, path, key);
	return o == STRIPE_OK ? 0 : -1;
}

/* Make the subscription's items match the workspaces. */
static int
repair(struct app *app, const char *org, json_t *sub, struct totals *t)
{
	struct item	 items[ITEMS_MAX];
	struct buf	 fp = BUF_INIT(0), form = BUF_INIT(0), path = BUF_INIT(0);
	PGresult	*desired = NULL;
	const char	*sub_id = json_string_value(json_object_get(sub, "id"));
	const char	*parts[5], *params[3];
	char		 qty[24];
	json_t		*before, *after;
	int		 n, i, keep = 0, rc = 0;
	unsigned	 done = 0;

	if ((n = items_of(app, org, sub, &desired, items, &fp)) < 0) {
		buf_release(&fp);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (items[i].want > 0)
			keep++;
	parts[0] = sub_id;
	parts[4] = buf_cstr(&fp);
	before = json_object();
	after = json_object();
	/* Additions and quantities first, so that the subscription is never
	 * left without an item between two calls. */
	for (i = 0; i < n; i++) {
		if (items[i].want == items[i].have ||
		    (items[i].want == 0 && items[i].id != NULL))
			continue;
		snprintf(qty, sizeof(qty), "%lld", items[i].want);
		buf_reset(&form);
		buf_reset(&path);
		parts[1] = items[i].id != NULL ? "quantity" : "add";
		parts[2] = items[i].price;
		parts[3] = qty;
		if (items[i].id == NULL) {
			stripe_form_add(&form, "subscription", sub_id);
			stripe_form_add(&form, "price", items[i].price);
			stripe_form_add(&form, "metadata[organization_id]", org);
			buf_addstr(&path, "/v1/subscription_items");
		} else
			buf_addf(&path, "/v1/subscription_items/%s",
			    items[i].id);
		stripe_form_add(&form, "quantity", qty);
		stripe_form_add(&form, "proration_behavior",
		    "create_prorations");
		if (change(app, "POST", buf_cstr(&path), buf_cstr(&form),
		    "item", parts, 5) != 0) {
			rc = -1;
			continue;
		}
		json_object_set_new(before, items[i].price,
		    json_integer(items[i].have));
		json_object_set_new(after, items[i].price,
		    json_integer(items[i].want));
		if (items[i].id == NULL)
			t->added++;
		else
			t->updated++;
		done++;
	}
	for (i = 0; i < n; i++) {
		if (items[i].want > 0 || items[i].id == NULL)
			continue;
		buf_reset(&form);
		buf_reset(&path);
		parts[1] = "remove";
		parts[2] = items[i].id;
		parts[3] = "0";
		if (keep > 0) {
			buf_addf(&path, "/v1/subscription_items/%s",
			    items[i].id);
			stripe_form_add(&form, "proration_behavior",
			    "create_prorations");
		} else {
			/* No paid workspace is left: the subscription ends
			 * (Stripe refuses to delete its last item). */
			buf_addf(&path, "/v1/subscriptions/%s", sub_id);
			stripe_form_add(&form, "prorate", "true");
			parts[1] = "cancel";
		}
		if (change(app, "DELETE", buf_cstr(&path), buf_cstr(&form),
		    parts[1], parts, 5) != 0) {
			rc = -1;
			continue;
		}
		json_object_set_new(before, items[i].price,
		    json_integer(items[i].have));
		json_object_set_new(after, items[i].price, json_integer(0));
		done++;
		if (keep > 0)
			t->removed++;
		else {
			t->canceled++;
			break;
		}
	}
	if (done > 0) {
		char *b = json_dumps(before, JSON_COMPACT);
		char *a = json_dumps(after, JSON_COMPACT);

		params[0] = org;
		params[1] = b;
		params[2] = a;
		if (b == NULL || a == NULL || run_void(app, &st_audit,
		    params) != 0)
			rc = -1;
		free(b);
		free(a);
		log_info(&app->log, "billing: %s: %u change(s) to %s", org, done,
		    sub_id);
	}
	json_decref(before);
	json_decref(after);
	PQclear(desired);
	buf_release(&fp);
	buf_release(&form);
	buf_release(&path);
	return rc;
}

/* Invoices, the upcoming total and the payment method, stored. */
static int
records(struct app *app, const char *org, const char *cus, const char *sub)
{
	struct stripe_resp	 sr;
	struct buf		 path = BUF_INIT(0), form = BUF_INIT(0);
	const char		*params[3];
	json_t			*inv;
	char			*text, total[24], now[24];
	char			 key[STRIPE_IDEM_MAX];
	const char		*parts[2];
	size_t			 i;
	int			 rc = 0;

	buf_addf(&path, "/v1/invoices?customer=%s&limit=24", cus);
	if (stripe_call(app, "GET", buf_cstr(&path), NULL, NULL, &sr) ==
	    STRIPE_OK) {
		json_array_foreach(json_object_get(sr.json, "data"), i, inv) {
			if ((text = json_dumps(inv, JSON_COMPACT)) == NULL)
				continue;
			params[0] = org;
			params[1] = text;
			if (run_void(app, &st_invoice, params) != 0)
				rc = -1;
			free(text);
		}
	} else
		rc = -1;
	stripe_resp_free(&sr);

	params[0] = org;
	if (sub != NULL) {
		/* The invoice the subscription will make next, previewed. */
		/* A preview changes nothing; its key is this run's, so that
		 * a retry is the same request but no later run gets an old
		 * answer back. */
		snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
		parts[0] = sub;
		parts[1] = now;
		stripe_idem_key(key, "preview", parts, 2);
		stripe_form_add(&form, "customer", cus);
		stripe_form_add(&form, "subscription", sub);
		if (stripe_call(app, "POST", "/v1/invoices/create_preview",
		    buf_cstr(&form), key, &sr) == STRIPE_OK &&
		    json_is_integer(json_object_get(sr.json, "total"))) {
			snprintf(total, sizeof(total), "%lld",
			    (long long)json_integer_value(json_object_get(
			    sr.json, "total")));
			params[1] = total;
			params[2] = json_string_value(json_object_get(sr.json,
			    "currency"));
			if (run_void(app, &st_upcoming, params) != 0)
				rc = -1;
		} else if (sr.status != 404)
			rc = -1;
		stripe_resp_free(&sr);
	} else if (run_void(app, &st_no_upcoming, params) != 0)
		rc = -1;

	buf_reset(&path);
	buf_addf(&path, "/v1/customers/%s?expand[]=invoice_settings."
	    "default_payment_method", cus);
	if (stripe_call(app, "GET", buf_cstr(&path), NULL, NULL, &sr) ==
	    STRIPE_OK && (text = json_dumps(sr.json, JSON_COMPACT)) != NULL) {
		params[1] = text;
		if (run_void(app, &st_customer, params) != 0)
			rc = -1;
		free(text);
	} else
		rc = -1;
	stripe_resp_free(&sr);
	buf_release(&path);
	buf_release(&form);
	return rc;
}

/*
 * Payments enforced in one transaction, and the requests it made
 * published after its commit (the relay sends what NATS did not take).
 */
static int
enforce(struct app *app, const char *org, struct totals *t)
{
	const char	*params[2];
	char		 grace[24];
	PGresult	*res, *rows, *m;
	int		 i;

	snprintf(grace, sizeof(grace), "%lld",
	    config_int(&app->cfg, CFG_BILLING_GRACE_S));
	params[0] = org;
	params[1] = grace;
	if (db_begin(&app->db) != 0)
		return -1;
	if ((res = run(app, &st_enforce, params)) == NULL ||
	    (rows = run(app, &st_mine, NULL)) == NULL) {
		PQclear(res);
		db_rollback(&app->db);
		return -1;
	}
	t->suspended += (unsigned)atoi(PQgetvalue(res, 0, 0));
	t->resumed += (unsigned)atoi(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (db_commit(&app->db) != 0) {
		PQclear(rows);
		return -1;
	}
	for (i = 0; i < PQntuples(rows); i++) {
		if (bus_publish(&app->bus, PQgetvalue(rows, i, 1),
		    PQgetvalue(rows, i, 2), (size_t)PQgetlength(rows, i, 2),
		    NULL, PQgetvalue(rows, i, 3)) != 0)
			continue;
		params[0] = PQgetvalue(rows, i, 0);
		if ((m = run(app, &st_sent, params)) != NULL)
			PQclear(m);
	}
	PQclear(rows);
	return 0;
}

/*
 * One organization, under its lock.  0 done, 1 another run holds it, -1
 * failed (logged).
 */
static int
sync_org(struct app *app, const char *org, struct totals *t)
{
	const char	*params[1] = { org };
	PGresult	*res, *acct;
	json_t		*sub = NULL;
	char		 cus[256] = "", sid[256] = "";
	bool		 failed = false;
	int		 rc = 0;

	db_request_begin(&app->db);
	if ((res = run(app, &st_lock, params)) == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		log_info(&app->log, "billing: %s: another run holds it", org);
		return 1;
	}
	PQclear(res);
	t->orgs++;
	if ((acct = run(app, &st_account, params)) == NULL) {
		rc = -1;
		goto out;
	}
	if (PQntuples(acct) == 1) {
		if (!PQgetisnull(acct, 0, 0))
			snprintf(cus, sizeof(cus), "%s", PQgetvalue(acct, 0, 0));
		if (!PQgetisnull(acct, 0, 1))
			snprintf(sid, sizeof(sid), "%s", PQgetvalue(acct, 0, 1));
	}
	PQclear(acct);
	if (*cus != '\0') {
		sub = subscription(app, org, cus, *sid != '\0' ? sid : NULL,
		    &failed);
		if (sub != NULL && live(json_string_value(json_object_get(sub,
		    "status"))) && repair(app, org, sub, t) != 0)
			failed = true;
		if (records(app, org, cus, sub != NULL && live(
		    json_string_value(json_object_get(sub, "status"))) ?
		    json_string_value(json_object_get(sub, "id")) : NULL) != 0)
			failed = true;
	}
	if (enforce(app, org, t) != 0)
		failed = true;
	if (!failed && run_void(app, &st_synced, params) != 0)
		failed = true;
	json_decref(sub);
	rc = failed ? -1 : 0;
out:
	if (rc != 0)
		t->failed++;
	if ((res = run(app, &st_unlock, params)) != NULL)
		PQclear(res);
	return rc;
}

/* Every organization with billing (or `only`). */
static int
sync_all(struct app *app, const char *only, struct totals *t)
{
	char		 last[ID_BUFSZ] = "";
	const char	*params[2];
	PGresult	*res;
	int		 i, n, rc = 0;

	do {
		params[0] = last;
		params[1] = only != NULL ? only : "";
		db_request_begin(&app->db);
		if ((res = run(app, &st_orgs, params)) == NULL)
			return -1;
		n = PQntuples(res);
		for (i = 0; i < n && !app_stopping(); i++)
			if (sync_org(app, PQgetvalue(res, i, 0), t) < 0)
				rc = -1;
		if (n > 0)
			snprintf(last, sizeof(last), "%s",
			    PQgetvalue(res, n - 1, 0));
		PQclear(res);
	} while (n == 200 && !app_stopping());
	return rc;
}

/* Serve sync requests until asked to stop. */
static int
listen_loop(struct app *app, struct totals *t)
{
	struct bus_pull	 p = { BUS_STREAM, DURABLE, FILTER, 60000, 64 };
	natsSubscription *sub = NULL;
	natsMsgList	 list;
	long		 poll = (long)config_int(&app->cfg, CFG_WORKER_POLL_MS);
	char		 orgs[BATCH][ID_BUFSZ];
	int		 n, i, j, norgs, of[BATCH], rc[BATCH];
	json_t		*m;

	while (!app_stopping()) {
		if (sub == NULL && (bus_stream(&app->bus) != 0 ||
		    bus_pull(&app->bus, &p, &sub) != 0)) {
			log_warn(&app->log, "NATS: %s", app->bus.errmsg);
			sleep(1);
			continue;
		}
		if ((n = bus_fetch(&app->bus, sub, &list, BATCH,
		    (int)poll)) <= 0) {
			if (n < 0)
				usleep(250 * 1000);
			continue;
		}
		/* Several requests for one organization: one sync. */
		norgs = 0;
		for (i = 0; i < n; i++) {
			const char *org;

			of[i] = -1;
			m = json_loadb(natsMsg_GetData(list.Msgs[i]),
			    (size_t)natsMsg_GetDataLength(list.Msgs[i]), 0,
			    NULL);
			org = json_string_value(json_object_get(m,
			    "organization_id"));
			if (org != NULL && id_valid(org, ID_ORG)) {
				for (j = 0; j < norgs; j++)
					if (strcmp(orgs[j], org) == 0)
						break;
				if (j == norgs)
					snprintf(orgs[norgs++], ID_BUFSZ, "%s",
					    org);
				of[i] = j;
			}
			json_decref(m);
		}
		for (j = 0; j < norgs; j++)
			if ((rc[j] = sync_org(app, orgs[j], t)) < 0)
				log_warn(&app->log, "billing: %s: not synced; "
				    "asked again later", orgs[j]);
		/* A request whose organization another run held, or whose
		 * sync failed, comes back: the change it announces may not
		 * have been seen. */
		for (i = 0; i < n; i++) {
			if (of[i] < 0 || rc[of[i]] == 0)
				natsMsg_Ack(list.Msgs[i], NULL);
			else
				natsMsg_NakWithDelay(list.Msgs[i],
				    rc[of[i]] > 0 ? HELD_DELAY_MS :
				    FAILED_DELAY_MS, NULL);
		}
		natsMsgList_Destroy(&list);
	}
	if (sub != NULL)
		natsSubscription_Destroy(sub);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: billing-sync [--print-config] "
	    "[--organization=ID | --listen]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const char *const flags[] = { "--organization=", "--listen",
	    NULL };
	struct app	 app;
	struct totals	 t;
	const char	*only = NULL;
	bool		 listen = false;
	int		 rc, i;

	memset(&t, 0, sizeof(t));
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--organization=", 15) == 0) {
			only = argv[i] + 15;
			if (!id_valid(only, ID_ORG))
				return usage();
		} else if (strcmp(argv[i], "--listen") == 0)
			listen = true;
	}
	if (listen && only != NULL)
		return usage();
	rc = app_init(&app, "billing-sync", argc, argv, flags);
	if (rc != 0) {
		app_fini(&app);
		return rc > 0 ? 0 : usage();
	}
	app_job_signals();
	if (listen)
		rc = listen_loop(&app, &t);
	else
		rc = sync_all(&app, only, &t);
	log_info(&app.log, "billing: %u organizations synced, items added %u, "
	    "updated %u, removed %u, subscriptions canceled %u, workspaces "
	    "suspended %u, resumed %u, failed %u", t.orgs, t.added, t.updated,
	    t.removed, t.canceled, t.suspended, t.resumed, t.failed);
	printf("organizations %u, added %u, updated %u, removed %u, "
	    "canceled %u, suspended %u, resumed %u, failed %u\n", t.orgs,
	    t.added, t.updated, t.removed, t.canceled, t.suspended, t.resumed,
	    t.failed);
	app_fini(&app);
	return rc != 0 || t.failed > 0 ? 1 : 0;
}
