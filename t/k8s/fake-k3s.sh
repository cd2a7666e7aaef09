#!/bin/bash
# The part of K3s the test bed lacks, played by the tests, as issue 7
# allows: a bare kube-apiserver has no helm-controller, no controllers and
# no kubelet.  Against the host test bed HOST (a testbed.sh directory),
# every POLL seconds:
#
#   - a HelmChart gets helm-controller's finalizer
#     (wrangler.cattle.io/on-helm-chart-remove) and Job
#     helm-install-<name> in its namespace, its pod template annotated
#     helmcharts.helm.cattle.io/configHash=SHA256=<hash of the spec>; the
#     Job is replaced when the spec changes, and marked complete;
#   - the release's StatefulSet <name> (app=vcluster, release=<name>) and,
#     while it has replicas, its pod <name>-0, Ready, carrying the pod
#     annotations of the chart's values
#     (controlPlane.statefulSet.pods.annotations), recreated when they
#     change, as a rollout would;
#   - Secret vc-<name>: a kubeconfig of the "virtual" test bed VIRT (its
#     admin), and its CA as certificate-authority; a release named in
#     HOST/vclusters/<name> (a file holding a test bed directory) gets
#     that one instead;
#   - a HelmChart being deleted loses those objects, then its finalizer;
#   - the namespace's ServiceAccount "default", as its controller would;
#   - a namespace hxb-* being deleted is finalized, as the namespace
#     controller would once it is empty.
#
# Faults for the tests, by files in HOST: pause (do nothing), fail-install
# (the install Job fails), no-ready (pods stay unready).
#
# With FAKE_K3S_SPAWN=1 (make run's local K3s), or naming releases
# (comma-separated, for a test), a release with no mapping gets a
# "virtual" test bed of its own, HOST/vc/<name>, started
# with the OIDC flags of the chart's values
# (controlPlane.distro.k8s.apiServer.extraArgs; the CA file they name is
# written from the ConfigMap hxb-oidc-ca), as vCluster would run its API
# server; it is stopped when the HelmChart goes.  VIRT may then be "-".
#
#   fake-k3s.sh HOST VIRT	run until killed
set -uo pipefail

HOST=$(cd "$1" && pwd)
VIRT=$2
[ "$VIRT" = - ] || VIRT=$(cd "$VIRT" && pwd)
SPAWN=${FAKE_K3S_SPAWN:-0}
spawns() {	# spawns NAME: whether NAME gets an API server of its own
	[ "$SPAWN" = 1 ] || [[ ",$SPAWN," == *",$1,"* ]]
}
TESTBED=$(dirname "${BASH_SOURCE[0]}")/testbed.sh
POLL=${FAKE_K3S_POLL:-0.3}
. "$HOST/env"
S=$K8S_SERVER

api() {	# api METHOD PATH [BODY [CONTENT-TYPE]]
	local m=$1 p=$2 body=${3:-} ct=${4:-application/json}
	if [ -n "$body" ]; then
		curl -sS --max-time 10 --cacert "$HOST/ca.crt" --cert "$HOST/admin.crt" \
		    --key "$HOST/admin.key" -X "$m" -H "Content-Type: $ct" \
		    --data-binary "$body" "$S$p"
	else
		curl -sS --max-time 10 --cacert "$HOST/ca.crt" --cert "$HOST/admin.crt" \
		    --key "$HOST/admin.key" -X "$m" "$S$p"
	fi
}
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# secret_data DIR: the data of the kubeconfig Secret vCluster would
# export for the virtual test bed DIR: its server, its admin.
secret_data() {
	local d=$1 server kc
	server=$(. "$d/env"; echo "$K8S_SERVER")
	kc=$(cat <<EOF
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: $(base64 -w0 <"$d/ca.crt")
    server: $server
  name: vcluster
contexts:
- context:
    cluster: vcluster
    user: admin
  name: vcluster
current-context: vcluster
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 <"$d/admin.crt")
    client-key-data: $(base64 -w0 <"$d/admin.key")
EOF
)
	jq -cn --arg c "$(printf '%s' "$kc" | base64 -w0)" \
	    --arg ca "$(base64 -w0 <"$d/ca.crt")" \
	    '{config: $c, "certificate-authority": $ca}'
}
DEFAULT_DATA=
[ "$VIRT" = - ] || DEFAULT_DATA=$(secret_data "$VIRT")

# spawn NS NAME SPEC_JSON: the release's own API server, with its flags.
spawn() {
	local ns=$1 name=$2 spec=$3 d=$HOST/vc/$2 args=() a
	[ -f "$HOST/vclusters/$name" ] && return 0
	mkdir -p "$HOST/vclusters" "$d"
	api GET "/api/v1/namespaces/$ns/configmaps/hxb-oidc-ca" |
	    jq -r '.data["ca.crt"] // empty' >"$d.ca.crt"
	while IFS= read -r a; do
		case $a in
		--oidc-ca-file=*) [ -s "$d.ca.crt" ] && args+=("--oidc-ca-file=$d.ca.crt") ;;
		--oidc-*) args+=("$a") ;;
		esac
	done < <(jq -r '.valuesContent | fromjson? |
	    .controlPlane.distro.k8s.apiServer.extraArgs[]?' <<<"$spec")
	if "$TESTBED" start "$d" virtual "${args[@]}" >"$d.log" 2>&1; then
		echo "$d" >"$HOST/vclusters/$name"
	else
		echo "fake-k3s: the API server of $name did not start; see $d.log" >&2
		"$TESTBED" stop "$d" >/dev/null 2>&1
		rm -rf "$d"
	fi
}


install() {	# install NS NAME SPEC_JSON
	local ns=$1 name=$2 spec=$3 hash job cur t
	hash=SHA256=$(printf '%s' "$spec" | jq -S -c . | sha256sum | cut -c1-64 | tr a-f A-F)
	job=$(api GET "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name")
	cur=$(jq -r '.spec.template.metadata.annotations["helmcharts.helm.cattle.io/configHash"] // empty' <<<"$job")
	if [ "$cur" != "$hash" ]; then
		if [ -n "$cur" ]; then
			api DELETE "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name?propagationPolicy=Background" >/dev/null
			return 1
		fi
		api POST "/apis/batch/v1/namespaces/$ns/jobs" "$(jq -cn --arg n "$name" --arg h "$hash" '
		    {apiVersion: "batch/v1", kind: "Job",
		     metadata: {name: ("helm-install-" + $n), labels: {"helmcharts.helm.cattle.io/chart": $n}},
		     spec: {backoffLimit: 3, template: {
		       metadata: {labels: {"helmcharts.helm.cattle.io/chart": $n},
		                  annotations: {"helmcharts.helm.cattle.io/configHash": $h}},
		       spec: {restartPolicy: "OnFailure", serviceAccountName: ("helm-" + $n),
		              containers: [{name: "helm", image: "rancher/klipper-helm:v0.9.3", args: ["install"]}]}}}}')" >/dev/null
		job=$(api GET "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name")
	fi
	if ! jq -e '.status.conditions[]? | select(.status == "True")' <<<"$job" >/dev/null; then
		t=$(now)
		if [ -e "$HOST/fail-install" ]; then
			api PATCH "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name/status" "$(jq -cn --arg t "$t" '
			    {status: {startTime: $t, failed: 4, conditions: [
			      {type: "FailureTarget", status: "True", reason: "BackoffLimitExceeded", lastProbeTime: $t, lastTransitionTime: $t},
			      {type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", lastProbeTime: $t, lastTransitionTime: $t}]}}')" \
			    application/merge-patch+json >/dev/null
			return 1
		fi
		api PATCH "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name/status" "$(jq -cn --arg t "$t" '
		    {status: {startTime: $t, completionTime: $t, succeeded: 1, conditions: [
		      {type: "SuccessCriteriaMet", status: "True", reason: "CompletionsReached", lastProbeTime: $t, lastTransitionTime: $t},
		      {type: "Complete", status: "True", reason: "CompletionsReached", lastProbeTime: $t, lastTransitionTime: $t}]}}')" \
		    application/merge-patch+json >/dev/null
	fi
}

vcluster() {	# vcluster NS NAME SPEC_JSON: the release's workload and kubeconfig
	local ns=$1 name=$2 spec=$3 ann sts replicas pod cur t
	ann=$(jq -c '.valuesContent | fromjson? | .controlPlane.statefulSet.pods.annotations // {}' <<<"$spec")
	[ -n "$ann" ] || ann='{}'
	sts=$(api GET "/apis/apps/v1/namespaces/$ns/statefulsets/$name")
	if [ "$(jq -r '.kind // empty' <<<"$sts")" != StatefulSet ]; then
		sts=$(api POST "/apis/apps/v1/namespaces/$ns/statefulsets" "$(jq -cn --arg n "$name" '
		    {apiVersion: "apps/v1", kind: "StatefulSet",
		     metadata: {name: $n, labels: {app: "vcluster", release: $n, heritage: "Helm"}},
		     spec: {replicas: 1, serviceName: ($n + "-headless"),
		            selector: {matchLabels: {app: "vcluster", release: $n}},
		            template: {metadata: {labels: {app: "vcluster", release: $n}},
		                       spec: {containers: [{name: "syncer", image: "ghcr.io/loft-sh/vcluster-pro:0.30.1"}]}}}}')")
	fi
	replicas=$(jq -r '.spec.replicas // 1' <<<"$sts")
	# The service account controller's part: pods need "default".
	api POST "/api/v1/namespaces/$ns/serviceaccounts" \
	    '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}' >/dev/null
	pod=$(api GET "/api/v1/namespaces/$ns/pods/$name-0")
	if [ "$replicas" = 0 ]; then
		[ "$(jq -r '.kind // empty' <<<"$pod")" = Pod ] &&
		    api DELETE "/api/v1/namespaces/$ns/pods/$name-0?gracePeriodSeconds=0" >/dev/null
	else
		cur=$(jq -c '.metadata.annotations // {}' <<<"$pod")
		if [ "$(jq -r '.kind // empty' <<<"$pod")" = Pod ] && [ "$cur" != "$ann" ]; then
			api DELETE "/api/v1/namespaces/$ns/pods/$name-0?gracePeriodSeconds=0" >/dev/null
			pod=
		fi
		if [ "$(jq -r '.kind // empty' <<<"$pod" 2>/dev/null)" != Pod ]; then
			pod=$(api POST "/api/v1/namespaces/$ns/pods" "$(jq -cn --arg n "$name" --argjson a "$ann" '
			    {apiVersion: "v1", kind: "Pod",
			     metadata: {name: ($n + "-0"), labels: {app: "vcluster", release: $n}, annotations: $a},
			     spec: {containers: [{name: "syncer", image: "ghcr.io/loft-sh/vcluster-pro:0.30.1"}]}}')")
		fi
		if [ ! -e "$HOST/no-ready" ] &&
		    ! jq -e '.status.conditions[]? | select(.type == "Ready" and .status == "True")' <<<"$pod" >/dev/null; then
			t=$(now)
			api PATCH "/api/v1/namespaces/$ns/pods/$name-0/status" "$(jq -cn --arg t "$t" '
			    {status: {phase: "Running", startTime: $t,
			     conditions: [{type: "Ready", status: "True", lastTransitionTime: $t},
			                  {type: "ContainersReady", status: "True", lastTransitionTime: $t}],
			     containerStatuses: [{name: "syncer", ready: true, restartCount: 0, started: true,
			       image: "ghcr.io/loft-sh/vcluster-pro:0.30.1", imageID: "",
			       state: {running: {startedAt: $t}}}]}}')" application/merge-patch+json >/dev/null
		fi
	fi
	if [ "$(api GET "/api/v1/namespaces/$ns/secrets/vc-$name" | jq -r '.kind // empty')" != Secret ]; then
		local data=$DEFAULT_DATA
		[ -f "$HOST/vclusters/$name" ] && data=$(secret_data "$(cat "$HOST/vclusters/$name")")
		[ -n "$data" ] || return 0
		api POST "/api/v1/namespaces/$ns/secrets" "$(jq -cn --arg n "vc-$name" --argjson d "$data" '
		    {apiVersion: "v1", kind: "Secret", metadata: {name: $n}, type: "Opaque", data: $d}')" >/dev/null
	fi
}

uninstall() {	# uninstall NS NAME: what helm delete and the finalizer do
	local ns=$1 name=$2
	api DELETE "/api/v1/namespaces/$ns/pods/$name-0?gracePeriodSeconds=0" >/dev/null
	api DELETE "/apis/apps/v1/namespaces/$ns/statefulsets/$name" >/dev/null
	api DELETE "/api/v1/namespaces/$ns/secrets/vc-$name" >/dev/null
	api DELETE "/apis/batch/v1/namespaces/$ns/jobs/helm-install-$name?propagationPolicy=Background" >/dev/null
	if [ -d "$HOST/vc/$name" ]; then
		"$TESTBED" stop "$HOST/vc/$name" >/dev/null 2>&1
		rm -rf "$HOST/vc/$name" "$HOST/vc/$name.log" "$HOST/vc/$name.ca.crt" \
		    "$HOST/vclusters/$name"
	fi
	api PATCH "/apis/helm.cattle.io/v1/namespaces/$ns/helmcharts/$name" \
	    '{"metadata":{"finalizers":null}}' application/merge-patch+json >/dev/null
}

finalize_namespaces() {
	local ns obj
	for ns in $(api GET /api/v1/namespaces | jq -r \
	    '.items[] | select(.metadata.deletionTimestamp and (.metadata.name | startswith("hxb-"))) | .metadata.name'); do
		# Empty it first, as the namespace controller does.
		for p in /api/v1/namespaces/$ns/pods /api/v1/namespaces/$ns/secrets \
		    /api/v1/namespaces/$ns/configmaps /apis/apps/v1/namespaces/$ns/statefulsets \
		    /apis/batch/v1/namespaces/$ns/jobs /apis/helm.cattle.io/v1/namespaces/$ns/helmcharts; do
			api DELETE "$p" >/dev/null 2>&1
		done
		obj=$(api GET "/api/v1/namespaces/$ns" | jq -c '.spec.finalizers = []')
		api PUT "/api/v1/namespaces/$ns/finalize" "$obj" >/dev/null
	done
}

stop_spawned() {
	local d
	for d in "$HOST"/vc/*/; do
		[ -d "$d" ] && "$TESTBED" stop "$d" >/dev/null 2>&1
	done
}
trap 'stop_spawned; exit 0' TERM INT

while :; do
	if [ -e "$HOST/pause" ]; then
		sleep "$POLL"
		continue
	fi
	charts=$(api GET /apis/helm.cattle.io/v1/helmcharts 2>/dev/null) || { sleep "$POLL"; continue; }
	while IFS=$'\t' read -r ns name deleting fin rv spec; do
		[ -n "$name" ] || continue
		spec=$(printf '%s' "$spec" | base64 -d)
		if [ "$deleting" = true ]; then
			uninstall "$ns" "$name"
			rm -f "$HOST/done/$name"
			continue
		fi
		# A release done at this version of its chart, whose
		# StatefulSet still has the replicas it had, needs nothing.
		if [ -f "$HOST/done/$name" ] && [ "$(cat "$HOST/done/$name")" = \
		    "$rv $(api GET "/apis/apps/v1/namespaces/$ns/statefulsets/$name" | jq -r '.spec.replicas // "none"')" ]; then
			continue
		fi
		[ "$fin" = true ] || api PATCH "/apis/helm.cattle.io/v1/namespaces/$ns/helmcharts/$name" \
		    '{"metadata":{"finalizers":["wrangler.cattle.io/on-helm-chart-remove"]}}' \
		    application/merge-patch+json >/dev/null
		installed=0
		install "$ns" "$name" "$spec" && installed=1
		spawns "$name" && spawn "$ns" "$name" "$spec"
		vcluster "$ns" "$name" "$spec"
		if [ "$installed" = 1 ] && [ ! -e "$HOST/no-ready" ]; then
			mkdir -p "$HOST/done"
			echo "$rv $(api GET "/apis/apps/v1/namespaces/$ns/statefulsets/$name" | jq -r '.spec.replicas // "none"')" \
			    >"$HOST/done/$name"
		fi
	done < <(jq -r '.items[]? | [.metadata.namespace, .metadata.name,
	    (.metadata.deletionTimestamp != null),
	    ((.metadata.finalizers // []) | index("wrangler.cattle.io/on-helm-chart-remove") != null),
	    .metadata.generation, (.spec | tojson | @base64)] | @tsv' <<<"$charts")
	finalize_namespaces
	sleep "$POLL"
done
