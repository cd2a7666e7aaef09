#!/bin/bash
# Workspaces and tasks (handlers/workspaces): creation is one transaction
# (workspace, default groups, the creator in WSAdmins, the preset
# ClusterRole bindings, task, outbox) answered 202 and published to NATS
# after the commit; members see a workspace only through a group;
# strangers get 404; plan changes must fit; deletion is a task too.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

R=$$r$RANDOM
post() {
	local t=$1 p=$2 d=$3
	shift 3
	http POST "$p" -H "$(bearer "$t")" -H 'Content-Type: application/json' -d "$d" "$@"
}

sign_in "wo$R"; OWN=$AT OWN_ID=$UID_
sign_in "wm$R"; MEM=$AT MEM_ID=$UID_
sign_in "ws$R"; STR=$AT
post "$OWN" /api/v1/organizations "{\"name\":\"wsorg-$R\"}"
ORG=$(jqb .id)
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"wm$R@example.test\",\"role\":\"member\"}"
http POST "/api/v1/invitations/$(jqb .token)/accept" -H "$(bearer "$MEM")"
is "$STATUS" 200 "a member joined"
W=/api/v1/organizations/$ORG/workspaces

# --- create ------------------------------------------------------------------------
post "$OWN" "$W" '{"name":"dev","plan_id":"free"}' -H "Idempotency-Key: ws-$R"
is "$STATUS" 202 "create: 202"
first=$BODY
WS=$(jqb .workspace.id) TASK=$(jqb .task.id)
like "$WS" '^ws-' "a workspace id"
is "$(jqb -c '[.workspace.status, .workspace.plan_id, .workspace.isolation, .workspace.api_endpoint]')" \
    '["pending","free","pool",null]' "pending, on the free plan, pool isolation, no endpoint yet"
is "$(jqb -c '.workspace | keys')" \
    '["api_endpoint","created_at","created_by","id","isolation","name","organization_id","plan_id","status","status_reason","updated_at"]' \
    "the workspace's fields: no credentials"
is "$(jqb -c '[.task.type, .task.status, .task.progress]')" '["create_workspace","pending",0]' "a pending create task"
like "$(jqb '.workspace.created_at + " " + .task.updated_at')" \
    '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' \
    "times in RFC 3339, UTC, milliseconds"
post "$OWN" "$W" '{"name":"dev","plan_id":"free"}' -H "Idempotency-Key: ws-$R"
is "$BODY" "$first" "an idempotent replay: the identical body"
is "$(sql "SELECT count(*) FROM workspaces WHERE organization_id = '$ORG'")" 1 "one workspace"

q() { sql "$1"; }
is "$(q "SELECT string_agg(g.name || '<' || coalesce(p.name, '-'), ',' ORDER BY g.name COLLATE \"C\") FROM groups g LEFT JOIN groups p ON p.id = g.parent_id WHERE g.workspace_id = '$WS'")" \
    "WSAdmins<WorkspaceMembers,WSUsers<WorkspaceMembers,WorkspaceMembers<-" "the default groups and their hierarchy"
is "$(q "SELECT g.name FROM group_memberships m JOIN groups g ON g.id = m.group_id WHERE m.workspace_id = '$WS' AND m.user_id = '$OWN_ID'")" \
    WSAdmins "the creator is in WSAdmins"
is "$(q "SELECT string_agg(g.name || '=' || c.cluster_role, ',' ORDER BY g.name COLLATE \"C\") FROM cluster_role_assignments c JOIN groups g ON g.id = c.group_id WHERE c.workspace_id = '$WS'")" \
    "WSAdmins=hexabase:workspace-admin,WorkspaceMembers=hexabase:workspace-viewer" "the preset ClusterRole bindings"
is "$(q "SELECT string_agg(DISTINCT m.user_id, ',') FROM group_memberships m WHERE m.workspace_id = '$WS'")" "$OWN_ID" "nobody else is in a group"
is "$(q "SELECT subject || ' ' || (published_at IS NOT NULL) || ' ' || (payload->>'task_id') FROM outbox WHERE workspace_id = '$WS'")" \
    "hexabase.cp.workspace.onboarding true $TASK" "the onboarding request, published after the commit"
is "$(q "SELECT count(*) FROM audit_log WHERE workspace_id = '$WS' AND action = 'workspace.create' AND actor_id = '$OWN_ID'")" 1 "audited"

post "$OWN" "$W" '{"name":"dev","plan_id":"free"}'
is_problem 409 "the same name in the organization: 409"
post "$OWN" "$W" '{"name":"qa","plan_id":"platinum"}'
is_problem 422 "an unknown plan: 422"
is "$(jqb '.errors[0].field')" plan_id "the error names the field"
post "$OWN" "$W" '{"name":"QA!","plan_id":"free"}'
is_problem 422 "a name that is no DNS label: 422"
post "$OWN" "$W" '{"name":"qa"}'
is_problem 422 "no plan: 422"
post "$MEM" "$W" '{"name":"mine","plan_id":"free"}'
is_problem 403 "a member cannot create workspaces: 403"
post "$STR" "$W" '{"name":"evil","plan_id":"free"}'
is_problem 404 "a stranger: 404"

# --- read ----------------------------------------------------------------------------
http GET "$W/$WS" -H "$(bearer "$OWN")"
is "$STATUS" 200 "get: 200"
is "$(jqb .id)" "$WS" "get: the workspace"
http GET "$W/$WS" -H "$(bearer "$MEM")"
is_problem 404 "a member without a group does not see it: 404"
http GET "$W" -H "$(bearer "$MEM")"
is "$(jqb '.items | length')" 0 "nor list it"
http GET "$W/$WS" -H "$(bearer "$STR")"
is_problem 404 "a stranger: 404"
http GET "/api/v1/organizations/$ORG/workspaces/ws-0zzzzzzzzzzzzzzzzzzzzzzzzz" -H "$(bearer "$OWN")"
is_problem 404 "an unknown workspace: 404"
http GET "/api/v1/tasks/$TASK" -H "$(bearer "$OWN")"
is "$STATUS" 200 "the task: 200"
is "$(jqb -c 'keys')" '["attempts","created_at","id","last_error","progress","status","step","type","updated_at","workspace_id"]' \
    "the task's fields"
http GET "/api/v1/tasks/$TASK" -H "$(bearer "$STR")"
is_problem 404 "a stranger's view of the task: 404"
http GET "/api/v1/tasks/$TASK" -H "$(bearer "$MEM")"
is_problem 404 "nor a member who does not see the workspace"

# A member in WSUsers sees it, and its task.
q "INSERT INTO group_memberships (workspace_id, group_id, user_id) SELECT '$WS', id, '$MEM_ID' FROM groups WHERE workspace_id = '$WS' AND name = 'WSUsers'" >/dev/null
http GET "$W/$WS" -H "$(bearer "$MEM")"
is "$STATUS" 200 "a member in a group sees it"
http GET "$W" -H "$(bearer "$MEM")"
is "$(jqb '[.items[].id] | join(",")')" "$WS" "and lists it"
http GET "/api/v1/tasks/$TASK" -H "$(bearer "$MEM")"
is "$STATUS" 200 "and its task"
http PATCH "$W/$WS" -H "$(bearer "$MEM")" -H 'Content-Type: application/json' -d '{"plan_id":"pro"}'
is_problem 403 "but cannot change its plan: 403"

# --- plan changes ---------------------------------------------------------------------
http PATCH "$W/$WS" -H "$(bearer "$OWN")" -H 'Content-Type: application/json' -d '{"plan_id":"pro"}'
is "$STATUS" 202 "a plan change: 202"
is "$(jqb -c '[.workspace.plan_id, .task.type]')" '["pro","update_workspace"]' "the new plan, an update task"
for i in 1 2 3 4; do
	q "INSERT INTO projects (id, workspace_id, name) VALUES ('prj-0' || substr(md5(random()::text), 1, 25), '$WS', 'p$i')" >/dev/null
done
http PATCH "$W/$WS" -H "$(bearer "$OWN")" -H 'Content-Type: application/json' -d '{"plan_id":"free"}'
is_problem 422 "four projects do not fit the free plan's three: 422"
like "$(jqb '.errors[0].message')" "4 projects" "it says why"
http PATCH "$W/$WS" -H "$(bearer "$OWN")" -H 'Content-Type: application/json' -d '{"plan_id":"nope"}'
is_problem 422 "an unknown plan: 422"

# --- delete --------------------------------------------------------------------------
http DELETE "$W/$WS" -H "$(bearer "$STR")"
is_problem 404 "a stranger cannot delete it"
http DELETE "$W/$WS" -H "$(bearer "$OWN")"
is "$STATUS" 202 "delete: 202"
is "$(jqb -c '[.workspace.status, .task.type]')" '["deleting","delete_workspace"]' "deleting, by a task"
http DELETE "$W/$WS" -H "$(bearer "$OWN")"
is_problem 409 "a second delete: 409"
is "$(q "SELECT string_agg(subject, ',' ORDER BY id) FROM outbox WHERE workspace_id = '$WS' AND published_at IS NOT NULL")" \
    "hexabase.cp.workspace.onboarding,hexabase.cp.workspace.update,hexabase.cp.workspace.offboarding" \
    "every lifecycle request was published"
is "$(q "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE workspace_id = '$WS'")" \
    "workspace.create,workspace.update,workspace.delete" "and audited"
http DELETE "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")"
is_problem 409 "the organization cannot go while the workspace is being deleted"

done_testing
