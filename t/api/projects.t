#!/bin/bash
# Projects (handlers/projects): a project is a namespace of the
# workspace's vCluster.  Names are RFC 1123 labels Kubernetes does not
# keep, and never change; the plan caps the number of projects and what
# their quotas add up to, even under racing creates; the namespace
# hierarchy never loops; a project with children stays; workspace admins
# change, viewers read, strangers get 404; every change is audited and
# enqueues the workspace's RBAC sync.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

R=$$r$RANDOM
tenancy_setup "p$R"
P=$WSP/projects

# --- create ------------------------------------------------------------------------
api "$WSA" POST "$P" '{"name":"web","display_name":"Web","quota":{"cpu_millicores":1000,"memory_mib":2048,"pods":10}}' \
    -H "Idempotency-Key: p-$R"
is "$STATUS" 201 "a workspace admin creates a project: 201"
first=$BODY
WEB=$(jqb .id)
like "$WEB" '^prj-[0-7][0-9a-hjkmnp-tv-z]{25}$' "a project id"
is "$(jqb -c '[.name, .namespace, .display_name, .parent_id, .status, .workspace_id]')" \
    "[\"web\",\"web\",\"Web\",null,\"pending\",\"$WS\"]" "its fields: the name is the namespace"
is "$(jqb -cS .quota)" '{"cpu_millicores":1000,"memory_mib":2048,"pods":10}' "its quota"
api "$WSA" POST "$P" '{"name":"web","display_name":"Web","quota":{"cpu_millicores":1000,"memory_mib":2048,"pods":10}}' \
    -H "Idempotency-Key: p-$R"
is "$BODY" "$first" "an idempotent replay: the identical body"
api "$WSA" POST "$P" '{"name":"web"}'
is_problem 409 "the same namespace again: 409"
api "$ADM" POST "$P" "{\"name\":\"api\",\"parent_id\":\"$WEB\"}"
is "$STATUS" 201 "a child project"
API=$(jqb .id)
is "$(jqb -c '[.parent_id, .quota]')" "[\"$WEB\",{}]" "under its parent, no quota"
api "$ADM" POST "$P" '{"name":"9lives"}'
is "$STATUS" 201 "an RFC 1123 label may start with a digit"
NINE=$(jqb .id)

for bad in '"Web"' '"-web"' '"web-"' '"we_b"' '""' "\"$(printf 'a%.0s' {1..64})\""; do
	api "$ADM" POST "$P" "{\"name\":$bad}"
	is_problem 422 "the name $bad: 422"
done
for bad in default kube-system kube-anything; do
	api "$ADM" POST "$P" "{\"name\":\"$bad\"}"
	is_problem 422 "the name $bad, Kubernetes' own: 422"
	is "$(jqb '.errors[0].field')" name "names the field"
done
api "$ADM" POST "$P" '{"name":"q1","quota":{"cpu":1}}'
is_problem 422 "an unknown quota: 422"
is "$(jqb '.errors[0].field')" quota.cpu "names quota.cpu"
api "$ADM" POST "$P" '{"name":"q1","quota":{"pods":-1}}'
is_problem 422 "a negative quota: 422"
api "$ADM" POST "$P" '{"name":"q1","quota":{"pods":1.5}}'
is_problem 422 "a fractional quota: 422"
api "$ADM" POST "$P" '{"name":"q1","quota":[]}'
is_problem 422 "a quota that is no object: 422"
api "$ADM" POST "$P" '{"name":"q1","owner":"me"}'
is_problem 422 "an unknown field: 422"
api "$ADM" POST "$P" "{\"name\":\"q1\",\"parent_id\":\"prj-0zzzzzzzzzzzzzzzzzzzzzzzzz\"}"
is_problem 422 "an unknown parent: 422"
is "$(jqb '.errors[0].field')" parent_id "names parent_id"

# The pro plan: 8000 millicores, 20 projects.
api "$ADM" POST "$P" '{"name":"hog","quota":{"cpu_millicores":7001}}'
is_problem 422 "quotas beyond the plan's cpu: 422"
is "$(jqb -c '.errors[0]')" '{"field":"quota.cpu_millicores","message":"the workspace would use 8001 cpu_millicores; its plan allows 8000"}' \
    "it says by how much"
api "$ADM" POST "$P" '{"name":"hog","quota":{"cpu_millicores":7000}}'
is "$STATUS" 201 "up to the plan's cpu: 201"
HOG=$(jqb .id)

api "$VWR" POST "$P" '{"name":"mine"}'
is_problem 403 "a viewer cannot create projects: 403"
api "$MEM" POST "$P" '{"name":"mine"}'
is_problem 404 "an org member without a group: 404"
api "$STR" POST "$P" '{"name":"mine"}'
is_problem 404 "a stranger: 404"
api "$STR" POST "/api/v1/workspaces/ws-0zzzzzzzzzzzzzzzzzzzzzzzzz/projects" '{"name":"mine"}'
is_problem 404 "the same for a workspace that does not exist"
is "$(sql "SELECT count(*) FROM projects WHERE workspace_id = '$WS'")" 4 "only the accepted creates wrote"
is "$(sql "SELECT count(*) FROM audit_log WHERE workspace_id = '$WS' AND action = 'project.create'")" 4 "each audited"
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" 1 \
    "the workspace's RBAC sync is pending"

# The project limit, under racing creates: the free plan allows 3.
api "$STR" POST "/api/v1/workspaces/$WS2/projects" '{"name":"one"}'
api "$STR" POST "/api/v1/workspaces/$WS2/projects" '{"name":"two"}'
codes=$(race 8 "$STR" "/api/v1/workspaces/$WS2/projects" '{"name":"race{i}"}')
is "$codes" "201x1 422x7 " "8 racing creates for the last free slot: one 201"
is "$(sql "SELECT count(*) FROM projects WHERE workspace_id = '$WS2'")" 3 "three projects, the plan's limit"
api "$STR" POST "/api/v1/workspaces/$WS2/projects" '{"name":"four"}'
is_problem 422 "a fourth: 422"
like "$(jqb '.errors[0].message')" "4 projects; its plan allows 3" "it says why"

# --- read ----------------------------------------------------------------------------
api "$VWR" GET "/api/v1/projects/$WEB"
is "$STATUS" 200 "a viewer reads a project"
is "$(jqb .id)" "$WEB" "the project"
api "$MEM" GET "/api/v1/projects/$WEB"
is_problem 404 "an org member without a group: 404"
api "$STR" GET "/api/v1/projects/$WEB"
is_problem 404 "a stranger: 404"
api "$ADM" GET "/api/v1/projects/prj-0zzzzzzzzzzzzzzzzzzzzzzzzz"
is_problem 404 "an unknown project: 404"
api "$ADM" GET "/api/v1/projects/web"
is_problem 404 "a name is not an id: 404"
api "" GET "/api/v1/projects/$WEB"
is_problem 401 "no token: 401"
api "$VWR" GET "$P?limit=3"
is "$(jqb '.items | length')" 3 "a page of three"
cur=$(jqb -r .next_cursor)
api "$VWR" GET "$P?limit=3&cursor=$cur"
is "$(jqb -c '[.items[].name]')" '["hog"]' "then the rest"
is "$(jqb .next_cursor)" null "and no more"
api "$STR" GET "$P"
is_problem 404 "a stranger lists nothing: 404"

# --- change --------------------------------------------------------------------------
api "$WSA" PATCH "/api/v1/projects/$WEB" '{"display_name":"Website","quota":{"cpu_millicores":500}}'
is "$STATUS" 200 "change display name and quota: 200"
is "$(jqb -c '[.display_name, .quota]')" '["Website",{"cpu_millicores":500}]' "the quota is replaced whole"
api "$WSA" PATCH "/api/v1/projects/$WEB" '{"quota":{"cpu_millicores":1001}}'
is_problem 422 "a quota that no longer fits with the others: 422"
api "$WSA" PATCH "/api/v1/projects/$WEB" '{"quota":{"cpu_millicores":1000}}'
is "$STATUS" 200 "one that fits, counting the project's own quota once"
api "$WSA" PATCH "/api/v1/projects/$WEB" '{"name":"site"}'
is_problem 422 "the name (the namespace) never changes: 422"
is "$(jqb '.errors[0].field')" name "names the field"
api "$WSA" PATCH "/api/v1/projects/$WEB" "{\"parent_id\":\"$API\"}"
is_problem 422 "a parent that is its own child: 422"
is "$(jqb '.errors[0].field')" parent_id "names parent_id"
api "$WSA" PATCH "/api/v1/projects/$NINE" "{\"parent_id\":\"$API\"}"
is "$(jqb .parent_id)" "$API" "a move"
api "$WSA" PATCH "/api/v1/projects/$NINE" '{"parent_id":null}'
is "$(jqb .parent_id)" null "back to the top"
api "$WSA" PATCH "/api/v1/projects/$NINE" '{}'
is_problem 422 "nothing to change: 422"
# Network isolation: on unless the project opts out.
api "$WSA" GET "/api/v1/projects/$NINE"
is "$(jqb .network_isolated)" true "a project is network-isolated by default"
api "$WSA" PATCH "/api/v1/projects/$NINE" '{"network_isolated":false}'
is "$STATUS $(jqb .network_isolated)" "200 false" "... and may take ingress from any namespace"
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" 1 \
    "... which the RBAC sync tells the vCluster"
api "$WSA" PATCH "/api/v1/projects/$NINE" '{"network_isolated":"no"}'
is_problem 422 "network_isolated is a boolean: 422"
api "$WSA" POST "$P" '{"name":"open-one","network_isolated":false}'
is "$STATUS $(jqb .network_isolated)" "201 false" "a project created open"
api "$WSA" DELETE "/api/v1/projects/$(jqb .id)"
api "$VWR" PATCH "/api/v1/projects/$NINE" '{"display_name":"x"}'
is_problem 403 "a viewer cannot change it: 403"
api "$STR" PATCH "/api/v1/projects/$NINE" '{"display_name":"x"}'
is_problem 404 "a stranger: 404"

# The plan change of the workspace is held to the projects' quotas.
api "$ADM" PATCH "/api/v1/organizations/$ORG/workspaces/$WS" '{"plan_id":"free"}'
is_problem 422 "the free plan cannot hold these quotas: 422"
like "$(jqb -c '[.errors[].message]')" "8000 cpu_millicores; its plan allows 2000" "it says which"

# --- delete --------------------------------------------------------------------------
api "$WSA" DELETE "/api/v1/projects/$WEB"
is_problem 409 "a project with a child: 409"
api "$WSA" DELETE "/api/v1/projects/$API"
is "$STATUS" 204 "a leaf: 204"
api "$WSA" DELETE "/api/v1/projects/$WEB"
is "$STATUS" 204 "then its parent: 204"
api "$WSA" GET "/api/v1/projects/$WEB"
is_problem 404 "gone"
api "$VWR" DELETE "/api/v1/projects/$HOG"
is_problem 403 "a viewer cannot delete: 403"
api "$STR" DELETE "/api/v1/projects/$HOG"
is_problem 404 "a stranger: 404"
is "$(sql "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE resource = 'projects/$WEB'")" \
    "project.create,project.update,project.update,project.delete" "the project's audit trail"
is "$(sql "SELECT before->>'name' FROM audit_log WHERE resource = 'projects/$WEB' AND action = 'project.delete'")" web \
    "the delete records what was deleted"

sql "UPDATE workspaces SET status = 'deleting' WHERE id = '$WS'" >/dev/null
api "$ADM" POST "$P" '{"name":"late"}'
is_problem 409 "a workspace being deleted takes no new project: 409"
api "$ADM" PATCH "/api/v1/projects/$HOG" '{"display_name":"x"}'
is_problem 409 "nor changes: 409"

done_testing
