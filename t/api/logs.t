#!/bin/bash
# One JSON log line per request, with the seed's fields, carrying the
# request id nginx gave the request.
. "$(dirname "$0")/../lib/tap.sh"

LOG=$HXB_TEST_STACK/log/plans.log

# log_line RID: the line of that request.  INFO lines may wait in a
# worker's batch for HXB_LOG_FLUSH_MS (100 ms); an idle worker writes them
# when due, so no later request is needed.  Waits up to 3 s.
log_line() {
	local i line
	for i in $(seq 30); do
		line=$(grep -h "\"request_id\":\"$1\"" "$LOG" | head -n 1)
		[ -n "$line" ] && break
		sleep 0.1
	done
	printf '%s' "$line"
}

http GET /api/v1/plans/pro
rid=$(header x-request-id)
line=$(log_line "$rid")
like "$line" . "a log line carries the request id"
printf '%s' "$line" | jq -e . >/dev/null 2>&1
ok $? "the line is JSON"
fields=$(printf '%s' "$line" | jq -r 'keys_unsorted | join(",")')
is "$fields" \
    "timestamp,level,service,request_id,user_id,workspace_id,action,resource,result,duration_ms,status,method,path" \
    "the seed's fields plus status, method and path"
is "$(printf '%s' "$line" | jq -r '[.level,.service,.action,.resource,.result,.status,.method,.path] | join(" ")')" \
    "INFO plans get_plan plans/pro success 200 GET /api/v1/plans/pro" "field values"
like "$(printf '%s' "$line" | jq -r .timestamp)" \
    '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "RFC 3339 UTC timestamp"

http GET /api/v1/plans/nope
rid=$(header x-request-id)
line=$(log_line "$rid")
is "$(printf '%s' "$line" | jq -r '[.level,.result,.status] | join(" ")')" \
    "WARN failure 404" "a 404 logs as WARN failure"

# The query string (it may carry codes or tokens) is never logged.
http GET "/api/v1/plans?limit=1&cursor=c2VjcmV0LXZhbHVl"
rid=$(header x-request-id)
line=$(log_line "$rid")
is "$(printf '%s' "$line" | jq -r .path)" "/api/v1/plans" "the path is logged without its query"

# A burst from many clients at once: every request has its line, and every
# line is whole JSON (batches of concurrent workers never interleave).
before=$(wc -l <"$LOG")
seq 200 | xargs -P 16 -I{} curl -s -o /dev/null -w "%{http_code}\n" "$HXB_TEST_URL/api/v1/plans/free" >"$HXB_TEST_STACK/burst.codes"
for i in $(seq 30); do
	[ $(($(wc -l <"$LOG") - before)) -ge 200 ] && break
	sleep 0.1
done
tail -n +$((before + 1)) "$LOG" >"$HXB_TEST_STACK/burst.log"
is "$(sort -u "$HXB_TEST_STACK/burst.codes")" 200 "the burst: all 200 OK (INFO lines, the ones that wait)"
is "$(grep -c '"path":"/api/v1/plans/free"' "$HXB_TEST_STACK/burst.log")" 200 \
    "200 requests, 200 lines"
jq -e . "$HXB_TEST_STACK/burst.log" >/dev/null 2>&1
ok $? "every line of the burst is whole JSON"

done_testing
