-- pgTAP: tenant isolation by row-level security (0003_tenancy.sql).
-- Run by t/sql/tenancy.t.  Organization A (admin a, members m and n, m in
-- a group of workspace A1) and organization B (admin b) are set up as the
-- superuser; then every check runs as hxb_app acting as one user.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(52);

INSERT INTO users (id, email) VALUES
    ('hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'rls-a@example.test'), ('hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'rls-b@example.test'),
    ('hxb-usr-0ccccccccccccccccccccccccc', 'rls-m@example.test'), ('hxb-usr-0ddddddddddddddddddddddddd', 'rls-n@example.test'),
    ('hxb-usr-0eeeeeeeeeeeeeeeeeeeeeeeee', 'rls-c@example.test');
INSERT INTO organizations (id, name) VALUES ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'rls-org-a'), ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'rls-org-b');
INSERT INTO organization_users VALUES
    ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'admin'), ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0ccccccccccccccccccccccccc', 'member'),
    ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0ddddddddddddddddddddddddd', 'member'), ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'admin');
INSERT INTO workspaces (id, organization_id, name, plan_id) VALUES
    ('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'a1', 'free'), ('ws-0ccccccccccccccccccccccccc', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'a2', 'free'),
    ('ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'b1', 'free');
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'WorkspaceMembers', NULL),
    ('grp-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'WorkspaceMembers', NULL);
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-0ccccccccccccccccccccccccc', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'WSAdmins', 'grp-0aaaaaaaaaaaaaaaaaaaaaaaaa'), ('grp-0ddddddddddddddddddddddddd', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'WSUsers', 'grp-0aaaaaaaaaaaaaaaaaaaaaaaaa');
INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES
    ('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0ddddddddddddddddddddddddd', 'hxb-usr-0ccccccccccccccccccccccccc'), ('ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'grp-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb');
INSERT INTO cluster_role_assignments (id, workspace_id, group_id, cluster_role) VALUES
    ('cra-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0ccccccccccccccccccccccccc', 'hexabase:workspace-admin'),
    ('cra-0ccccccccccccccccccccccccc', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hexabase:workspace-viewer'),
    ('cra-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'grp-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hexabase:workspace-admin');
INSERT INTO projects (id, workspace_id, name) VALUES
    ('prj-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'web'), ('prj-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'web');
INSERT INTO roles (id, workspace_id, project_id, name, rules) VALUES
    ('role-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'deployer', '[{"api_groups":["apps"],"resources":["deployments"],"verbs":["get"]}]'), ('role-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'prj-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'deployer', '[{"api_groups":["apps"],"resources":["deployments"],"verbs":["get"]}]');
INSERT INTO role_assignments (id, workspace_id, project_id, role_id, group_id) VALUES
    ('ra-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'role-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0ddddddddddddddddddddddddd'),
    ('ra-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'prj-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'role-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'grp-0bbbbbbbbbbbbbbbbbbbbbbbbb');
INSERT INTO tasks (id, type, organization_id, workspace_id) VALUES
    ('task-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'create_workspace', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'),
    ('task-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'create_workspace', 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb');
INSERT INTO invitations (id, organization_id, email, role, token_hash, expires_at) VALUES
    ('inv-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'x@example.test', 'member', sha256('a'), now() + interval '7 days'),
    ('inv-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'x@example.test', 'member', sha256('b'), now() + interval '7 days');
INSERT INTO audit_log (organization_id, actor_id, action, resource) VALUES
    ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'organization.create', 'organizations/org-0aaaaaaaaaaaaaaaaaaaaaaaaa'),
    ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'organization.create', 'organizations/org-0bbbbbbbbbbbbbbbbbbbbbbbbb');
INSERT INTO outbox (organization_id, workspace_id, subject, payload) VALUES
    ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb.workspace.create', '{}');
INSERT INTO idempotency_keys (user_id, key, route, request_hash, status, response) VALUES
    ('hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb', encode(sha256('k1'), 'hex'), 'create_org', sha256('x'), 201, 'sealed');

-- The effective groups: direct ones and every ancestor.
SELECT set_eq($$SELECT group_id FROM hxb_effective_groups('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0ccccccccccccccccccccccccc')$$,
    ARRAY['grp-0ddddddddddddddddddddddddd', 'grp-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'effective groups: WSUsers and its parent WorkspaceMembers');
SELECT is_empty($$SELECT group_id FROM hxb_effective_groups('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0ddddddddddddddddddddddddd')$$,
    'no membership, no effective group');

-- Rows a statement changed, for the checks that must change none.
CREATE FUNCTION pg_temp.affected(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    EXECUTE q;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

SET ROLE hxb_app;

-- No acting user: nothing at all.
SELECT is((SELECT count(*)::int FROM organizations) + (SELECT count(*)::int FROM workspaces)
    + (SELECT count(*)::int FROM groups) + (SELECT count(*)::int FROM organization_users)
    + (SELECT count(*)::int FROM group_memberships) + (SELECT count(*)::int FROM projects)
    + (SELECT count(*)::int FROM roles) + (SELECT count(*)::int FROM role_assignments)
    + (SELECT count(*)::int FROM cluster_role_assignments) + (SELECT count(*)::int FROM tasks)
    + (SELECT count(*)::int FROM invitations) + (SELECT count(*)::int FROM audit_log)
    + (SELECT count(*)::int FROM idempotency_keys), 0,
    'without an acting user no tenant table shows a row');
SELECT throws_ok($$INSERT INTO organizations (id, name) VALUES ('org-0ccccccccccccccccccccccccc', 'rls-org-c')$$,
    '42501', NULL, 'without an acting user nothing can be created');

-- Admin a of organization A: A's rows, never B's, even with no WHERE.
SET hxb.user_id = 'hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa';
SELECT set_eq('SELECT id FROM organizations', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: organizations');
SELECT set_eq('SELECT id FROM workspaces', ARRAY['ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0ccccccccccccccccccccccccc'], 'a: every workspace of A');
SELECT set_eq('SELECT id FROM groups', ARRAY['grp-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0ccccccccccccccccccccccccc', 'grp-0ddddddddddddddddddddddddd'], 'a: groups of A');
SELECT set_eq('SELECT organization_id FROM organization_users', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: members of A');
SELECT set_eq('SELECT workspace_id FROM group_memberships', ARRAY['ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: memberships of A');
SELECT set_eq('SELECT id FROM projects', ARRAY['prj-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: projects');
SELECT set_eq('SELECT id FROM roles', ARRAY['role-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: roles');
SELECT set_eq('SELECT workspace_id FROM role_assignments', ARRAY['ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: role assignments');
SELECT set_eq('SELECT workspace_id FROM cluster_role_assignments', ARRAY['ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: cluster-role assignments');
SELECT set_eq('SELECT organization_id FROM tasks', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: tasks');
SELECT set_eq('SELECT organization_id FROM invitations', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: invitations');
SELECT set_eq('SELECT organization_id FROM audit_log', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'a: the audit log of A');
SELECT is_empty('SELECT 1 FROM idempotency_keys', 'a: nobody else''s idempotency keys');
SELECT is_empty('SELECT 1 FROM outbox', 'a: no outbox row of B');
SELECT is_empty($$SELECT group_id FROM hxb_effective_groups('ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0bbbbbbbbbbbbbbbbbbbbbbbbb')$$,
    'a: the effective groups of someone in B are invisible');

-- Writing into B is refused; changing or deleting B's rows touches nothing.
SELECT throws_ok($$INSERT INTO workspaces (id, organization_id, name, plan_id)
    VALUES ('ws-0ddddddddddddddddddddddddd', 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'evil', 'free')$$, '42501', NULL,
    'a: no workspace into B');
SELECT throws_ok($$INSERT INTO organization_users VALUES ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'admin')$$,
    '42501', NULL, 'a: cannot make itself admin of B');
SELECT throws_ok($$INSERT INTO groups (id, workspace_id, name)
    VALUES ('grp-0eeeeeeeeeeeeeeeeeeeeeeeee', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'Evil')$$, '42501', NULL,
    'a: no group into a workspace of B');
SELECT throws_ok($$INSERT INTO group_memberships (workspace_id, group_id, user_id)
    VALUES ('ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'grp-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb-usr-0aaaaaaaaaaaaaaaaaaaaaaaaa')$$, '42501', NULL,
    'a: cannot join a group of B');
SELECT throws_ok($$INSERT INTO cluster_role_assignments (id, workspace_id, group_id, cluster_role)
    VALUES ('cra-0ddddddddddddddddddddddddd', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'grp-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hexabase:workspace-viewer')$$,
    '42501', NULL, 'a: no cluster-role assignment in B');
SELECT throws_ok($$INSERT INTO projects (id, workspace_id, name)
    VALUES ('prj-0ddddddddddddddddddddddddd', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'evil')$$, '42501', NULL,
    'a: no project into B');
SELECT throws_ok($$INSERT INTO tasks (id, type, organization_id, workspace_id)
    VALUES ('task-0ddddddddddddddddddddddddd', 'delete_workspace', 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb')$$,
    '42501', NULL, 'a: no task against B');
SELECT throws_ok($$INSERT INTO audit_log (organization_id, action, resource)
    VALUES ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'organization.delete', 'x')$$, '42501', NULL,
    'a: no audit entry into B');
SELECT throws_ok($$INSERT INTO outbox (organization_id, workspace_id, subject, payload)
    VALUES ('org-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb', 'hxb.workspace.delete', '{}')$$, '42501', NULL,
    'a: no event about B');
SELECT is(pg_temp.affected($q$UPDATE workspaces SET status = 'deleting'$q$), 2,
    'a: an UPDATE without WHERE changes A''s two workspaces only');
SELECT is(pg_temp.affected($q$DELETE FROM groups WHERE workspace_id = 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb'$q$), 0, 'a: deleting B''s groups deletes nothing');
SELECT is(pg_temp.affected($q$DELETE FROM organizations WHERE id = 'org-0bbbbbbbbbbbbbbbbbbbbbbbbb'$q$), 0, 'a: deleting B deletes nothing');
SELECT lives_ok($$INSERT INTO groups (id, workspace_id, name)
    VALUES ('grp-0fffffffffffffffffffffffff', 'ws-0ccccccccccccccccccccccccc', 'Ops')$$,
    'a: an organization admin manages any workspace of A');

-- Member m: A, and only the workspace where m holds a group; reads only.
SET hxb.user_id = 'hxb-usr-0ccccccccccccccccccccccccc';
SELECT set_eq('SELECT id FROM organizations', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'm: organization A');
SELECT set_eq('SELECT id FROM workspaces', ARRAY['ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'm: only the workspace of its group');
SELECT set_eq('SELECT id FROM projects', ARRAY['prj-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'm: its projects');
SELECT is_empty('SELECT 1 FROM tasks WHERE workspace_id = ''ws-0ccccccccccccccccccccccccc''', 'm: no task of A2');
SELECT is_empty('SELECT 1 FROM audit_log', 'm: the audit log is for admins');
SELECT is_empty('SELECT 1 FROM invitations', 'm: invitations are for admins');
SELECT throws_ok($$INSERT INTO groups (id, workspace_id, name)
    VALUES ('grp-0ggggggggggggggggggggggggg', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'Mine')$$, '42501', NULL,
    'm: a workspace viewer cannot add groups');
SELECT is(pg_temp.affected($q$UPDATE organization_users SET role = 'admin' WHERE user_id = 'hxb-usr-0ccccccccccccccccccccccccc'$q$), 0, 'm: cannot promote itself');
RESET ROLE;
INSERT INTO group_memberships (workspace_id, group_id, user_id)
    VALUES ('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-0ccccccccccccccccccccccccc', 'hxb-usr-0ccccccccccccccccccccccccc');
SET ROLE hxb_app;
SELECT set_eq($$SELECT group_id FROM hxb_my_groups('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa')$$,
    ARRAY['grp-0ddddddddddddddddddddddddd', 'grp-0ccccccccccccccccccccccccc', 'grp-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'm in WSAdmins: its groups and their parent');
SELECT ok(hxb_ws_admin('ws-0aaaaaaaaaaaaaaaaaaaaaaaaa'), 'm in WSAdmins: a workspace admin of A1');
SELECT ok(NOT hxb_ws_admin('ws-0ccccccccccccccccccccccccc'), 'm: not of A2');
SELECT lives_ok($$INSERT INTO groups (id, workspace_id, name)
    VALUES ('grp-0ggggggggggggggggggggggggg', 'ws-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'Mine')$$,
    'm as workspace admin adds a group to A1');
SELECT throws_ok($$INSERT INTO workspaces (id, organization_id, name, plan_id)
    VALUES ('ws-0ggggggggggggggggggggggggg', 'org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'mine', 'free')$$, '42501', NULL,
    'm: only organization admins create workspaces');

-- Member n: the organization, no workspace.
SET hxb.user_id = 'hxb-usr-0ddddddddddddddddddddddddd';
SELECT set_eq('SELECT id FROM organizations', ARRAY['org-0aaaaaaaaaaaaaaaaaaaaaaaaa'], 'n: organization A');
SELECT is_empty('SELECT 1 FROM workspaces', 'n: no group, no workspace');

-- c, in no organization: creates one and claims it, but not A.
SET hxb.user_id = 'hxb-usr-0eeeeeeeeeeeeeeeeeeeeeeeee';
SELECT lives_ok($$INSERT INTO organizations (id, name) VALUES ('org-0ccccccccccccccccccccccccc', 'rls-org-c')$$,
    'c: creates an organization');
SELECT lives_ok($$INSERT INTO organization_users VALUES ('org-0ccccccccccccccccccccccccc', 'hxb-usr-0eeeeeeeeeeeeeeeeeeeeeeeee', 'admin')$$,
    'c: claims it as its first admin');
SELECT throws_ok($$INSERT INTO organization_users VALUES ('org-0aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-0eeeeeeeeeeeeeeeeeeeeeeeee', 'admin')$$,
    '42501', NULL, 'c: cannot claim an organization that has members');
SELECT set_eq('SELECT id FROM organizations', ARRAY['org-0ccccccccccccccccccccccccc'], 'c: sees its own only');
RESET ROLE;
SELECT is((SELECT status FROM workspaces WHERE id = 'ws-0bbbbbbbbbbbbbbbbbbbbbbbbb'), 'pending',
    'B''s workspace was never touched');

SELECT * FROM finish();
ROLLBACK;
