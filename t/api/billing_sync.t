#!/bin/bash
# jobs/billing-sync against stripe-mock started with fixtures of our own, so
# that "Stripe" holds the subscription items a case needs: in step (nothing
# to do), drift both ways (a workspace with no item, an item with no
# workspace), no paid workspace left (the subscription ends), concurrent
# runs deciding with the same Idempotency-Keys, the grace period enforced,
# and the NATS-triggered mode.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$HXB_TEST_ROOT/t/lib/ports.sh"

R=$$r$RANDOM
SECRET=$(cat "$S/secrets/stripe_webhook_secret")
NOW=$(date +%s)
TB=$(mktemp -d /tmp/hxb-bsync.XXXXXX)
MOCKS=()
cleanup() {
	local d
	for d in "${MOCKS[@]}"; do
		"$HXB_TEST_ROOT/t/peers/stripe-mock.sh" stop "$d" >/dev/null 2>&1
	done
	[ -z "${LISTENER:-}" ] || kill "$LISTENER" 2>/dev/null
	rm -rf "$TB"
}
trap cleanup EXIT

PRO=$(sql "SELECT stripe_price_id FROM plans WHERE id = 'pro'")
ENT=$(sql "SELECT stripe_price_id FROM plans WHERE id = 'enterprise'")

# mock NAME PRICE QUANTITY: a stripe-mock whose subscriptions hold one item
# of PRICE x QUANTITY; its URL in MOCK_URL.
mock() {
	local d=$TB/$1 port
	mkdir -p "$d"
	jq -n --arg p "$2" --argjson q "$3" --arg si "si_$1" --arg in "in_$1$R" \
	    '{subscription_item: {id: $si, quantity: $q, price: {id: $p}},
	      invoice: {id: $in}}' |
	    "$HXB_TEST_ROOT/t/peers/stripe-mock.sh" fixtures "$d/fixtures.json"
	port=$(free_port)
	"$HXB_TEST_ROOT/t/peers/stripe-mock.sh" start "$d" "$port" "$d/fixtures.json" >/dev/null
	MOCKS+=("$d")
	MOCK_URL=https://localhost:$port
}
job_env() {
	"$HXB_TEST_ROOT/t/stack.sh" env "$S" | grep -v '^HXB_DATABASE_'
	cat <<EOF
HXB_DATABASE_URL=host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner
HXB_DATABASE_PASSWORD_FILE=$S/secrets/pg_owner
EOF
}
# bsync URL [ARGS]: one run against the stripe-mock at URL; its summary on
# stdout, its log appended to $TB/sync.log.
bsync() {
	local url=$1 e
	shift
	mapfile -t e < <(job_env)
	env "${e[@]}" "HXB_STRIPE_API_URL=$url" ${GRACE:+HXB_BILLING_GRACE_S=$GRACE} \
	    "$HXB_TEST_BUILD/jobs/billing-sync" "$@" 2>>"$TB/sync.log"
}
keys() {	# the Idempotency-Keys a log holds, sorted
	grep -o 'Idempotency-Key hxb-[a-z]*-[0-9a-f]*' "$1" | sort -u
}
event() {	# event TYPE OBJECT: signed by Stripe's library, posted
	local e
	e=$(jq -cn --arg id "evt_s${R}_$(date +%s%N)" --arg type "$1" --argjson obj "$2" \
	    --argjson c "$NOW" '{id: $id, object: "event", type: $type, created: $c,
	      livemode: false, data: {object: $obj}}')
	http POST /webhooks/stripe -H 'Content-Type: application/json' \
	    -H "Stripe-Signature: $(printf '%s' "$e" | node "$HXB_TEST_ROOT/t/peers/stripe-sign.mjs" --secret "$SECRET")" \
	    --data-binary "$e"
}
# org TAG PLAN...: an organization subscribed (through the webhook), with a
# workspace on each plan; ORG, CUS and SUB set.
org() {
	local tag=$1 p n=0
	shift
	api POST /api/v1/organizations "{\"name\":\"bs-$tag-$R\"}"
	ORG=$(jqb .id) CUS=cus_$tag$R SUB=sub_$tag$R
	for p in "$@"; do
		n=$((n + 1))
		api POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"w$n\",\"plan_id\":\"$p\"}"
	done
	event checkout.session.completed "$(jq -cn --arg o "$ORG" --arg c "$CUS" --arg s "$SUB" \
	    '{id: "cs_1", object: "checkout.session", mode: "subscription", client_reference_id: $o,
	      customer: $c, subscription: $s}')"
	event customer.subscription.created "$(jq -cn --arg c "$CUS" --arg s "$SUB" \
	    '{id: $s, object: "subscription", customer: $c, status: "active", items: {data: []}}')"
}
api() {	# api METHOD PATH [JSON]: as the admin
	if [ $# -ge 3 ]; then
		http "$1" "$2" -H "$(bearer "$ADM")" -H 'Content-Type: application/json' -d "$3"
	else
		http "$1" "$2" -H "$(bearer "$ADM")"
	fi
}
audit() { sql "SELECT coalesce(string_agg(before::text || ' -> ' || after::text, ' | ' ORDER BY id), '') FROM audit_log WHERE organization_id = '$ORG' AND action = 'billing.repaired'"; }

sign_in "bsa$R"; ADM=$AT
mock pro2 "$PRO" 2
PRO2=$MOCK_URL

# --- in step: nothing to change ----------------------------------------------------
org a pro pro free
A=$ORG
out=$(bsync "$PRO2" --organization="$A")
is "$? $out" "0 organizations 1, added 0, updated 0, removed 0, canceled 0, suspended 0, resumed 0, failed 0" \
    "two pro workspaces, an item of pro x 2: nothing to change"
is "$(sql "SELECT subscription_status || ' ' || (synced_at IS NOT NULL) || ' ' || upcoming_total || ' ' || (payment_method->>'last4') FROM billing_accounts WHERE organization_id = '$A'")" \
    "active true 1000 4242" "... the subscription, the upcoming invoice and the payment method stored"
is "$(sql "SELECT count(*) FROM invoices WHERE organization_id = '$A'")" 1 "... the invoices too"

# --- drift: workspaces with no item, a quantity short ------------------------------
api POST "/api/v1/organizations/$A/workspaces" '{"name":"w4","plan_id":"pro"}'
api POST "/api/v1/organizations/$A/workspaces" '{"name":"w5","plan_id":"enterprise"}'
: >"$TB/sync.log"
out=$(bsync "$PRO2" --organization="$A")
is "$? $out" "0 organizations 1, added 1, updated 1, removed 0, canceled 0, suspended 0, resumed 0, failed 0" \
    "a third pro workspace and an enterprise one: pro's quantity set to 3, an enterprise item added"
like "$(grep -c "done POST /v1/subscription_items" "$TB/sync.log")" '^2$' "... two calls Stripe (stripe-mock) accepted"
is "$(audit)" "{\"$PRO\": 2, \"$ENT\": 0} -> {\"$PRO\": 3, \"$ENT\": 1}" "... audited, before and after"
first=$(keys "$TB/sync.log")

# --- concurrent runs decide the same changes with the same keys ----------------------
for i in 1 2 3; do
	( bsync "$PRO2" --organization="$A" >"$TB/run$i.out"; echo $? >"$TB/run$i.rc" ) &
done
wait
is "$(cat "$TB"/run*.rc | sort -u)" 0 "three runs at once: each exits 0"
is "$(keys "$TB/sync.log")" "$first" \
    "... every change any of them sent carries the key the first run used (Stripe applies each once)"
is "$(grep -c '^organizations [01], .* failed 0$' "$TB"/run*.out | cut -d: -f2 | tr -d '\n')" 111 \
    "... each synced it, or left it to the run that held it ($(grep -h -o '^organizations [01]' "$TB"/run*.out | tr '\n' ' '))"

# --- an item with no workspace -------------------------------------------------------
mock orphan price_not_ours 1
org b pro pro
B=$ORG
: >"$TB/sync.log"
out=$(bsync "$MOCK_URL" --organization="$B")
is "$? $out" "0 organizations 1, added 1, updated 0, removed 1, canceled 0, suspended 0, resumed 0, failed 0" \
    "an item of a price no workspace has: pro x 2 added, then that item deleted"
like "$(grep -o 'done [A-Z]* /v1/subscription_items[^ ]*' "$TB/sync.log" | tr '\n' ' ')" \
    "^done POST /v1/subscription_items done DELETE /v1/subscription_items/si_orphan $" \
    "... the addition first, so that the subscription is never empty"

# --- no paid workspace left: the subscription ends ----------------------------------
org c free
out=$(bsync "$PRO2" --organization="$ORG")
is "$? $out" "0 organizations 1, added 0, updated 0, removed 0, canceled 1, suspended 0, resumed 0, failed 0" \
    "no workspace on a paid plan: the subscription is canceled (its last item cannot be deleted)"

# --- the grace period, enforced by the schedule ----------------------------------------
ORG=$B
event invoice.payment_failed "$(jq -cn --arg c "cus_b$R" '{id: "in_bs1", object: "invoice", customer: $c, status: "open"}')"
is "$(sql "SELECT count(*) FROM tasks WHERE organization_id = '$B' AND type = 'suspend_workspace'")" 0 \
    "a failed payment within the grace period: nothing suspended"
sql "UPDATE workspaces SET status = 'running' WHERE organization_id = '$B'" >/dev/null
out=$(GRACE=0 bsync "$MOCK_URL" --organization="$B")
like "$out" "suspended 2, resumed 0" "billing-sync past the grace period: both paid workspaces suspended"
is "$(sql "SELECT count(*) FROM outbox WHERE organization_id = '$B' AND subject = 'hexabase.cp.workspace.suspend' AND published_at IS NOT NULL")" \
    2 "... the requests published on NATS"
out=$(GRACE=0 bsync "$MOCK_URL" --organization="$B")
like "$out" "suspended 0, resumed 0" "... a second run asks nothing more"

# --- triggered over NATS ------------------------------------------------------------------
ORG=$A
mapfile -t e < <(job_env)
env "${e[@]}" "HXB_STRIPE_API_URL=$PRO2" HXB_WORKER_POLL_MS=200 \
    "$HXB_TEST_BUILD/jobs/billing-sync" --listen >"$TB/listen.out" 2>"$TB/listen.log" &
LISTENER=$!
api POST "/api/v1/organizations/$A/workspaces" '{"name":"w6","plan_id":"pro"}'
is "$STATUS" 202 "a workspace added to a subscribed organization"
is "$(sql "SELECT count(*) FROM outbox WHERE organization_id = '$A' AND subject = 'hexabase.cp.billing.sync' AND payload->>'workspace_id' = '$(jqb .workspace.id)' AND published_at IS NOT NULL")" \
    1 "... asks billing-sync, on NATS"
for i in $(seq 100); do
	audit | grep -q "\"$PRO\": 4" && break
	sleep 0.2
done
like "$(audit)" "-> \{\"$PRO\": 4, " "billing-sync --listen set pro's quantity to 4"
kill -TERM "$LISTENER"
wait "$LISTENER"
is "$?" 0 "... and stops on SIGTERM"
LISTENER=

done_testing
