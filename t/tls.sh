#!/usr/bin/env bash
# t/tls.sh DIR: a development CA and a loopback server certificate, for the
# test peers (t/peers/idp.mjs, t/peers/github.mjs) and anything else served
# over HTTPS in tests and local development.  openssl CLI only.
#
# Usage: t/tls.sh DIR
#
# Creates in DIR (made if missing), each only when it does not exist yet:
#   ca.crt, ca.key          self-signed CA, EC P-256, basicConstraints
#                           critical CA:TRUE, keyUsage keyCertSign, cRLSign;
#                           825 days
#   server.crt, server.key  EC P-256, signed by that CA, SAN IP:127.0.0.1,
#                           IP:::1, DNS:localhost, EKU serverAuth; 825 days
# Keys are mode 0600.  Existing files are kept (a missing server pair is
# re-issued from the existing CA; a missing CA key with an existing CA
# certificate is an error).  Clients trust DIR/ca.crt (curl --cacert,
# CURLOPT_CAINFO).  Prints nothing on success; exit 1 with a message on
# stderr otherwise.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
dir=$1
days=825

fail() { echo "tls.sh: $*" >&2; exit 1; }

command -v openssl >/dev/null 2>&1 || fail "openssl not found"
mkdir -p "$dir" || fail "cannot create $dir"
umask 077

tmp=$(mktemp -d "$dir/.tls.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

run() {	# run openssl quietly; show its output on failure only
	if ! "$@" >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		fail "failed: $*"
	fi
}

# Concurrent runs on one DIR take turns.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$dir/.tls.lock"
	flock 9
fi

if [ ! -e "$dir/ca.crt" ]; then
	[ ! -e "$dir/ca.key" ] || fail "$dir/ca.key exists without ca.crt; remove it"
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$tmp/ca.key"
	cat >"$tmp/ca.cnf" <<-'EOF'
	[req]
	distinguished_name = dn
	prompt = no
	x509_extensions = v3_ca
	[dn]
	CN = hxb development CA
	O = hxb tests
	[v3_ca]
	basicConstraints = critical, CA:TRUE, pathlen:0
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid:always
	EOF
	run openssl req -new -x509 -config "$tmp/ca.cnf" -key "$tmp/ca.key" \
	    -sha256 -days "$days" -set_serial "0x$(openssl rand -hex 16)" \
	    -out "$tmp/ca.crt"
	chmod 600 "$tmp/ca.key"
	chmod 644 "$tmp/ca.crt"
	mv -f "$tmp/ca.key" "$dir/ca.key"
	mv -f "$tmp/ca.crt" "$dir/ca.crt"
fi
[ -e "$dir/ca.key" ] || fail "$dir/ca.crt exists without ca.key; cannot sign"

if [ ! -e "$dir/server.crt" ] || [ ! -e "$dir/server.key" ]; then
	rm -f "$dir/server.crt" "$dir/server.key"
	run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$tmp/server.key"
	cat >"$tmp/server.cnf" <<-'EOF'
	[req]
	distinguished_name = dn
	prompt = no
	[dn]
	CN = localhost
	O = hxb tests
	[v3_server]
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid, issuer
	EOF
	run openssl req -new -config "$tmp/server.cnf" -key "$tmp/server.key" \
	    -out "$tmp/server.csr"
	run openssl x509 -req -in "$tmp/server.csr" -CA "$dir/ca.crt" \
	    -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
	    -sha256 -days "$days" -extfile "$tmp/server.cnf" \
	    -extensions v3_server -out "$tmp/server.crt"
	chmod 600 "$tmp/server.key"
	chmod 644 "$tmp/server.crt"
	mv -f "$tmp/server.key" "$dir/server.key"
	mv -f "$tmp/server.crt" "$dir/server.crt"
fi
chmod 600 "$dir/ca.key" "$dir/server.key"
