#!/bin/bash
# make test: start an isolated stack from the sanitizer build on free ports
# in a temporary directory, run every TAP test under prove, tear the stack
# down, and fail on any test failure or any sanitizer report.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

. "$ROOT/t/lib/ports.sh"

TMP=$(mktemp -d /tmp/hxb-test.XXXXXX)
chmod 755 "$TMP"
SAN=$TMP/sanitizers
mkdir -p "$SAN"
chmod 777 "$SAN"

export PORT=$(free_port) PG_PORT=$(free_port) REDIS_PORT=$(free_port)
export NATS_PORT=$(free_port) IDP_PORT=$(free_port) GITHUB_PORT=$(free_port)
export TLS_PORT=$(free_port) STRIPE_PORT=$(free_port)
export WORKERS=${WORKERS:-2} NGINX_WORKERS=1 BUILD=build/asan STACK_FAST=1
# The test IdP with its test controls, and the GitHub stand-in.  The suite
# signs in far more often than a person: the sign-in limits are raised for
# 127.0.0.1, and t/api/auth_ratelimit.t checks them from other addresses.
export STACK_PEERS=test NGINX_AUTH_RATE=50r/s NGINX_AUTH_BURST=100
export STACK_ENV_FILE=$TMP/extra.env
# Keys: re-read every second, and JWKS cacheable for 2 s, so that a key
# rotation (t/api/rotate_keys.t, t/k8s/oidc.t) takes seconds, not minutes.
printf 'HXB_AUTH_RATE_LIMIT=100000\nHXB_KEYS_REFRESH_MS=1000\nHXB_JWKS_MAX_AGE_S=2\n' \
    >"$STACK_ENV_FILE"
# Sanitizer reports go to files, so that none is lost in a log; LSan is on.
export ASAN_OPTIONS="log_path=$SAN/asan:detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="log_path=$SAN/ubsan:print_stacktrace=1:halt_on_error=1"

export HXB_TEST_ROOT=$ROOT
export HXB_TEST_STACK=$TMP/stack
export HXB_TEST_BUILD=$ROOT/build/asan
export HXB_TEST_URL=http://127.0.0.1:$PORT
export HXB_TEST_ISSUER=https://127.0.0.1:$TLS_PORT
export HXB_TEST_SAN=$SAN

# The Kubernetes test bed's binaries are built once per machine; a first
# build takes minutes, so it runs (niced) beside the other tests, and the
# Kubernetes tests, last, wait for it.  HXB_SKIP_K8S=1 skips them.
k8s_build_pid=
if [ "${HXB_SKIP_K8S:-}" != 1 ]; then
	t/k8s/testbed.sh build >"$TMP/k8s-build.log" 2>&1 &
	k8s_build_pid=$!
fi

status=0
if ! t/stack.sh start "$HXB_TEST_STACK" >"$TMP/stack-start.log" 2>&1; then
	cat "$TMP/stack-start.log" >&2
	echo "make test: the test stack did not start" >&2
	status=1
fi

if [ $status -eq 0 ]; then
	# pgTAP lives only in the test database, never in a `make run` one.
	PGOPTIONS='-c client_min_messages=warning' \
	PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") psql -X -q \
	    -h "$HXB_TEST_STACK/run/pg" -p "$PG_PORT" -U postgres -d hexabase \
	    -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null || status=1
fi

prove_rc=1
if [ $status -eq 0 ]; then
	prove --norc t/unit/*.t t/sql/*.t t/api/*.t t/docs/*.t t/k8s/*.t
	prove_rc=$?
fi
if [ -n "$k8s_build_pid" ] && ! wait "$k8s_build_pid"; then
	echo "make test: the Kubernetes test bed's build failed:" >&2
	tail -n 30 "$TMP/k8s-build.log" >&2
fi

t/stack.sh stop "$HXB_TEST_STACK" >"$TMP/stack-stop.log" 2>&1 || true

reports=$(find "$SAN" -type f -size +0 2>/dev/null | sort)
if [ -n "$reports" ]; then
	echo "make test: sanitizer reports:"
	for f in $reports; do
		echo "--- $f"
		head -n 80 "$f"
	done
	echo "make test: logs kept in $TMP"
	echo "Result: FAIL (sanitizer reports)"
	exit 1
fi
if [ $status -ne 0 ] || [ $prove_rc -ne 0 ]; then
	echo "make test: logs kept in $TMP" >&2
	exit 1
fi
rm -rf "$TMP"
exit 0
