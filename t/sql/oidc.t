#!/bin/bash
# pgTAP: what 0005_oidc.sql and 0006_oauth2.sql guarantee: a workspace token's groups are the
# caller's own effective groups, by name, and nobody else's.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/oidc.sql"
