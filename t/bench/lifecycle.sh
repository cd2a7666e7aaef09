#!/bin/bash
# make bench, the lifecycle part: BENCH_WORKSPACES (200) workspace
# creations submitted at once (BENCH_CONC, 32, in flight) through nginx,
# then provisioned by BENCH_PROVISIONERS (4) jobs/provisioner processes
# on the Kubernetes test bed (a real kube-apiserver for the host, one for
# the vClusters, t/k8s/fake-k3s.sh playing helm-controller and the pods).
# Measures the API's accept rate, the time until all are running, and the
# workers' CPU per workspace (user + system, from /proc), and records them
# in docs/BENCHMARKS.md between <!-- lifecycle:start --> and :end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
N=${BENCH_WORKSPACES:-200}
CONC=${BENCH_CONC:-32}
NPROV=${BENCH_PROVISIONERS:-4}
export WORKERS=${WORKERS:-4} BUILD=build

. "$ROOT/t/lib/ports.sh"
. "$ROOT/t/bench/record.sh"
export PORT=$(free_port) PG_PORT=$(free_port) REDIS_PORT=$(free_port)
export NATS_PORT=$(free_port) IDP_PORT=$(free_port) TLS_PORT=$(free_port)
export STRIPE_PORT=$(free_port)
TMP=$(mktemp -d /tmp/hxb-bench-lc.XXXXXX)
STACK=$TMP/stack
printf 'HXB_AUTH_SESSION_RATE_LIMIT=100000000\n' >"$TMP/extra.env"
export STACK_ENV_FILE=$TMP/extra.env
PROVS=()
FAKE=
cleanup() {
	for p in "${PROVS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -z "$FAKE" ] || kill "$FAKE" 2>/dev/null || true
	wait 2>/dev/null || true
	t/k8s/testbed.sh stop "$TMP/host" >/dev/null 2>&1 || true
	t/k8s/testbed.sh stop "$TMP/virt" >/dev/null 2>&1 || true
	t/stack.sh stop "$STACK" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
t/stack.sh start "$STACK" >"$TMP/start.log" 2>&1 || { cat "$TMP/start.log" >&2; exit 1; }
t/k8s/testbed.sh start "$TMP/host" host >"$TMP/host.log" 2>&1 || { cat "$TMP/host.log" >&2; exit 1; }
t/k8s/testbed.sh start "$TMP/virt" virtual >"$TMP/virt.log" 2>&1 || { cat "$TMP/virt.log" >&2; exit 1; }
t/k8s/fake-k3s.sh "$TMP/host" "$TMP/virt" >"$TMP/fake.log" 2>&1 &
FAKE=$!
. "$STACK/stack.env"
URL=http://127.0.0.1:$PORT

# A user, through the development IdP, and an organization.
. t/lib/idp.sh
url=$(curl -s -X POST "$URL/auth/login/dev" | jq -r .auth_url)
cb=$(idp_sign_in "$url" bench "$TMP/jar" "$STACK/tls/ca.crt")
tok=$(curl -s -H 'Accept: application/json' "$cb" | jq -r .access_token)
org=$(curl -s -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d '{"name":"bench-lc"}' "$URL/api/v1/organizations" | jq -r .id)
[ -n "$org" ] && [ "$org" != null ] || { echo "bench: no organization" >&2; exit 1; }

mapfile -t jenv < <(cat <<EOF
HXB_DATABASE_URL=host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner
HXB_DATABASE_PASSWORD_FILE=$STACK/secrets/pg_owner
HXB_NATS_URL=nats://127.0.0.1:$NATS_PORT
HXB_NATS_TOKEN_FILE=$STACK/secrets/nats
HXB_ISSUER=https://127.0.0.1:$TLS_PORT
HXB_ISSUER_CA_FILE=$STACK/tls/ca.crt
HXB_HOST_KUBECONFIG=$TMP/host/admin.kubeconfig
HXB_LOG_LEVEL=warn
EOF
)
for ((i = 0; i < NPROV; i++)); do
	env "${jenv[@]}" build/jobs/provisioner 2>>"$TMP/provisioner.log" &
	PROVS+=($!)
done
cpu() {	# the provisioners' user + system time, in clock ticks
	local p t=0
	for p in "${PROVS[@]}"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
psql_n() {
	PGPASSWORD=$(cat "$STACK/secrets/pg_super") psql -X -q -A -t -h "$RUN/pg" \
	    -p "$PG_PORT" -U postgres -d hexabase -c "$1"
}
sleep 1
cpu0=$(cpu)
t0=$(date +%s.%N)
seq "$N" | xargs -P "$CONC" -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    -d '{"name":"w{}","plan_id":"free"}' "$URL/api/v1/organizations/$org/workspaces" >"$TMP/codes"
t1=$(date +%s.%N)
accepted=$(grep -c '^202$' "$TMP/codes" || true)
deadline=$(( $(date +%s) + ${BENCH_LC_TIMEOUT:-1200} ))
while :; do
	running=$(psql_n "SELECT count(*) FROM workspaces WHERE organization_id = '$org' AND status = 'running'")
	[ "$running" -ge "$accepted" ] && break
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "bench: only $running of $accepted running in time" >&2
		break
	fi
	sleep 0.5
done
t2=$(date +%s.%N)
cpu1=$(cpu)
failed=$(psql_n "SELECT count(*) FROM workspaces WHERE organization_id = '$org' AND status = 'failed'")
attempts=$(psql_n "SELECT round(avg(attempts), 2) FROM tasks t JOIN workspaces w ON w.id = t.workspace_id WHERE w.organization_id = '$org' AND t.type = 'create_workspace'")
hz=$(getconf CLK_TCK)
read -r accept_s accept_rate all_s cpu_ms <<<"$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$accepted" \
    -v c0="$cpu0" -v c1="$cpu1" -v hz="$hz" 'BEGIN {
	printf "%.2f %.0f %.1f %.1f", b - a, n / (b - a), c - a, (c1 - c0) * 1000 / hz / (n > 0 ? n : 1) }')"

table=$(cat <<EOS
Recorded by \`make bench\` (t/bench/lifecycle.sh) on $(date -u +%Y-%m-%dT%H:%MZ),
$(nproc) cores: $N workspace creations submitted at once ($CONC in
flight) to $WORKERS workers of the workspaces handler, provisioned by
$NPROV provisioner processes on the test bed.

| measure | value |
|---|---:|
| accepted (202) | $accepted of $N |
| time to accept them all | $accept_s s |
| API accept rate | $accept_rate workspaces/s |
| time until all are \`running\` (from the first request) | $all_s s |
| worker CPU per workspace (user + system) | $cpu_ms ms |
| failed | $failed |
| attempts per onboarding task (mean) | $attempts |
EOS
)
printf '%s\n' "$table"
bench_record lifecycle "$table"
