#!/bin/bash
# jobs/migrate against a scratch database: order, checksums, refusals,
# transactions, and several copies at once.
. "$(dirname "$0")/../lib/tap.sh"

S=$HXB_TEST_STACK
. "$S/stack.env"
super() {
	PGOPTIONS='-c client_min_messages=warning' PGPASSWORD=$(cat "$S/secrets/pg_super") psql -X -q -A -t \
	    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres "$@"
}
db=hxb_migrate_test
super -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db OWNER hxb_owner"
dir=$(mktemp -d)
cp "$HXB_TEST_ROOT"/sql/*.sql "$dir/"
nfiles=$(ls "$dir"/*.sql | wc -l)

migrate() {
	HXB_DATABASE_URL="host=$RUN/pg port=$PG_PORT dbname=$db user=hxb_owner" \
	HXB_DATABASE_PASSWORD_FILE="$S/secrets/pg_owner" \
	HXB_MIGRATIONS_DIR="$dir" HXB_LOG_LEVEL=error \
	HXB_MASTER_KEY_FILE="$S/secrets/master_key" \
	    "$HXB_TEST_BUILD/jobs/migrate" "$@"
}
q() { super -d "$db" -c "$1"; }

# Three copies at once: one applies, the others wait and find nothing.
errs=$(mktemp)
migrate >/dev/null 2>>"$errs" & p1=$!
migrate >/dev/null 2>>"$errs" & p2=$!
migrate >/dev/null 2>>"$errs" & p3=$!
wait $p1; r1=$?; wait $p2; r2=$?; wait $p3; r3=$?
is "$r1$r2$r3" 000 "three concurrent runs all succeed"
is "$(q 'SELECT count(*) FROM schema_migrations')" "$nfiles" "each file recorded once"
is "$(q 'SELECT count(*) FROM plans')" 3 "the seed ran once"
like "$(q 'SELECT checksum FROM schema_migrations WHERE version = 1')" '^[0-9a-f]{64}$' "a SHA-256 is recorded"
is "$(q "SELECT count(*) FROM signing_keys WHERE state = 'active'")" 1 "one first signing key, whoever ran first"

out=$(migrate 2>&1)
is "$?" 0 "a second run is a no-op"
is "$out" "" "a second run applies nothing"
out=$(migrate --status 2>&1)
like "$out" "0001_init.sql	applied" "--status lists applied migrations"

# A new migration is applied, in its own transaction with its record.
printf 'CREATE TABLE t_mig_ok (id int);\n' >"$dir/0900_ok.sql"
out=$(migrate 2>&1)
is "$?" 0 "a new migration applies"
like "$out" "applied 0900_ok.sql" "it says so"
is "$(q "SELECT to_regclass('t_mig_ok') IS NOT NULL")" t "its table exists"

# A failing migration leaves nothing behind.
printf 'CREATE TABLE t_mig_bad (id int);\nSELECT nope FROM nowhere;\n' >"$dir/0901_bad.sql"
out=$(migrate 2>&1)
is "$?" 1 "a failing migration fails the run"
like "$out" "0901_bad.sql failed" "it names the file"
is "$(q "SELECT to_regclass('t_mig_bad') IS NULL")" t "its first statement was rolled back"
is "$(q 'SELECT count(*) FROM schema_migrations WHERE version = 901')" 0 "it is not recorded"
rm -f "$dir/0901_bad.sql"

# An applied file that changed is refused, and nothing runs.
printf '\n-- edited\n' >>"$dir/0900_ok.sql"
printf 'CREATE TABLE t_mig_later (id int);\n' >"$dir/0902_later.sql"
out=$(migrate 2>&1)
is "$?" 1 "a changed applied file: refused"
like "$out" "0900_ok.sql has changed since it was applied" "it says which file changed"
is "$(q "SELECT to_regclass('t_mig_later') IS NULL")" t "nothing ran after the refusal"
printf 'CREATE TABLE t_mig_ok (id int);\n' >"$dir/0900_ok.sql"
migrate >/dev/null 2>&1
is "$?" 0 "restoring the file lets it run again"

# A file numbered below the newest applied one is refused.
printf 'SELECT 1;\n' >"$dir/0500_late.sql"
out=$(migrate 2>&1)
is "$?" 1 "an out-of-order file: refused"
like "$out" "older than 0902" "it says why"
rm -f "$dir/0500_late.sql"

# An applied file that disappeared is refused.
mv "$dir/0902_later.sql" "$dir/later.bak"
out=$(migrate 2>&1)
is "$?" 1 "a missing applied file: refused"
like "$out" "0902_later.sql was applied but is missing" "it names the file"
mv "$dir/later.bak" "$dir/0902_later.sql"

# Two files with one number are refused.
printf 'SELECT 1;\n' >"$dir/0902_twin.sql"
out=$(migrate 2>&1)
is "$?" 1 "a duplicate number: refused"
rm -f "$dir/0902_twin.sql"

rm -rf "$dir" "$errs"
super -d postgres -c "DROP DATABASE $db"
done_testing
