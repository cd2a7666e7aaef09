#!/bin/bash
# The Kubernetes test bed: a real kube-apiserver, built from the Kubernetes
# Go modules (t/k8s/peer pins them), with Debian's etcd, on loopback.
#
#   testbed.sh build
#	build kube-apiserver and kubectl once per machine into
#	var/cache/k8s/<version>-<hash of the module files>/; print that
#	directory.  Concurrent builds wait for each other (flock).
#   testbed.sh start DIR host|virtual [kube-apiserver flags...]
#	certificates (openssl), etcd and kube-apiserver with RBAC on free
#	loopback ports; DIR/admin.kubeconfig (client certificate, group
#	system:masters), DIR/viewer.kubeconfig (user hxb-viewer, group
#	hxb-viewers, certificate files) and DIR/env.  "host" installs the
#	HelmChart CRD (helm.cattle.io/v1) of K3s's helm-controller; "virtual"
#	takes the caller's --oidc-* flags, as a vCluster's API server would.
#   testbed.sh restart-apiserver DIR
#	stop kube-apiserver and start it again with the same flags and port.
#   testbed.sh stop-apiserver DIR | start-apiserver DIR
#	the same in two steps, for an outage of a while.
#   testbed.sh stop DIR
#	stop what start started there, and nothing else.
#
# HXB_K8S_START_TIMEOUT (seconds, default 90) bounds a start; a start that
# runs out prints the tail of the logs and fails.  HXB_K8S_ETCD names
# another etcd than Debian's /usr/bin/etcd (package etcd-server).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEER=$ROOT/t/k8s/peer
# The version t/k8s/peer/go.mod pins, the one place it is written.
K8S_VERSION=$(sed -n 's|^require k8s.io/kubernetes \(v[0-9.]*\)$|\1|p' "$PEER/go.mod")
START_TIMEOUT=${HXB_K8S_START_TIMEOUT:-90}

. "$ROOT/t/lib/ports.sh"

die() { echo "testbed: $*" >&2; exit 1; }

gobin() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		die "no Go toolchain (go, or /usr/local/go/bin/go) to build kube-apiserver"
	fi
}

cache_dir() {
	local sum
	# What the build depends on: the pinned modules and the flags below.
	sum=$( (cat "$PEER/go.mod" "$PEER/go.sum"
	    echo "$K8S_VERSION CGO_ENABLED=0 -trimpath -s -w kube-apiserver kubectl") |
	    sha256sum | cut -c1-12)
	echo "$ROOT/var/cache/k8s/$K8S_VERSION-$sum"
}

cmd_build() {
	local dir go tmp ld start
	[ -n "$K8S_VERSION" ] || die "no k8s.io/kubernetes version in $PEER/go.mod"
	dir=$(cache_dir)
	mkdir -p "$ROOT/var/cache/k8s"
	exec 9>"$ROOT/var/cache/k8s/.lock"
	flock 9
	if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/kubectl" ]; then
		echo "$dir"
		return
	fi
	go=$(gobin)
	tmp=$dir.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	start=$(date +%s)
	# The version the official build stamps in; /version reports it.
	ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1"
		ld+=" -X $p.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
		ld+=" -X $p.gitTreeState=clean"
	done
	echo "testbed: building kube-apiserver and kubectl $K8S_VERSION into $dir" >&2
	# nice: make test runs this beside the other tests.
	(cd "$PEER" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" \
	    CGO_ENABLED=0 nice -n 19 "$go" build -trimpath -ldflags "$ld" -o "$tmp/" \
	    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2 ||
	    { rm -rf "$tmp"; die "the build failed"; }
	echo "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
	cp "$PEER/go.mod" "$tmp/go.mod"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	# Builds for other versions or module files are not used again.
	find "$ROOT/var/cache/k8s" -mindepth 1 -maxdepth 1 -type d \
	    ! -path "$dir" ! -name '*.tmp.*' -exec rm -rf {} +
	echo "$dir"
}

# cert NAME CN [O] server|client: a key and a certificate signed by ca.
cert() {
	local name=$1 cn=$2 o=$3 use=$4 subj ext
	subj="/CN=$cn"
	[ -n "$o" ] && subj="/O=$o$subj"
	if [ "$use" = server ]; then
		ext="subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	else
		ext="extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
	fi
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
	openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key \
	    -CAcreateserial -days 7 -out "$name.crt" \
	    -extfile <(printf '%s\n' "$ext") 2>/dev/null
	rm -f "$name.csr"
}

# kubeconfig FILE USER inline|files: as kubectl writes one.
kubeconfig() {
	local f=$1 user=$2 mode=$3 ca cc ck
	if [ "$mode" = inline ]; then
		ca="certificate-authority-data: $(base64 -w0 <ca.crt)"
		cc="client-certificate-data: $(base64 -w0 <"$user.crt")"
		ck="client-key-data: $(base64 -w0 <"$user.key")"
	else
		ca="certificate-authority: ca.crt"
		cc="client-certificate: $user.crt"
		ck="client-key: $user.key"
	fi
	cat >"$f" <<EOF
apiVersion: v1
kind: Config
clusters:
- cluster:
    $ca
    server: https://127.0.0.1:$API_PORT
  name: testbed
contexts:
- context:
    cluster: testbed
    user: $user
  name: $user@testbed
current-context: $user@testbed
preferences: {}
users:
- name: $user
  user:
    $cc
    $ck
EOF
	chmod 600 "$f"
}

# admin_curl PATH [curl args]: the API as the admin, TLS verified.
admin_curl() {
	local path=$1
	shift
	curl -sS --max-time 10 --cacert "$DIR/ca.crt" --cert "$DIR/admin.crt" \
	    --key "$DIR/admin.key" "$@" "https://127.0.0.1:$API_PORT$path"
}

tail_logs() {
	local f
	for f in "$DIR"/etcd.log "$DIR"/apiserver.log; do
		[ -f "$f" ] || continue
		echo "--- last lines of $f" >&2
		tail -n 15 "$f" >&2
	done
}

start_apiserver() {
	local args=()
	mapfile -t args <"$DIR/apiserver.args"
	# setsid: its own process group, so that stop reaches only it.
	setsid "$BIN/kube-apiserver" "${args[@]}" >>"$DIR/apiserver.log" 2>&1 &
	echo $! >"$DIR/apiserver.pid"
}

wait_ready() {
	local deadline=$(( $(date +%s) + START_TIMEOUT )) code
	while :; do
		code=$(admin_curl /readyz -o /dev/null -w '%{http_code}' 2>/dev/null || true)
		[ "$code" = 200 ] && return 0
		if ! kill -0 "$(cat "$DIR/apiserver.pid")" 2>/dev/null; then
			tail_logs
			die "kube-apiserver exited during its start"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			tail_logs
			die "kube-apiserver was not ready within ${START_TIMEOUT}s"
		fi
		sleep 0.3
	done
}

cmd_start() {
	local role=$2 etcd_port peer_port deadline t0
	DIR=$1
	shift 2
	case $role in host|virtual) ;; *) die "role: host or virtual" ;; esac
	t0=$(date +%s.%N)
	ETCD=${HXB_K8S_ETCD:-/usr/bin/etcd}
	[ -x "$ETCD" ] || die "no etcd at $ETCD (Debian package etcd-server; make deps installs it)"
	BIN=$(cmd_build)
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	[ -f "$DIR/apiserver.pid" ] && die "$DIR already has a test bed"
	API_PORT=$(free_port)
	etcd_port=$(free_port)
	peer_port=$(free_port)
	(
		cd "$DIR"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout ca.key -out ca.crt -days 7 \
		    -subj "/CN=hxb-testbed-$role-ca" \
		    -addext basicConstraints=critical,CA:TRUE \
		    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
		cert apiserver 127.0.0.1 "" server
		cert admin hxb-admin system:masters client
		cert viewer hxb-viewer hxb-viewers client
		openssl ecparam -name prime256v1 -genkey -noout -out sa.key
		openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null
		chmod 600 ./*.key
		kubeconfig admin.kubeconfig admin inline
		kubeconfig viewer.kubeconfig viewer files
	)
	mkdir -p -m 700 "$DIR/etcd-data"
	setsid "$ETCD" --name testbed --data-dir "$DIR/etcd-data" \
	    --listen-client-urls "http://127.0.0.1:$etcd_port" \
	    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	    --listen-peer-urls "http://127.0.0.1:$peer_port" \
	    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
	    --initial-cluster "testbed=http://127.0.0.1:$peer_port" \
	    --unsafe-no-fsync --log-level warn >"$DIR/etcd.log" 2>&1 &
	echo $! >"$DIR/etcd.pid"
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	until curl -s --max-time 2 "http://127.0.0.1:$etcd_port/health" |
	    grep -q '"health":"true"'; do
		if [ "$(date +%s)" -ge "$deadline" ] ||
		    ! kill -0 "$(cat "$DIR/etcd.pid")" 2>/dev/null; then
			tail_logs
			cmd_stop "$DIR"
			die "etcd did not start"
		fi
		sleep 0.2
	done
	printf '%s\n' \
	    "--etcd-servers=http://127.0.0.1:$etcd_port" \
	    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
	    "--secure-port=$API_PORT" "--cert-dir=$DIR" \
	    "--tls-cert-file=$DIR/apiserver.crt" \
	    "--tls-private-key-file=$DIR/apiserver.key" \
	    "--client-ca-file=$DIR/ca.crt" \
	    --authorization-mode=RBAC --endpoint-reconciler-type=none \
	    --service-account-issuer=https://kubernetes.default.svc \
	    "--service-account-key-file=$DIR/sa.pub" \
	    "--service-account-signing-key-file=$DIR/sa.key" \
	    --service-cluster-ip-range=10.96.0.0/16 \
	    --profiling=false --v=1 "$@" >"$DIR/apiserver.args"
	cat >"$DIR/env" <<EOF
K8S_ROLE=$role
K8S_PORT=$API_PORT
K8S_SERVER=https://127.0.0.1:$API_PORT
K8S_BIN=$BIN
K8S_VERSION=$K8S_VERSION
K8S_ETCD_VERSION=$("$ETCD" --version | sed -n 's/^etcd Version: //p')
EOF
	start_apiserver
	if ! (wait_ready); then
		cmd_stop "$DIR"
		exit 1
	fi
	if [ "$role" = host ]; then
		# The CRD API may answer a moment after /readyz: try for a while.
		deadline=$(( $(date +%s) + START_TIMEOUT ))
		until code=$(admin_curl /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
		    -X POST -H 'Content-Type: application/json' \
		    --data-binary @"$ROOT/t/k8s/helmchart-crd.json" \
		    -o "$DIR/crd.out" -w '%{http_code}' 2>&1) &&
		    { [ "$code" = 201 ] || [ "$code" = 409 ]; }; do
			if [ "$(date +%s)" -ge "$deadline" ]; then
				echo "testbed: the HelmChart CRD: $code" >&2
				head -c 2000 "$DIR/crd.out" >&2
				cmd_stop "$DIR"
				die "the HelmChart CRD was not created"
			fi
			sleep 0.3
		done
		deadline=$(( $(date +%s) + START_TIMEOUT ))
		until admin_curl /apis/apiextensions.k8s.io/v1/customresourcedefinitions/helmcharts.helm.cattle.io |
		    jq -e '.status.conditions[]? | select(.type == "Established" and .status == "True")' \
		    >/dev/null 2>&1 && admin_curl /apis/helm.cattle.io/v1/helmcharts \
		    -o /dev/null -w '%{http_code}' | grep -q 200; do
			if [ "$(date +%s)" -ge "$deadline" ]; then
				cmd_stop "$DIR"
				die "the HelmChart CRD was not established"
			fi
			sleep 0.2
		done
	fi
	echo "K8S_START_SECONDS=$(awk -v a="$t0" -v b="$(date +%s.%N)" \
	    'BEGIN { printf "%.1f", b - a }')" >>"$DIR/env"
}

cmd_restart_apiserver() {
	DIR=$(cd "$1" && pwd)
	. "$DIR/env"
	API_PORT=$K8S_PORT
	BIN=$K8S_BIN
	stop_pid "$DIR/apiserver.pid"
	start_apiserver
	wait_ready
}

cmd_stop_apiserver() {
	DIR=$(cd "$1" && pwd)
	stop_pid "$DIR/apiserver.pid"
}

cmd_start_apiserver() {
	DIR=$(cd "$1" && pwd)
	. "$DIR/env"
	API_PORT=$K8S_PORT
	BIN=$K8S_BIN
	start_apiserver
	wait_ready
}

# stop_pid FILE: TERM the process group the pid file names, then KILL.
stop_pid() {
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$f"
}

cmd_stop() {
	local d=$1
	[ -d "$d" ] || return 0
	stop_pid "$d/apiserver.pid"
	stop_pid "$d/etcd.pid"
}

case ${1:-} in
build)	cmd_build ;;
start)	[ $# -ge 3 ] || die "usage: testbed.sh start DIR host|virtual [flags]"
	shift; cmd_start "$@" ;;
restart-apiserver)
	[ $# -eq 2 ] || die "usage: testbed.sh restart-apiserver DIR"
	cmd_restart_apiserver "$2" ;;
stop-apiserver|start-apiserver)
	[ $# -eq 2 ] || die "usage: testbed.sh $1 DIR"
	"cmd_${1//-/_}" "$2" ;;
stop)	[ $# -eq 2 ] || die "usage: testbed.sh stop DIR"
	cmd_stop "$2" ;;
*)	die "usage: testbed.sh build | start DIR host|virtual [flags] | restart-apiserver DIR | stop DIR" ;;
esac
