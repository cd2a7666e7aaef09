-- 0001_init: the tables the specification names, with their keys and
-- invariants, and the public plan catalog.
--
-- Identifiers are generated in C (shared/id.c): a prefix and a 26-character
-- lowercase ULID body.  The CHECKs below hold the database to that format,
-- so an id is always a valid DNS label and safe in Kubernetes names.
--
-- The application connects as the role hxb_app, which the deployment
-- creates (LOGIN, NOSUPERUSER, NOBYPASSRLS); this file grants it the
-- privileges it needs and no more.  jobs/migrate runs as the owner.

CREATE FUNCTION hxb_id_ok(id text, prefix text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN id ~ ('^' || prefix || '[0-7][0-9a-hjkmnp-tv-z]{25}$');

CREATE FUNCTION hxb_dns_label_ok(name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN name ~ '^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$';

CREATE FUNCTION hxb_touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TABLE users (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'hxb-usr-')),
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$'
                                         AND length(email) <= 254),
    email_verified  boolean NOT NULL DEFAULT false,
    display_name    text NOT NULL DEFAULT ''
                    CHECK (length(display_name) <= 200),
    avatar_url      text CHECK (avatar_url ~ '^https://' AND
                                length(avatar_url) <= 2048),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'org-')),
    name            text NOT NULL UNIQUE CHECK (hxb_dns_label_ok(name)),
    display_name    text NOT NULL DEFAULT ''
                    CHECK (length(display_name) <= 200),
    is_personal     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organization_users (
    organization_id text NOT NULL REFERENCES organizations ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_users_user_idx ON organization_users (user_id);

-- Quotas are stored as integers in fixed units and rendered as Kubernetes
-- quantities by the API (cpu in millicores, memory in MiB, storage in GiB).
CREATE TABLE plans (
    id                  text PRIMARY KEY CHECK (hxb_dns_label_ok(id)),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description         text NOT NULL DEFAULT ''
                        CHECK (length(description) <= 1000),
    price_cents         integer NOT NULL CHECK (price_cents >= 0),
    currency            text NOT NULL DEFAULT 'usd'
                        CHECK (currency ~ '^[a-z]{3}$'),
    cpu_millicores      integer NOT NULL CHECK (cpu_millicores > 0),
    memory_mib          integer NOT NULL CHECK (memory_mib > 0),
    storage_gib         integer NOT NULL CHECK (storage_gib > 0),
    max_pods            integer NOT NULL CHECK (max_pods > 0),
    max_services        integer NOT NULL CHECK (max_services > 0),
    max_pvcs            integer NOT NULL CHECK (max_pvcs >= 0),
    max_projects        integer NOT NULL CHECK (max_projects > 0),
    max_members         integer NOT NULL CHECK (max_members > 0),
    isolation           text NOT NULL
                        CHECK (isolation IN ('pool', 'bridge', 'silo')),
    sort_order          integer NOT NULL DEFAULT 0,
    active              boolean NOT NULL DEFAULT true,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_catalog_idx ON plans (sort_order, id) WHERE active;

CREATE TABLE workspaces (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'ws-')),
    organization_id text NOT NULL REFERENCES organizations ON DELETE RESTRICT,
    name            text NOT NULL CHECK (hxb_dns_label_ok(name)),
    plan_id         text NOT NULL REFERENCES plans ON DELETE RESTRICT,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'provisioning', 'running',
                                      'failed', 'suspended', 'deleting',
                                      'deleted')),
    status_reason   text NOT NULL DEFAULT ''
                    CHECK (length(status_reason) <= 1000),
    created_by      text REFERENCES users ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, name)
);

CREATE TABLE projects (
    id                  text PRIMARY KEY CHECK (hxb_id_ok(id, 'prj-')),
    workspace_id        text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name                text NOT NULL CHECK (hxb_dns_label_ok(name)),
    display_name        text NOT NULL DEFAULT ''
                        CHECK (length(display_name) <= 200),
    parent_project_id   text,
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'active', 'failed',
                                          'deleting')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- A project is a namespace, whose name is unique in its vCluster.
    UNIQUE (workspace_id, name),
    UNIQUE (workspace_id, id),
    -- An HNC parent lives in the same workspace.
    FOREIGN KEY (workspace_id, parent_project_id)
        REFERENCES projects (workspace_id, id) ON DELETE RESTRICT,
    CHECK (parent_project_id IS NULL OR parent_project_id <> id)
);

CREATE TABLE groups (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'grp-')),
    workspace_id    text NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z][A-Za-z0-9_.-]{0,62}$'),
    parent_id       text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, name),
    UNIQUE (workspace_id, id),
    -- A parent is in the same workspace: the composite key enforces it.
    FOREIGN KEY (workspace_id, parent_id)
        REFERENCES groups (workspace_id, id) ON DELETE RESTRICT,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX groups_parent_idx ON groups (parent_id);

CREATE TABLE group_memberships (
    group_id        text NOT NULL REFERENCES groups ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_memberships_user_idx ON group_memberships (user_id);

-- Custom project Roles: Kubernetes PolicyRules kept as JSON.
CREATE TABLE roles (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'role-')),
    project_id      text NOT NULL REFERENCES projects ON DELETE CASCADE,
    name            text NOT NULL CHECK (hxb_dns_label_ok(name)),
    rules           jsonb NOT NULL DEFAULT '[]'
                    CHECK (jsonb_typeof(rules) = 'array'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE role_assignments (
    role_id         text NOT NULL REFERENCES roles ON DELETE CASCADE,
    group_id        text NOT NULL REFERENCES groups ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role_id, group_id)
);
CREATE INDEX role_assignments_group_idx ON role_assignments (group_id);

-- Preset ClusterRoles bound to workspace groups.
CREATE TABLE cluster_role_assignments (
    group_id        text NOT NULL REFERENCES groups ON DELETE CASCADE,
    cluster_role    text NOT NULL CHECK (cluster_role IN
                        ('hexabase:workspace-admin',
                         'hexabase:workspace-viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, cluster_role)
);

CREATE TABLE tasks (
    id              text PRIMARY KEY CHECK (hxb_id_ok(id, 'task-')),
    type            text NOT NULL CHECK (type ~ '^[a-z][a-z_]{0,62}$'),
    organization_id text REFERENCES organizations ON DELETE CASCADE,
    workspace_id    text REFERENCES workspaces ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'running', 'succeeded',
                                      'failed', 'cancelled')),
    step            text NOT NULL DEFAULT '',
    progress        smallint NOT NULL DEFAULT 0
                    CHECK (progress BETWEEN 0 AND 100),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    payload         jsonb NOT NULL DEFAULT '{}'
                    CHECK (jsonb_typeof(payload) = 'object'),
    last_error      text NOT NULL DEFAULT '',
    request_id      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    CHECK ((status IN ('succeeded', 'failed', 'cancelled'))
           = (finished_at IS NOT NULL))
);
CREATE INDEX tasks_workspace_idx ON tasks (workspace_id, created_at);
CREATE INDEX tasks_open_idx ON tasks (status, updated_at)
    WHERE status IN ('pending', 'running');

-- Append-only: hxb_app may insert and read, never change or delete.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    organization_id text,
    workspace_id    text,
    actor_id        text,
    action          text NOT NULL CHECK (action ~ '^[a-z][a-z_.]{0,99}$'),
    resource        text NOT NULL CHECK (length(resource) <= 500),
    result          text NOT NULL DEFAULT 'success'
                    CHECK (result IN ('success', 'failure')),
    before          jsonb,
    after           jsonb,
    request_id      text NOT NULL DEFAULT '',
    ip              inet
);
CREATE INDEX audit_log_org_idx ON audit_log (organization_id, occurred_at);
CREATE INDEX audit_log_ws_idx ON audit_log (workspace_id, occurred_at);

CREATE FUNCTION hxb_audit_log_immutable() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION hxb_audit_log_immutable();

CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER plans_touch BEFORE UPDATE ON plans
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER workspaces_touch BEFORE UPDATE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER groups_touch BEFORE UPDATE ON groups
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER roles_touch BEFORE UPDATE ON roles
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();
CREATE TRIGGER tasks_touch BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();

INSERT INTO plans (id, name, description, price_cents, cpu_millicores,
                   memory_mib, storage_gib, max_pods, max_services, max_pvcs,
                   max_projects, max_members, isolation, sort_order)
VALUES
    ('free', 'Free', 'A shared vCluster for trying things out.',
     0, 2000, 4096, 10, 20, 10, 5, 3, 5, 'pool', 10),
    ('pro', 'Pro', 'More room, for teams running real workloads.',
     4900, 8000, 16384, 100, 100, 50, 20, 20, 50, 'bridge', 20),
    ('enterprise', 'Enterprise', 'Dedicated nodes and the largest quotas.',
     49900, 32000, 65536, 500, 500, 200, 100, 100, 500, 'silo', 30);

-- The application role: data access only, never DDL, never the history
-- of migrations, and the audit log is append-only.
GRANT USAGE ON SCHEMA public TO hxb_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    users, organizations, organization_users, workspaces, projects, groups,
    group_memberships, roles, role_assignments, cluster_role_assignments,
    tasks
    TO hxb_app;
GRANT SELECT ON plans TO hxb_app;
GRANT SELECT, INSERT ON audit_log TO hxb_app;
