-- 0002_identity: external identities, sessions with rotating refresh
-- tokens, and the signing keys of every token Hexabase issues.
--
-- Sign-in goes through external identity providers only; a user is found
-- by (provider, subject), never by a password.  A session is one sign-in
-- on one device.  It carries a chain of refresh tokens, of which only the
-- newest may be used: presenting an older one means it was copied, and the
-- whole session is revoked (RFC 9700 section 4.14.2).  Only SHA-256 hashes
-- of refresh tokens are stored.

-- RFC 3339 in UTC with milliseconds, as the API writes every time.
CREATE FUNCTION hxb_ts(t timestamptz) RETURNS text
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');


CREATE TABLE user_identities (
    provider        text NOT NULL CHECK (provider ~ '^[a-z][a-z0-9]{0,31}$'),
    subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    email           text NOT NULL CHECK (length(email) <= 254),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

CREATE TABLE sessions (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'ses-')),
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    provider        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text CHECK (revoke_reason IN
                        ('logout', 'revoked', 'revoke_all', 'reuse')),
    ip              inet,
    user_agent      text NOT NULL DEFAULT ''
                    CHECK (length(user_agent) <= 512),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash      bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id      text NOT NULL REFERENCES sessions ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    rotated_at      timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- The keys that sign Hexabase's tokens: access tokens here, and the
-- workspace tokens every vCluster verifies.  One key is active (signs);
-- a next key is published before it signs, a retired key stays published
-- until every token it signed has expired.  The private key is sealed with
-- AES-256-GCM under the master key, with the kid as associated data, so a
-- sealed key cannot be moved to another row.
CREATE TABLE signing_keys (
    kid             text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{16,64}$'),
    alg             text NOT NULL DEFAULT 'RS256' CHECK (alg IN ('RS256')),
    public_pem      text NOT NULL
                    CHECK (public_pem LIKE '-----BEGIN PUBLIC KEY-----%'),
    private_sealed  bytea NOT NULL CHECK (length(private_sealed) > 28),
    state           text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    activate_after  timestamptz,
    activated_at    timestamptz,
    retired_at      timestamptz,
    CHECK (state <> 'active' OR activated_at IS NOT NULL),
    CHECK (state <> 'retired' OR retired_at IS NOT NULL)
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true))
    WHERE state = 'active';

GRANT SELECT, INSERT, UPDATE, DELETE ON user_identities, sessions,
    refresh_tokens TO hxb_app;
-- Handlers read keys; only jobs (as the owner) create, rotate and delete.
GRANT SELECT ON signing_keys TO hxb_app;
