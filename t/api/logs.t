#!/bin/bash
# One JSON log line per request, with the seed's fields, carrying the
# request id nginx gave the request.
. "$(dirname "$0")/../lib/tap.sh"

http GET /api/v1/plans/pro
rid=$(header x-request-id)
sleep 0.2
line=$(grep -h "\"request_id\":\"$rid\"" "$HXB_TEST_STACK/log/plans.log" | head -n 1)
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
sleep 0.2
line=$(grep -h "\"request_id\":\"$rid\"" "$HXB_TEST_STACK/log/plans.log" | head -n 1)
is "$(printf '%s' "$line" | jq -r '[.level,.result,.status] | join(" ")')" \
    "WARN failure 404" "a 404 logs as WARN failure"

# The query string (it may carry codes or tokens) is never logged.
http GET "/api/v1/plans?limit=1&cursor=c2VjcmV0LXZhbHVl"
rid=$(header x-request-id)
sleep 0.2
line=$(grep -h "\"request_id\":\"$rid\"" "$HXB_TEST_STACK/log/plans.log" | head -n 1)
is "$(printf '%s' "$line" | jq -r .path)" "/api/v1/plans" "the path is logged without its query"

done_testing
