#!/bin/bash
# The OAuth 2.0 authorization-code endpoints with PKCE, for public clients
# on a loopback redirect: what kubelogin does against a workspace (client
# id = the workspace id), and what hxb-credential does (hexabase-cli).
# The browser is curl; the ID tokens are checked by jose.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

ISS=$HXB_TEST_ISSUER
RU=http://127.0.0.1:18000/callback
enc() { jq -rn --arg v "$1" '$v | @uri'; }
form() { http POST /oauth2/token -H 'Content-Type: application/x-www-form-urlencoded' "$@"; }
qparam() { printf '%s' "${1#*\?}" | tr '&' '\n' | sed -n "s/^$2=//p" | head -n 1; }

doc=$(curl -sS --cacert "$CA" "$ISS/.well-known/openid-configuration")
is "$(printf '%s' "$doc" | jq -c '[.authorization_endpoint, .token_endpoint, .userinfo_endpoint]')" \
    "[\"$ISS/oauth2/authorize\",\"$ISS/oauth2/token\",\"$ISS/oauth2/userinfo\"]" \
    "discovery names the three endpoints under the issuer"
is "$(printf '%s' "$doc" | jq -c '[.code_challenge_methods_supported, .grant_types_supported, .token_endpoint_auth_methods_supported]')" \
    '[["S256"],["authorization_code","refresh_token"],["none"]]' "S256 only; code and refresh grants; public clients"

TAG=o2$$r$RANDOM
tenancy_setup "$TAG"
pkce
base="response_type=code&redirect_uri=$(enc "$RU")&scope=openid%20email&state=st-1&nonce=n-1&code_challenge=$CHALLENGE&code_challenge_method=S256"

# --- requests that cannot be redirected, and those that can -----------------
http GET "/oauth2/authorize?client_id=nope&$base&idp=dev"
is_problem 400 "an unknown client: 400, not redirected"
is "$(jqb .error)" invalid_request "... with an OAuth error member"
http GET "/oauth2/authorize?client_id=$WS&response_type=code&redirect_uri=$(enc https://evil.example/cb)&scope=openid&code_challenge=$CHALLENGE&code_challenge_method=S256"
is_problem 400 "a redirect_uri off the loopback: 400, not redirected"
http GET "/oauth2/authorize?client_id=$WS&response_type=code&redirect_uri=$(enc http://127.0.0.1.evil.example/cb)&scope=openid&code_challenge=$CHALLENGE&code_challenge_method=S256"
is "$STATUS" 400 "a host that only starts like 127.0.0.1: 400"
http GET "/oauth2/authorize?client_id=$WS&${base/response_type=code/response_type=token}&idp=dev"
is "$STATUS $(qparam "$(header location)" error) $(qparam "$(header location)" state)" \
    "302 unsupported_response_type st-1" "response_type=token: redirected with the error and the state"
like "$(header location)" "^http://127\\.0\\.0\\.1:18000/callback\\?error=.*&iss=" "... to the client, naming the issuer (RFC 9207)"
http GET "/oauth2/authorize?client_id=$WS&${base/code_challenge_method=S256/code_challenge_method=plain}&idp=dev"
is "$(qparam "$(header location)" error)" invalid_request "the plain PKCE method: invalid_request"
http GET "/oauth2/authorize?client_id=$WS&$(printf '%s' "$base" | sed 's/&code_challenge=[^&]*//')&idp=dev"
is "$(qparam "$(header location)" error)" invalid_request "no code_challenge: invalid_request (PKCE is required)"
http GET "/oauth2/authorize?client_id=$WS&${base/scope=openid%20email/scope=email}&idp=dev"
is "$(qparam "$(header location)" error)" invalid_scope "a scope without openid: invalid_scope"
http GET "/oauth2/authorize?client_id=$WS&$base&idp=nosuch"
is "$(qparam "$(header location)" error)" invalid_request "an unknown idp: invalid_request"
http GET "/oauth2/authorize?client_id=$WS&$base&prompt=login&access_type=offline"
is "$STATUS" 200 "two providers and none named: 200, a page to choose"
like "$CTYPE" "^text/html" "... in HTML"
like "$BODY" 'href="authorize\?[^"]*&amp;idp=dev"' "... linking to the same request with idp=dev"
like "$BODY" 'idp=github' "... and with idp=github"

# --- a workspace client: kubelogin's flow ------------------------------------
oauth2_code "wa$TAG" "client_id=$WS&$base&idp=dev"
is "$STATUS $(qparam "$LOC" state)" "302 st-1" "after the sign-in: 302 to the client with its state"
like "$LOC" "^http://127\\.0\\.0\\.1:18000/callback\\?code=[A-Za-z0-9_-]{43}&state=st-1&iss=" "... a code and iss"
form --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$RU" --data-urlencode "client_id=$WS" \
    --data-urlencode "code_verifier=$VERIFIER"
is "$STATUS" 200 "the code and its verifier, form-encoded: 200"
is "$(header cache-control)" no-store "... never cached"
is "$(jqb '[.token_type, (.expires_in > 0), (.refresh_token | startswith("hxbrt_")), .scope] | @csv')" \
    '"Bearer",true,true,"openid email"' "token_type, expires_in, a refresh token, the scope"
IDT=$(jqb .id_token) WAT=$(jqb .access_token) WRT=$(jqb .refresh_token)
c=$(jwt_part "$IDT" 1)
like "$(printf '%s' "$c" | jq -c '[.iss, .aud, .azp, .workspace_id, .nonce, .groups]')" \
    "^\\[\"$ISS\",\"$WS\",\"$WS\",\"$WS\",\"n-1\",\\[\"WSAdmins\",\"WorkspaceMembers\"\\]\\]$" \
    "the ID token: aud and azp the workspace, the nonce, the groups"
id_verify() {	# TOKEN AUDIENCE NONCE: "OK <sub>", "NONCE" or "REJECTED <code>"
	local out
	out=$(jose_verify "$1" "$2")
	case $out in
	OK\ *) printf '%s' "${out#OK }" | jq -r --arg n "$3" \
	    'if .nonce == $n then "OK " + .sub else "NONCE" end' ;;
	*) printf '%s\n' "$out" ;;
	esac
}
is "$(id_verify "$IDT" "$WS" n-1)" "OK $WSA_ID" "jose verifies the ID token: issuer, audience = the workspace, RS256, nonce"
is "$(id_verify "$IDT" "$WS2" n-1)" "REJECTED ERR_JWT_CLAIM_VALIDATION_FAILED" "... and refuses it for another workspace"

form --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$RU" --data-urlencode "client_id=$WS" \
    --data-urlencode "code_verifier=$VERIFIER"
is_problem 400 "the same code again: 400"
is "$(jqb .error)" invalid_grant "... invalid_grant"

http GET /oauth2/userinfo -H "$(bearer "$WAT")"
is "$STATUS $(jqb '[.sub, .email_verified] | @csv')" "200 \"$WSA_ID\",true" "userinfo with the access token: sub, email_verified"
like "$(jqb .email)" '^wa.*@example\.test$' "... and the email"
http GET /oauth2/userinfo
is "$STATUS" 401 "userinfo without a token: 401"
is "$(jwt_part "$WAT" 1 | jq -r .aud)" hexabase-userinfo "a workspace client's access token is for userinfo only..."
http GET /auth/me -H "$(bearer "$WAT")"
is "$STATUS $(jqb .detail)" "401 this access token is good for /oauth2/userinfo only" "... refused by the platform API"
api "$WAT" POST "$WSP/token"
is "$STATUS" 401 "... which it cannot turn into a workspace token either"

# The refresh grant: a new ID token, the refresh token rotated.
form -d grant_type=refresh_token --data-urlencode "refresh_token=$WRT" -d "client_id=$WS2"
is "$STATUS $(jqb .error)" "400 invalid_grant" "the refresh token at another workspace: invalid_grant"
http POST /auth/refresh -H 'Content-Type: application/json' -d "{\"refresh_token\":\"$WRT\"}"
is "$STATUS" 401 "a workspace client's refresh token at /auth/refresh: 401 (no platform session)"
form -d grant_type=refresh_token --data-urlencode "refresh_token=$WRT" -d "client_id=$WS"
is "$STATUS" 200 "... still good for its workspace: 200 (refusals did not spend it)"
WRT2=$(jqb .refresh_token)
c=$(jwt_part "$(jqb .id_token)" 1)
is "$(printf '%s' "$c" | jq -c '[.aud, .groups, has("nonce")]')" "[\"$WS\",[\"WSAdmins\",\"WorkspaceMembers\"],false]" \
    "a fresh ID token with the groups, no nonce"
form -d grant_type=refresh_token --data-urlencode "refresh_token=$WRT" -d "client_id=$WS"
is "$STATUS $(jqb .error)" "400 invalid_grant" "the rotated refresh token again: invalid_grant"
form -d grant_type=refresh_token --data-urlencode "refresh_token=$WRT2" -d "client_id=$WS"
is "$STATUS" 400 "... and the session is ended: its successor is refused too"

# A wrong verifier or redirect_uri spends the code for nothing.
pkce
b2="response_type=code&redirect_uri=$(enc "$RU")&scope=openid&state=st-2&code_challenge=$CHALLENGE&code_challenge_method=S256&idp=dev"
oauth2_code "wa$TAG" "client_id=$WS&$b2"
form -d grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$RU" -d "client_id=$WS" \
    -d "code_verifier=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
is "$STATUS $(jqb .error)" "400 invalid_grant" "a verifier that does not match the challenge: invalid_grant"
oauth2_code "wa$TAG" "client_id=$WS&$b2"
form -d grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=http://127.0.0.1:18001/callback" -d "client_id=$WS" \
    --data-urlencode "code_verifier=$VERIFIER"
is "$STATUS $(jqb .error)" "400 invalid_grant" "another redirect_uri: invalid_grant"

# Who gets nothing: a member without a group, a stranger.
oauth2_code "me$TAG" "client_id=$WS&$b2"
is "$(qparam "$LOC" error) $(qparam "$LOC" state)" "access_denied st-2" "a member with no group in the workspace: access_denied"
is "$(sql "SELECT count(*) FROM sessions WHERE user_id = '$MEM_ID' AND client_id = '$WS' AND revoked_at IS NULL")" 0 \
    "... and the session opened for it is ended"
oauth2_code "st$TAG" "client_id=$WS&$b2"
is "$(qparam "$LOC" error)" access_denied "a stranger: access_denied"

# --- the kubectl plugin's client: a platform session --------------------------
pkce
oauth2_code "vw$TAG" "client_id=hexabase-cli&response_type=code&redirect_uri=$(enc "$RU")&scope=openid%20offline_access&state=c&code_challenge=$CHALLENGE&code_challenge_method=S256&idp=dev"
form -d grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$RU" -d client_id=hexabase-cli \
    --data-urlencode "code_verifier=$VERIFIER"
is "$STATUS" 200 "hexabase-cli: 200"
c=$(jwt_part "$(jqb .id_token)" 1)
is "$(printf '%s' "$c" | jq -c '[.aud, .sub, has("groups")]')" "[\"hexabase-cli\",\"$VWR_ID\",false]" \
    "its ID token: aud hexabase-cli, no groups"
CRT=$(jqb .refresh_token)
http POST /auth/refresh -H 'Content-Type: application/json' -d "{\"refresh_token\":\"$CRT\"}"
is "$STATUS" 200 "its refresh token is a platform one: /auth/refresh 200"
api "$(jqb .access_token)" POST "$WSP/token"
is "$STATUS" 200 "... whose access token gets a workspace token"

# --- the token endpoint's own errors -----------------------------------------
form -d grant_type=password -d client_id=hexabase-cli
is "$STATUS $(jqb .error)" "400 unsupported_grant_type" "grant_type=password: unsupported_grant_type"
form -d grant_type=authorization_code -d code=x
is "$STATUS $(jqb .error)" "401 invalid_client" "no client_id: 401 invalid_client"
form -d grant_type=authorization_code -d client_id=hexabase-cli -d code=x -d "redirect_uri=$RU" -d code_verifier=short
is "$STATUS $(jqb .error)" "400 invalid_request" "a malformed verifier: invalid_request"
form -d 'grant_type=%zz'
is_problem 400 "a malformed form body: 400"
http POST /oauth2/token -H 'Content-Type: text/plain' -d x
is_problem 415 "a text body: 415"
http POST /auth/refresh -H 'Content-Type: application/x-www-form-urlencoded' -d "refresh_token=$CRT"
is "$STATUS" 415 "a form body where a cookie authorizes (/auth/refresh): 415"

done_testing
