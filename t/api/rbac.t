#!/bin/bash
# Roles and assignments (handlers/rbac): a workspace's groups bound to the
# preset ClusterRoles, and in each project to a preset role (admin, edit,
# view, always listed, never changed) or a custom role whose rules stay
# within the admin ceiling.  Workspace admins change, viewers read,
# strangers get 404; every change is audited and enqueues the RBAC sync.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

R=$$r$RANDOM
tenancy_setup "r$R"
api "$ADM" POST "$WSP/groups" '{"name":"devs"}'; DEVS=$(jqb .id)
api "$ADM" POST "$WSP/projects" '{"name":"web"}'; PRJ=$(jqb .id)
api "$ADM" POST "$WSP/projects" '{"name":"db"}'; PRJ2=$(jqb .id)
C=$WSP/clusterroleassignments
RL=/api/v1/projects/$PRJ/roles
RA=/api/v1/projects/$PRJ/roleassignments

# --- cluster-role assignments -----------------------------------------------------
api "$VWR" GET "$C"
is "$STATUS" 200 "a viewer lists the workspace's bindings"
is "$(jqb -c '[.items[] | [.group_name, .cluster_role]] | sort')" \
    '[["WSAdmins","hexabase:workspace-admin"],["WorkspaceMembers","hexabase:workspace-viewer"]]' \
    "the two preset bindings of a new workspace"
api "$WSA" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-admin\"}" -H "Idempotency-Key: c-$R"
is "$STATUS" 201 "a workspace admin binds a group: 201"
first=$BODY
CRA=$(jqb .id)
like "$CRA" '^cra-' "an assignment id"
is "$(jqb -c '[.group_id, .group_name, .cluster_role]')" "[\"$DEVS\",\"devs\",\"hexabase:workspace-admin\"]" "its fields"
api "$WSA" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-admin\"}" -H "Idempotency-Key: c-$R"
is "$BODY" "$first" "an idempotent replay"
api "$WSA" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-admin\"}"
is_problem 409 "the same binding twice: 409"
api "$WSA" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"cluster-admin\"}"
is_problem 422 "a cluster role that is no preset: 422"
is "$(jqb '.errors[0].field')" cluster_role "names the field"
api "$WSA" POST "$C" "{\"group_id\":\"$(group_id "$WS2" WSUsers)\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
is_problem 422 "a group of another workspace: 422"
is "$(jqb '.errors[0].field')" group_id "names group_id"
api "$VWR" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
is_problem 403 "a viewer cannot bind: 403"
api "$STR" POST "$C" "{\"group_id\":\"$DEVS\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
is_problem 404 "a stranger: 404"
api "$VWR" GET "$C/$CRA"
is "$(jqb .id)" "$CRA" "a viewer reads one"
api "$STR" GET "$C/$CRA"
is_problem 404 "a stranger does not: 404"
api "$ADM" GET "/api/v1/workspaces/$WS2/clusterroleassignments/$CRA"
is_problem 404 "through another workspace's path: 404 (the stranger's workspace, not the admin's)"

# Binding devs to workspace-admin makes its members workspace admins.
api "$ADM" POST "$WSP/groups/$DEVS/members" "{\"user_id\":\"$MEM_ID\"}"
api "$MEM" POST "$WSP/groups" '{"name":"mems"}'
is "$STATUS" 201 "a member of a group bound to workspace-admin administers the workspace"
api "$WSA" DELETE "$C/$CRA"
is "$STATUS" 204 "unbind: 204"
api "$MEM" POST "$WSP/groups" '{"name":"mems2"}'
is_problem 403 "unbound, the same member only reads: 403"
api "$WSA" DELETE "$C/$CRA"
is_problem 404 "unbinding again: 404"
api "$WSA" DELETE "$C/cra-nope"
is_problem 404 "a malformed id: 404"

# --- roles -------------------------------------------------------------------------
api "$VWR" GET "$RL"
is "$STATUS" 200 "a viewer lists a project's roles"
is "$(jqb -c '[.items[] | [.id, .preset, .cluster_role]]')" \
    '[["admin",true,"admin"],["edit",true,"edit"],["view",true,"view"]]' "the presets are always there"
RULES='[{"api_groups":["apps"],"resources":["deployments","deployments/scale"],"verbs":["get","list","watch","update","patch"]},{"api_groups":[""],"resources":["pods/log"],"verbs":["get"],"resource_names":["web-0"]}]'
api "$WSA" POST "$RL" "{\"name\":\"deployer\",\"rules\":$RULES}" -H "Idempotency-Key: r-$R"
is "$STATUS" 201 "a custom role within the ceiling: 201"
ROLE=$(jqb .id)
like "$ROLE" '^role-' "a role id"
is "$(jqb -c '[.name, .preset, .cluster_role, (.rules | length)]')" '["deployer",false,null,2]' "its fields"
first=$BODY
api "$WSA" POST "$RL" "{\"name\":\"deployer\",\"rules\":$RULES}" -H "Idempotency-Key: r-$R"
is "$BODY" "$first" "an idempotent replay"
api "$WSA" POST "$RL" "{\"name\":\"deployer\",\"rules\":$RULES}"
is_problem 409 "the same name twice: 409"
api "$VWR" GET "$RL"
is "$(jqb -c '[.items[].name]')" '["admin","edit","deployer","view"]' "presets and custom roles, one order"
api "$VWR" GET "$RL?limit=2"
cur=$(jqb -r .next_cursor)
api "$VWR" GET "$RL?limit=2&cursor=$cur"
is "$(jqb -c '[.items[].name]')" '["deployer","view"]' "paged across presets and custom roles"

bad() {	# bad RULES FIELD MESSAGE-ERE DESCRIPTION
	api "$WSA" POST "$RL" "{\"name\":\"bad\",\"rules\":$1}"
	is_problem 422 "$4: 422"
	is "$(jqb -r '.errors[0].field')" "$2" "$4: names $2"
	like "$(jqb -r '.errors[0].message')" "$3" "$4: says why"
}
bad '[]' rules 'array of 1 to 100 items' "no rules"
bad '[{"api_groups":["apps"],"resources":["deployments"],"verbs":[]}]' 'rules[0].verbs' 'array of 1' "empty verbs"
bad '[{"api_groups":["apps"],"resources":[],"verbs":["get"]}]' 'rules[0].resources' 'array of 1' "empty resources"
bad '[{"resources":["pods"],"verbs":["get"]}]' 'rules[0].api_groups' 'required' "no api_groups"
bad '[{"api_groups":[""],"resources":["pods"],"verbs":["fly"]}]' 'rules[0].verbs[0]' 'not a Kubernetes verb' "an unknown verb"
bad '[{"api_groups":[""],"resources":["pods"],"verbs":["*"]}]' 'rules[0].verbs[0]' 'no wildcard' "a wildcard verb"
bad '[{"api_groups":["*"],"resources":["pods"],"verbs":["get"]}]' 'rules[0].api_groups[0]' 'no wildcard' "a wildcard group"
bad '[{"api_groups":[""],"resources":["*"],"verbs":["get"]}]' 'rules[0].resources[0]' 'no wildcard' "a wildcard resource"
bad '[{"api_groups":[""],"resources":["nodes"],"verbs":["get"]}]' 'rules[0]' 'get on nodes is beyond' "nodes: beyond admin"
bad '[{"api_groups":[""],"resources":["resourcequotas"],"verbs":["update"]}]' 'rules[0]' 'update on resourcequotas' \
    "writing the namespace's quota: beyond admin"
bad '[{"api_groups":["rbac.authorization.k8s.io"],"resources":["roles"],"verbs":["escalate"]}]' 'rules[0]' \
    'escalate on rbac.authorization.k8s.io/roles' "escalate: beyond admin"
bad '[{"api_groups":[""],"resources":["pods"],"verbs":["get"],"nonResourceURLs":["/x"]}]' 'rules[0].nonResourceURLs' \
    'not a known field' "an unknown rule field"
bad '[{"api_groups":["apps"],"resources":["deployments"],"verbs":["get"]},{"api_groups":[""],"resources":["secrets"],"verbs":["get","bind"]}]' \
    'rules[1]' 'bind on secrets' "the second rule, named by index"
api "$WSA" POST "$RL" '{"name":"edit","rules":[{"api_groups":[""],"resources":["pods"],"verbs":["get"]}]}'
is_problem 422 "a preset's name: 422"
api "$WSA" POST "$RL" '{"name":"Bad Name","rules":[{"api_groups":[""],"resources":["pods"],"verbs":["get"]}]}'
is_problem 422 "a name that is no DNS label: 422"
api "$WSA" POST "$RL" '{"name":"norules"}'
is_problem 422 "no rules at all: 422"
is "$(sql "SELECT count(*) FROM roles WHERE project_id = '$PRJ'")" 1 "nothing written by refused requests"
api "$VWR" POST "$RL" "{\"name\":\"mine\",\"rules\":$RULES}"
is_problem 403 "a viewer cannot create roles: 403"
api "$STR" POST "$RL" "{\"name\":\"mine\",\"rules\":$RULES}"
is_problem 404 "a stranger: 404"

api "$VWR" GET "$RL/$ROLE"
is "$(jqb .name)" deployer "a viewer reads a custom role"
api "$VWR" GET "$RL/view"
is "$(jqb -c '[.id, .preset, .rules]')" '["view",true,null]' "and a preset"
api "$VWR" GET "/api/v1/projects/$PRJ2/roles/$ROLE"
is_problem 404 "a role through another project: 404"
api "$VWR" GET "$RL/owner"
is_problem 404 "no such preset: 404"
api "$WSA" PATCH "$RL/$ROLE" '{"rules":[{"api_groups":["apps"],"resources":["deployments"],"verbs":["get"]}]}'
is "$STATUS" 200 "change the rules: 200"
is "$(jqb -c '.rules[0].verbs')" '["get"]' "changed"
api "$WSA" PATCH "$RL/$ROLE" '{"rules":[{"api_groups":[""],"resources":["nodes"],"verbs":["get"]}]}'
is_problem 422 "rules beyond the ceiling, on a change: 422"
api "$WSA" PATCH "$RL/$ROLE" '{"name":"shipper"}'
is "$(jqb .name)" shipper "a rename"
api "$WSA" PATCH "$RL/admin" '{"name":"boss"}'
is_problem 409 "a preset never changes: 409"
api "$WSA" DELETE "$RL/edit"
is_problem 409 "nor goes: 409"
api "$VWR" PATCH "$RL/$ROLE" '{"name":"x"}'
is_problem 403 "a viewer cannot change roles: 403"

# --- role assignments --------------------------------------------------------------
api "$WSA" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"edit\"}" -H "Idempotency-Key: a-$R"
is "$STATUS" 201 "a preset role for a group: 201"
A1=$(jqb .id)
is "$(jqb -c '[.group_name, .role, .role_name]')" '["devs","edit","edit"]' "its fields"
api "$WSA" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"$ROLE\"}"
is "$STATUS" 201 "a custom role for the same group: 201"
A2=$(jqb .id)
is "$(jqb -c '[.role, .role_name]')" "[\"$ROLE\",\"shipper\"]" "by id, with its name"
api "$WSA" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"edit\"}"
is_problem 409 "the same role twice: 409"
api "$WSA" POST "/api/v1/projects/$PRJ2/roleassignments" "{\"group_id\":\"$DEVS\",\"role\":\"$ROLE\"}"
is_problem 422 "a custom role of another project: 422"
is "$(jqb '.errors[0].field')" role "names role"
api "$WSA" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"cluster-admin\"}"
is_problem 422 "a role that is neither preset nor id: 422"
api "$WSA" POST "$RA" "{\"group_id\":\"$(group_id "$WS2" WSUsers)\",\"role\":\"view\"}"
is_problem 422 "a group of another workspace: 422"
api "$VWR" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"view\"}"
is_problem 403 "a viewer cannot assign: 403"
api "$STR" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"view\"}"
is_problem 404 "a stranger: 404"
api "$VWR" GET "$RA"
is "$(jqb -c '[.items[].id]')" "[\"$A1\",\"$A2\"]" "a viewer lists them"
api "$VWR" GET "$RA/$A2"
is "$(jqb .role_name)" shipper "and reads one"
api "$STR" GET "$RA/$A2"
is_problem 404 "a stranger: 404"

api "$WSA" DELETE "$RL/$ROLE"
is_problem 409 "a role still assigned: 409"
api "$WSA" DELETE "$RA/$A2"
is "$STATUS" 204 "unassign: 204"
api "$WSA" DELETE "$RA/$A2"
is_problem 404 "again: 404"
api "$WSA" DELETE "$RL/$ROLE"
is "$STATUS" 204 "then the role goes: 204"
api "$VWR" GET "$RL"
is "$(jqb -c '[.items[].id]')" '["admin","edit","view"]' "the presets stay"

is "$(sql "SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log WHERE workspace_id = '$WS' AND (action LIKE 'role%' OR action LIKE 'cluster_role%')")" \
    "cluster_role_assignment.create,cluster_role_assignment.delete,role.create,role.delete,role.update,role_assignment.create,role_assignment.delete" \
    "every kind of change audited"
is "$(sql "SELECT count(*) FROM tasks WHERE workspace_id = '$WS' AND type = 'rbac_sync' AND status = 'pending'")" 1 \
    "one pending RBAC sync"

# A project's roles and assignments go with it.
api "$WSA" POST "$RA" "{\"group_id\":\"$DEVS\",\"role\":\"view\"}"
api "$ADM" DELETE "/api/v1/projects/$PRJ"
is "$STATUS" 204 "deleting the project"
is "$(sql "SELECT count(*) FROM role_assignments WHERE project_id = '$PRJ'")" 0 "takes its assignments"

done_testing
