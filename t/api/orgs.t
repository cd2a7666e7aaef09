#!/bin/bash
# Organizations, members and invitations (handlers/orgs): the creator is
# admin; names are unique (20 racing creates, one wins); Idempotency-Key
# replays; strangers get 404; the last admin stays; invitations are
# single-use, expire, and belong to one verified address; every change is
# audited in its transaction.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

R=$$r$RANDOM
json() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
post() {	# post TOKEN PATH JSON [curl args]: into STATUS/BODY
	local t=$1 p=$2 d=$3
	shift 3
	http POST "$p" -H "$(bearer "$t")" -H 'Content-Type: application/json' -d "$d" "$@"
}
patch() {
	http PATCH "$2" -H "$(bearer "$1")" -H 'Content-Type: application/json' -d "$3"
}

sign_in "own$R"; OWN=$AT OWN_ID=$UID_
sign_in "mem$R"; MEM=$AT MEM_ID=$UID_
sign_in "str$R"; STR=$AT

# --- create ----------------------------------------------------------------------
post "$OWN" /api/v1/organizations "{\"name\":\"acme-$R\",\"display_name\":\"Acme\"}"
is "$STATUS" 201 "create: 201"
ORG=$(jqb .id)
like "$ORG" '^org-[0-7][0-9a-hjkmnp-tv-z]{25}$' "an organization id"
is "$(jqb -c '[.name, .display_name, .role, .is_personal]')" "[\"acme-$R\",\"Acme\",\"admin\",false]" \
    "the creator is its admin"
like "$(jqb .created_at)" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "RFC 3339 times"
http GET /auth/me -H "$(bearer "$OWN")"
is "$(jqb --arg o "$ORG" '[.organizations[] | select(.id == $o) | .role] | .[0]')" admin \
    "/auth/me shows it at once"
post "$OWN" /api/v1/organizations "{\"name\":\"acme-$R\"}"
is_problem 409 "the same name again: 409"
post "$OWN" /api/v1/organizations '{"name":"Not A Label"}'
is_problem 422 "a name that is no DNS label: 422"
is "$(jqb '.errors[0].field')" name "the error names the field"
post "$OWN" /api/v1/organizations "{\"name\":\"x$R\",\"colour\":\"red\"}"
is_problem 422 "an unknown field: 422"
post "$OWN" /api/v1/organizations '{"name":'
is_problem 400 "malformed JSON: 400"
http POST /api/v1/organizations -H 'Content-Type: application/json' -d '{"name":"anon"}'
is_problem 401 "no token: 401"

# 20 concurrent creates of one name: exactly one 201.
codes=$(race 20 "$OWN" /api/v1/organizations "{\"name\":\"race-$R\"}")
is "$codes" "201x1 409x19 " "20 racing creates of one name: one 201, nineteen 409"
is "$(sql "SELECT count(*) FROM organizations WHERE name = 'race-$R'")" 1 "one row"

# Idempotency.
K="key-$R"
post "$OWN" /api/v1/organizations "{\"name\":\"idem-$R\"}" -H "Idempotency-Key: $K"
is "$STATUS" 201 "with an Idempotency-Key: 201"
first=$BODY
post "$OWN" /api/v1/organizations "{\"name\":\"idem-$R\"}" -H "Idempotency-Key: $K"
is "$STATUS" 201 "replayed: the same status"
is "$BODY" "$first" "replayed: the identical body"
is "$(header idempotent-replayed)" true "replayed: Idempotent-Replayed: true"
is "$(sql "SELECT count(*) FROM organizations WHERE name = 'idem-$R'")" 1 "replayed: nothing created twice"
post "$OWN" /api/v1/organizations "{\"name\":\"other-$R\"}" -H "Idempotency-Key: $K"
is_problem 422 "the same key for another body: 422"
post "$MEM" /api/v1/organizations "{\"name\":\"idem2-$R\"}" -H "Idempotency-Key: $K"
is "$STATUS" 201 "keys are per user: another user's same key is a new request"
post "$OWN" /api/v1/organizations "{\"name\":\"bad-$R\"}" -H "Idempotency-Key: "$'\x7f'
ok $([ "$STATUS" = 400 ] || [ "$STATUS" = 201 ]; echo $?) "an odd key is refused or ignored, never stored oddly ($STATUS)"

# --- read, list, change ------------------------------------------------------------
http GET "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")"
is "$STATUS" 200 "get: 200"
is "$(jqb .id)" "$ORG" "get: the organization"
http GET "/api/v1/organizations/$ORG" -H "$(bearer "$STR")"
is_problem 404 "a stranger: 404"
http GET "/api/v1/organizations/org-0zzzzzzzzzzzzzzzzzzzzzzzzz" -H "$(bearer "$OWN")"
is_problem 404 "an id that does not exist: 404, the same"
http GET "/api/v1/organizations/nonsense" -H "$(bearer "$OWN")"
is_problem 404 "a malformed id: 404"
http GET '/api/v1/organizations?limit=2' -H "$(bearer "$OWN")"
is "$STATUS" 200 "list: 200"
is "$(jqb '.items | length')" 2 "list: limit 2"
cur=$(jqb .next_cursor)
http GET "/api/v1/organizations?limit=100&cursor=$cur" -H "$(bearer "$OWN")"
ok $([ "$(jqb '.items | length')" -ge 2 ]; echo $?) "list: the next page"
http GET '/api/v1/organizations?limit=500' -H "$(bearer "$OWN")"
is_problem 400 "list: limit above 100: 400"
http GET '/api/v1/organizations' -H "$(bearer "$STR")"
is "$(jqb --arg o "$ORG" '[.items[] | select(.id == $o)] | length')" 0 "a stranger's list does not show it"

patch "$OWN" "/api/v1/organizations/$ORG" '{"display_name":"Acme Inc."}'
is "$STATUS" 200 "patch: 200"
is "$(jqb .display_name)" "Acme Inc." "patch: changed"
patch "$OWN" "/api/v1/organizations/$ORG" '{"display_name":null}'
is "$(jqb .display_name)" "" "patch: null clears the display name, as on create"
patch "$OWN" "/api/v1/organizations/$ORG" '{"display_name":"Acme Inc."}'
patch "$OWN" "/api/v1/organizations/$ORG" '{}'
is_problem 422 "patch: nothing to change: 422"
patch "$STR" "/api/v1/organizations/$ORG" '{"display_name":"pwned"}'
is_problem 404 "patch by a stranger: 404"

# --- invitations and members ------------------------------------------------------------
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"mem$R@example.test\",\"role\":\"member\"}" \
    -H "Idempotency-Key: inv-$R"
is "$STATUS" 201 "invite: 201"
TOK=$(jqb .token)
first=$BODY
like "$TOK" '^hxbinv_[A-Za-z0-9_-]{43}$' "invite: a single-use token"
is "$(sql "SELECT count(*) FROM audit_log WHERE action = 'invitation.create' AND after::text LIKE '%$TOK%'")" 0 \
    "the token is not in the audit log"
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"mem$R@example.test\",\"role\":\"member\"}" \
    -H "Idempotency-Key: inv-$R"
is "$BODY" "$first" "a replayed invitation: the identical answer, token included"
is "$(sql "SELECT count(*) FROM idempotency_keys WHERE response LIKE '%hxbinv_%' OR key LIKE '%inv-$R%'")" 0 \
    "the idempotency record holds neither the token nor the key in clear"
sql "UPDATE idempotency_keys SET response = 'A' || response WHERE user_id = '$OWN_ID'" >/dev/null
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"mem$R@example.test\",\"role\":\"member\"}" \
    -H "Idempotency-Key: inv-$R"
is_problem 422 "a record tampered with is never replayed"
sql "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = '$OWN_ID'" >/dev/null
post "$OWN" /api/v1/organizations "{\"name\":\"idem-$R\"}" -H "Idempotency-Key: key-$R"
is_problem 409 "after a day a key is forgotten: the request runs again (the name is taken)"
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"MEM$R@example.test\",\"role\":\"admin\"}"
is_problem 409 "a second pending invitation for the address: 409"
post "$OWN" "/api/v1/organizations/$ORG/users" '{"email":"x@example.test","role":"owner"}'
is_problem 422 "an unknown role: 422"
post "$STR" "/api/v1/organizations/$ORG/users" '{"email":"x@example.test","role":"member"}'
is_problem 404 "a stranger cannot invite: 404"
http POST "/api/v1/invitations/$TOK/accept" -H "$(bearer "$STR")"
is_problem 403 "another address cannot accept it"
http POST "/api/v1/invitations/$TOK/accept" -H "$(bearer "$MEM")"
is "$STATUS" 200 "accept: 200"
is "$(jqb .role)" member "accept: a member"
http POST "/api/v1/invitations/$TOK/accept" -H "$(bearer "$MEM")"
is_problem 410 "accept again: 410"
http POST "/api/v1/invitations/hxbinv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/accept" -H "$(bearer "$MEM")"
is_problem 404 "an unknown token: 404"
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"mem$R@example.test\",\"role\":\"member\"}"
is_problem 409 "inviting a member: 409"

# An expired invitation.
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"late$R@example.test\",\"role\":\"member\"}"
LATE=$(jqb .token)
sql "UPDATE invitations SET created_at = now() - interval '8 days', expires_at = now() - interval '1 day' WHERE lower(email) = 'late$R@example.test'" >/dev/null
sign_in "late$R"
http POST "/api/v1/invitations/$LATE/accept" -H "$(bearer "$AT")"
is_problem 410 "an expired invitation: 410"
post "$OWN" "/api/v1/organizations/$ORG/users" "{\"email\":\"late$R@example.test\",\"role\":\"member\"}"
is "$STATUS" 201 "an expired invitation does not block a new one"

http GET "/api/v1/organizations/$ORG" -H "$(bearer "$MEM")"
is "$(jqb .role)" member "the member reads the organization"
http GET "/api/v1/organizations/$ORG/users" -H "$(bearer "$MEM")"
is "$(jqb '[.items[].role] | sort | join(",")')" "admin,member" "members: an admin and a member"
patch "$MEM" "/api/v1/organizations/$ORG" '{"display_name":"mine"}'
is_problem 403 "a member cannot change the organization: 403"

# The last admin.
patch "$OWN" "/api/v1/organizations/$ORG/users/$OWN_ID" '{"role":"member"}'
is_problem 409 "demoting the last admin: 409"
http DELETE "/api/v1/organizations/$ORG/users/$OWN_ID" -H "$(bearer "$OWN")"
is_problem 409 "removing the last admin: 409"
patch "$MEM" "/api/v1/organizations/$ORG/users/$MEM_ID" '{"role":"admin"}'
is_problem 403 "a member cannot promote itself: 403"
patch "$OWN" "/api/v1/organizations/$ORG/users/$MEM_ID" '{"role":"admin"}'
is "$STATUS" 200 "an admin promotes a member"
patch "$OWN" "/api/v1/organizations/$ORG/users/$OWN_ID" '{"role":"member"}'
is "$STATUS" 200 "with two admins, one may step down"
patch "$MEM" "/api/v1/organizations/$ORG/users/$OWN_ID" '{"role":"admin"}'
is "$STATUS" 200 "and be made admin again"
http DELETE "/api/v1/organizations/$ORG/users/hxb-usr-0zzzzzzzzzzzzzzzzzzzzzzzzz" -H "$(bearer "$OWN")"
is_problem 404 "removing somebody who is no member: 404"
patch "$OWN" "/api/v1/organizations/$ORG/users/$MEM_ID" '{"role":"member"}'
http DELETE "/api/v1/organizations/$ORG/users/$MEM_ID" -H "$(bearer "$MEM")"
is "$STATUS" 204 "a member may leave"
http GET "/api/v1/organizations/$ORG" -H "$(bearer "$MEM")"
is_problem 404 "and is a stranger after that"

# --- delete ------------------------------------------------------------------------
sql "INSERT INTO workspaces (id, organization_id, name, plan_id) VALUES ('ws-0' || substr(md5(random()::text), 1, 25), '$ORG', 'w', 'free')" >/dev/null
http DELETE "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")"
is_problem 409 "delete while a workspace exists: 409"
sql "UPDATE workspaces SET status = 'deleted' WHERE organization_id = '$ORG'" >/dev/null
http DELETE "/api/v1/organizations/$ORG" -H "$(bearer "$STR")"
is_problem 404 "a stranger cannot delete it: 404"
http DELETE "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")"
is "$STATUS" 204 "delete: 204"
http GET "/api/v1/organizations/$ORG" -H "$(bearer "$OWN")"
is_problem 404 "gone"

# --- audit -------------------------------------------------------------------------
acts=$(sql "SELECT string_agg(DISTINCT action, ',' ORDER BY action) FROM audit_log WHERE organization_id = '$ORG'")
is "$acts" "invitation.accept,invitation.create,member.remove,member.role,organization.create,organization.delete,organization.update" \
    "every change is in the audit log"
is "$(sql "SELECT count(*) FROM audit_log WHERE organization_id = '$ORG' AND (request_id = '' OR ip IS NULL OR actor_id IS NULL)")" 0 \
    "each with actor, request id and address"
is "$(sql "SELECT string_agg((before->>'display_name') || '>' || (after->>'display_name'), ',' ORDER BY id) FROM audit_log WHERE organization_id = '$ORG' AND action = 'organization.update'")" \
    "Acme>Acme Inc.,Acme Inc.>,>Acme Inc." "with before and after"

done_testing
