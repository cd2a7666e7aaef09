#!/bin/bash
# jobs/rotate-keys: a successor is published before it signs, activated
# when due, the old key retired and later deleted; concurrent runs make
# one key; and a rotation under load fails no verification, neither ours
# (GET /auth/me through nginx) nor an independent verifier's (jose, with a
# JWKS it fetched before the rotation and will not refetch in time).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/../lib/auth.sh"

ISS=$HXB_TEST_ISSUER
# The job sees the stack's key refresh and JWKS max-age (make test: 1 s
# and 2 s) and a margin of 1 s: a successor signs 4 s after it is published.
state() { sql "SELECT string_agg(state || ':' || kid, ' ' ORDER BY state, kid) FROM signing_keys"; }

U=rot$$r$RANDOM
sign_in "$U"
old=$(sql "SELECT kid FROM signing_keys WHERE state = 'active'")
is "$(jwt_kid "$AT")" "$old" "tokens are signed by the active key"

before=$(state)
out=$(rotate_keys 2>&1)
is "$?:$out" "0:" "nothing is due: the job does nothing, and says nothing"
is "$(state)" "$before" "... and no key changes"

out=$(rotate_keys --bogus 2>&1)
is "$?" 2 "an unknown flag: usage, status 2"

# Four runs at once: the advisory lock lets one publish a successor.
for i in 1 2 3 4; do rotate_keys --force >"$S/rot.$i" 2>&1 & done
wait
is "$(cat "$S"/rot.* | grep -c '^rotate-keys: published ')" 1 "four concurrent runs publish one key"
next=$(sql "SELECT kid FROM signing_keys WHERE state = 'next'")
like "$next" '^[A-Za-z0-9_-]{43}$' "the successor is a next key"
is "$(sql "SELECT activate_after - created_at >= interval '$(( $(stack_setting HXB_JWKS_MAX_AGE_S 300) + 2 )) seconds' FROM signing_keys WHERE kid = '$next'")" t \
    "it signs no sooner than max-age + refresh + margin after it is published"
out=$(rotate_keys --force 2>&1)
is "$out" "" "a second --force while a successor waits does nothing"

# Published at once (within a key refresh), while the old key still signs.
for i in $(seq 30); do
	jwks=$(curl -sS --cacert "$CA" "$ISS/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(" ")')
	case " $jwks " in *" $next "*) break ;; esac
	sleep 0.2
done
like " $jwks " " $next " "the next key is in JWKS before it signs"
like " $jwks " " $old " "... beside the active one"
# One worker served it; every worker re-reads the keys when its copy is
# older than HXB_KEYS_REFRESH_MS.  jose below ignores max-age, so it must
# fetch only once every worker would serve the new key.
sleep "$(awk -v ms="$(stack_setting HXB_KEYS_REFRESH_MS 30000)" 'BEGIN { print ms / 1000 + 0.5 }')"

# The load: our handlers verify the old token; a session refreshes every
# 100 ms and each new token is verified by jose (JWKS fetched now, before
# the rotation; createRemoteJWKSet will not refetch within 30 s) and by
# GET /auth/me through nginx.
rm -f "$S/rot-stop"
( n=0 f=0
  while [ ! -f "$S/rot-stop" ]; do
	c=$(curl -s -o /dev/null -w '%{http_code}' -H "$(bearer "$AT")" "$HXB_TEST_URL/auth/me")
	n=$((n + 1)); [ "$c" = 200 ] || f=$((f + 1))
	sleep 0.05
  done
  echo "$n $f" >"$S/rot-old.out" ) &
old_pid=$!
(cd "$HXB_TEST_ROOT/t/peers" && NODE_EXTRA_CA_CERTS=$CA node --input-type=module -e '
import * as fs from "node:fs";
import * as jose from "jose";
let [rt, iss, url, stop, first] = process.argv.slice(1);
const doc = await (await fetch(iss + "/.well-known/openid-configuration")).json();
const keys = jose.createRemoteJWKSet(new URL(doc.jwks_uri));
const opts = { issuer: doc.issuer, audience: "hexabase-api", algorithms: ["RS256"] };
await jose.jwtVerify(first, keys, opts);	/* the one fetch, now */
let n = 0, fails = [], kids = new Set();
while (!fs.existsSync(stop)) {
  const r = await fetch(url + "/auth/refresh", { method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: rt }) });
  if (r.status !== 200) { fails.push(`refresh ${r.status}`); break; }
  const b = await r.json();
  rt = b.refresh_token;
  n++;
  try {
    const { protectedHeader } = await jose.jwtVerify(b.access_token, keys, opts);
    kids.add(protectedHeader.kid);
  } catch (e) { fails.push(`jose ${e.code}`); }
  const me = await fetch(url + "/auth/me", { headers: { authorization: `Bearer ${b.access_token}` } });
  if (me.status !== 200) fails.push(`me ${me.status}`);
  await new Promise((res) => setTimeout(res, 100));
}
console.log(`${n} ${fails.length} ${[...kids].sort().join(",")} ${fails.slice(0, 3).join(";")}`);
' -- "$RT" "$ISS" "$HXB_TEST_URL" "$S/rot-stop" "$AT" >"$S/rot-new.out" 2>&1) &
new_pid=$!

# Wait until the successor is due, then rotate while the load runs.
for i in $(seq 50); do
	[ "$(sql "SELECT activate_after <= now() FROM signing_keys WHERE kid = '$next'")" = t ] && break
	sleep 0.2
done
out=$(rotate_keys 2>&1)
like "$out" "^rotate-keys: activated $next, retired $old" "when due, the successor is activated and the old key retired"
is "$(state)" "active:$next retired:$old" "one active key, the old one retired"
sleep 4		# several refreshes signed by the new key
touch "$S/rot-stop"
wait "$old_pid" "$new_pid"
read -r n f <"$S/rot-old.out"
is "$f" 0 "no failure of the old token during the rotation ($n requests)"
read -r n f kids why <"$S/rot-new.out"
is "$f" 0 "no failed verification of a fresh token, by jose or by us ($n refreshes) $why"
is "$kids" "$(printf '%s\n' "$old" "$next" | sort | paste -sd,)" \
    "fresh tokens came from both keys, old and new"

# The retired key stays published while its tokens may live, then goes.
jwks=$(curl -sS --cacert "$CA" "$ISS/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(" ")')
like " $jwks " " $old " "the retired key is still in JWKS"
out=$(rotate_keys 2>&1)
is "$out" "" "not deleted before its tokens' lifetime is over"
sql "UPDATE signing_keys SET retired_at = now() - interval '1 hour' WHERE kid = '$old'" >/dev/null
out=$(rotate_keys 2>&1)
is "$out" "rotate-keys: deleted $old" "deleted once no token it signed can be live"
is "$(state)" "active:$next" "only the new key remains"
for i in $(seq 30); do
	jwks=$(curl -sS --cacert "$CA" "$ISS/.well-known/jwks.json" | jq -r '[.keys[].kid] | join(" ")')
	[ "$jwks" = "$next" ] && break
	sleep 0.2
done
is "$jwks" "$next" "JWKS no longer lists it"
http GET /auth/me -H "$(bearer "$AT")"
is "$STATUS" 401 "a token signed by the deleted key is refused"

done_testing
