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
MAIN=$BASHPID
cleanup() {
	if [ "$BASHPID" != "$MAIN" ]; then	# never a subshell's exit
		echo "# cleanup refused in subshell $BASHPID at $(date +%T)" >&2
		return 0
	fi
	stop_provisioners
	[ -n "$FAKE" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
	"$ROOT/t/k8s/testbed.sh" stop "$TB/host/vc/$WS" >/dev/null 2>&1
	"$ROOT/t/k8s/testbed.sh" stop "$TB/others" >/dev/null 2>&1
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
HXB_WORKER_BACKOFF_MS=500
HXB_WORKER_BACKOFF_MAX_MS=4000
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
stop_provisioners() {	# only our workers: a pid may have been reused
	local p
	for p in "${PROVS[@]}"; do
		grep -q 'jobs/provisioner' "/proc/$p/cmdline" 2>/dev/null &&
		    kill "$p" 2>/dev/null
	done
	for p in "${PROVS[@]}"; do wait "$p" 2>/dev/null; done
	PROVS=()
}
# host/virt PATH: a GET as the test bed's admin, the body
host() { "$HXB_TEST_BUILD/t/tools/k8sc" -k "$TB/host/admin.kubeconfig" "$@"; }
virt() { "$HXB_TEST_BUILD/t/tools/k8sc" -k "$V/admin.kubeconfig" "$@"; }
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
wait_step() {	# wait_step WS STEP: until its onboarding is in that step
	local i
	for i in $(seq 100); do
		[ "$(sql "SELECT step FROM tasks WHERE workspace_id = '$1' AND type = 'create_workspace'")" = "$2" ] && return 0
		sleep 0.1
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
    ! "$ROOT/t/k8s/testbed.sh" start "$TB/others" virtual >"$TB/others.log" 2>&1; then
	sed 's/^/# /' "$TB/host.log" "$TB/others.log"
	echo "Bail out! the test bed did not start (HXB_SKIP_K8S=1 skips these tests)"
	exit 1
fi
# The end-to-end workspace gets an API server of its own, started with
# the OIDC flags the job wrote into its chart's values (the issuer, the
# workspace as client id, the claims, the issuer's CA from the
# ConfigMap): kubectl below proves those values work.  The others share
# one without OIDC.
V=$TB/host/vc/$WS
FAKE_K3S_SPAWN=$WS "$ROOT/t/k8s/fake-k3s.sh" "$TB/host" "$TB/others" >"$TB/fake.log" 2>&1 &
FAKE=$!

# --- onboarding --------------------------------------------------------------------
provisioner
provisioner
ok "$(wait_status "$WS" running 60; echo $?)" "the workspace becomes running"
VSERVER=$(. "$V/env"; echo "$K8S_SERVER")
like "$(cat "$V/apiserver.args")" "--oidc-client-id=$WS" "its API server runs with the flags of the chart's values"
T=$(task_of "$WS" create_workspace)
is "$(sql "SELECT status || ' ' || progress || ' ' || step || ' ' || (attempts >= 1) FROM tasks WHERE id = '$T'")" \
    "succeeded 100 done true" "its task succeeded, with its progress"
api "$VWR" GET "/api/v1/tasks/$T"
is "$(jqb -c '[.status, .progress]')" '["succeeded",100]' "GET /api/v1/tasks/{id} shows it"
is "$(sql "SELECT api_endpoint FROM workspaces WHERE id = '$WS'")" "$VSERVER" "the workspace has its API endpoint"
is "$(sql "SELECT api_ca_pem FROM workspaces WHERE id = '$WS'")" "$(cat "$V/ca.crt")" "... and its CA"
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
api "$ADM" PATCH "/api/v1/projects/$APIP" '{"network_isolated":false}'
S2=$(task_of "$WS" rbac_sync)
ok "$(wait_task "$S2" 30; echo $?)" "a project opting out of network isolation: synced"
out=$(virt get "/apis/networking.k8s.io/v1/namespaces/$APINS/networkpolicies/hexabase-isolate" 2>&1)
like "$out" "NotFound" "... its default-deny NetworkPolicy is gone"
is "$(virt get "/apis/networking.k8s.io/v1/namespaces/$WEBNS/networkpolicies/hexabase-isolate" | jq -r .metadata.name)" \
    hexabase-isolate "... the other project keeps its own"

# --- kubectl end to end: our kubeconfig, the plugin, the virtual API server ---------
api "$WSA" GET "/api/v1/organizations/$ORG/workspaces/$WS/kubeconfig"
is "$STATUS" 200 "the running workspace's kubeconfig"
printf '%s\n' "$BODY" >"$TB/hxb.kubeconfig"
KUBECTL=$(. "$V/env"; echo "$K8S_BIN")/kubectl
export PATH=$HXB_TEST_BUILD/jobs:$PATH
hk() { HXB_CONFIG_DIR=$1 "$KUBECTL" --cache-dir "$TB/kcache" --kubeconfig "$TB/hxb.kubeconfig" "${@:2}"; }
cli_login "wa$TAG" "$TB/cfg-wsa" >/dev/null
cli_login "vw$TAG" "$TB/cfg-vwr" >/dev/null
for i in $(seq 50); do	# the API server reads our keys once it is up
	hk "$TB/cfg-wsa" get namespaces >/dev/null 2>&1 && break
	sleep 0.3
done
out=$(hk "$TB/cfg-wsa" -n "$WEBNS" create deployment web --image=nginx:1.27 2>&1)
is "$out" "deployment.apps/web created" "kubectl as a WSAdmins member creates a Deployment in a project's namespace"
out=$(hk "$TB/cfg-vwr" -n "$WEBNS" get deployments -o name 2>&1)
is "$out" "deployment.apps/web" "... a WSUsers member sees it"
out=$(hk "$TB/cfg-vwr" -n "$WEBNS" create deployment nope --image=nginx:1.27 2>&1)
like "$out" 'forbidden: User "hxb:'"$VWR_ID"'" cannot create resource "deployments"' "... and is Forbidden to create one"

# --- plan change ------------------------------------------------------------------------
api "$ADM" PATCH "/api/v1/organizations/$ORG/workspaces/$WS" '{"plan_id":"enterprise"}'
is "$STATUS" 202 "a plan change is accepted"
U=$(jqb .task.id)
ok "$(wait_task "$U" 60; echo $?)" "its update task ran"
is "$(sql "SELECT status FROM tasks WHERE id = '$U'")" succeeded "... and succeeded"
values=$(host get "/apis/helm.cattle.io/v1/namespaces/$NS/helmcharts/$WS" | jq -r .spec.valuesContent)
is "$(jq -r '.policies.resourceQuota.quota["requests.cpu"]' <<<"$values")" \
    "$(sql "SELECT cpu_millicores FROM plans WHERE id = 'enterprise'")m" "the values carry the new plan's quota"
is "$(jq -c '[.controlPlane.statefulSet.scheduling.nodeSelector["hexabase.ai/node-pool"], .sync.toHost.pods.enforceTolerations[0]]' <<<"$values")" \
    "[\"$WS\",\"dedicated=$WS:NoSchedule\"]" "... and, dedicated nodes: a node selector and enforced tolerations"
is "$(host get "/api/v1/namespaces/$NS" | jq -r '.metadata.labels["hexabase.ai/tier"]')" enterprise "the host namespace's tier label follows"
is "$(ws_status "$WS")" running "the workspace stays running"

# --- suspend and resume, requested by the platform and relayed from the outbox ----------
reconcile() { local e; mapfile -t e < <(job_env); env "${e[@]}" "$HXB_TEST_BUILD/jobs/reconcile" "$@" 2>>"$TB/reconcile.log"; }
SU=$(sql "SELECT hxb_ws_request('$WS', 'suspend_workspace')")
out=$(reconcile --relay)
like "$out" "^relayed [1-9]" "jobs/reconcile relays the outbox row"
ok "$(wait_status "$WS" suspended 30; echo $?)" "the workspace is suspended"
is "$(host get "/apis/apps/v1/namespaces/$NS/statefulsets/$WS" | jq -c '[.spec.replicas, .metadata.annotations["loft.sh/paused"]]')" \
    '[0,"true"]' "its control plane is scaled to zero, marked paused"
RE=$(sql "SELECT hxb_ws_request('$WS', 'resume_workspace')")
reconcile --relay >/dev/null
ok "$(wait_status "$WS" running 30; echo $?)" "resumed, it runs again"
is "$(host get "/apis/apps/v1/namespaces/$NS/statefulsets/$WS" | jq -c '[.spec.replicas, .metadata.annotations["loft.sh/paused"]]')" \
    '[1,null]' "... one replica, no longer marked"

# --- drift: what someone changed by hand in the vCluster is put back --------------------
virt delete "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/hexabase:workspace-admin" >/dev/null
printf '{"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"hexabase-quota","namespace":"%s"},"spec":{"hard":{"count/pods":"999"}}}' "$WEBNS" |
    "$HXB_TEST_BUILD/t/tools/k8sc" -k "$V/admin.kubeconfig" -m kubectl-edit apply - >/dev/null
printf '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"ra-stale","namespace":"%s","labels":{"app.kubernetes.io/managed-by":"hexabase","hexabase.ai/workspace":"%s"}},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"admin"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"intruders"}]}' "$WEBNS" "$WS" |
    virt apply - >/dev/null
out=$(reconcile)
like "$out" "repaired [1-9][0-9]*, pruned [1-9][0-9]*$" "jobs/reconcile finds the drift: objects repaired and pruned"
is "$(virt get /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/hexabase:workspace-admin | jq -c '[.subjects[].name]')" '["WSAdmins"]' "a deleted binding is back"
is "$(virt get "/api/v1/namespaces/$WEBNS/resourcequotas/hexabase-quota" | jq -r '.spec.hard["count/pods"]')" 10 "an edited quota is put back"
out=$(virt get "/apis/rbac.authorization.k8s.io/v1/namespaces/$WEBNS/rolebindings/ra-stale" 2>&1)
like "$out" NotFound "a binding nobody asked for is pruned"
like "$(reconcile --workspace="$WS")" "workspaces 1, repaired 0, pruned 0$" "... and a second pass over the workspace finds nothing"

# --- kill -9 at each step in turn ----------------------------------------------------------
# A worker stops itself at the point (HXB_TEST_STOP_AT, test builds
# only), is killed with SIGKILL there, and a fresh one takes over.
stop_provisioners
kills=0 lost=0 dups=0
for point in "host namespace" "vcluster chart" "waiting for the vCluster" "workspace RBAC" \
    "workspace RBAC (half)" "finishing" answered; do
	api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"k$kills-$TAG\",\"plan_id\":\"free\"}"
	K=$(jqb .workspace.id)
	( export HXB_TEST_STOP_AT=$point; provisioner; echo "${PROVS[-1]}" >"$TB/victim" )
	victim=$(cat "$TB/victim")
	for i in $(seq 150); do
		[ "$(awk '{print $3}' "/proc/$victim/stat" 2>/dev/null)" = T ] && break
		sleep 0.1
	done
	st=$(awk '{print $3}' "/proc/$victim/stat" 2>/dev/null)
	kill -9 "$victim" 2>/dev/null; wait "$victim" 2>/dev/null
	[ "$st" = T ] || diag "the worker did not reach \"$point\" (state $st)"
	kills=$((kills + 1))
	provisioner
	if ! wait_status "$K" running 60; then
		lost=$((lost + 1))
		diag "after a kill at \"$point\": $(ws_status "$K"), $(sql "SELECT step || ' ' || attempts || ' ' || last_error FROM tasks WHERE workspace_id = '$K' AND type = 'create_workspace'")"
	fi
	n=$(host list "/apis/helm.cattle.io/v1/namespaces/hxb-$K/helmcharts" 500 | jq '.items | length')
	j=$(host list "/apis/batch/v1/namespaces/hxb-$K/jobs" 500 | jq '.items | length')
	a=$(sql "SELECT count(*) FROM audit_log WHERE workspace_id = '$K' AND action = 'workspace.provisioned'")
	[ "$n $j $a" = "1 1 1" ] || { dups=$((dups + 1)); diag "at \"$point\": charts $n, jobs $j, provisioned $a"; }
	stop_provisioners
done
is "$kills $lost $dups" "7 0 0" "killed at each of 7 points: every workspace provisioned, exactly once"
diag "kill loop: $kills runs, $lost lost, $dups with duplicates"
provisioner
provisioner

# --- NATS away while a workspace is created -------------------------------------------------
stack stop-service "$S" nats >/dev/null 2>&1
api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"nats-$TAG\",\"plan_id\":\"free\"}"
is "$STATUS" 202 "with NATS down, a create is still accepted"
N1=$(jqb .workspace.id)
is "$(sql "SELECT count(*) FROM outbox WHERE workspace_id = '$N1' AND published_at IS NULL")" 1 "... its request waits in the outbox"
sleep 1
stack start-service "$S" nats >/dev/null 2>&1
out=$(reconcile --relay)
like "$out" "^relayed [1-9]" "NATS back, the relay sends it"
ok "$(wait_status "$N1" running 60; echo $?)" "... and the workspace is provisioned"

# NATS stops while a worker waits for the vCluster; the answer still lands.
touch "$TB/host/pause"
api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"nats2-$TAG\",\"plan_id\":\"free\"}"
N2=$(jqb .workspace.id)
wait_step "$N2" "waiting for the vCluster"
stack stop-service "$S" nats >/dev/null 2>&1
rm -f "$TB/host/pause"
sleep 3
stack start-service "$S" nats >/dev/null 2>&1
ok "$(wait_status "$N2" running 60; echo $?)" "NATS stopped during a create: it completes after NATS returns"

# --- the host's API server away for a while -----------------------------------------------
touch "$TB/host/pause"
api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"k8s-$TAG\",\"plan_id\":\"free\"}"
K8=$(jqb .workspace.id)
wait_step "$K8" "waiting for the vCluster"
"$ROOT/t/k8s/testbed.sh" stop-apiserver "$TB/host"
sleep 6
"$ROOT/t/k8s/testbed.sh" start-apiserver "$TB/host" >/dev/null 2>&1
rm -f "$TB/host/pause"
ok "$(wait_status "$K8" running 90; echo $?)" "the Kubernetes API away for a while: backoff, then success"
like "$(sql "SELECT last_error FROM tasks WHERE workspace_id = '$K8' AND type = 'create_workspace'")" \
    '(Unreachable|Timeout): .*\(retrying\)$' "... the outage noted on the task while it was waited out"
diag "attempts: $(sql "SELECT attempts FROM tasks WHERE workspace_id = '$K8' AND type = 'create_workspace'"), retries logged: $(grep -c "hxb-$K8.*Unreachable" "$TB/provisioner.log")"

# --- a 422 from Kubernetes: failed, with an error a person can read -------------------------
stop_provisioners
api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"bad-$TAG\",\"plan_id\":\"free\"}"
BAD=$(jqb .workspace.id)
api "$ADM" POST "/api/v1/workspaces/$BAD/projects" '{"name":"badproj"}'
BP=$(jqb .id)
# A rule Kubernetes refuses (no verbs), past the API's own checks.
sql "INSERT INTO roles (id, workspace_id, project_id, name, rules) VALUES (hxb_new_id('role-'), '$BAD', '$BP', 'broken', '[{\"api_groups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[]}]')" >/dev/null
provisioner
ok "$(wait_status "$BAD" failed 60; echo $?)" "a 422 from Kubernetes fails the workspace"
reason=$(sql "SELECT status_reason FROM workspaces WHERE id = '$BAD'")
like "$reason" 'Invalid.*rules\[0\]\.verbs' "its reason says what Kubernetes refused: $reason"
is "$(sql "SELECT status || ' ' || attempts FROM tasks WHERE workspace_id = '$BAD' AND type = 'create_workspace'")" "failed 1" \
    "... at once, without retrying what cannot pass"
provisioner

# --- a lost request: reconcile sends a stuck task again ------------------------------
stop_provisioners
api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"lost-$TAG\",\"plan_id\":\"free\"}"
LOST=$(jqb .workspace.id)
out=$(stack with-env "$S" "$HXB_TEST_BUILD/t/tools/purge-stream" HEXABASE_CP 2>&1)
is "$out" purged "its request is lost with the stream's messages"
provisioner
provisioner
sleep 2
is "$(ws_status "$LOST")" pending "... so the workspace stays pending"
out=$(HXB_RECONCILE_STUCK_S=1 reconcile --relay)
like "$out" "again [1-9]" "a task stuck for longer than HXB_RECONCILE_STUCK_S is requested again"
ok "$(wait_status "$LOST" running 60; echo $?)" "... and the workspace is provisioned"

# --- offboarding ----------------------------------------------------------------------
api "$STR" DELETE "/api/v1/organizations/$ORG2/workspaces/$WS2"
ok "$(wait_status "$WS2" deleted 60; echo $?)" "a deleted workspace becomes deleted"
out=$(host get "/apis/helm.cattle.io/v1/namespaces/hxb-$WS2/helmcharts/$WS2" 2>&1)
like "$out" NotFound "its HelmChart is gone"
out=$(host get "/api/v1/namespaces/hxb-$WS2" 2>&1)
like "$out" NotFound "... and its host namespace"
is "$(sql "SELECT count(*) > 0 FROM audit_log WHERE workspace_id = '$WS2'")" t "its audit records stay"

# The end-to-end workspace goes too, and everything of it.
api "$ADM" DELETE "/api/v1/organizations/$ORG/workspaces/$WS"
ok "$(wait_status "$WS" deleted 60; echo $?)" "the end-to-end workspace, deleted"
out=$(host get "/api/v1/namespaces/$NS" 2>&1)
like "$out" NotFound "... its host namespace (and all in it) is gone"
is "$(host list /apis/helm.cattle.io/v1/helmcharts 500 | jq --arg w "$WS" '[.items[] | select(.metadata.name == $w)] | length')" 0 "... no HelmChart of it anywhere"

stop_provisioners
if grep -q 'ERROR\|"level":"error"' "$TB/provisioner.log"; then
	diag "provisioner errors:"
	grep 'ERROR\|"level":"error"' "$TB/provisioner.log" | head -5 | sed 's/^/# /'
fi
done_testing
