#!/bin/bash
# Signing keys live in PostgreSQL and every process picks up a new one
# without a restart; tokens of a retired key keep verifying until they
# expire.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

U=keys$$r$RANDOM
sign_in $U
OLD_AT=$AT
old=$(jwt_kid "$OLD_AT")
is "$(sql "SELECT state FROM signing_keys WHERE kid = '$old'")" active "tokens are signed by the active key"
is "$(sql "SELECT count(*) FROM signing_keys WHERE kid = '$old' AND private_sealed IS NOT NULL AND public_pem LIKE '-----BEGIN PUBLIC KEY-----%'")" 1 \
    "the private key is stored sealed"

# Retire it and let jobs/migrate create a new active key, as a rotation
# would, while the handlers run.
sql "UPDATE signing_keys SET state = 'retired', retired_at = now() WHERE kid = '$old'" >/dev/null
HXB_DATABASE_URL="host=$RUN/pg port=$PG_PORT dbname=hexabase user=hxb_owner" \
HXB_DATABASE_PASSWORD_FILE="$S/secrets/pg_owner" \
HXB_MIGRATIONS_DIR="$HXB_TEST_ROOT/sql" HXB_MASTER_KEY_FILE="$S/secrets/master_key" \
    "$HXB_TEST_BUILD/jobs/migrate" >"$S/keys-migrate.out" 2>&1
ok $? "a new key is created"
new=$(sql "SELECT kid FROM signing_keys WHERE state = 'active'")
like "$new" '^[A-Za-z0-9_-]{43}$' "its kid is an RFC 7638 thumbprint"

# Within HXB_KEYS_REFRESH_MS (1 s in the test stack) every worker signs
# with the new key; no restart.
sleep 1.5
kids=
for i in 1 2 3 4; do
	sign_in $U
	kids="$kids$(jwt_kid "$AT") "
done
is "$kids" "$new $new $new $new " "new sign-ins are signed with the new key"
http GET /auth/me -H "$(bearer "$AT")"
is "$STATUS" 200 "a token of the new key verifies"
http GET /auth/me -H "$(bearer "$OLD_AT")"
is "$STATUS" 200 "a token of the retired key still verifies until it expires"

# A key deleted from the table is forgotten: its tokens stop verifying.
sql "DELETE FROM signing_keys WHERE kid = '$old'" >/dev/null
sleep 1.5
ok_all=0
for i in 1 2 3 4; do
	http GET /auth/me -H "$(bearer "$OLD_AT")"
	[ "$STATUS" = 401 ] || ok_all=1
done
ok $ok_all "a deleted key's tokens are refused by every worker"

done_testing
