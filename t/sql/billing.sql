-- pgTAP: 0008_billing.sql.  Run by t/sql/billing.t.  As the superuser,
-- like the webhook's SECURITY DEFINER function; the row-level security
-- checks at the end run as hxb_app acting as one user after another.
--
--   A  admin a, member m; customer cus_7a (linked by its Checkout) and
--      subscription sub_7a; workspaces pro1 and pro2 (pro, running), free
--      (free, running) and usr (pro, suspended by its users, not billing)
--   B  has a customer of its own (cus_7b): a Checkout for it with another
--      customer links nothing
--   C  subscribed (sub_7c, active); pro1 (pro, running): the grace period
--   D  no billing at all
--   F  subscription sub_7f whose status is not known yet
--   s  a user in no organization
--
-- Stripe events are built as Stripe sends them (id, object, type, created,
-- livemode, data.object, data.previous_attributes), created at T0 + n
-- seconds: in the past, so a grace of 0 has run out.  The webhook applies
-- each event in a transaction of its own; pg_temp.apply() does the same
-- inside this one transaction by handing what was written to the outbox
-- so far over to an earlier transaction (created_xact) first, and turns
-- an error into the text of a failed assertion rather than an abort.
\set QUIET 1
\pset format unaligned
\pset tuples_only true
\pset pager off
SET client_min_messages = warning;

\set T0 1700000000
\set A 'org-7aaaaaaaaaaaaaaaaaaaaaaaaa'
\set B 'org-7bbbbbbbbbbbbbbbbbbbbbbbbb'
\set C 'org-7ccccccccccccccccccccccccc'
\set D 'org-7ddddddddddddddddddddddddd'
\set F 'org-7fffffffffffffffffffffffff'
\set ua 'hxb-usr-7aaaaaaaaaaaaaaaaaaaaaaaaa'
\set um 'hxb-usr-7mmmmmmmmmmmmmmmmmmmmmmmmm'
\set us 'hxb-usr-7sssssssssssssssssssssssss'
\set wa1 'ws-7a111111111111111111111111'
\set wa2 'ws-7a222222222222222222222222'
\set wa3 'ws-7a333333333333333333333333'
\set wa4 'ws-7a444444444444444444444444'
\set wa5 'ws-7a555555555555555555555555'
\set wb1 'ws-7b111111111111111111111111'
\set wc1 'ws-7c111111111111111111111111'
\set wd1 'ws-7d111111111111111111111111'

BEGIN;
SELECT plan(107);

-- The operator's prices.
UPDATE plans SET stripe_price_id = 'price_test_pro' WHERE id = 'pro';
UPDATE plans SET stripe_price_id = 'price_test_enterprise' WHERE id = 'enterprise';

INSERT INTO users (id, email) VALUES (:'ua', 'bill-a@example.test'),
    (:'um', 'bill-m@example.test'), (:'us', 'bill-s@example.test');
INSERT INTO organizations (id, name) VALUES (:'A', 'bill7-a'), (:'B', 'bill7-b'),
    (:'C', 'bill7-c'), (:'D', 'bill7-d'), (:'F', 'bill7-f');
INSERT INTO organization_users (organization_id, user_id, role) VALUES
    (:'A', :'ua', 'admin'), (:'A', :'um', 'member');
INSERT INTO workspaces (id, organization_id, name, plan_id, status) VALUES
    (:'wa1', :'A', 'pro1', 'pro', 'running'), (:'wa2', :'A', 'pro2', 'pro', 'running'),
    (:'wa3', :'A', 'free', 'free', 'running'), (:'wa4', :'A', 'usr', 'pro', 'suspended');
INSERT INTO billing_accounts (organization_id, stripe_customer_id, subscription_id, subscription_status) VALUES
    (:'B', 'cus_7b', NULL, NULL), (:'C', 'cus_7c', 'sub_7c', 'active'), (:'F', 'cus_7f', 'sub_7f', NULL);
INSERT INTO workspaces (id, organization_id, name, plan_id, status) VALUES
    (:'wc1', :'C', 'pro1', 'pro', 'running');
-- A row another event's transaction wrote, not yet published.
INSERT INTO outbox (organization_id, subject, payload, stripe_event_id, created_xact) VALUES
    (:'A', 'stripe.webhook.customer.created', '{"id": "evt_7other"}', 'evt_7other', '3');

-- A Stripe event.
CREATE FUNCTION pg_temp.evt(id text, typ text, created bigint, obj jsonb, prev jsonb DEFAULT NULL)
    RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', id, 'object', 'event', 'type', typ, 'created', created,
        'livemode', false,
        'data', jsonb_build_object('object', obj)
                || CASE WHEN prev IS NULL THEN '{}'::jsonb
                        ELSE jsonb_build_object('previous_attributes', prev) END)
$$;
-- What this transaction wrote to the outbox so far, as if an earlier one had.
CREATE FUNCTION pg_temp.handover() RETURNS void LANGUAGE sql AS $$
    UPDATE outbox SET created_xact = '3' WHERE created_xact = pg_current_xact_id()
$$;
-- The webhook's transaction: the event applied, or the error it raised.
CREATE FUNCTION pg_temp.apply(ev jsonb, grace integer DEFAULT 0) RETURNS text
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_temp.handover();
    RETURN hxb_stripe_event(ev, grace);
EXCEPTION WHEN OTHERS THEN
    RETURN 'error: ' || SQLERRM;
END $$;
-- How many outbox rows of an organization on a subject.
CREATE FUNCTION pg_temp.nout(org text, subj text) RETURNS integer LANGUAGE sql AS $$
    SELECT count(*)::int FROM outbox WHERE organization_id IS NOT DISTINCT FROM org AND subject = subj
$$;

-- ---- checkout.session.completed -------------------------------------------------
SELECT pg_temp.evt('evt_7a_checkout', 'checkout.session.completed', :T0,
    jsonb_build_object('id', 'cs_test_7a', 'object', 'checkout.session', 'mode', 'subscription',
        'status', 'complete', 'client_reference_id', :'A', 'customer', 'cus_7a',
        'subscription', 'sub_7a')) AS ev_checkout \gset
SELECT is(pg_temp.apply(:'ev_checkout'), 'applied',
    'checkout.session.completed for an organization without a customer: applied');
SELECT is((SELECT row(stripe_customer_id, subscription_id, subscription_status)::text
    FROM billing_accounts WHERE organization_id = :'A'), '(cus_7a,sub_7a,)',
    '... links its customer and subscription (the status comes with the subscription''s events)');
SELECT is((SELECT count(*)::int FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.billing.sync'
    AND payload->>'reason' = 'checkout.session.completed' AND stripe_event_id = 'evt_7a_checkout'), 1,
    '... and asks billing-sync to look (hexabase.cp.billing.sync)');
SELECT is((SELECT outcome || ' ' || organization_id || ' ' || type FROM stripe_events WHERE id = 'evt_7a_checkout'),
    'applied ' || :'A' || ' checkout.session.completed', 'the event is stored with its outcome and organization');
SELECT is((SELECT payload FROM outbox WHERE subject = 'stripe.webhook.checkout.session.completed'
    AND stripe_event_id = 'evt_7a_checkout'), :'ev_checkout'::jsonb,
    'it is republished once as stripe.webhook.<type>: the event itself, stamped with its id');
SELECT is((SELECT count(*)::int FROM outbox WHERE created_xact = pg_current_xact_id()
    AND stripe_event_id IS DISTINCT FROM 'evt_7a_checkout'), 0, '... as is every row its transaction wrote');

-- Idempotency: the same event again.
SELECT is(pg_temp.apply(:'ev_checkout'), 'duplicate', 'the same event again: duplicate');
SELECT is((SELECT count(*)::int FROM stripe_events WHERE id = 'evt_7a_checkout')
    || ' ' || (SELECT count(*) FROM outbox WHERE payload->>'id' = 'evt_7a_checkout')
    || ' ' || pg_temp.nout(:'A', 'hexabase.cp.billing.sync'), '1 1 1',
    '... stored once, republished once, no second billing-sync request');

-- What the webhook published, marked: that event's rows and nothing else.
SELECT '{' || coalesce(string_agg(id::text, ','), '') || '}' AS ids FROM outbox
    WHERE stripe_event_id IN ('evt_7a_checkout', 'evt_7other') \gset
SELECT hxb_stripe_published('evt_7a_checkout', :'ids') \g /dev/null
SELECT is((SELECT count(*)::int FROM outbox WHERE stripe_event_id = 'evt_7a_checkout' AND published_at IS NOT NULL),
    2, 'hxb_stripe_published() marks the event''s rows published');
SELECT ok((SELECT published_at IS NULL FROM outbox WHERE stripe_event_id = 'evt_7other'),
    '... not another event''s row, though its id was in the list');

-- An organization that has another customer is not relinked.
SELECT pg_temp.evt('evt_7b_checkout', 'checkout.session.completed', :T0,
    jsonb_build_object('id', 'cs_test_7b', 'object', 'checkout.session', 'mode', 'subscription',
        'status', 'complete', 'client_reference_id', :'B', 'customer', 'cus_7x',
        'subscription', 'sub_7x')) AS ev_b \gset
SELECT is(pg_temp.apply(:'ev_b'), 'ignored',
    'a Checkout naming an organization that has another customer: ignored');
SELECT is((SELECT row(stripe_customer_id, subscription_id, subscription_status)::text
    FROM billing_accounts WHERE organization_id = :'B'), '(cus_7b,,)', '... its billing is unchanged');
SELECT is((SELECT count(*)::int FROM billing_accounts WHERE stripe_customer_id = 'cus_7x'), 0,
    '... the other customer is linked nowhere');
SELECT is((SELECT row(outcome, organization_id)::text FROM stripe_events WHERE id = 'evt_7b_checkout'),
    '(ignored,)', '... the event is stored for no organization');
SELECT is(pg_temp.nout(:'B', 'hexabase.cp.billing.sync'), 0, '... and no billing sync is requested');

-- ---- customer.subscription.* ----------------------------------------------------
SELECT pg_temp.evt('evt_7a_sub_created', 'customer.subscription.created', :T0 + 5,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a',
        'status', 'active', 'cancel_at_period_end', false,
        'current_period_start', :T0, 'current_period_end', :T0 + 2592000,
        'items', jsonb_build_object('object', 'list', 'data', jsonb_build_array(
            jsonb_build_object('id', 'si_7a', 'object', 'subscription_item', 'quantity', 3,
                'price', jsonb_build_object('id', 'price_test_pro', 'object', 'price'))))))
    AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'customer.subscription.created: applied');
SELECT is((SELECT row(subscription_status, current_period_start = to_timestamp(:T0),
    current_period_end = to_timestamp(:T0 + 2592000), subscription_at = to_timestamp(:T0 + 5))::text
    FROM billing_accounts WHERE organization_id = :'A'), '(active,t,t,t)',
    '... its status and period (on the subscription), at the event''s time');
SELECT is((SELECT count(*)::int FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.billing.sync'
    AND payload->>'reason' = 'customer.subscription.created'), 1, '... and a billing sync is requested');

-- Newer API versions carry the period on the items only.
SELECT pg_temp.evt('evt_7a_sub_pastdue', 'customer.subscription.updated', :T0 + 30,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'past_due',
        'items', jsonb_build_object('object', 'list', 'data', jsonb_build_array(
            jsonb_build_object('id', 'si_7a', 'object', 'subscription_item', 'quantity', 3,
                'current_period_start', :T0 + 2592000, 'current_period_end', :T0 + 5184000,
                'price', jsonb_build_object('id', 'price_test_pro', 'object', 'price'))))),
    jsonb_build_object('status', 'active')) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'customer.subscription.updated (past_due), created at t+30: applied');
SELECT is((SELECT row(subscription_status, current_period_start = to_timestamp(:T0 + 2592000),
    current_period_end = to_timestamp(:T0 + 5184000))::text
    FROM billing_accounts WHERE organization_id = :'A'), '(past_due,t,t)',
    '... the period read from the first item when the subscription has none');
SELECT is((SELECT count(*)::int FROM tasks WHERE organization_id = :'A' AND type = 'update_workspace'), 0,
    '... an update that changes no price moves no workspace');

-- Out of order.
SELECT pg_temp.evt('evt_7a_sub_old', 'customer.subscription.updated', :T0 + 10,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'active',
        'current_period_start', :T0, 'current_period_end', :T0 + 2592000),
    jsonb_build_object('status', 'incomplete')) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'stale', 'an update created at t+10, arriving after the one of t+30: stale');
SELECT is((SELECT row(subscription_status, current_period_end = to_timestamp(:T0 + 5184000),
    subscription_at = to_timestamp(:T0 + 30))::text FROM billing_accounts WHERE organization_id = :'A'),
    '(past_due,t,t)', '... the newer state stays');
SELECT is((SELECT outcome FROM stripe_events WHERE id = 'evt_7a_sub_old'), 'stale', '... stored as stale');
SELECT is((SELECT count(*)::int FROM outbox WHERE payload->>'id' = 'evt_7a_sub_old'
    AND subject = 'stripe.webhook.customer.subscription.updated'), 1, '... and republished all the same');

SELECT pg_temp.evt('evt_7a_sub_other', 'customer.subscription.created', :T0 + 40,
    jsonb_build_object('id', 'sub_7z', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'active',
        'current_period_start', :T0, 'current_period_end', :T0 + 2592000)) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'ignored', 'an event for another subscription while the current one is live: ignored');
SELECT is((SELECT row(subscription_id, subscription_status)::text FROM billing_accounts WHERE organization_id = :'A'),
    '(sub_7a,past_due)', '... the current subscription stays');

-- The price changed in Stripe: pro -> enterprise.
SELECT pg_temp.evt('evt_7a_replan', 'customer.subscription.updated', :T0 + 50,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'active',
        'items', jsonb_build_object('object', 'list', 'data', jsonb_build_array(
            jsonb_build_object('id', 'si_7a', 'object', 'subscription_item', 'quantity', 3,
                'current_period_start', :T0 + 2592000, 'current_period_end', :T0 + 5184000,
                'price', jsonb_build_object('id', 'price_test_enterprise', 'object', 'price'))))),
    jsonb_build_object('status', 'past_due',
        'items', jsonb_build_object('object', 'list', 'data', jsonb_build_array(
            jsonb_build_object('id', 'si_7a', 'object', 'subscription_item', 'quantity', 3,
                'current_period_start', :T0 + 2592000, 'current_period_end', :T0 + 5184000,
                'price', jsonb_build_object('id', 'price_test_pro', 'object', 'price'))))))
    AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'an update whose item changed from the pro price to the enterprise one: applied');
SELECT set_eq(format($$SELECT id FROM workspaces WHERE organization_id = %L AND plan_id = 'enterprise'$$, :'A'),
    ARRAY[:'wa1', :'wa2', :'wa4'], '... the organization''s pro workspaces move to enterprise');
SELECT is((SELECT plan_id FROM workspaces WHERE id = :'wa3'), 'free', '... a free one stays');
SELECT set_eq(format($$SELECT workspace_id FROM tasks WHERE organization_id = %L AND type = 'update_workspace'
    AND payload#>>'{spec,plan_id}' = 'enterprise' AND payload#>>'{spec,previous_plan_id}' = 'pro'$$, :'A'),
    ARRAY[:'wa1', :'wa2', :'wa4'], '... each with its update_workspace request (plan_id enterprise, previous_plan_id pro)');
SELECT is((SELECT count(*)::int FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.workspace.update'
    AND stripe_event_id = 'evt_7a_replan'), 3, '... published with the event');
SELECT set_eq(format($$SELECT workspace_id FROM audit_log WHERE organization_id = %L AND action = 'workspace.plan_changed'
    AND before->>'plan_id' = 'pro' AND after->>'plan_id' = 'enterprise'$$, :'A'),
    ARRAY[:'wa1', :'wa2', :'wa4'], '... and its audit row workspace.plan_changed');
SELECT is((SELECT subscription_status FROM billing_accounts WHERE organization_id = :'A'), 'active',
    '... the status applied too');

-- ---- invoice.payment_failed, invoice.paid ---------------------------------------
SELECT pg_temp.evt('evt_7a_failed', 'invoice.payment_failed', :T0 + 100,
    jsonb_build_object('id', 'in_7a1', 'object', 'invoice', 'customer', 'cus_7a', 'subscription', 'sub_7a',
        'status', 'open', 'number', '7A-0001', 'currency', 'usd', 'amount_due', 29700, 'amount_paid', 0,
        'total', 29700, 'attempt_count', 1, 'created', :T0 + 90,
        'hosted_invoice_url', 'https://invoice.stripe.test/i/7a1', 'invoice_pdf', 'https://invoice.stripe.test/i/7a1.pdf',
        'period_start', :T0, 'period_end', :T0 + 2592000)) AS ev_failed \gset
SELECT is(pg_temp.apply(:'ev_failed', 0), 'applied', 'invoice.payment_failed, grace 0: applied');
SELECT is((SELECT past_due_since FROM billing_accounts WHERE organization_id = :'A'), to_timestamp(:T0 + 100),
    '... past due since the event');
SELECT set_eq(format($$SELECT workspace_id FROM tasks WHERE organization_id = %L AND type = 'suspend_workspace'
    AND payload#>>'{spec,reason}' = 'payment_failed'$$, :'A'), ARRAY[:'wa1', :'wa2'],
    '... every running paid workspace is asked to suspend');
SELECT ok((SELECT bool_and(billing_hold) FROM workspaces WHERE id IN (:'wa1', :'wa2')), '... and held');
SELECT is((SELECT billing_hold FROM workspaces WHERE id = :'wa3'), false, '... a free workspace is not held');
SELECT is((SELECT count(*)::int FROM tasks WHERE workspace_id = :'wa3' AND type = 'suspend_workspace'), 0,
    '... nor asked to suspend');
SELECT is((SELECT count(*)::int FROM outbox WHERE subject = 'hexabase.cp.workspace.suspend'
    AND stripe_event_id = 'evt_7a_failed'), 2, '... the requests published with the event');
SELECT is((SELECT row(status, number, amount_due, amount_paid, subscription_id, created = to_timestamp(:T0 + 90),
    reported_at = to_timestamp(:T0 + 100))::text FROM invoices WHERE id = 'in_7a1'),
    '(open,7A-0001,29700,0,sub_7a,t,t)', '... the invoice is stored');

SELECT is(pg_temp.apply(:'ev_failed', 0), 'duplicate', 'the same payment_failed again: duplicate');
SELECT is((SELECT count(*)::int FROM stripe_events WHERE id = 'evt_7a_failed')
    || ' ' || (SELECT count(*) FROM outbox WHERE subject = 'stripe.webhook.invoice.payment_failed' AND payload->>'id' = 'evt_7a_failed')
    || ' ' || (SELECT count(*) FROM tasks WHERE organization_id = :'A' AND type = 'suspend_workspace')
    || ' ' || (SELECT count(*) FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.workspace.suspend'),
    '1 1 2 2', '... no second row, republication, task or request');

-- pro1 has been suspended; pro2's suspend is still running.
SELECT is(hxb_ws_answer(jsonb_build_object('event', 'suspended', 'workspace_id', :'wa1', 'task_id',
    (SELECT id FROM tasks WHERE workspace_id = :'wa1' AND type = 'suspend_workspace'))), 'applied',
    'the application plane suspends pro1');
SELECT pg_temp.evt('evt_7a_paid', 'invoice.paid', :T0 + 200,
    jsonb_build_object('id', 'in_7a1', 'object', 'invoice', 'customer', 'cus_7a', 'subscription', 'sub_7a',
        'status', 'paid', 'number', '7A-0001', 'currency', 'usd', 'amount_due', 29700, 'amount_paid', 29700,
        'total', 29700, 'attempt_count', 2, 'created', :T0 + 90,
        'hosted_invoice_url', 'https://invoice.stripe.test/i/7a1', 'invoice_pdf', 'https://invoice.stripe.test/i/7a1.pdf',
        'period_start', :T0, 'period_end', :T0 + 2592000)) AS ev \gset
SELECT is(pg_temp.apply(:'ev', 0), 'applied', 'invoice.paid: applied');
SELECT ok((SELECT past_due_since IS NULL FROM billing_accounts WHERE organization_id = :'A'), '... no longer past due');
SELECT is((SELECT count(*)::int FROM tasks WHERE workspace_id = :'wa1' AND type = 'resume_workspace'
    AND payload#>>'{spec,reason}' = 'payment_received'), 1, '... the suspended held workspace is asked to resume');
SELECT is((SELECT billing_hold FROM workspaces WHERE id = :'wa1'), false, '... and released');
SELECT is((SELECT row(billing_hold, (SELECT count(*) FROM tasks WHERE workspace_id = :'wa2' AND type = 'resume_workspace'))::text
    FROM workspaces WHERE id = :'wa2'), '(t,0)', '... one whose suspend is still open stays held, for now');
SELECT is((SELECT row(status, amount_paid, attempt_count)::text FROM invoices WHERE id = 'in_7a1'), '(paid,29700,2)',
    '... the invoice is paid');
SELECT is((SELECT count(*)::int FROM tasks WHERE workspace_id = :'wa4' AND type = 'resume_workspace'), 0,
    '... a workspace suspended before, not by billing, is not resumed');

SELECT is(hxb_ws_answer(jsonb_build_object('event', 'suspended', 'workspace_id', :'wa2', 'task_id',
    (SELECT id FROM tasks WHERE workspace_id = :'wa2' AND type = 'suspend_workspace'))), 'applied',
    'pro2''s suspend answers too');
SELECT is((SELECT row(suspended, resumed)::text FROM hxb_billing_enforce(:'A', 0)), '(0,1)',
    '... the next enforcement (billing-sync) resumes it');
SELECT is((SELECT row(billing_hold, (SELECT count(*) FROM tasks WHERE workspace_id = :'wa2' AND type = 'resume_workspace'))::text
    FROM workspaces WHERE id = :'wa2'), '(f,1)', '... released, with its resume request');

SELECT pg_temp.evt('evt_7a_failed_old', 'invoice.payment_failed', :T0 + 150,
    jsonb_build_object('id', 'in_7a1', 'object', 'invoice', 'customer', 'cus_7a', 'subscription', 'sub_7a',
        'status', 'open', 'currency', 'usd', 'amount_due', 29700, 'amount_paid', 0, 'total', 29700,
        'attempt_count', 1, 'created', :T0 + 90)) AS ev \gset
SELECT is(pg_temp.apply(:'ev', 0), 'stale', 'a payment_failed older than the invoice.paid applied: stale');
SELECT ok((SELECT past_due_since IS NULL FROM billing_accounts WHERE organization_id = :'A'), '... still paid up');
SELECT is((SELECT count(*)::int FROM tasks WHERE organization_id = :'A' AND type = 'suspend_workspace'), 2,
    '... nothing more suspended');
SELECT is((SELECT status FROM invoices WHERE id = 'in_7a1'), 'paid', '... and the older report of the invoice is not kept');

-- An invoice's newer report overwrites an older one, never the reverse.
SELECT hxb_billing_invoice(:'A', jsonb_build_object('id', 'in_7a2', 'object', 'invoice', 'status', 'open',
    'amount_due', 100, 'currency', 'usd', 'created', :T0 + 500), to_timestamp(:T0 + 600)) \g /dev/null
SELECT hxb_billing_invoice(:'A', jsonb_build_object('id', 'in_7a2', 'object', 'invoice', 'status', 'paid',
    'amount_due', 100, 'amount_paid', 100, 'currency', 'usd', 'created', :T0 + 500), to_timestamp(:T0 + 700)) \g /dev/null
SELECT is((SELECT row(status, amount_paid)::text FROM invoices WHERE id = 'in_7a2'), '(paid,100)',
    'a newer report of an invoice overwrites the older one');
SELECT hxb_billing_invoice(:'A', jsonb_build_object('id', 'in_7a2', 'object', 'invoice', 'status', 'void',
    'amount_due', 100, 'currency', 'usd', 'created', :T0 + 500), to_timestamp(:T0 + 650)) \g /dev/null
SELECT is((SELECT row(status, amount_paid, reported_at = to_timestamp(:T0 + 700))::text FROM invoices
    WHERE id = 'in_7a2'), '(paid,100,t)', '... an older one does not overwrite a newer');

-- ---- the grace period, and enforcement twice ------------------------------------
SELECT pg_temp.evt('evt_7c_failed', 'invoice.payment_failed', extract(epoch FROM now())::bigint - 60,
    jsonb_build_object('id', 'in_7c1', 'object', 'invoice', 'customer', 'cus_7c', 'subscription', 'sub_7c',
        'status', 'open', 'currency', 'usd', 'amount_due', 4900, 'amount_paid', 0, 'total', 4900,
        'attempt_count', 1)) AS ev \gset
SELECT is(pg_temp.apply(:'ev', 86400), 'applied', 'a payment failed a minute ago, grace a day: applied');
SELECT ok((SELECT past_due_since IS NOT NULL FROM billing_accounts WHERE organization_id = :'C'), '... past due');
SELECT is((SELECT row(billing_hold, status, (SELECT count(*) FROM tasks WHERE workspace_id = :'wc1'))::text
    FROM workspaces WHERE id = :'wc1'), '(f,running,0)', '... nothing held or suspended within the grace');
SELECT is((SELECT row(suspended, resumed)::text FROM hxb_billing_enforce(:'C', 0)), '(1,0)',
    'past the grace: enforcement asks the running paid workspace to suspend');
SELECT is((SELECT row(suspended, resumed)::text FROM hxb_billing_enforce(:'C', 0)), '(0,0)',
    '... called again at once, it asks nothing more');
SELECT is((SELECT count(*)::int FROM tasks WHERE workspace_id = :'wc1' AND type = 'suspend_workspace')
    || ' ' || (SELECT count(*) FROM outbox WHERE workspace_id = :'wc1' AND subject = 'hexabase.cp.workspace.suspend')
    || ' ' || (SELECT billing_hold FROM workspaces WHERE id = :'wc1'),
    '1 1 true', '... one suspend request, one publication, held');

-- ---- customer.updated, payment_method.detached ----------------------------------
SELECT pg_temp.evt('evt_7a_customer', 'customer.updated', :T0 + 300,
    jsonb_build_object('id', 'cus_7a', 'object', 'customer', 'email', 'billing@bill7-a.example.test',
        'name', 'Bill Seven A',
        'invoice_settings', jsonb_build_object('default_payment_method', jsonb_build_object(
            'id', 'pm_7a', 'object', 'payment_method', 'type', 'card', 'customer', 'cus_7a',
            'billing_details', jsonb_build_object('name', 'Bill Seven', 'address', jsonb_build_object('postal_code', '12345')),
            'card', jsonb_build_object('brand', 'visa', 'last4', '4242', 'exp_month', 12, 'exp_year', 2030,
                'fingerprint', 'Xt5EWLLDS7FJjR1c', 'country', 'US', 'funding', 'credit',
                'checks', jsonb_build_object('cvc_check', 'pass'))))),
    jsonb_build_object('email', 'old@bill7-a.example.test')) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'customer.updated: applied');
SELECT is((SELECT row(customer_email, customer_name, default_payment_method_id)::text FROM billing_accounts
    WHERE organization_id = :'A'), '(billing@bill7-a.example.test,"Bill Seven A",pm_7a)',
    '... its email, name and default payment method');
SELECT is((SELECT payment_method FROM billing_accounts WHERE organization_id = :'A'),
    '{"id": "pm_7a", "type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}'::jsonb,
    '... the payment method''s summary');
SELECT set_eq(format($$SELECT jsonb_object_keys(payment_method) FROM billing_accounts WHERE organization_id = %L$$, :'A'),
    ARRAY['id', 'type', 'brand', 'last4', 'exp_month', 'exp_year'], '... and nothing else of the card');

SELECT pg_temp.evt('evt_7a_detached', 'payment_method.detached', :T0 + 310,
    jsonb_build_object('id', 'pm_7a', 'object', 'payment_method', 'type', 'card', 'customer', NULL,
        'card', jsonb_build_object('brand', 'visa', 'last4', '4242', 'exp_month', 12, 'exp_year', 2030)),
    jsonb_build_object('customer', 'cus_7a')) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'payment_method.detached (the customer in previous_attributes): applied');
SELECT ok((SELECT payment_method IS NULL FROM billing_accounts WHERE organization_id = :'A'),
    '... the stored payment method is cleared');

-- ---- an event of no interest -------------------------------------------------------
SELECT coalesce((SELECT to_jsonb(b) FROM billing_accounts b WHERE organization_id = :'A'), '{}') AS ba_before \gset
SELECT (SELECT count(*) FROM tasks WHERE organization_id = :'A') || ' '
    || (SELECT count(*) FROM outbox WHERE organization_id = :'A') AS counts_before \gset
SELECT pg_temp.evt('evt_7a_refund', 'charge.refunded', :T0 + 320,
    jsonb_build_object('id', 'ch_7a', 'object', 'charge', 'customer', 'cus_7a', 'amount_refunded', 4900,
        'refunded', true)) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'ignored', 'charge.refunded (not handled): ignored');
SELECT is((SELECT row(outcome, organization_id)::text FROM stripe_events WHERE id = 'evt_7a_refund'),
    '(ignored,' || :'A' || ')', '... stored, with its organization');
SELECT is((SELECT count(*)::int FROM outbox WHERE subject = 'stripe.webhook.charge.refunded' AND stripe_event_id = 'evt_7a_refund'
    AND payload = :'ev'::jsonb), 1, '... republished');
SELECT is((SELECT (SELECT count(*) FROM tasks WHERE organization_id = :'A') || ' '
    || (SELECT count(*) - 1 FROM outbox WHERE organization_id = :'A')), :'counts_before',
    '... no task, no other outbox row');
SELECT is((SELECT to_jsonb(b) FROM billing_accounts b WHERE organization_id = :'A'), :'ba_before'::jsonb,
    '... and the billing account untouched');

-- ---- cancellation is terminal; an ended subscription is replaced ------------------
SELECT pg_temp.evt('evt_7a_sub_deleted', 'customer.subscription.deleted', :T0 + 400,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'canceled',
        'current_period_start', :T0 + 2592000, 'current_period_end', :T0 + 5184000)) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'customer.subscription.deleted: applied');
SELECT is((SELECT subscription_status FROM billing_accounts WHERE organization_id = :'A'), 'canceled', '... canceled');
SELECT is((SELECT past_due_since FROM billing_accounts WHERE organization_id = :'A'), to_timestamp(:T0 + 400),
    '... with paid workspaces still there, the organization is past due from then, as after a failed payment');
SELECT pg_temp.evt('evt_7a_sub_zombie', 'customer.subscription.updated', :T0 + 410,
    jsonb_build_object('id', 'sub_7a', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'active',
        'current_period_start', :T0 + 2592000, 'current_period_end', :T0 + 5184000),
    jsonb_build_object('status', 'past_due')) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'stale', 'a newer active update of the canceled subscription: stale');
SELECT is((SELECT subscription_status FROM billing_accounts WHERE organization_id = :'A'), 'canceled',
    '... it stays canceled');
SELECT pg_temp.evt('evt_7a_sub_new', 'customer.subscription.created', :T0 + 420,
    jsonb_build_object('id', 'sub_7n', 'object', 'subscription', 'customer', 'cus_7a', 'status', 'active',
        'current_period_start', :T0 + 420, 'current_period_end', :T0 + 420 + 2592000)) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'applied', 'another subscription once the current one has ended: applied');
SELECT is((SELECT row(subscription_id, subscription_status)::text FROM billing_accounts WHERE organization_id = :'A'),
    '(sub_7n,active)', '... it replaces the ended one');

SELECT pg_temp.evt('evt_7f_sub_other', 'customer.subscription.updated', :T0,
    jsonb_build_object('id', 'sub_7g', 'object', 'subscription', 'customer', 'cus_7f', 'status', 'active',
        'current_period_start', :T0, 'current_period_end', :T0 + 2592000)) AS ev \gset
SELECT is(pg_temp.apply(:'ev'), 'ignored',
    'an event for another subscription while the Checkout''s one has no status yet: ignored');
SELECT is((SELECT subscription_id FROM billing_accounts WHERE organization_id = :'F'), 'sub_7f',
    '... the Checkout''s subscription stays');

-- ---- billing-sync requests from the workspace triggers -----------------------------
INSERT INTO workspaces (id, organization_id, name, plan_id) VALUES (:'wa5', :'A', 'late', 'pro');
SELECT is((SELECT count(*)::int FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.billing.sync'
    AND payload->>'workspace_id' = :'wa5' AND payload->>'reason' = 'workspace.insert'), 1,
    'a workspace added to a subscribed organization requests a billing sync');
UPDATE workspaces SET plan_id = 'pro' WHERE id = :'wa3';
SELECT is((SELECT count(*)::int FROM outbox WHERE organization_id = :'A' AND subject = 'hexabase.cp.billing.sync'
    AND payload->>'workspace_id' = :'wa3' AND payload->>'reason' = 'workspace.update'), 1,
    '... so does a workspace moved to another plan');
UPDATE workspaces SET status = 'failed' WHERE id = :'wa3';
SELECT is((SELECT count(*)::int FROM outbox WHERE subject = 'hexabase.cp.billing.sync' AND payload->>'workspace_id' = :'wa3'),
    1, '... not a status change that is no deletion');
UPDATE workspaces SET status = 'deleting' WHERE id = :'wa3';
SELECT is((SELECT count(*)::int FROM outbox WHERE subject = 'hexabase.cp.billing.sync' AND payload->>'workspace_id' = :'wa3'),
    2, '... but a deletion does');
INSERT INTO workspaces (id, organization_id, name, plan_id) VALUES (:'wd1', :'D', 'w', 'pro'), (:'wb1', :'B', 'w', 'pro');
SELECT is(pg_temp.nout(:'D', 'hexabase.cp.billing.sync'), 0, 'a workspace added to an organization without billing requests none');
SELECT is(pg_temp.nout(:'B', 'hexabase.cp.billing.sync'), 0, '... nor to one with a customer but no subscription');

-- ---- every event republished once, stamped with its id --------------------------
SELECT is((SELECT count(*)::int FROM stripe_events e WHERE e.id LIKE 'evt\_7%'), 18, 'eighteen events stored');
SELECT is((SELECT count(*)::int FROM stripe_events e WHERE e.id LIKE 'evt\_7%' AND (SELECT count(*) FROM outbox o
    WHERE o.subject = 'stripe.webhook.' || e.type AND o.payload = e.payload AND o.stripe_event_id = e.id) <> 1), 0,
    'each is republished exactly once as stripe.webhook.<type>, stamped with its id');

-- ---- row-level security ---------------------------------------------------------------
SELECT pg_temp.handover() \g /dev/null
SET LOCAL ROLE hxb_app;
SELECT set_config('hxb.user_id', :'ua', true) \g /dev/null
SELECT set_eq('SELECT organization_id FROM billing_accounts', ARRAY[:'A'],
    'an organization admin reads its billing account, and no other');
SELECT set_eq('SELECT id FROM invoices', ARRAY['in_7a1', 'in_7a2'], '... and its invoices');
SELECT throws_ok('SELECT count(*) FROM stripe_events', '42501', NULL, '... but not the Stripe events');
SELECT throws_ok(format($$UPDATE billing_accounts SET subscription_status = 'active' WHERE organization_id = %L$$, :'A'),
    '42501', NULL, '... nor may it change the subscription''s status');
SELECT throws_ok(format($$SELECT hxb_billing_enforce(%L, 0)$$, :'A'), '42501', NULL,
    '... nor call hxb_billing_enforce()');
SELECT set_config('hxb.user_id', :'um', true) \g /dev/null
SELECT is_empty('SELECT 1 FROM billing_accounts', 'a member of the organization reads no billing account');
SELECT is_empty('SELECT 1 FROM invoices', '... and no invoice');
SELECT set_config('hxb.user_id', :'us', true) \g /dev/null
SELECT is_empty('SELECT 1 FROM billing_accounts', 'a stranger reads no billing account');
SELECT is_empty('SELECT 1 FROM invoices', '... and no invoice');
SELECT throws_ok(format($$INSERT INTO billing_accounts (organization_id, stripe_customer_id) VALUES (%L, 'cus_7evil')$$, :'D'),
    '42501', NULL, '... nor records a customer for an organization it does not administer');
SELECT set_config('hxb.user_id', '', true) \g /dev/null
SELECT is(pg_temp.apply(jsonb_build_object('id', 'evt_7a_app', 'object', 'event', 'type', 'charge.succeeded',
    'created', :T0 + 500, 'livemode', false, 'data', jsonb_build_object('object',
        jsonb_build_object('id', 'ch_7b', 'object', 'charge', 'customer', 'cus_7a'))), 0), 'ignored',
    'the webhook, acting for nobody as hxb_app, applies an event');
RESET ROLE;
SELECT is((SELECT organization_id FROM stripe_events WHERE id = 'evt_7a_app'), :'A', '... which is stored');

SELECT * FROM finish();
ROLLBACK;
