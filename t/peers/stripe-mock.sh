#!/bin/bash
# stripe-mock, Stripe's official mock of its API (github.com/stripe/stripe-mock,
# a Go program serving answers generated from Stripe's OpenAPI spec and
# fixtures), for the billing tests and `make run`.
#
#   stripe-mock.sh build
#	build it once per machine from its Go module with the machine's Go
#	toolchain into var/cache/stripe-mock/<version>/ (the binary, and the
#	certificate and fixtures embedded in it, copied from the module); print
#	the binary's path.  Concurrent builds wait for each other (flock).
#   stripe-mock.sh start DIR PORT [FIXTURES.json]
#	build if needed, then serve HTTPS on 127.0.0.1:PORT only, in the
#	background; wait until it answers.  Writes DIR/stripe-mock.pid,
#	DIR/stripe-mock.log, DIR/stripe-mock-ca.pem (the certificate it
#	serves: self-signed, CN=localhost, no subjectAltName, so clients must
#	call it https://localhost:PORT and trust that file) and
#	DIR/stripe-mock.env (STRIPE_MOCK_URL, STRIPE_MOCK_CA_FILE,
#	STRIPE_MOCK_VERSION, STRIPE_MOCK_API_VERSION).  FIXTURES replaces the
#	bundled fixtures as a whole (see fixtures below).
#   stripe-mock.sh stop DIR
#	stop what start started there, and nothing else.
#   stripe-mock.sh fixtures OUT.json < OVERRIDES.json
#	write a fixtures file for start: the bundled one, each resource that
#	OVERRIDES names merged with what it gives (objects key by key, all
#	else replaced), e.g.
#	  {"subscription": {"id": "sub_fx", "metadata": {"organization_id": "o1"}},
#	   "subscription_item": {"id": "si_seats", "subscription": "sub_fx",
#	     "quantity": 3, "price": {"id": "price_seats"}}}
#	(or the same map under "resources").  stripe-mock answers with the
#	resource's fixture, its id, wherever it occurs, replaced by the one in
#	the path (so GET /v1/subscriptions/sub_X shows sub_X in the item too),
#	and the POSTed scalars copied in.  A list, such as a subscription's
#	items, always holds exactly one element, made from its own resource's
#	fixture (subscription_item), whatever the parent's fixture says.
#
# stripe-mock accepts any key of the form sk_test_X (or rk_test_X; X without
# "_"), as Basic or Bearer authorization.  Its plain-HTTP listener, which it
# opens whether asked or not, goes to the Unix socket DIR/stripe-mock.sock
# (to a loopback port the system picks if that path is too long).
# HXB_STRIPE_MOCK_START_TIMEOUT (seconds, default 30) bounds a start; a
# start that runs out prints the tail of the log and fails.  Needs Go (go on
# PATH or /usr/local/go/bin/go) and the Go module proxy for the first build,
# curl and jq.
set -euo pipefail
# Also in $(...), where cmd_build runs for start.
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODULE=github.com/stripe/stripe-mock
VERSION=v0.203.0
CACHE=$ROOT/var/cache/stripe-mock/$VERSION
START_TIMEOUT=${HXB_STRIPE_MOCK_START_TIMEOUT:-30}

die() { echo "stripe-mock: $*" >&2; exit 1; }

gobin() {
	if command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		die "no Go toolchain (go, or /usr/local/go/bin/go) to build stripe-mock"
	fi
}

built() {
	[ -x "$CACHE/stripe-mock" ] && [ -s "$CACHE/cert.pem" ] &&
	    [ -s "$CACHE/fixtures3.json" ] && [ -s "$CACHE/api-version" ]
}

cmd_build() {
	local go tmp src start
	mkdir -p "$ROOT/var/cache/stripe-mock"
	exec 9>"$ROOT/var/cache/stripe-mock/.lock"
	flock 9
	if built; then
		echo "$CACHE/stripe-mock"
		return
	fi
	go=$(gobin)
	tmp=$CACHE.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	start=$(date +%s)
	echo "stripe-mock: building $MODULE@$VERSION into $CACHE" >&2
	# Outside any module, so that nothing of this repository's applies.
	# nice: make test may run this beside the other tests.
	(cd "$tmp" && GOTOOLCHAIN=local GOBIN=$tmp GOFLAGS=-buildvcs=false \
	    nice -n 19 "$go" install "$MODULE@$VERSION") >&2 ||
	    { rm -rf "$tmp"; die "the build failed"; }
	src=$(cd "$tmp" && GOTOOLCHAIN=local "$go" env GOMODCACHE)/$MODULE@$VERSION/embedded
	# What the binary embeds: the certificate it serves and the fixtures.
	cp "$src/cert/cert.pem" "$tmp/cert.pem" &&
	    cp "$src/openapi/fixtures3.json" "$tmp/fixtures3.json" &&
	    jq -r .info.version "$src/openapi/spec3.json" >"$tmp/api-version" ||
	    { rm -rf "$tmp"; die "cannot copy the embedded files from $src"; }
	chmod 644 "$tmp/cert.pem" "$tmp/fixtures3.json"
	echo "$(( $(date +%s) - start ))" >"$tmp/build-seconds"
	rm -rf "$CACHE"
	mv "$tmp" "$CACHE"
	# Other versions are not used again.
	find "$ROOT/var/cache/stripe-mock" -mindepth 1 -maxdepth 1 -type d \
	    ! -path "$CACHE" ! -name '*.tmp.*' -exec rm -rf {} +
	echo "$CACHE/stripe-mock"
}

tail_log() {
	echo "--- last lines of $DIR/stripe-mock.log" >&2
	tail -n 15 "$DIR/stripe-mock.log" >&2 || true
}

# answers: ours listens (it says so once bound) and answers over verified
# TLS; any HTTP answer (401 without a key) will do.
answers() {
	local code
	tail -c "+$((LOG_OFFSET + 1))" "$DIR/stripe-mock.log" 2>/dev/null |
	    grep -qF "Listening for HTTPS at address: 127.0.0.1:$PORT" || return 1
	code=$(curl -s --max-time 2 --cacert "$DIR/stripe-mock-ca.pem" \
	    -o /dev/null -w '%{http_code}' "https://localhost:$PORT/v1/customers" \
	    2>/dev/null || true)
	[ -n "$code" ] && [ "$code" != 000 ]
}

cmd_start() {
	local bin fixtures=${3:-} args deadline pid
	DIR=$1
	PORT=$2
	case $PORT in ''|*[!0-9]*) die "PORT: a number" ;; esac
	if [ -n "$fixtures" ]; then
		[ -f "$fixtures" ] || die "no fixtures file $fixtures"
		case $fixtures in *.json|*.JSON) ;; *) die "the fixtures file must end in .json" ;; esac
		fixtures=$(cd "$(dirname "$fixtures")" && pwd)/$(basename "$fixtures")
	fi
	bin=$(cmd_build)
	mkdir -p "$DIR"
	DIR=$(cd "$DIR" && pwd)
	if [ -s "$DIR/stripe-mock.pid" ] && kill -0 "$(cat "$DIR/stripe-mock.pid")" 2>/dev/null; then
		die "$DIR already has a stripe-mock"
	fi
	if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
		die "something already listens on 127.0.0.1:$PORT"
	fi
	install -m 644 "$CACHE/cert.pem" "$DIR/stripe-mock-ca.pem"
	# The log grows across starts; this start's lines begin here.
	LOG_OFFSET=$(stat -c %s "$DIR/stripe-mock.log" 2>/dev/null || echo 0)
	args=(-https-addr "127.0.0.1:$PORT")
	# stripe-mock opens plain HTTP too unless told where (with only
	# -https-addr it takes :12111, or :$PORT from the environment, on every
	# address): a Unix socket here, or loopback on a port the system picks
	# when the path is too long for a socket.
	rm -f "$DIR/stripe-mock.sock"
	if [ ${#DIR} -lt 90 ]; then
		args+=(-http-unix "$DIR/stripe-mock.sock")
	else
		args+=(-http-addr 127.0.0.1:0)
	fi
	[ -z "$fixtures" ] || args+=(-fixtures "$fixtures")
	# setsid: its own process group, so that stop reaches only it.
	setsid env -u PORT "$bin" "${args[@]}" </dev/null >>"$DIR/stripe-mock.log" 2>&1 &
	pid=$!
	echo "$pid" >"$DIR/stripe-mock.pid"
	cat >"$DIR/stripe-mock.env" <<EOF
STRIPE_MOCK_URL=https://localhost:$PORT
STRIPE_MOCK_CA_FILE=$DIR/stripe-mock-ca.pem
STRIPE_MOCK_VERSION=$VERSION
STRIPE_MOCK_API_VERSION=$(cat "$CACHE/api-version")
EOF
	deadline=$(( $(date +%s) + START_TIMEOUT ))
	until answers; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail_log
			rm -f "$DIR/stripe-mock.pid"
			die "stripe-mock exited during its start"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			tail_log
			cmd_stop "$DIR"
			die "stripe-mock did not answer on https://localhost:$PORT within ${START_TIMEOUT}s"
		fi
		sleep 0.2
	done
}

# stop_pid FILE: TERM the process group the pid file names, then KILL.
stop_pid() {
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(cat "$f")
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
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
	stop_pid "$d/stripe-mock.pid"
	rm -f "$d/stripe-mock.sock"
}

cmd_fixtures() {
	local out=$1 tmp
	command -v jq >/dev/null 2>&1 || die "jq not found"
	cmd_build >/dev/null
	tmp=$out.tmp.$$
	# The overrides: {"resources": {NAME: {...}}} or {NAME: {...}}, each
	# merged into the bundled resource of that name (jq's *).
	if ! jq --slurpfile o /dev/stdin \
	    '($o[0] // {}) as $o
	    | if ($o | type) != "object" then error("the overrides must be a JSON object") else . end
	    | (if ($o | has("resources")) then $o.resources else $o end) as $r
	    | reduce ($r | to_entries[]) as $e (.;
		.resources[$e.key] = ((.resources[$e.key] // {}) * $e.value))' \
	    "$CACHE/fixtures3.json" >"$tmp"; then
		rm -f "$tmp"
		die "cannot write $out"
	fi
	mv -f "$tmp" "$out"
}

case ${1:-} in
build)	[ $# -eq 1 ] || die "usage: stripe-mock.sh build"
	cmd_build ;;
start)	[ $# -eq 3 ] || [ $# -eq 4 ] ||
	    die "usage: stripe-mock.sh start DIR PORT [FIXTURES.json]"
	shift; cmd_start "$@" ;;
stop)	[ $# -eq 2 ] || die "usage: stripe-mock.sh stop DIR"
	cmd_stop "$2" ;;
fixtures)
	[ $# -eq 2 ] || die "usage: stripe-mock.sh fixtures OUT.json < OVERRIDES.json"
	cmd_fixtures "$2" ;;
*)	die "usage: stripe-mock.sh build | start DIR PORT [FIXTURES.json] | stop DIR | fixtures OUT.json < OVERRIDES.json" ;;
esac
