#!/bin/bash
# Install the Debian packages the build, the local stack and the tests need,
# and only those that are missing.  Safe to run again; needs root (or sudo)
# only when something is actually missing.
set -euo pipefail

pkgs=(
	build-essential pkg-config
	libfcgi-dev libpq-dev libhiredis-dev libnats-dev libjansson-dev
	libssl-dev libcurl4-openssl-dev libjwt-dev libcmocka-dev
	nginx-light spawn-fcgi multiwatch libfcgi-bin
	postgresql-15 postgresql-15-pgtap postgresql-client-15
	redis-server redis-tools nats-server etcd-server
	curl wrk perl jq openssl ca-certificates util-linux procps iproute2
)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
# Debian may start its packaged services (nginx, redis, postgresql) where
# an init system runs; this project never uses or stops them: it runs its
# own copies under var/ on other ports.
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
