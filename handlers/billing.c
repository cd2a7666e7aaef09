/*
 * billing: an organization's billing, for its admins.
 *
 *   GET  /api/v1/organizations/{orgId}/billing
 *	the customer, the subscription's status and period, the default
 *	payment method's summary, the upcoming invoice's total and each
 *	workspace's plan, as last reported by Stripe (webhooks) and
 *	billing-sync
 *   POST /api/v1/organizations/{orgId}/billing/checkout-session	201 {url}
 *	Stripe Checkout in subscription mode for the organization's paid
 *	workspaces (one line item per price, its quantity the workspaces on
 *	it); the organization becomes a Stripe customer first if it is not
 *	one yet.  409 if it has a live subscription (the portal manages
 *	that) or no workspace on a paid plan
 *   POST /api/v1/organizations/{orgId}/billing/portal-session	201 {url}
 *	the Stripe customer portal (payment methods, invoices, plan); 409
 *	before the organization is a customer
 *   GET  /api/v1/organizations/{orgId}/billing/invoices?limit=&cursor=
 *	its invoices, newest first
 *
 * The two POSTs are the only places a handler calls Stripe: a person waits
 * for the URL.  No database transaction is open during a call.  The
 * customer is created with an Idempotency-Key derived from the
 * organization, so that two admins at once get one customer, and the
 * first customer recorded is kept.  Everything else about Stripe happens
 * in the webhook and jobs/billing-sync.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "id.h"
#include "jsonw.h"
#include "page.h"
#include "stripe.h"
#include "tenant.h"

/* Subscription states in which the organization still has one. */
#define LIVE_STATES \
	"('incomplete', 'trialing', 'active', 'past_due', 'unpaid', 'paused')"

enum acct_col {
	A_CUSTOMER, A_EMAIL, A_NAME, A_SUB, A_STATUS, A_PSTART, A_PEND,
	A_CANCEL, A_PM, A_UPCOMING, A_UPCUR, A_UPAT, A_PASTDUE, A_SYNCED,
	A_LIVE
};

static const struct db_stmt st_account = { "billing_account",
    "SELECT stripe_customer_id, customer_email, customer_name, "
    "subscription_id, subscription_status, current_period_start, "
    "current_period_end, cancel_at_period_end, payment_method::text, "
    "upcoming_total, upcoming_currency, upcoming_at, past_due_since, "
    "synced_at, subscription_id IS NOT NULL AND "
    "coalesce(subscription_status IN " LIVE_STATES ", true) "
    "FROM billing_accounts WHERE organization_id = $1", 1 };
static const struct db_stmt st_workspaces = { "billing_workspaces",
    "SELECT w.id, w.name, w.status, w.plan_id, p.price_cents, p.currency, "
    "p.price_cents > 0 AND p.stripe_price_id IS NOT NULL "
    "AND w.status NOT IN ('deleting', 'deleted'), w.billing_hold "
    "FROM workspaces w JOIN plans p ON p.id = w.plan_id "
    "WHERE w.organization_id = $1 AND w.status <> 'deleted' "
    "ORDER BY w.id LIMIT 1000", 1 };
static const struct db_stmt st_items = { "billing_items",
    "SELECT p.stripe_price_id, count(*) FROM workspaces w "
    "JOIN plans p ON p.id = w.plan_id WHERE w.organization_id = $1 "
    "AND w.status NOT IN ('deleting', 'deleted') AND p.price_cents > 0 "
    "AND p.stripe_price_id IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 20", 1 };
static const struct db_stmt st_org = { "billing_org",
    "SELECT name, display_name FROM organizations WHERE id = $1", 1 };
static const struct db_stmt st_customer_put = { "billing_customer_put",
    "INSERT INTO billing_accounts (organization_id, stripe_customer_id) "
    "VALUES ($1, $2) ON CONFLICT (organization_id) DO NOTHING", 2 };
static const struct db_stmt st_customer_get = { "billing_customer_get",
    "SELECT stripe_customer_id FROM billing_accounts "
    "WHERE organization_id = $1", 1 };
static const struct db_stmt st_customer_audit = { "billing_customer_audit",
    "INSERT INTO audit_log (organization_id, actor_id, action, resource, "
    "after, request_id) SELECT $1, hxb_actor(), 'billing.customer_created', "
    "'organizations/' || $1 || '/billing', "
    "jsonb_build_object('customer', $2::text), $3 "
    "WHERE (SELECT stripe_customer_id FROM billing_accounts "
    "WHERE organization_id = $1) = $2", 3 };
/* Newest first: the cursor's key is the negated creation time in us. */
static const struct db_stmt st_invoices = { "billing_invoices",
    "SELECT id, number, status, currency, amount_due, amount_paid, total, "
    "hosted_invoice_url, invoice_pdf, period_start, period_end, created, "
    "-(extract(epoch FROM created) * 1000000)::bigint AS k "
    "FROM invoices WHERE organization_id = $1 "
    "AND (-(extract(epoch FROM created) * 1000000)::bigint, id) > "
    "($2::bigint, $3) ORDER BY k, id LIMIT $4::int", 4 };

static void	 get_billing(struct req *);
static void	 post_checkout(struct req *);
static void	 post_portal(struct req *);
static void	 list_invoices(struct req *);

static const struct field no_fields[] = {
	{ NULL, FIELD_STRING, false, false, 0, 0, NULL, NULL },
};

static const struct route routes[] = {
	{ HTTP_GET, "/api/v1/organizations/{orgId}/billing", get_billing,
	    PERM_ORG_ADMIN, "get_billing", NULL, NULL },
	{ HTTP_POST, "/api/v1/organizations/{orgId}/billing/checkout-session",
	    post_checkout, PERM_ORG_ADMIN, "create_checkout_session",
	    no_fields, NULL },
	{ HTTP_POST, "/api/v1/organizations/{orgId}/billing/portal-session",
	    post_portal, PERM_ORG_ADMIN, "create_portal_session", no_fields,
	    NULL },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/billing/invoices",
	    list_invoices, PERM_ORG_ADMIN, "list_invoices", NULL, page_query },
};

static int
org_ok(struct req *r, struct principal *p, const char *org)
{
	if (org == NULL || !id_valid(org, ID_ORG))
		return tenant_bad_id(r, p, "organization");
	http_set_resource(r, "organizations/%s/billing", org);
	return 0;
}

static bool
col_true(const PGresult *res, int i, int c)
{
	return !PQgetisnull(res, i, c) && PQgetvalue(res, i, c)[0] == 't';
}

static void
kv_num(struct jsonw *w, const char *k, const PGresult *res, int i, int c)
{
	if (PQgetisnull(res, i, c))
		jsonw_kv_null(w, k);
	else
		jsonw_kv_int(w, k, strtoll(PQgetvalue(res, i, c), NULL, 10));
}

static void
account_write(struct jsonw *w, const PGresult *a)
{
	bool	 has = PQntuples(a) == 1;

	jsonw_key(w, "customer");
	if (!has || PQgetisnull(a, 0, A_CUSTOMER))
		jsonw_null(w);
	else {
		jsonw_object(w);
		tenant_kv_text(w, "id", a, 0, A_CUSTOMER);
		tenant_kv_text(w, "email", a, 0, A_EMAIL);
		tenant_kv_text(w, "name", a, 0, A_NAME);
		jsonw_object_end(w);
	}
	jsonw_key(w, "subscription");
	if (!has || PQgetisnull(a, 0, A_SUB))
		jsonw_null(w);
	else {
		jsonw_object(w);
		tenant_kv_text(w, "id", a, 0, A_SUB);
		tenant_kv_text(w, "status", a, 0, A_STATUS);
		tenant_kv_ts(w, "current_period_start", a, 0, A_PSTART);
		tenant_kv_ts(w, "current_period_end", a, 0, A_PEND);
		jsonw_kv_bool(w, "cancel_at_period_end", col_true(a, 0,
		    A_CANCEL));
		jsonw_object_end(w);
	}
	jsonw_key(w, "payment_method");
	if (!has || PQgetisnull(a, 0, A_PM))
		jsonw_null(w);
	else
		jsonw_raw(w, PQgetvalue(a, 0, A_PM));
	jsonw_key(w, "upcoming_invoice");
	if (!has || PQgetisnull(a, 0, A_UPCOMING))
		jsonw_null(w);
	else {
		jsonw_object(w);
		kv_num(w, "total", a, 0, A_UPCOMING);
		tenant_kv_text(w, "currency", a, 0, A_UPCUR);
		tenant_kv_ts(w, "as_of", a, 0, A_UPAT);
		jsonw_object_end(w);
	}
	if (has) {
		tenant_kv_ts(w, "past_due_since", a, 0, A_PASTDUE);
		tenant_kv_ts(w, "synced_at", a, 0, A_SYNCED);
	} else {
		jsonw_kv_null(w, "past_due_since");
		jsonw_kv_null(w, "synced_at");
	}
}

static void
workspace_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	tenant_kv_text(w, "id", res, i, 0);
	tenant_kv_text(w, "name", res, i, 1);
	tenant_kv_text(w, "status", res, i, 2);
	tenant_kv_text(w, "plan_id", res, i, 3);
	jsonw_key(w, "price");
	jsonw_object(w);
	kv_num(w, "amount", res, i, 4);
	tenant_kv_text(w, "currency", res, i, 5);
	jsonw_kv_string(w, "interval", "month");
	jsonw_object_end(w);
	jsonw_kv_bool(w, "billed", col_true(res, i, 6));
	jsonw_kv_bool(w, "billing_hold", col_true(res, i, 7));
	jsonw_object_end(w);
}

static void
get_billing(struct req *r)
{
	struct principal	 p;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[3] = { &tenant_st_org_role, &st_account,
				    &st_workspaces };
	const char		*op[1] = { org };
	const char *const	*params[3] = { op, op, op };
	PGresult		*out[3];
	struct buf		 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw		 w;
	int			 i;

	if (org_ok(r, &p, org) != 0 ||
	    tenant_read(r, &p, 3, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) == ORG_ADMIN) {
		jsonw_init(&w, &b);
		jsonw_object(&w);
		jsonw_kv_string(&w, "organization_id", org);
		account_write(&w, out[1]);
		jsonw_key(&w, "workspaces");
		jsonw_array(&w);
		for (i = 0; i < PQntuples(out[2]); i++)
			workspace_write(&w, out[2], i);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		http_header(r, "Cache-Control", "no-store");
		http_json_buf(r, 200, &b);
	}
	buf_release(&b);
	for (i = 0; i < 3; i++)
		PQclear(out[i]);
}

/* Answer a Stripe call that did not succeed. */
static void
stripe_problem(struct req *r, enum stripe_outcome o,
    const struct stripe_resp *sr)
{
	switch (o) {
	case STRIPE_UNCONFIGURED:
		http_problem(r, PROBLEM_UNAVAILABLE, "billing is not "
		    "configured on this installation", NULL);
		break;
	case STRIPE_REFUSED:
		http_problemf(r, PROBLEM_BAD_GATEWAY, "Stripe refused the "
		    "request: %s", sr->message);
		break;
	default:
		http_header(r, "Retry-After", "5");
		http_problem(r, PROBLEM_BAD_GATEWAY, "Stripe did not answer; "
		    "try again shortly", NULL);
		break;
	}
}

/* Where Stripe sends the browser back, with `extra` as a query. */
static void
return_url(struct req *r, const char *org, const char *extra, struct buf *b)
{
	const char	*u = config_str(&r->app->cfg, CFG_BILLING_RETURN_URL);
	const char	*at;

	if (u == NULL || *u == '\0') {
		buf_addstr(b, config_str(&r->app->cfg, CFG_PUBLIC_URL));
		while (b->len > 0 && b->data[b->len - 1] == '/')
			b->len--;
		buf_addf(b, "/billing?organization=%s", org);
	} else if ((at = strstr(u, "{org}")) != NULL) {
		buf_add(b, u, (size_t)(at - u));
		buf_addstr(b, org);
		buf_addstr(b, at + 5);
	} else
		buf_addstr(b, u);
	if (extra != NULL)
		buf_addf(b, "%c%s", strchr(buf_cstr(b), '?') != NULL ? '&' :
		    '?', extra);
}

/* {url, id, expires_at?} of a session Stripe made, 201. */
static void
send_session(struct req *r, const struct stripe_resp *sr)
{
	const char	*url = json_string_value(json_object_get(sr->json,
			    "url"));
	const char	*id = json_string_value(json_object_get(sr->json,
			    "id"));
	json_t		*exp = json_object_get(sr->json, "expires_at");

	if (url == NULL || strncmp(url, "https://", 8) != 0 || id == NULL) {
		http_problem(r, PROBLEM_BAD_GATEWAY, "Stripe's answer has no "
		    "session URL", NULL);
		return;
	}
	http_header(r, "Cache-Control", "no-store");
	http_json(r, 201, json_pack("{s:s, s:s, s:O?}", "url", url, "id", id,
	    "expires_at", json_is_integer(exp) ? exp : NULL));
}

/*
 * Ask Stripe for a session (Checkout, portal) for the person waiting, and
 * answer with its URL.  The key is the request's: a retry inside the call
 * is the same request, a new click a new session.
 */
static void
create_session(struct req *r, const char *org, const char *what,
    const char *path, struct buf *form)
{
	const char		*parts[2] = { org, r->request_id };
	char			 key[STRIPE_IDEM_MAX];
	struct stripe_resp	 sr;
	enum stripe_outcome	 o;

	stripe_idem_key(key, what, parts, 2);
	if ((o = stripe_call(r->app, "POST", path, buf_cstr(form), key,
	    &sr)) != STRIPE_OK)
		stripe_problem(r, o, &sr);
	else
		send_session(r, &sr);
	stripe_resp_free(&sr);
}

/*
 * The organization's customer, made now if it has none: its id in
 * cus[256].  0, or -1 (answered).
 */
static int
customer_ensure(struct req *r, struct principal *p, const char *org,
    const char *have, const char *name, char cus[256])
{
	const struct db_stmt	*st[3] = { &st_customer_put, &st_customer_get,
				    &st_customer_audit };
	const char		*put_p[2], *get_p[1] = { org }, *aud_p[3];
	const char *const	*params[3] = { put_p, get_p, aud_p };
	const char		*parts[1] = { org };
	struct stripe_resp	 sr;
	struct buf		 form = BUF_INIT(0);
	enum stripe_outcome	 o;
	char			 key[STRIPE_IDEM_MAX];
	const char		*id;
	PGresult		*out[3];
	int			 i, rc = -1;

	if (have != NULL) {
		snprintf(cus, 256, "%s", have);
		return 0;
	}
	/* The same parameters for the same organization, always: the key
	 * then gives every admin the one customer. */
	stripe_form_add(&form, "name", name);
	stripe_form_add(&form, "metadata[organization_id]", org);
	stripe_idem_key(key, "customer", parts, 1);
	o = stripe_call(r->app, "POST", "/v1/customers", buf_cstr(&form), key,
	    &sr);
	buf_release(&form);
	if (o != STRIPE_OK) {
		stripe_problem(r, o, &sr);
		goto out;
	}
	id = json_string_value(json_object_get(sr.json, "id"));
	if (!stripe_id_ok(id, "cus_")) {
		http_problem(r, PROBLEM_BAD_GATEWAY, "Stripe's answer has no "
		    "customer id", NULL);
		goto out;
	}
	put_p[0] = org;
	put_p[1] = id;
	aud_p[0] = org;
	aud_p[1] = id;
	aud_p[2] = r->request_id;
	if (tenant_read(r, p, 3, st, params, out) != 0)
		goto out;
	if (PQntuples(out[1]) == 1 && !PQgetisnull(out[1], 0, 0)) {
		snprintf(cus, 256, "%s", PQgetvalue(out[1], 0, 0));
		rc = 0;
	} else
		http_problem(r, PROBLEM_INTERNAL, "the customer could not be "
		    "recorded", NULL);
	for (i = 0; i < 3; i++)
		PQclear(out[i]);
out:
	stripe_resp_free(&sr);
	return rc;
}

static void
post_checkout(struct req *r)
{
	struct principal	 p;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[4] = { &tenant_st_org_role, &st_account,
				    &st_items, &st_org };
	const char		*op[1] = { org };
	const char *const	*params[4] = { op, op, op, op };
	PGresult		*out[4] = { NULL, NULL, NULL, NULL };
	struct buf		 form = BUF_INIT(0), u = BUF_INIT(0);
	char			 cus[256], k[64];
	const char		*name;
	int			 i;

	if (org_ok(r, &p, org) != 0 ||
	    tenant_read(r, &p, 4, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) != ORG_ADMIN)
		goto out;
	if (PQntuples(out[1]) == 1 && col_true(out[1], 0, A_LIVE)) {
		http_problem(r, PROBLEM_CONFLICT, "the organization has a "
		    "subscription already; manage it in the customer portal",
		    NULL);
		goto out;
	}
	if (PQntuples(out[2]) == 0) {
		http_problem(r, PROBLEM_CONFLICT, "no workspace of the "
		    "organization is on a paid plan: there is nothing to "
		    "subscribe to", NULL);
		goto out;
	}
	name = PQntuples(out[3]) == 1 ? PQgetvalue(out[3], 0,
	    *PQgetvalue(out[3], 0, 1) != '\0' ? 1 : 0) : org;
	if (customer_ensure(r, &p, org, PQntuples(out[1]) == 1 &&
	    !PQgetisnull(out[1], 0, A_CUSTOMER) ? PQgetvalue(out[1], 0,
	    A_CUSTOMER) : NULL, name, cus) != 0)
		goto out;
	stripe_form_add(&form, "mode", "subscription");
	stripe_form_add(&form, "customer", cus);
	stripe_form_add(&form, "client_reference_id", org);
	stripe_form_add(&form, "metadata[organization_id]", org);
	stripe_form_add(&form, "subscription_data[metadata][organization_id]",
	    org);
	for (i = 0; i < PQntuples(out[2]); i++) {
		snprintf(k, sizeof(k), "line_items[%d][price]", i);
		stripe_form_add(&form, k, PQgetvalue(out[2], i, 0));
		snprintf(k, sizeof(k), "line_items[%d][quantity]", i);
		stripe_form_add(&form, k, PQgetvalue(out[2], i, 1));
	}
	return_url(r, org, "checkout=success&session_id={CHECKOUT_SESSION_ID}",
	    &u);
	stripe_form_add(&form, "success_url", buf_cstr(&u));
	buf_reset(&u);
	return_url(r, org, "checkout=canceled", &u);
	stripe_form_add(&form, "cancel_url", buf_cstr(&u));
	create_session(r, org, "checkout", "/v1/checkout/sessions", &form);
out:
	buf_release(&form);
	buf_release(&u);
	for (i = 0; i < 4; i++)
		PQclear(out[i]);
}

static void
post_portal(struct req *r)
{
	struct principal	 p;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[2] = { &tenant_st_org_role, &st_account };
	const char		*op[1] = { org };
	const char *const	*params[2] = { op, op };
	PGresult		*out[2] = { NULL, NULL };
	struct buf		 form = BUF_INIT(0), u = BUF_INIT(0);

	if (org_ok(r, &p, org) != 0 ||
	    tenant_read(r, &p, 2, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) != ORG_ADMIN)
		goto out;
	if (PQntuples(out[1]) != 1 || PQgetisnull(out[1], 0, A_CUSTOMER)) {
		http_problem(r, PROBLEM_CONFLICT, "the organization is not a "
		    "Stripe customer yet; start with a Checkout session", NULL);
		goto out;
	}
	stripe_form_add(&form, "customer", PQgetvalue(out[1], 0, A_CUSTOMER));
	return_url(r, org, NULL, &u);
	stripe_form_add(&form, "return_url", buf_cstr(&u));
	create_session(r, org, "portal", "/v1/billing_portal/sessions", &form);
out:
	buf_release(&form);
	buf_release(&u);
	PQclear(out[0]);
	PQclear(out[1]);
}

static void
invoice_write(struct jsonw *w, const PGresult *res, int i)
{
	jsonw_object(w);
	tenant_kv_text(w, "id", res, i, 0);
	tenant_kv_text(w, "number", res, i, 1);
	tenant_kv_text(w, "status", res, i, 2);
	tenant_kv_text(w, "currency", res, i, 3);
	kv_num(w, "amount_due", res, i, 4);
	kv_num(w, "amount_paid", res, i, 5);
	kv_num(w, "total", res, i, 6);
	tenant_kv_text(w, "hosted_invoice_url", res, i, 7);
	tenant_kv_text(w, "invoice_pdf", res, i, 8);
	tenant_kv_ts(w, "period_start", res, i, 9);
	tenant_kv_ts(w, "period_end", res, i, 10);
	tenant_kv_ts(w, "created", res, i, 11);
	jsonw_object_end(w);
}

static void
list_invoices(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*org = http_param(r, "orgId");
	const struct db_stmt	*st[2] = { &tenant_st_org_role, &st_invoices };
	const char		*op[1] = { org };
	const char		*lp[4];
	const char *const	*params[2] = { op, lp };
	char			 key[24], next[CURSOR_MAX];
	PGresult		*out[2];
	struct buf		 b = BUF_INIT(HTTP_RESPONSE_MAX);
	struct jsonw		 w;
	int			 i, n, shown;

	if (page_read(r, 50, &pg) != 0 || org_ok(r, &p, org) != 0)
		return;
	snprintf(key, sizeof(key), "%lld", pg.key);
	lp[0] = org;
	lp[1] = key;
	lp[2] = pg.after;
	lp[3] = pg.limit_str;
	if (tenant_read(r, &p, 2, st, params, out) != 0)
		return;
	if (tenant_role_of(r, out[0], org) == ORG_ADMIN) {
		n = PQntuples(out[1]);
		shown = n > pg.limit ? (int)pg.limit : n;
		jsonw_init(&w, &b);
		jsonw_object(&w);
		jsonw_key(&w, "items");
		jsonw_array(&w);
		for (i = 0; i < shown; i++)
			invoice_write(&w, out[1], i);
		jsonw_array_end(&w);
		if (n > shown && shown > 0 && cursor_encode(strtoll(
		    PQgetvalue(out[1], shown - 1, 12), NULL, 10),
		    PQgetvalue(out[1], shown - 1, 0), next) == 0)
			jsonw_kv_string(&w, "next_cursor", next);
		else
			jsonw_kv_null(&w, "next_cursor");
		jsonw_object_end(&w);
		http_header(r, "Cache-Control", "no-store");
		http_json_buf(r, 200, &b);
	}
	buf_release(&b);
	PQclear(out[0]);
	PQclear(out[1]);
}

int
main(int argc, char **argv)
{
	return app_main("billing", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}
