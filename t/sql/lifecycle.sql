-- pgTAP: 0007_lifecycle.sql.  Run by t/sql/lifecycle.t.  Organization O
-- with workspace W (plan pro): projects p (parent) > c (child), a custom
-- role of p assigned to group g, a preset assignment in c; group g bound
-- to hexabase:workspace-viewer.  As the owner, like the jobs.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(35);

INSERT INTO users (id, email) VALUES ('hxb-usr-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'lc-a@example.test');
INSERT INTO organizations (id, name) VALUES ('org-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'lc-o');
INSERT INTO workspaces (id, organization_id, name, plan_id, created_xact) VALUES
    ('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'w', 'pro', '3');
INSERT INTO groups (id, workspace_id, name) VALUES
    ('grp-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'g'),
    ('grp-3bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'Zeta');
INSERT INTO cluster_role_assignments (id, workspace_id, group_id, cluster_role) VALUES
    ('cra-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-3bbbbbbbbbbbbbbbbbbbbbbbbb', 'hexabase:workspace-viewer'),
    ('cra-3bbbbbbbbbbbbbbbbbbbbbbbbb', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'hexabase:workspace-viewer');
INSERT INTO projects (id, workspace_id, name, quota) VALUES
    ('prj-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'p', '{"pods": 5}');
INSERT INTO projects (id, workspace_id, name, parent_project_id) VALUES
    ('prj-3ccccccccccccccccccccccccc', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'c', 'prj-3aaaaaaaaaaaaaaaaaaaaaaaaa');
INSERT INTO roles (id, workspace_id, project_id, name, rules) VALUES
    ('role-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'deployer',
     '[{"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}]');
INSERT INTO role_assignments (id, workspace_id, project_id, group_id, role_id, preset) VALUES
    ('ra-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'role-3aaaaaaaaaaaaaaaaaaaaaaaaa', NULL),
    ('ra-3ccccccccccccccccccccccccc', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'prj-3ccccccccccccccccccccccccc', 'grp-3aaaaaaaaaaaaaaaaaaaaaaaaa', NULL, 'view');

-- ---- requests name their tier ---------------------------------------------------
SELECT hxb_ws_request('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'suspend_workspace') AS t1 \gset
SELECT is((SELECT payload->>'tier' || ' ' || (payload->>'isolation') FROM tasks WHERE id = :'t1'), 'pro bridge',
    'a request names its tier and isolation');
SELECT is((SELECT subject || ' ' || (payload->>'tier') FROM outbox WHERE payload->>'task_id' = :'t1'),
    'hexabase.cp.workspace.suspend pro', '... its outbox row too, on its subject');
SELECT throws_ok($$SELECT hxb_ws_request('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'explode')$$, 'P0001',
    'unknown task type explode', 'an unknown request is refused');
SELECT is(hxb_task_subject('create_workspace'), 'hexabase.cp.workspace.onboarding', 'subjects: onboarding');
SELECT is(hxb_task_subject('rbac_sync'), 'hexabase.cp.workspace.rbac_sync', '... rbac_sync');

-- ---- one worker at a time -------------------------------------------------------
SELECT is((SELECT row(outcome, attempts)::text FROM hxb_task_claim(:'t1', 'w1', 30)), '(claimed,1)',
    'a worker claims a pending task: attempt 1');
SELECT is((SELECT status || ' ' || lease_owner FROM tasks WHERE id = :'t1'), 'running w1', '... it runs, leased to it');
SELECT is((SELECT outcome FROM hxb_task_claim(:'t1', 'w2', 30)), 'busy', 'another worker finds it busy');
SELECT ok(hxb_task_progress(:'t1', 'w1', 'scaling down', 30, 30), 'the holder reports progress');
SELECT is((SELECT step || ' ' || progress FROM tasks WHERE id = :'t1'), 'scaling down 30', '... step and percentage kept');
SELECT ok(NOT hxb_task_progress(:'t1', 'w2', 'x', 50, 30), '... nobody else may');
SELECT hxb_task_progress(:'t1', 'w1', 'y', 150, 30) \g /dev/null
SELECT is((SELECT progress FROM tasks WHERE id = :'t1'), 99::smallint, 'progress stays below 100 until the answer');
SELECT ok(hxb_task_retry(:'t1', 'w1', 'the API server was away'), 'a failed attempt gives up its lease');
SELECT is((SELECT row(outcome, attempts)::text FROM hxb_task_claim(:'t1', 'w2', 30)), '(claimed,2)',
    '... so the redelivery claims it at once: attempt 2');
SELECT is((SELECT last_error FROM hxb_task_claim(:'t1', 'w2', 30)), 'the API server was away', '... the last error kept');
UPDATE tasks SET attempts = max_attempts WHERE id = :'t1';
SELECT is((SELECT outcome FROM hxb_task_claim(:'t1', 'w2', 30)), 'exhausted', 'past max_attempts: exhausted');
SELECT is((SELECT outcome FROM hxb_task_claim('task-3nonexistentnonexistent0', 'w1', 30)), 'unknown', 'no such task: unknown');

-- ---- answers move the state --------------------------------------------------------
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'suspended', 'task_id', :'t1',
    'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')), 'applied', 'an answer is applied');
SELECT is((SELECT status || ' ' || progress || ' ' || (finished_at IS NOT NULL) FROM tasks WHERE id = :'t1'),
    'succeeded 100 true', '... the task succeeded');
SELECT is((SELECT status FROM workspaces WHERE id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'), 'pending',
    '... a pending workspace is not suspended (only a running one)');
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'suspended', 'task_id', :'t1',
    'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')), 'duplicate', 'the same answer again: a duplicate, no effect');
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'suspended', 'task_id', :'t1',
    'workspace_id', 'ws-3sssssssssssssssssssssssss')), 'unknown', 'an answer naming another workspace: unknown');

SELECT hxb_ws_request('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'create_workspace') AS t2 \gset
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'provisioning', 'task_id', :'t2',
    'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')), 'applied', 'provisioning');
SELECT is((SELECT status FROM workspaces WHERE id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'), 'provisioning',
    '... pending -> provisioning');
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'provisioned', 'task_id', :'t2',
    'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'api_endpoint', 'https://w.example.test',
    'api_ca_pem', E'-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n')), 'applied', 'provisioned');
SELECT is((SELECT status || ' ' || api_endpoint FROM workspaces WHERE id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'),
    'running https://w.example.test', '... running, with its endpoint');
SELECT is((SELECT after->>'status' FROM audit_log WHERE workspace_id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'
    AND action = 'workspace.provisioned'), 'running', '... audited');
SELECT hxb_ws_request('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'rbac_sync') AS t3 \gset
SELECT is(:'t3', (SELECT id FROM tasks WHERE workspace_id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa' AND type = 'rbac_sync'
    AND status = 'pending'), 'an RBAC sync request joins the pending one');
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'sync_failed', 'task_id', :'t3',
    'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa', 'error', 'Invalid: rules[0].verbs: Required value')),
    'applied', 'a failed sync');
SELECT is((SELECT status || ' ' || status_reason FROM workspaces WHERE id = 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'),
    'running Invalid: rules[0].verbs: Required value', '... the workspace keeps running, the error its reason');
SELECT is((SELECT status || ' ' || last_error FROM tasks WHERE id = :'t3'),
    'failed Invalid: rules[0].verbs: Required value', '... the task failed with it');
SELECT throws_ok($$SELECT hxb_ws_answer(jsonb_build_object('event', 'exploded', 'task_id', '$$ || :'t3' ||
    $$', 'workspace_id', 'ws-3aaaaaaaaaaaaaaaaaaaaaaaaa'))$$, 'P0001', NULL, 'an unknown answer is refused');

-- ---- the desired state ----------------------------------------------------------------
SELECT is(hxb_ws_desired('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')->'cluster_roles',
    '{"hexabase:workspace-viewer": ["Zeta", "g"]}'::jsonb, 'cluster roles and their groups, sorted');
SELECT is((SELECT jsonb_agg(b->'role') FROM jsonb_array_elements(hxb_ws_desired('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')->'projects') p,
    jsonb_array_elements(p->'bindings') b WHERE p->>'name' = 'c'), '["p.deployer", "view"]'::jsonb,
    'a child project holds its own bindings and its parent''s, whose role is named after the parent');
SELECT is((SELECT p->'roles'->0->>'name' FROM jsonb_array_elements(hxb_ws_desired('ws-3aaaaaaaaaaaaaaaaaaaaaaaaa')->'projects') p
    WHERE p->>'name' = 'c'), 'p.deployer', '... and a copy of the parent''s role');

SELECT * FROM finish();
ROLLBACK;
