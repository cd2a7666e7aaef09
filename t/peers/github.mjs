#!/usr/bin/env node
// t/peers/github.mjs: a stand-in for GitHub's OAuth app endpoints and the
// two REST API calls a sign-in needs, over HTTPS, for tests and local
// development.  Plain node:https.  Test-only; not product code.
//
// Usage:
//   node t/peers/github.mjs --port P [--host 127.0.0.1] --cert FILE --key FILE
//        --client-id ID --client-secret SECRET --redirect-prefix URL
//
// Every option may come from the environment instead (an option wins):
//   --port             GH_PORT             TCP port (required)
//   --host             GH_HOST             address to listen on (127.0.0.1)
//   --cert, --key      GH_CERT, GH_KEY     PEM server certificate and key
//   --client-id        GH_CLIENT_ID        the one OAuth app's client id
//   --client-secret    GH_CLIENT_SECRET    ... and its client secret
//   --redirect-prefix  GH_REDIRECT_PREFIX  the app's "Authorization callback
//                                          URL"; a redirect_uri must match it
//                                          as GitHub matches (same scheme and
//                                          port, same host or a subdomain,
//                                          same path or a sub-path of it)
//
// One origin serves what GitHub splits between https://github.com (the
// OAuth endpoints) and https://api.github.com (the REST API): point both
// base URLs of the relying party at https://127.0.0.1:PORT.
//
// Once listening it prints "github: listening on https://HOST:PORT" on
// stdout; then one line per request: "METHOD PATH STATUS".  SIGTERM and
// SIGINT stop it, exit 0.
//
// Endpoints, as GitHub documents them:
//   GET  /login/oauth/authorize?client_id&redirect_uri&state&scope
//        [&code_challenge&code_challenge_method=S256]
//        unknown client_id: 404 HTML.  Otherwise no login page: 302 to
//        redirect_uri?code=CODE&state=STATE for the current test user (a
//        missing redirect_uri means the callback URL).  A redirect_uri that
//        does not match: 302 to the callback URL with
//        error=redirect_uri_mismatch.  Deny on: 302 with error=access_denied.
//   POST /login/oauth/access_token  (form body or query: client_id,
//        client_secret, code, redirect_uri, code_verifier; or HTTP Basic
//        client auth).  200 with access_token, token_type "bearer" and scope
//        (comma-separated), as JSON for "Accept: application/json", XML for
//        application/xml, else form-encoded.  Errors are HTTP 200 too, in the
//        same format: incorrect_client_credentials, redirect_uri_mismatch,
//        bad_verification_code (unknown, used, expired after 10 minutes,
//        another client's, or a PKCE code_verifier that does not match).
//        Codes are single-use.  Tokens look like gho_ + 36 characters and do
//        not expire.
//   GET  /user, GET /user/emails  with "Authorization: Bearer T" or
//        "token T".  No Authorization: 401 {"message":"Requires
//        authentication"}; an unknown token: 401 {"message":"Bad
//        credentials"}; no User-Agent header: 403 (GitHub requires one).
//        /user/emails needs the user or user:email scope, else 404 (as GitHub
//        answers OAuth tokens without it).  X-OAuth-Scopes is sent.
// Test controls (always on):
//   POST /__test/user  {login, id, name, emails:[{email, primary, verified}],
//        email?, avatar_url?}  the user of the next authorizations.  "email"
//        is the public email /user shows (default: the primary one; null
//        hides it).  GET /__test/user shows it.
//   POST /__test/deny  {"on": true|false}  the next authorizations are denied.
//   The default user is octocat (id 583231, octocat@example.test, verified).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

function die(msg) {
  process.stderr.write(`github: ${msg}\n`);
  process.exit(2);
}

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'client-id': { type: 'string' },
      'client-secret': { type: 'string' },
      'redirect-prefix': { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  die(err.message);
}

const env = process.env;
const port = Number(args.port ?? env.GH_PORT);
const host = args.host ?? env.GH_HOST ?? '127.0.0.1';
const certFile = args.cert ?? env.GH_CERT;
const keyFile = args.key ?? env.GH_KEY;
const clientId = args['client-id'] ?? env.GH_CLIENT_ID;
const clientSecret = args['client-secret'] ?? env.GH_CLIENT_SECRET;
const callbackUrl = args['redirect-prefix'] ?? env.GH_REDIRECT_PREFIX;
if (!Number.isInteger(port) || port <= 0 || port > 65535) die('--port is required');
for (const [name, value] of Object.entries({
  '--cert': certFile,
  '--key': keyFile,
  '--client-id': clientId,
  '--client-secret': clientSecret,
  '--redirect-prefix': callbackUrl,
})) {
  if (!value) die(`${name} is required`);
}
let callback;
try {
  callback = new URL(callbackUrl);
} catch {
  die(`--redirect-prefix is not a URL: ${callbackUrl}`);
}

const CODE_TTL_MS = 10 * 60 * 1000;
const DOCS = 'https://docs.github.com';
const ERR = {
  incorrect_client_credentials: {
    error: 'incorrect_client_credentials',
    error_description: 'The client_id and/or client_secret passed are incorrect.',
    error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials`,
  },
  redirect_uri_mismatch: {
    error: 'redirect_uri_mismatch',
    error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
    error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch2`,
  },
  bad_verification_code: {
    error: 'bad_verification_code',
    error_description: 'The code passed is incorrect or expired.',
    error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code`,
  },
  unsupported_grant_type: {
    error: 'unsupported_grant_type',
    error_description: 'The grant type is not supported.',
  },
};

// ---- state ---------------------------------------------------------------

function makeUser(u) {
  const emails = (u.emails ?? []).map((e) => ({
    email: String(e.email),
    primary: Boolean(e.primary),
    verified: Boolean(e.verified),
  }));
  const primary = emails.find((e) => e.primary)?.email ?? null;
  const publicEmail = u.email === undefined ? primary : u.email;
  return {
    login: String(u.login),
    id: Number(u.id),
    name: u.name === undefined ? null : u.name,
    avatar_url: u.avatar_url ?? `https://avatars.example.test/u/${Number(u.id)}?v=4`,
    email: publicEmail,
    emails: emails.map((e) => ({
      ...e,
      visibility: e.primary ? (e.email === publicEmail ? 'public' : 'private') : null,
    })),
  };
}

let currentUser = makeUser({
  login: 'octocat',
  id: 583231,
  name: 'The Octocat',
  emails: [{ email: 'octocat@example.test', primary: true, verified: true }],
});
let deny = false;
const codes = new Map(); // code -> {clientId, redirectUri, scopes, user, challenge, expires}
const tokens = new Map(); // token -> {user, scopes}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function randomToken(n) {
  let s = '';
  for (const b of crypto.randomBytes(n * 2)) {
    if (b < 248) s += ALNUM[b % 62];
    if (s.length === n) return s;
  }
  return s + randomToken(n - s.length);
}

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// GitHub's rule: same scheme and port; same host or a subdomain of it; the
// same path or a sub-path.
function redirectAllowed(uri) {
  let u;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  if (u.protocol !== callback.protocol || u.port !== callback.port) return false;
  if (u.username || u.password || u.hash) return false;
  const isIp = /^[\d.]+$|^\[/.test(callback.hostname);
  if (u.hostname !== callback.hostname
      && (isIp || !u.hostname.endsWith(`.${callback.hostname}`))) return false;
  const base = callback.pathname.replace(/\/+$/, '');
  return u.pathname === callback.pathname || u.pathname === base
    || u.pathname.startsWith(`${base}/`);
}

function parseScopes(s) {
  return [...new Set(String(s ?? '').split(/[\s,]+/).filter(Boolean))];
}

// ---- HTTP helpers --------------------------------------------------------

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, body, headers = {}) {
  const buf = Buffer.from(body);
  res.writeHead(status, { 'content-length': buf.length, ...headers });
  res.end(buf);
}

function sendJson(res, status, obj, headers = {}) {
  send(res, status, JSON.stringify(obj), {
    'content-type': 'application/json; charset=utf-8', ...headers,
  });
}

function redirect(res, url) {
  send(res, 302, `<html><body>You are being <a href="${htmlEscape(url)}">redirected</a>.</body></html>`, {
    location: url,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-cache',
  });
}

function htmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xmlEscape(s) {
  return String(s).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
}

// The token endpoint's answers, in the format the Accept header asks for.
function oauthReply(req, res, obj) {
  const accept = String(req.headers.accept ?? '').toLowerCase();
  if (accept.includes('application/json')) {
    sendJson(res, 200, obj);
  } else if (accept.includes('application/xml')) {
    const inner = Object.entries(obj).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
    send(res, 200, `<OAuth>${inner}</OAuth>`, { 'content-type': 'application/xml; charset=utf-8' });
  } else {
    send(res, 200, new URLSearchParams(obj).toString(), {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    });
  }
}

function notFoundHtml(res) {
  send(res, 404, '<!DOCTYPE html><html><head><title>Page not found &middot; GitHub</title></head>'
    + '<body><h1>404</h1><p>This is not the web page you are looking for.</p></body></html>', {
    'content-type': 'text/html; charset=utf-8',
  });
}

function apiError(res, status, message, extra = {}) {
  sendJson(res, status, {
    message, documentation_url: `${DOCS}/rest`, status: String(status),
  }, extra);
}

// ---- handlers ------------------------------------------------------------

function authorize(req, res, url) {
  const q = url.searchParams;
  if (q.get('client_id') !== clientId) {
    notFoundHtml(res);
    return;
  }
  const state = q.get('state');
  const withParams = (base, params) => {
    const u = new URL(base);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (state !== null) u.searchParams.set('state', state);
    return u.toString();
  };
  const redirectUri = q.get('redirect_uri') ?? callback.toString();
  if (!redirectAllowed(redirectUri)) {
    redirect(res, withParams(callback, {
      error: 'redirect_uri_mismatch',
      error_description: ERR.redirect_uri_mismatch.error_description,
      error_uri: ERR.redirect_uri_mismatch.error_uri,
    }));
    return;
  }
  const challenge = q.get('code_challenge');
  const method = q.get('code_challenge_method');
  if ((challenge !== null || method !== null) && (method !== 'S256' || !challenge)) {
    redirect(res, withParams(redirectUri, {
      error: 'invalid_request',
      error_description: 'Only the S256 code_challenge_method is supported, with a code_challenge.',
    }));
    return;
  }
  if (deny) {
    redirect(res, withParams(redirectUri, {
      error: 'access_denied',
      error_description: 'The user has denied your application access.',
      error_uri: `${DOCS}/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied`,
    }));
    return;
  }
  const code = crypto.randomBytes(10).toString('hex');
  codes.set(code, {
    clientId,
    redirectUri: q.get('redirect_uri'),
    scopes: parseScopes(q.get('scope')),
    user: currentUser,
    challenge,
    expires: Date.now() + CODE_TTL_MS,
  });
  redirect(res, withParams(redirectUri, { code }));
}

async function accessToken(req, res, url) {
  const body = await readBody(req);
  const p = new URLSearchParams(url.search);
  const ctype = String(req.headers['content-type'] ?? '').toLowerCase();
  if (ctype.includes('application/json')) {
    const obj = body.trim() ? JSON.parse(body) : {};
    for (const [k, v] of Object.entries(obj)) p.set(k, String(v));
  } else {
    for (const [k, v] of new URLSearchParams(body)) p.set(k, v);
  }
  let id = p.get('client_id');
  let secret = p.get('client_secret');
  const auth = /^basic\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''));
  if (auth) {
    const decoded = Buffer.from(auth[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i >= 0) {
      id = decodeURIComponent(decoded.slice(0, i));
      secret = decodeURIComponent(decoded.slice(i + 1));
    }
  }
  const grantType = p.get('grant_type');
  if (grantType !== null && grantType !== 'authorization_code') {
    oauthReply(req, res, ERR.unsupported_grant_type);
    return;
  }
  if (id !== clientId || secret === null || !safeEqual(secret, clientSecret)) {
    oauthReply(req, res, ERR.incorrect_client_credentials);
    return;
  }
  const redirectUri = p.get('redirect_uri');
  if (redirectUri !== null && !redirectAllowed(redirectUri)) {
    oauthReply(req, res, ERR.redirect_uri_mismatch);
    return;
  }
  const code = p.get('code') ?? '';
  const grant = codes.get(code);
  if (grant) codes.delete(code); // single-use, whatever happens next
  const verifier = p.get('code_verifier');
  if (!grant || grant.clientId !== id || grant.expires < Date.now()
      || (grant.challenge !== null && (verifier === null
        || !safeEqual(crypto.createHash('sha256').update(verifier).digest('base64url'), grant.challenge)))) {
    oauthReply(req, res, ERR.bad_verification_code);
    return;
  }
  if (redirectUri !== null && grant.redirectUri !== null && redirectUri !== grant.redirectUri) {
    oauthReply(req, res, ERR.redirect_uri_mismatch);
    return;
  }
  const token = `gho_${randomToken(36)}`;
  tokens.set(token, { user: grant.user, scopes: grant.scopes });
  oauthReply(req, res, { access_token: token, token_type: 'bearer', scope: grant.scopes.join(',') });
}

function api(req, res, url) {
  if (!req.headers['user-agent']) {
    send(res, 403, 'Request forbidden by administrative rules. Please make sure your request has a '
      + 'User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). '
      + 'Check https://developer.github.com for other possible causes.\n', {
      'content-type': 'text/html; charset=utf-8',
    });
    return;
  }
  const authz = String(req.headers.authorization ?? '');
  if (!authz) {
    apiError(res, 401, 'Requires authentication');
    return;
  }
  const m = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(authz);
  const grant = m ? tokens.get(m[1]) : undefined;
  if (!grant) {
    apiError(res, 401, 'Bad credentials');
    return;
  }
  const { user, scopes } = grant;
  const scopeHeaders = {
    'x-oauth-scopes': scopes.join(', '),
    'x-github-media-type': 'github.v3; format=json',
  };
  if (url.pathname === '/user') {
    sendJson(res, 200, {
      login: user.login,
      id: user.id,
      node_id: Buffer.from(`04:User${user.id}`).toString('base64'),
      avatar_url: user.avatar_url,
      gravatar_id: '',
      url: `https://api.example.test/users/${user.login}`,
      html_url: `https://github.example.test/${user.login}`,
      type: 'User',
      site_admin: false,
      name: user.name,
      company: null,
      blog: '',
      location: null,
      email: user.email,
      hireable: null,
      bio: null,
      twitter_username: null,
      public_repos: 0,
      public_gists: 0,
      followers: 0,
      following: 0,
      created_at: '2011-01-25T18:44:36Z',
      updated_at: '2024-01-01T00:00:00Z',
    }, { ...scopeHeaders, 'x-accepted-oauth-scopes': '' });
    return;
  }
  // /user/emails
  if (!scopes.includes('user') && !scopes.includes('user:email')) {
    apiError(res, 404, 'Not Found', { ...scopeHeaders, 'x-accepted-oauth-scopes': 'user, user:email' });
    return;
  }
  sendJson(res, 200, user.emails, { ...scopeHeaders, 'x-accepted-oauth-scopes': 'user, user:email' });
}

async function testControl(req, res, url) {
  if (url.pathname === '/__test/user' && req.method === 'GET') {
    sendJson(res, 200, currentUser);
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method not allowed' }, { allow: 'POST' });
    return;
  }
  let obj;
  try {
    obj = JSON.parse((await readBody(req)) || '{}');
  } catch (err) {
    sendJson(res, 400, { error: `bad JSON body: ${err.message}` });
    return;
  }
  if (url.pathname === '/__test/user') {
    if (typeof obj.login !== 'string' || !obj.login || !Number.isSafeInteger(obj.id)
        || (obj.emails !== undefined && !Array.isArray(obj.emails))
        || (obj.emails ?? []).some((e) => typeof e?.email !== 'string')) {
      sendJson(res, 400, { error: 'want {login: string, id: integer, name, emails: [{email, primary, verified}]}' });
      return;
    }
    currentUser = makeUser(obj);
    sendJson(res, 200, currentUser);
    return;
  }
  if (typeof obj.on !== 'boolean') {
    sendJson(res, 400, { error: 'want {"on": true|false}' });
    return;
  }
  deny = obj.on;
  sendJson(res, 200, { on: deny });
}

async function handle(req, res) {
  const url = new URL(req.url, `https://${req.headers.host ?? `127.0.0.1:${port}`}`);
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /login/oauth/authorize':
      return authorize(req, res, url);
    case 'POST /login/oauth/access_token':
      return accessToken(req, res, url);
    case 'GET /user':
    case 'GET /user/emails':
      return api(req, res, url);
    default:
      if (url.pathname === '/__test/user' || url.pathname === '/__test/deny') {
        return testControl(req, res, url);
      }
      if (url.pathname.startsWith('/login/')) return notFoundHtml(res);
      return apiError(res, 404, 'Not Found');
  }
}

// ---- serve ---------------------------------------------------------------

let tls;
try {
  tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
} catch (err) {
  die(`cannot read TLS files: ${err.message}`);
}

const server = https.createServer(tls, (req, res) => {
  res.on('finish', () => {
    process.stdout.write(`${req.method} ${req.url.split('?')[0]} ${res.statusCode}\n`);
  });
  Promise.resolve(handle(req, res)).catch((err) => {
    process.stderr.write(`github: ${req.method} ${req.url}: ${err.stack ?? err}\n`);
    if (!res.headersSent) sendJson(res, 400, { message: 'Problems parsing request', error: err.message });
    else res.destroy();
  });
});
server.on('error', (err) => die(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  const h = host.includes(':') ? `[${host}]` : host;
  process.stdout.write(`github: listening on https://${h}:${port}\n`);
});

// Forget expired codes now and then.
setInterval(() => {
  const now = Date.now();
  for (const [code, grant] of codes) if (grant.expires < now) codes.delete(code);
}, 60 * 1000).unref();

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
