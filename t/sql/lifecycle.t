#!/bin/bash
# pgTAP: what 0007_lifecycle.sql guarantees: one worker at a time holds a
# task, every request names its tier, the desired state of a workspace in
# one document, and answers alone move a workspace's state, once.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/lifecycle.sql"
