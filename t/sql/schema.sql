-- pgTAP: what 0001_init.sql guarantees.  Run by t/sql/schema.t.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(64);

-- The tables the specification names, and the migration record.
SELECT has_table(t) FROM unnest(ARRAY[
    'users', 'organizations', 'organization_users', 'plans', 'workspaces',
    'projects', 'groups', 'group_memberships', 'roles', 'role_assignments',
    'cluster_role_assignments', 'tasks', 'audit_log',
    'schema_migrations']) AS t;

SELECT col_is_pk('users', 'id');
SELECT col_is_pk('organization_users', ARRAY['organization_id', 'user_id']);
SELECT col_is_pk('group_memberships', ARRAY['group_id', 'user_id']);
SELECT col_is_pk('role_assignments', 'id');
SELECT col_is_pk('cluster_role_assignments', ARRAY['group_id', 'cluster_role']);
SELECT fk_ok('workspaces', 'organization_id', 'organizations', 'id');
SELECT fk_ok('workspaces', 'plan_id', 'plans', 'id');
SELECT fk_ok('projects', 'workspace_id', 'workspaces', 'id');
SELECT fk_ok('group_memberships', 'user_id', 'users', 'id');
SELECT fk_ok('role_assignments', 'role_id', 'roles', 'id');

-- The plan catalog.
SELECT results_eq(
    'SELECT id, isolation FROM plans ORDER BY sort_order',
    $$VALUES ('free', 'pool'), ('pro', 'bridge'), ('enterprise', 'silo')$$,
    'free, pro and enterprise are seeded with their isolation tiers');
SELECT is((SELECT count(*) FROM plans WHERE cpu_millicores > 0
    AND memory_mib > 0 AND storage_gib > 0 AND max_pods > 0
    AND max_services > 0 AND max_pvcs > 0 AND max_projects > 0
    AND max_members > 0)::int, 3, 'every plan has every quota');
SELECT ok((SELECT bool_and(a.cpu_millicores < b.cpu_millicores)
    FROM plans a JOIN plans b ON a.sort_order < b.sort_order),
    'quotas grow with the plan');
SELECT throws_ok($$INSERT INTO plans (id, name, price_cents, cpu_millicores,
    memory_mib, storage_gib, max_pods, max_services, max_pvcs, max_projects,
    max_members, isolation) VALUES ('x', 'X', 0, 1, 1, 1, 1, 1, 0, 1, 1,
    'dedicated')$$, '23514', NULL, 'isolation is pool, bridge or silo');
SELECT throws_ok($$UPDATE plans SET cpu_millicores = 0 WHERE id = 'free'$$,
    '23514', NULL, 'quotas are positive');

-- Identifier and name formats.
SELECT ok(hxb_id_ok('org-01jd3k6q9n8x2c4v5b7m0p1r2t', 'org-'), 'a good org id');
SELECT ok(NOT hxb_id_ok('org-01JD3K6Q9N8X2C4V5B7M0P1R2T', 'org-'), 'uppercase refused');
SELECT ok(NOT hxb_id_ok('org-01jd3k6q9n8x2c4v5b7m0p1r2', 'org-'), 'short body refused');
SELECT ok(NOT hxb_id_ok('org-81jd3k6q9n8x2c4v5b7m0p1r2t', 'org-'), 'time overflow refused');
SELECT ok(NOT hxb_id_ok('org-01jd3k6q9n8x2c4v5b7m0p1r2u', 'org-'), 'u is not Crockford');
SELECT ok(NOT hxb_id_ok('ws-01jd3k6q9n8x2c4v5b7m0p1r2t', 'org-'), 'wrong prefix refused');
SELECT ok(hxb_dns_label_ok('my-team'), 'a DNS label');
SELECT ok(NOT hxb_dns_label_ok('My-Team'), 'uppercase is not a DNS label');
SELECT ok(NOT hxb_dns_label_ok('-x'), 'leading dash refused');
SELECT ok(NOT hxb_dns_label_ok('x-'), 'trailing dash refused');
SELECT ok(NOT hxb_dns_label_ok(repeat('a', 64)), '64 characters refused');

SELECT throws_ok($$INSERT INTO organizations (id, name) VALUES
    ('org-bad', 'acme')$$, '23514', NULL, 'a malformed org id is refused');
SELECT lives_ok($$INSERT INTO organizations (id, name) VALUES
    ('org-01jd3k6q9n8x2c4v5b7m0p1r2t', 'acme')$$, 'a good org');
SELECT throws_ok($$INSERT INTO organizations (id, name) VALUES
    ('org-01jd3k6q9n8x2c4v5b7m0p1r2v', 'acme')$$, '23505', NULL,
    'organization names are unique');
SELECT throws_ok($$INSERT INTO organizations (id, name) VALUES
    ('org-01jd3k6q9n8x2c4v5b7m0p1r2w', 'Acme Corp')$$, '23514', NULL,
    'an organization name is a DNS label');
SELECT lives_ok($$INSERT INTO users (id, email) VALUES
    ('hxb-usr-01jd3k6q9n8x2c4v5b7m0p1r2t', 'Ada@Example.org')$$, 'a user');
SELECT throws_ok($$INSERT INTO users (id, email) VALUES
    ('hxb-usr-01jd3k6q9n8x2c4v5b7m0p1r2v', 'ada@example.ORG')$$, '23505',
    NULL, 'emails are unique regardless of case');
SELECT throws_ok($$INSERT INTO organization_users VALUES
    ('org-01jd3k6q9n8x2c4v5b7m0p1r2t', 'hxb-usr-01jd3k6q9n8x2c4v5b7m0p1r2t',
    'owner')$$, '23514', NULL, 'an org role is admin or member');

SELECT throws_ok($$INSERT INTO workspaces (id, organization_id, name, plan_id)
    VALUES ('ws-01jd3k6q9n8x2c4v5b7m0p1r2t', 'org-01jd3k6q9n8x2c4v5b7m0p1r2x',
    'dev', 'free')$$, '23503', NULL, 'a workspace needs its organization');
SELECT lives_ok($$INSERT INTO workspaces (id, organization_id, name, plan_id)
    VALUES ('ws-01jd3k6q9n8x2c4v5b7m0p1r2t', 'org-01jd3k6q9n8x2c4v5b7m0p1r2t',
    'dev', 'free'), ('ws-01jd3k6q9n8x2c4v5b7m0p1r2v',
    'org-01jd3k6q9n8x2c4v5b7m0p1r2t', 'prod', 'pro')$$, 'two workspaces');
SELECT is((SELECT status FROM workspaces WHERE name = 'dev'), 'pending',
    'a workspace starts pending');
SELECT throws_ok($$UPDATE workspaces SET status = 'ready' WHERE name = 'dev'$$,
    '23514', NULL, 'workspace status is from the known set');
SELECT throws_ok($$DELETE FROM organizations$$, '23503', NULL,
    'an organization with workspaces cannot be deleted');

SELECT lives_ok($$INSERT INTO groups (id, workspace_id, name) VALUES
    ('grp-01jd3k6q9n8x2c4v5b7m0p1r2t', 'ws-01jd3k6q9n8x2c4v5b7m0p1r2t',
    'WorkspaceMembers')$$, 'a root group');
SELECT throws_ok($$INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-01jd3k6q9n8x2c4v5b7m0p1r2v', 'ws-01jd3k6q9n8x2c4v5b7m0p1r2v',
    'WSAdmins', 'grp-01jd3k6q9n8x2c4v5b7m0p1r2t')$$, '23503', NULL,
    'a parent group must be in the same workspace');
SELECT throws_ok($$INSERT INTO cluster_role_assignments
    (id, workspace_id, group_id, cluster_role) VALUES
    ('cra-01jd3k6q9n8x2c4v5b7m0p1r2t', 'ws-01jd3k6q9n8x2c4v5b7m0p1r2t',
    'grp-01jd3k6q9n8x2c4v5b7m0p1r2t', 'cluster-admin')$$, '23514', NULL,
    'only the preset ClusterRoles can be bound');
SELECT throws_ok($$INSERT INTO tasks (id, type, status) VALUES
    ('task-01jd3k6q9n8x2c4v5b7m0p1r2t', 'create_workspace', 'succeeded')$$,
    '23514', NULL, 'a finished task has finished_at');

-- The audit log is append-only, even for its owner.
SELECT lives_ok($$INSERT INTO audit_log (action, resource) VALUES
    ('organization.create', 'organizations/acme')$$, 'audit entries insert');
SELECT throws_ok($$UPDATE audit_log SET resource = 'x'$$, '42501', NULL,
    'audit entries cannot change');
SELECT throws_ok($$DELETE FROM audit_log$$, '42501', NULL,
    'audit entries cannot be deleted');

-- The application role: data only, no bypass of row-level security.
SELECT is((SELECT rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb
    FROM pg_roles WHERE rolname = 'hxb_app'), false,
    'hxb_app is no superuser, cannot bypass RLS or create roles');
SELECT table_privs_are('public', 'plans', 'hxb_app', ARRAY['SELECT'],
    'hxb_app only reads plans');
SELECT table_privs_are('public', 'audit_log', 'hxb_app',
    ARRAY['INSERT', 'SELECT'], 'hxb_app appends to and reads the audit log');
SELECT table_privs_are('public', 'schema_migrations', 'hxb_app', '{}',
    'hxb_app cannot see the migration history');
SET ROLE hxb_app;
SELECT throws_ok($$CREATE TABLE hxb_app_table (id int)$$, '42501', NULL,
    'hxb_app cannot create tables');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
