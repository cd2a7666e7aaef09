#!/bin/bash
# Sign-in through the oidc kind against a real OpenID Provider
# (oidc-provider, t/peers/idp.mjs): the browser flow driven with curl, the
# state, PKCE and nonce, and every way an ID token can be wrong.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

http GET /auth/providers
is "$(jqb -c '[.items[] | .name + ":" + .kind]')" '["dev:oidc","github:github"]' \
    "providers: dev (oidc) and github"

# Fresh people every run, so that the counts below are this run's.
A=alice$$r$RANDOM
B=bob$$r$RANDOM

# --- the happy path, as a JSON client ---------------------------------------
login_start dev
is "$STATUS" 200 "POST /auth/login/dev: 200"
like "$AUTH_URL" "^$IDP/auth\\?response_type=code&client_id=hexabase-dev&" \
    "auth_url: the IdP's authorization endpoint from discovery"
like "$AUTH_URL" "code_challenge_method=S256" "auth_url: PKCE S256"
like "$AUTH_URL" "&nonce=[A-Za-z0-9_-]{43}" "auth_url: a 256-bit nonce"
like "$STATE" '^[A-Za-z0-9_-]{43}$' "state: 256 random bits"
is "$(rcli TTL "hxb:login:$STATE")" 600 "state kept in Redis for 10 minutes"

idp_visit $A
like "$CB" "^/auth/callback/dev\\?code=[^&]+&state=$STATE" "IdP redirects back with code and state"
http GET "$CB" -H 'Accept: application/json'
is "$STATUS" 200 "callback (Accept: application/json): 200"
is "$(jqb .token_type)" Bearer "token_type Bearer"
is "$(jqb .expires_in)" 900 "expires_in 900"
like "$(jqb .refresh_token)" '^hxbrt_[A-Za-z0-9_-]{43}$' "an opaque 256-bit refresh token"
is "$(jqb -c '.user | [.email, .name, .avatar_url]')" \
    '["'$A'@example.test","'$A'","https://example.test/avatar/'$A'.png"]' "the user"
like "$(jqb .user.id)" '^hxb-usr-[0-9a-z]{26}$' "user id hxb-usr-..."
AT=$(jqb .access_token)
UID_=$(jqb .user.id)

# The access token's header and claims.
hdr=$(printf '%s' "${AT%%.*}" | tr '_-' '/+' | base64 -d 2>/dev/null)
is "$(printf '%s' "$hdr" | jq -r .alg)" RS256 "access token: RS256"
kid=$(printf '%s' "$hdr" | jq -r .kid)
is "$(sql "SELECT state FROM signing_keys WHERE kid = '$kid'")" active \
    "access token: kid of the active signing key"
p=${AT#*.}; p=${p%%.*}
while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
claims=$(printf '%s' "$p" | tr '_-' '/+' | base64 -d 2>/dev/null)
is "$(printf '%s' "$claims" | jq -r '[.iss, .aud, .sub == "'"$UID_"'", (.exp - .iat), (.sid | test("^ses-")), (.jti | length > 10)] | @csv')" \
    "\"$HXB_TEST_ISSUER\",\"hexabase-api\",true,900,true,true" "access token claims"

# An independent relying party accepts it: the npm library jose, with the
# public key from signing_keys, issuer and audience pinned, RS256 only.
sql "SELECT public_pem FROM signing_keys WHERE kid = '$kid'" >"$HXB_TEST_STACK/at-key.pem"
jose_out=$(cd "$HXB_TEST_ROOT/t/peers" && node --input-type=module -e '
import * as fs from "node:fs";
import * as jose from "jose";
const [token, pem] = process.argv.slice(1);
try {
  const key = await jose.importSPKI(fs.readFileSync(pem, "utf8"), "RS256");
  const { payload, protectedHeader } = await jose.jwtVerify(token, key, {
    issuer: process.env.HXB_TEST_ISSUER, audience: "hexabase-api",
    algorithms: ["RS256"], requiredClaims: ["exp", "iat", "sub", "jti", "sid"] });
  console.log(`${protectedHeader.kid} ${payload.sub}`);
} catch (e) { console.log(`REJECTED ${e.code}`); }
' -- "$AT" "$HXB_TEST_STACK/at-key.pem" 2>&1)
is "$jose_out" "$kid $UID_" "jose verifies the access token with the published public key"
tampered="${AT%.*}.$(printf '%s' "${AT##*.}" | rev)"
jose_out=$(cd "$HXB_TEST_ROOT/t/peers" && node --input-type=module -e '
import * as fs from "node:fs";
import * as jose from "jose";
const [token, pem] = process.argv.slice(1);
const key = await jose.importSPKI(fs.readFileSync(pem, "utf8"), "RS256");
try { await jose.jwtVerify(token, key); console.log("accepted"); }
catch (e) { console.log(`REJECTED ${e.code}`); }
' -- "$tampered" "$HXB_TEST_STACK/at-key.pem" 2>&1)
like "$jose_out" "^REJECTED ERR_JWS" "control: jose refuses it with the signature altered"

http GET /auth/me -H "$(bearer "$AT")"
is "$STATUS" 200 "GET /auth/me: 200"
is "$(jqb -c '[.id == "'"$UID_"'", .email, .name, .provider]')" \
    '[true,"'$A'@example.test","'$A'","dev"]' "me: id, email, name, provider"
is "$(jqb '.organizations | length')" 1 "me: one organization"
is "$(jqb '.organizations[0].role')" admin "me: admin of it"
like "$(jqb '.organizations[0].name')" "^$A-[a-z0-9]{6}\$" "me: the personal organization"
is "$(sql "SELECT count(*) FROM organizations o JOIN organization_users m ON m.organization_id = o.id WHERE m.user_id = '$UID_' AND o.is_personal")" 1 \
    "first sign-in created one personal organization"
is "$(sql "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND actor_id = '$UID_' AND result = 'success'")" 1 \
    "login success audited"

# Second sign-in of the same person: same user, no second organization.
sign_in $A
is "$UID_" "$(sql "SELECT id FROM users WHERE email = '$A@example.test'")" "second sign-in: same user"
is "$(sql "SELECT count(*) FROM organization_users WHERE user_id = '$UID_'")" 1 "second sign-in: no new organization"

# --- the browser flow: GET login, 302s and the cookie ----------------------
http GET '/auth/login/dev?redirect_to=/workspaces%3Ftab%3D1'
is "$STATUS" 302 "GET /auth/login/dev: 302"
AUTH_URL=$(header location)
like "$AUTH_URL" "^$IDP/auth\\?" "Location: the IdP"
idp_visit $B
http GET "$CB"
is "$STATUS" 302 "browser callback: 302"
is "$(header location)" "/workspaces?tab=1" "browser callback: to redirect_to"
cookie=$(header set-cookie)
like "$cookie" '^hxb_refresh=hxbrt_[A-Za-z0-9_-]{43}; Path=/auth; Max-Age=[0-9]+; HttpOnly; SameSite=Lax' \
    "refresh cookie: HttpOnly, SameSite=Lax, Path=/auth"
unlike "$cookie" 'Secure' "refresh cookie: no Secure in dev mode (plain http)"

http GET /auth/login/dev
login_start dev
idp_visit carol
http GET "$CB"
is "$(header location)" "/" "browser callback without redirect_to: HXB_UI_URL"

# --- no open redirect ---------------------------------------------------------
for bad in '//evil.example/' 'https://evil.example/' '/\evil.example' 'evil' \
    $'/\r\nSet-Cookie: x=1' '/a b'; do
	login_start dev "$(jq -nc --arg r "$bad" '{redirect_to: $r}')"
	is_problem 422 "redirect_to $(printf %q "$bad") refused"
done
http GET '/auth/login/dev?redirect_to=https%3A%2F%2Fevil.example%2F'
is_problem 422 "GET login: an absolute redirect_to refused"
http GET '/auth/login/dev?redirect_to=%2F%2Fevil.example'
is_problem 422 "GET login: a protocol-relative redirect_to refused"

http POST /auth/login/nosuch
is_problem 404 "unknown provider: 404"
http GET '/auth/callback/nosuch?code=x&state=y'
is_problem 404 "callback of an unknown provider: 404"

# --- state ------------------------------------------------------------------------
login_start dev
idp_visit alice
good=$CB
http GET "${good/state=/state=x}" -H 'Accept: application/json'
is_problem 400 "wrong state: 400"
http GET "$(printf '%s' "$good" | sed 's/&state=[^&]*//')" -H 'Accept: application/json'
is_problem 400 "missing state: 400"
# The wrong-state attempt did not spend the real one.
http GET "$good" -H 'Accept: application/json'
is "$STATUS" 200 "the right state still works"
http GET "$good" -H 'Accept: application/json'
is_problem 400 "replayed state: 400"
is "$(jqb .type)" "https://hexabase.ai/problems/signin-failed" "replayed state: signin-failed"
login_start dev
rcli DEL "hxb:login:$STATE" >/dev/null
idp_visit alice
http GET "$CB" -H 'Accept: application/json'
is_problem 400 "expired state (gone from Redis): 400"
# A state issued for one provider does not work at another's callback.
login_start dev
idp_visit alice
http GET "${CB/\/dev\?//github?}" -H 'Accept: application/json'
is_problem 400 "state of another provider: 400"

# --- RFC 9207: the response's iss must be the provider's --------------------
login_start dev
idp_visit alice
like "$CB" "&iss=" "the IdP names itself in the response (iss)"
http GET "$(printf '%s' "$CB" | sed 's/&iss=[^&]*/\&iss=https%3A%2F%2Fevil.example/')" -H 'Accept: application/json'
is_problem 400 "a response naming another issuer: 400"
login_start dev
idp_visit alice
http GET "$(printf '%s' "$CB" | sed 's/&iss=[^&]*//')" -H 'Accept: application/json'
is_problem 400 "a response without iss from an IdP that sends it: 400"

# --- an error from the IdP ----------------------------------------------------------
login_start dev
http GET "/auth/callback/dev?error=access_denied&error_description=no&state=$STATE"
is_problem 400 "IdP error: 400"
is "$(jqb .idp_error)" access_denied "IdP error: its code carried"
http GET "/auth/callback/dev?code=x&state=$STATE" -H 'Accept: application/json'
is_problem 400 "IdP error: the state was spent"
n=$(sql "SELECT count(*) FROM audit_log WHERE action = 'auth.login' AND result = 'failure' AND after->>'idp_error' = 'access_denied'")
ok $([ "$n" -ge 1 ]; echo $?) "login failure audited with the IdP's error"

# --- PKCE: a code redeemed with another sign-in's verifier -----------------------
login_start dev
state_a=$STATE
idp_visit alice
code_a=$(printf '%s' "$CB" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
iss_a=$(printf '%s' "$CB" | sed -n 's/.*[?&]iss=\([^&]*\).*/\1/p')
login_start dev
state_b=$STATE
http GET "/auth/callback/dev?code=$code_a&state=$state_b&iss=$iss_a" -H 'Accept: application/json'
is_problem 400 "PKCE mismatch: 400"
is "$(jqb .idp_error)" invalid_grant "PKCE mismatch: the IdP said invalid_grant"

# --- an unverified email -------------------------------------------------------------
login_start dev
idp_visit unverified-dan
http GET "$CB" -H 'Accept: application/json'
is_problem 403 "unverified email: 403"
is "$(sql "SELECT count(*) FROM users WHERE email LIKE 'unverified-dan%'")" 0 "unverified email: no user"

# --- tampered ID tokens ----------------------------------------------------------------
tamper_case() {	# tamper_case MODE STATUS DETAIL-ERE
	login_start dev
	idp_visit alice
	tamper "$1"
	http GET "$CB" -H 'Accept: application/json'
	tamper ""
	is_problem "$2" "ID token '$1': $2"
	like "$(jqb .detail)" "$3" "ID token '$1': $3"
}
login_start dev; idp_visit alice; tamper ok
http GET "$CB" -H 'Accept: application/json'
tamper ""
is "$STATUS" 200 "control: a re-signed but unchanged ID token is accepted"
tamper_case badsig 400 "bad signature"
tamper_case aud 400 "not meant for us"
tamper_case iss 400 "issuer"
tamper_case exp 400 "expired"
tamper_case nonce 400 "nonce"
tamper_case none 400 "unsupported alg"
tamper_case hs256 400 "unsupported alg"
tamper_case unknown_kid 400 "unknown key"
tamper_case azp 400 "azp"
tamper_case iat_future 400 "not valid yet"

done_testing
