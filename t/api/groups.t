#!/bin/bash
# Groups (handlers/groups): hierarchical groups of a workspace and their
# members.  Workspace admins change them, whoever sees the workspace reads
# them, strangers get 404; a hierarchy never loops, even when two moves
# race; a group with children or members stays; built-in groups stay as
# they are; effective groups take in every ancestor; every change is
# audited and enqueues the workspace's RBAC sync.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

R=$$r$RANDOM
tenancy_setup "g$R"
G=$WSP/groups

# --- create ------------------------------------------------------------------------
api "$WSA" POST "$G" '{"name":"devs"}' -H "Idempotency-Key: g-$R"
is "$STATUS" 201 "a workspace admin creates a group: 201"
first=$BODY
DEVS=$(jqb .id)
like "$DEVS" '^grp-[0-7][0-9a-hjkmnp-tv-z]{25}$' "a group id"
is "$(jqb -c '[.name, .parent_id, .builtin, .workspace_id]')" "[\"devs\",null,false,\"$WS\"]" "its fields"
api "$WSA" POST "$G" '{"name":"devs"}' -H "Idempotency-Key: g-$R"
is "$BODY" "$first" "an idempotent replay: the identical body"
is "$(header idempotent-replayed)" true "marked as replayed"
api "$WSA" POST "$G" '{"name":"other"}' -H "Idempotency-Key: g-$R"
is_problem 422 "the same key for another body: 422"
api "$WSA" POST "$G" '{"name":"devs"}'
is_problem 409 "the same name again: 409"
api "$ADM" POST "$G" "{\"name\":\"backend\",\"parent_id\":\"$DEVS\"}"
is "$STATUS" 201 "an organization admin creates a child group"
BACK=$(jqb .id)
is "$(jqb .parent_id)" "$DEVS" "under its parent"
api "$ADM" POST "$G" '{"name":"bad name"}'
is_problem 422 "a name with a space: 422"
is "$(jqb '.errors[0].field')" name "the error names the field"
api "$ADM" POST "$G" '{"name":"x","colour":"red"}'
is_problem 422 "an unknown field: 422"
api "$ADM" POST "$G" "{\"name\":\"x\",\"parent_id\":\"$(group_id "$WS2" WSAdmins)\"}"
is_problem 422 "a parent from another workspace: 422"
is "$(jqb '.errors[0].field')" parent_id "the error names parent_id"
api "$ADM" POST "$G" '{"name":"x","parent_id":"grp-nope"}'
is_problem 422 "a malformed parent id: 422"
api "$VWR" POST "$G" '{"name":"mine"}'
is_problem 403 "a viewer cannot create groups: 403"
api "$MEM" POST "$G" '{"name":"mine"}'
is_problem 404 "an org member without a group does not see the workspace: 404"
api "$STR" POST "$G" '{"name":"mine"}'
is_problem 404 "a stranger: 404"
is "$(sql "SELECT count(*) FROM groups WHERE workspace_id = '$WS' AND name IN ('x', 'mine')")" 0 "nothing written by refused requests"
is "$(sql "SELECT count(*) FROM audit_log WHERE workspace_id = '$WS' AND action = 'group.create'")" 2 "each create audited once"

# Every change enqueues the workspace's RBAC sync: one pending task,
# published after the commit.
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" 1 \
    "one pending RBAC sync for the workspace (coalesced)"
is "$(sql "SELECT bool_and(published_at IS NOT NULL) FROM outbox WHERE workspace_id = '$WS' AND subject = 'hexabase.cp.workspace.rbac_sync'")" t \
    "its request was published"
sql "UPDATE tasks SET status = 'running' WHERE workspace_id = '$WS' AND type = 'rbac_sync'" >/dev/null
api "$ADM" POST "$G" '{"name":"ops"}'
OPS=$(jqb .id)
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" 1 \
    "a change after a worker took the task enqueues a new one"
is "$(sql "SELECT payload->>'request_id' = request_id AND request_id <> '' FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" t \
    "carrying the request id"

# --- read ----------------------------------------------------------------------------
api "$VWR" GET "$G/$DEVS"
is "$STATUS" 200 "a viewer reads a group"
is "$(jqb .name)" devs "the group"
api "$STR" GET "$G/$DEVS"
is_problem 404 "a stranger: 404"
api "$MEM" GET "$G/$DEVS"
is_problem 404 "an org member without a group: 404"
api "$ADM" GET "$G/grp-0zzzzzzzzzzzzzzzzzzzzzzzzz"
is_problem 404 "an unknown group: 404"
api "$ADM" GET "$G/nope"
is_problem 404 "a malformed group id: 404"
api "$ADM" GET "/api/v1/workspaces/$WS2/groups/$DEVS"
is_problem 404 "another workspace's path for the group: 404"
api "" GET "$G/$DEVS"
is_problem 401 "no token: 401"

api "$VWR" GET "$G?limit=2"
is "$STATUS" 200 "a viewer lists groups"
is "$(jqb '.items | length')" 2 "a page of two"
page1=$(jqb -c '[.items[].id]')
cur=$(jqb -r .next_cursor)
api "$VWR" GET "$G?limit=2&cursor=$cur"
page2=$(jqb -c '[.items[].id]')
api "$VWR" GET "$G?limit=100"
all=$(jqb -c '[.items[].id]')
is "$(jq -nc --argjson a "$page1" --argjson b "$page2" '$a + $b')" "$(printf '%s' "$all" | jq -c '.[:4]')" \
    "the second page follows the first"
is "$(printf '%s' "$all" | jq length)" 6 "six groups in all (three built in)"
api "$VWR" GET "$G?limit=0"
is_problem 400 "limit 0: 400"
api "$VWR" GET "$G?cursor=made-up"
is_problem 400 "a made-up cursor: 400"

api "$VWR" GET "$G?view=tree"
is "$STATUS" 200 "the tree"
is "$(jqb -c '[.items[] | .name]')" '["WorkspaceMembers","devs","ops"]' "the roots, by name"
is "$(jqb -c '.items[] | select(.name == "WorkspaceMembers") | [.children[].name]')" '["WSAdmins","WSUsers"]' \
    "the built-in hierarchy"
is "$(jqb -c '.items[] | select(.name == "devs") | .children[0] | [.name, .children]')" '["backend",[]]' \
    "a child under its parent"
api "$VWR" GET "$G?view=tree&limit=5"
is_problem 400 "the tree is not paged: 400"
api "$VWR" GET "$G?view=forest"
is_problem 400 "an unknown view: 400"

# --- change --------------------------------------------------------------------------
api "$WSA" PATCH "$G/$OPS" '{"name":"sre"}'
is "$STATUS" 200 "rename: 200"
is "$(jqb .name)" sre "renamed"
api "$WSA" PATCH "$G/$OPS" "{\"parent_id\":\"$BACK\"}"
is "$STATUS" 200 "re-parent: 200"
is "$(jqb .parent_id)" "$BACK" "moved under backend"
api "$WSA" PATCH "$G/$DEVS" "{\"parent_id\":\"$OPS\"}"
is_problem 422 "a cycle (devs under its own grandchild): 422"
is "$(jqb '.errors[0].field')" parent_id "the error names parent_id"
api "$WSA" PATCH "$G/$DEVS" "{\"parent_id\":\"$DEVS\"}"
is_problem 422 "a group under itself: 422"
is "$(sql "SELECT parent_id IS NULL FROM groups WHERE id = '$DEVS'")" t "devs did not move"
api "$WSA" PATCH "$G/$OPS" '{"parent_id":null}'
is "$(jqb .parent_id)" null "null moves a group to the top"
api "$WSA" PATCH "$G/$OPS" '{}'
is_problem 422 "nothing to change: 422"
api "$WSA" PATCH "$G/$G_ADM" '{"name":"Bosses"}'
is_problem 409 "a built-in group is not renamed: 409"
api "$WSA" PATCH "$G/$G_USR" "{\"parent_id\":\"$DEVS\"}"
is_problem 409 "nor moved"
api "$VWR" PATCH "$G/$OPS" '{"name":"mine"}'
is_problem 403 "a viewer cannot rename: 403"
api "$STR" PATCH "$G/$OPS" '{"name":"mine"}'
is_problem 404 "a stranger: 404"

# Two moves that are each fine alone but loop together, at once: the
# database lets exactly one through.
api "$ADM" POST "$G" '{"name":"a"}'; GA=$(jqb .id)
api "$ADM" POST "$G" '{"name":"b"}'; GB=$(jqb .id)
for i in 1 2 3 4 5; do
	sql "UPDATE groups SET parent_id = NULL WHERE id IN ('$GA', '$GB')" >/dev/null
	codes=$(curl -s -Z --parallel-immediate -o /dev/null -w '%{http_code}\n' \
	    -X PATCH -H "$(bearer "$ADM")" -H 'Content-Type: application/json' \
	    -d "{\"parent_id\":\"$GB\"}" "$HXB_TEST_URL$G/$GA" --next \
	    -s -o /dev/null -w '%{http_code}\n' \
	    -X PATCH -H "$(bearer "$ADM")" -H 'Content-Type: application/json' \
	    -d "{\"parent_id\":\"$GA\"}" "$HXB_TEST_URL$G/$GB" 2>/dev/null |
	    sort | tr '\n' ' ')
	[ "$codes" = "200 422 " ] || break
done
is "$codes" "200 422 " "two racing moves that would loop: one 200, one 422 (5 rounds)"
is "$(sql "SELECT count(*) FROM groups WHERE id IN ('$GA', '$GB') AND parent_id IS NOT NULL")" 1 "and no loop"

# --- members -------------------------------------------------------------------------
M=$G/$DEVS/members
api "$WSA" POST "$M" "{\"user_id\":\"$MEM_ID\"}" -H "Idempotency-Key: m-$R"
is "$STATUS" 201 "add a member: 201"
is "$(jqb -c '[.user_id, .group_id, .email]')" "[\"$MEM_ID\",\"$DEVS\",\"meg$R@example.test\"]" \
    "the membership"
api "$WSA" POST "$M" "{\"user_id\":\"$MEM_ID\"}"
is_problem 409 "adding someone twice: 409"
api "$WSA" POST "$M" "{\"user_id\":\"$STR_ID\"}"
is_problem 422 "someone outside the organization: 422"
is "$(jqb '.errors[0].field')" user_id "the error names user_id"
api "$WSA" POST "$M" '{"user_id":"hxb-usr-0zzzzzzzzzzzzzzzzzzzzzzzzz"}'
is_problem 422 "a user who does not exist: 422"
api "$VWR" POST "$M" "{\"user_id\":\"$VWR_ID\"}"
is_problem 403 "a viewer cannot add members: 403"
api "$MEM" GET "$WSP"
api "$MEM" GET "$G/$DEVS"
is "$STATUS" 200 "the new member now sees the workspace's groups"
api "$VWR" GET "$M"
is "$(jqb -c '[.items[].user_id]')" "[\"$MEM_ID\"]" "a viewer lists the members"
api "$VWR" GET "$M/$MEM_ID"
is "$STATUS" 200 "and reads one"
api "$VWR" GET "$M/$VWR_ID"
is_problem 404 "a user who is not a member: 404"
api "$STR" GET "$M"
is_problem 404 "a stranger lists nothing: 404"
api "$ADM" GET "$G/grp-0zzzzzzzzzzzzzzzzzzzzzzzzz/members"
is_problem 404 "the members of an unknown group: 404"

# Effective groups: the groups one is in and every ancestor, one function.
api "$ADM" POST "$G/$BACK/members" "{\"user_id\":\"$VWR_ID\"}"
is "$(sql "SELECT string_agg(g.name, ',' ORDER BY g.name COLLATE \"C\") FROM hxb_effective_groups('$WS', '$VWR_ID') e JOIN groups g ON g.id = e.group_id")" \
    "WSUsers,WorkspaceMembers,backend,devs" "effective groups: direct ones and every ancestor"

# --- delete --------------------------------------------------------------------------
api "$WSA" DELETE "$G/$DEVS"
is_problem 409 "a group with members and children: 409"
like "$(jqb .detail)" "1 child group.*1 member" "it says why"
api "$WSA" DELETE "$M/$MEM_ID"
is "$STATUS" 204 "remove a member: 204"
api "$WSA" DELETE "$M/$MEM_ID"
is_problem 404 "removing again: 404"
api "$MEM" GET "$G/$DEVS"
is_problem 404 "without a group, the workspace is gone from view again"
api "$WSA" DELETE "$G/$BACK"
is_problem 409 "a group that has a member: 409"
api "$WSA" DELETE "$G/$BACK/members/$VWR_ID"
api "$WSA" DELETE "$G/$BACK"
is "$STATUS" 204 "an empty group: 204"
api "$WSA" DELETE "$G/$DEVS"
is "$STATUS" 204 "its parent, now empty: 204"
api "$WSA" GET "$G/$DEVS"
is_problem 404 "gone"
api "$WSA" DELETE "$G/$G_USR"
is_problem 409 "a built-in group is not deleted: 409"
api "$VWR" DELETE "$G/$OPS"
is_problem 403 "a viewer cannot delete: 403"
is "$(sql "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE workspace_id = '$WS' AND action LIKE 'group.member%' AND resource LIKE '%$DEVS%'")" \
    "group.member.add,group.member.remove" "membership changes audited"
is "$(sql "SELECT count(*) FROM audit_log WHERE workspace_id = '$WS' AND action = 'group.delete'")" 2 "deletes audited"

# A workspace on its way out takes no more changes.
sql "UPDATE workspaces SET status = 'deleting' WHERE id = '$WS'" >/dev/null
api "$ADM" POST "$G" '{"name":"late"}'
is_problem 409 "a workspace being deleted: 409"
api "$ADM" GET "$G/$OPS"
is "$STATUS" 200 "but can still be read"

done_testing
