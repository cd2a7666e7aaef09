#!/bin/bash
# docs/openapi.yaml describes every endpoint, and every response the API
# tests received matches it: t/lib/tap.sh's http() records each response in
# $HXB_TEST_STACK/responses.jsonl, and t/peers/oas-check.mjs (one node
# process) checks the document (a valid OpenAPI 3.1 document whose schemas
# all compile), the handlers' route tables against its operations both
# ways, and every recorded response against its operation's documented
# statuses, content types and schemas.  Runs after t/api/*.t.
. "$(dirname "$0")/../lib/tap.sh"

R=$HXB_TEST_ROOT
if ! "$R/t/peers/install.sh" >&2; then
	plan 1
	ok 1 "the test peers' node modules are installed (t/peers/install.sh)"
	done_testing
fi
# None recorded (t/api/*.t not run on this stack): the check says so.
out=$HXB_TEST_STACK/responses.jsonl
[ -e "$out" ] || : >"$out"

exec node "$R/t/peers/oas-check.mjs" --spec "$R/docs/openapi.yaml" \
    --handlers "$HXB_TEST_BUILD/handlers" --source "$R" --responses "$out"
