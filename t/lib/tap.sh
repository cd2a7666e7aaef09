# A small TAP producer for the shell tests, in the manner of git's
# test-lib: plan, ok, is, like, diag, done_testing.  Source it, then call
# the functions; the exit status says whether everything passed.
#
# It also knows the test stack that t/run-tests.sh started: HXB_TEST_URL,
# HXB_TEST_STACK, HXB_TEST_BUILD, and the curl helper `http`.

tap_n=0
tap_failed=0

plan() { echo "1..$1"; tap_planned=$1; }

ok() {	# ok CONDITION-STATUS DESCRIPTION
	tap_n=$((tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_n - $2"
	else
		echo "not ok $tap_n - $2"
		tap_failed=$((tap_failed + 1))
	fi
}

is() {	# is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:      '$1'"
		diag "expected: '$2'"
	fi
}

like() {	# like GOT ERE DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:      '$(printf '%s' "$1" | head -c 600)'"
		diag "expected to match: $2"
	fi
}

unlike() {	# unlike GOT ERE DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "got:      '$(printf '%s' "$1" | head -c 600)'"
		diag "expected not to match: $2"
	else
		ok 0 "$3"
	fi
}

diag() { printf '# %s\n' "$*"; }

done_testing() {
	[ -n "${tap_planned:-}" ] || echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ] && [ -z "${tap_planned:-}" -o \
	    "${tap_planned:-0}" = "$tap_n" ]
	exit $?
}

skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# Tests that need no stack (t/k8s) set TAP_NO_STACK=1 before sourcing.
[ -n "${HXB_TEST_URL:-}" ] || [ "${TAP_NO_STACK:-}" = 1 ] ||
    skip_all "no test stack (run make test)"

# http METHOD PATH [curl args...]: sets STATUS, HEADERS (lower-cased
# names), BODY and CTYPE for the last response, and records it (below).
http() {
	local method=$1 path=$2 hfile bfile
	shift 2
	hfile=$(mktemp) bfile=$(mktemp)
	STATUS=$(curl -s -o "$bfile" -D "$hfile" -w '%{http_code}' \
	    -X "$method" "$@" "$HXB_TEST_URL$path")
	HEADERS=$(tr -d '\r' <"$hfile" | sed 's/^\([^:]*\):/\L\1:/')
	BODY=$(cat "$bfile")
	CTYPE=$(printf '%s\n' "$HEADERS" | sed -n 's/^content-type: //p')
	http_record "$method" "$path" "$bfile"
	rm -f "$hfile" "$bfile"
}

# http_record METHOD PATH BODYFILE: append the last response to
# $HXB_TEST_STACK/responses.jsonl as one JSON line, {method, path (no
# query string), query, status, content_type, body (a string, at most
# 256 KiB), truncated}, for t/docs/openapi.t to check against
# docs/openapi.yaml.  Test files run concurrently append to the one file:
# each line is a single write under an exclusive flock(1) of the file, so
# lines never interleave.  Never changes what http() set, never fails.
HTTP_RECORD_MAX=262144
http_record() {
	local out=${HXB_TEST_STACK:-}/responses.jsonl line trunc=false
	local p=$2 q=
	[ -n "${HXB_TEST_STACK:-}" ] && [ -d "$HXB_TEST_STACK" ] || return 0
	case $p in *\?*) q=${p#*\?} p=${p%%\?*} ;; esac
	if [ "$(stat -c %s "$3" 2>/dev/null || echo 0)" -gt "$HTTP_RECORD_MAX" ]; then
		truncate -s "$HTTP_RECORD_MAX" "$3"
		trunc=true
	fi
	line=$(jq -cn --arg m "$1" --arg p "$p" --arg q "$q" \
	    --arg s "$STATUS" --arg ct "$CTYPE" --rawfile b "$3" \
	    --argjson t "$trunc" '{method: $m, path: $p, query: $q,
		status: ($s | tonumber? // 0), content_type: $ct, body: $b,
		truncated: $t}' 2>/dev/null) || return 0
	{ flock -x 9 && printf '%s\n' "$line" >&9; } 2>/dev/null 9>>"$out"
	return 0
}

# race N TOKEN PATH JSON: N POSTs of JSON to PATH at once ({i} in JSON is
# the request's number); prints the statuses counted, e.g. "201x1 409x19 ".
race() {
	local n=$1 t=$2 path=$3 body=$4 i urls=()
	for ((i = 0; i < n; i++)); do
		urls+=(-s -o /dev/null -w '%{http_code}\n' -X POST
		    -H "Authorization: Bearer $t"
		    -H 'Content-Type: application/json' -d "${body//\{i\}/$i}"
		    "$HXB_TEST_URL$path")
		[ $i -lt $((n - 1)) ] && urls+=(--next)
	done
	curl -s -Z --parallel-max "$n" "${urls[@]}" 2>/dev/null | sort |
	    uniq -c | awk '{printf "%sx%s ", $2, $1}'
}

header() { printf '%s\n' "$HEADERS" | sed -n "s/^$1: //p" | head -n 1; }

# jq over the last body; prints "null" for missing fields.
jqb() { printf '%s' "$BODY" | jq -r "$@" 2>/dev/null; }

# is_problem STATUS DESCRIPTION: the last response is an RFC 9457 problem
# with that status, all members present and the request id matching.
is_problem() {
	local st=$1 desc=$2 rid
	rid=$(header x-request-id)
	if [ "$STATUS" = "$st" ] &&
	    [ "$CTYPE" = "application/problem+json" ] &&
	    printf '%s' "$BODY" | jq -e --arg st "$st" --arg rid "$rid" '
		(.type | type) == "string" and (.type | length) > 0 and
		(.title | type) == "string" and .status == ($st | tonumber) and
		(.detail | type) == "string" and (.instance | type) == "string"
		and .request_id == $rid and ($rid | length) > 0 and
		(.errors | type) == "array"' >/dev/null 2>&1; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "status $STATUS, content-type '$CTYPE', x-request-id '$rid'"
		diag "body: $(printf '%s' "$BODY" | head -c 600)"
	fi
}

stack() { "$HXB_TEST_ROOT/t/stack.sh" "$@"; }
