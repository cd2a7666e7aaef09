#!/usr/bin/env node
// t/peers/stripe-sign.mjs: sign a webhook payload as Stripe does, with
// Stripe's official library (npm stripe, webhooks.generateTestHeaderString),
// for tests of the webhook endpoint.  Test-only; not product code.
//
// Usage:
//   node t/peers/stripe-sign.mjs --secret whsec_... [--secret whsec_...]
//        [--secret-file FILE ...] [--timestamp UNIX] < PAYLOAD
//
// Prints the value of the Stripe-Signature header for the exact bytes on
// stdin (a trailing newline is part of the payload: use printf '%s'), and a
// newline: "t=TIMESTAMP,v1=HEX".  With several secrets (as Stripe sends
// while an endpoint's secret is being rolled) one header with one v1 per
// secret, in the order given: "t=T,v1=A,v1=B".  v1 is HMAC-SHA256, keyed
// with the whole secret string (whsec_ included), of "TIMESTAMP.PAYLOAD".
//
//   --secret S        a webhook signing secret (repeatable)
//   --secret-file F   ... read from a file, surrounding white space dropped
//   --timestamp T     Unix seconds, a positive integer (default: now); an
//                     old one tests the receiver's tolerance (Stripe's
//                     libraries allow 300 s)
//
// The payload must be UTF-8 (Stripe's are JSON), as the library signs a
// string.  Exit 0, or 2 with a message on stderr.

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import Stripe from 'stripe';

function die(msg) {
  process.stderr.write(`stripe-sign: ${msg}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      secret: { type: 'string', multiple: true },
      'secret-file': { type: 'string', multiple: true },
      timestamp: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  die(err.message);
}

const secrets = [...(args.secret ?? [])];
for (const f of args['secret-file'] ?? []) {
  try {
    secrets.push(fs.readFileSync(f, 'utf8').trim());
  } catch (err) {
    die(`--secret-file ${f}: ${err.message}`);
  }
}
if (secrets.length === 0) die('at least one --secret or --secret-file is required');
for (const s of secrets) if (s === '') die('an empty secret');

let timestamp = Math.floor(Date.now() / 1000);
if (args.timestamp !== undefined) {
  if (!/^[0-9]+$/.test(args.timestamp) || Number(args.timestamp) < 1 ||
      !Number.isSafeInteger(Number(args.timestamp))) {
    die('--timestamp: Unix seconds, a positive integer');
  }
  timestamp = Number(args.timestamp);
}

let payload;
try {
  payload = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
    .decode(fs.readFileSync(0));
} catch (err) {
  die(`the payload on stdin: ${err.message}`);
}

// The library's header for each secret; then one header with every v1.
const v1 = secrets.map((secret) => {
  const h = Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  const m = /^t=([0-9]+),v1=([0-9a-f]{64})$/.exec(h);
  if (!m || Number(m[1]) !== timestamp) die(`unexpected header from the library: ${h}`);
  return m[2];
});
process.stdout.write(`t=${timestamp},${v1.map((s) => `v1=${s}`).join(',')}\n`);
