# t/lib/tenancy.sh: an organization with one of each kind of caller, for
# the tenancy API tests; source after tap.sh and auth.sh.
#
#   tenancy_setup TAG   signs in five users and builds, through the API:
#     ADM   the organization's admin (its creator)          ADM_ID
#     WSA   an org member in WSAdmins: a workspace admin    WSA_ID
#     VWR   an org member in WSUsers: a workspace viewer    VWR_ID
#     MEM   an org member in no group of the workspace      MEM_ID
#     STR   a stranger, admin of an organization of its own STR_ID
#   and ORG, WS (a workspace on the pro plan), ORG2 and WS2 (the
#   stranger's), the default groups G_ALL, G_ADM, G_USR, and the path
#   prefix WSP=/api/v1/workspaces/$WS.
#   api TOKEN METHOD PATH [JSON] [curl args]   one request into STATUS/BODY
#   join_org TOKEN EMAIL ROLE                  invite and accept

api() {
	local t=$1 m=$2 p=$3 d=${4:-}
	shift 3
	[ $# -gt 0 ] && shift
	if [ -n "$d" ]; then
		http "$m" "$p" -H "$(bearer "$t")" \
		    -H 'Content-Type: application/json' -d "$d" "$@"
	elif [ -n "$t" ]; then
		http "$m" "$p" -H "$(bearer "$t")" "$@"
	else
		http "$m" "$p" "$@"
	fi
}

join_org() {	# join_org ADMIN_TOKEN MEMBER_TOKEN EMAIL ROLE
	api "$1" POST "/api/v1/organizations/$ORG/users" \
	    "{\"email\":\"$3\",\"role\":\"$4\"}"
	api "$2" POST "/api/v1/invitations/$(jqb .token)/accept"
}

group_id() {	# group_id WS NAME: as the admin sees it
	sql "SELECT id FROM groups WHERE workspace_id = '$1' AND name = '$2'"
}

tenancy_setup() {
	local tag=$1
	sign_in "ad$tag"; ADM=$AT ADM_ID=$UID_
	sign_in "wa$tag"; WSA=$AT WSA_ID=$UID_
	sign_in "vw$tag"; VWR=$AT VWR_ID=$UID_
	sign_in "me$tag"; MEM=$AT MEM_ID=$UID_
	sign_in "st$tag"; STR=$AT STR_ID=$UID_
	api "$ADM" POST /api/v1/organizations "{\"name\":\"t-$tag\"}"
	ORG=$(jqb .id)
	join_org "$ADM" "$WSA" "wa$tag@example.test" member
	join_org "$ADM" "$VWR" "vw$tag@example.test" member
	join_org "$ADM" "$MEM" "me$tag@example.test" member
	api "$ADM" POST "/api/v1/organizations/$ORG/workspaces" \
	    '{"name":"main","plan_id":"pro"}'
	WS=$(jqb .workspace.id)
	WSP=/api/v1/workspaces/$WS
	G_ALL=$(group_id "$WS" WorkspaceMembers)
	G_ADM=$(group_id "$WS" WSAdmins)
	G_USR=$(group_id "$WS" WSUsers)
	api "$ADM" POST "$WSP/groups/$G_ADM/members" "{\"user_id\":\"$WSA_ID\"}"
	api "$ADM" POST "$WSP/groups/$G_USR/members" "{\"user_id\":\"$VWR_ID\"}"
	api "$STR" POST /api/v1/organizations "{\"name\":\"s-$tag\"}"
	ORG2=$(jqb .id)
	api "$STR" POST "/api/v1/organizations/$ORG2/workspaces" \
	    '{"name":"theirs","plan_id":"free"}'
	WS2=$(jqb .workspace.id)
}
