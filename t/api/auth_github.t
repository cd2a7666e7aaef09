#!/bin/bash
# Sign-in through the github kind (OAuth code flow, then GET /user and
# GET /user/emails) against the GitHub stand-in, and linking a second
# provider to the same person by verified email.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

n=$$$RANDOM
L=gh$n
gh_user "$(jq -nc --arg l "$L" --argjson id "$n" '{login: $l, id: $id, name: "Grace Hopper",
    emails: [{email: ($l + "-old@example.test"), primary: false, verified: true},
             {email: ($l + "@example.test"), primary: true, verified: true}]}')"

login_start github
is "$STATUS" 200 "POST /auth/login/github: 200"
like "$AUTH_URL" "^$GH/login/oauth/authorize\\?response_type=code&client_id=hexabase-gh&" \
    "auth_url: the configured authorize URL"
like "$AUTH_URL" "scope=read%3Auser\\+user%3Aemail" "auth_url: read:user user:email"
idp_visit "$L"
like "$CB" "^/auth/callback/github\\?code=" "the stand-in redirects back with a code"
http GET "$CB" -H 'Accept: application/json'
is "$STATUS" 200 "github callback: 200"
is "$(jqb -c '.user | [.email, .name]')" '["'$L'@example.test","Grace Hopper"]' \
    "the primary verified email and the name"
UID_=$(jqb .user.id)
is "$(sql "SELECT subject FROM user_identities WHERE provider = 'github' AND user_id = '$UID_'")" "$n" \
    "the identity is GitHub's numeric id, not the login"
AT=$(jqb .access_token)
http GET /auth/me -H "$(bearer "$AT")"
is "$(jqb .provider)" github "me: provider github"

# The same person later signs in through the OIDC provider with the same
# verified email: one user, two identities.
sign_in "$L@example.test"
is "$UID_" "$(sql "SELECT user_id FROM user_identities WHERE provider = 'github' AND subject = '$n'")" \
    "same verified email through dev: the same user"
is "$(sql "SELECT count(*) FROM user_identities i JOIN users u ON u.id = i.user_id WHERE u.email = '$L@example.test'")" 2 \
    "two identities linked"
is "$(sql "SELECT count(*) FROM organization_users WHERE user_id = '$UID_'")" 1 "still one organization"
is "$(sql "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND actor_id = '$UID_' AND after->>'linked_identity' = 'true'")" 1 \
    "the linking was audited"

# A GitHub account whose primary email is not verified cannot sign in.
m=$$$RANDOM
gh_user "$(jq -nc --arg l "nov$m" --argjson id "$m" '{login: $l, id: $id, name: "N",
    emails: [{email: ($l + "@example.test"), primary: true, verified: false},
             {email: ($l + "-2@example.test"), primary: false, verified: true}]}')"
login_start github
idp_visit x
http GET "$CB" -H 'Accept: application/json'
is_problem 403 "no verified primary email: 403"
like "$(jqb .detail)" "verified primary email" "and says so"
is "$(sql "SELECT count(*) FROM user_identities WHERE provider = 'github' AND subject = '$m'")" 0 \
    "no identity stored"

# The user says no at GitHub.
curl -s --cacert "$CA" -X POST -H 'Content-Type: application/json' -d '{"on":true}' "$GH/__test/deny" >/dev/null
login_start github
idp_visit x
curl -s --cacert "$CA" -X POST -H 'Content-Type: application/json' -d '{"on":false}' "$GH/__test/deny" >/dev/null
http GET "$CB" -H 'Accept: application/json'
is_problem 400 "access denied at GitHub: 400"
is "$(jqb .idp_error)" access_denied "its error code is carried"

# A code that is used twice: GitHub says bad_verification_code.
gh_user "$(jq -nc --arg l "$L" --argjson id "$n" '{login: $l, id: $id, name: "Grace Hopper",
    emails: [{email: ($l + "@example.test"), primary: true, verified: true}]}')"
login_start github
idp_visit "$L"
code=$(printf '%s' "$CB" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
http GET "$CB" -H 'Accept: application/json'
is "$STATUS" 200 "a fresh code: 200"
login_start github
http GET "/auth/callback/github?code=$code&state=$STATE" -H 'Accept: application/json'
is_problem 400 "a used code: 400"
is "$(jqb .idp_error)" bad_verification_code "GitHub's bad_verification_code carried"

done_testing
