#!/bin/bash
# pgTAP: row-level security and the authorization functions of
# 0003_tenancy.sql, as hxb_app with one acting user after another.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/tenancy.sql"
