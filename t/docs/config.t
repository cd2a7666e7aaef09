#!/bin/bash
# docs/CONFIG.md and the configuration table in shared/config.c agree, and
# every binary prints its configuration with secrets masked.
. "$(dirname "$0")/../lib/tap.sh"

B=$HXB_TEST_BUILD
doc=$HXB_TEST_ROOT/docs/CONFIG.md
printed=$(env -i HXB_DATABASE_URL=x "$B/handlers/health" --print-config)

# name default secret, from the code (sources "default" give the default)
from_code=$(printf '%s\n' "$printed" | while IFS= read -r l; do
	name=${l%%=*}; rest=${l#*=}; val=${rest%%	#*}; src=${rest##*# }
	[ "$src" = default ] || val=
	[ "$name" = HXB_DATABASE_URL ] && val=
	printf '%s %s\n' "$name" "$val"
done | sort)
from_doc=$(sed -n 's/^| `\(HXB_[A-Z0-9_]*\)` | [a-z]* | `\{0,1\}\([^`|]*\)`\{0,1\} *|.*/\1 \2/p' "$doc" |
	sed 's/ *$//' | sort)
from_code=$(printf '%s\n' "$from_code" | sed 's/ *$//')
is "$from_doc" "$from_code" "CONFIG.md lists every variable with its default"

secrets_doc=$(sed -n 's/^| `\(HXB_[A-Z0-9_]*\)` |[^|]*|[^|]*|[^|]*| yes |.*/\1/p' "$doc" | sort | tr '\n' ' ')
secrets_code=$(HXB_DATABASE_URL=x HXB_DATABASE_PASSWORD=a HXB_REDIS_PASSWORD=b \
    HXB_NATS_TOKEN=c HXB_MASTER_KEY=d HXB_STRIPE_SECRET_KEY=e \
    HXB_STRIPE_WEBHOOK_SECRET=f HXB_STRIPE_WEBHOOK_SECRET_PREVIOUS=g \
    "$B/handlers/health" --print-config |
    sed -n 's/^\(HXB_[A-Z0-9_]*\)=\*\*\*\*\*\*\*\*.*/\1/p' | sort | tr '\n' ' ')
is "$secrets_doc" "$secrets_code" "CONFIG.md marks exactly the secret variables"

# Every server program; hxb-credential runs on the user's machine and
# reads none of this configuration.
for bin in "$B"/handlers/* "$B"/jobs/*; do
	case $bin in *.o|*.d|*/hxb-credential) continue ;; esac
	out=$(env -i HXB_DATABASE_URL=x "$bin" --print-config 2>&1)
	ok $? "$(basename "$bin") --print-config"
done

out=$(env -i HXB_DATABASE_URL=x HXB_REDIS_PASSWORD=hunter2-secret "$B/handlers/plans" --print-config)
like "$out" 'HXB_REDIS_PASSWORD=\*{8}' "a secret is masked"
unlike "$out" hunter2 "a secret value never printed"

f=$(mktemp)
printf 's3cret-from-file\n' >"$f"
out=$(env -i HXB_DATABASE_URL=x HXB_NATS_TOKEN_FILE="$f" "$B/handlers/plans" --print-config)
like "$out" 'HXB_NATS_TOKEN=\*{8}	# file' "a secret read from its _FILE"
unlike "$out" s3cret "the file's content is not printed"

out=$(env -i HXB_DATABASE_URL=x HXB_NATS_TOKEN=a HXB_NATS_TOKEN_FILE="$f" "$B/handlers/plans" 2>&1)
is "$?" 2 "both HXB_NATS_TOKEN and its _FILE: exit 2"
like "$out" "set either HXB_NATS_TOKEN or HXB_NATS_TOKEN_FILE" "and says so"
: >"$f"
out=$(env -i HXB_DATABASE_URL=x HXB_NATS_TOKEN_FILE="$f" "$B/handlers/plans" 2>&1)
is "$?" 2 "an empty secret file: exit 2"
rm -f "$f"
out=$(env -i HXB_DATABASE_URL=x HXB_NATS_TOKEN_FILE=/nonexistent "$B/handlers/plans" 2>&1)
like "$out" "cannot open /nonexistent" "a missing secret file is named"

out=$(env -i "$B/handlers/plans" 2>&1)
is "$?" 2 "no HXB_DATABASE_URL: exit 2"
like "$out" "HXB_DATABASE_URL is required" "and says what is missing"
out=$(env -i HXB_DATABASE_URL=x HXB_MAX_BODY_BYTES=12x HXB_LOG_LEVEL=loud "$B/handlers/plans" 2>&1)
like "$out" "HXB_MAX_BODY_BYTES must be an integer" "a malformed integer is named"
like "$out" "HXB_LOG_LEVEL must be one of debug\|info\|warn\|error" "every problem is listed at once"

out=$(env -i HXB_DATABASE_URL=x "$B/handlers/plans" 2>&1 </dev/null)
is "$?" 1 "not under a FastCGI server: exit 1"
like "$out" "run under spawn-fcgi" "and says how to run it"

done_testing
