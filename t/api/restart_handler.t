#!/bin/bash
# make restart-handler replaces a pool while wrk loads it: zero failures.
. "$(dirname "$0")/../lib/tap.sh"
command -v wrk >/dev/null || skip_all "wrk is not installed"

out=$(mktemp)
before=$(cat "$HXB_TEST_STACK/pids/handler-plans.pid")
wrk -t1 -c8 -d6s "$HXB_TEST_URL/api/v1/plans/free" >"$out" 2>&1 &
wrk_pid=$!
sleep 2
stack restart-handler "$HXB_TEST_STACK" plans 2>/dev/null
ok $? "restart-handler plans succeeds"
wait $wrk_pid
after=$(cat "$HXB_TEST_STACK/pids/handler-plans.pid")

requests=$(sed -n 's/^ *\([0-9][0-9]*\) requests in.*/\1/p' "$out")
diag "wrk: ${requests:-?} requests during the swap"
like "${requests:-0}" '^[1-9][0-9]*$' "wrk ran requests"
unlike "$(cat "$out")" "Non-2xx" "no non-2xx responses"
unlike "$(cat "$out")" "Socket errors" "no socket errors"
isnt_same=$([ "$before" != "$after" ] && echo 0 || echo 1)
ok "$isnt_same" "a new pool runs ($before -> $after)"
kill -0 "$before" 2>/dev/null
ok $(( ! $? )) "the old pool is gone"
http GET /api/v1/plans/pro
is "$STATUS" 200 "the new pool serves"
rm -f "$out"

done_testing
