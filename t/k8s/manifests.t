#!/bin/bash
# k8s/ as a real API server sees it: kubectl applies the kustomization
# with --dry-run=server, so every object is defaulted and validated
# against the real schemas (a misspelt field is an error, not a warning).
TAP_NO_STACK=1
. "$(dirname "$0")/../lib/tap.sh"
[ "${HXB_SKIP_K8S:-}" = 1 ] &&
    skip_all "HXB_SKIP_K8S=1: the Kubernetes tests were skipped on request"

ROOT=${HXB_TEST_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TB=$(mktemp -d /tmp/hxb-k8s-manifests.XXXXXX)
trap '"$ROOT/t/k8s/testbed.sh" stop "$TB/h" >/dev/null 2>&1; rm -rf "$TB"' EXIT
if ! "$ROOT/t/k8s/testbed.sh" start "$TB/h" host >"$TB/start.log" 2>&1; then
	sed 's/^/# /' "$TB/start.log"
	echo "Bail out! the Kubernetes test bed did not start (HXB_SKIP_K8S=1 skips these tests)"
	exit 1
fi
kc() {
	"$(. "$TB/h/env"; echo "$K8S_BIN")/kubectl" --cache-dir "$TB/kc" \
	    --kubeconfig "$TB/h/admin.kubeconfig" "$@"
}
kc create namespace hexabase >/dev/null
out=$(kc apply -k "$ROOT/k8s" --dry-run=server --validate=strict 2>&1)
ok $? "kubectl apply -k k8s/ --dry-run=server --validate=strict succeeds"
for o in configmap/hexabase-config service/hexabase-control-plane \
    deployment.apps/hexabase-control-plane job.batch/hexabase-migrate \
    cronjob.batch/hexabase-rotate-keys deployment.apps/hexabase-provisioner \
    cronjob.batch/hexabase-reconcile serviceaccount/hexabase-provisioner \
    clusterrole.rbac.authorization.k8s.io/hexabase-provisioner \
    deployment.apps/hexabase-billing-sync cronjob.batch/hexabase-billing-sync; do
	like "$out" "^$o created \\(server dry run\\)" "$o is accepted"
done
unlike "$out" "unknown field|Error" "no unknown field, no error"
# Every Secret the manifests mount is one README tells the operator to make.
secrets=$(kc kustomize "$ROOT/k8s" | grep -o 'secretName: [a-z0-9-]*' |
    sort -u | cut -d' ' -f2)
for s in $secrets; do
	like "$(cat "$ROOT/k8s/README.md")" "create secret generic $s " \
	    "k8s/README.md says how to create $s"
done

done_testing
