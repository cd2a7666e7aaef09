#!/bin/bash
# The plan catalog through nginx: GET /api/v1/plans[/{planId}].
. "$(dirname "$0")/../lib/tap.sh"

http GET /api/v1/plans
is "$STATUS" 200 "list plans: 200"
is "$CTYPE" "application/json" "list plans: application/json"
is "$(jqb '[.items[].id] | join(",")')" "free,pro,enterprise" \
    "list plans: the three seeded plans, cheapest first"
is "$(jqb '.next_cursor')" "null" "list plans: no next page"
is "$(jqb '[.items[].isolation] | join(",")')" "pool,bridge,silo" \
    "list plans: isolation tiers"
like "$(header cache-control)" "max-age=" "list plans: cacheable"
like "$(header x-request-id)" '^[0-9a-f]{32}$' "list plans: X-Request-Id from nginx"

http GET /api/v1/plans/free
is "$STATUS" 200 "get free: 200"
is "$(jqb -c '.quotas')" \
    '{"cpu":"2","memory":"4Gi","storage":"10Gi","pods":20,"services":10,"persistentvolumeclaims":5}' \
    "get free: quotas as Kubernetes quantities"
is "$(jqb -c '.limits')" '{"max_projects":3,"max_members":5}' "get free: limits"
is "$(jqb -c '.price')" '{"amount":0,"currency":"usd","interval":"month"}' \
    "get free: price"
is "$(jqb '.isolation')" pool "get free: pool isolation"

http GET /api/v1/plans/enterprise
is "$(jqb '.isolation + " " + .quotas.cpu')" "silo 32" "get enterprise"

# Pagination: one plan a page, following next_cursor to the end.
ids= cursor= pages=0
while :; do
	if [ -n "$cursor" ]; then
		http GET "/api/v1/plans?limit=1&cursor=$cursor"
	else
		http GET "/api/v1/plans?limit=1"
	fi
	[ "$STATUS" = 200 ] || break
	ids+="$(jqb '.items[0].id') "
	cursor=$(jqb '.next_cursor')
	pages=$((pages + 1))
	[ "$cursor" = null ] && break
	[ $pages -lt 10 ] || break
done
is "$ids" "free pro enterprise " "pagination: every plan once, in order"
is "$pages" 3 "pagination: three pages of one"

http GET /api/v1/plans/nope
is_problem 404 "unknown plan: 404 problem"
is "$(jqb .instance)" "/api/v1/plans/nope" "unknown plan: instance is the path"
http GET /api/v1/plans/NOT_A_LABEL
is_problem 404 "malformed plan id: 404"

http POST /api/v1/plans
is_problem 405 "POST /api/v1/plans: 405 problem"
is "$(header allow)" "GET, HEAD" "POST /api/v1/plans: Allow lists GET, HEAD"
http DELETE /api/v1/plans/free
is_problem 405 "DELETE a plan: 405"
is "$(header allow)" "GET, HEAD" "DELETE a plan: Allow"

http HEAD /api/v1/plans/free -I
is "$STATUS" 200 "HEAD a plan: 200"
like "$(header content-length)" '^[1-9][0-9]*$' "HEAD a plan: the GET's Content-Length"

http GET "/api/v1/plans?limit=0"
is_problem 400 "limit=0: 400"
is "$(jqb '.errors[0].field')" limit "limit=0: names the field"
http GET "/api/v1/plans?limit=101"
is_problem 400 "limit=101: 400"
http GET "/api/v1/plans?limit=abc"
is_problem 400 "limit=abc: 400"
is "$(jqb '.errors[0].message')" "must be an integer" "limit=abc: says why"
http GET "/api/v1/plans?colour=blue"
is_problem 400 "unknown query parameter: 400"
is "$(jqb '.errors[0].field')" colour "unknown query parameter: named"
http GET "/api/v1/plans?limit=1&limit=2"
is_problem 400 "duplicate query parameter: 400"
http GET "/api/v1/plans?limit=%zz"
is_problem 400 "bad percent-escape in the query: 400"
http GET "/api/v1/plans?limit=%00"
is_problem 400 "NUL in the query: 400"
http GET "/api/v1/plans?cursor=bm9wZQ"
is_problem 400 "made-up cursor: 400"

done_testing
