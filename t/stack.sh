#!/bin/bash
# The local stack: PostgreSQL, Redis, nats-server with JetStream, every
# handler as a spawn-fcgi + multiwatch pool, and nginx in front.
# Everything lives under one directory and listens on loopback only.
#
#   stack.sh run DIR              start, print what runs where, stay in the
#                                 foreground; Ctrl-C stops it all
#   stack.sh start DIR            start and return (tests)
#   stack.sh stop DIR             stop what start/run started, nothing else
#   stack.sh restart-handler DIR NAME
#                                 replace one handler pool, failing no request
#   stack.sh stop-service DIR postgres|redis|nats
#   stack.sh start-service DIR postgres|redis|nats
#   stack.sh env DIR              print the environment handlers get
#
# Settings (environment): PORT (8080), PG_PORT (55432), REDIS_PORT (56379),
# NATS_PORT (54222), IDP_PORT (55443, the development identity provider),
# TLS_PORT (8443: nginx over HTTPS with the development CA's certificate;
# the issuer, HXB_ISSUER, is https://127.0.0.1:TLS_PORT),
# GITHUB_PORT (the GitHub stand-in; only with STACK_PEERS=test),
# STRIPE_PORT (55445: stripe-mock, the Stripe API, at https://localhost:PORT),
# WORKERS (4 per handler), NGINX_WORKERS (2),
# NGINX_AUTH_RATE (10r/s) and NGINX_AUTH_BURST (20): nginx's sign-in limit,
# NGINX_WEBHOOK_RATE (50r/s) and NGINX_WEBHOOK_BURST (100): its limit on
# Stripe's webhook,
# BUILD (build), STACK_BENCH (1 adds the benchmark locations),
# STACK_FAST (1: PostgreSQL without fsync, for throwaway test stacks),
# STACK_PEERS (dev: the development IdP "dev"; test: also its test controls
# and a GitHub stand-in registered as "github"),
# STACK_ENV_FILE (a file of extra HXB_* lines every handler gets).
set -eEuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { sed -n '2,/^set /{/^#/p}' "$0" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

PORT=${PORT:-8080}
PG_PORT=${PG_PORT:-55432}
REDIS_PORT=${REDIS_PORT:-56379}
NATS_PORT=${NATS_PORT:-54222}
IDP_PORT=${IDP_PORT:-55443}
GITHUB_PORT=${GITHUB_PORT:-55444}
STRIPE_PORT=${STRIPE_PORT:-55445}
TLS_PORT=${TLS_PORT:-8443}
WORKERS=${WORKERS:-4}
NGINX_WORKERS=${NGINX_WORKERS:-2}
NGINX_AUTH_RATE=${NGINX_AUTH_RATE:-10r/s}
NGINX_AUTH_BURST=${NGINX_AUTH_BURST:-20}
NGINX_WEBHOOK_RATE=${NGINX_WEBHOOK_RATE:-50r/s}
NGINX_WEBHOOK_BURST=${NGINX_WEBHOOK_BURST:-100}
STACK_PEERS=${STACK_PEERS:-dev}
STACK_ENV_FILE=${STACK_ENV_FILE:-}
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
STACK_BENCH=${STACK_BENCH:-0}
STACK_FAST=${STACK_FAST:-0}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

SECRETS=$DIR/secrets
TLS=$DIR/tls
LOG=$DIR/log
PIDS=$DIR/pids
STATE=$DIR/stack.env

say() { printf 'stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# PostgreSQL refuses to run as root; as root it runs as the Debian
# "postgres" user, which must be able to reach its directory.
as_pg() {
	if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

handlers() {
	local h
	for h in "$BUILD"/handlers/*; do
		[ -x "$h" ] && basename "$h"
	done
}

secret() {	# secret NAME: create once, 32 random bytes as hex
	local f=$SECRETS/$1
	if [ ! -s "$f" ]; then
		(umask 077; openssl rand -hex 32 >"$f")
	fi
	printf '%s' "$f"
}

# prefixed_secret NAME PREFIX BYTES: create once, PREFIX and BYTES random
# bytes as hex (the shape of a Stripe key or webhook secret).
prefixed_secret() {
	local f=$SECRETS/$1
	if [ ! -s "$f" ]; then
		(umask 077; printf '%s%s\n' "$2" "$(openssl rand -hex "$3")" >"$f")
	fi
	printf '%s' "$f"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

pidfile_alive() {
	local f=$PIDS/$1.pid
	[ -s "$f" ] && pid_alive "$(cat "$f")"
}

# wait_for DESC SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local desc=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	say "$desc did not come up in ${secs}s"
	return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_pid NAME SIGNAL: signal, wait up to 15 s, then SIGKILL.
stop_pid() {
	local name=$1 sig=$2 f=$PIDS/$1.pid pid i
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	if pid_alive "$pid"; then
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < 150; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
		if pid_alive "$pid"; then
			say "$name ($pid) ignored SIG$sig; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

layout() {
	mkdir -p "$SECRETS" "$LOG" "$PIDS" "$DIR/redis" "$DIR/nats" \
	    "$DIR/nginx" "$DIR/idp"
	chmod 700 "$SECRETS"
	# The run directory holds sockets for nginx's workers and PostgreSQL
	# owned by other users, so it must be reachable by them.  If DIR sits
	# somewhere they cannot traverse (say /root), it goes to /tmp with a
	# link from DIR.
	RUN=$DIR/run
	PGDATA=$DIR/pg
	chmod 755 "$DIR"
	if is_root && ! runuser -u nobody -- test -x "$DIR/." 2>/dev/null; then
		local alt
		alt=/tmp/hxb-stack-$(printf '%s' "$DIR" | sha1sum | cut -c1-12)
		mkdir -p "$alt/run" "$alt/pg"
		chmod 755 "$alt" "$alt/run"
		ln -sfn "$alt/run" "$DIR/run"
		ln -sfn "$alt/pg" "$DIR/pg"
		RUN=$alt/run
		PGDATA=$alt/pg
	fi
	mkdir -p "$RUN" "$RUN/nginx-tmp" "$RUN/pg" "$PGDATA"
	chmod 755 "$RUN"
	if is_root; then
		chown postgres: "$RUN/pg" "$PGDATA"
		chmod 700 "$PGDATA"
	fi
}

write_state() {
	cat >"$STATE" <<EOS
PORT=$PORT
PG_PORT=$PG_PORT
REDIS_PORT=$REDIS_PORT
NATS_PORT=$NATS_PORT
WORKERS=$WORKERS
NGINX_WORKERS=$NGINX_WORKERS
BUILD=$BUILD
RUN=$RUN
PGDATA=$PGDATA
STACK_BENCH=$STACK_BENCH
IDP_PORT=$IDP_PORT
GITHUB_PORT=$GITHUB_PORT
TLS_PORT=$TLS_PORT
STRIPE_PORT=$STRIPE_PORT
NGINX_AUTH_RATE=$NGINX_AUTH_RATE
NGINX_AUTH_BURST=$NGINX_AUTH_BURST
NGINX_WEBHOOK_RATE=$NGINX_WEBHOOK_RATE
NGINX_WEBHOOK_BURST=$NGINX_WEBHOOK_BURST
STACK_PEERS=$STACK_PEERS
EOS
	if [ -n "$STACK_ENV_FILE" ]; then
		cp "$STACK_ENV_FILE" "$DIR/extra.env"
	else
		: >"$DIR/extra.env"
	fi
}

load_state() {
	[ -s "$STATE" ] || die "no stack in $DIR (nothing to do)"
	# shellcheck disable=SC1090
	. "$STATE"
}

# The environment every handler and job gets.
handler_env() {
	cat <<EOS
HXB_DATABASE_URL=host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_app
HXB_DATABASE_PASSWORD_FILE=$SECRETS/pg_app
HXB_REDIS_ADDR=$RUN/redis.sock
HXB_REDIS_PASSWORD_FILE=$SECRETS/redis
HXB_NATS_URL=nats://127.0.0.1:$NATS_PORT
HXB_NATS_TOKEN_FILE=$SECRETS/nats
HXB_MIGRATIONS_DIR=$ROOT/sql
HXB_MASTER_KEY_FILE=$SECRETS/master_key
HXB_PUBLIC_URL=http://127.0.0.1:$PORT
HXB_ISSUER=https://127.0.0.1:$TLS_PORT
HXB_DEV_MODE=true
HXB_TLS_CA_FILE=$TLS/bundle.pem
HXB_IDP_DEV_KIND=oidc
HXB_IDP_DEV_ISSUER=https://127.0.0.1:$IDP_PORT
HXB_IDP_DEV_CLIENT_ID=hexabase-dev
HXB_IDP_DEV_CLIENT_SECRET_FILE=$SECRETS/idp_dev_client
HXB_STRIPE_API_URL=https://localhost:$STRIPE_PORT
HXB_STRIPE_SECRET_KEY_FILE=$SECRETS/stripe_secret_key
HXB_STRIPE_WEBHOOK_SECRET_FILE=$SECRETS/stripe_webhook_secret
EOS
	if [ "$STACK_PEERS" = test ]; then
		cat <<EOS
HXB_IDP_GITHUB_KIND=github
HXB_IDP_GITHUB_CLIENT_ID=hexabase-gh
HXB_IDP_GITHUB_CLIENT_SECRET_FILE=$SECRETS/idp_github_client
HXB_IDP_GITHUB_AUTH_URL=https://127.0.0.1:$GITHUB_PORT/login/oauth/authorize
HXB_IDP_GITHUB_TOKEN_URL=https://127.0.0.1:$GITHUB_PORT/login/oauth/access_token
HXB_IDP_GITHUB_API_URL=https://127.0.0.1:$GITHUB_PORT
EOS
	fi
	[ ! -s "$DIR/extra.env" ] || grep -E '^HXB_[A-Z0-9_]+=' "$DIR/extra.env"
}

# --- PostgreSQL -----------------------------------------------------------

pg_start() {
	local pw opts
	pw=$(secret pg_super)
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		say "initdb $PGDATA"
		local pwtmp=$RUN/pg/.pwfile
		install -m 600 "$pw" "$pwtmp"
		is_root && chown postgres: "$pwtmp"
		as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 \
		    --locale=C --auth=scram-sha-256 --pwfile="$pwtmp" \
		    >"$LOG/initdb.log" 2>&1 || {
			rm -f "$pwtmp"
			cat "$LOG/initdb.log" >&2
			die "initdb failed"
		}
		rm -f "$pwtmp"
	fi
	opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT"
	opts+=" -c unix_socket_directories=$RUN/pg"
	opts+=" -c logging_collector=off -c log_min_messages=warning"
	if [ "$STACK_FAST" = 1 ]; then
		opts+=" -c fsync=off -c synchronous_commit=off"
		opts+=" -c full_page_writes=off"
	fi
	ln -sfn "$RUN/pg/postgres.log" "$LOG/postgres.log"
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RUN/pg/postgres.log" \
	    -o "$opts" -w -t 60 start >/dev/null || {
		tail -n 20 "$RUN/pg/postgres.log" >&2
		die "PostgreSQL did not start"
	}
}

pg_stop() {
	[ -s "$PGDATA/postmaster.pid" ] || return 0
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null ||
	    say "PostgreSQL did not stop cleanly"
}

psql_super() {
	PGOPTIONS='-c client_min_messages=warning' \
	PGPASSWORD=$(cat "$SECRETS/pg_super") psql -X -q -v ON_ERROR_STOP=1 \
	    -h "$RUN/pg" -p "$PG_PORT" -U postgres "$@"
}

# Roles and database, idempotently.  Passwords travel through psql's
# environment (\getenv), never its command line.
pg_bootstrap() {
	HXB_PW_OWNER=$(cat "$(secret pg_owner)") \
	HXB_PW_APP=$(cat "$(secret pg_app)") \
	psql_super -d postgres >/dev/null <<'EOS'
\getenv pw_owner HXB_PW_OWNER
\getenv pw_app HXB_PW_APP
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hxb_owner') AS mk_owner,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hxb_app') AS mk_app,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = 'hexabase') AS mk_db
\gset
\if :mk_owner
CREATE ROLE hxb_owner LOGIN;
\endif
\if :mk_app
CREATE ROLE hxb_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
\endif
ALTER ROLE hxb_owner PASSWORD :'pw_owner';
ALTER ROLE hxb_app PASSWORD :'pw_app';
\if :mk_db
CREATE DATABASE hexabase OWNER hxb_owner;
\endif
REVOKE ALL ON DATABASE hexabase FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE hexabase TO hxb_app;
EOS
}

migrate() {
	env HXB_DATABASE_URL="host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner" \
	    HXB_DATABASE_PASSWORD_FILE="$SECRETS/pg_owner" \
	    HXB_MIGRATIONS_DIR="$ROOT/sql" \
	    HXB_MASTER_KEY_FILE="$(secret master_key)" \
	    HXB_NATS_URL="nats://127.0.0.1:$NATS_PORT" \
	    HXB_NATS_TOKEN_FILE="$SECRETS/nats" \
	    "$BUILD/jobs/migrate" 2>>"$LOG/migrate.log" >&2 || {
		tail -n 20 "$LOG/migrate.log" >&2
		die "migrations failed"
	}
}

# A local stack bills through stripe-mock, which takes any price id: each
# paid plan gets one (price_hxb_<plan>) unless it has one.  A production
# database is given the real ones by its operator (docs/CONFIG.md).
dev_prices() {
	psql_super -d hexabase -c "UPDATE plans SET stripe_price_id = 'price_hxb_' || id
	    WHERE price_cents > 0 AND stripe_price_id IS NULL" >/dev/null
}

# --- Redis and NATS -------------------------------------------------------

redis_start() {
	local conf=$DIR/redis/redis.conf
	(umask 077; cat >"$conf" <<EOS
bind 127.0.0.1
port $REDIS_PORT
protected-mode yes
unixsocket $RUN/redis.sock
unixsocketperm 700
dir $DIR/redis
daemonize no
logfile $LOG/redis.log
save 300 10
appendonly no
requirepass $(cat "$(secret redis)")
EOS
	)
	setsid redis-server "$conf" </dev/null >>"$LOG/redis.log" 2>&1 &
	echo $! >"$PIDS/redis.pid"
	wait_for Redis 20 env REDISCLI_AUTH="$(cat "$SECRETS/redis")" \
	    redis-cli -s "$RUN/redis.sock" ping || die "see $LOG/redis.log"
}

redis_stop() { stop_pid redis TERM; }

nats_start() {
	local conf=$DIR/nats/nats.conf
	(umask 077; cat >"$conf" <<EOS
listen: 127.0.0.1:$NATS_PORT
server_name: hxb-local
jetstream {
    store_dir: "$DIR/nats"
    max_memory_store: 256MB
    max_file_store: 2GB
}
authorization {
    token: "$(cat "$(secret nats)")"
}
EOS
	)
	setsid nats-server -c "$conf" -l "$LOG/nats.log" </dev/null \
	    >>"$LOG/nats.log" 2>&1 &
	echo $! >"$PIDS/nats.pid"
	wait_for NATS 20 port_open "$NATS_PORT" || die "see $LOG/nats.log"
}

nats_stop() { stop_pid nats TERM; }

# --- identity providers and Stripe ------------------------------------------
#
# The development IdP is a real OpenID Provider (the npm package
# oidc-provider, t/peers/idp.mjs) over HTTPS with a development CA, so that
# sign-in runs the same code path as in production.  Its client secret is a
# stack secret.  Test stacks add its test controls and the GitHub stand-in.
#
# Stripe is stripe-mock, Stripe's own mock of its API (t/peers/stripe-mock.sh,
# built once per machine with Go), for every stack.  It serves a certificate
# of its own for "localhost" (self-signed, embedded in it), so handlers call
# https://localhost:STRIPE_PORT and trust $TLS/bundle.pem: the development
# CA and that certificate.  Without Go, `make run` goes on without it (the
# billing calls fail); a test stack does not start.

stripe_start() {
	local bundle=$TLS/bundle.pem
	prefixed_secret stripe_secret_key sk_test_ 12 >/dev/null
	prefixed_secret stripe_webhook_secret whsec_ 16 >/dev/null
	if ! "$ROOT/t/peers/stripe-mock.sh" start "$DIR/stripe" "$STRIPE_PORT"; then
		[ "$STACK_PEERS" = test ] && die "stripe-mock did not start"
		say "WARNING: stripe-mock did not start (see above): calls to Stripe (billing) fail"
	fi
	# The bundle: the development CA, and stripe-mock's certificate when
	# there is one.
	cat "$TLS/ca.crt" >"$bundle.tmp"
	if [ -s "$DIR/stripe/stripe-mock-ca.pem" ]; then
		cat "$DIR/stripe/stripe-mock-ca.pem" >>"$bundle.tmp"
	fi
	chmod 644 "$bundle.tmp"
	mv -f "$bundle.tmp" "$bundle"
}

stripe_stop() {
	"$ROOT/t/peers/stripe-mock.sh" stop "$DIR/stripe" ||
	    say "stripe-mock did not stop cleanly"
}

peers_start() {
	local pw gh tc=()
	"$ROOT/t/tls.sh" "$TLS"
	stripe_start
	"$ROOT/t/peers/install.sh" || die "cannot install the test peers (npm)"
	pw=$(cat "$(secret idp_dev_client)")
	(umask 077; cat >"$DIR/idp/clients.json" <<EOS
[{"client_id": "hexabase-dev", "client_secret": "$pw",
  "redirect_uris": ["http://127.0.0.1:$PORT/auth/callback/dev"]}]
EOS
	)
	[ "$STACK_PEERS" = test ] && tc=(--test-controls)
	setsid node "$ROOT/t/peers/idp.mjs" --port "$IDP_PORT" \
	    --cert "$TLS/server.crt" --key "$TLS/server.key" \
	    --clients "$DIR/idp/clients.json" --jwks "$DIR/idp/jwks.json" \
	    "${tc[@]}" </dev/null >>"$LOG/idp.log" 2>&1 &
	echo $! >"$PIDS/idp.pid"
	if [ "$STACK_PEERS" = test ]; then
		gh=$(cat "$(secret idp_github_client)")
		setsid env GH_CLIENT_SECRET="$gh" node "$ROOT/t/peers/github.mjs" \
		    --port "$GITHUB_PORT" --cert "$TLS/server.crt" \
		    --key "$TLS/server.key" --client-id hexabase-gh \
		    --redirect-prefix "http://127.0.0.1:$PORT/auth/callback/github" \
		    </dev/null >>"$LOG/github.log" 2>&1 &
		echo $! >"$PIDS/github.pid"
		wait_for "GitHub stand-in" 30 port_open "$GITHUB_PORT" ||
		    die "see $LOG/github.log"
	fi
	wait_for "development IdP" 30 port_open "$IDP_PORT" ||
	    die "see $LOG/idp.log"
}

peers_stop() {
	stop_pid github TERM
	stop_pid idp TERM
	stripe_stop
}

# --- handlers --------------------------------------------------------------

# pool_spawn NAME BINARY SOCKET PIDNAME: a spawn-fcgi + multiwatch pool.
pool_spawn() {
	local name=$1 bin=$2 sock=$3 pidname=$4 owner=()
	rm -f "$sock"
	is_root && owner=(-U nobody -G nogroup)
	setsid "$0" with-env "$DIR" \
	    spawn-fcgi -s "$sock" -M 0600 "${owner[@]}" -n -- \
	    /usr/bin/multiwatch -f "$WORKERS" -s TERM -- "$bin" \
	    </dev/null >>"$LOG/$name.log" 2>&1 &
	echo $! >"$PIDS/$pidname.pid"
}

# A real FastCGI request straight to a pool: its answer proves it serves.
pool_probe() {
	local sock=$1 out
	out=$(env -i REQUEST_METHOD=GET REQUEST_URI=/__probe SERVER_PROTOCOL=HTTP/1.1 \
	    HTTP_X_REQUEST_ID=stack-probe cgi-fcgi -bind -connect "$sock" \
	    2>/dev/null) || return 1
	case $out in Status:*) return 0 ;; esac
	return 1
}

handlers_start() {
	local h
	for h in $(handlers); do
		pool_spawn "$h" "$BUILD/handlers/$h" "$RUN/$h.sock" "handler-$h"
	done
	if [ "$STACK_BENCH" = 1 ]; then
		pool_spawn bench-hello "$BUILD/t/bench/hello" \
		    "$RUN/bench-hello.sock" handler-bench-hello
	fi
	for h in $(handlers); do
		wait_for "handler $h" 20 pool_probe "$RUN/$h.sock" ||
		    die "see $LOG/$h.log"
	done
}

handlers_stop() {
	local f
	for f in "$PIDS"/handler-*.pid; do
		[ -e "$f" ] || continue
		f=$(basename "$f" .pid)
		stop_pid "$f" TERM
	done
}

# The zero-failure swap: the new pool listens on a new socket and proves it
# serves; rename(2) then points the stable path at it atomically, so every
# new connection from nginx reaches the new pool.  The old pool keeps
# serving what it has already accepted or queued, and only then is asked to
# stop; it finishes its requests and drains its queue before exiting.
restart_handler() {
	local name=$1 bin=$BUILD/handlers/$1
	local sock=$RUN/$name.sock new=$RUN/$name.sock.new
	local oldpid
	[ -x "$bin" ] || die "no handler $name in $BUILD/handlers"
	oldpid=$(cat "$PIDS/handler-$name.pid" 2>/dev/null || true)
	pool_spawn "$name" "$bin" "$new" "handler-$name.new"
	if ! wait_for "new $name pool" 20 pool_probe "$new"; then
		stop_pid "handler-$name.new" TERM
		rm -f "$new"
		die "the new $name pool does not serve; the old one stays (see $LOG/$name.log)"
	fi
	mv -f "$new" "$sock"
	mv -f "$PIDS/handler-$name.new.pid" "$PIDS/handler-$name.pid"
	sleep 1
	if pid_alive "$oldpid"; then
		echo "$oldpid" >"$PIDS/handler-$name.old.pid"
		stop_pid "handler-$name.old" TERM
	fi
	say "handler $name replaced (pool $(cat "$PIDS/handler-$name.pid"))"
}

# --- nginx -------------------------------------------------------------------

nginx_render() {
	local user=
	is_root && user="user nobody nogroup;"
	: >"$DIR/nginx/bench-upstreams.conf"
	: >"$DIR/nginx/bench-locations.conf"
	# The same server over HTTPS: the issuer's address.
	cat >"$DIR/nginx/tls.conf" <<EOS
listen 127.0.0.1:$TLS_PORT ssl;
ssl_certificate $TLS/server.crt;
ssl_certificate_key $TLS/server.key;
ssl_protocols TLSv1.2 TLSv1.3;
EOS
	if [ "$STACK_BENCH" = 1 ]; then
		cat >"$DIR/nginx/bench-upstreams.conf" <<EOS
upstream hxb_bench_hello {
    server unix:$RUN/bench-hello.sock;
}
EOS
		cat >"$DIR/nginx/bench-locations.conf" <<EOS
location = /bench/hello {
    include $ROOT/nginx/fastcgi.conf;
    fastcgi_pass hxb_bench_hello;
}
location = /bench/static {
    return 200 '{"hello":"world"}';
}
EOS
	fi
	sed -e "s|@USER@|$user|" \
	    -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|" \
	    -e "s|@PREFIX@|$DIR/nginx|g" \
	    -e "s|@LOG@|$LOG|g" \
	    -e "s|@RUN@|$RUN|g" \
	    -e "s|@CONF@|$ROOT/nginx|g" \
	    -e "s|@LISTEN@|127.0.0.1:$PORT|g" \
	    -e "s|@PORT@|$PORT|g" \
	    -e "s|@AUTH_RATE@|$NGINX_AUTH_RATE|g" \
	    -e "s|@AUTH_BURST@|$NGINX_AUTH_BURST|g" \
	    -e "s|@WEBHOOK_RATE@|$NGINX_WEBHOOK_RATE|g" \
	    -e "s|@WEBHOOK_BURST@|$NGINX_WEBHOOK_BURST|g" \
	    "$ROOT/nginx/nginx.conf.in" >"$DIR/nginx/nginx.conf"
}

nginx_start() {
	nginx_render
	nginx -t -q -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" \
	    -e "$LOG/nginx-error.log" || die "nginx configuration is invalid"
	setsid nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" \
	    -e "$LOG/nginx-error.log" -g 'daemon off;' </dev/null \
	    >>"$LOG/nginx-error.log" 2>&1 &
	echo $! >"$PIDS/nginx.pid"
	wait_for nginx 20 port_open "$PORT" || die "see $LOG/nginx-error.log"
	wait_for "nginx over HTTPS" 20 port_open "$TLS_PORT" ||
	    die "see $LOG/nginx-error.log"
}

nginx_stop() { stop_pid nginx QUIT; }

# --- the lifecycle jobs (make run) ----------------------------------------
# The provisioner pool and reconcile every minute, as the owner, against
# HXB_HOST_KUBECONFIG when the environment (or STACK_ENV_FILE) names a
# host cluster; otherwise against a local stand-in for K3s: a real
# kube-apiserver (t/k8s/testbed.sh, built once from the Go modules) with
# t/k8s/fake-k3s.sh playing helm-controller and giving each workspace an
# API server of its own that trusts our issuer.

job_env() {
	handler_env | grep -v '^HXB_DATABASE_URL=\|^HXB_DATABASE_PASSWORD_FILE='
	cat <<EOS
HXB_DATABASE_URL=host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner
HXB_DATABASE_PASSWORD_FILE=$SECRETS/pg_owner
HXB_ISSUER_CA_FILE=$TLS/ca.crt
HXB_HOST_KUBECONFIG=$HOST_KUBECONFIG
EOS
}

# Billing: billing-sync serving its requests, and its schedule (every five
# minutes; a CronJob in k8s/).  Neither needs Kubernetes.
billing_jobs_start() {
	local e
	HOST_KUBECONFIG=
	mapfile -t e < <(job_env | grep -v '^HXB_HOST_KUBECONFIG=')
	setsid env "${e[@]}" "$BUILD/jobs/billing-sync" --listen \
	    </dev/null >>"$LOG/billing-sync.log" 2>&1 &
	echo $! >"$PIDS/billing-sync.pid"
	setsid bash -c 'trap "kill \$! 2>/dev/null; exit 0" TERM
	    while :; do env "$@" >/dev/null; sleep 300 & wait $!; done' billing \
	    "${e[@]}" "$BUILD/jobs/billing-sync" </dev/null >>"$LOG/billing-sync.log" 2>&1 &
	echo $! >"$PIDS/billing-schedule.pid"
}

jobs_start() {
	local host=${HXB_HOST_KUBECONFIG:-} e
	billing_jobs_start
	[ -n "$host" ] || host=$(sed -n 's/^HXB_HOST_KUBECONFIG=//p' "$DIR/extra.env" 2>/dev/null | tail -n 1)
	if [ -z "$host" ]; then
		say "local Kubernetes for the workspaces (the first run builds kube-apiserver; minutes)"
		if ! "$ROOT/t/k8s/testbed.sh" start "$DIR/k8s/host" host >"$LOG/k8s.log" 2>&1; then
			"$ROOT/t/k8s/testbed.sh" stop "$DIR/k8s/host" >/dev/null 2>&1
			say "no local Kubernetes (see $LOG/k8s.log): workspaces stay pending; set HXB_HOST_KUBECONFIG"
			return 0
		fi
		setsid env FAKE_K3S_SPAWN=1 "$ROOT/t/k8s/fake-k3s.sh" "$DIR/k8s/host" - \
		    </dev/null >>"$LOG/fake-k3s.log" 2>&1 &
		echo $! >"$PIDS/fake-k3s.pid"
		host=$DIR/k8s/host/admin.kubeconfig
	fi
	HOST_KUBECONFIG=$host
	mapfile -t e < <(job_env)
	setsid env "${e[@]}" multiwatch -f 2 -- "$BUILD/jobs/provisioner" \
	    </dev/null >>"$LOG/provisioner.log" 2>&1 &
	echo $! >"$PIDS/provisioner.pid"
	setsid bash -c 'trap "kill \$! 2>/dev/null; exit 0" TERM
	    while :; do env "$@" >/dev/null; sleep 60 & wait $!; done' reconcile \
	    "${e[@]}" "$BUILD/jobs/reconcile" </dev/null >>"$LOG/reconcile.log" 2>&1 &
	echo $! >"$PIDS/reconcile.pid"
}

jobs_stop() {
	stop_pid billing-schedule TERM
	stop_pid billing-sync TERM
	stop_pid reconcile TERM
	stop_pid provisioner TERM
	stop_pid fake-k3s TERM
	[ -d "$DIR/k8s/host" ] && "$ROOT/t/k8s/testbed.sh" stop "$DIR/k8s/host" >/dev/null 2>&1
	return 0
}

# --- whole stack -----------------------------------------------------------

start_all() {
	[ -x "$BUILD/jobs/migrate" ] || die "nothing built in $BUILD; run make"
	if pidfile_alive nginx; then
		die "a stack already runs in $DIR; stop it first (make stop)"
	fi
	layout
	write_state
	trap 'rc=$?; if [ $rc -ne 0 ]; then
		say "start failed; stopping what started"; stop_all; fi' EXIT
	pg_start
	pg_bootstrap
	redis_start
	nats_start
	migrate		# also creates the JetStream stream
	dev_prices
	peers_start
	handlers_start
	nginx_start
	trap - EXIT
}

stop_all() {
	jobs_stop
	nginx_stop
	handlers_stop
	peers_stop
	nats_stop
	redis_stop
	pg_stop
}

stripe_banner() {
	if [ -s "$DIR/stripe/stripe-mock.pid" ]; then
		echo "https://localhost:$STRIPE_PORT (stripe-mock, any sk_test_ key; CA $TLS/bundle.pem)"
	else
		echo "none: stripe-mock did not start (needs Go); billing calls fail"
	fi
}

banner() {
	cat <<EOS

Hexabase control plane: http://127.0.0.1:$PORT
  nginx       127.0.0.1:$PORT          logs $LOG/nginx-*.log
  issuer      https://127.0.0.1:$TLS_PORT (the same server over HTTPS; CA $TLS/ca.crt)
  handlers    $(handlers | tr '\n' ' ')($WORKERS workers each, sockets in $RUN)
  PostgreSQL  127.0.0.1:$PG_PORT and $RUN/pg   data $PGDATA
  Redis       127.0.0.1:$REDIS_PORT and $RUN/redis.sock
  NATS        nats://127.0.0.1:$NATS_PORT (JetStream in $DIR/nats)
  dev IdP     https://127.0.0.1:$IDP_PORT (any login and password; CA $TLS/ca.crt)
  Stripe      $(stripe_banner)
  secrets     $SECRETS
  try         curl -s 127.0.0.1:$PORT/readyz
  sign in     open http://127.0.0.1:$PORT/auth/login/dev in a browser, or see README
  kubectl     export PATH=$DIR/bin:\$PATH; hxb-credential login --server http://127.0.0.1:$PORT
              then the workspace's kubeconfig (README, "kubectl")
  jobs        provisioner x2 and reconcile every minute, logs $LOG/provisioner.log;
              billing-sync serving requests and every 5 minutes, $LOG/billing-sync.log
  webhook     Stripe events: POST http://127.0.0.1:$PORT/webhooks/stripe, signed with $SECRETS/stripe_webhook_secret
  swap one    make restart-handler H=plans
  stop        Ctrl-C, or make stop

EOS
}

case $cmd in
run)
	start_all
	jobs_start
	# The kubectl plugin, where a shell can find it (PATH=$DIR/bin:$PATH).
	mkdir -p "$DIR/bin"
	ln -sfn "$BUILD/jobs/hxb-credential" "$DIR/bin/hxb-credential"
	banner
	sleeper=
	trap 'echo; say "stopping"; [ -z "$sleeper" ] || kill "$sleeper" \
	    2>/dev/null; stop_all; exit 0' INT TERM HUP
	while :; do
		sleep 3600 &
		sleeper=$!
		wait "$sleeper" || true
	done
	;;
start)
	start_all
	;;
stop)
	if [ ! -s "$STATE" ]; then
		say "no stack in $DIR; nothing to stop"
		exit 0
	fi
	load_state
	stop_all
	;;
restart-handler)
	load_state
	[ -n "${3:-}" ] || die "usage: stack.sh restart-handler DIR NAME"
	restart_handler "$3"
	;;
stop-service|start-service)
	load_state
	svc=${3:-}
	case $cmd:$svc in
	stop-service:postgres) pg_stop ;;
	start-service:postgres) pg_start ;;
	stop-service:redis) redis_stop ;;
	start-service:redis) redis_start ;;
	stop-service:nats) nats_stop ;;
	start-service:nats) nats_start ;;
	*) die "unknown service: $svc" ;;
	esac
	;;
env)
	load_state
	handler_env
	;;
with-env)	# internal: exec a command with the handler environment
	load_state
	shift 2
	mapfile -t henv < <(handler_env)
	exec env "${henv[@]}" "$@"
	;;
*)
	sed -n '2,/^set /{/^#/p}' "$0" >&2
	exit 2
	;;
esac
