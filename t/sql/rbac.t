#!/bin/bash
# pgTAP: what 0004_rbac.sql guarantees: the caller's access to a
# workspace, hierarchies that never loop, ids made in SQL, and an RBAC
# sync enqueued by every change that matters.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/rbac.sql"
