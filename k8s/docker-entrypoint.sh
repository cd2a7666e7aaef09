#!/bin/bash
# Entrypoint of the Hexabase control-plane image (Dockerfile, k8s/).
#
#   docker-entrypoint.sh [serve]    render nginx.conf, start one spawn-fcgi +
#                                   multiwatch pool per handler, run nginx in
#                                   the foreground and supervise them all
#   docker-entrypoint.sh migrate [--status]
#                                   run jobs/migrate, exit with its status
#   docker-entrypoint.sh CMD...     run anything else (a shell, say)
#
# serve stops everything and exits non-zero as soon as nginx or a handler
# pool dies, so that the orchestrator restarts the container.  On SIGTERM
# or SIGINT it stops nginx gracefully (QUIT: in-flight requests finish),
# then the pools (TERM: each worker finishes its request), then exits 0.
#
# Settings (environment; all optional):
#   HXB_WORKERS=4             FastCGI workers in each handler's pool
#   HXB_NGINX_WORKERS=2       nginx worker processes, or "auto"
#   HXB_HTTP_PORT=8080        the port nginx listens on (unprivileged)
#   HXB_HTTP_LISTEN           the whole value of nginx's "listen"; default
#                             HXB_HTTP_PORT alone, i.e. every IPv4 address
#                             (use "[::]:8080 ipv6only=off" for IPv6 too)
#   HXB_MIGRATE_ON_START=0    1: run jobs/migrate before serving, and fail
#                             if it fails (Kubernetes: prefer the Job)
#   HXB_MIGRATE_DATABASE_URL, HXB_MIGRATE_DATABASE_PASSWORD_FILE
#                             connection string and password file of the
#                             owner role (hxb_owner) for migrate; they
#                             replace HXB_DATABASE_URL and its password for
#                             migrate only
#   HXB_SHUTDOWN_TIMEOUT=30   seconds nginx, then the pools, get to finish
#                             after SIGTERM before they are killed
#   HXB_HOME=/opt/hexabase    where handlers/, jobs/, nginx/ and sql/ are
#   HXB_RUN_DIR=/run/hexabase the one writable directory: rendered config,
#                             pid file, sockets, nginx temp files, TMPDIR
#   HXB_RUN_USER=hexabase     only when started as root: the user nginx's
#                             workers and the handlers run as
#
# Every other HXB_* variable reaches the handlers and jobs unchanged; see
# the table in shared/config.c.
#
# Secrets never travel as plain variables and are never baked into the
# image.  Each secret setting has a *_FILE twin that names a file holding
# the value (one trailing newline is ignored), typically a mounted
# Kubernetes Secret; the programs read the files themselves:
#   HXB_DATABASE_PASSWORD_FILE   password of the role in HXB_DATABASE_URL
#   HXB_REDIS_PASSWORD_FILE      Redis AUTH password
#   HXB_NATS_TOKEN_FILE          NATS token
#   HXB_MIGRATE_DATABASE_PASSWORD_FILE   (above) password of hxb_owner
#   HXB_MASTER_KEY_FILE          the key sealing the signing keys
#   HXB_STRIPE_SECRET_KEY_FILE   Stripe API key (billing)
#   HXB_STRIPE_WEBHOOK_SECRET_FILE   the webhook's signing secret (and
#                                ..._PREVIOUS_FILE during a rotation)
# Setting both a variable and its _FILE twin is a configuration error.
set -Eeuo pipefail

HOME_DIR=${HXB_HOME:-/opt/hexabase}
D=${HXB_RUN_DIR:-/run/hexabase}
WORKERS=${HXB_WORKERS:-4}
NGINX_WORKERS=${HXB_NGINX_WORKERS:-2}
HTTP_PORT=${HXB_HTTP_PORT:-8080}
LISTEN=${HXB_HTTP_LISTEN:-$HTTP_PORT}
MIGRATE_ON_START=${HXB_MIGRATE_ON_START:-0}
SHUTDOWN_TIMEOUT=${HXB_SHUTDOWN_TIMEOUT:-30}
RUN_USER=${HXB_RUN_USER:-hexabase}

PREFIX=$D/nginx		# nginx prefix: nginx.conf, nginx.pid, bench-*.conf
LOG=$D/log		# nginx-access.log: a link to stdout, or a FIFO
RUN=$D/run		# handler sockets, nginx-tmp/
CONF=$HOME_DIR/nginx	# the template, fastcgi.conf, problems.conf

# One JSON line on stderr, in the shape of the handlers' own log lines.
say() {
	local level=$1 msg=$2
	msg=${msg//\\/\\\\}
	msg=${msg//\"/\\\"}
	printf '{"timestamp":"%s","level":"%s","service":"entrypoint","message":"%s"}\n' \
	    "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$level" "$msg" >&2
}
# Once serving, a fatal error stops what has been started before exiting.
serving=0
die() {
	say error "$*"
	[ "$serving" = 1 ] && shutdown 1
	exit 1
}

# run_migrate [ARGS]: exec jobs/migrate, as the owner role when the
# HXB_MIGRATE_* variables say so.
run_migrate() {
	local -a opts=() sets=()
	if [ -n "${HXB_MIGRATE_DATABASE_URL:-}" ]; then
		sets+=("HXB_DATABASE_URL=$HXB_MIGRATE_DATABASE_URL")
	fi
	if [ -n "${HXB_MIGRATE_DATABASE_PASSWORD_FILE:-}" ]; then
		opts+=(-u HXB_DATABASE_PASSWORD)
		sets+=("HXB_DATABASE_PASSWORD_FILE=$HXB_MIGRATE_DATABASE_PASSWORD_FILE")
	fi
	exec env "${opts[@]}" "${sets[@]}" "$HOME_DIR/jobs/migrate" "$@"
}

case ${1:-serve} in
serve)
	[ $# -gt 0 ] && shift
	[ $# -eq 0 ] || die "serve takes no arguments"
	;;
migrate)
	shift
	run_migrate "$@"
	;;
*)
	exec "$@"
	;;
esac

# --- serve ------------------------------------------------------------------

# Values that go into nginx.conf through sed must not be able to break it.
safe_path() {
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path: $2" ;;
	esac
	[[ $2 =~ ^[A-Za-z0-9/._-]+$ ]] || die "$1 has characters not allowed: $2"
}
posint() { [[ $2 =~ ^[1-9][0-9]{0,3}$ ]] || die "$1 must be a number from 1 to 9999: $2"; }
port() {
	[[ $2 =~ ^[1-9][0-9]{0,4}$ ]] && [ "$2" -le 65535 ] ||
	    die "$1 must be a port number: $2"
}

safe_path HXB_HOME "$HOME_DIR"
safe_path HXB_RUN_DIR "$D"
posint HXB_WORKERS "$WORKERS"
port HXB_HTTP_PORT "$HTTP_PORT"
posint HXB_SHUTDOWN_TIMEOUT "$SHUTDOWN_TIMEOUT"
[ "$NGINX_WORKERS" = auto ] || posint HXB_NGINX_WORKERS "$NGINX_WORKERS"
[[ $LISTEN =~ ^[][A-Za-z0-9.:=_\ -]+$ ]] ||
    die "HXB_HTTP_LISTEN has characters not allowed: $LISTEN"
case $MIGRATE_ON_START in
0 | 1) ;;
*) die "HXB_MIGRATE_ON_START must be 0 or 1: $MIGRATE_ON_START" ;;
esac
[ -f "$CONF/nginx.conf.in" ] || die "no $CONF/nginx.conf.in"
# Unix socket paths are limited to 107 bytes.
[ ${#RUN} -le 80 ] || die "HXB_RUN_DIR is too long for socket paths: $D"

handlers=()
for h in "$HOME_DIR"/handlers/*; do
	if [ -f "$h" ] && [ -x "$h" ]; then
		handlers+=("${h##*/}")
	fi
done
[ ${#handlers[@]} -gt 0 ] || die "no handlers in $HOME_DIR/handlers"

# When started as root (docker run --user 0), nothing but the master
# process of nginx keeps root: its workers and the handlers run as RUN_USER.
user_directive=
pool_owner=()
if [ "$(id -u)" -eq 0 ]; then
	id "$RUN_USER" >/dev/null 2>&1 || die "no user $RUN_USER to run as"
	[[ $RUN_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "bad HXB_RUN_USER: $RUN_USER"
	group=$(id -gn "$RUN_USER")
	user_directive="user $RUN_USER $group;"
	pool_owner=(-u "$RUN_USER" -g "$group" -U "$RUN_USER" -G "$group")
	say warn "started as root; nginx workers and handlers run as $RUN_USER"
fi

# --- children and shutdown ----------------------------------------------------

nginx_pid=
relay_pid=
migrate_pid=
pool_pids=()
stopping=0

# stop_wait PID SIGNAL NAME: signal a child (SIGNAL "-": it has been
# already), wait for it for at most SHUTDOWN_TIMEOUT seconds, then kill it.
# Polls: bash reaps its children as they exit, so kill -0 fails once the
# child is gone.
stop_wait() {
	local pid=$1 sig=$2 name=$3 deadline=$((SECONDS + SHUTDOWN_TIMEOUT))
	[ "$sig" = - ] || kill -"$sig" "$pid" 2>/dev/null || true
	while kill -0 "$pid" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			say warn "$name did not stop in ${SHUTDOWN_TIMEOUT}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$pid" 2>/dev/null || true
}

# shutdown STATUS: nginx first, so that no new request reaches a pool that
# is going away, then the pools, then the log relay.
shutdown() {
	local rc=$1 pid
	# A second signal while stopping changes nothing (see on_signal).
	[ $stopping -eq 1 ] && return 0
	stopping=1
	trap - ERR
	set +e
	if [ -n "$migrate_pid" ]; then
		stop_wait "$migrate_pid" TERM migrate
	fi
	if [ -n "$nginx_pid" ]; then
		say info "stopping nginx (graceful)"
		stop_wait "$nginx_pid" QUIT nginx
	fi
	if [ ${#pool_pids[@]} -gt 0 ]; then
		say info "stopping the handler pools"
		for pid in "${pool_pids[@]}"; do
			kill -TERM "$pid" 2>/dev/null || true
		done
		for pid in "${pool_pids[@]}"; do
			stop_wait "$pid" - "pool $pid"
		done
	fi
	if [ -n "$relay_pid" ]; then
		kill -TERM "$relay_pid" 2>/dev/null || true
		wait "$relay_pid" 2>/dev/null || true
	fi
	say info "stopped"
	exit "$rc"
}

on_signal() {
	[ $stopping -eq 1 ] && return 0
	say info "SIG$1: stopping"
	shutdown 0
}
trap 'on_signal TERM' TERM
trap 'on_signal INT' INT
trap 'say error "start failed at line $LINENO"; shutdown 1' ERR
serving=1

# --- layout -------------------------------------------------------------------

# The directory survives container restarts in a pod (emptyDir): clear what
# a previous run left, keep nothing.
mkdir -p "$D"
rm -rf "${PREFIX:?}" "${LOG:?}" "${RUN:?}" "${D:?}/tmp"
mkdir -p "$PREFIX" "$LOG" "$RUN/nginx-tmp" "$D/tmp"
# $D itself may be a volume this user does not own: leave its mode alone.
chmod 755 "$PREFIX" "$LOG" "$RUN"
chmod 700 "$D/tmp"
[ -z "$user_directive" ] || chown "$RUN_USER:$group" "$D/tmp"
export TMPDIR=$D/tmp

# nginx's error log is its stderr.  The access log goes to stdout: through
# /dev/stdout if this user may open it, else (older runtimes leave the
# stdout pipe owned by root) through a FIFO that cat copies to stdout.
if { : >>/dev/stdout; } 2>/dev/null; then
	ln -sfn /dev/stdout "$LOG/nginx-access.log"
else
	mkfifo -m 600 "$LOG/nginx-access.log"
	# Read-write, so that cat never sees end-of-file between writers.
	cat <>"$LOG/nginx-access.log" &
	relay_pid=$!
fi

# --- configuration check and migrations --------------------------------------

# Every handler shares the configuration table: one check reports every
# problem at once instead of pools of workers failing one by one.
if ! "$HOME_DIR/handlers/${handlers[0]}" --print-config >/dev/null; then
	die "the HXB_* configuration is invalid (above)"
fi

if [ "$MIGRATE_ON_START" = 1 ]; then
	say info "migrating (HXB_MIGRATE_ON_START=1)"
	# In the background, so that SIGTERM is not held up until it ends.
	run_migrate &
	migrate_pid=$!
	if ! wait "$migrate_pid"; then
		migrate_pid=
		die "migrations failed"
	fi
	migrate_pid=
fi

# --- nginx configuration --------------------------------------------------------

: >"$PREFIX/bench-upstreams.conf"
: >"$PREFIX/bench-locations.conf"
# TLS ends in front of the container (an Ingress with the issuer's real
# certificate); nginx here speaks plain HTTP.
: >"$PREFIX/tls.conf"
sed -e "s|@LOG@/nginx-error.log|stderr|g" \
    -e "s|@USER@|$user_directive|" \
    -e "s|@NGINX_WORKERS@|$NGINX_WORKERS|" \
    -e "s|@PREFIX@|$PREFIX|g" \
    -e "s|@LOG@|$LOG|g" \
    -e "s|@RUN@|$RUN|g" \
    -e "s|@CONF@|$CONF|g" \
    -e "s|@LISTEN@|$LISTEN|g" \
    -e "s|@PORT@|$HTTP_PORT|g" \
    -e "s|@AUTH_RATE@|${NGINX_AUTH_RATE:-10r/s}|g" \
    -e "s|@AUTH_BURST@|${NGINX_AUTH_BURST:-20}|g" \
    -e "s|@WEBHOOK_RATE@|${NGINX_WEBHOOK_RATE:-50r/s}|g" \
    -e "s|@WEBHOOK_BURST@|${NGINX_WEBHOOK_BURST:-100}|g" \
    "$CONF/nginx.conf.in" >"$PREFIX/nginx.conf"
if left=$(grep -v '^[[:space:]]*#' "$PREFIX/nginx.conf" | grep -o '@[A-Z_]*@'); then
	die "nginx.conf.in has placeholders this entrypoint does not know: ${left//$'\n'/ }"
fi
nginx -t -q -p "$PREFIX/" -c "$PREFIX/nginx.conf" -e stderr ||
    die "the rendered nginx configuration is invalid"

# --- handler pools ----------------------------------------------------------------

for h in "${handlers[@]}"; do
	rm -f "$RUN/$h.sock"
	# -n: spawn-fcgi binds the socket and execs multiwatch in place, so
	# the pid is multiwatch's; multiwatch passes TERM on to its workers.
	spawn-fcgi -s "$RUN/$h.sock" -M 0600 "${pool_owner[@]}" -n -- \
	    /usr/bin/multiwatch -f "$WORKERS" -s TERM -- \
	    "$HOME_DIR/handlers/$h" </dev/null &
	pool_pids+=($!)
done
for i in "${!handlers[@]}"; do
	h=${handlers[$i]}
	for ((n = 0; n < 100; n++)); do
		[ -S "$RUN/$h.sock" ] && break
		kill -0 "${pool_pids[$i]}" 2>/dev/null || die "handler $h did not start"
		sleep 0.1
	done
	[ -S "$RUN/$h.sock" ] || die "handler $h did not create $RUN/$h.sock"
done
say info "handlers ${handlers[*]}: $WORKERS workers each, sockets in $RUN"

# --- nginx ----------------------------------------------------------------------

nginx -p "$PREFIX/" -c "$PREFIX/nginx.conf" -e stderr -g 'daemon off;' </dev/null &
nginx_pid=$!
say info "nginx listens on $LISTEN"
trap - ERR

# Supervise: any child that exits on its own ends the container.  wait -n
# returns as soon as one of them exits (or a signal arrives), but skips a
# child that has exited before it was called; the once-a-second tick and
# kill -0 catch that case.
died=
while :; do
	for pid in "$nginx_pid" "${pool_pids[@]}" ${relay_pid:+"$relay_pid"}; do
		if ! kill -0 "$pid" 2>/dev/null; then
			died=$pid
			break 2
		fi
	done
	sleep 1 &
	tick=$!
	wait -n "$tick" "$nginx_pid" "${pool_pids[@]}" \
	    ${relay_pid:+"$relay_pid"} 2>/dev/null || true
	kill "$tick" 2>/dev/null || true
done
rc=0
wait "$died" 2>/dev/null || rc=$?
if [ "$died" = "$nginx_pid" ]; then
	nginx_pid=
	say error "nginx exited (status $rc); stopping"
elif [ -n "$relay_pid" ] && [ "$died" = "$relay_pid" ]; then
	relay_pid=
	say error "the access log relay exited (status $rc); stopping"
else
	for i in "${!pool_pids[@]}"; do
		[ "${pool_pids[$i]}" = "$died" ] && died="${handlers[$i]} ($died)"
	done
	# A pool killed outright leaves its workers behind; in a container
	# they go when PID 1 (tini) exits.
	say error "the pool of handler $died exited (status $rc); stopping"
fi
shutdown 1
