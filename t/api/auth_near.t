#!/bin/bash
# Every worker's own copies of revocation markers and cached profiles
# (shared/near.h), kept current by Redis client-side tracking: whatever
# changes a key in Redis, by whatever process, is seen by every worker in
# the next request it serves; a lost invalidation connection drops the
# copies; HXB_REDIS_NEAR_MS=0 asks Redis every time.  Each check sends a
# run of requests, so that every worker of the pool serves some and holds
# a copy before the change.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

U=near$$r$RANDOM

runs() {	# runs TOKEN N: the status codes of N GET /auth/me, counted
	local urls=() i
	for ((i = 0; i < $2; i++)); do urls+=(-o /dev/null "$HXB_TEST_URL/auth/me"); done
	curl -s -H "Authorization: Bearer $1" -w '%{http_code}\n' "${urls[@]}" |
	    sort | uniq -c | awk '{printf "%sx%s ", $2, $1}'
}
names() {	# names TOKEN N: the distinct names N GET /auth/me show
	local i
	for ((i = 0; i < $2; i++)); do
		curl -s -H "Authorization: Bearer $1" "$HXB_TEST_URL/auth/me" |
		    jq -r .name
	done | sort -u | tr '\n' ' '
}
sid_of() {
	local p=${1#*.}
	p=${p%%.*}
	while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
	printf '%s' "$p" | tr '_-' '/+' | base64 -d | jq -r .sid
}
subscribers() { rcli CLIENT LIST TYPE pubsub | grep -c 'cmd=subscribe'; }
reads() {	# MGETs Redis has served so far
	rcli INFO commandstats | tr -d '\r' |
	    sed -n 's/^cmdstat_mget:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0
}

# --- logout: every worker refuses the token in its next request -------------
sign_in $U
is "$(runs "$AT" 40)" "200x40 " "a live token: 200 from every worker"
ok $([ "$(subscribers)" -ge 1 ]; echo $?) "workers hold invalidation connections ($(subscribers))"
m0=$(reads)
is "$(runs "$AT" 40)" "200x40 " "40 more"
m1=$(reads)
ok $([ $((m1 - m0)) -le "$WORKERS" ]; echo $?) "served from the copies: $((m1 - m0)) Redis reads for 40 requests"
http POST /auth/logout -H "$(bearer "$AT")"
is "$STATUS" 200 "logout"
is "$(runs "$AT" 40)" "401x40 " "after logout: 401 from every worker, at once"

# --- a revocation written by someone else (another replica) -----------------
sign_in $U
is "$(runs "$AT" 40)" "200x40 " "a second session: 200 everywhere"
rcli SET "hxb:revoked:$(sid_of "$AT")" 1 EX 900 >/dev/null
rcli PING >/dev/null	# a settled write, as auth_revoked() makes it
is "$(runs "$AT" 40)" "401x40 " "revoked in Redis by another process: 401 everywhere"

# --- a cached profile changed elsewhere --------------------------------------
sign_in $U
UIDN=$UID_
is "$(names "$AT" 12)" "$U " "the profile, copied by every worker"
doc=$(rcli GET "hxb:me:$UIDN")
like "$doc" '"name"' "the profile is cached in Redis"
rcli SET "hxb:me:$UIDN" "$(printf '%s' "$doc" | jq -c '.name = "renamed elsewhere"')" EX 60 >/dev/null
rcli PING >/dev/null
is "$(names "$AT" 12)" "renamed elsewhere " "a rewritten cached profile is seen by every worker"
rcli DEL "hxb:me:$UIDN" >/dev/null
rcli PING >/dev/null
is "$(names "$AT" 12)" "$U " "a dropped one is read again from PostgreSQL"

# --- the invalidation connections are lost ------------------------------------
killed=$(rcli CLIENT KILL TYPE pubsub)
ok $([ "$killed" -ge 1 ]; echo $?) "invalidation connections killed ($killed)"
rcli SET "hxb:revoked:$(sid_of "$AT")" 1 EX 900 >/dev/null
is "$(runs "$AT" 40)" "401x40 " "without invalidations, no copy is trusted: 401 everywhere"
sign_in $U
is "$(runs "$AT" 40)" "200x40 " "a new session works"
ok $([ "$(subscribers)" -ge 1 ]; echo $?) "the invalidation connections are back ($(subscribers))"
http POST /auth/logout -H "$(bearer "$AT")"
is "$(runs "$AT" 40)" "401x40 " "and logout again reaches every worker at once"

# --- Redis forgets everything ---------------------------------------------------
sign_in $U
is "$(runs "$AT" 20)" "200x20 " "a live session"
LAT=$AT
sign_in $U
http POST /auth/logout -H "$(bearer "$AT")"
rcli FLUSHALL >/dev/null
is "$(runs "$AT" 20)" "401x20 " "after FLUSHALL the revoked one is still refused (PostgreSQL)"
is "$(runs "$LAT" 20)" "200x20 " "and the live one still works"

# --- copies off ----------------------------------------------------------------
rcli CLIENT KILL TYPE pubsub >/dev/null
auth_pool_with HXB_REDIS_NEAR_MS=0
ok $? "auth pool restarted with HXB_REDIS_NEAR_MS=0"
sign_in $U
m0=$(reads)
is "$(runs "$AT" 20)" "200x20 " "without copies: 200"
m1=$(reads)
is "$((m1 - m0))" 20 "without copies: one Redis read per request"
is "$(subscribers)" 0 "no invalidation connections"
http POST /auth/logout -H "$(bearer "$AT")"
is "$(runs "$AT" 20)" "401x20 " "logout: 401 everywhere"
auth_pool_restore

done_testing
