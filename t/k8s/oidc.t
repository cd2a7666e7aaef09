#!/bin/bash
# The chain made real: a kube-apiserver of the test bed trusts our issuer
# (--oidc-issuer-url at the stack's HTTPS address, --oidc-client-id the
# workspace id), and Kubernetes RBAC authorizes by the groups we flatten
# into workspace tokens.  A second API server, for another workspace,
# refuses the first one's tokens; keys rotate under load without a 401;
# a token of a deleted key is refused.
. "$(dirname "$0")/../lib/tap.sh"
[ "${HXB_SKIP_K8S:-}" = 1 ] &&
    skip_all "HXB_SKIP_K8S=1: the Kubernetes tests were skipped on request"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

ROOT=$HXB_TEST_ROOT
K8SC=$HXB_TEST_BUILD/t/tools/k8sc
TB=$(mktemp -d /tmp/hxb-k8s-oidc.XXXXXX)
cleanup() {
	"$ROOT/t/k8s/testbed.sh" stop "$TB/ws2" >/dev/null 2>&1
	"$ROOT/t/k8s/testbed.sh" stop "$TB/ws" >/dev/null 2>&1
	rm -rf "$TB"
}
trap cleanup EXIT

# vcluster DIR WORKSPACE: a "virtual" API server whose OIDC client id is
# the workspace, trusting our issuer through the stack's CA; its address
# goes in SERVER[DIR].
declare -A SERVER
vcluster() {
	"$ROOT/t/k8s/testbed.sh" start "$1" virtual \
	    "--oidc-issuer-url=$HXB_TEST_ISSUER" "--oidc-client-id=$2" \
	    --oidc-username-claim=sub --oidc-username-prefix=hxb: \
	    --oidc-groups-claim=groups --oidc-signing-algs=RS256 \
	    "--oidc-ca-file=$CA" >"$1.log" 2>&1 || return 1
	SERVER[$1]=$(. "$1/env"; echo "$K8S_SERVER")
}
token() {	# token PLATFORM_TOKEN WS: a workspace token, or ""
	curl -s -X POST -H "$(bearer "$1")" "$HXB_TEST_URL/api/v1/workspaces/$2/token" |
	    jq -r '.token // empty'
}
# kget DIR TOKEN PATH: the status of a GET on that API server
kget() {
	curl -s -o /dev/null -w '%{http_code}' --cacert "$1/ca.crt" \
	    -H "Authorization: Bearer $2" "${SERVER[$1]}$3"
}
# kubeconfig_for DIR TOKEN FILE: a kubeconfig with a bearer token
kubeconfig_for() {
	cat >"$3" <<EOF
clusters:
- name: vc
  cluster:
    server: ${SERVER[$1]}
    certificate-authority: $1/ca.crt
contexts:
- name: vc
  context:
    cluster: vc
    user: u
current-context: vc
users:
- name: u
  user:
    token: $2
EOF
}

TAG=k$$r$RANDOM
tenancy_setup "$TAG"
if ! vcluster "$TB/ws" "$WS"; then
	sed 's/^/# /' "$TB/ws.log"
	echo "Bail out! the test bed did not start (HXB_SKIP_K8S=1 skips these tests)"
	exit 1
fi
V=$TB/ws
admin() { "$K8SC" -k "$V/admin.kubeconfig" "$@"; }

# The groups' bindings, as the RBAC sync will write them: WSAdmins may do
# anything, WSUsers may read.  (No controller-manager fills the aggregated
# "view" here, so the binding names its part.)
for b in "WSAdmins cluster-admin" "WSUsers system:aggregate-to-view"; do
	set -- $b
	printf '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"hxb-%s"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"%s"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"%s"}]}' \
	    "$(printf '%s' "$1" | tr A-Z a-z)" "$2" "$1" | admin apply - >/dev/null
done

WSA_T=$(token "$WSA" "$WS")
VWR_T=$(token "$VWR" "$WS")
# The API server reads our discovery document and keys once it is up;
# until then it refuses every token.  RBAC sees new bindings a moment later.
for i in $(seq 100); do
	[ "$(kget "$V" "$WSA_T" /api/v1/namespaces)" = 200 ] &&
	    [ "$(kget "$V" "$VWR_T" /api/v1/namespaces)" = 200 ] && break
	sleep 0.3
done
is "$(kget "$V" "$WSA_T" /api/v1/namespaces)" 200 "the API server accepts our workspace token"

kubeconfig_for "$V" "$WSA_T" "$TB/wsa.kubeconfig"
kubeconfig_for "$V" "$VWR_T" "$TB/vwr.kubeconfig"
out=$("$K8SC" -k "$TB/wsa.kubeconfig" apply - <<'EOF' | jq -r .metadata.name
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"made-by-wsadmins"}}
EOF
)
is "$out" made-by-wsadmins "a WSAdmins member creates a namespace"
out=$("$K8SC" -k "$TB/vwr.kubeconfig" list-all /api/v1/namespaces 100)
like "$out" "made-by-wsadmins" "a WSUsers member lists namespaces"
out=$("$K8SC" -k "$TB/vwr.kubeconfig" apply - <<'EOF'
{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"made-by-wsusers"}}
EOF
)
like "$out" '^error: Forbidden code=403.*User "hxb:'"$VWR_ID"'"' \
    "... but cannot create one: Forbidden, as its subject"
# The same with kubectl, the real client, built with the test bed.
KUBECTL=$(. "$V/env"; echo "$K8S_BIN")/kubectl
kc() { "$KUBECTL" --cache-dir "$TB/kcache" --kubeconfig "$@"; }
diag "kubectl $("$KUBECTL" version --client -o json | jq -r .clientVersion.gitVersion)"
out=$(kc "$TB/wsa.kubeconfig" create namespace made-by-kubectl 2>&1)
is "$out" "namespace/made-by-kubectl created" "kubectl, as a WSAdmins member, creates a namespace"
out=$(kc "$TB/vwr.kubeconfig" get namespaces -o name 2>&1)
like "$out" "namespace/made-by-kubectl" "kubectl, as a WSUsers member, lists namespaces"
out=$(kc "$TB/vwr.kubeconfig" create namespace nope 2>&1)
like "$out" 'Error from server \(Forbidden\)' "... and is forbidden to create one"

# --- the kubeconfig we hand out, with the hxb-credential exec plugin --------
# A person's way in: sign in with the plugin (the browser flow, curl as
# the browser), fetch the kubeconfig, run kubectl.  The workspace is marked
# running at this API server, as the provisioning job will leave it.
api "$VWR" GET "/api/v1/organizations/$ORG/workspaces/$WS/kubeconfig"
is "$STATUS" 409 "the kubeconfig of a workspace not yet running: 409"
sql "UPDATE workspaces SET status = 'running', api_endpoint = '${SERVER[$V]}', api_ca_pem = \$pem\$$(cat "$V/ca.crt")
\$pem\$ WHERE id = '$WS'" >/dev/null
api "$VWR" GET "/api/v1/organizations/$ORG/workspaces/$WS/kubeconfig"
is "$STATUS $CTYPE" "200 application/yaml" "once running: 200, YAML"
printf '%s\n' "$BODY" >"$TB/hxb.kubeconfig"
unlike "$BODY" 'client-key|client-certificate|token:|password' "it holds no credential of the vCluster's"
is "$(printf '%s\n' "$BODY" | sed -n 's/^    server: //p')" "\"${SERVER[$V]}\"" "... its endpoint"
is "$(printf '%s\n' "$BODY" | sed -n 's/^    certificate-authority-data: "\(.*\)"$/\1/p' | base64 -d)" \
    "$(cat "$V/ca.crt")" "... its CA"
export PATH=$HXB_TEST_BUILD/jobs:$PATH
hk() { HXB_CONFIG_DIR=$1 "$KUBECTL" --cache-dir "$TB/kcache" --kubeconfig "$TB/hxb.kubeconfig" "${@:2}"; }
out=$(hk "$TB/nobody" get namespaces 2>&1)
like "$out" "not signed in to $HXB_TEST_URL: run hxb-credential login" "kubectl before signing in: the plugin says what to do"
cli_login "wa$TAG" "$TB/cfg-wsa"
is "$?" 0 "hxb-credential login: the browser flow with PKCE on a loopback redirect"
like "$(cat "$TB/cfg-wsa.log")" "Signed in to $HXB_TEST_URL as wa$TAG@example\\.test" "... says who signed in"
is "$(stat -c %a "$TB/cfg-wsa/credentials.json")" 600 "... and keeps the refresh token in a file of mode 0600"
out=$(hk "$TB/cfg-wsa" create namespace made-with-our-kubeconfig 2>&1)
is "$out" "namespace/made-with-our-kubeconfig created" "kubectl with our kubeconfig and plugin, as a WSAdmins member: creates a namespace"
t1=$(jq -r --arg s "$HXB_TEST_URL" --arg w "$WS" '.servers[$s].tokens[$w].token' "$TB/cfg-wsa/credentials.json")
hk "$TB/cfg-wsa" get namespace made-with-our-kubeconfig >/dev/null 2>&1
t2=$(jq -r --arg s "$HXB_TEST_URL" --arg w "$WS" '.servers[$s].tokens[$w].token' "$TB/cfg-wsa/credentials.json")
ok $([ -n "$t1" ] && [ "$t1" = "$t2" ]; echo $?) "the plugin caches the workspace token between runs"
is "$(jwt_part "$t1" 1 | jq -c '[.aud, .groups]')" "[\"$WS\",[\"WSAdmins\",\"WorkspaceMembers\"]]" "... a token for this workspace, with the groups"
cli_login "vw$TAG" "$TB/cfg-vwr"
out=$(hk "$TB/cfg-vwr" get namespaces -o name 2>&1)
like "$out" "namespace/made-with-our-kubeconfig" "as a WSUsers member: lists namespaces"
out=$(hk "$TB/cfg-vwr" create namespace nope 2>&1)
like "$out" 'Error from server \(Forbidden\)' "... and cannot create one"
chmod 644 "$TB/cfg-vwr/credentials.json"
out=$(hk "$TB/cfg-vwr" get namespaces 2>&1)
like "$out" "credentials.json is readable by others \\(mode 0644\\)" "a credentials file readable by others is refused"
chmod 600 "$TB/cfg-vwr/credentials.json"
cli_login "me$TAG" "$TB/cfg-mem"
out=$(hk "$TB/cfg-mem" get namespaces 2>&1)
like "$out" "no token for workspace $WS" "a member with no group: the plugin gets no token"

is "$(token "$MEM" "$WS")" "" "an organization member with no group gets no token"
is "$(kget "$V" "not.a.token" /api/v1/namespaces)" 401 "a forged token: 401"

# A token for another workspace is refused here.
STR_T2=$(token "$STR" "$WS2")
like "$STR_T2" '^ey' "the stranger gets a token for their own workspace"
is "$(kget "$V" "$STR_T2" /api/v1/namespaces)" 401 "workspace B's token is refused by workspace A's API server"

# Rotation under load: fresh tokens, one request after another, while a
# successor is published, becomes due and is activated.  Zero 401s.
before=$(sql "SELECT kid FROM signing_keys WHERE state = 'active'")
rm -f "$TB/stop"
( n=0 bad=0
  while [ ! -f "$TB/stop" ]; do
	t=$(token "$WSA" "$WS")
	c=$(kget "$V" "$t" /api/v1/namespaces)
	n=$((n + 1))
	if [ "$c" != 200 ]; then
		bad=$((bad + 1))
		echo "$(date +%T.%N) $c $(jwt_kid "$t")" >>"$TB/load.bad"
	fi
  done
  echo "$n $bad" >"$TB/load.out" ) &
load=$!
rotate_keys --force >/dev/null
next=$(sql "SELECT kid FROM signing_keys WHERE state = 'next'")
for i in $(seq 50); do
	[ "$(sql "SELECT activate_after <= now() FROM signing_keys WHERE kid = '$next'")" = t ] && break
	sleep 0.2
done
out=$(rotate_keys)
like "$out" "activated $next, retired $before" "the keys rotate while requests run"
sleep 3		# tokens of the new key meet the API server
touch "$TB/stop"
wait "$load"
read -r n bad <"$TB/load.out"
is "$bad" 0 "zero refusals across the rotation ($n requests with fresh tokens)"
if [ "$bad" != 0 ]; then
	diag "old $before, new $next"
	sed -n '1p;$p' "$TB/load.bad" | sed 's/^/# /'
	sql "SELECT kid, state, created_at, activate_after, activated_at, retired_at FROM signing_keys" | sed 's/^/# /'
	grep -i "authenticat" "$V/apiserver.log" | tail -n 3 | cut -c1-400 | sed 's/^/# /'
fi
t=$(token "$WSA" "$WS")
is "$(jwt_kid "$t")" \
    "$next" "tokens are now signed by the new key"

# The old key is deleted; an API server that fetches our keys now refuses
# a token it signed, though the token has not expired.
sql "UPDATE signing_keys SET retired_at = now() - interval '1 hour' WHERE kid = '$before'" >/dev/null
out=$(rotate_keys)
is "$out" "rotate-keys: deleted $before" "the retired key is deleted"
if ! vcluster "$TB/ws2" "$WS2"; then
	sed 's/^/# /' "$TB/ws2.log"
fi
STR_NEW=$(token "$STR" "$WS2")
for i in $(seq 100); do
	[ "$(kget "$TB/ws2" "$STR_NEW" /api/v1/namespaces)" = 403 ] && break
	sleep 0.3
done
is "$(kget "$TB/ws2" "$STR_NEW" /api/v1/namespaces)" 403 \
    "workspace B's API server authenticates a fresh token (403: no binding there)"
is "$(kget "$TB/ws2" "$STR_T2" /api/v1/namespaces)" 401 \
    "a live token signed with a retired and deleted key is refused"

done_testing
