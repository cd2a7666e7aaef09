#!/bin/bash
# docs/AUTHZ.md says what the code does: the permission of every route
# (from `handler --routes`) and the ceiling of a custom role (from the
# table in shared/rbac.c), and no handler starts with a route that names
# no permission.
. "$(dirname "$0")/../lib/tap.sh"

B=$HXB_TEST_BUILD
doc=$HXB_TEST_ROOT/docs/AUTHZ.md
section() { sed -n "/<!-- $1:start -->/,/<!-- $1:end -->/p" "$doc" | sed '1d;$d'; }

code=$(for h in "$B"/handlers/*; do
	[ -f "$h" ] && [ -x "$h" ] && "$h" --routes
done | awk '{printf "%s %s %s\n", $1, $2, $3}' | sort)
docs=$(section routes | sed -n 's/^| `\([A-Z]*\) \([^`]*\)` | \([a-z_]*\) |$/\1 \2 \3/p' | sort)
is "$docs" "$code" "AUTHZ.md names the permission of every route, as the route tables do"
ok $([ "$(printf '%s\n' "$code" | grep -c .)" -ge 58 ]; echo $?) "the handlers serve the routes counted in AUTHZ.md"
unlike "$code" ' unset ' "no route names no permission"

is "$(section ceiling)" "$("$B/t/unit/rbac" --ceiling)" "AUTHZ.md shows the ceiling shared/rbac.c enforces"

done_testing
