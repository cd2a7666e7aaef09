# t/lib/auth.sh: sign-in helpers for the API tests; source after tap.sh.
#
#   login_start PROVIDER [JSON]   POST /auth/login/PROVIDER; sets AUTH_URL, STATE
#   idp_visit LOGIN               the IdP's browser part (fresh cookie jar);
#                                 sets CB, the callback path and query
#   sign_in LOGIN [PROVIDER]      the whole flow, JSON answer; sets AT, RT, UID_
#   gh_user JSON                  the GitHub stand-in's next user
#   tamper MODE                   how the test IdP rewrites its next ID token
#   sql SQL                       psql as superuser on the stack's database
#   rcli ARGS...                  redis-cli on the stack's Redis
#   stack_setting NAME DEFAULT    an HXB_ setting the stack's handlers got
#   jwt_part TOKEN N              a compact JWS's part N (0 header, 1 claims)
#   jwt_kid TOKEN                 its header's kid
#   rotate_keys [ARGS]            jobs/rotate-keys as the owner, with the
#                                 stack's key refresh and JWKS max-age
#   jose_verify TOKEN AUD [CLAIMS]
#                                 the npm jose library verifies TOKEN: keys
#                                 from the issuer's discovered jwks_uri,
#                                 issuer and audience pinned, RS256 only,
#                                 CLAIMS (comma-separated) required; prints
#                                 "OK <claims JSON>" or "REJECTED <code>"
#   pkce                          a new PKCE pair: sets VERIFIER, CHALLENGE
#   oauth2_code LOGIN QUERY       /oauth2/authorize?QUERY, the IdP, the
#                                 callback; sets LOC (the client redirect),
#                                 CODE and (on failure) OERR
#   cli_login LOGIN DIR [ARGS]    hxb-credential login with HXB_CONFIG_DIR=DIR,
#                                 its browser part done with curl; its exit
#                                 status, its stderr in DIR.log
#   auth_pool_with VAR=VALUE...   swap the auth pool for one with more settings
#   auth_pool_restore             swap it back (also done at exit)
. "$HXB_TEST_ROOT/t/lib/idp.sh"

S=$HXB_TEST_STACK
. "$S/stack.env"
CA=$S/tls/ca.crt
IDP=https://127.0.0.1:$IDP_PORT
GH=https://127.0.0.1:$GITHUB_PORT

sql() {
	PGOPTIONS='-c client_min_messages=warning' \
	PGPASSWORD=$(cat "$S/secrets/pg_super") psql -X -q -A -t \
	    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres \
	    -d hexabase -c "$1"
}

# stack_setting NAME DEFAULT: an HXB_ setting the stack's handlers got.
stack_setting() {
	local v
	v=$(sed -n "s/^$1=//p" "$S/extra.env" 2>/dev/null | tail -n 1)
	printf '%s' "${v:-$2}"
}

jwt_part() {
	local p
	p=$(printf '%s' "$1" | cut -d. -f$(($2 + 1)))
	while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
	printf '%s' "$p" | tr '_-' '/+' | base64 -d 2>/dev/null
}
jwt_kid() { jwt_part "$1" 0 | jq -r .kid; }

# A publication margin of 1 s, so that a rotation takes seconds in tests.
rotate_keys() {
	HXB_DATABASE_URL="host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner" \
	HXB_DATABASE_PASSWORD_FILE="$S/secrets/pg_owner" \
	HXB_MASTER_KEY_FILE="$S/secrets/master_key" \
	HXB_KEYS_REFRESH_MS=$(stack_setting HXB_KEYS_REFRESH_MS 30000) \
	HXB_JWKS_MAX_AGE_S=$(stack_setting HXB_JWKS_MAX_AGE_S 300) \
	HXB_KEY_PUBLISH_MARGIN_S=1 "$HXB_TEST_BUILD/jobs/rotate-keys" "$@"
}

rcli() {
	redis-cli -s "$RUN/redis.sock" -a "$(cat "$S/secrets/redis")" \
	    --no-auth-warning "$@"
}

tamper() {
	curl -s --cacert "$CA" -X POST -H 'Content-Type: application/json' \
	    -d "{\"mode\":\"$1\"}" "$IDP/__test/tamper" >/dev/null
}

gh_user() {
	curl -s --cacert "$CA" -X POST -H 'Content-Type: application/json' \
	    -d "$1" "$GH/__test/user" >/dev/null
}

login_start() {
	local body=${2:-}
	if [ -n "$body" ]; then
		http POST "/auth/login/$1" -H 'Content-Type: application/json' \
		    -d "$body"
	else
		http POST "/auth/login/$1"
	fi
	AUTH_URL=$(jqb .auth_url)
	STATE=$(jqb .state)
}

# The GitHub stand-in has no login page: its authorize URL redirects back
# at once.  The IdP needs the login and consent forms filled in.
idp_visit() {
	local jar url
	jar=$(mktemp)
	case $AUTH_URL in
	"$GH"/*)
		url=$(curl -s --cacert "$CA" -o /dev/null -w '%{redirect_url}' \
		    "$AUTH_URL")
		;;
	*)
		url=$(idp_sign_in "$AUTH_URL" "$1" "$jar" "$CA")
		;;
	esac
	rm -f "$jar"
	CB=${url#"$HXB_TEST_URL"}
}

sign_in() {
	login_start "${2:-dev}"
	idp_visit "$1"
	http GET "$CB" -H 'Accept: application/json'
	AT=$(jqb .access_token)
	RT=$(jqb .refresh_token)
	UID_=$(jqb .user.id)
}

jose_verify() {
	(cd "$HXB_TEST_ROOT/t/peers" && NODE_EXTRA_CA_CERTS=$CA node --input-type=module -e '
import * as jose from "jose";
const [token, iss, aud, claims] = process.argv.slice(1);
const doc = await (await fetch(iss + "/.well-known/openid-configuration")).json();
const keys = jose.createRemoteJWKSet(new URL(doc.jwks_uri));
try {
  const { payload } = await jose.jwtVerify(token, keys, { issuer: doc.issuer,
    audience: aud, algorithms: ["RS256"],
    requiredClaims: claims ? claims.split(",") : [] });
  console.log(`OK ${JSON.stringify(payload)}`);
} catch (e) { console.log(`REJECTED ${e.code}`); }
' -- "$1" "$HXB_TEST_ISSUER" "$2" "${3:-}" 2>&1)
}

pkce() {
	VERIFIER=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	CHALLENGE=$(printf '%s' "$VERIFIER" | openssl dgst -sha256 -binary |
	    base64 | tr '+/' '-_' | tr -d '=\n')
}

# The browser's part of an authorization request: authorize (302 to the
# IdP), the IdP's forms (fresh jar), our callback (302 to the client).
oauth2_code() {
	local q
	http GET "/oauth2/authorize?$2"
	AUTH_URL=$(header location)
	LOC= CODE= OERR=
	case $AUTH_URL in "$IDP"/*) ;; *) return 1 ;; esac
	idp_visit "$1"
	http GET "$CB"
	LOC=$(header location)
	q=${LOC#*\?}
	CODE=$(printf '%s' "$q" | tr '&' '\n' | sed -n 's/^code=//p')
	OERR=$(printf '%s' "$q" | tr '&' '\n' | sed -n 's/^error=//p')
}

cli_login() {
	local login=$1 dir=$2 pid url i loc
	shift 2
	mkdir -p "$dir" && : >"$dir.log"
	HXB_CONFIG_DIR=$dir "$HXB_TEST_BUILD/jobs/hxb-credential" login \
	    --server "$HXB_TEST_URL" --no-browser --idp dev --timeout 60 "$@" \
	    2>"$dir.log" &
	pid=$!
	for i in $(seq 100); do
		url=$(sed -n 's/^  \(http[^ ]*\)$/\1/p' "$dir.log")
		[ -n "$url" ] && break
		sleep 0.1
	done
	# The browser: authorize, the IdP, our callback, the plugin's listener.
	AUTH_URL=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
	idp_visit "$login"
	loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$HXB_TEST_URL$CB")
	curl -s -o /dev/null "$loc"
	wait "$pid"
}

bearer() { printf 'Authorization: Bearer %s' "$1"; }

# A setting for one test only: a handler's pool is swapped with more
# variables, and swapped back by pool_restore or at exit (before the
# test's own EXIT trap, which is kept).
#   pool_with NAME VAR=VALUE...    pool_restore
pool_saved=
pool_name=
pool_prev_trap=
pool_with() {
	local name=$1
	shift
	if [ -z "$pool_name" ]; then
		pool_saved=$(cat "$S/extra.env")
		pool_prev_trap=$(trap -p EXIT)
	fi
	pool_name=$name
	trap pool_exit EXIT
	printf '%s\n' "$pool_saved" "$@" >"$S/extra.env"
	stack restart-handler "$S" "$name" >/dev/null 2>&1
}
pool_restore() {
	[ -n "$pool_name" ] || return 0
	printf '%s\n' "$pool_saved" >"$S/extra.env"
	stack restart-handler "$S" "$pool_name" >/dev/null 2>&1
	pool_name=
	if [ -n "$pool_prev_trap" ]; then
		eval "$pool_prev_trap"
	else
		trap - EXIT
	fi
}
pool_exit() {
	local c=$pool_prev_trap
	pool_restore
	[ -n "$c" ] || return 0
	c=${c#trap -- }
	eval "eval ${c% EXIT}"
}
auth_pool_with() { pool_with auth "$@"; }
auth_pool_restore() { pool_restore; }
