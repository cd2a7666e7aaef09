#!/bin/bash
# An organization's billing (handlers/billing) against stripe-mock, Stripe's
# own mock of its API: what GET .../billing shows, Checkout and the
# customer portal (the only calls a handler makes to Stripe), the invoice
# list, who may do any of it, and what a client sees when Stripe is away
# or refuses.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

R=$$r$RANDOM
SECRET=$(cat "$S/secrets/stripe_webhook_secret")
NOW=$(date +%s)
N=0
api() {	# api TOKEN METHOD PATH [JSON]
	local t=$1 m=$2 p=$3
	if [ $# -ge 4 ]; then
		http "$m" "$p" -H "$(bearer "$t")" -H 'Content-Type: application/json' -d "$4"
	else
		http "$m" "$p" -H "$(bearer "$t")"
	fi
}
event() {	# event TYPE OBJECT [CREATED]: signed by Stripe's library, posted
	local e
	N=$((N + 1))
	e=$(jq -cn --arg id "evt_b${R}_$N" --arg type "$1" --argjson obj "$2" \
	    --argjson c "${3:-$NOW}" '{id: $id, object: "event", type: $type,
	      created: $c, livemode: false, data: {object: $obj}}')
	http POST /webhooks/stripe -H 'Content-Type: application/json' \
	    -H "Stripe-Signature: $(printf '%s' "$e" | node "$HXB_TEST_ROOT/t/peers/stripe-sign.mjs" --secret "$SECRET")" \
	    --data-binary "$e"
}

sign_in "ba$R"; ADM=$AT ADM_ID=$UID_
sign_in "bm$R"; MEM=$AT
sign_in "bs$R"; STR=$AT
api "$ADM" POST /api/v1/organizations "{\"name\":\"bill-$R\"}"
ORG=$(jqb .id)
api "$ADM" POST "/api/v1/organizations/$ORG/users" "{\"email\":\"bm$R@example.test\",\"role\":\"member\"}"
api "$MEM" POST "/api/v1/invitations/$(jqb .token)/accept"
for w in a:pro b:pro c:enterprise d:free; do
	api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"${w%%:*}\",\"plan_id\":\"${w#*:}\"}"
done
B=/api/v1/organizations/$ORG/billing

# --- what the organization's admins see ------------------------------------------
api "$ADM" GET "$B"
is "$STATUS" 200 "GET billing: 200 for an admin"
is "$(jqb -c '[.organization_id, .customer, .subscription, .payment_method, .upcoming_invoice, .past_due_since]')" \
    "[\"$ORG\",null,null,null,null,null]" "no customer, subscription or payment method yet"
is "$(jqb -c '[.workspaces[] | [.name, .plan_id, .price.amount, .billed]]')" \
    '[["a","pro",4900,true],["b","pro",4900,true],["c","enterprise",49900,true],["d","free",0,false]]' \
    "each workspace's plan and price; the free one is not billed"
is "$(header cache-control)" no-store "not cached"
api "$MEM" GET "$B"
is_problem 403 "a member: 403"
api "$STR" GET "$B"
is_problem 404 "a stranger: 404, as for no organization"
http GET "$B"
is_problem 401 "nobody: 401"
api "$ADM" GET /api/v1/organizations/org-nonsense/billing
is_problem 404 "a malformed organization id: 404"
api "$ADM" GET "$B/invoices"
is "$STATUS $(jqb -c .)" '200 {"items":[],"next_cursor":null}' "no invoices yet"

# --- the customer portal needs a customer -------------------------------------------
api "$ADM" POST "$B/portal-session"
is_problem 409 "portal before the organization is a customer: 409"

# --- Checkout ------------------------------------------------------------------------
api "$ADM" POST "$B/checkout-session"
is "$STATUS" 201 "Checkout: 201"
like "$(jqb .url)" '^https://checkout\.stripe\.com/' "... Stripe's URL"
like "$(jqb .id)" '^cs_' "... the session's id"
CUS=$(sql "SELECT stripe_customer_id FROM billing_accounts WHERE organization_id = '$ORG'")
like "$CUS" '^cus_' "the organization became a Stripe customer first"
is "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = '$ORG' AND action = 'billing.customer_created' AND actor_id = '$ADM_ID'")" 1 \
    "... audited, the admin its actor"
api "$ADM" POST "$B/checkout-session" '{}'
is "$STATUS $(sql "SELECT stripe_customer_id FROM billing_accounts WHERE organization_id = '$ORG'")" "201 $CUS" \
    "a second Checkout: the same customer"
api "$ADM" POST "$B/checkout-session" '{"plan":"pro"}'
is_problem 422 "a body with fields: 422"
api "$MEM" POST "$B/checkout-session"
is_problem 403 "a member may not: 403"
api "$STR" POST "$B/checkout-session"
is_problem 404 "a stranger: 404"
api "$ADM" POST /api/v1/organizations "{\"name\":\"free-$R\"}"
FREE=$(jqb .id)
api "$ADM" POST "/api/v1/organizations/$FREE/workspaces" '{"name":"f","plan_id":"free"}'
api "$ADM" POST "/api/v1/organizations/$FREE/billing/checkout-session"
is_problem 409 "an organization with nothing on a paid plan: 409"
like "$(jqb .detail)" "nothing to subscribe to" "... saying why"
is "$(sql "SELECT count(*) FROM billing_accounts WHERE organization_id = '$FREE'")" 0 \
    "... and it did not become a customer"

# --- the portal -----------------------------------------------------------------------
api "$ADM" POST "$B/portal-session"
is "$STATUS" 201 "the customer portal: 201"
like "$(jqb .url)" '^https://' "... Stripe's URL"
api "$MEM" POST "$B/portal-session"
is_problem 403 "a member may not: 403"

# --- what Stripe reports, through the webhook, shows ------------------------------------
SUB=sub_b$R
event customer.subscription.created "$(jq -cn --arg s "$SUB" --arg c "$CUS" --argjson t "$NOW" \
    '{id: $s, object: "subscription", customer: $c, status: "active", cancel_at_period_end: false,
      items: {data: [{id: "si_1", price: {id: "price_x"}, quantity: 2, current_period_start: $t,
      current_period_end: ($t + 2592000)}]}}')"
is "$STATUS" 200 "a subscription created (webhook)"
event customer.updated "$(jq -cn --arg c "$CUS" '{id: $c, object: "customer", email: "ap@example.test", name: "Bill",
    invoice_settings: {default_payment_method: {id: "pm_b", type: "card",
    card: {brand: "mastercard", last4: "4444", exp_month: 1, exp_year: 2031}}}}')"
for i in 1 2 3; do
	event invoice.paid "$(jq -cn --arg c "$CUS" --arg s "$SUB" --arg id "in_b${R}_$i" --argjson t $((NOW - 86400 * (4 - i))) \
	    '{id: $id, object: "invoice", customer: $c, subscription: $s, status: "paid", number: ("HXB-" + $id),
	      currency: "usd", amount_due: 10300, amount_paid: 10300, total: 10300, created: $t,
	      hosted_invoice_url: "https://invoice.stripe.com/i/1", invoice_pdf: "https://pay.stripe.com/invoice/1/pdf",
	      period_start: $t, period_end: ($t + 2592000)}')" $((NOW + i))
done
api "$ADM" GET "$B"
is "$(jqb -c '[.customer.id, .customer.email, .subscription.id, .subscription.status, .subscription.cancel_at_period_end]')" \
    "[\"$CUS\",\"ap@example.test\",\"$SUB\",\"active\",false]" "GET billing: the customer and the subscription's status"
like "$(jqb '.subscription.current_period_end')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.000Z$' "... its current period"
is "$(jqb -c .payment_method)" '{"id":"pm_b","type":"card","brand":"mastercard","last4":"4444","exp_year":2031,"exp_month":1}' \
    "... the payment method's summary"
api "$ADM" POST "$B/checkout-session"
is_problem 409 "Checkout with a live subscription: 409"
like "$(jqb .detail)" "customer portal" "... pointing to the portal"

api "$ADM" GET "$B/invoices?limit=2"
is "$(jqb -c '[.items[].id]')" "[\"in_b${R}_3\",\"in_b${R}_2\"]" "invoices: newest first, a page of 2"
is "$(jqb -c '.items[0] | [.status, .total, .currency, .hosted_invoice_url]')" \
    '["paid",10300,"usd","https://invoice.stripe.com/i/1"]' "... status, total, currency, Stripe's page"
next=$(jqb .next_cursor)
api "$ADM" GET "$B/invoices?limit=2&cursor=$next"
is "$(jqb -c '[[.items[].id], .next_cursor]')" "[[\"in_b${R}_1\"],null]" "... the next page, the last"
api "$MEM" GET "$B/invoices"
is_problem 403 "a member may not list invoices: 403"
api "$ADM" GET "$B/invoices?limit=0"
is_problem 400 "limit=0: 400"

# --- Stripe away, or refusing -------------------------------------------------------------
. "$HXB_TEST_ROOT/t/lib/ports.sh"
pool_with billing "HXB_STRIPE_API_URL=https://localhost:$(free_port)" HXB_STRIPE_RETRIES=1
api "$ADM" POST "$B/portal-session"
is_problem 502 "Stripe not answering: 502"
like "$(header retry-after)" '^[0-9]+$' "... with Retry-After"
# stripe-mock quotes a key it refuses in its error, as Stripe quotes part.
printf 'sk_wrong_zq9x%s\n' "$R" >"$S/secrets/stripe_bad_key"
pool_with billing "HXB_STRIPE_SECRET_KEY_FILE=$S/secrets/stripe_bad_key"
api "$ADM" POST "$B/portal-session"
is_problem 502 "Stripe refusing our key: 502"
is "$(jqb .detail)" "Stripe refused the request: Stripe refused our credentials (HTTP 401)" "... saying so"
unlike "$BODY" "zq9x" "... never with the key"
unlike "$(cat "$S/log/billing.log")" "zq9x" "... nor in the log"
pool_restore
api "$ADM" POST "$B/portal-session"
is "$STATUS" 201 "the pool restored: 201 again"

# --- 429 from Stripe: tried again, with the same Idempotency-Key -----------------------
# A real nginx in front of stripe-mock lets one request a second through
# (limit_req) and answers 429 to the rest, as Stripe does to a client
# over its rate; its access log shows what reached it.
FRONT=$(mktemp -d /tmp/hxb-front.XXXXXX)
FPORT=$(free_port)
cat >"$FRONT/nginx.conf" <<CONF
user root;
worker_processes 1;
pid $FRONT/nginx.pid;
error_log $FRONT/error.log warn;
events { worker_connections 64; }
http {
    log_format front '\$status \$request_method \$uri \$http_idempotency_key';
    access_log $FRONT/access.log front;
    client_body_temp_path $FRONT/body;
    proxy_temp_path $FRONT/proxy;
    fastcgi_temp_path $FRONT/fcgi;
    uwsgi_temp_path $FRONT/uwsgi;
    scgi_temp_path $FRONT/scgi;
    limit_req_zone \$server_name zone=stripe:1m rate=1r/s;
    limit_req_status 429;
    server {
        listen 127.0.0.1:$FPORT ssl;
        server_name localhost;
        ssl_certificate $S/tls/server.crt;
        ssl_certificate_key $S/tls/server.key;
        location / {
            limit_req zone=stripe nodelay;
            proxy_pass http://unix:$S/stripe/stripe-mock.sock:;
        }
    }
}
CONF
nginx -c "$FRONT/nginx.conf" -p "$FRONT" 2>"$FRONT/start.log"
ok $? "a rate-limiting nginx in front of stripe-mock"
pool_with billing "HXB_STRIPE_API_URL=https://localhost:$FPORT" HXB_STRIPE_RETRIES=6
curl -s -o /dev/null --cacert "$S/tls/ca.crt" "https://localhost:$FPORT/v1/customers/cus_1" -u sk_test_1:
api "$ADM" POST "$B/portal-session"
is "$STATUS" 201 "Stripe answering 429 at first: the portal session is made all the same"
log=$(grep ' POST /v1/billing_portal/sessions ' "$FRONT/access.log")
like "$(printf '%s\n' "$log" | awk '{print $1}' | tr '\n' ' ')" '^(429 )+200 $' "... after one or more 429s, tried again until 200"
is "$(printf '%s\n' "$log" | awk '{print $4}' | sort -u | wc -l)" 1 "... every attempt with the same Idempotency-Key"
like "$(printf '%s\n' "$log" | awk '{print $4}' | head -n 1)" '^hxb-portal-[0-9a-f]{64}$' "... one of ours"
pool_restore
kill "$(cat "$FRONT/nginx.pid")" 2>/dev/null
rm -rf "$FRONT"

done_testing
