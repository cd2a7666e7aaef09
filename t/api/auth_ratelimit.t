#!/bin/bash
# Rate limits on /auth: the handler's per-address count in Redis (429 with
# Retry-After), and nginx's limit_req in front of it.  Requests come from
# other loopback addresses (curl --interface), so that this test's counts
# are its own.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

# Fresh addresses each run (all of 127/8 is loopback).
A1=127.1.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
A2=127.2.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
A3=127.3.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))

U=rl$$r$RANDOM
sign_in $U

# Low limits for this test only.
auth_pool_with HXB_AUTH_RATE_LIMIT=5 HXB_AUTH_SESSION_RATE_LIMIT=256 \
    HXB_AUTH_RATE_WINDOW_S=3600
ok $? "auth pool restarted with limits of 5 and 256 an hour"

from() {	# from ADDR PATH: status code of a POST
	curl -s -o /dev/null -w '%{http_code}' --interface "$1" -X POST \
	    "$HXB_TEST_URL$2"
}
codes=
for i in 1 2 3 4 5 6 7; do
	codes="$codes$(from $A1 /auth/login/dev) "
done
is "$codes" "200 200 200 200 200 429 429 " "the sixth sign-in attempt in the window gets 429"
http POST /auth/refresh --interface $A1
is_problem 429 "refresh counts too: 429 problem"
like "$(header retry-after)" '^[0-9]+$' "Retry-After given"
ra=$(header retry-after)
ok $([ "$ra" -ge 1 ] && [ "$ra" -le 3600 ]; echo $?) "Retry-After within the window ($ra s)"
like "$(jqb .detail)" "try again in" "the handler's own answer"
is "$(from $A2 /auth/login/dev)" 200 "another address is not limited"

# Authenticated /auth routes count in their own, larger bucket.
http GET /auth/me -H "$(bearer "$AT")" --interface $A1
is "$STATUS" 200 "an authenticated route is not held by the sign-in bucket"

# The session bucket counts in batches below half its limit (b = 256 / 64
# = 4 requests per worker), one by one above: 256 requests pass, plus at
# most what each worker counted on a stale total (b - 1 each).
A5=127.5.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))
urls=()
for ((i = 0; i < 300; i++)); do urls+=(-o /dev/null "$HXB_TEST_URL/auth/me"); done
out=$(curl -s --interface $A5 -H "$(bearer "$AT")" -w '%{http_code}\n' "${urls[@]}")
n200=$(printf '%s\n' "$out" | grep -c '^200$')
n429=$(printf '%s\n' "$out" | grep -c '^429$')
ok $([ "$n200" -ge 256 ] && [ "$n200" -le $((256 + WORKERS * 3)) ]; echo $?) \
    "session bucket: $n200 of 300 pass (256 to $((256 + WORKERS * 3)))"
is "$((n200 + n429))" 300 "the rest get 429"
is "$(printf '%s\n' "$out" | head -n 256 | sort -u)" 200 "the first 256 all pass"
is "$(printf '%s\n' "$out" | tail -n 30 | sort -u)" 429 "once over, every worker refuses"
http GET /auth/me -H "$(bearer "$AT")" --interface $A5
is_problem 429 "over the session limit: 429 problem"
like "$(header retry-after)" '^[0-9]+$' "with Retry-After"

auth_pool_restore

# nginx: a burst far above NGINX_AUTH_RATE from one address is cut off
# before the handler, with the same problem shape.
urls=()
for ((i = 0; i < 400; i++)); do urls+=(-o /dev/null "$HXB_TEST_URL/auth/login/nosuch"); done
got=$(curl -s --interface $A3 -w '%{http_code}\n' "${urls[@]}" | sort | uniq -c |
    awk '{print $2}' | tr '\n' ' ')
like "$got" "429" "nginx limit_req answers 429 to a burst"
http GET /auth/login/nosuch --interface $A3
if [ "$STATUS" = 429 ]; then
	is_problem 429 "nginx's 429 is problem+json"
	is "$(header retry-after)" 1 "nginx's 429 has Retry-After"
else
	ok 0 "nginx's 429 is problem+json (window already passed)"
	ok 0 "nginx's 429 has Retry-After (window already passed)"
fi

done_testing
