#!/bin/bash
# Hexabase as an OpenID Provider: discovery and JWKS at the issuer, over
# HTTPS, checked by an independent library (the npm package jose).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"
. "$(dirname "$0")/../lib/tenancy.sh"

CA=$HXB_TEST_STACK/tls/ca.crt
ISS=$HXB_TEST_ISSUER

# Through the plain port too (recorded for the OpenAPI check).
http GET /.well-known/openid-configuration
is "$STATUS" 200 "discovery over HTTP: 200"
http GET /.well-known/jwks.json
is "$STATUS" 200 "JWKS over HTTP: 200"

doc=$(curl -sS --cacert "$CA" -D "$HXB_TEST_STACK/oidc.h" "$ISS/.well-known/openid-configuration")
is "$(printf '%s' "$doc" | jq -r .issuer)" "$ISS" "the issuer is the HTTPS address, verified with the CA"
is "$(printf '%s' "$doc" | jq -r .jwks_uri)" "$ISS/.well-known/jwks.json" "jwks_uri is under the issuer"
is "$(printf '%s' "$doc" | jq -c '[.id_token_signing_alg_values_supported, .subject_types_supported, .response_types_supported]')" \
    '[["RS256"],["public"],["code"]]' "algorithms, subject and response types"
like "$(printf '%s' "$doc" | jq -c .claims_supported)" '"groups".*"workspace_id"' "groups and workspace_id are claims"
MAX_AGE=$(stack_setting HXB_JWKS_MAX_AGE_S 300)
like "$(tr -d '\r' <"$HXB_TEST_STACK/oidc.h")" "^[Cc]ache-[Cc]ontrol: public, max-age=$MAX_AGE\$" "discovery: cacheable for HXB_JWKS_MAX_AGE_S ($MAX_AGE s)"

set_jwks=$(curl -sS --cacert "$CA" -D "$HXB_TEST_STACK/jwks.h" "$ISS/.well-known/jwks.json")
like "$(tr -d '\r' <"$HXB_TEST_STACK/jwks.h")" "^[Cc]ache-[Cc]ontrol: public, max-age=$MAX_AGE\$" "JWKS: cacheable for as long"
kids=$(printf '%s' "$set_jwks" | jq -r '[.keys[].kid] | sort | join(",")')
want=$(sql "SELECT string_agg(kid, ',' ORDER BY kid) FROM signing_keys")
is "$kids" "$want" "JWKS lists every key in signing_keys"
is "$(printf '%s' "$set_jwks" | jq -r '[.keys[] | .kty + " " + .use + " " + .alg] | unique | join(",")')" \
    "RSA sig RS256" "each key: kty RSA, use sig, alg RS256"
is "$(printf '%s' "$set_jwks" | jq '[.keys[] | has("d") or has("p") or has("q")] | any')" false \
    "no private member is published"

# jose fetches the keys from jwks_uri (over TLS with our CA) and verifies
# an access token with issuer and audience pinned and RS256 only.
U=oidc$$r$RANDOM
sign_in "$U"
verify() {	# "OK <sub>" or "REJECTED <code>"
	local out
	out=$(jose_verify "$1" hexabase-api)
	case $out in
	OK\ *) printf 'OK %s\n' "$(printf '%s' "${out#OK }" | jq -r .sub)" ;;
	*) printf '%s\n' "$out" ;;
	esac
}
out=$(verify "$AT")
like "$out" "^OK hxb-usr-" "jose verifies an access token with the keys from discovery"
out=$(verify "${AT%.*}.$(printf '%s' "${AT##*.}" | rev)")
is "$out" "REJECTED ERR_JWS_SIGNATURE_VERIFICATION_FAILED" "jose refuses a tampered signature"

# --- workspace tokens --------------------------------------------------------
tenancy_setup "o$$r$RANDOM"
api "$WSA" POST "$WSP/token"
is "$STATUS" 200 "a workspace admin gets a workspace token"
WT=$(jqb .token)
is "$(header cache-control)" no-store "... never cached"
c=$(jwt_part "$WT" 1)
is "$(printf '%s' "$c" | jq -c '[.iss, .sub, .aud, .workspace_id, .groups]')" \
    "[\"$ISS\",\"$WSA_ID\",\"$WS\",\"$WS\",[\"WSAdmins\",\"WorkspaceMembers\"]]" \
    "claims: iss, sub, aud and workspace_id the workspace, groups flattened by name"
is "$(printf '%s' "$c" | jq -r '(.exp - .iat | tostring) + " " + (.nbf == .iat | tostring) + " " + (.jti | length > 10 | tostring)')" \
    "900 true true" "exp 15 minutes after iat; nbf; a jti"
like "$(printf '%s' "$c" | jq -r .email)" '@example.test$' "the email claim"
is "$(jqb .expires_at)" "$(printf '%s' "$c" | jq -r '.exp | todate')" "expires_at is exp"
api "$VWR" POST "$WSP/token"
is "$(jwt_part "$(jqb .token)" 1 | jq -c .groups)" '["WSUsers","WorkspaceMembers"]' "a viewer's groups"
api "$VWR" POST "$WSP/token?format=exec-credential"
is "$STATUS" 200 "format=exec-credential: 200"
is "$(jqb '[.apiVersion, .kind, (.status.token | split(".") | length), (.status.expirationTimestamp | test("Z$"))] | @csv')" \
    '"client.authentication.k8s.io/v1","ExecCredential",3,true' "... an ExecCredential"
api "$VWR" POST "$WSP/token?format=yaml"
is "$STATUS" 400 "an unknown format: 400"
api "$MEM" POST "$WSP/token"
is_problem 404 "an organization member with no group: 404"
api "$STR" POST "$WSP/token"
is_problem 404 "a stranger: 404"
api "" POST "$WSP/token"
is_problem 401 "no token: 401"
# An organization admin without a group sees the workspace but gets none.
oa=oa$$r$RANDOM
sign_in "$oa"
OA=$AT
join_org "$ADM" "$OA" "$oa@example.test" admin
api "$OA" POST "$WSP/token"
is_problem 403 "an organization admin with no group: 403, not a token"
http GET /auth/me -H "$(bearer "$WT")"
is "$STATUS" 401 "a workspace token is not a platform token"

# jose: valid for its workspace, refused by another's audience.
wverify() {	# "OK <groups>" or "REJECTED <code>"
	local out
	out=$(jose_verify "$1" "$2" exp,iat,nbf,jti,sub,groups)
	case $out in
	OK\ *) printf 'OK %s\n' "$(printf '%s' "${out#OK }" | jq -r '.groups | join(",")')" ;;
	*) printf '%s\n' "$out" ;;
	esac
}
is "$(wverify "$WT" "$WS")" "OK WSAdmins,WorkspaceMembers" "jose verifies the workspace token for its workspace"
is "$(wverify "$WT" "$WS2")" "REJECTED ERR_JWT_CLAIM_VALIDATION_FAILED" "... and refuses it for another workspace"

done_testing
