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
SELECT plan(8);

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
RESET ROLE;
SELECT is((SELECT array_agg(p.privilege_type::text) FROM information_schema.routine_privileges p
    WHERE p.routine_name = 'hxb_my_group_names' AND p.grantee = 'hxb_app'), '{EXECUTE}',
    'hxb_app may call it, and only that');

SELECT * FROM finish();
ROLLBACK;
