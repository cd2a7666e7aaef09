#!/bin/bash
# Bad input of every kind gets a problem+json 4xx, never a crash.
. "$(dirname "$0")/../lib/tap.sh"

http GET /api/v1/nope
is_problem 404 "unknown API path: 404 problem (nginx)"
is "$(jqb .instance)" "/api/v1/nope" "unknown API path: instance"
http GET /
is_problem 404 "root: 404 problem"
http GET /api/v1/plans/
is_problem 404 "trailing slash: 404"
http GET /api/v1/plans//free
is_problem 404 "empty segment: 404"

http GET /api/v1/plans/%zz
is_problem 400 "bad percent-escape in the path: 400"
http GET /api/v1/plans/fr%00ee
is_problem 400 "NUL in the path: 400"
http GET /api/v1/plans/%C3%28
is_problem 400 "invalid UTF-8 in the path: 400"
http GET "/api/v1/plans/$(printf '\xc3\xa9')"
like "$STATUS" '^4' "raw non-ASCII byte in the path: 4xx"
is "$CTYPE" "application/problem+json" "raw non-ASCII byte: problem+json"

http GET "/api/v1/plans?limit=$(printf '\xc3\xa9')"
is_problem 400 "raw non-ASCII byte in the query: 400"
like "$(jqb .detail)" "query string must be printable ASCII" "and says where"

long=$(head -c 3000 /dev/zero | tr '\0' a)
http GET "/api/v1/plans/$long"
is_problem 414 "a 3000-byte path: 414 problem"
long=$(head -c 20000 /dev/zero | tr '\0' a)
http GET "/api/v1/plans/$long"
like "$STATUS" '^4(14|00)$' "a 20000-byte path: 414 or 400 from nginx"
is "$CTYPE" "application/problem+json" "a 20000-byte path: problem+json"
http GET /api/v1/plans/free -H "X-Long: $long"
like "$STATUS" '^4(31|00)$' "a 20000-byte header: 431 or 400"
is "$CTYPE" "application/problem+json" "a 20000-byte header: problem+json"

# Bodies: the cap is checked on Content-Length before anything is read.
big=$(mktemp)
head -c $((2 * 1024 * 1024)) /dev/zero >"$big"
http GET /api/v1/plans/free --data-binary "@$big" -H 'Content-Type: application/json'
is_problem 413 "a 2 MiB body: 413 problem"
like "$(jqb .detail)" "limit is 1048576 bytes" "a 2 MiB body: says the limit"
rm -f "$big"
http GET /api/v1/plans/free --data-binary '{"a":1}' -H 'Content-Type: application/json'
is_problem 400 "a body where none is taken: 400"

# A client cannot choose the request id.
http GET /api/v1/plans/nope -H 'X-Request-Id: forged"id'
unlike "$(header x-request-id)" forged "client X-Request-Id ignored"
like "$(jqb .request_id)" '^[0-9a-f]{32}$' "problem carries nginx's request id"

# Handlers are still alive after all that.
http GET /api/v1/plans/free
is "$STATUS" 200 "plans still answers"
http GET /healthz
is "$STATUS" 200 "health still answers"

done_testing
