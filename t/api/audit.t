#!/bin/bash
# The audit endpoint (handlers/audit): an organization's admins read its
# log newest first, filtered by actor, action, resource and time, in
# keyset pages; members get 403, strangers 404.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

R=$$r$RANDOM
post() {
	local t=$1 p=$2 d=$3
	shift 3
	http POST "$p" -H "$(bearer "$t")" -H 'Content-Type: application/json' -d "$d" "$@"
}
sign_in "ao$R"; OWN=$AT OWN_ID=$UID_
sign_in "am$R"; MEM=$AT MEM_ID=$UID_
sign_in "as$R"; STR=$AT
t0=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
post "$OWN" /api/v1/organizations "{\"name\":\"audit-$R\"}"
ORG=$(jqb .id)
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"am$R@example.test\",\"role\":\"member\"}"
http POST "/api/v1/invitations/$(jqb .token)/accept" -H "$(bearer "$MEM")"
http PATCH "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")" -H 'Content-Type: application/json' -d '{"display_name":"Audited"}'
A=/api/v1/organizations/$ORG/audit-logs

http GET "$A" -H "$(bearer "$OWN")"
is "$STATUS" 200 "an admin reads the log: 200"
is "$(jqb '[.items[].action] | join(",")')" \
    "organization.update,invitation.accept,invitation.create,organization.create" "newest first"
is "$(jqb -c '.items[0] | keys')" \
    '["action","actor_id","after","before","id","ip","occurred_at","request_id","resource","result","workspace_id"]' \
    "an entry's fields"
is "$(jqb -c '[.items[0].before.display_name, .items[0].after.display_name]')" '["","Audited"]' "before and after"
like "$(jqb '.items[0].occurred_at')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$' "RFC 3339 times"
http GET "$A?action=invitation.accept" -H "$(bearer "$OWN")"
is "$(jqb -c '[.items[] | [.action, .actor_id]]')" "[[\"invitation.accept\",\"$MEM_ID\"]]" "by action"
http GET "$A?actor=$MEM_ID" -H "$(bearer "$OWN")"
is "$(jqb '.items | length')" 1 "by actor"
http GET "$A?resource=organizations/$ORG" -H "$(bearer "$OWN")"
is "$(jqb '[.items[].action] | join(",")')" "organization.update,organization.create" "by resource"
http GET "$A?from=$t0&to=2999-01-01T00:00:00Z" -H "$(bearer "$OWN")"
is "$(jqb '.items | length')" 4 "by time"
http GET "$A?to=$t0" -H "$(bearer "$OWN")"
is "$(jqb '.items | length')" 0 "before it all: nothing"
http GET "$A?limit=1" -H "$(bearer "$OWN")"
first=$(jqb '.items[0].id') cur=$(jqb .next_cursor)
http GET "$A?limit=1&cursor=$cur" -H "$(bearer "$OWN")"
ok $([ "$(jqb '.items[0].id')" -lt "$first" ]; echo $?) "the next page goes on, older"
http GET "$A?limit=2&cursor=$cur" -H "$(bearer "$OWN")"
http GET "$A?limit=2&cursor=$(jqb .next_cursor)" -H "$(bearer "$OWN")"
is "$(jqb '.items | length') $(jqb .next_cursor)" "1 null" "the last page"

http GET "$A?from=yesterday" -H "$(bearer "$OWN")"
is_problem 400 "a malformed time: 400"
http GET "$A?from=2026-13-45T00:00:00Z" -H "$(bearer "$OWN")"
is_problem 422 "a time that is no date: 422"
http GET "$A?colour=red" -H "$(bearer "$OWN")"
is_problem 400 "an unknown filter: 400"
http GET "$A" -H "$(bearer "$MEM")"
is_problem 403 "a member: 403"
http GET "$A" -H "$(bearer "$STR")"
is_problem 404 "a stranger: 404"
http GET "$A"
is_problem 401 "no token: 401"
http GET "/api/v1/organizations/nope/audit-logs" -H "$(bearer "$OWN")"
is_problem 404 "a malformed organization id: 404"

done_testing
