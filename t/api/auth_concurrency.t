#!/bin/bash
# Concurrent first sign-ins of one new person create exactly one user and
# one organization, whichever providers they come through.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

N=8
L=race$$r$RANDOM
cbs=()
for ((i = 0; i < N; i++)); do
	login_start dev
	idp_visit "$L"
	cbs+=("$CB")
done
# And the same email through GitHub, at the same moment.
gid=$$$RANDOM
gh_user "$(jq -nc --arg e "$L@example.test" --argjson id "$gid" '{login: "racer", id: $id, name: "R",
    emails: [{email: $e, primary: true, verified: true}]}')"
login_start github
idp_visit x
cbs+=("$CB")

out=$(mktemp -d)
for ((i = 0; i < ${#cbs[@]}; i++)); do
	curl -s -o "$out/$i.json" -w '%{http_code}\n' -H 'Accept: application/json' \
	    "$HXB_TEST_URL${cbs[$i]}" >"$out/$i.status" &
done
wait
codes=$(cat "$out"/*.status | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
is "$codes" "200x$((N + 1)) " "all $((N + 1)) concurrent callbacks succeed"
ids=$(cat "$out"/*.json | jq -r .user.id | sort -u)
is "$(printf '%s\n' "$ids" | wc -l)" 1 "they all name the same user"
is "$(sql "SELECT count(*) FROM users WHERE lower(email) = lower('$L@example.test')")" 1 "exactly one user"
is "$(sql "SELECT count(*) FROM organization_users m JOIN users u ON u.id = m.user_id WHERE u.email = '$L@example.test'")" 1 \
    "exactly one organization membership"
is "$(sql "SELECT count(*) FROM organizations o WHERE o.is_personal AND o.name LIKE '$L-%'")" 1 "exactly one organization"
is "$(sql "SELECT string_agg(provider, ',' ORDER BY provider) FROM user_identities i JOIN users u ON u.id = i.user_id WHERE u.email = '$L@example.test'")" \
    "dev,github" "one identity per provider"
is "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = '$L@example.test'")" $((N + 1)) \
    "one session per sign-in"
rm -rf "$out"

done_testing
