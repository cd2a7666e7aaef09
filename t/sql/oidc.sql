-- pgTAP: 0005_oidc.sql.  Run by t/sql/oidc.t.  Organization O (admin a,
-- member w in WSAdmins under WorkspaceMembers, member d in the deepest of
-- a chain c1 > c2 > c3, member n in no group) with workspace W; organization
-- P (admin s) with workspace X.  Asked as hxb_app acting as each user.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

BEGIN;
SELECT plan(20);

INSERT INTO users (id, email) VALUES
    ('hxb-usr-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'oidc-a@example.test'), ('hxb-usr-2wwwwwwwwwwwwwwwwwwwwwwwww', 'oidc-w@example.test'),
    ('hxb-usr-2ddddddddddddddddddddddddd', 'oidc-d@example.test'), ('hxb-usr-2nnnnnnnnnnnnnnnnnnnnnnnnn', 'oidc-n@example.test'),
    ('hxb-usr-2sssssssssssssssssssssssss', 'oidc-s@example.test');
INSERT INTO organizations (id, name) VALUES ('org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'oidc-o'), ('org-2sssssssssssssssssssssssss', 'oidc-p');
INSERT INTO organization_users VALUES
    ('org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'admin'), ('org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-2wwwwwwwwwwwwwwwwwwwwwwwww', 'member'),
    ('org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-2ddddddddddddddddddddddddd', 'member'), ('org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-2nnnnnnnnnnnnnnnnnnnnnnnnn', 'member'),
    ('org-2sssssssssssssssssssssssss', 'hxb-usr-2sssssssssssssssssssssssss', 'admin');
INSERT INTO workspaces (id, organization_id, name, plan_id, created_xact) VALUES
    ('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'org-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'w', 'pro', '3'),
    ('ws-2sssssssssssssssssssssssss', 'org-2sssssssssssssssssssssssss', 'x', 'free', '3');
INSERT INTO groups (id, workspace_id, name, parent_id, builtin) VALUES
    ('grp-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'WorkspaceMembers', NULL, true),
    ('grp-2sssssssssssssssssssssssss', 'ws-2sssssssssssssssssssssssss', 'WorkspaceMembers', NULL, true);
INSERT INTO groups (id, workspace_id, name, parent_id, builtin) VALUES
    ('grp-2wwwwwwwwwwwwwwwwwwwwwwwww', 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'WSAdmins', 'grp-2aaaaaaaaaaaaaaaaaaaaaaaaa', true),
    ('grp-2c111111111111111111111111', 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'c1', NULL, false);
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-2c222222222222222222222222', 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'c2', 'grp-2c111111111111111111111111');
INSERT INTO groups (id, workspace_id, name, parent_id) VALUES
    ('grp-2c333333333333333333333333', 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'c3', 'grp-2c222222222222222222222222');
INSERT INTO group_memberships (workspace_id, group_id, user_id) VALUES
    ('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-2wwwwwwwwwwwwwwwwwwwwwwwww', 'hxb-usr-2wwwwwwwwwwwwwwwwwwwwwwwww'),
    ('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'grp-2c333333333333333333333333', 'hxb-usr-2ddddddddddddddddddddddddd'),
    ('ws-2sssssssssssssssssssssssss', 'grp-2sssssssssssssssssssssssss', 'hxb-usr-2sssssssssssssssssssssssss');

SET LOCAL ROLE hxb_app;
SELECT set_config('hxb.user_id', 'hxb-usr-2wwwwwwwwwwwwwwwwwwwwwwwww', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{WSAdmins,WorkspaceMembers}',
    'a member of WSAdmins: WSAdmins and its parent, sorted');
SELECT set_config('hxb.user_id', 'hxb-usr-2ddddddddddddddddddddddddd', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{c1,c2,c3}',
    'a member of the deepest group of a chain: the whole chain');
SELECT is(hxb_my_group_names('ws-2sssssssssssssssssssssssss'), '{}',
    '... and nothing in a workspace of another organization');
SELECT set_config('hxb.user_id', 'hxb-usr-2nnnnnnnnnnnnnnnnnnnnnnnnn', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{}',
    'a member in no group: none');
SELECT set_config('hxb.user_id', 'hxb-usr-2aaaaaaaaaaaaaaaaaaaaaaaaa', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{}',
    'the organization admin, in no group: none (admin of the organization is not a group)');
SELECT set_config('hxb.user_id', 'hxb-usr-2sssssssssssssssssssssssss', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{}',
    'a stranger: none of another organization''s groups');
SELECT set_config('hxb.user_id', '', true) \g /dev/null
SELECT is(hxb_my_group_names('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'), '{}',
    'no acting user: none');
-- hxb_ws_token_claims(): the same groups, and the status and email only with them.
SELECT set_config('hxb.user_id', 'hxb-usr-2wwwwwwwwwwwwwwwwwwwwwwwww', true) \g /dev/null
SELECT is((SELECT row(status, groups, email)::text FROM hxb_ws_token_claims('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa')),
    '(pending,"{WSAdmins,WorkspaceMembers}",oidc-w@example.test)', 'token claims: status, groups, email');
SELECT set_config('hxb.user_id', 'hxb-usr-2nnnnnnnnnnnnnnnnnnnnnnnnn', true) \g /dev/null
SELECT is((SELECT row(status, groups, email)::text FROM hxb_ws_token_claims('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa')),
    '(,{},)', '... a member in no group: nothing, not even the status');
SELECT set_config('hxb.user_id', 'hxb-usr-2sssssssssssssssssssssssss', true) \g /dev/null
SELECT is((SELECT row(status, groups, email)::text FROM hxb_ws_token_claims('ws-2aaaaaaaaaaaaaaaaaaaaaaaaa')),
    '(,{},)', '... a stranger: nothing');
SELECT is((SELECT row(status, groups, email)::text FROM hxb_ws_token_claims('ws-2nonexistentnonexistent00')),
    '(,{},)', '... a workspace that does not exist: the same nothing');
RESET ROLE;
SELECT is((SELECT array_agg(p.privilege_type::text) FROM information_schema.routine_privileges p
    WHERE p.routine_name = 'hxb_my_group_names' AND p.grantee = 'hxb_app'), '{EXECUTE}',
    'hxb_app may call it, and only that');


-- 0006_oauth2.sql: the client a session was opened for; a workspace's CA.
INSERT INTO sessions (id, user_id, provider, expires_at) VALUES
    ('ses-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'hxb-usr-2aaaaaaaaaaaaaaaaaaaaaaaaa', 'dev', now() + interval '1 day');
SELECT lives_ok($$UPDATE sessions SET client_id = 'hexabase-cli' WHERE id = 'ses-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    'a session may belong to the kubectl plugin');
SELECT lives_ok($$UPDATE sessions SET client_id = 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa' WHERE id = 'ses-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '... or to a workspace');
SELECT throws_ok($$UPDATE sessions SET client_id = 'kubelogin' WHERE id = 'ses-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '23514', NULL, '... and to no other client');
SELECT is((SELECT client_id FROM sessions WHERE id = 'ses-2aaaaaaaaaaaaaaaaaaaaaaaaa'), 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa',
    'a refused change changes nothing');
SELECT lives_ok($$UPDATE workspaces SET status = 'running', api_endpoint = 'https://10.0.0.1:6443',
    api_ca_pem = E'-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n' WHERE id = 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    'a running workspace: its endpoint and CA');
SELECT throws_ok($$UPDATE workspaces SET api_ca_pem = 'not a certificate' WHERE id = 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '23514', NULL, 'a CA that is not PEM is refused');
SELECT throws_ok($$UPDATE workspaces SET api_ca_pem = E'-----BEGIN CERTIFICATE-----\n' || repeat('A', 70000)
    WHERE id = 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$, '23514', NULL, '... and so is one over 64 KiB');
SELECT throws_ok($$UPDATE workspaces SET api_endpoint = 'http://10.0.0.1:6443' WHERE id = 'ws-2aaaaaaaaaaaaaaaaaaaaaaaaa'$$,
    '23514', NULL, 'an endpoint that is not https is refused');

SELECT * FROM finish();
ROLLBACK;
