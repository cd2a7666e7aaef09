#!/bin/bash
# The authorization matrix: every route of every handler, under each kind
# of caller, against the one table of expected answers,
# t/api/authz_matrix.tsv.  The table must name exactly the routes the
# handlers serve (`handler --routes`), so a new route without a row fails
# here.  Each cell that changes something gets its own fresh target
# (the setup column), so that every caller meets the same situation.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

TABLE=$(dirname "$0")/authz_matrix.tsv
CALLERS=(org_admin org_member ws_admin ws_viewer stranger none expired revoked)
R=$$r$RANDOM
N=0

# --- the table against the handlers' route tables -------------------------------
want=$(for h in "$HXB_TEST_BUILD"/handlers/*; do
	[ -f "$h" ] && [ -x "$h" ] && "$h" --routes
done | awk '{print $1, $2}' | sort)
have=$(grep -v '^#' "$TABLE" | awk -F'\t' 'NF {print $1, $2}' | sort)
is "$(comm -3 <(printf '%s\n' "$want") <(printf '%s\n' "$have") | tr -s '\t' ' ')" "" \
    "the matrix names every route the handlers serve, and no other"
is "$(grep -v '^#' "$TABLE" | awk -F'\t' 'NF && NF != 12' | head -n 3)" "" "every row has 12 columns"

# --- the callers -----------------------------------------------------------------
tenancy_setup "z$R"
declare -A TOK USERNAME
TOK[org_admin]=$ADM TOK[org_member]=$MEM TOK[ws_admin]=$WSA
TOK[ws_viewer]=$VWR TOK[stranger]=$STR TOK[none]=
USERNAME[org_admin]=adz$R USERNAME[org_member]=mez$R USERNAME[ws_admin]=waz$R
USERNAME[ws_viewer]=vwz$R USERNAME[stranger]=stz$R

# The org admin's token of a session since revoked.
sign_in "adz$R"; REVOKED=$AT
http POST /auth/logout -H "$(bearer "$REVOKED")"
TOK[revoked]=$REVOKED
# The org admin's token, signed with our active key, expired five minutes
# ago: with the same session and times that are still good, the same tool
# makes a token the API takes (the control).
sign_in "adz$R"
EXP_SID=$(sql "SELECT id FROM sessions WHERE user_id = '$ADM_ID' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1")
mint() { stack with-env "$HXB_TEST_STACK" "$HXB_TEST_BUILD/t/tools/mint-token" "$ADM_ID" "$EXP_SID" "$@"; }
TOK[expired]=$(mint -1200 -300)
http GET /auth/me -H "$(bearer "$(mint -10 600)")"
is "$STATUS" 200 "control: a token minted alike with good times is taken"
http GET /auth/me -H "$(bearer "${TOK[expired]}")"
like "$(jqb .detail)" expired "the expired token is refused for its age"

# The things the routes are about.
api "$ADM" POST "$WSP/groups" '{"name":"matrix"}'; GRP=$(jqb .id)
api "$ADM" POST "$WSP/projects" '{"name":"matrix"}'; PRJ=$(jqb .id)
api "$ADM" POST "/api/v1/projects/$PRJ/roles" \
    '{"name":"matrix","rules":[{"api_groups":[""],"resources":["pods"],"verbs":["get"]}]}'
ROLE=$(jqb .id)
api "$ADM" POST "$WSP/clusterroleassignments" "{\"group_id\":\"$GRP\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
CRA=$(jqb .id)
api "$ADM" POST "/api/v1/projects/$PRJ/roleassignments" "{\"group_id\":\"$GRP\",\"role\":\"edit\"}"
RA=$(jqb .id)
TASK=$(sql "SELECT id FROM tasks WHERE workspace_id = '$WS' AND type = 'create_workspace'")
ok $([ -n "$GRP" ] && [ -n "$PRJ" ] && [ -n "$ROLE" ] && [ -n "$CRA" ] && [ -n "$RA" ] && [ -n "$TASK" ]; echo $?) \
    "the fixtures exist"

# --- setups: a fresh target for a cell ---------------------------------------------
new_user() {	# a user who exists but never signed in: P_userId
	P_userId=$(sql "INSERT INTO users (id, email, email_verified) VALUES (hxb_new_id('hxb-usr-'), 'u' || md5(random()::text) || '@example.test', true) RETURNING id")
}
fresh_member() {	# a new member of ORG
	new_user
	sql "INSERT INTO organization_users (organization_id, user_id, role) VALUES ('$ORG', '$P_userId', 'member')" >/dev/null
}
fresh_membership() {	# a new member of ORG, in GRP
	fresh_member
	sql "INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES ('$WS', '$GRP', '$P_userId')" >/dev/null
	P_groupId=$GRP
}
viewer_membership() { P_groupId=$G_USR P_userId=$VWR_ID; }
fresh_org() {	# an organization of the admin's, the other members in it
	api "$ADM" POST /api/v1/organizations "{\"name\":\"fo-$R-$N\"}"
	P_orgId=$(jqb .id)
	sql "INSERT INTO organization_users (organization_id, user_id, role) SELECT '$P_orgId', unnest(ARRAY['$MEM_ID', '$WSA_ID', '$VWR_ID']), 'member'" >/dev/null
}
fresh_invitation() {	# an invitation for an address nobody has
	api "$ADM" POST "/api/v1/organizations/$ORG/users" "{\"email\":\"nobody$R-$N@example.test\",\"role\":\"member\"}"
	P_token=$(jqb .token)
}
fresh_ws() {	# a workspace where WSA administers and VWR views
	api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" "{\"name\":\"fw$N\",\"plan_id\":\"free\"}"
	P_wsId=$(jqb .workspace.id)
	sql "INSERT INTO group_memberships (workspace_id, group_id, user_id) SELECT '$P_wsId', g.id, u.u FROM groups g, (VALUES ('$WSA_ID', 'WSAdmins'), ('$VWR_ID', 'WSUsers')) AS u(u, n) WHERE g.workspace_id = '$P_wsId' AND g.name = u.n" >/dev/null
}
running_ws() {	# a fresh workspace, running, as the provisioning job leaves it
	fresh_ws
	sql "UPDATE workspaces SET status = 'running', api_endpoint = 'https://127.0.0.1:6443', api_ca_pem = E'-----BEGIN CERTIFICATE-----\\nMA==\\n-----END CERTIFICATE-----\\n' WHERE id = '$P_wsId'" >/dev/null
}
fresh_group() {
	api "$ADM" POST "$WSP/groups" "{\"name\":\"fg$N\"}"
	P_groupId=$(jqb .id)
}
fresh_project() {
	api "$ADM" POST "$WSP/projects" "{\"name\":\"fp$N\"}"
	P_projectId=$(jqb .id)
}
fresh_role() {
	api "$ADM" POST "/api/v1/projects/$PRJ/roles" \
	    "{\"name\":\"fr$N\",\"rules\":[{\"api_groups\":[\"\"],\"resources\":[\"pods\"],\"verbs\":[\"get\"]}]}"
	P_roleId=$(jqb .id)
}
fresh_cra() {
	fresh_group
	api "$ADM" POST "$WSP/clusterroleassignments" "{\"group_id\":\"$P_groupId\",\"cluster_role\":\"hexabase:workspace-viewer\"}"
	P_id=$(jqb .id)
}
fresh_ra() {
	fresh_group
	api "$ADM" POST "/api/v1/projects/$PRJ/roleassignments" "{\"group_id\":\"$P_groupId\",\"role\":\"view\"}"
	P_id=$(jqb .id)
}
use_cra() { P_id=$CRA; }
use_ra() { P_id=$RA; }
fresh_session() {	# the caller, signed in anew: its other sessions untouched
	if [ -n "${USERNAME[$caller]:-}" ]; then
		sign_in "${USERNAME[$caller]}"
		token=$AT
	fi
}
admin_session() {	# a session of the org admin's other than the one in use
	sign_in "adz$R"
	P_sessionId=$(sql "SELECT id FROM sessions WHERE user_id = '$ADM_ID' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1")
}

# The values of the path parameters, unless a setup says otherwise.
defaults() {
	P_orgId=$ORG P_wsId=$WS P_groupId=$GRP P_projectId=$PRJ P_roleId=$ROLE
	P_taskId=$TASK P_planId=free P_provider=dev P_userId=$VWR_ID
	P_id= P_token= P_sessionId=
}

# Fill {name} in s from P_name, {n} with the cell's number, {r} the run's.
fill() {
	local s=$1 name val
	s=${s//\{n\}/$N}
	s=${s//\{r\}/$R}
	while [[ $s =~ \{(P_)?([A-Za-z]+)\} ]]; do
		name=P_${BASH_REMATCH[2]}
		val=${!name}
		s=${s//"${BASH_REMATCH[0]}"/$val}
	done
	printf '%s' "$s"
}

# --- the matrix ------------------------------------------------------------------
cells=0
while IFS=$'\t' read -r method route body setup e1 e2 e3 e4 e5 e6 e7 e8; do
	case $method in ''|'#'*) continue ;; esac
	expect=("$e1" "$e2" "$e3" "$e4" "$e5" "$e6" "$e7" "$e8")
	for i in "${!CALLERS[@]}"; do
		caller=${CALLERS[$i]}
		token=${TOK[$caller]}
		N=$((N + 1))
		defaults
		[ "$setup" = - ] || $setup
		path=$(fill "$route")
		args=()
		[ -n "$token" ] && args+=(-H "$(bearer "$token")")
		if [ "$body" != - ]; then
			args+=(-H 'Content-Type: application/json' -d "$(fill "$body")")
		fi
		http "$method" "$path" "${args[@]}"
		is "$STATUS" "${expect[$i]}" "$caller $method $route"
		cells=$((cells + 1))
	done
done < "$TABLE"
nroutes=$(printf '%s\n' "$want" | grep -c .)
is "$cells" $((nroutes * 8)) "$nroutes routes x 8 callers: every cell was run"

done_testing
