#!/usr/bin/env bash
# t/peers/smoke.sh: prove the test peers work end to end, as TAP.
#
# Usage: t/peers/smoke.sh        (no arguments; exit 0 when all pass)
#
# Installs the node modules (t/peers/install.sh), makes TLS material with
# t/tls.sh in a temporary directory, starts t/peers/idp.mjs (with and
# without --test-controls) and t/peers/github.mjs on free loopback ports,
# and drives them with curl: the OIDC authorization code flow with PKCE
# through t/lib/idp.sh's idp_sign_in, the token exchange, the ID token
# checked against the JWKS with node + jose (a strict relying party's
# checks), every tamper mode, and GitHub's OAuth web flow and REST calls.
# Everything it starts is stopped on exit; on a failure the tails of the
# peers' logs are printed as TAP comments.  Needs node, npm, curl, jq,
# openssl.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
peers=$root/t/peers
# shellcheck source=../lib/idp.sh
. "$root/t/lib/idp.sh"
# shellcheck source=../lib/ports.sh
. "$root/t/lib/ports.sh"

plan=53 n=0 failed=0
ok() {	# ok STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=$((failed + 1))
	fi
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
is() {	# is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got:  '$1'" "want: '$2'"; fi
}
like() {	# like GOT ERE DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; diag "got: '$(printf '%s' "$1" | head -c 800)'" "want match: $2"; fi
}
bail() { echo "Bail out! $*"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$peers/install.sh" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; bail "install.sh failed"; }
"$root/t/tls.sh" "$tmp/tls" || bail "tls.sh failed"
ca=$tmp/tls/ca.crt

# wait_https URL LOGFILE PID: until URL answers over TLS with our CA.
wait_https() {
	local i
	for ((i = 0; i < 100; i++)); do
		curl -sf --cacert "$ca" -o /dev/null "$1" && return 0
		kill -0 "$3" 2>/dev/null || { cat "$2" >&2; return 1; }
		sleep 0.1
	done
	cat "$2" >&2
	return 1
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
rand() { openssl rand -base64 "${1:-24}" | tr '+/' '-_' | tr -d '=\n'; }
jwt_part() {	# jwt_part TOKEN INDEX: the decoded JSON of header (1) or payload (2)
	local s
	s=$(printf '%s' "$1" | cut -d. -f"$2" | tr -- '-_' '+/')
	while [ $(( ${#s} % 4 )) -ne 0 ]; do s+='='; done
	printf '%s' "$s" | base64 -d 2>/dev/null
}
qparam() {	# qparam URL NAME: a decoded query parameter
	printf '%s' "$1" | sed -n "s/.*[?&]$2=\\([^&#]*\\).*/\\1/p" |
	    sed 's/+/ /g; s/%\([0-9A-Fa-f][0-9A-Fa-f]\)/\\x\1/g' | xargs -0 printf '%b'
}

echo "1..$plan"

# ---------------------------------------------------------------- the OP --

idp_port=$(free_port)
issuer=https://127.0.0.1:$idp_port
client_id=hxb-smoke
client_secret=$(rand 24)
redirect_uri=https://127.0.0.1:1/cb
cat >"$tmp/clients.json" <<EOF
[{"client_id": "$client_id", "client_secret": "$client_secret",
  "redirect_uris": ["$redirect_uri"]}]
EOF
node "$peers/idp.mjs" --port "$idp_port" --issuer "$issuer" \
    --cert "$tmp/tls/server.crt" --key "$tmp/tls/server.key" \
    --clients "$tmp/clients.json" --jwks "$tmp/jwks.json" --test-controls \
    >"$tmp/idp.log" 2>&1 &
pids+=($!)
wait_https "$issuer/.well-known/openid-configuration" "$tmp/idp.log" "$!" ||
    bail "idp.mjs did not start"

disc=$(curl -sS --cacert "$ca" "$issuer/.well-known/openid-configuration")
is "$(printf '%s' "$disc" | jq -r '[.issuer, (.code_challenge_methods_supported|join(",")),
    (.id_token_signing_alg_values_supported|join(",")), (.response_types_supported|join(","))] | join(" ")')" \
    "$issuer S256 RS256 code" "discovery: issuer, S256, RS256, code only"
is "$(stat -c %a "$tmp/jwks.json") $(jq -r '.keys[0] | [.kty, .alg, (.kid|length > 0), (.n|length)] | join(" ")' "$tmp/jwks.json")" \
    "600 RSA RS256 true 342" "JWKS file made: mode 0600, RSA-2048, RS256, with a kid"
curl -sS --cacert "$ca" "$issuer/jwks" >"$tmp/public-jwks.json"
is "$(jq -r '[.keys[0].kid, (.keys[0].d == null)] | join(" ")' "$tmp/public-jwks.json")" \
    "$(jq -r '.keys[0].kid' "$tmp/jwks.json") true" "/jwks serves the public key with that kid"

# A strict relying party's ID token check, with jose (here only).
cat >"$tmp/verify.mjs" <<'EOF'
import * as fs from 'node:fs';
import * as jose from 'jose';
const [token, jwksFile, issuer, audience, nonce] = process.argv.slice(1);
try {
  const jwks = jose.createLocalJWKSet(JSON.parse(fs.readFileSync(jwksFile, 'utf8')));
  const { payload } = await jose.jwtVerify(token, jwks, { issuer, audience, algorithms: ['RS256'] });
  if (payload.nonce !== nonce) throw new Error('nonce mismatch');
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp === undefined) throw new Error('azp missing');
  if (payload.azp !== undefined && payload.azp !== audience) throw new Error('azp is not the client');
  if (typeof payload.iat !== 'number' || payload.iat > Date.now() / 1000 + 60) throw new Error('iat in the future');
  process.stdout.write(`${JSON.stringify(payload)}\n`);
} catch (err) {
  process.stdout.write(`REJECTED ${err.code ?? ''} ${err.message}\n`);
  process.exit(1);
}
EOF
# Evaluated from t/peers, so that node finds jose there.
verify() { (cd "$peers" && node --input-type=module -e "$(cat "$tmp/verify.mjs")" -- "$@"); }

# auth_url STATE NONCE CHALLENGE [EXTRA]
auth_url() {
	printf '%s/auth?response_type=code&client_id=%s&redirect_uri=%s&scope=openid%%20email%%20profile&state=%s&nonce=%s&code_challenge=%s&code_challenge_method=S256%s\n' \
	    "$issuer" "$client_id" "$(printf '%s' "$redirect_uri" | jq -sRr @uri)" "$1" "$2" "$3" "${4:-}"
}

# flow LOGIN JAR [VERIFIER]: a sign-in and token exchange; sets FINAL,
# CODE, STATE, NONCE, TOKENS and IDT.
flow() {
	local verifier challenge
	STATE=$(rand 12) NONCE=$(rand 12)
	verifier=$(rand 48)
	challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
	FINAL=$(idp_sign_in "$(auth_url "$STATE" "$NONCE" "$challenge")" "$1" "$2" "$ca") || return 1
	CODE=$(qparam "$FINAL" code)
	TOKENS=$(curl -sS --cacert "$ca" -u "$client_id:$client_secret" \
	    --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
	    --data-urlencode "redirect_uri=$redirect_uri" \
	    --data-urlencode "code_verifier=${3:-$verifier}" "$issuer/token")
	IDT=$(printf '%s' "$TOKENS" | jq -r '.id_token // empty')
}

jar=$tmp/jar-alice
flow alice@corp.example "$jar"
like "$FINAL" "^https://127\.0\.0\.1:1/cb\?code=[^&]+&state=$STATE&iss=" \
    "idp_sign_in: login + consent, ends at the redirect_uri with code, state, iss"
is "$(qparam "$FINAL" iss)" "$issuer" "authorization response carries iss (RFC 9207)"
like "$TOKENS" '"token_type":"Bearer"' "token endpoint: client_secret_basic + code_verifier"
claims=$(verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE")
ok $? "id_token verifies against /jwks (RS256, iss, aud, exp, nonce)"
is "$(printf '%s' "$claims" | jq -c '{sub, email, email_verified, name, picture}')" \
    '{"sub":"alice@corp.example","email":"alice@corp.example","email_verified":true,"name":"alice","picture":"https://example.test/avatar/alice.png"}' \
    "id_token claims: sub, email, email_verified, name, picture"
is "$(jwt_part "$IDT" 1 | jq -r '[.alg, .kid] | join(" ")')" \
    "RS256 $(jq -r '.keys[0].kid' "$tmp/jwks.json")" "id_token header: RS256 with the JWKS kid"
diag "id_token claims: $(printf '%s' "$claims" | jq -c 'keys')"

at=$(printf '%s' "$TOKENS" | jq -r .access_token)
is "$(curl -sS --cacert "$ca" -H "Authorization: Bearer $at" "$issuer/me" | jq -c '{sub, email}')" \
    '{"sub":"alice@corp.example","email":"alice@corp.example"}' "userinfo at /me"

again=$(curl -sS --cacert "$ca" -u "$client_id:$client_secret" -d grant_type=authorization_code \
    --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$redirect_uri" \
    -d code_verifier=whatever-whatever-whatever-whatever-whatever "$issuer/token")
is "$(printf '%s' "$again" | jq -r .error)" invalid_grant "a code is single-use"

flow bob "$tmp/jar-bob"
claims=$(verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE")
is "$(printf '%s' "$claims" | jq -c '{sub, email, email_verified, name}')" \
    '{"sub":"bob","email":"bob@example.test","email_verified":true,"name":"bob"}' \
    "a login without @ gets login@example.test"
flow unverified-carol "$tmp/jar-carol"
claims=$(verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE")
is "$(printf '%s' "$claims" | jq -c '{sub, email_verified}')" \
    '{"sub":"unverified-carol","email_verified":false}' "a login starting with 'unverified' is unverified"

flow dave "$tmp/jar-dave" wrong-verifier-wrong-verifier-wrong-verifier-1234
is "$(printf '%s' "$TOKENS" | jq -r .error)" invalid_grant "a wrong code_verifier is refused"

final=$(idp_sign_in "$issuer/auth?response_type=code&client_id=$client_id&redirect_uri=$(printf '%s' "$redirect_uri" | jq -sRr @uri)&scope=openid&state=s1" \
    erin "$tmp/jar-erin" "$ca")
like "$final" '^https://127\.0\.0\.1:1/cb\?error=invalid_request&error_description=.*PKCE.*&state=s1' \
    "PKCE is required: no code_challenge gives error=invalid_request"

final=$(idp_sign_in "$issuer/auth?response_type=code&client_id=nobody&redirect_uri=$(printf '%s' "$redirect_uri" | jq -sRr @uri)&scope=openid" \
    erin "$tmp/jar-erin" "$ca" 2>"$tmp/err")
rc=$?
is "$rc" 1 "idp_sign_in fails on an error page (unknown client)"
diag "stderr: $(cat "$tmp/err")"

# A second sign-in with the same jar: SSO, no login or consent shown.
flow alice@corp.example "$jar"
verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE" >/dev/null
ok $? "same jar again: the IdP session is reused (no forms) and the token is good"

# ------------------------------------------------------------ tampering --

tamper() {
	curl -sS --cacert "$ca" -H 'Content-Type: application/json' \
	    --data "{\"mode\": \"$1\"}" "$issuer/__test/tamper"
}
is "$(tamper bogus | jq -r .error)" 'unknown mode "bogus"' "tamper: an unknown mode is refused"
is "$(tamper ok | jq -r .mode)" ok "tamper: mode set"
flow alice@corp.example "$jar"
verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE" >/dev/null
ok $? "tamper ok: re-signed unchanged, still verifies (control)"
is "$(curl -sS --cacert "$ca" "$issuer/__test/tamper" | jq -r .mode)" null "tamper: the mode resets after one use"

for mode in badsig aud iss exp nonce unknown_kid azp iat_future none hs256; do
	tamper "$mode" >/dev/null
	flow alice@corp.example "$jar"
	orig_alg=RS256
	out=$(verify "$IDT" "$tmp/public-jwks.json" "$issuer" "$client_id" "$NONCE")
	rc=$?
	hdr=$(jwt_part "$IDT" 1)
	body=$(jwt_part "$IDT" 2)
	case $mode in
	none)
		if [ $rc -ne 0 ] && [ "$(printf '%s' "$hdr" | jq -c .)" = '{"alg":"none","typ":"JWT"}' ] &&
		    [ -z "$(printf '%s' "$IDT" | cut -d. -f3)" ]; then ok 0 "tamper none: alg none, empty signature, rejected"
		else ok 1 "tamper none"; diag "$hdr $out"; fi
		;;
	hs256)
		if [ $rc -ne 0 ] && [ "$(printf '%s' "$hdr" | jq -r .alg)" = HS256 ] &&
		    [ "$(printf '%s' "$hdr" | jq -r .kid)" = "$(jq -r '.keys[0].kid' "$tmp/jwks.json")" ]; then
			ok 0 "tamper hs256: alg HS256 (key confusion), kid kept, rejected"
		else ok 1 "tamper hs256"; diag "$hdr $out"; fi
		;;
	*)
		if [ $rc -ne 0 ]; then ok 0 "tamper $mode: rejected ($out)"
		else ok 1 "tamper $mode: accepted!"; diag "$hdr $body"; fi
		;;
	esac
done
# hs256: the token really is an HMAC keyed with the public key's PEM.
pem=$(cd "$peers" && node -e '
const c = require("node:crypto"); const j = JSON.parse(require("node:fs").readFileSync(process.argv[1]));
process.stdout.write(c.createPublicKey({ key: j.keys[0], format: "jwk" }).export({ type: "spki", format: "pem" }));' \
    "$tmp/jwks.json")
mac=$(printf '%s' "$IDT" | cut -d. -f1,2 | tr -d '\n' |
    openssl dgst -sha256 -mac HMAC -macopt "key:$pem"$'\n' -binary | b64url)
is "$mac" "$(printf '%s' "$IDT" | cut -d. -f3)" "tamper hs256: HMAC-SHA256 keyed with the RSA public key PEM"
like "$(jwt_part "$IDT" 2)" "\"nonce\":\"$NONCE\"" "tamper hs256/none keep the claims"

# Without --test-controls there are none.
idp2_port=$(free_port)
node "$peers/idp.mjs" --port "$idp2_port" --cert "$tmp/tls/server.crt" --key "$tmp/tls/server.key" \
    --clients "$tmp/clients.json" --jwks "$tmp/jwks.json" >"$tmp/idp2.log" 2>&1 &
pids+=($!)
wait_https "https://127.0.0.1:$idp2_port/.well-known/openid-configuration" "$tmp/idp2.log" "$!" ||
    bail "second idp.mjs did not start"
st=$(curl -sS --cacert "$ca" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"mode":"none"}' "https://127.0.0.1:$idp2_port/__test/tamper")
is "$st" 404 "without --test-controls, /__test/tamper does not exist"
is "$(curl -sS --cacert "$ca" "https://127.0.0.1:$idp2_port/jwks" | jq -r '.keys[0].kid')" \
    "$(jq -r '.keys[0].kid' "$tmp/jwks.json")" "an existing JWKS file is reused"

# ------------------------------------------------------------- GitHub --

gh_port=$(free_port)
gh=https://127.0.0.1:$gh_port
gh_id=Iv1.smoke0123456789
gh_secret=$(rand 30)
GH_CLIENT_SECRET=$gh_secret node "$peers/github.mjs" --port "$gh_port" \
    --cert "$tmp/tls/server.crt" --key "$tmp/tls/server.key" \
    --client-id "$gh_id" --redirect-prefix "$redirect_uri" >"$tmp/gh.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do
	curl -s --cacert "$ca" -o /dev/null "$gh/user" && break
	sleep 0.1
done

ghcurl() { curl -sS --cacert "$ca" "$@"; }
cb=$(printf '%s' "$redirect_uri/github" | jq -sRr @uri)

st=$(ghcurl -o /dev/null -w '%{http_code}' "$gh/login/oauth/authorize?client_id=nope&redirect_uri=$cb&state=x")
is "$st" 404 "github authorize: unknown client_id is a 404"

ghcurl -H 'Content-Type: application/json' --data '{"login":"mona","id":1234567,"name":"Mona Lisa",
  "emails":[{"email":"mona@example.test","primary":true,"verified":true},
            {"email":"mona@old.example","primary":false,"verified":false}]}' "$gh/__test/user" >/dev/null
loc=$(ghcurl -o /dev/null -w '%{redirect_url}' \
    "$gh/login/oauth/authorize?client_id=$gh_id&redirect_uri=$cb&state=st%201&scope=read:user%20user:email")
like "$loc" "^https://127\.0\.0\.1:1/cb/github\?code=[0-9a-f]{20}&state=st(\+|%20)1$" \
    "github authorize: 302 to redirect_uri with code and state"
code=$(qparam "$loc" code)

r=$(ghcurl -H 'Accept: application/json' -d "client_id=$gh_id" -d "client_secret=wrong" \
    -d "code=$code" --data-urlencode "redirect_uri=$redirect_uri/github" "$gh/login/oauth/access_token")
is "$(printf '%s' "$r" | jq -r .error)" incorrect_client_credentials "github token: a wrong secret is refused (HTTP 200)"
r=$(ghcurl -H 'Accept: application/json' -d "client_id=$gh_id" --data-urlencode "client_secret=$gh_secret" \
    -d "code=$code" --data-urlencode "redirect_uri=$redirect_uri/github" "$gh/login/oauth/access_token")
is "$(printf '%s' "$r" | jq -r '[.token_type, .scope, (.access_token|test("^gho_[A-Za-z0-9]{36}$"))] | join(" ")')" \
    "bearer read:user,user:email true" "github token: JSON with access_token, token_type, scope"
tok=$(printf '%s' "$r" | jq -r .access_token)
r=$(ghcurl -H 'Accept: application/json' -d "client_id=$gh_id" --data-urlencode "client_secret=$gh_secret" \
    -d "code=$code" "$gh/login/oauth/access_token")
is "$(printf '%s' "$r" | jq -r .error)" bad_verification_code "github token: a code is single-use"

u=$(ghcurl -H "Authorization: Bearer $tok" "$gh/user")
is "$(printf '%s' "$u" | jq -c '{login, id, name, email, avatar: (.avatar_url|startswith("https://"))}')" \
    '{"login":"mona","id":1234567,"name":"Mona Lisa","email":"mona@example.test","avatar":true}' "github /user"
e=$(ghcurl -H "Authorization: token $tok" "$gh/user/emails")
is "$(printf '%s' "$e" | jq -c .)" \
    '[{"email":"mona@example.test","primary":true,"verified":true,"visibility":"public"},{"email":"mona@old.example","primary":false,"verified":false,"visibility":null}]' \
    "github /user/emails (token scheme)"
is "$(ghcurl -w ' %{http_code}' -H 'Authorization: Bearer gho_nope' "$gh/user" | sed 's/.*"message":"\([^"]*\)".* /\1 /')" \
    "Bad credentials 401" "github /user: a bad token is 401 Bad credentials"
is "$(ghcurl -o /dev/null -w '%{http_code}' "$gh/user/emails")" 401 "github /user/emails: no token is 401"

# Form-encoded answer, HTTP Basic client auth, PKCE.
verifier=$(rand 48)
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | b64url)
loc=$(ghcurl -o /dev/null -w '%{redirect_url}' \
    "$gh/login/oauth/authorize?client_id=$gh_id&redirect_uri=$cb&state=s2&scope=read:user&code_challenge=$challenge&code_challenge_method=S256")
code=$(qparam "$loc" code)
r=$(ghcurl -u "$gh_id:$gh_secret" -d "code=$code" -d code_verifier=not-the-verifier-not-the-verifier-not-the-verifier \
    "$gh/login/oauth/access_token")
like "$r" '^error=bad_verification_code&' "github token: wrong PKCE verifier refused (form-encoded answer)"
loc=$(ghcurl -o /dev/null -w '%{redirect_url}' \
    "$gh/login/oauth/authorize?client_id=$gh_id&redirect_uri=$cb&state=s2&scope=read:user&code_challenge=$challenge&code_challenge_method=S256")
code=$(qparam "$loc" code)
r=$(ghcurl -u "$gh_id:$gh_secret" -d "code=$code" -d "code_verifier=$verifier" "$gh/login/oauth/access_token")
like "$r" '^access_token=gho_[A-Za-z0-9]{36}&token_type=bearer&scope=read%3Auser$' \
    "github token: Basic auth + PKCE, form-encoded without Accept: application/json"
tok2=$(printf '%s' "$r" | sed 's/^access_token=\([^&]*\).*/\1/')
is "$(ghcurl -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok2" "$gh/user/emails")" 404 \
    "github /user/emails without the user:email scope is 404"

loc=$(ghcurl -o /dev/null -w '%{redirect_url}' \
    "$gh/login/oauth/authorize?client_id=$gh_id&redirect_uri=$(printf 'https://127.0.0.1:1/other' | jq -sRr @uri)&state=s3")
like "$loc" '^https://127\.0\.0\.1:1/cb\?error=redirect_uri_mismatch&.*state=s3$' \
    "github authorize: a foreign redirect_uri goes to the callback URL with redirect_uri_mismatch"
ghcurl -H 'Content-Type: application/json' --data '{"on": true}' "$gh/__test/deny" >/dev/null
loc=$(ghcurl -o /dev/null -w '%{redirect_url}' "$gh/login/oauth/authorize?client_id=$gh_id&redirect_uri=$cb&state=s4")
like "$loc" '^https://127\.0\.0\.1:1/cb/github\?error=access_denied&error_description=[^&]+&error_uri=[^&]+&state=s4$' \
    "github authorize: deny gives error=access_denied with state"
ghcurl -H 'Content-Type: application/json' --data '{"on": false}' "$gh/__test/deny" >/dev/null
is "$(ghcurl -o /dev/null -w '%{http_code}' -A '' -H "Authorization: Bearer $tok" "$gh/user")" 403 \
    "github API: a request without User-Agent is refused, as on GitHub"

# --------------------------------------------------------------- logs --

like "$(cat "$tmp/idp.log")" '^POST /token 200$' "idp log: one line per request"
like "$(cat "$tmp/gh.log")" '^GET /user 200$' "github log: one line per request"

kill "${pids[0]}" && wait "${pids[0]}"
ok $? "idp.mjs exits 0 on SIGTERM"
pids=("${pids[@]:1}")

if [ "$failed" -ne 0 ]; then
	diag "--- idp log (tail)"; diag "$(tail -n 40 "$tmp/idp.log")"
	diag "--- github log (tail)"; diag "$(tail -n 20 "$tmp/gh.log")"
fi
[ "$n" -eq "$plan" ] || diag "planned $plan, ran $n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$n" -eq "$plan" ]
