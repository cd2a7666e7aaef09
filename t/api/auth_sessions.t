#!/bin/bash
# Sessions: refresh-token rotation and reuse detection, logout, listing and
# revoking sessions, and access tokens that must be refused.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

refresh_body() {
	http POST /auth/refresh -H 'Content-Type: application/json' \
	    -d "{\"refresh_token\":\"$1\"}"
}

U=sess$$r$RANDOM
sign_in $U
AT1=$AT RT1=$RT
sid1=$(sql "SELECT id FROM sessions WHERE user_id = '$UID_'")

# --- rotation -------------------------------------------------------------------
refresh_body "$RT1"
is "$STATUS" 200 "refresh: 200"
RT2=$(jqb .refresh_token) AT2=$(jqb .access_token)
like "$RT2" '^hxbrt_' "refresh: a new refresh token"
ok $([ "$RT2" != "$RT1" ]; echo $?) "refresh: the refresh token was rotated"
is "$(jqb .expires_in)" 900 "refresh: expires_in"
is "$(jqb .user)" null "refresh: no user object"
http GET /auth/me -H "$(bearer "$AT2")"
is "$STATUS" 200 "the refreshed access token works"
n=$(sql "SELECT count(*) FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE s.user_id = '$UID_'")
is "$n" 2 "two refresh tokens in the session's chain"
stored=$(sql "SELECT encode(token_hash, 'hex') FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id WHERE s.user_id = '$UID_' ORDER BY r.created_at DESC LIMIT 1")
is "$stored" "$(printf '%s' "$RT2" | sha256sum | cut -d' ' -f1)" "only the SHA-256 of the token is stored"
is "$(sql "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%hxbrt_%'")" 0 \
    "no clear refresh token in the database"

# Through the cookie: the rotated token comes back as a cookie.
http POST /auth/refresh -H "Cookie: hxb_refresh=$RT2"
is "$STATUS" 200 "refresh from the cookie: 200"
RT3=$(jqb .refresh_token)
like "$(header set-cookie)" "^hxb_refresh=$RT3; Path=/auth;" "refresh from the cookie: the rotated cookie"

# --- reuse of a rotated token revokes the whole family -------------------------
AT3=$(jqb .access_token)
refresh_body "$RT1"
is_problem 401 "reusing a rotated refresh token: 401"
like "$(jqb .detail)" "already used" "reuse: says why"
is "$(sql "SELECT revoke_reason FROM sessions WHERE id = '$sid1'")" reuse "reuse: the session is revoked"
refresh_body "$RT3"
is_problem 401 "reuse: the newest refresh token of the family is dead too"
http GET /auth/me -H "$(bearer "$AT3")"
is_problem 401 "reuse: the family's access tokens stop at once"
is "$(sql "SELECT count(*) FROM audit_log WHERE action = 'auth.refresh.reuse' AND resource = 'sessions/$sid1'")" 1 \
    "reuse detection audited"

# --- bad refresh tokens ----------------------------------------------------------
refresh_body "hxbrt_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
is_problem 401 "an unknown refresh token: 401"
refresh_body "nonsense"
is_problem 401 "a malformed refresh token: 401"
http POST /auth/refresh
is_problem 401 "no refresh token: 401"
like "$(header www-authenticate)" '^Bearer' "401 carries WWW-Authenticate"
http POST /auth/refresh -H 'Content-Type: application/json' -d '{"refresh_token":5}'
is_problem 422 "refresh_token not a string: 422"

# --- logout kills the access token immediately ---------------------------------
sign_in $U
AT_L=$AT RT_L=$RT
http GET /auth/me -H "$(bearer "$AT_L")"
is "$STATUS" 200 "before logout: me works"
http POST /auth/logout -H "$(bearer "$AT_L")"
is "$STATUS" 200 "logout: 200"
like "$(header set-cookie)" '^hxb_refresh=; Path=/auth; Max-Age=0' "logout clears the cookie"
http GET /auth/me -H "$(bearer "$AT_L")"
is_problem 401 "after logout: the access token is refused at once"
refresh_body "$RT_L"
is_problem 401 "after logout: the refresh token is refused"
http POST /auth/logout -H "$(bearer "$AT_L")"
is_problem 401 "logout again with the dead token: 401"
n=$(sql "SELECT count(*) FROM audit_log WHERE action = 'auth.logout' AND actor_id = '$UID_'")
is "$n" 1 "logout audited"

# Revocation survives Redis losing its data: rebuilt from PostgreSQL.
rcli FLUSHALL >/dev/null
http GET /auth/me -H "$(bearer "$AT_L")"
is_problem 401 "after Redis lost everything: still refused (rebuilt from PostgreSQL)"
is "$(rcli EXISTS hxb:revoked:ready)" 1 "the revoked set was rebuilt"
sign_in $U
http GET /auth/me -H "$(bearer "$AT")"
is "$STATUS" 200 "after Redis lost everything: a live token works"
# The per-address count of the authenticated routes: each worker sends its
# count every b requests (b = min(32, limit / 64) = 32 here) while far from
# the limit, so after 100 requests Redis holds all but at most b - 1 per
# worker, in a key that expires with its window.
A4=127.4.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
urls=()
for ((i = 0; i < 100; i++)); do urls+=(-o /dev/null "$HXB_TEST_URL/auth/me"); done
codes=$(curl -s --interface $A4 -H "$(bearer "$AT")" -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c | awk '{print $2 "x" $1}')
is "$codes" "200x100" "100 requests within the limit: all 200"
# (The requests may straddle two windows: then there are two keys.)
rlkeys=$(rcli --scan --pattern "hxb:rl:auth-session:$A4:*" | sort)
nk=$(printf '%s\n' "$rlkeys" | grep -c .)
rlkey=$(printf '%s\n' "$rlkeys" | tail -n 1)
like "$rlkey" "^hxb:rl:auth-session:${A4//./\\.}:[0-9]+\$" "the count is kept per address and window"
ttl=$(rcli TTL "$rlkey")
ok $([ "$ttl" -ge 1 ] && [ "$ttl" -le 61 ]; echo $?) "the count expires with its window ($ttl s)"
v=0
for k in $rlkeys; do v=$((v + $(rcli GET "$k"))); done
ok $([ "$v" -le 100 ] && [ "$v" -ge $((100 - nk * WORKERS * 31)) ]; echo $?) \
    "Redis has all but the unsent batches ($v of 100, $WORKERS workers)"
http POST /auth/logout -H "$(bearer "$AT")"

# --- sessions: list, revoke one, revoke all ------------------------------------
sign_in $U; A_AT=$AT
sign_in $U; B_AT=$AT B_RT=$RT
sign_in $U; C_AT=$AT
ME=$UID_
http GET /auth/sessions -H "$(bearer "$A_AT")"
is "$STATUS" 200 "list sessions: 200"
is "$(jqb '.items | length')" 3 "three live sessions"
is "$(jqb '[.items[] | select(.current)] | length')" 1 "one is the current one"
is "$(jqb -c '.items[0] | keys')" '["created_at","current","expires_at","id","ip","last_used_at","provider","user_agent"]' \
    "a session's fields"
is "$(jqb '.items[0].ip')" 127.0.0.1 "the client address"
like "$(jqb '.items[0].created_at')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z$' "RFC 3339 times"
http GET '/auth/sessions?limit=2' -H "$(bearer "$A_AT")"
is "$(jqb '.items | length')" 2 "limit=2: two"
cur=$(jqb .next_cursor)
http GET "/auth/sessions?limit=2&cursor=$cur" -H "$(bearer "$A_AT")"
is "$(jqb '.items | length')" 1 "the next page: the third"
is "$(jqb .next_cursor)" null "the last page"
http GET '/auth/sessions?cursor=bogus' -H "$(bearer "$A_AT")"
is_problem 400 "a made-up cursor: 400"

b_sid=$(printf '%s' "${B_AT#*.}" | cut -d. -f1 | tr '_-' '/+' | { read -r p; while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done; printf '%s' "$p"; } | base64 -d | jq -r .sid)
http DELETE "/auth/sessions/$b_sid" -H "$(bearer "$A_AT")"
is "$STATUS" 204 "revoke another of my sessions: 204"
http GET /auth/me -H "$(bearer "$B_AT")"
is_problem 401 "its access token stops at once"
refresh_body "$B_RT"
is_problem 401 "its refresh token too"
http DELETE "/auth/sessions/$b_sid" -H "$(bearer "$A_AT")"
is "$STATUS" 204 "revoking it again: 204 (idempotent)"

# Someone else's session does not exist for me.
sign_in other$$r$RANDOM; O_AT=$AT
http DELETE "/auth/sessions/$b_sid" -H "$(bearer "$O_AT")"
is_problem 404 "someone else's session: 404"
http DELETE "/auth/sessions/ses-00000000000000000000000000" -H "$(bearer "$O_AT")"
is_problem 404 "a session that never was: 404"

http POST /auth/sessions/revoke-all -H "$(bearer "$A_AT")" -H 'Content-Type: application/json' \
    -d '{"keep_current":true}'
is "$STATUS" 200 "revoke-all keeping the current one: 200"
is "$(jqb .revoked)" 1 "revoke-all: one other live session ended"
http GET /auth/me -H "$(bearer "$C_AT")"
is_problem 401 "revoke-all: the other session's token is dead"
http GET /auth/me -H "$(bearer "$A_AT")"
is "$STATUS" 200 "revoke-all: the current one lives"
http POST /auth/sessions/revoke-all -H "$(bearer "$A_AT")"
is "$(jqb .revoked)" 1 "revoke-all: now the current one too"
http GET /auth/me -H "$(bearer "$A_AT")"
is_problem 401 "revoke-all: every token dead"
n=$(sql "SELECT count(*) FROM audit_log WHERE action IN ('auth.session.revoke', 'auth.session.revoke_all') AND actor_id = '$ME'")
ok $([ "$n" -ge 3 ]; echo $?) "session revocations audited"

# --- access tokens that must be refused -----------------------------------------
sign_in $U
good=$AT
h=${good%%.*}; rest=${good#*.}; p=${rest%%.*}; sig=${rest#*.}
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
unb64() { local s=$1; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf '%s' "$s" | tr '_-' '/+' | base64 -d; }
claims=$(unb64 "$p")
hdr=$(unb64 "$h")

http GET /auth/me
is_problem 401 "no token: 401"
is "$(header www-authenticate)" 'Bearer realm="hexabase"' "no token: WWW-Authenticate"
http GET /auth/me -H 'Authorization: Basic Zm9vOmJhcg=='
is_problem 401 "Basic credentials: 401"
http GET /auth/me -H "Authorization: Bearer $h.$p.${sig:0:20}AAAA${sig:24}"
is_problem 401 "a bad signature: 401"
like "$(header www-authenticate)" 'error="invalid_token"' "bad token: invalid_token"
other_iss=$(printf '%s' "$claims" | jq -c '.iss = "https://evil.example"' | b64url)
http GET /auth/me -H "Authorization: Bearer $h.$other_iss.$sig"
is_problem 401 "another issuer (signature no longer matches): 401"
none_h=$(printf '{"alg":"none","typ":"JWT"}' | b64url)
http GET /auth/me -H "Authorization: Bearer $none_h.$p."
is_problem 401 "alg none: 401"
http GET /auth/me -H "Authorization: Bearer $none_h.$p.$sig"
is_problem 401 "alg none with a signature: 401"
kid=$(printf '%s' "$hdr" | jq -r .kid)
pub=$(sql "SELECT public_pem FROM signing_keys WHERE kid = '$kid'")
hs_h=$(printf '{"alg":"HS256","typ":"JWT","kid":"%s"}' "$kid" | b64url)
hs_sig=$(printf '%s' "$hs_h.$p" | openssl dgst -sha256 -mac HMAC -macopt "key:$pub" -binary | b64url)
http GET /auth/me -H "Authorization: Bearer $hs_h.$p.$hs_sig"
is_problem 401 "HS256 signed with the public key as the secret: 401"
unk_h=$(printf '%s' "$hdr" | jq -c '.kid = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"' | b64url)
http GET /auth/me -H "Authorization: Bearer $unk_h.$p.$sig"
is_problem 401 "a kid we do not know: 401"
like "$(jqb .detail)" "unknown signing key" "unknown kid: says so"

# Tokens we did sign, with claims a verifier must refuse: made with the
# real key through a scratch signer would need the master key; instead
# sign with a key of our own under the same kid (refused: bad signature)
# and under our own kid (refused: unknown key).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$S/evil.pem" 2>/dev/null
forge() {	# forge HEADER-JSON CLAIMS-JSON
	local hh pp
	hh=$(printf '%s' "$1" | b64url); pp=$(printf '%s' "$2" | b64url)
	printf '%s.%s.%s' "$hh" "$pp" "$(printf '%s' "$hh.$pp" | openssl dgst -sha256 -sign "$S/evil.pem" -binary | b64url)"
}
t=$(forge "$hdr" "$(printf '%s' "$claims" | jq -c '.iss = "https://evil.example"')")
http GET /auth/me -H "Authorization: Bearer $t"
is_problem 401 "a token from a different issuer, signed by its own key: 401"
t=$(forge '{"alg":"RS256","typ":"JWT","kid":"evil-key-0000000000"}' "$claims")
http GET /auth/me -H "Authorization: Bearer $t"
is_problem 401 "a token under a kid we do not know: 401"
rm -f "$S/evil.pem"

done_testing
