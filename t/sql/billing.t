#!/bin/bash
# pgTAP: what 0008_billing.sql guarantees: a Stripe event stored and
# applied once, never moving billing back to an older state; suspension
# and release after payments; the plans Stripe changed; the billing-sync
# requests; and row-level security on billing.
. "$(dirname "$0")/../lib/tap.sh"
. "$HXB_TEST_STACK/stack.env"
PGPASSWORD=$(cat "$HXB_TEST_STACK/secrets/pg_super") exec psql -X -q -A -t \
    -v ON_ERROR_STOP=1 -h "$RUN/pg" -p "$PG_PORT" -U postgres -d hexabase \
    -f "$(dirname "$0")/billing.sql"
