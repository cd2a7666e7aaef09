#!/bin/bash
# Liveness and readiness, with dependencies going away and coming back.
. "$(dirname "$0")/../lib/tap.sh"

ready_status() { http GET /readyz; echo "$STATUS"; }

# wait_ready WANT: poll /readyz up to 10 s until it answers WANT.
wait_ready() {
	local i
	for ((i = 0; i < 50; i++)); do
		http GET /readyz
		[ "$STATUS" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

http GET /healthz
is "$STATUS" 200 "healthz: 200"
is "$(jqb .status)" ok "healthz: ok"

http GET /readyz
is "$STATUS" 200 "readyz: 200 with everything up"
is "$(jqb '[.checks.postgres.status, .checks.redis.status, .checks.nats.status] | join(",")')" \
    "up,up,up" "readyz: postgres, redis and nats up"
is "$(jqb .status)" ready "readyz: ready"

stack stop-service "$HXB_TEST_STACK" redis
http GET /readyz
is "$STATUS" 503 "readyz: 503 while Redis is stopped"
is "$(jqb .checks.redis.status)" down "readyz: redis down"
like "$(jqb .checks.redis.error)" "." "readyz: says what failed"
is "$(jqb .checks.postgres.status)" up "readyz: postgres still up"
http GET /readyz
is "$STATUS" 503 "readyz: still 503 on the next worker"

stack start-service "$HXB_TEST_STACK" redis
http GET /readyz
is "$STATUS" 200 "readyz: 200 as soon as Redis is back"
http GET /readyz
is "$STATUS" 200 "readyz: 200 on the next worker too"

stack stop-service "$HXB_TEST_STACK" nats
http GET /readyz
is "$STATUS" 503 "readyz: 503 while NATS is stopped"
is "$(jqb .checks.nats.status)" down "readyz: nats down"
stack start-service "$HXB_TEST_STACK" nats
wait_ready 200
ok $? "readyz: 200 again once NATS is back and reconnected"

done_testing
