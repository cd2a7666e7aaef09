-- 0003_tenancy: what the tenancy API needs, and row-level security on
-- every tenant table (the Pool model of seed 003).
--
-- Who is acting is a transaction-local setting, hxb.user_id, that the
-- handlers set with set_config(..., true) at the start of every
-- transaction (db_begin_as()).  Without it a tenant table shows nothing
-- and accepts nothing: a handler that forgets gets empty answers, never
-- another tenant's rows.  The policies ask a few SECURITY DEFINER
-- functions, owned by the schema owner (who is not subject to the
-- policies), about the acting user only; no function here answers about
-- anybody else.
--
-- Identity tables (users, user_identities, sessions, refresh_tokens,
-- signing_keys) and the plan catalog hold no tenant data and are read
-- before anyone is known (sign-in, refresh); they are not under RLS.

-- The tables of 0001 are empty until this migration's API exists, so the
-- workspace each row belongs to can be added as NOT NULL.  It lets every
-- policy be one index probe, and the composite keys keep a membership, a
-- role and an assignment inside one workspace.
ALTER TABLE group_memberships
    ADD COLUMN workspace_id text NOT NULL,
    ADD FOREIGN KEY (workspace_id, group_id)
        REFERENCES groups (workspace_id, id) ON DELETE CASCADE;
CREATE INDEX group_memberships_ws_user_idx
    ON group_memberships (workspace_id, user_id);

ALTER TABLE roles
    ADD COLUMN workspace_id text NOT NULL,
    ADD FOREIGN KEY (workspace_id, project_id)
        REFERENCES projects (workspace_id, id) ON DELETE CASCADE,
    ADD UNIQUE (workspace_id, id);

ALTER TABLE role_assignments
    ADD COLUMN id text CHECK (hxb_id_ok(id, 'ra-')),
    ADD COLUMN workspace_id text NOT NULL,
    ADD FOREIGN KEY (workspace_id, role_id)
        REFERENCES roles (workspace_id, id) ON DELETE CASCADE,
    ADD FOREIGN KEY (workspace_id, group_id)
        REFERENCES groups (workspace_id, id) ON DELETE CASCADE;

-- A project's preset roles (admin, edit, view) are not rows; an
-- assignment names either a preset or a custom role, and has an id.
ALTER TABLE role_assignments DROP CONSTRAINT role_assignments_pkey;
ALTER TABLE role_assignments ADD PRIMARY KEY (id);
ALTER TABLE role_assignments ALTER COLUMN role_id DROP NOT NULL;
ALTER TABLE role_assignments
    ADD COLUMN project_id text NOT NULL,
    ADD COLUMN preset text CHECK (preset IN ('admin', 'edit', 'view')),
    ADD CHECK ((role_id IS NULL) <> (preset IS NULL)),
    ADD FOREIGN KEY (workspace_id, project_id)
        REFERENCES projects (workspace_id, id) ON DELETE CASCADE;
CREATE UNIQUE INDEX role_assignments_once
    ON role_assignments (project_id, group_id, coalesce(role_id, preset));

ALTER TABLE cluster_role_assignments
    ADD COLUMN id text UNIQUE CHECK (hxb_id_ok(id, 'cra-')),
    ADD COLUMN workspace_id text NOT NULL,
    ADD FOREIGN KEY (workspace_id, group_id)
        REFERENCES groups (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE cluster_role_assignments ALTER COLUMN id SET NOT NULL;
CREATE INDEX cluster_role_assignments_ws_idx
    ON cluster_role_assignments (workspace_id);

ALTER TABLE projects
    ADD COLUMN quota jsonb NOT NULL DEFAULT '{}'
        CHECK (jsonb_typeof(quota) = 'object');
CREATE INDEX projects_parent_idx ON projects (parent_project_id);

ALTER TABLE workspaces
    ADD COLUMN api_endpoint text CHECK (api_endpoint ~ '^https://'),
    ADD COLUMN deleted_at timestamptz;
CREATE INDEX workspaces_org_idx ON workspaces (organization_id, id);

ALTER TABLE tasks ADD COLUMN created_by text;

CREATE TABLE invitations (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'inv-')),
    organization_id text NOT NULL REFERENCES organizations ON DELETE CASCADE,
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'
                                         AND length(email) <= 254),
    role            text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by      text REFERENCES users ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     text REFERENCES users ON DELETE SET NULL,
    CHECK (expires_at > created_at)
);
-- One pending invitation per address and organization.
CREATE UNIQUE INDEX invitations_pending
    ON invitations (organization_id, lower(email))
    WHERE accepted_at IS NULL;

-- POST creates replay their first answer for the same Idempotency-Key.
CREATE TABLE idempotency_keys (
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    key             text NOT NULL CHECK (key ~ '^[\x21-\x7e]{1,255}$'),
    route           text NOT NULL CHECK (length(route) <= 200),
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    status          smallint NOT NULL CHECK (status BETWEEN 200 AND 599),
    response        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_age_idx ON idempotency_keys (created_at);

-- Events to publish, written in the transaction that caused them.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id text REFERENCES organizations ON DELETE CASCADE,
    workspace_id    text REFERENCES workspaces ON DELETE CASCADE,
    subject         text NOT NULL CHECK (subject ~ '^[a-z][a-z0-9_.-]{0,199}$'),
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- ---- who is acting ---------------------------------------------------------

CREATE FUNCTION hxb_actor() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN nullif(current_setting('hxb.user_id', true), '');

-- The helpers below are PL/pgSQL, not SQL functions: PL/pgSQL keeps each
-- statement's plan for the session, where a SECURITY DEFINER SQL function
-- is planned again at every call (about 50 us each, measured with
-- pgbench; the policies call them on every query).

-- The acting user's role in an organization, or NULL.
CREATE FUNCTION hxb_org_role(org text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN (SELECT ou.role FROM organization_users ou
            WHERE ou.organization_id = org AND ou.user_id = hxb_actor());
END $$;

-- Whether an organization has no members yet (its creator's first row).
CREATE FUNCTION hxb_org_unclaimed(org text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN NOT EXISTS (SELECT FROM organization_users ou
                       WHERE ou.organization_id = org);
END $$;

/*
 * A user's groups in a workspace: those they belong to directly and every
 * ancestor of those.  The one definition, used by authorization, the
 * OIDC groups claim and the jobs.  Invoker's rights: under RLS it sees
 * what the caller may see.  UNION (not UNION ALL) ends even on a cycle.
 */
CREATE FUNCTION hxb_effective_groups(ws text, usr text)
    RETURNS TABLE (group_id text)
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE up(id) AS (
        SELECT m.group_id FROM group_memberships m
        WHERE m.workspace_id = ws AND m.user_id = usr
        UNION
        SELECT g.parent_id FROM up JOIN groups g ON g.id = up.id
        WHERE g.parent_id IS NOT NULL
    )
    SELECT up.id FROM up;
END $$;

-- The same for the acting user, past RLS, for the policies.
CREATE FUNCTION hxb_my_groups(ws text) RETURNS TABLE (group_id text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM workspaces w JOIN organization_users ou
               ON ou.organization_id = w.organization_id
               WHERE w.id = ws AND ou.user_id = hxb_actor()) THEN
        RETURN QUERY SELECT e.group_id
            FROM hxb_effective_groups(ws, hxb_actor()) e;
    END IF;
END $$;

-- Workspaces the acting user sees: all of an organization they administer,
-- and those of their organizations where they hold a group.
CREATE FUNCTION hxb_my_workspaces() RETURNS TABLE (workspace_id text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT w.id FROM organization_users ou
    JOIN workspaces w ON w.organization_id = ou.organization_id
    WHERE ou.user_id = hxb_actor() AND ou.role = 'admin'
    UNION
    SELECT m.workspace_id FROM group_memberships m
    JOIN workspaces w ON w.id = m.workspace_id
    JOIN organization_users ou ON ou.organization_id = w.organization_id
        AND ou.user_id = m.user_id
    WHERE m.user_id = hxb_actor();
END $$;

-- Whether the acting user may manage a workspace: an admin of its
-- organization, or holding an effective group bound to workspace-admin.
CREATE FUNCTION hxb_ws_admin(ws text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN EXISTS (SELECT FROM workspaces w JOIN organization_users ou
                   ON ou.organization_id = w.organization_id
                   WHERE w.id = ws AND ou.user_id = hxb_actor()
                   AND ou.role = 'admin')
        OR EXISTS (SELECT FROM cluster_role_assignments c
                   WHERE c.workspace_id = ws
                   AND c.cluster_role = 'hexabase:workspace-admin'
                   AND c.group_id IN (SELECT g.group_id
                                      FROM hxb_my_groups(ws) g));
END $$;

-- Whether the acting user sees a workspace (as hxb_my_workspaces(), for
-- one workspace: two or three index probes, cheap enough for every row).
CREATE FUNCTION hxb_ws_visible(ws text) RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN EXISTS (
        SELECT FROM workspaces w JOIN organization_users ou
            ON ou.organization_id = w.organization_id
        WHERE w.id = ws AND ou.user_id = hxb_actor()
        AND (ou.role = 'admin'
             OR EXISTS (SELECT FROM group_memberships m
                        WHERE m.workspace_id = ws
                        AND m.user_id = ou.user_id)));
END $$;

REVOKE ALL ON FUNCTION hxb_org_role(text), hxb_org_unclaimed(text),
    hxb_my_groups(text), hxb_my_workspaces(), hxb_ws_admin(text),
    hxb_ws_visible(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_org_role(text), hxb_org_unclaimed(text),
    hxb_my_groups(text), hxb_my_workspaces(), hxb_ws_admin(text),
    hxb_ws_visible(text) TO hxb_app;

-- ---- row-level security ----------------------------------------------------

ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_read ON organizations FOR SELECT
    USING (hxb_org_role(id) IS NOT NULL);
CREATE POLICY org_create ON organizations FOR INSERT
    WITH CHECK (hxb_actor() IS NOT NULL);
CREATE POLICY org_change ON organizations FOR UPDATE
    USING (hxb_org_role(id) = 'admin');
CREATE POLICY org_delete ON organizations FOR DELETE
    USING (hxb_org_role(id) = 'admin');

ALTER TABLE organization_users ENABLE ROW LEVEL SECURITY;
-- One's own rows first: the check most queries need costs no call.
CREATE POLICY member_read ON organization_users FOR SELECT
    USING (user_id = hxb_actor() OR hxb_org_role(organization_id) IS NOT NULL);
-- An admin adds members; the creator of an organization claims it first.
CREATE POLICY member_add ON organization_users FOR INSERT
    WITH CHECK (hxb_org_role(organization_id) = 'admin'
                OR (user_id = hxb_actor() AND role = 'admin'
                    AND hxb_org_unclaimed(organization_id)));
CREATE POLICY member_change ON organization_users FOR UPDATE
    USING (hxb_org_role(organization_id) = 'admin');
CREATE POLICY member_remove ON organization_users FOR DELETE
    USING (hxb_org_role(organization_id) = 'admin' OR user_id = hxb_actor());

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY invitation_admin ON invitations FOR ALL
    USING (hxb_org_role(organization_id) = 'admin');

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
-- As hxb_ws_visible(), written as two small hashed sets (the
-- organizations one administers or belongs to, the workspaces where one
-- holds a group) read through one's own rows, so that a scan of many
-- workspaces calls no function per row.
CREATE POLICY ws_read ON workspaces FOR SELECT
    USING (organization_id IN (SELECT ou.organization_id
                               FROM organization_users ou
                               WHERE ou.user_id = hxb_actor()
                               AND ou.role = 'admin')
           OR (id IN (SELECT m.workspace_id FROM group_memberships m
                      WHERE m.user_id = hxb_actor())
               AND organization_id IN (SELECT ou.organization_id
                                       FROM organization_users ou
                                       WHERE ou.user_id = hxb_actor())));
CREATE POLICY ws_create ON workspaces FOR INSERT
    WITH CHECK (hxb_org_role(organization_id) = 'admin');
CREATE POLICY ws_change ON workspaces FOR UPDATE
    USING (hxb_org_role(organization_id) = 'admin');
CREATE POLICY ws_delete ON workspaces FOR DELETE
    USING (hxb_org_role(organization_id) = 'admin');

-- Inside a workspace: members read, workspace admins write.
CREATE FUNCTION hxb_ws_policies(tbl regclass) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('CREATE POLICY ws_member_read ON %s FOR SELECT '
                   'USING (hxb_ws_visible(workspace_id))', tbl);
    EXECUTE format('CREATE POLICY ws_admin_insert ON %s FOR INSERT '
                   'WITH CHECK (hxb_ws_admin(workspace_id))', tbl);
    EXECUTE format('CREATE POLICY ws_admin_update ON %s FOR UPDATE '
                   'USING (hxb_ws_admin(workspace_id))', tbl);
    EXECUTE format('CREATE POLICY ws_admin_delete ON %s FOR DELETE '
                   'USING (hxb_ws_admin(workspace_id))', tbl);
END $$;
SELECT hxb_ws_policies(t) FROM unnest(ARRAY['projects', 'groups',
    'group_memberships', 'roles', 'role_assignments',
    'cluster_role_assignments']::regclass[]) AS t;
DROP FUNCTION hxb_ws_policies(regclass);
-- One's own memberships: seen (the policy on workspaces reads them), and
-- taken along when leaving an organization.
CREATE POLICY self_read ON group_memberships FOR SELECT
    USING (user_id = hxb_actor());
CREATE POLICY self_leave ON group_memberships FOR DELETE
    USING (user_id = hxb_actor());

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY task_read ON tasks FOR SELECT
    USING (CASE WHEN workspace_id IS NOT NULL
                THEN hxb_ws_visible(workspace_id)
                ELSE hxb_org_role(organization_id) IS NOT NULL END);
CREATE POLICY task_create ON tasks FOR INSERT
    WITH CHECK (CASE WHEN workspace_id IS NOT NULL
                     THEN hxb_ws_admin(workspace_id)
                     ELSE hxb_org_role(organization_id) = 'admin' END);

-- The outbox: whoever may cause an event writes it, reads it back and
-- marks it published.
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY outbox_write ON outbox FOR ALL
    USING (CASE WHEN workspace_id IS NOT NULL
                THEN hxb_ws_admin(workspace_id)
                ELSE hxb_org_role(organization_id) = 'admin' END);

-- The audit log: organization admins read their organization's; anyone
-- appends about themselves or an organization they belong to.
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_read ON audit_log FOR SELECT
    USING (hxb_org_role(organization_id) = 'admin');
CREATE POLICY audit_append ON audit_log FOR INSERT
    WITH CHECK (organization_id IS NULL
                OR hxb_org_role(organization_id) IS NOT NULL);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY idempotency_own ON idempotency_keys FOR ALL
    USING (user_id = hxb_actor());

GRANT SELECT, INSERT, UPDATE, DELETE ON invitations, idempotency_keys
    TO hxb_app;
GRANT SELECT, INSERT, UPDATE ON outbox TO hxb_app;

/*
 * Accepting an invitation: the invitee is not yet a member, so cannot see
 * it under RLS.  This function does the whole of it for the acting user
 * alone, given the token's hash: 'accepted' (with the organization and
 * role), or 'unknown', 'used', 'expired', or 'mismatch' when the acting
 * user's verified email is not the one invited.
 */
CREATE FUNCTION hxb_invitation_accept(hash bytea,
    OUT result text, OUT organization_id text, OUT role text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    inv invitations;
    me  users;
BEGIN
    SELECT * INTO inv FROM invitations WHERE token_hash = hash FOR UPDATE;
    IF NOT FOUND OR hxb_actor() IS NULL THEN
        result := 'unknown';
        RETURN;
    END IF;
    organization_id := inv.organization_id;
    role := inv.role;
    IF inv.accepted_at IS NOT NULL THEN
        result := 'used';
        RETURN;
    END IF;
    IF inv.expires_at <= now() THEN
        result := 'expired';
        RETURN;
    END IF;
    SELECT * INTO me FROM users WHERE id = hxb_actor();
    IF NOT FOUND OR NOT me.email_verified
       OR lower(me.email) <> lower(inv.email) THEN
        result := 'mismatch';
        RETURN;
    END IF;
    INSERT INTO organization_users (organization_id, user_id, role)
        VALUES (inv.organization_id, me.id, inv.role)
        ON CONFLICT ON CONSTRAINT organization_users_pkey DO NOTHING;
    UPDATE invitations SET accepted_at = now(), accepted_by = me.id
        WHERE id = inv.id;
    result := 'accepted';
END $$;
REVOKE ALL ON FUNCTION hxb_invitation_accept(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_invitation_accept(bytea) TO hxb_app;

-- The audit endpoint pages an organization's entries newest first.
CREATE INDEX audit_log_org_id_idx ON audit_log (organization_id, id);
