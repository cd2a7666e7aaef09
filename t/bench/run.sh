#!/bin/bash
# make bench: wrk with 64 connections, in one run, against
#   (a) the bare FastCGI hello program of t/bench/, with as many workers,
#   (b) GET /api/v1/plans/{id},
#   (c) an nginx `return 200`,
#   (d) GET /auth/me with a valid access token (signature check, revocation
#       check in Redis, rate-limit count in Redis, one PostgreSQL query),
#   (e) GET /api/v1/organizations/{orgId}/workspaces/{wsId}: authentication,
#       the organization role, row-level security, one transaction,
#   (f) a page of 100 from an organization of 100 000 workspaces,
#   (h) GET /api/v1/organizations/{orgId}/billing: authentication, the
#       organization role, the billing account and the workspaces' plans,
#   (i) POST /webhooks/stripe with an event seen before: Stripe-Signature
#       verified, the event parsed, its transaction finding it stored,
# plus (b) with the plans catalog cache off, a handler swap under load, and
# the effective groups of a user at depth 50 of 10 000 groups (in SQL).
# Prints requests/s and p99 for each and the ratio b/a, and records them in
# docs/BENCHMARKS.md.  (a), (b) and (d) run in ROUNDS interleaved rounds,
# so that a change in the speed of this shared machine during the run
# touches all of them alike; each figure is the median of its rounds and
# each ratio the median of the ratios within a round.  (g) alternates with
# `openssl speed rsa2048` in rounds of its own, the same way.
# Settings: BENCH_SECONDS (5 per round), BENCH_ROUNDS (3),
# BENCH_TOKEN_ROUNDS (5, for (g)), WORKERS (4).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
# (g) swings most with the machine (a third of its work is one RSA
# signature, compared with openssl's): more rounds for a steadier median.
TROUNDS=${BENCH_TOKEN_ROUNDS:-5}
export WORKERS=${WORKERS:-4} BUILD=build STACK_BENCH=1

. "$ROOT/t/lib/ports.sh"
. "$ROOT/t/bench/record.sh"
export PORT=$(free_port) PG_PORT=$(free_port) REDIS_PORT=$(free_port)
export NATS_PORT=$(free_port) IDP_PORT=$(free_port) TLS_PORT=$(free_port)
export STRIPE_PORT=$(free_port)
# wrk's events come from one address: nginx's webhook limit must not count.
export NGINX_WEBHOOK_RATE=1000000r/s NGINX_WEBHOOK_BURST=1000000
TMP=$(mktemp -d /tmp/hxb-bench.XXXXXX)
STACK=$TMP/stack
# wrk sends everything from one address: raise the per-address limit of
# the authenticated /auth routes so that it counts but does not refuse.
printf 'HXB_AUTH_SESSION_RATE_LIMIT=100000000\n' >"$TMP/extra.env"
export STACK_ENV_FILE=$TMP/extra.env
trap 't/stack.sh stop "$STACK" >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
t/stack.sh start "$STACK" >"$TMP/start.log" 2>&1 || {
	cat "$TMP/start.log" >&2
	exit 1
}
URL=http://127.0.0.1:$PORT

# run NAME PATH [wrk args]: wrk, then "rps p99_ms errors" into $TMP/NAME.
run() {
	local out=$TMP/$1.wrk name=$1 path=$2
	shift 2
	wrk -t2 -c"${CONNS:-64}" -d1s "$@" "$URL$path" >/dev/null 2>&1	# warm-up
	wrk -t2 -c"${CONNS:-64}" -d"${SECS}s" --latency "$@" "$URL$path" >"$out" 2>&1
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/Requests\/sec/ { rps = $2 }
	/^ +99%/ { p99 = ms($2) }
	/Non-2xx/ { err += $NF }
	/Socket errors/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END { printf "%d %.2f %d\n", rps, p99, err }' "$out" >"$TMP/$name"
}

# A real sign-in through the development IdP, for an access token.
. "$ROOT/t/lib/idp.sh"
auth_url=$(curl -s -X POST "$URL/auth/login/dev" | jq -r .auth_url)
cb=$(idp_sign_in "$auth_url" bench "$TMP/jar" "$STACK/tls/ca.crt")
AT=$(curl -s -H 'Accept: application/json' "$cb" | jq -r .access_token)
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT" \
    "$URL/auth/me")" = 200 ] || { echo "bench: cannot sign in" >&2; exit 1; }

# An organization with a workspace, through the API.
api() {	# api METHOD PATH JSON: the body of the answer
	curl -s -X "$1" -H "Authorization: Bearer $AT" \
	    -H 'Content-Type: application/json' -d "$3" "$URL$2"
}
ORG=$(api POST /api/v1/organizations '{"name":"bench"}' | jq -r .id)
WS=$(api POST "/api/v1/organizations/$ORG/workspaces" \
    '{"name":"bench","plan_id":"free"}' | jq -r .workspace.id)
WSPATH=/api/v1/organizations/$ORG/workspaces/$WS
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT" \
    "$URL$WSPATH")" = 200 ] || { echo "bench: no workspace" >&2; exit 1; }

for i in $(seq "$ROUNDS"); do
	run hello.$i /bench/hello
	run plans.$i /api/v1/plans/free
	run me.$i /auth/me -H "Authorization: Bearer $AT"
	run ws.$i "$WSPATH" -H "Authorization: Bearer $AT"
	run billing.$i "/api/v1/organizations/$ORG/billing" -H "Authorization: Bearer $AT"
done
run static /bench/static

# med: the median of the numbers on standard input, one a line.
med() {
	sort -g | awk '{ v[NR] = $1 }
	END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# median NAME: "rps p99 errors", medians of the rounds and the errors summed.
median() {
	local all
	all=$(for i in $(seq "$ROUNDS"); do cat "$TMP/$1.$i"; done)
	printf '%d %.2f %d\n' "$(cut -d' ' -f1 <<<"$all" | med)" \
	    "$(cut -d' ' -f2 <<<"$all" | med)" \
	    "$(awk '{ e += $3 } END { print e + 0 }' <<<"$all")"
}
# ratio_of NAME: the median over rounds of NAME's rps / hello's in that
# round, and each round's ratio.
ratio_of() {
	local q
	q=$(for i in $(seq "$ROUNDS"); do
		paste -d' ' "$TMP/$1.$i" "$TMP/hello.$i"
	done | awk '{ printf "%.2f\n", $1 / $4 }')
	printf '%.2f (rounds: %s)\n' "$(med <<<"$q")" \
	    "$(paste -sd, <<<"$q" | sed 's/,/, /g')"
}
median hello >"$TMP/hello"
median plans >"$TMP/plans"
median me >"$TMP/me"
median ws >"$TMP/ws"
median billing >"$TMP/billing"

# (i) An event Stripe sends again: signed now by Stripe's library (the
# tolerance is 300 s), stored once before the run.
ev=$(jq -cn --arg org "$ORG" '{id: "evt_bench_1", object: "event",
    type: "invoice.upcoming", created: now | floor, livemode: false,
    data: {object: {id: "in_bench", object: "invoice", customer: "cus_bench"}}}')
sig=$(printf '%s' "$ev" | node t/peers/stripe-sign.mjs \
    --secret-file "$STACK/secrets/stripe_webhook_secret")
jq -rn --arg b "$ev" --arg s "$sig" '"wrk.method = \"POST\"\n" +
    "wrk.headers[\"Content-Type\"] = \"application/json\"\n" +
    "wrk.headers[\"Stripe-Signature\"] = \"" + $s + "\"\n" +
    "wrk.body = " + ($b | tojson)' >"$TMP/webhook.lua"
[ "$(curl -s -X POST -H 'Content-Type: application/json' -H "Stripe-Signature: $sig" \
    --data-binary "$ev" "$URL/webhooks/stripe" | jq -r .outcome)" = ignored ] ||
    { echo "bench: the webhook did not take the event" >&2; exit 1; }
run webhook /webhooks/stripe -s "$TMP/webhook.lua"

. "$STACK/stack.env"
bsql() {
	PGPASSWORD=$(cat "$STACK/secrets/pg_super") psql -X -q -A -t \
	    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres \
	    -d hexabase -c "$1"
}
# (f): 100 000 workspaces in a second organization of the same admin.
ORG2=$(api POST /api/v1/organizations '{"name":"bench-big"}' | jq -r .id)
bsql "INSERT INTO workspaces (id, organization_id, name, plan_id)
    SELECT 'ws-0' || substr(md5(i::text), 1, 25), '$ORG2', 'w' || i, 'free'
    FROM generate_series(1, 100000) i; ANALYZE workspaces" >/dev/null
cursor=$(curl -s -H "Authorization: Bearer $AT" \
    "$URL/api/v1/organizations/$ORG2/workspaces?limit=100" | jq -r .next_cursor)
run list "/api/v1/organizations/$ORG2/workspaces?limit=100&cursor=$cursor" \
    -H "Authorization: Bearer $AT"
CONNS=8 run list8 "/api/v1/organizations/$ORG2/workspaces?limit=100&cursor=$cursor" \
    -H "Authorization: Bearer $AT"

# The effective groups at depth 50 of 10 000 groups: a chain of 50 under
# one root, the rest beside it; the user in the deepest.  The median and
# p99 of 500 calls, timed inside PostgreSQL.
bsql "INSERT INTO groups (id, workspace_id, name, parent_id)
    SELECT 'grp-0' || substr(md5('g' || i), 1, 25), '$WS', 'g' || i,
        CASE WHEN i = 1 THEN NULL
             WHEN i <= 50 THEN 'grp-0' || substr(md5('g' || (i - 1)), 1, 25)
             ELSE 'grp-0' || substr(md5('g' || (1 + i % 50)), 1, 25) END
    FROM generate_series(1, 10000) i ORDER BY i;
    INSERT INTO users (id, email) VALUES ('hxb-usr-0' || substr(md5('deep'), 1, 25),
        'deep@example.test');
    INSERT INTO group_memberships (workspace_id, group_id, user_id)
    VALUES ('$WS', 'grp-0' || substr(md5('g50'), 1, 25),
        'hxb-usr-0' || substr(md5('deep'), 1, 25));
    ANALYZE groups; ANALYZE group_memberships" >/dev/null
eg=$(bsql "CREATE TEMP TABLE t (ms float8);
DO \$\$
DECLARE s timestamptz; n int; u text;
BEGIN
    u := 'hxb-usr-0' || substr(md5('deep'), 1, 25);
    FOR k IN 1..500 LOOP
        s := clock_timestamp();
        SELECT count(*) INTO n FROM hxb_effective_groups('$WS', u);
        INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - s) * 1000);
        IF n <> 50 THEN RAISE EXCEPTION 'expected 50 groups, got %', n; END IF;
    END LOOP;
END \$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 3) || ' ' ||
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 3) FROM t")
read -r eg_p50 eg_p99 <<<"$eg"
# (g) Workspace tokens: RS256, the groups of a hierarchy 10 deep (the
# bench user in the deepest of a chain of 10), against the machine's RSA
# signing limit (openssl speed, one process).
ORG3=$(api POST /api/v1/organizations '{"name":"bench-tok"}' | jq -r .id)
WS3=$(api POST "/api/v1/organizations/$ORG3/workspaces" \
    '{"name":"tok","plan_id":"free"}' | jq -r .workspace.id)
ME=$(curl -s -H "Authorization: Bearer $AT" "$URL/auth/me" | jq -r .id)
bsql "INSERT INTO groups (id, workspace_id, name, parent_id)
    SELECT 'grp-1' || substr(md5('t' || i), 1, 25), '$WS3', 't' || i,
        CASE WHEN i = 1 THEN NULL
             ELSE 'grp-1' || substr(md5('t' || (i - 1)), 1, 25) END
    FROM generate_series(1, 10) i ORDER BY i;
    INSERT INTO group_memberships (workspace_id, group_id, user_id)
    VALUES ('$WS3', 'grp-1' || substr(md5('t10'), 1, 25), '$ME')" >/dev/null
ngroups=$(curl -s -X POST -H "Authorization: Bearer $AT" \
    "$URL/api/v1/workspaces/$WS3/token" | jq -r '.token | split(".")[1]' |
    tr '_-' '/+' | { read -r p; while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
    printf '%s' "$p"; } | base64 -d | jq '.groups | length')
printf 'wrk.method = "POST"\nwrk.headers["Authorization"] = "Bearer %s"\n' \
    "$AT" >"$TMP/token.lua"
# In interleaved rounds, as (a) to (e): a slower spell of this shared
# machine touches both sides of a round alike.  Median of the rounds.
for i in $(seq "$TROUNDS"); do
	run token.$i "/api/v1/workspaces/$WS3/token" -s "$TMP/token.lua"
	openssl speed -seconds 3 rsa2048 2>/dev/null |
	    awk '/^rsa 2048 bits/ { print int($6) }' >"$TMP/rsa.$i"
done
ROUNDS=$TROUNDS median token >"$TMP/token"
rsa=$(for i in $(seq "$TROUNDS"); do cat "$TMP/rsa.$i"; done | med)
tok_q=$(for i in $(seq "$TROUNDS"); do
	paste -d' ' "$TMP/token.$i" "$TMP/rsa.$i"
done | awk '{ printf "%.2f\n", $1 / $4 }')
ratio_tok="$(med <<<"$tok_q") (rounds: $(paste -sd, <<<"$tok_q" | sed 's/,/, /g'))"

# The same route reading PostgreSQL on every request.
HXB_PLANS_CACHE_MS=0 t/stack.sh restart-handler "$STACK" plans 2>/dev/null
run plans_nocache /api/v1/plans/free

# A handler swap in the middle of a load: no request may fail.
wrk -t2 -c64 -d8s "$URL/api/v1/plans/free" >"$TMP/swap.wrk" 2>&1 &
wrk_pid=$!
sleep 3
t/stack.sh restart-handler "$STACK" plans 2>/dev/null
wait $wrk_pid
swap_total=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$TMP/swap.wrk")
swap_failed=$(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' "$TMP/swap.wrk")

read -r a_rps a_p99 a_err <"$TMP/hello"
read -r b_rps b_p99 b_err <"$TMP/plans"
read -r c_rps c_p99 c_err <"$TMP/static"
read -r d_rps d_p99 d_err <"$TMP/plans_nocache"
read -r e_rps e_p99 e_err <"$TMP/me"
read -r f_rps f_p99 f_err <"$TMP/ws"
read -r g_rps g_p99 g_err <"$TMP/list"
read -r h_rps h_p99 h_err <"$TMP/list8"
read -r t_rps t_p99 t_err <"$TMP/token"
read -r i_rps i_p99 i_err <"$TMP/billing"
read -r j_rps j_p99 j_err <"$TMP/webhook"
ratio_billing=$(ratio_of billing)
ratio_webhook=$(awk -v b="$j_rps" -v a="$a_rps" 'BEGIN { printf "%.2f", b / a }')
ratio_me=$(ratio_of me)
ratio_ws=$(ratio_of ws)
ws_p99s=$(for i in $(seq "$ROUNDS"); do cut -d' ' -f2 "$TMP/ws.$i"; done | paste -sd, | sed 's/,/, /g')
ratio=$(ratio_of plans)
me_p99s=$(for i in $(seq "$ROUNDS"); do cut -d' ' -f2 "$TMP/me.$i"; done | paste -sd, | sed 's/,/, /g')
ratio_nc=$(awk -v b="$d_rps" -v a="$a_rps" 'BEGIN { printf "%.2f", b / a }')

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
table=$(cat <<EOS
Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores ($cpu), $mem,
$(uname -sr); wrk -t2 -c64 on the same machine; (a), (b), (d), (e) and (h) in
$ROUNDS interleaved rounds of ${SECS}s (medians shown), (g) and
\`openssl speed\` in $TROUNDS rounds of their own, (c) and the uncached
(b) once; $WORKERS FastCGI workers per program; nginx $(nginx -v 2>&1 | sed 's|.*/||'),
2 nginx workers.

| target | requests/s | p99 (ms) | errors |
|---|---:|---:|---:|
| (a) bare FastCGI hello, \`/bench/hello\` | $a_rps | $a_p99 | $a_err |
| (b) \`GET /api/v1/plans/free\` | $b_rps | $b_p99 | $b_err |
| (c) nginx \`return 200\`, \`/bench/static\` | $c_rps | $c_p99 | $c_err |
| (b) with \`HXB_PLANS_CACHE_MS=0\` (PostgreSQL on every request) | $d_rps | $d_p99 | $d_err |
| (d) \`GET /auth/me\` with a valid access token | $e_rps | $e_p99 | $e_err |
| (e) \`GET /api/v1/organizations/{orgId}/workspaces/{wsId}\` (auth, role, RLS, one transaction) | $f_rps | $f_p99 | $f_err |
| (f) a page of 100 of 100 000 workspaces, \`?limit=100&cursor=\` | $g_rps | $g_p99 | $g_err |
| (f) the same at 8 connections | $h_rps | $h_p99 | $h_err |
| (g) \`POST /api/v1/workspaces/{wsId}/token\` (RS256, $ngroups groups from a hierarchy 10 deep) | $t_rps | $t_p99 | $t_err |
| (h) \`GET /api/v1/organizations/{orgId}/billing\` (auth, role, account and plans) | $i_rps | $i_p99 | $i_err |
| (i) \`POST /webhooks/stripe\`, an event seen before (signature, parse, one transaction) | $j_rps | $j_p99 | $j_err |

**b/a = $ratio** (target >= 0.6); with the cache off b/a = $ratio_nc.
**d/a = $ratio_me** (target >= 0.5); p99 of (d) by round: $me_p99s ms
(target <= 10 ms).
**e/a = $ratio_ws** (target >= 0.4); p99 of (e) by round: $ws_p99s ms
(target <= 10 ms). p99 of (f): $g_p99 ms at 64 connections, $h_p99 ms at 8
(target <= 20 ms).
**g / RSA = $ratio_tok** (target >= 0.7): (g) against
\`openssl speed -seconds 3 rsa2048\` in the same round (median $rsa
signs/s, one process).
**h/a = $ratio_billing**; **i/a = $ratio_webhook** (one run).
Effective groups at depth 50 of 10 000 groups (500 calls, inside
PostgreSQL): median $eg_p50 ms, p99 $eg_p99 ms (target < 2 ms).

\`make restart-handler H=plans\` under wrk -c64: $swap_failed failed of
${swap_total:-?} requests.
EOS
)
printf '%s\n' "$table"

bench_record bench "$table"
