#!/usr/bin/env node
// t/peers/idp.mjs: a real OpenID Provider (the npm package oidc-provider, a
// certified OP) over HTTPS, the peer that the control plane's OIDC sign-in
// talks to in tests and in local development.  Test-only; not product code.
//
// Usage:
//   node t/peers/idp.mjs --port P [--host 127.0.0.1] [--issuer URL]
//        --cert FILE --key FILE --clients FILE --jwks FILE [--test-controls]
//
// Every option may come from the environment instead (an option wins):
//   --port           IDP_PORT           TCP port to listen on (required)
//   --host           IDP_HOST           address to listen on (127.0.0.1)
//   --issuer         IDP_ISSUER         issuer URL (https://127.0.0.1:PORT);
//                                      no trailing slash
//   --cert, --key    IDP_CERT, IDP_KEY  PEM server certificate and key (t/tls.sh)
//   --clients        IDP_CLIENTS        JSON file: an array of
//                                      {client_id, client_secret, redirect_uris}
//                                      (other client metadata passes through,
//                                      e.g. "token_endpoint_auth_method":
//                                      "client_secret_post"; the default is
//                                      client_secret_basic)
//   --jwks           IDP_JWKS           JSON file {"keys":[private JWK...]} the
//                                      ID tokens are signed with; created (an
//                                      RS256 RSA-2048 key with a kid, mode
//                                      0600) when it does not exist
//   --test-controls  IDP_TEST_CONTROLS=1  enable POST /__test/tamper
//
// Once listening it prints "idp: listening on ISSUER" on stdout; then one
// line per request: "METHOD PATH STATUS".  SIGTERM and SIGINT stop it, exit 0.
//
// Behaviour: authorization code flow only (response_type=code), PKCE with
// S256 required for every client, scopes openid email profile, ID tokens
// RS256.  oidc-provider's development interactions are on: GET /auth
// redirects to /interaction/UID, a login form where any login and password
// are accepted, then a consent page, both POSTing to /interaction/UID.  The
// login typed becomes the account: sub = login; email = login when it has an
// "@", else login@example.test; email_verified = true unless the login
// starts with "unverified"; name = the part of the email before "@";
// picture = https://example.test/avatar/NAME.png.
//
// Test controls (--test-controls only):
//   POST /__test/tamper  {"mode": M}  the next token-endpoint response that
//   carries an id_token gets it rewritten, then the mode resets.  M is one of
//   ok (re-signed unchanged with the real key: a control), badsig, aud, iss,
//   exp, nonce, none, hs256, unknown_kid, azp, iat_future; "" or null
//   clears it.  Answers 200 {"mode": M}; 400 on an unknown mode.
//   GET /__test/tamper answers {"mode": M|null}.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider from 'oidc-provider';

function die(msg) {
  process.stderr.write(`idp: ${msg}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      issuer: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      clients: { type: 'string' },
      jwks: { type: 'string' },
      'test-controls': { type: 'boolean' },
    },
    strict: true,
  }));
} catch (err) {
  die(err.message);
}

const env = process.env;
const port = Number(args.port ?? env.IDP_PORT);
const host = args.host ?? env.IDP_HOST ?? '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) die('--port is required');
const issuer = (args.issuer ?? env.IDP_ISSUER ?? `https://127.0.0.1:${port}`).replace(/\/+$/, '');
const certFile = args.cert ?? env.IDP_CERT;
const keyFile = args.key ?? env.IDP_KEY;
const clientsFile = args.clients ?? env.IDP_CLIENTS;
const jwksFile = args.jwks ?? env.IDP_JWKS;
const testControls = Boolean(args['test-controls'])
  || ['1', 'true', 'yes'].includes(String(env.IDP_TEST_CONTROLS ?? '').toLowerCase());
for (const [name, value] of Object.entries({
  '--cert': certFile, '--key': keyFile, '--clients': clientsFile, '--jwks': jwksFile,
})) {
  if (!value) die(`${name} is required`);
}

// ---- clients -------------------------------------------------------------

let clients;
try {
  clients = JSON.parse(fs.readFileSync(clientsFile, 'utf8'));
} catch (err) {
  die(`cannot read clients file ${clientsFile}: ${err.message}`);
}
if (!Array.isArray(clients)) die('the clients file must hold a JSON array');
clients = clients.map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...c,
}));

// ---- signing keys --------------------------------------------------------

async function loadOrCreateJwks(file) {
  try {
    const jwks = JSON.parse(fs.readFileSync(file, 'utf8'));
    const keys = Array.isArray(jwks) ? jwks : jwks.keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error('no keys');
    return { keys };
  } catch (err) {
    if (err.code !== 'ENOENT') die(`cannot read JWKS file ${file}: ${err.message}`);
  }
  const { privateKey } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk);
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  const jwks = { keys: [jwk] };
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(jwks, null, 2)}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file); // does not replace a key another process wrote meanwhile
  } catch (err) {
    fs.unlinkSync(tmp);
    if (err.code === 'EEXIST') return loadOrCreateJwks(file);
    throw err;
  }
  fs.unlinkSync(tmp);
  return jwks;
}

const jwks = await loadOrCreateJwks(jwksFile);
const signingJwk = jwks.keys.find((k) => k.kty === 'RSA' && (!k.alg || k.alg === 'RS256') && k.d);
if (!signingJwk) die(`${jwksFile} holds no private RSA key usable with RS256`);
if (!signingJwk.kid) die(`${jwksFile}: the RSA key has no kid`);
const signingKey = crypto.createPrivateKey({ key: signingJwk, format: 'jwk' });
const publicPem = crypto.createPublicKey(signingKey).export({ type: 'spki', format: 'pem' });

// ---- accounts ------------------------------------------------------------

function accountFor(login) {
  const email = login.includes('@') ? login : `${login}@example.test`;
  const name = email.slice(0, email.indexOf('@'));
  return {
    sub: login,
    email,
    email_verified: !login.startsWith('unverified'),
    name,
    picture: `https://example.test/avatar/${encodeURIComponent(name)}.png`,
  };
}

async function findAccount(ctx, id) {
  if (typeof id !== 'string' || id === '') return undefined;
  return {
    accountId: id,
    async claims() { return accountFor(id); },
  };
}

// ---- the provider --------------------------------------------------------

const provider = new Provider(issuer, {
  clients,
  jwks,
  findAccount,
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  // The scope-derived claims go into the ID token too, not only /me.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  // PKCE with S256 only, required for every client, confidential ones too.
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256'],
  },
  cookies: {
    keys: [crypto.randomBytes(32).toString('base64url')],
  },
  // Keep the default HTML error page, but plain enough for curl users.
  async renderError(ctx, out) {
    ctx.type = 'html';
    const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body><h1>oops! something went wrong</h1>${
      Object.entries(out).map(([k, v]) => `<pre><strong>${esc(k)}</strong>: ${esc(v)}</pre>`).join('')}</body></html>`;
  },
});
provider.proxy = false;

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(ev, (ctx, err) => {
    const detail = err.error_description ? ` (${err.error_description})` : '';
    const cause = err.cause ? ` cause: ${err.cause.message ?? err.cause}` : '';
    process.stderr.write(`idp: ${ev}: ${err.message}${detail}${cause}\n`);
  });
}

// Request log, outermost.
provider.use(async (ctx, next) => {
  try {
    await next();
  } finally {
    process.stdout.write(`${ctx.method} ${ctx.path} ${ctx.status}\n`);
  }
});

// ---- test controls -------------------------------------------------------

const TAMPER_MODES = new Set(['ok', 'badsig', 'aud', 'iss', 'exp', 'nonce', 'none',
  'hs256', 'unknown_kid', 'azp', 'iat_future']);

const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

function signRS256(header, payload, key) {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), key).toString('base64url');
  return `${input}.${sig}`;
}

function tamper(idToken, mode, clientId) {
  const [h, p, s] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  const now = Math.floor(Date.now() / 1000);
  const resign = (c) => signRS256(header, c, signingKey);
  switch (mode) {
    case 'ok':
      return resign(claims);
    case 'badsig': {
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x5a;
      return `${h}.${p}.${sig.toString('base64url')}`;
    }
    case 'aud':
      return resign({ ...claims, aud: 'someone-else' });
    case 'iss':
      return resign({ ...claims, iss: 'https://attacker.example.test' });
    case 'exp': // expired an hour ago, issued an hour before that
      return resign({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'nonce':
      return resign({ ...claims, nonce: crypto.randomBytes(16).toString('base64url') });
    case 'none':
      return `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`;
    case 'hs256': {
      const hdr = { ...header, alg: 'HS256' };
      const input = `${b64(hdr)}.${p}`;
      const mac = crypto.createHmac('sha256', publicPem).update(input).digest('base64url');
      return `${input}.${mac}`;
    }
    case 'unknown_kid': {
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const hdr = { ...header, kid: `unknown-${crypto.randomBytes(8).toString('hex')}` };
      return signRS256(hdr, claims, privateKey);
    }
    case 'azp':
      return resign({ ...claims, aud: [clientId ?? claims.aud, 'other'], azp: 'other' });
    case 'iat_future':
      return resign({ ...claims, iat: now + 3600, nbf: now + 3600, exp: now + 7200 });
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

async function readJson(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : JSON.parse(text);
}

if (testControls) {
  let tamperMode = null;

  provider.use(async (ctx, next) => {
    if (ctx.path === '/__test/tamper') {
      ctx.set('cache-control', 'no-store');
      if (ctx.method === 'GET') {
        ctx.body = { mode: tamperMode };
        return;
      }
      if (ctx.method !== 'POST') {
        ctx.status = 405;
        ctx.set('allow', 'GET, POST');
        ctx.body = { error: 'method not allowed' };
        return;
      }
      let body;
      try {
        body = await readJson(ctx.req);
      } catch (err) {
        ctx.status = 400;
        ctx.body = { error: `bad JSON body: ${err.message}` };
        return;
      }
      const mode = body?.mode;
      if (mode === null || mode === undefined || mode === '') {
        tamperMode = null;
      } else if (typeof mode === 'string' && TAMPER_MODES.has(mode)) {
        tamperMode = mode;
      } else {
        ctx.status = 400;
        ctx.body = { error: `unknown mode ${JSON.stringify(mode)}`, modes: [...TAMPER_MODES] };
        return;
      }
      ctx.body = { mode: tamperMode };
      return;
    }

    await next();

    if (ctx.path === '/token' && ctx.status === 200 && tamperMode
        && ctx.body && typeof ctx.body === 'object' && typeof ctx.body.id_token === 'string') {
      const mode = tamperMode;
      tamperMode = null;
      ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token, mode, ctx.oidc?.client?.clientId) };
      process.stderr.write(`idp: tampered id_token (${mode})\n`);
    }
  });
}

// ---- serve ---------------------------------------------------------------

let tls;
try {
  tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
} catch (err) {
  die(`cannot read TLS files: ${err.message}`);
}

const server = https.createServer(tls, provider.callback());
server.on('error', (err) => die(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  process.stdout.write(`idp: listening on ${issuer}${testControls ? ' (test controls on)' : ''}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
