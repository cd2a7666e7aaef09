#!/bin/bash
# A PostgreSQL restart costs no request: each worker's first statement on
# its dead connection is retried once on a new one.
. "$(dirname "$0")/../lib/tap.sh"

# Every worker holds a connection before the restart.
for i in 1 2 3 4 5 6; do http GET /api/v1/plans/free; done
is "$STATUS" 200 "plans answers before the restart"
http GET /readyz
is "$STATUS" 200 "ready before the restart"

stack stop-service "$HXB_TEST_STACK" postgres
stack start-service "$HXB_TEST_STACK" postgres
# Let the workers' one-second catalog copies expire, so they must read.
sleep 1.2

fails=0
for i in 1 2 3 4 5 6 7 8; do
	http GET /api/v1/plans/free
	[ "$STATUS" = 200 ] || { fails=$((fails + 1)); diag "request $i: $STATUS $BODY"; }
done
is "$fails" 0 "the first requests after the restart all succeed"
http GET /readyz
is "$STATUS" 200 "readyz: 200 right after the restart"
http GET /api/v1/plans?limit=1
is "$STATUS" 200 "list after the restart"

done_testing
