#!/bin/bash
# shared/k8s against a real kube-apiserver (t/k8s/testbed.sh), through the
# test tool k8sc: apply, conflicts, create-only, delete, typed errors,
# credentials refused, RBAC, a restart in the middle of a sequence,
# pagination, the status subresource, Secrets and in-cluster credentials.
# A second, "virtual" API server runs beside the host one.
TAP_NO_STACK=1
. "$(dirname "$0")/../lib/tap.sh"

[ "${HXB_SKIP_K8S:-}" = 1 ] &&
    skip_all "HXB_SKIP_K8S=1: the Kubernetes tests were skipped on request"

ROOT=${HXB_TEST_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${HXB_TEST_BUILD:-$ROOT/build/asan}
TB=$(mktemp -d /tmp/hxb-k8s.XXXXXX)
cleanup() {
	"$ROOT/t/k8s/testbed.sh" stop "$TB/virtual" >/dev/null 2>&1
	"$ROOT/t/k8s/testbed.sh" stop "$TB/host" >/dev/null 2>&1
	rm -rf "$TB"
}
trap cleanup EXIT

if ! "$ROOT/t/k8s/testbed.sh" start "$TB/host" host >"$TB/start.log" 2>&1; then
	sed 's/^/# /' "$TB/start.log"
	echo "Bail out! the Kubernetes test bed did not start (HXB_SKIP_K8S=1 skips these tests)"
	exit 1
fi
. "$TB/host/env"
H=$TB/host
diag "kube-apiserver $K8S_VERSION with etcd $K8S_ETCD_VERSION on $K8S_SERVER, started in ${K8S_START_SECONDS}s"

K8SC=$BUILD/t/tools/k8sc
k() { "$K8SC" -k "$H/admin.kubeconfig" "$@"; }
field() { jq -r "$1" 2>/dev/null; }

got=$(k version)
is "$got" "$K8S_VERSION" "the API server reports the pinned version"
printf '# kube-apiserver version: %s\n' "$got"

# Every builder's object is accepted as it is.
out=$(k builders hxb-t1)
is "$(printf '%s\n' "$out" | grep -c '^ok ')" 9 "all nine builders' objects apply"
unlike "$out" "error" "no builder's object is refused"
like "$out" "ok NetworkPolicy hexabase-isolation" "the NetworkPolicy applies"

# Apply is idempotent.
cm='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"same","namespace":"hxb-t1"},"data":{"x":"1"}}'
rv1=$(printf '%s' "$cm" | k apply - | field .metadata.resourceVersion)
rv2=$(printf '%s' "$cm" | k apply - | field .metadata.resourceVersion)
like "$rv1" '^[0-9]+$' "the first apply gives a resourceVersion"
is "$rv2" "$rv1" "applying the same object again changes nothing"
mgr=$(k get /api/v1/namespaces/hxb-t1/configmaps/same | field '.metadata.managedFields[0].manager')
is "$mgr" hexabase "the field manager is hexabase"

# A field owned by another manager: refused without force.
cm2='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"same","namespace":"hxb-t1"},"data":{"x":"2"}}'
out=$(printf '%s' "$cm2" | k -m other -F apply -)
is "$?" 1 "apply without force over another manager's field fails"
like "$out" "^error: Conflict code=409 attempts=1" "... as Conflict, not retried"
like "$out" "cause: FieldManagerConflict .data.x" "... with the field in the causes"
out=$(printf '%s' "$cm2" | k -m other apply - | field .data.x)
is "$out" 2 "with force, the other manager takes the field"

# Create-only.
out=$(printf '%s' "$cm" | k create -)
like "$out" "^error: AlreadyExists code=409 attempts=1" "create-only on an existing object: AlreadyExists"
new='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fresh","namespace":"hxb-t1"},"data":{"y":"1"}}'
out=$(printf '%s' "$new" | k create - | field .metadata.name)
is "$out" fresh "create-only of a new object creates it"

# Delete.
out=$(k delete /api/v1/namespaces/hxb-t1/configmaps/never-was)
is "$?:$out" "0:deleted" "deleting a missing object succeeds"
k delete /api/v1/namespaces/hxb-t1/configmaps/fresh >/dev/null
out=$(k get /api/v1/namespaces/hxb-t1/configmaps/fresh)
like "$out" "^error: NotFound code=404" "a deleted object is gone"

# Invalid: the field causes come through.
bad='{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"bad","namespace":"hxb-t1"},"spec":{"hard":{"cpu":"-1"}}}'
out=$(printf '%s' "$bad" | k apply -)
like "$out" "^error: Invalid code=422 attempts=1" "an invalid object: Invalid"
like "$out" "cause: FieldValueInvalid spec.hard\[cpu\]" "... naming the field"

# A bad token: Unauthorized, not retried.
cat >"$TB/badtoken.kubeconfig" <<EOF
clusters:
- name: c
  cluster:
    server: $K8S_SERVER
    certificate-authority: $H/ca.crt
contexts:
- name: x
  context:
    cluster: c
    user: u
current-context: x
users:
- name: u
  user:
    token: "not-a-token"
EOF
out=$("$K8SC" -k "$TB/badtoken.kubeconfig" get /api/v1/namespaces)
like "$out" "^error: Unauthorized code=401 attempts=1" "a bad token: Unauthorized"

# Another CA: the connection is refused at once.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$TB/other-ca.key" -out "$TB/other-ca.crt" -days 1 \
    -subj /CN=other-ca 2>/dev/null
sed "s#$H/ca.crt#$TB/other-ca.crt#" "$TB/badtoken.kubeconfig" >"$TB/wrongca.kubeconfig"
out=$("$K8SC" -k "$TB/wrongca.kubeconfig" get /api/v1/namespaces)
like "$out" "^error: TLS code=0 attempts=1" "a wrong CA: TLS refused, not retried"

# RBAC: a user bound to view can read but not create.  The test bed runs
# no controller-manager, which fills the aggregated "view" from
# "system:aggregate-to-view": the binding names the latter.
crb='{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"hxb-viewers"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"system:aggregate-to-view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"hxb-viewers"}]}'
printf '%s' "$crb" | k apply - >/dev/null
v() { "$K8SC" -k "$H/viewer.kubeconfig" "$@"; }
# The authorizer sees a new binding through its informer, a moment later.
for i in $(seq 50); do
	out=$(v get /api/v1/namespaces/hxb-t1/configmaps/same | field .data.x)
	[ "$out" = 2 ] && break
	sleep 0.2
done
is "$out" 2 "the viewer (certificate files in its kubeconfig) can read"
out=$(printf '%s' "$new" | v create -)
like "$out" "^error: Forbidden code=403 attempts=1" "the viewer cannot create: Forbidden"
like "$out" 'User "hxb-viewer"' "... as the viewer"

# The status subresource of a HelmChart (the CRD of the host).
out=$(k helmchart hxb-t1 vc-1)
is "$(printf '%s' "$out" | field .spec.chart)" vcluster "a HelmChart applies on the host"
is "$(printf '%s' "$out" | field .spec.backOffLimit)" 3 "... with its backOffLimit"
st='{"apiVersion":"helm.cattle.io/v1","kind":"HelmChart","metadata":{"name":"vc-1","namespace":"hxb-t1"},"status":{"jobName":"helm-install-vc-1","conditions":[{"type":"JobCreated","status":"True"}]}}'
out=$(printf '%s' "$st" | k apply-status - | field .status.jobName)
is "$out" helm-install-vc-1 "the status subresource is patched"
k helmchart hxb-t1 vc-1 >/dev/null
out=$(printf '%s' "$st" | k status - | field '.status.jobName + " " + .spec.chart')
is "$out" "helm-install-vc-1 vcluster" "the status survives an apply of the object, and reads back"

# A Secret is read and decoded.
sec=$(jq -nc --arg v "$(base64 -w0 <"$H/viewer.kubeconfig")" \
    '{apiVersion:"v1",kind:"Secret",metadata:{name:"vc-kubeconfig",namespace:"hxb-t1"},data:{config:$v}}')
printf '%s' "$sec" | k create - >/dev/null
out=$(k secret /api/v1/namespaces/hxb-t1/secrets/vc-kubeconfig config)
is "$out" "$(cat "$H/viewer.kubeconfig")" "a Secret's value is decoded"

# Pagination over more than one page.
k apply - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"hxb-pages"}}
EOF
for i in 1 2 3 4 5 6 7; do
	printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p-%d","namespace":"hxb-pages"}}' "$i" |
	    k apply - >/dev/null
done
out=$(k list-all /api/v1/namespaces/hxb-pages/configmaps 3)
like "$out" "items 7 pages 3" "seven items come in three pages of at most three"
like "$out" "page 1: p-1 p-2 p-3" "... in order"

# In-cluster credentials: a service account's token, CA and namespace.
printf '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"hxb-sa","namespace":"hxb-t1"}}' |
    k create - >/dev/null
mkdir -p "$TB/sa"
curl -sS --cacert "$H/ca.crt" --cert "$H/admin.crt" --key "$H/admin.key" \
    -X POST -H 'Content-Type: application/json' \
    -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}' \
    "$K8S_SERVER/api/v1/namespaces/hxb-t1/serviceaccounts/hxb-sa/token" |
    jq -r .status.token >"$TB/sa/token"
cp "$H/ca.crt" "$TB/sa/ca.crt"
echo hxb-t1 >"$TB/sa/namespace"
out=$(KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$K8S_PORT \
    "$K8SC" -s "$TB/sa" get /api/v1/namespaces/hxb-t1/configmaps)
like "$out" 'error: Forbidden code=403.*system:serviceaccount:hxb-t1:hxb-sa' \
    "in-cluster credentials authenticate as the service account"

# The API server restarts in the middle of a sequence: the retries carry it.
"$K8SC" -k "$H/admin.kubeconfig" -d 90000 sequence hxb-t1 seq 12 \
    >"$TB/seq.out" 2>"$TB/seq.err" &
seq_pid=$!
for i in $(seq 100); do
	grep -q '^ok 3 ' "$TB/seq.out" 2>/dev/null && break
	sleep 0.1
done
"$ROOT/t/k8s/testbed.sh" restart-apiserver "$H" >"$TB/restart.log" 2>&1
is "$?" 0 "the API server restarts"
wait "$seq_pid"
is "$?" 0 "the sequence completes"
is "$(grep -c '^ok ' "$TB/seq.out")" 12 "all twelve applies succeed"
retried=$(awk -F'attempts=' '/^ok / && $2 > 1' "$TB/seq.out" | wc -l)
ok "$([ "$retried" -ge 1 ]; echo $?)" "at least one was retried across the restart ($retried)"
like "$(cat "$TB/seq.err")" "retry 1 in [0-9]+ ms" "the retries are logged"
unlike "$(cat "$TB/seq.err")" "BEGIN|PRIVATE|Bearer" "no credential is logged"

# A second API server: a vCluster's, with the caller's OIDC flags.
if "$ROOT/t/k8s/testbed.sh" start "$TB/virtual" virtual \
    --oidc-issuer-url=https://127.0.0.1:1/oidc --oidc-client-id=hexabase \
    --oidc-username-claim=sub --oidc-groups-claim=groups \
    "--oidc-ca-file=$H/ca.crt" --enable-priority-and-fairness=false \
    --max-requests-inflight=1 --max-mutating-requests-inflight=1 \
    >"$TB/virtual.log" 2>&1; then
	ok 0 "a virtual API server starts beside the host one"
else
	ok 1 "a virtual API server starts beside the host one"
	sed 's/^/# /' "$TB/virtual.log"
fi
out=$("$K8SC" -k "$TB/virtual/admin.kubeconfig" get /api/v1/namespaces/hxb-t1)
like "$out" "^error: NotFound" "the virtual server has its own store"
like "$(cat "$TB/virtual/apiserver.args")" "--oidc-issuer-url=https://127.0.0.1:1/oidc" \
    "the OIDC flags reach it"
out=$("$K8SC" -k "$TB/virtual/admin.kubeconfig" get /apis/helm.cattle.io/v1)
like "$out" "^error: NotFound" "the virtual server has no HelmChart CRD"

# 429 and Retry-After: the virtual server admits one request at a time
# (system:masters is exempt, so the viewer is used), and curl keeps it
# busy while the client lists page by page.
V=$TB/virtual
printf '%s' "$crb" | "$K8SC" -k "$V/admin.kubeconfig" apply - >/dev/null
want=$("$K8SC" -k "$V/admin.kubeconfig" list-all /api/v1/namespaces 1 | tail -n 1)
for i in $(seq 50); do
	"$K8SC" -k "$V/viewer.kubeconfig" get /api/v1/namespaces >/dev/null && break
	sleep 0.2
done
vurl=$(. "$V/env"; echo "$K8S_SERVER")/api/v1/namespaces
load=()
for i in $(seq 100); do
	[ "$i" -gt 1 ] && load+=(--next)
	load+=(-s -o /dev/null --cacert "$V/ca.crt" --cert "$V/viewer.crt"
	    --key "$V/viewer.key" "$vurl")
done
( while [ ! -f "$TB/stop-load" ]; do
	curl -Z --parallel-max 16 "${load[@]}" 2>/dev/null
done ) &
load_pid=$!
fails=0 rounds=0
: >"$TB/429.err"
for r in $(seq 10); do
	rounds=$r
	out=$("$K8SC" -k "$V/viewer.kubeconfig" -d 60000 list-all /api/v1/namespaces 1 2>>"$TB/429.err" | tail -n 1)
	[ "$out" = "$want" ] || fails=$((fails + 1))
	grep -q 'HTTP 429' "$TB/429.err" && break
done
touch "$TB/stop-load"
wait "$load_pid"
is "$fails" 0 "every paged list under overload completes ($rounds rounds, $want)"
like "$(cat "$TB/429.err")" 'TooManyRequests \(HTTP 429\).*retry [0-9]+ in [0-9]{4,} ms' \
    "429 is retried after the server's Retry-After (1 s), not sooner"

done_testing
