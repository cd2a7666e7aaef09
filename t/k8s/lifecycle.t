#!/bin/bash
# The workspace lifecycle end to end: the API's requests go through NATS
# JetStream to jobs/provisioner, which provisions on the host test bed (a
# real kube-apiserver with the HelmChart CRD) and writes inside the
# "virtual" one (the vCluster's API server, trusting our issuer); its
# answers alone move the workspace's state.  t/k8s/fake-k3s.sh plays
# K3s's helm-controller and the pods.  Everything the job writes is read
# back from the real API servers.
. "$(dirname "$0")/../lib/tap.sh"
[ "${HXB_SKIP_K8S:-}" = 1 ] &&
    skip_all "HXB_SKIP_K8S=1: the Kubernetes tests were skipped on request"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

ROOT=$HXB_TEST_ROOT
TB=$(mktemp -d /tmp/hxb-k8s-lc.XXXXXX)
PROVS=()
FAKE=
cleanup() {
	stop_provisioners
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
	"$ROOT/t/k8s/testbed.sh" stop "$TB/virt" >/dev/null 2>&1
	"$ROOT/t/k8s/testbed.sh" stop "$TB/host" >/dev/null 2>&1
	[ -n "${HXB_KEEP:-}" ] && echo "# kept $TB" || rm -rf "$TB"
}
trap cleanup EXIT

# The jobs run as the owner, with the stack's settings and the test bed.
job_env() {
	cat <<EOF
HXB_DATABASE_URL=host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner
HXB_DATABASE_PASSWORD_FILE=$S/secrets/pg_owner
HXB_NATS_URL=nats://127.0.0.1:$NATS_PORT
HXB_NATS_TOKEN_FILE=$S/secrets/nats
HXB_ISSUER=$HXB_TEST_ISSUER
HXB_ISSUER_CA_FILE=$CA
HXB_HOST_KUBECONFIG=$TB/host/admin.kubeconfig
HXB_WORKER_ACK_WAIT_MS=${ACK_WAIT_MS:-4000}
HXB_WORKER_BACKOFF_MS=200
HXB_WORKER_BACKOFF_MAX_MS=2000
HXB_WORKER_POLL_MS=300
EOF
}
provisioner() {	# provisioner [ARGS]: one worker in the background
	local e
	mapfile -t e < <(job_env)
	env "${e[@]}" "$HXB_TEST_BUILD/jobs/provisioner" "$@" \
	    2>>"$TB/provisioner.log" &
	PROVS+=($!)
}
stop_provisioners() {
	local p
	for p in "${PROVS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PROVS[@]}"; do wait "$p" 2>/dev/null; done
	PROVS=()
}
# host/virt PATH: a GET as the test bed's admin, the body
host() { "$HXB_TEST_BUILD/t/tools/k8sc" -k "$TB/host/admin.kubeconfig" "$@"; }
virt() { "$HXB_TEST_BUILD/t/tools/k8sc" -k "$TB/virt/admin.kubeconfig" "$@"; }
ws_status() { sql "SELECT status FROM workspaces WHERE id = '$1'"; }
# wait_status WS STATUS [SECONDS]
wait_status() {
	local i n=$(( ${3:-60} * 5 ))
	for ((i = 0; i < n; i++)); do
		[ "$(ws_status "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	return 1
}
task_of() {	# task_of WS TYPE: its newest task
	sql "SELECT id FROM tasks WHERE workspace_id = '$1' AND type = '$2' ORDER BY created_at DESC LIMIT 1"
}
wait_task() {	# wait_task TASK [SECONDS]: until it has finished
	local i n=$(( ${2:-60} * 5 ))
	for ((i = 0; i < n; i++)); do
		[ -n "$(sql "SELECT 1 FROM tasks WHERE id = '$1' AND finished_at IS NOT NULL")" ] && return 0
		sleep 0.2
	done
	return 1
}

# Work left by the other tests' workspaces is not this test's.
sql "UPDATE tasks SET status = 'cancelled', finished_at = now() WHERE status IN ('pending', 'running')" >/dev/null

TAG=l$$r$RANDOM
tenancy_setup "$TAG"
api "$ADM" POST "$WSP/projects" '{"name":"web-'"$TAG"'","quota":{"cpu_millicores":1000,"memory_mib":2048,"pods":10}}'
WEB=$(jqb .id); WEBNS=web-$TAG
api "$ADM" POST "$WSP/projects" "{\"name\":\"api-$TAG\",\"parent_id\":\"$WEB\"}"
APIP=$(jqb .id); APINS=api-$TAG
api "$ADM" POST "/api/v1/projects/$WEB/roles" '{"name":"deployer","rules":[{"api_groups":["apps"],"resources":["deployments"],"verbs":["get","list","create"]}]}'
ROLE=$(jqb .id)
api "$ADM" POST "$WSP/groups" '{"name":"devs"}'; DEVS=$(jqb .id)
api "$ADM" POST "/api/v1/projects/$WEB/roleassignments" "{\"group_id\":\"$DEVS\",\"role\":\"$ROLE\"}"
RA1=$(jqb .id)
is "$(ws_status "$WS")" pending "a workspace the API accepted is pending"

if ! "$ROOT/t/k8s/testbed.sh" start "$TB/host" host >"$TB/host.log" 2>&1 ||
    ! "$ROOT/t/k8s/testbed.sh" start "$TB/virt" virtual \
    "--oidc-issuer-url=$HXB_TEST_ISSUER" "--oidc-client-id=$WS" \
    --oidc-username-claim=sub --oidc-username-prefix=hxb: \
    --oidc-groups-claim=groups --oidc-signing-algs=RS256 \
    "--oidc-ca-file=$CA" >"$TB/virt.log" 2>&1; then
	sed 's/^/# /' "$TB/host.log" "$TB/virt.log"
	echo "Bail out! the test bed did not start (HXB_SKIP_K8S=1 skips these tests)"
	exit 1
fi
VSERVER=$(. "$TB/virt/env"; echo "$K8S_SERVER")
"$ROOT/t/k8s/fake-k3s.sh" "$TB/host" "$TB/virt" >"$TB/fake.log" 2>&1 &
FAKE=$!

# --- onboarding --------------------------------------------------------------------
provisioner
provisioner
ok "$(wait_status "$WS" running 40; echo $?)" "the workspace becomes running"
T=$(task_of "$WS" create_workspace)
is "$(sql "SELECT status || ' ' || progress || ' ' || step || ' ' || (attempts >= 1) FROM tasks WHERE id = '$T'")" \
    "succeeded 100 done true" "its task succeeded, with its progress"
api "$VWR" GET "/api/v1/tasks/$T"
is "$(jqb -c '[.status, .progress]')" '["succeeded",100]' "GET /api/v1/tasks/{id} shows it"
is "$(sql "SELECT api_endpoint FROM workspaces WHERE id = '$WS'")" "$VSERVER" "the workspace has its API endpoint"
is "$(sql "SELECT api_ca_pem FROM workspaces WHERE id = '$WS'")" "$(cat "$TB/virt/ca.crt")" "... and its CA"
is "$(sql "SELECT string_agg(action || ':' || result, ',' ORDER BY id) FROM audit_log WHERE workspace_id = '$WS' AND action LIKE 'workspace.provision%'")" \
    "workspace.provisioned:success" "the state change is audited"

NS=hxb-$WS
out=$(host get "/api/v1/namespaces/$NS")
is "$(jq -c '.metadata.labels | [.["hexabase.ai/workspace"], .["hexabase.ai/organization"], .["hexabase.ai/tier"], .["hexabase.ai/isolation"]]' <<<"$out")" \
    "[\"$WS\",\"$ORG\",\"pro\",\"$(sql "SELECT isolation FROM plans WHERE id = 'pro'")\"]" \
    "the host namespace, labelled with the workspace, organization and tier"
chart=$(host get "/apis/helm.cattle.io/v1/namespaces/$NS/helmcharts/$WS")
is "$(jq -c '.spec | [.chart, .repo, .targetNamespace, .failurePolicy, .backOffLimit]' <<<"$chart")" \
    "[\"vcluster\",\"https://charts.loft.sh\",\"$NS\",\"abort\",3]" "the HelmChart: the pinned chart, abort on failure, a bounded backoff"
values=$(jq -r .spec.valuesContent <<<"$chart")
args=$(jq -r '.controlPlane.distro.k8s.apiServer.extraArgs | join(" ")' <<<"$values")
like "$args" "--oidc-issuer-url=$HXB_TEST_ISSUER --oidc-client-id=$WS --oidc-username-claim=sub .*--oidc-groups-claim=groups" \
    "its values: the virtual API server trusts our issuer, the workspace as client id"
like "$args" "--oidc-ca-file=" "... with the issuer's CA mounted"
is "$(host get "/api/v1/namespaces/$NS/configmaps/hxb-oidc-ca" | jq -r '.data["ca.crt"]')" "$(cat "$CA")" "... from a ConfigMap of the CA"
is "$(jq -c '.policies | [.resourceQuota.enabled, .resourceQuota.quota["requests.cpu"], .limitRange.enabled, .networkPolicy.enabled, .podSecurityStandard]' <<<"$values")" \
    "[true,\"$(sql "SELECT cpu_millicores FROM plans WHERE id = 'pro'")m\",true,true,\"baseline\"]" \
    "... quotas from the plan, a limit range, network policy, a pod security standard"

# Inside the vCluster.
is "$(virt get /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/hexabase:workspace-admin | jq -c '[.roleRef.name, [.subjects[].name]]')" \
    '["hexabase:workspace-admin",["WSAdmins"]]' "the cluster-role binding of WSAdmins"
is "$(virt get /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/hexabase:workspace-viewer | jq -c '[.roleRef.name, [.subjects[].name]]')" \
    '["hexabase:workspace-viewer",["WorkspaceMembers"]]' "... of WorkspaceMembers"
is "$(virt get "/api/v1/namespaces/$WEBNS" | jq -r '.metadata.labels["hexabase.ai/project"]')" "$WEB" "the project's namespace, labelled"
is "$(virt get "/api/v1/namespaces/$APINS" | jq -r '.metadata.labels["hexabase.ai/parent"]')" "$WEB" "the child project's, with its parent"
is "$(virt get "/api/v1/namespaces/$WEBNS/resourcequotas/hexabase-quota" | jq -c '.spec.hard | [.["limits.cpu"], .["limits.memory"], .["count/pods"]]')" \
    '["1","2Gi","10"]' "the project's ResourceQuota"
is "$(virt get "/api/v1/namespaces/$WEBNS/limitranges/hexabase-limits" | jq -r '.spec.limits[0].type')" Container "... its LimitRange"
is "$(virt get "/apis/networking.k8s.io/v1/namespaces/$WEBNS/networkpolicies/hexabase-isolate" | jq -c '.spec.policyTypes')" '["Ingress"]' "... a default-deny ingress NetworkPolicy"
is "$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$WEBNS/roles/deployer" | jq -c '.rules[0].apiGroups')" '["apps"]' "the custom Role"
is "$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$WEBNS/rolebindings/$RA1" | jq -c '[.roleRef.kind, .roleRef.name, .subjects[0].name]')" \
    '["Role","deployer","devs"]' "... bound to its group"
is "$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$APINS/rolebindings/$RA1" | jq -c '[.roleRef.name, .subjects[0].name]')" \
    "[\"web-$TAG.deployer\",\"devs\"]" "the parent's binding propagated to the child, with its role"

# --- RBAC sync: new bindings appear, stale ones go ------------------------------------
api "$ADM" POST "$WSP/clusterroleassignments" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
api "$ADM" DELETE "/api/v1/projects/$WEB/roleassignments/$RA1"
is "$STATUS" 204 "an assignment removed"
S1=$(task_of "$WS" rbac_sync)
ok "$(wait_task "$S1" 30; echo $?)" "the RBAC sync ran"
is "$(sql "SELECT status FROM tasks WHERE id = '$S1'")" succeeded "... and succeeded"
is "$(virt get /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/hexabase:workspace-viewer | jq -c '[.subjects[].name]')" \
    '["WorkspaceMembers","devs"]' "the new binding's group appears"
out=$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$WEBNS/rolebindings/$RA1" 2>&1)
like "$out" "NotFound" "the stale RoleBinding is pruned"
out=$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$APINS/rolebindings/$RA1" 2>&1)
like "$out" "NotFound" "... and its propagated copy"

# --- offboarding ----------------------------------------------------------------------
api "$STR" DELETE "/api/v1/organizations/$ORG2/workspaces/$WS2"
ok "$(wait_status "$WS2" deleted 60; echo $?)" "a deleted workspace becomes deleted"
out=$(host get "/apis/helm.cattle.io/v1/namespaces/hxb-$WS2/helmcharts/$WS2" 2>&1)
like "$out" NotFound "its HelmChart is gone"
out=$(host get "/api/v1/namespaces/hxb-$WS2" 2>&1)
like "$out" NotFound "... and its host namespace"
is "$(sql "SELECT count(*) > 0 FROM audit_log WHERE workspace_id = '$WS2'")" t "its audit records stay"

stop_provisioners
if grep -q 'ERROR\|"level":"error"' "$TB/provisioner.log"; then
	diag "provisioner errors:"
	grep 'ERROR\|"level":"error"' "$TB/provisioner.log" | head -5 | sed 's/^/# /'
fi
done_testing
