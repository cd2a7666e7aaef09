-- pgTAP: what 0002_identity.sql guarantees.  Run by t/sql/identity.t.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(24);

SELECT has_table(t) FROM unnest(ARRAY[
    'user_identities', 'sessions', 'refresh_tokens', 'signing_keys']) AS t;
SELECT col_is_pk('user_identities', ARRAY['provider', 'subject']);
SELECT fk_ok('user_identities', 'user_id', 'users', 'id');
SELECT fk_ok('refresh_tokens', 'session_id', 'sessions', 'id');

INSERT INTO users (id, email) VALUES
    ('hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'pgtap-identity@example.test');
INSERT INTO sessions (id, user_id, provider, expires_at) VALUES
    ('ses-01aaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa',
     'dev', now() + interval '1 day');

-- One identity per (provider, subject).
INSERT INTO user_identities (provider, subject, user_id, email) VALUES
    ('dev', 'pgtap-alice', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'a@example.test');
SELECT throws_ok($$INSERT INTO user_identities (provider, subject, user_id, email)
    VALUES ('dev', 'pgtap-alice', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'a@example.test')$$,
    '23505', NULL, 'a (provider, subject) belongs to one user');
SELECT throws_ok($$INSERT INTO user_identities (provider, subject, user_id, email)
    VALUES ('Dev!', 'x', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'a@example.test')$$,
    '23514', NULL, 'provider names are lowercase identifiers');

-- Sessions.
SELECT throws_ok($$INSERT INTO sessions (id, user_id, provider, expires_at)
    VALUES ('sess-1', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'dev', now() + interval '1 day')$$,
    '23514', NULL, 'session ids are ses-<ulid>');
SELECT throws_ok($$UPDATE sessions SET revoked_at = now()
    WHERE id = 'ses-01aaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '23514', NULL, 'a revoked session says why');
SELECT throws_ok($$UPDATE sessions SET revoked_at = now(), revoke_reason = 'bored'
    WHERE id = 'ses-01aaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '23514', NULL, 'only known revocation reasons');
SELECT throws_ok($$INSERT INTO sessions (id, user_id, provider, expires_at)
    VALUES ('ses-01bbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa', 'dev', now() - interval '1 s')$$,
    '23514', NULL, 'a session ends after it starts');

-- Refresh tokens: 32-byte hashes only.
SELECT throws_ok($$INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    VALUES ('hxbrt_clear', 'ses-01aaaaaaaaaaaaaaaaaaaaaaaa', now())$$,
    '23514', NULL, 'a refresh token is stored as a 32-byte hash, never in clear');
SELECT lives_ok($$INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
    VALUES (sha256('x'), 'ses-01aaaaaaaaaaaaaaaaaaaaaaaa', now())$$,
    'a SHA-256 hash is stored');
DELETE FROM users WHERE id = 'hxb-usr-01aaaaaaaaaaaaaaaaaaaaaaaa';
SELECT is((SELECT count(*)::int FROM refresh_tokens
    WHERE session_id = 'ses-01aaaaaaaaaaaaaaaaaaaaaaaa'), 0,
    'deleting a user deletes its sessions and tokens');

-- Signing keys: at most one active.
SELECT is((SELECT count(*)::int FROM signing_keys WHERE state = 'active'), 1,
    'jobs/migrate created the first active key');
SELECT throws_ok($$INSERT INTO signing_keys (kid, public_pem, private_sealed, state, activated_at)
    VALUES ('AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    '-----BEGIN PUBLIC KEY-----x', '\x00112233445566778899aabbccddeeff00112233445566778899aabbccdd',
    'active', now())$$,
    '23505', NULL, 'a second active key is refused');
SELECT throws_ok($$INSERT INTO signing_keys (kid, alg, public_pem, private_sealed, state)
    VALUES ('CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC', 'HS256',
    '-----BEGIN PUBLIC KEY-----x', '\x00112233445566778899aabbccddeeff00112233445566778899aabbccdd',
    'next')$$, '23514', NULL, 'only RS256 keys');
SELECT throws_ok($$INSERT INTO signing_keys (kid, public_pem, private_sealed, state)
    VALUES ('DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD',
    '-----BEGIN PUBLIC KEY-----x', '\x00112233445566778899aabbccddeeff00112233445566778899aabbccdd',
    'retired')$$, '23514', NULL, 'a retired key says when');
SELECT is((SELECT count(*)::int FROM signing_keys
    WHERE position('PRIVATE KEY'::bytea IN private_sealed) > 0
       OR position('BEGIN'::bytea IN private_sealed) > 0), 0,
    'no private key is stored in clear');

-- The application role reads keys and never writes them.
SELECT table_privs_are('public', 'signing_keys', 'hxb_app', ARRAY['SELECT'],
    'hxb_app only reads signing keys');
SELECT table_privs_are('public', 'sessions', 'hxb_app',
    ARRAY['DELETE', 'INSERT', 'SELECT', 'UPDATE'], 'hxb_app manages sessions');
SELECT is(hxb_ts('2026-01-02 03:04:05.678+00'), '2026-01-02T03:04:05.678Z',
    'hxb_ts: RFC 3339 in UTC');

SELECT * FROM finish();
ROLLBACK;
