#!/usr/bin/env bash
# t/peers/install.sh: install the test peers' node modules (oidc-provider,
# jose) and the test tooling's (yaml, ajv, ajv-formats and
# @seriousme/openapi-schema-validator, for t/peers/oas-check.mjs; stripe,
# Stripe's official library, for t/peers/stripe-sign.mjs) into
# t/peers/node_modules from the pinned package-lock.json.
#
# Usage: t/peers/install.sh            (no arguments; prints nothing on a
#                                       no-op, npm's errors on failure)
#
# Idempotent and fast: a stamp file, node_modules/.hxb-lock-sha256, holds
# the sha256 of package-lock.json (and package.json) from the last
# successful `npm ci`; when it matches and node_modules is present nothing
# runs.  Needs node and npm (Node 20+) and the npm registry.  Exit status
# is npm's on failure, 0 otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

stamp=node_modules/.hxb-lock-sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)

present() {
	local m
	for m in oidc-provider jose yaml ajv ajv-formats \
	    @seriousme/openapi-schema-validator stripe; do
		[ -d "node_modules/$m" ] || return 1
	done
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && present; then
	exit 0
fi

command -v npm >/dev/null 2>&1 || { echo "install.sh: npm not found" >&2; exit 1; }

# npm ci wipes node_modules (and the stamp with it) before installing; its
# summary on stdout is dropped, its errors go to stderr.
npm ci --no-audit --no-fund --loglevel=error >/dev/null
printf '%s\n' "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
