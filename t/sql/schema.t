#!/bin/bash
# pgTAP: the schema's guarantees, run as the superuser in the test database
# (so that the tests can SET ROLE hxb_app) and rolled back.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/schema.sql"
