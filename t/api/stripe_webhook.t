#!/bin/bash
# Stripe's webhook (handlers/stripe_webhook): events signed by Stripe's
# official library (npm stripe, t/peers/stripe-sign.mjs) and by hand with
# openssl; the signature cases; an event stored once however often it
# comes; subscription updates out of order; a plan changed in Stripe; a
# failed payment suspending the paid workspaces and a payment resuming
# them; the copy republished on NATS; bad input; the rate limit.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

R=$$r$RANDOM
SECRET=$(cat "$S/secrets/stripe_webhook_secret")
NOW=$(date +%s)
# Events in the order Stripe made them, minutes ago.
T=$((NOW - 600))

# evt TYPE OBJECT-JSON [PREVIOUS-JSON [CREATED]]: an event, printed (in a
# subshell, hence an id from the clock).
evt() {
	jq -cn --arg id "evt_${R}_$(date +%s%N)" --arg type "$1" --argjson obj "$2" \
	    --argjson prev "${3:-null}" --argjson created "${4:-$NOW}" \
	    '{id: $id, object: "event", api_version: "2026-08-26.dahlia",
	      created: $created, livemode: false, pending_webhooks: 1,
	      type: $type, data: ({object: $obj} +
	      (if $prev == null then {} else {previous_attributes: $prev} end))}'
}
sig() {	# sig PAYLOAD [node args]: the library's Stripe-Signature
	local p=$1
	shift
	printf '%s' "$p" | node "$HXB_TEST_ROOT/t/peers/stripe-sign.mjs" "$@"
}
hand_sig() {	# hand_sig PAYLOAD SECRET TIMESTAMP: openssl's
	printf 't=%s,v1=%s' "$3" "$(printf '%s.%s' "$3" "$1" |
	    openssl dgst -sha256 -hmac "$2" -r | cut -d' ' -f1)"
}
post() {	# post PAYLOAD SIGNATURE [curl args]
	local p=$1 s=$2
	shift 2
	if [ -n "$s" ]; then
		http POST /webhooks/stripe -H 'Content-Type: application/json' \
		    -H "Stripe-Signature: $s" --data-binary "$p" "$@"
	else
		http POST /webhooks/stripe -H 'Content-Type: application/json' \
		    --data-binary "$p" "$@"
	fi
}
send() {	# send PAYLOAD: signed by the library, posted
	post "$1" "$(sig "$1" --secret "$SECRET")"
}
events() { sql "SELECT count(*) FROM stripe_events WHERE id = '$1'"; }
acct() { sql "SELECT $1 FROM billing_accounts WHERE organization_id = '$ORG'"; }

sign_in "wh$R"; ADM=$AT
http POST /api/v1/organizations -H "$(bearer "$ADM")" \
    -H 'Content-Type: application/json' -d "{\"name\":\"wh-$R\"}"
ORG=$(jqb .id)
W=/api/v1/organizations/$ORG/workspaces
for n in a b; do
	http POST "$W" -H "$(bearer "$ADM")" -H 'Content-Type: application/json' \
	    -d "{\"name\":\"pro-$n\",\"plan_id\":\"pro\"}"
done
WSA=$(sql "SELECT id FROM workspaces WHERE organization_id = '$ORG' AND name = 'pro-a'")
WSB=$(sql "SELECT id FROM workspaces WHERE organization_id = '$ORG' AND name = 'pro-b'")
http POST "$W" -H "$(bearer "$ADM")" -H 'Content-Type: application/json' \
    -d '{"name":"free-c","plan_id":"free"}'
WSC=$(jqb .workspace.id)
PRO=$(sql "SELECT stripe_price_id FROM plans WHERE id = 'pro'")
ENT=$(sql "SELECT stripe_price_id FROM plans WHERE id = 'enterprise'")
like "$PRO $ENT" '^price_[A-Za-z0-9_]+ price_[A-Za-z0-9_]+$' "the paid plans have Stripe prices"
CUS=cus_$R SUB=sub_$R SI=si_$R

# --- signatures -------------------------------------------------------------------
cs=$(evt checkout.session.completed "$(jq -cn --arg org "$ORG" --arg c "$CUS" --arg s "$SUB" \
    '{id: "cs_test_1", object: "checkout.session", mode: "subscription",
      client_reference_id: $org, customer: $c, subscription: $s, status: "complete"}')")
cs_id=$(printf '%s' "$cs" | jq -r .id)
post "$cs" ""
is_problem 400 "no Stripe-Signature: 400"
is "$(jqb .detail)" "the Stripe-Signature header is missing" "... saying so"
post "$cs" "$(sig "$cs" --secret whsec_not_ours)"
is_problem 400 "a signature with another secret: 400"
is "$(jqb .detail)" "no signature matches the endpoint's secret" "... saying so"
post "$cs" "$(sig "$cs" --secret "$SECRET" --timestamp $((NOW - 301)))"
is_problem 400 "a signature 301 s old: 400"
like "$(jqb .detail)" "outside the tolerance" "... stale"
post "$cs" "t=$NOW,v1=zz"
is_problem 400 "a malformed header: 400"
tampered=${cs/cs_test_1/cs_test_2}
post "$tampered" "$(sig "$cs" --secret "$SECRET")"
is_problem 400 "the body changed after signing: 400"
is "$(events "$cs_id")" 0 "nothing stored from any of them"

post "$cs" "$(sig "$cs" --secret whsec_not_ours --secret "$SECRET")"
is "$STATUS $(jqb -c .)" '200 {"received":true,"outcome":"applied"}' \
    "several v1 signatures, one valid: 200 applied"
is "$(acct "stripe_customer_id || ' ' || subscription_id")" "$CUS $SUB" \
    "checkout.session.completed: the organization's customer and subscription"
is "$(sql "SELECT count(*) FROM outbox WHERE organization_id = '$ORG' AND subject = 'hexabase.cp.billing.sync'")" 1 \
    "... and billing-sync is asked to look"
is "$(sql "SELECT (published_at IS NOT NULL)::text || ' ' || (payload->>'id') FROM outbox WHERE subject = 'stripe.webhook.checkout.session.completed' AND stripe_event_id = '$cs_id'")" \
    "true $cs_id" "the event is republished as stripe.webhook.checkout.session.completed, after the commit"

e=$(evt customer.updated "$(jq -cn --arg c "$CUS" '{id: $c, object: "customer", email: "billing@example.test", name: "Acme",
    invoice_settings: {default_payment_method: {id: "pm_1", object: "payment_method", type: "card",
      card: {brand: "visa", last4: "4242", exp_month: 12, exp_year: 2030, fingerprint: "secretish"}}}}')")
post "$e" "$(hand_sig "$e" "$SECRET" "$(date +%s)")"
is "$STATUS" 200 "a signature made by hand with openssl: 200"
is "$(acct "customer_email || ' ' || (payment_method - 'id')::text")" \
    'billing@example.test {"type": "card", "brand": "visa", "last4": "4242", "exp_year": 2030, "exp_month": 12}' \
    "customer.updated: e-mail and the payment method's summary, no more of the card"

# --- rotation: the old and the new secret both verify ------------------------------
NEW=whsec_new$R
printf '%s\n' "$NEW" >"$S/secrets/stripe_webhook_secret.new"
pool_with stripe_webhook "HXB_STRIPE_WEBHOOK_SECRET_FILE=$S/secrets/stripe_webhook_secret.new" \
    "HXB_STRIPE_WEBHOOK_SECRET_PREVIOUS=$SECRET"
for s in "$NEW" "$SECRET"; do
	e=$(evt invoice.upcoming "$(jq -cn --arg c "$CUS" '{id: "in_up", object: "invoice", customer: $c}')")
	post "$e" "$(sig "$e" --secret "$s")"
	is "$STATUS $(jqb .outcome)" "200 ignored" "during a rotation, ${s:0:9}... verifies (a type we do not handle: ignored)"
done
post "$e" "$(sig "$e" --secret whsec_third)"
is_problem 400 "... a third secret does not"
pool_restore

# --- the same event ten times at once: one effect -----------------------------------
paid=$(evt invoice.paid "$(jq -cn --arg c "$CUS" --arg s "$SUB" '{id: "in_'"$R"'_1", object: "invoice",
    customer: $c, subscription: $s, status: "paid", number: "HXB-0001", currency: "usd",
    amount_due: 9800, amount_paid: 9800, total: 9800, attempt_count: 1, created: '"$NOW"',
    hosted_invoice_url: "https://invoice.stripe.com/i/x", period_start: '"$NOW"', period_end: '"$((NOW + 2592000))"'}')" null $((T + 5)))
paid_id=$(printf '%s' "$paid" | jq -r .id)
h=$(sig "$paid" --secret "$SECRET")
args=()
for i in $(seq 10); do
	args+=(-s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json'
	    -H "Stripe-Signature: $h" --data-binary "$paid" "$HXB_TEST_URL/webhooks/stripe")
	[ "$i" -lt 10 ] && args+=(--next)
done
is "$(curl -s -Z --parallel-max 10 "${args[@]}" 2>/dev/null | sort | uniq -c | awk '{printf "%sx%s ", $2, $1}')" "200x10 " \
    "the same event ten times at once: 200 each"
is "$(events "$paid_id") $(sql "SELECT count(*) FROM outbox WHERE stripe_event_id = '$paid_id' AND subject LIKE 'stripe.webhook.%'")" \
    "1 1" "... stored once, republished once"
is "$(sql "SELECT count(*) || ' ' || max(status) FROM invoices WHERE organization_id = '$ORG'")" "1 paid" "... one invoice"
send "$paid"
is "$STATUS $(jqb .outcome)" "200 duplicate" "an eleventh time: 200, a duplicate"

# --- subscription updates out of order ----------------------------------------------
subj() {	# subj STATUS [PRICE]: a subscription object
	jq -cn --arg s "$SUB" --arg c "$CUS" --arg st "$1" --arg p "${2:-$PRO}" --arg si "$SI" \
	    --argjson t "$NOW" '{id: $s, object: "subscription", customer: $c, status: $st,
	      cancel_at_period_end: false, metadata: {},
	      items: {object: "list", data: [{id: $si, object: "subscription_item", quantity: 2,
	        price: {id: $p, object: "price"}, current_period_start: $t,
	        current_period_end: ($t + 2592000)}]}}'
}
e3=$(evt customer.subscription.updated "$(subj past_due)" null $((T + 30)))
e2=$(evt customer.subscription.updated "$(subj active)" null $((T + 20)))
e1=$(evt customer.subscription.created "$(subj incomplete)" null $((T + 10)))
send "$e3"
is "$(jqb .outcome)" applied "updated (t+30, past_due) arrives first: applied"
send "$e1"
is "$(jqb .outcome)" stale "created (t+10, incomplete) after it: stale"
send "$e2"
is "$(jqb .outcome)" stale "updated (t+20, active) after it: stale"
is "$(acct subscription_status)" past_due "the newest state stands: past_due"
is "$(acct "extract(epoch FROM current_period_end)::bigint")" $((NOW + 2592000)) \
    "the current period, from the item (newer API versions)"

# --- a plan changed in Stripe ---------------------------------------------------------
e=$(evt customer.subscription.updated "$(subj active "$ENT")" \
    "$(jq -cn --arg si "$SI" --arg p "$PRO" '{items: {object: "list", data: [{id: $si, price: {id: $p}}]}}')" $((T + 40)))
send "$e"
is "$(jqb .outcome)" applied "the item's price changed to enterprise in Stripe (the portal)"
is "$(sql "SELECT string_agg(name || '=' || plan_id, ',' ORDER BY name) FROM workspaces WHERE organization_id = '$ORG'")" \
    "free-c=free,pro-a=enterprise,pro-b=enterprise" "... the workspaces on pro move to enterprise; free stays"
is "$(sql "SELECT count(*) FROM tasks WHERE organization_id = '$ORG' AND type = 'update_workspace' AND payload->'spec'->>'plan_id' = 'enterprise' AND payload->'spec'->>'previous_plan_id' = 'pro'")" \
    2 "... each with a plan-change task"
is "$(sql "SELECT count(*) FROM outbox WHERE organization_id = '$ORG' AND subject = 'hexabase.cp.workspace.update' AND published_at IS NOT NULL")" \
    2 "... requested on NATS after the commit"
is "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = '$ORG' AND action = 'workspace.plan_changed'")" 2 "... audited"

# --- a failed payment suspends, a payment resumes -----------------------------------
sql "UPDATE workspaces SET status = 'running' WHERE organization_id = '$ORG'" >/dev/null
inv() {	# inv TYPE STATUS CREATED
	evt "$1" "$(jq -cn --arg c "$CUS" --arg s "$SUB" --arg st "$2" --arg id "in_${R}_2" \
	    '{id: $id, object: "invoice", customer: $c, subscription: $s, status: $st,
	      currency: "usd", amount_due: 99800, amount_paid: 0, total: 99800, attempt_count: 1}')" null "$3"
}
send "$(inv invoice.payment_failed open $((T + 50)))"
is "$(jqb .outcome) $(acct "(past_due_since IS NOT NULL)::text")" "applied true" \
    "invoice.payment_failed: past due since then"
is "$(sql "SELECT count(*) FROM tasks WHERE organization_id = '$ORG' AND type = 'suspend_workspace'")" 0 \
    "... within the grace period (3 days), nothing is suspended"
pool_with stripe_webhook HXB_BILLING_GRACE_S=0
send "$(inv invoice.payment_failed open $((T + 60)))"
is "$(sql "SELECT string_agg(w.name || ':' || w.billing_hold || ':' || t.type, ',' ORDER BY w.name) FROM workspaces w JOIN tasks t ON t.workspace_id = w.id AND t.type = 'suspend_workspace' WHERE w.organization_id = '$ORG'")" \
    "pro-a:true:suspend_workspace,pro-b:true:suspend_workspace" \
    "past the grace period: the paid workspaces are held and suspended; the free one is not"
is "$(sql "SELECT count(*) FROM outbox WHERE organization_id = '$ORG' AND subject = 'hexabase.cp.workspace.suspend' AND published_at IS NOT NULL")" \
    2 "... the suspend requests are on NATS"
send "$(inv invoice.payment_failed open $((T + 70)))"
is "$(sql "SELECT count(*) FROM tasks WHERE organization_id = '$ORG' AND type = 'suspend_workspace'")" 2 \
    "another failure while they are being suspended: no second request"
# The provisioner's answers (t/k8s/lifecycle.t runs the real one).
for t in $(sql "SELECT id || ':' || workspace_id FROM tasks WHERE organization_id = '$ORG' AND type = 'suspend_workspace'"); do
	sql "SELECT hxb_ws_answer(jsonb_build_object('event', 'suspended', 'task_id', '${t%%:*}', 'workspace_id', '${t#*:}'))" >/dev/null
done
is "$(sql "SELECT string_agg(name || '=' || status, ',' ORDER BY name) FROM workspaces WHERE organization_id = '$ORG'")" \
    "free-c=running,pro-a=suspended,pro-b=suspended" "the worker answered: suspended"
send "$(inv invoice.paid paid $((T + 55)))"
is "$(jqb .outcome)" stale "a payment older than the last failure: stale, nothing resumed"
send "$(inv invoice.paid paid $((T + 80)))"
is "$(jqb .outcome) $(acct "(past_due_since IS NULL)::text")" "applied true" "invoice.paid: paid up"
is "$(sql "SELECT string_agg(w.name || ':' || w.billing_hold, ',' ORDER BY w.name) FROM workspaces w JOIN tasks t ON t.workspace_id = w.id AND t.type = 'resume_workspace' WHERE w.organization_id = '$ORG'")" \
    "pro-a:false,pro-b:false" "... the held workspaces are released and resumed"
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WSC' AND type IN ('suspend_workspace', 'resume_workspace')")" 0 \
    "... the free one was never touched"
is "$(sql "SELECT status || ' ' || amount_paid FROM invoices WHERE id = 'in_${R}_2'")" "paid 0" \
    "the invoice's newest report is kept"
pool_restore

# --- what is not ours, or not an event ---------------------------------------------
e=$(evt charge.refunded '{"id": "ch_1", "object": "charge", "customer": "cus_somebody_else"}')
send "$e"
is "$STATUS $(jqb .outcome)" "200 ignored" "an unknown event type: 200, ignored"
is "$(sql "SELECT outcome || ' ' || (organization_id IS NULL) FROM stripe_events WHERE id = '$(printf '%s' "$e" | jq -r .id)'")" \
    "ignored true" "... stored, changing nothing"
e=$(evt customer.subscription.deleted "$(jq -cn '{id: "sub_other", object: "subscription", customer: "cus_nobody", status: "canceled"}')")
send "$e"
is "$STATUS $(jqb .outcome)" "200 ignored" "an event of a customer we do not know: ignored"
b='{"id": "evt_x", "object": "event"'
post "$b" "$(sig "$b" --secret "$SECRET")"
is_problem 400 "signed, but not JSON: 400"
b='{"object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}}'
post "$b" "$(sig "$b" --secret "$SECRET")"
is_problem 400 "signed JSON without an event id: 400"
b='{"id": "evt_1", "object": "event", "type": "invoice.paid", "created": 1, "data": {"object": {}}, "id": "evt_2"}'
post "$b" "$(sig "$b" --secret "$SECRET")"
is_problem 400 "an event with its id twice: 400"
http POST /webhooks/stripe -H 'Content-Type: text/plain' -H "Stripe-Signature: $(sig "$cs" --secret "$SECRET")" --data-binary "$cs"
is_problem 415 "not application/json: 415"

# A body over the limit is refused from its Content-Length alone: nginx
# answers without waiting for a byte of it.
st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
    -H 'Content-Length: 2000000' -H 'Expect:' --data-binary x "$HXB_TEST_URL/webhooks/stripe")
is "$st" 413 "a 2 MB body is refused before it is read: 413"
big=$(mktemp)
{ printf '{'; head -c 600000 /dev/zero | tr '\0' ' '; printf '}'; } >"$big"
http POST /webhooks/stripe -H 'Content-Type: application/json' -H "Stripe-Signature: t=1,v1=00" --data-binary "@$big"
rm -f "$big"
is_problem 413 "... as problem+json"

# --- the rate limit ---------------------------------------------------------------------
A1=127.4.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
args=()
for i in $(seq 300); do
	args+=(-s -o /dev/null -w '%{http_code}\n' --interface "$A1" -X POST
	    -H 'Content-Type: application/json' -d '{}' "$HXB_TEST_URL/webhooks/stripe")
	[ "$i" -lt 300 ] && args+=(--next)
done
codes=$(curl -s -Z --parallel-max 20 "${args[@]}" 2>/dev/null | sort | uniq -c | awk '{printf "%sx%s ", $2, $1}')
like "$codes" '429x[0-9]+' "300 events at once from one address: some are refused 429 ($codes)"
like "$codes" '^400x[0-9]+ ' "... the rest reach the handler"
A2=127.5.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
http POST /webhooks/stripe --interface "$A2" -H 'Content-Type: application/json' -d '{}'
is "$STATUS" 400 "another address is not limited"

done_testing
