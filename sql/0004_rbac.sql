-- 0004_rbac: what the projects, groups and rbac handlers need: the
-- caller's access to a workspace in one call, hierarchies that cannot
-- loop, built-in groups that stay, project names that are namespaces, and
-- an RBAC-sync task for every change to who may do what in a workspace,
-- written by the database itself in the transaction of the change.

-- ---- access -----------------------------------------------------------------

/*
 * The acting user's access to a workspace: 'org_admin' (an admin of its
 * organization), 'admin' (an effective group bound to
 * hexabase:workspace-admin), 'viewer' (any group in it), or NULL (does not
 * see it: a stranger, or an organization member without a group).  The
 * relation shared/authz.c judges workspace routes by.
 */
CREATE FUNCTION hxb_ws_access(ws text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
DECLARE
    org_role text;
BEGIN
    SELECT ou.role INTO org_role FROM workspaces w
        JOIN organization_users ou ON ou.organization_id = w.organization_id
        WHERE w.id = ws AND ou.user_id = hxb_actor();
    IF org_role IS NULL THEN
        RETURN NULL;
    ELSIF org_role = 'admin' THEN
        RETURN 'org_admin';
    ELSIF NOT EXISTS (SELECT FROM group_memberships m
                      WHERE m.workspace_id = ws
                      AND m.user_id = hxb_actor()) THEN
        RETURN NULL;
    ELSIF EXISTS (SELECT FROM cluster_role_assignments c
                  WHERE c.workspace_id = ws
                  AND c.cluster_role = 'hexabase:workspace-admin'
                  AND c.group_id IN (SELECT e.group_id
                      FROM hxb_effective_groups(ws, hxb_actor()) e)) THEN
        RETURN 'admin';
    END IF;
    RETURN 'viewer';
END $$;
REVOKE ALL ON FUNCTION hxb_ws_access(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_ws_access(text) TO hxb_app;

-- The same rule for reading workspaces as 0003's, with each set of the
-- acting user's rows read once per query into an array (an InitPlan)
-- instead of a hashed subplan: the policy is evaluated for every read of
-- a workspace, and for the one-row read by id this is about a fifth
-- more reads a second (pgbench, 4 clients, 3 rounds of 8 s: 26 700
-- against 22 500), with pages of 100 no slower.  A user's sets are small
-- (the organizations they belong to, the workspaces where they hold a
-- group), so a linear probe of them per row costs nothing.
ALTER POLICY ws_read ON workspaces
    USING (organization_id = ANY (ARRAY(SELECT ou.organization_id
                                        FROM organization_users ou
                                        WHERE ou.user_id = hxb_actor()
                                        AND ou.role = 'admin'))
           OR (id = ANY (ARRAY(SELECT m.workspace_id
                               FROM group_memberships m
                               WHERE m.user_id = hxb_actor()))
               AND organization_id = ANY (ARRAY(SELECT ou.organization_id
                                                FROM organization_users ou
                                                WHERE ou.user_id = hxb_actor()))));

-- ---- groups -----------------------------------------------------------------

-- The default groups every workspace is created with (WorkspaceMembers,
-- WSAdmins, WSUsers) are built in: bound by the preset ClusterRole
-- assignments and named in every workspace token, they are neither
-- renamed, moved nor deleted.
ALTER TABLE groups ADD COLUMN builtin boolean NOT NULL DEFAULT false;
UPDATE groups SET builtin = true
    WHERE name IN ('WorkspaceMembers', 'WSAdmins', 'WSUsers');


-- ---- projects ---------------------------------------------------------------

-- A project's name is its namespace in the vCluster: an RFC 1123 label,
-- and not one Kubernetes keeps for itself.
ALTER TABLE projects DROP CONSTRAINT projects_name_check;
ALTER TABLE projects ADD CONSTRAINT projects_name_check
    CHECK (name ~ '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$'
           AND name <> 'default' AND name !~ '^kube-');
-- Quotas are counts and sizes in the plans' units, each a whole number.
ALTER TABLE projects ADD CONSTRAINT projects_quota_shape
    CHECK (NOT jsonb_path_exists(quota, '$.* ? (@.type() != "number" || @ < 0 || @ > 1000000000)'));

-- A role has rules (the API checks each against the admin ceiling).
ALTER TABLE roles ALTER COLUMN rules DROP DEFAULT;
ALTER TABLE roles ADD CONSTRAINT roles_rules_limit
    CHECK (jsonb_array_length(rules) BETWEEN 1 AND 100);
CREATE INDEX roles_project_idx ON roles (project_id, id);
CREATE INDEX role_assignments_project_idx ON role_assignments (project_id, id);
CREATE INDEX cluster_role_assignments_ws_id_idx
    ON cluster_role_assignments (workspace_id, id);

-- ---- hierarchies without loops ---------------------------------------------

/*
 * The lock under which a workspace's group (or project) hierarchy
 * changes.  A handler that moves something takes it before it locks any
 * row: the check below takes it too, but only after the row being
 * updated is locked, and the foreign-key check of a concurrent move
 * towards that row would then wait on it while holding this lock.
 */
CREATE FUNCTION hxb_tree_lock(tbl text, ws text) RETURNS void
    LANGUAGE sql VOLATILE
    RETURN pg_advisory_xact_lock(hashtextextended('tree ' || tbl || ' ' || ws, 7));
GRANT EXECUTE ON FUNCTION hxb_tree_lock(text, text) TO hxb_app;

/*
 * A group (or a project) may not become its own ancestor.  The check runs
 * under the workspace's hierarchy lock, so two moves that are each fine
 * alone (A under B, B under A) cannot both pass: the second waits for the
 * first to commit, then sees it (PL/pgSQL statements take a new snapshot
 * in READ COMMITTED).  SQLSTATE HXC01; the handlers answer 422.
 */
CREATE FUNCTION hxb_no_cycle() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    parent text;
    looped boolean;
BEGIN
    IF TG_TABLE_NAME = 'groups' THEN
        parent := NEW.parent_id;
    ELSE
        parent := NEW.parent_project_id;
    END IF;
    PERFORM hxb_tree_lock(TG_TABLE_NAME, NEW.workspace_id);
    IF TG_TABLE_NAME = 'groups' THEN
        WITH RECURSIVE up(id) AS (
            SELECT parent
            UNION
            SELECT g.parent_id FROM up JOIN groups g ON g.id = up.id
            WHERE g.parent_id IS NOT NULL
        )
        SELECT EXISTS (SELECT FROM up WHERE up.id = NEW.id) INTO looped;
    ELSE
        WITH RECURSIVE up(id) AS (
            SELECT parent
            UNION
            SELECT p.parent_project_id FROM up JOIN projects p
                ON p.id = up.id
            WHERE p.parent_project_id IS NOT NULL
        )
        SELECT EXISTS (SELECT FROM up WHERE up.id = NEW.id) INTO looped;
    END IF;
    IF looped THEN
        RAISE EXCEPTION '% % would become its own ancestor',
            TG_TABLE_NAME, NEW.id USING ERRCODE = 'HXC01';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER groups_no_cycle BEFORE UPDATE OF parent_id ON groups
    FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL
                       AND NEW.parent_id IS DISTINCT FROM OLD.parent_id)
    EXECUTE FUNCTION hxb_no_cycle();
CREATE TRIGGER projects_no_cycle BEFORE UPDATE OF parent_project_id
    ON projects
    FOR EACH ROW WHEN (NEW.parent_project_id IS NOT NULL AND
                       NEW.parent_project_id IS DISTINCT FROM
                       OLD.parent_project_id)
    EXECUTE FUNCTION hxb_no_cycle();

-- ---- ids made in SQL ------------------------------------------------------

/*
 * An id in the format of shared/id.c (a prefix and a lowercase ULID: 48
 * bits of milliseconds, 80 random bits, Crockford base32), for rows the
 * database writes itself.  The randomness is gen_random_uuid()'s, less
 * its version and variant bits.
 */
CREATE FUNCTION hxb_new_id(prefix text) RETURNS text
    LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    digits constant text := '0123456789abcdefghjkmnpqrstvwxyz';
    ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    u bytea := uuid_send(gen_random_uuid());
    hi bigint := 0;
    lo bigint := 0;
    s text := '';
    i int;
BEGIN
    FOR i IN 0..4 LOOP
        hi := (hi << 8) | get_byte(u, i);
        lo := (lo << 8) | get_byte(u, 10 + i);
    END LOOP;
    FOR i IN REVERSE 9..0 LOOP
        s := s || substr(digits, ((ms >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    FOR i IN REVERSE 7..0 LOOP
        s := s || substr(digits, ((hi >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    FOR i IN REVERSE 7..0 LOOP
        s := s || substr(digits, ((lo >> (5 * i)) & 31)::int + 1, 1);
    END LOOP;
    RETURN prefix || s;
END $$;

-- ---- RBAC sync ----------------------------------------------------------------

-- The transaction that wrote a row, exactly (subtransactions included;
-- xmin would name a subtransaction): to know a workspace made by this
-- very transaction, and the outbox rows it has to publish.
ALTER TABLE workspaces
    ADD COLUMN created_xact xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE outbox
    ADD COLUMN created_xact xid8 NOT NULL DEFAULT pg_current_xact_id();

-- One pending RBAC-sync task per workspace: changes made before a worker
-- takes it are all in the state it reads.
CREATE UNIQUE INDEX tasks_rbac_sync_pending ON tasks (workspace_id)
    WHERE type = 'rbac_sync' AND status = 'pending';

/*
 * Every change to a workspace's groups, memberships, projects, roles or
 * assignments enqueues its RBAC sync, here, in the transaction of the
 * change, whatever the handler does: a task (coalesced into the pending
 * one, if there is one) and its outbox row for the publisher.  Not for a
 * workspace created in this same transaction (provisioning applies its
 * RBAC), nor one on its way out.  The request id comes from the
 * transaction-local hxb.request_id.
 */
CREATE FUNCTION hxb_rbac_sync(ws text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    org text;
    task text := hxb_new_id('task-');
    rid text := coalesce(current_setting('hxb.request_id', true), '');
    payload jsonb;
BEGIN
    SELECT w.organization_id INTO org FROM workspaces w
        WHERE w.id = ws AND w.status NOT IN ('deleting', 'deleted')
        AND w.created_xact <> pg_current_xact_id();
    IF NOT FOUND THEN
        RETURN;
    END IF;
    payload := jsonb_build_object('task_id', task, 'type', 'rbac_sync',
        'organization_id', org, 'workspace_id', ws, 'request_id', rid,
        'spec', '{}'::jsonb);
    INSERT INTO tasks (id, type, organization_id, workspace_id, payload,
                       request_id, created_by)
        VALUES (task, 'rbac_sync', org, ws, payload, rid, hxb_actor())
        ON CONFLICT (workspace_id)
            WHERE type = 'rbac_sync' AND status = 'pending'
        DO NOTHING;
    IF FOUND THEN
        INSERT INTO outbox (organization_id, workspace_id, subject, payload)
            VALUES (org, ws, 'hexabase.cp.workspace.rbac_sync', payload);
    END IF;
END $$;
REVOKE ALL ON FUNCTION hxb_rbac_sync(text) FROM PUBLIC;

CREATE FUNCTION hxb_rbac_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM hxb_rbac_sync(OLD.workspace_id);
    ELSE
        PERFORM hxb_rbac_sync(NEW.workspace_id);
    END IF;
    RETURN NULL;
END $$;

/*
 * Row triggers, so that an update counts only when it changes what the
 * vCluster is told (not a status or a timestamp the jobs write back).
 * Rows sharing a workspace coalesce into its one pending task.
 */
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('projects', 'name, parent_project_id, quota'),
        ('groups', 'name, parent_id'),
        ('group_memberships', 'group_id, user_id'),
        ('roles', 'name, rules'),
        ('role_assignments', 'group_id, role_id, preset'),
        ('cluster_role_assignments', 'group_id, cluster_role'))
        AS v(tbl, cols) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR DELETE ON %I '
            'FOR EACH ROW EXECUTE FUNCTION hxb_rbac_changed()',
            t.tbl || '_rbac', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I '
            'FOR EACH ROW WHEN ((OLD.workspace_id, %s) IS DISTINCT FROM '
            '(NEW.workspace_id, %s)) '
            'EXECUTE FUNCTION hxb_rbac_changed()',
            t.tbl || '_rbac_upd', t.tbl,
            regexp_replace(t.cols, '(\w+)', 'OLD.\1', 'g'),
            regexp_replace(t.cols, '(\w+)', 'NEW.\1', 'g'));
    END LOOP;
END $$;

-- What this transaction left in the outbox, for the handler to publish
-- after its commit (the rows the RBAC-sync triggers wrote among them).
-- Marking them published afterwards goes through the outbox's policy.
CREATE FUNCTION hxb_outbox_mine() RETURNS TABLE (id bigint, subject text,
    payload text, task_id text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT o.id, o.subject, o.payload::text,
        o.payload->>'task_id' FROM outbox o
        WHERE o.published_at IS NULL
        AND o.created_xact = pg_current_xact_id()
        ORDER BY o.id;
END $$;
REVOKE ALL ON FUNCTION hxb_outbox_mine() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_outbox_mine() TO hxb_app;

-- Idempotency records now hold a digest of the client's key and the
-- answer sealed under a key derived from it (shared/tenant.c); those
-- kept in clear until now go (they lived a day at most in use anyway).
DELETE FROM idempotency_keys;
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_digest
    CHECK (key ~ '^[0-9a-f]{64}$');
