-- pgTAP: 0004_rbac.sql.  Run by t/sql/rbac.t.  Organization O (admin a,
-- members w (in WSAdmins), v (in WSUsers) and n (in no group)) with
-- workspace W, and organization P (admin s) with workspace X, set up as
-- the superuser; access is asked as hxb_app acting as each user.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(43);

INSERT INTO users (id, email) VALUES
    ('hxb-usr-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'rbac-a@example.test'), ('hxb-usr-1wwwwwwwwwwwwwwwwwwwwwwwww', 'rbac-w@example.test'),
    ('hxb-usr-1vvvvvvvvvvvvvvvvvvvvvvvvv', 'rbac-v@example.test'), ('hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn', 'rbac-n@example.test'),
    ('hxb-usr-1sssssssssssssssssssssssss', 'rbac-s@example.test');
INSERT INTO organizations (id, name) VALUES ('org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'rbac-o'), ('org-1sssssssssssssssssssssssss', 'rbac-p');
INSERT INTO organization_users VALUES
    ('org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'admin'), ('org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-1wwwwwwwwwwwwwwwwwwwwwwwww', 'member'),
    ('org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-1vvvvvvvvvvvvvvvvvvvvvvvvv', 'member'), ('org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn', 'member'),
    ('org-1sssssssssssssssssssssssss', 'hxb-usr-1sssssssssssssssssssssssss', 'admin');
-- The workspaces were made "in another transaction" (created_xact), so
-- that changes to them enqueue their RBAC sync as they would in use.
INSERT INTO workspaces (id, organization_id, name, plan_id, created_xact) VALUES
    ('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'w', 'pro', '3'),
    ('ws-1sssssssssssssssssssssssss', 'org-1sssssssssssssssssssssssss', 'x', 'free', '3');
INSERT INTO groups (id, workspace_id, name, parent_id, builtin) VALUES
    ('grp-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'WorkspaceMembers', NULL, true),
    ('grp-1sssssssssssssssssssssssss', 'ws-1sssssssssssssssssssssssss', 'WorkspaceMembers', NULL, true);
INSERT INTO groups (id, workspace_id, name, parent_id, builtin) VALUES
    ('grp-1wwwwwwwwwwwwwwwwwwwwwwwww', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'WSAdmins', 'grp-1aaaaaaaaaaaaaaaaaaaaaaaaa', true),
    ('grp-1vvvvvvvvvvvvvvvvvvvvvvvvv', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'WSUsers', 'grp-1aaaaaaaaaaaaaaaaaaaaaaaaa', true),
    ('grp-1bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'b', NULL, false);
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-1ccccccccccccccccccccccccc', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'c', 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb');
INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES
    ('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1wwwwwwwwwwwwwwwwwwwwwwwww', 'hxb-usr-1wwwwwwwwwwwwwwwwwwwwwwwww'),
    ('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1vvvvvvvvvvvvvvvvvvvvvvvvv', 'hxb-usr-1vvvvvvvvvvvvvvvvvvvvvvvvv');
INSERT INTO cluster_role_assignments (id, workspace_id, group_id, cluster_role) VALUES
    ('cra-1wwwwwwwwwwwwwwwwwwwwwwwww', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1wwwwwwwwwwwwwwwwwwwwwwwww', 'hexabase:workspace-admin'),
    ('cra-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'hexabase:workspace-viewer');
INSERT INTO projects (id, workspace_id, name) VALUES
    ('prj-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'p1');
INSERT INTO projects (id, workspace_id, name, parent_project_id) VALUES
    ('prj-1bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'p2', 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa');

-- Pending RBAC-sync tasks of a workspace.
CREATE FUNCTION pg_temp.syncs(ws text) RETURNS int LANGUAGE sql AS $$
    SELECT count(*)::int FROM tasks
    WHERE workspace_id = ws AND type = 'rbac_sync' AND status = 'pending' $$;

-- ---- RBAC sync (as the superuser, whose changes count like any) --------------
SELECT is(pg_temp.syncs('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 1, 'the changes above enqueued one RBAC sync (coalesced)');
SELECT is((SELECT count(*)::int FROM outbox WHERE workspace_id = 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'
    AND subject = 'hexabase.cp.workspace.rbac_sync'), 1, 'with one outbox row');
SELECT is((SELECT payload->>'task_id' FROM outbox WHERE workspace_id = 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'),
    (SELECT id FROM tasks WHERE workspace_id = 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 'the outbox row carries the task id');
SELECT ok((SELECT hxb_id_ok(id, 'task-') FROM tasks WHERE workspace_id = 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'),
    'the task id has the format of every id');
SELECT set_eq($$SELECT subject FROM hxb_outbox_mine()$$, ARRAY['hexabase.cp.workspace.rbac_sync', 'hexabase.cp.workspace.rbac_sync'],
    'this transaction''s outbox rows, for its publisher');

UPDATE tasks SET status = 'running' WHERE type = 'rbac_sync' AND status = 'pending';
UPDATE projects SET status = 'active' WHERE id = 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa';
UPDATE groups SET updated_at = now() WHERE id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb';
SELECT is(pg_temp.syncs('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 0, 'a status or a timestamp written back enqueues nothing');
UPDATE projects SET quota = '{"pods": 3}' WHERE id = 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa';
SELECT is(pg_temp.syncs('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 1, 'a quota change enqueues a new sync once one is taken');
UPDATE tasks SET status = 'running' WHERE type = 'rbac_sync' AND status = 'pending';

CREATE TEMP TABLE seen AS SELECT id FROM tasks WHERE type = 'rbac_sync';
CREATE FUNCTION pg_temp.fresh_sync(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    INSERT INTO pg_temp.seen SELECT id FROM tasks WHERE type = 'rbac_sync' ON CONFLICT DO NOTHING;
    EXECUTE q;
    SELECT count(*) INTO n FROM tasks WHERE type = 'rbac_sync' AND status = 'pending'
        AND workspace_id = 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa' AND id NOT IN (SELECT id FROM pg_temp.seen);
    UPDATE tasks SET status = 'running' WHERE type = 'rbac_sync' AND status = 'pending';
    RETURN n = 1;
END $$;
SELECT ok(pg_temp.fresh_sync($$INSERT INTO groups (id, workspace_id, name) VALUES ('grp-1ddddddddddddddddddddddddd', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'd')$$), 'a new group enqueues a sync');
SELECT ok(pg_temp.fresh_sync($$UPDATE groups SET name = 'dd' WHERE id = 'grp-1ddddddddddddddddddddddddd'$$), 'a renamed group');
SELECT ok(pg_temp.fresh_sync($$INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES ('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1ddddddddddddddddddddddddd', 'hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn')$$), 'a new member');
SELECT ok(pg_temp.fresh_sync($$DELETE FROM group_memberships WHERE group_id = 'grp-1ddddddddddddddddddddddddd'$$), 'a member gone');
SELECT ok(pg_temp.fresh_sync($$INSERT INTO roles (id, workspace_id, project_id, name, rules) VALUES ('role-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'r', '[{"verbs":["get"]}]')$$), 'a new role');
SELECT ok(pg_temp.fresh_sync($$UPDATE roles SET rules = '[{"verbs":["list"]}]' WHERE id = 'role-1aaaaaaaaaaaaaaaaaaaaaaaaa'$$), 'new rules');
SELECT ok(pg_temp.fresh_sync($$INSERT INTO role_assignments (id, workspace_id, project_id, group_id, preset) VALUES ('ra-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1ddddddddddddddddddddddddd', 'view')$$), 'a role assignment');
SELECT ok(pg_temp.fresh_sync($$INSERT INTO cluster_role_assignments (id, workspace_id, group_id, cluster_role) VALUES ('cra-1ddddddddddddddddddddddddd', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1ddddddddddddddddddddddddd', 'hexabase:workspace-viewer')$$), 'a cluster-role assignment');
SELECT ok(pg_temp.fresh_sync($$DELETE FROM cluster_role_assignments WHERE id = 'cra-1ddddddddddddddddddddddddd'$$), 'its removal');
SELECT ok(pg_temp.fresh_sync($$DELETE FROM projects WHERE id = 'prj-1bbbbbbbbbbbbbbbbbbbbbbbbb'$$), 'a project gone');

-- Not for a workspace made in this transaction, nor one on its way out.
INSERT INTO workspaces (id, organization_id, name, plan_id) VALUES ('ws-1ccccccccccccccccccccccccc', 'org-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'new', 'free');
INSERT INTO groups (id, workspace_id, name) VALUES ('grp-1eeeeeeeeeeeeeeeeeeeeeeeee', 'ws-1ccccccccccccccccccccccccc', 'WorkspaceMembers');
SELECT is(pg_temp.syncs('ws-1ccccccccccccccccccccccccc'), 0, 'a workspace made in this transaction: provisioning applies its RBAC');
UPDATE workspaces SET status = 'deleting' WHERE id = 'ws-1sssssssssssssssssssssssss';
INSERT INTO groups (id, workspace_id, name) VALUES ('grp-1fffffffffffffffffffffffff', 'ws-1sssssssssssssssssssssssss', 'late');
SELECT is(pg_temp.syncs('ws-1sssssssssssssssssssssssss'), 0, 'a workspace being deleted: nothing');
UPDATE workspaces SET status = 'pending' WHERE id = 'ws-1sssssssssssssssssssssssss';

-- ---- loops ------------------------------------------------------------------------
SELECT throws_ok($$UPDATE groups SET parent_id = 'grp-1ccccccccccccccccccccccccc' WHERE id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb'$$,
    'HXC01', NULL, 'a group under its own child: refused');
SELECT throws_ok($$UPDATE groups SET parent_id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb' WHERE id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb'$$,
    'HXC01', NULL, 'a group under itself: refused');
SELECT lives_ok($$UPDATE groups SET parent_id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb' WHERE id = 'grp-1ddddddddddddddddddddddddd'$$,
    'a move that makes no loop');
SELECT throws_ok($$UPDATE groups SET parent_id = 'grp-1ddddddddddddddddddddddddd' WHERE id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb'$$,
    'HXC01', NULL, 'nor then the reverse');
SELECT throws_ok($$UPDATE groups SET parent_id = 'grp-1sssssssssssssssssssssssss' WHERE id = 'grp-1bbbbbbbbbbbbbbbbbbbbbbbbb'$$,
    '23503', NULL, 'a parent from another workspace: refused');
INSERT INTO projects (id, workspace_id, name, parent_project_id) VALUES
    ('prj-1ccccccccccccccccccccccccc', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'p3', 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa');
SELECT throws_ok($$UPDATE projects SET parent_project_id = 'prj-1ccccccccccccccccccccccccc' WHERE id = 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    'HXC01', NULL, 'a project under its own child: refused');

-- ---- names and shapes ----------------------------------------------------------
SELECT throws_ok($$INSERT INTO projects (id, workspace_id, name) VALUES ('prj-1ddddddddddddddddddddddddd', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'kube-system')$$,
    '23514', NULL, 'a project named kube-*: refused');
SELECT throws_ok($$INSERT INTO projects (id, workspace_id, name) VALUES ('prj-1ddddddddddddddddddddddddd', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'default')$$,
    '23514', NULL, 'a project named default: refused');
SELECT lives_ok($$INSERT INTO projects (id, workspace_id, name) VALUES ('prj-1ddddddddddddddddddddddddd', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', '9lives')$$,
    'an RFC 1123 label may start with a digit');
SELECT throws_ok($$UPDATE projects SET quota = '{"pods": -1}' WHERE id = 'prj-1ddddddddddddddddddddddddd'$$,
    '23514', NULL, 'a negative quota: refused');
SELECT throws_ok($$UPDATE projects SET quota = '{"pods": "x"}' WHERE id = 'prj-1ddddddddddddddddddddddddd'$$,
    '23514', NULL, 'a quota that is no number: refused');
SELECT throws_ok($$INSERT INTO roles (id, workspace_id, project_id, name, rules) VALUES ('role-1bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'empty', '[]')$$,
    '23514', NULL, 'a role without rules: refused');
SELECT throws_ok($$INSERT INTO idempotency_keys (user_id, key, route, request_hash, status, response) VALUES ('hxb-usr-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'my-key', 'r', sha256('x'), 201, 'x')$$,
    '23514', NULL, 'an idempotency key in clear: refused (only digests are kept)');
SELECT is((SELECT count(*)::int FROM (SELECT hxb_new_id('task-') AS id FROM generate_series(1, 1000)) x
    WHERE hxb_id_ok(x.id, 'task-')), 1000, 'ids made in SQL have the format of shared/id.c');
SELECT is((SELECT count(DISTINCT hxb_new_id('grp-'))::int FROM generate_series(1, 1000)), 1000, 'and do not repeat');

-- ---- access --------------------------------------------------------------------------
SET ROLE hxb_app;
SET hxb.user_id = 'hxb-usr-1aaaaaaaaaaaaaaaaaaaaaaaaa';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 'org_admin', 'the organization''s admin: org_admin');
SELECT is(hxb_ws_access('ws-1sssssssssssssssssssssssss'), NULL, 'the organization''s admin, in another organization: nothing');
SET hxb.user_id = 'hxb-usr-1wwwwwwwwwwwwwwwwwwwwwwwww';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 'admin', 'a member in WSAdmins: admin');
SET hxb.user_id = 'hxb-usr-1vvvvvvvvvvvvvvvvvvvvvvvvv';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 'viewer', 'a member in WSUsers: viewer');
SET hxb.user_id = 'hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), NULL, 'a member in no group: nothing');
SET hxb.user_id = 'hxb-usr-1sssssssssssssssssssssssss';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), NULL, 'a stranger: nothing');
SELECT is(hxb_ws_access('ws-0zzzzzzzzzzzzzzzzzzzzzzzzz'), NULL, 'a workspace that does not exist: nothing');
RESET hxb.user_id;
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), NULL, 'no acting user: nothing');
RESET ROLE;

-- Through the hierarchy: a member of a group under WSAdmins is an admin.
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-1ggggggggggggggggggggggggg', 'ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'ops', 'grp-1wwwwwwwwwwwwwwwwwwwwwwwww');
INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES
    ('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-1ggggggggggggggggggggggggg', 'hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn');
SET ROLE hxb_app;
SET hxb.user_id = 'hxb-usr-1nnnnnnnnnnnnnnnnnnnnnnnnn';
SELECT is(hxb_ws_access('ws-1aaaaaaaaaaaaaaaaaaaaaaaaa'), 'admin', 'a member of a group under WSAdmins: admin, by inheritance');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
