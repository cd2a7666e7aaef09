-- 0008_billing: billing with Stripe.
--
-- An organization is a Stripe customer with (at most) one live
-- subscription.  A paid plan is a Stripe price; the organization's
-- workspaces on a paid plan are billed as one subscription item per
-- price whose quantity is the number of those workspaces.  (Stripe
-- refuses two items of the same price on one subscription, and caps a
-- subscription at 20 items: an item per workspace would stop at the
-- second workspace of a plan.)
--
-- What Stripe says reaches us two ways: signed webhook events, applied by
-- hxb_stripe_event() in the transaction that stores them, and the
-- billing-sync job, which reads the subscription and repairs drift.
-- Both go through hxb_billing_subscription(), which never moves a
-- subscription back to an older state.  Handlers read the stored state;
-- they call Stripe only for the Checkout and portal URLs.

-- The Stripe price of a paid plan, set by the operator (docs/CONFIG.md).
-- A paid plan without one is not billed through Stripe.
ALTER TABLE plans ADD COLUMN stripe_price_id text UNIQUE
    CHECK (stripe_price_id ~ '^price_[A-Za-z0-9_]{1,200}$');

-- Set while billing holds the workspace suspended for an unpaid invoice;
-- cleared when it is released.  Billing resumes only what it suspended.
ALTER TABLE workspaces ADD COLUMN billing_hold boolean NOT NULL
    DEFAULT false;

-- Outbox rows written for a Stripe event, so that the webhook (which acts
-- for nobody) may mark what it published.
ALTER TABLE outbox ADD COLUMN stripe_event_id text;

/*
 * The organization's side of Stripe.  Each part carries the time of what
 * set it (an event's `created`, or the moment billing-sync read Stripe),
 * and an older report never overwrites a newer one.
 */
CREATE TABLE billing_accounts (
    organization_id     text PRIMARY KEY
                        REFERENCES organizations ON DELETE CASCADE,
    stripe_customer_id  text UNIQUE
                        CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9_]{1,200}$'),
    customer_email      text CHECK (length(customer_email) <= 254),
    customer_name       text CHECK (length(customer_name) <= 200),
    customer_at         timestamptz,
    subscription_id     text
                        CHECK (subscription_id ~ '^sub_[A-Za-z0-9_]{1,200}$'),
    -- Stripe's states (incomplete, incomplete_expired, trialing, active,
    -- past_due, canceled, unpaid, paused), or one it adds later: the
    -- shape only, so that a new one never makes an event unstorable.
    subscription_status text CHECK (subscription_status ~ '^[a-z_]{1,40}$'),
    current_period_start timestamptz,
    current_period_end  timestamptz,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    subscription_at     timestamptz,
    -- {id, type, brand, last4, exp_month, exp_year}: no more of a card.
    payment_method      jsonb CHECK (jsonb_typeof(payment_method) = 'object'),
    default_payment_method_id text,
    payment_method_at   timestamptz,
    upcoming_total      bigint,
    upcoming_currency   text CHECK (upcoming_currency ~ '^[a-z]{3}$'),
    upcoming_at         timestamptz,
    -- When the first unpaid invoice failed; NULL when paid up.
    past_due_since      timestamptz,
    payment_at          timestamptz,
    synced_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER billing_accounts_touch BEFORE UPDATE ON billing_accounts
    FOR EACH ROW EXECUTE FUNCTION hxb_touch_updated_at();

CREATE TABLE invoices (
    id                  text PRIMARY KEY
                        CHECK (id ~ '^in_[A-Za-z0-9_]{1,200}$'),
    organization_id     text NOT NULL
                        REFERENCES organizations ON DELETE CASCADE,
    subscription_id     text,
    number              text CHECK (length(number) <= 100),
    status              text CHECK (status ~ '^[a-z_]{1,40}$'),
    currency            text CHECK (currency ~ '^[a-z]{3}$'),
    amount_due          bigint,
    amount_paid         bigint,
    total               bigint,
    attempt_count       integer,
    hosted_invoice_url  text CHECK (hosted_invoice_url ~ '^https://'),
    invoice_pdf         text CHECK (invoice_pdf ~ '^https://'),
    period_start        timestamptz,
    period_end          timestamptz,
    created             timestamptz NOT NULL,
    reported_at         timestamptz NOT NULL
);
CREATE INDEX invoices_org_idx ON invoices (organization_id, created DESC, id);

-- Every verified event, once: its id is the key of idempotency.
CREATE TABLE stripe_events (
    id              text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]{1,200}$'),
    type            text NOT NULL CHECK (type ~ '^[a-z0-9_.]{1,100}$'),
    created         timestamptz NOT NULL,
    livemode        boolean NOT NULL DEFAULT false,
    organization_id text REFERENCES organizations ON DELETE SET NULL,
    outcome         text NOT NULL DEFAULT 'applied'
                    CHECK (outcome IN ('applied', 'stale', 'ignored')),
    payload         jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_org_idx ON stripe_events (organization_id,
                                                     created);

-- ---- row-level security ---------------------------------------------------
-- Organization admins read their organization's billing; the handlers
-- record a new customer (the Checkout route), never change one, and
-- nothing else.  Events are
-- written only by the SECURITY DEFINER functions below.

ALTER TABLE billing_accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY billing_admin ON billing_accounts FOR ALL
    USING (hxb_org_role(organization_id) = 'admin');
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY invoice_admin_read ON invoices FOR SELECT
    USING (hxb_org_role(organization_id) = 'admin');
ALTER TABLE stripe_events ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON billing_accounts, invoices TO hxb_app;
GRANT INSERT (organization_id, stripe_customer_id) ON billing_accounts
    TO hxb_app;

-- ---- helpers ------------------------------------------------------------

CREATE FUNCTION hxb_unix_ts(v jsonb) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN jsonb_typeof(v) = 'number'
                THEN to_timestamp((v #>> '{}')::double precision) END;

-- An id that may come expanded ({"id": ...}) or as a string.
CREATE FUNCTION hxb_stripe_id(v jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE jsonb_typeof(v) WHEN 'string' THEN v #>> '{}'
                                WHEN 'object' THEN v ->> 'id' END;

/*
 * Suspend or release an organization's paid workspaces after its
 * payments (the seed's deactivate and activate).  Past due for longer
 * than grace_s: every paid workspace is held, and each running one
 * without an open suspend is asked to suspend.  Paid up: each held
 * workspace is released, and each suspended one without an open task is
 * asked to resume (one with a suspend still open is resumed by the next
 * call, from billing-sync).  Returns the requests made.
 */
CREATE FUNCTION hxb_billing_enforce(org text, grace_s integer,
    OUT suspended integer, OUT resumed integer)
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    a billing_accounts;
    w record;
    hold boolean;
BEGIN
    suspended := 0;
    resumed := 0;
    SELECT * INTO a FROM billing_accounts WHERE organization_id = org;
    hold := a.past_due_since IS NOT NULL
            AND a.past_due_since + make_interval(secs => grace_s) <= now();
    FOR w IN SELECT ws.id, ws.status, ws.billing_hold,
                    EXISTS (SELECT FROM tasks t WHERE t.workspace_id = ws.id
                            AND t.type IN ('suspend_workspace',
                                           'resume_workspace')
                            AND t.status IN ('pending', 'running')) AS busy
             FROM workspaces ws JOIN plans p ON p.id = ws.plan_id
             WHERE ws.organization_id = org
             AND ws.status NOT IN ('deleting', 'deleted')
             AND (p.price_cents > 0 OR ws.billing_hold)
             ORDER BY ws.id FOR UPDATE OF ws
    LOOP
        IF hold THEN
            -- One suspended already, not by billing, is not billing's
            -- to resume later.
            IF NOT w.billing_hold AND w.status <> 'suspended' THEN
                UPDATE workspaces SET billing_hold = true WHERE id = w.id;
            END IF;
            IF w.status = 'running' AND NOT w.busy THEN
                PERFORM hxb_ws_request(w.id, 'suspend_workspace',
                    jsonb_build_object('reason', 'payment_failed'));
                suspended := suspended + 1;
            END IF;
        ELSIF w.billing_hold AND NOT w.busy THEN
            UPDATE workspaces SET billing_hold = false WHERE id = w.id;
            IF w.status = 'suspended' THEN
                PERFORM hxb_ws_request(w.id, 'resume_workspace',
                    jsonb_build_object('reason', 'payment_received'));
                resumed := resumed + 1;
            END IF;
        END IF;
    END LOOP;
END $$;

/*
 * A subscription object as Stripe reported it at `seen` (an event's
 * created, or now for billing-sync's read), applied to its organization:
 *
 *   - a report older than the one applied last is stale;
 *   - a canceled (or expired) subscription stays so: it is terminal;
 *   - another subscription than the organization's replaces it only if
 *     that one has ended.
 *
 * The current period is read from the subscription or, in API versions
 * that moved it, from its first item.  Returns 'applied', 'stale' or
 * 'ignored'.
 */
CREATE FUNCTION hxb_billing_subscription(org text, sub jsonb,
    seen timestamptz) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    a billing_accounts;
    st text := sub->>'status';
    item jsonb := sub #> '{items,data,0}';
BEGIN
    SELECT * INTO a FROM billing_accounts WHERE organization_id = org
        FOR UPDATE;
    IF NOT FOUND OR sub->>'id' IS NULL
       OR sub->>'id' !~ '^sub_[A-Za-z0-9_]{1,200}$' THEN
        RETURN 'ignored';
    END IF;
    IF a.subscription_id IS NOT NULL AND a.subscription_id <> sub->>'id' THEN
        IF coalesce(a.subscription_status, '') NOT IN ('canceled',
                                                       'incomplete_expired')
           OR st IN ('canceled', 'incomplete_expired') THEN
            RETURN 'ignored';
        END IF;
    ELSIF a.subscription_id IS NOT NULL THEN
        IF seen < a.subscription_at THEN
            RETURN 'stale';
        END IF;
        IF a.subscription_status IN ('canceled', 'incomplete_expired')
           AND st IS DISTINCT FROM a.subscription_status THEN
            RETURN 'stale';
        END IF;
    END IF;
    UPDATE billing_accounts SET subscription_id = sub->>'id',
        subscription_status = st,
        current_period_start = coalesce(
            hxb_unix_ts(sub->'current_period_start'),
            hxb_unix_ts(item->'current_period_start')),
        current_period_end = coalesce(
            hxb_unix_ts(sub->'current_period_end'),
            hxb_unix_ts(item->'current_period_end')),
        cancel_at_period_end = coalesce((sub->>'cancel_at_period_end')::boolean,
                                        false),
        subscription_at = seen
        WHERE organization_id = org;
    RETURN 'applied';
END $$;

/*
 * Prices changed in Stripe (the customer portal, the dashboard): for each
 * item of the subscription whose price is not the one it had, the
 * organization's workspaces on the old price's plan move to the new
 * one's, each with its update request and audit row.  Returns how many
 * workspaces moved.
 */
CREATE FUNCTION hxb_billing_replan(org text, sub jsonb, previous jsonb)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    cur jsonb;
    old jsonb;
    from_plan text;
    to_plan text;
    w record;
    n integer := 0;
BEGIN
    FOR cur IN SELECT * FROM jsonb_array_elements(
        coalesce(sub #> '{items,data}', '[]'))
    LOOP
        SELECT o INTO old FROM jsonb_array_elements(
            coalesce(previous #> '{items,data}', '[]')) o
            WHERE o->>'id' = cur->>'id' LIMIT 1;
        IF old IS NULL OR hxb_stripe_id(old->'price') IS NULL
           OR hxb_stripe_id(old->'price') = hxb_stripe_id(cur->'price') THEN
            CONTINUE;
        END IF;
        SELECT id INTO from_plan FROM plans
            WHERE stripe_price_id = hxb_stripe_id(old->'price');
        SELECT id INTO to_plan FROM plans
            WHERE stripe_price_id = hxb_stripe_id(cur->'price') AND active;
        IF from_plan IS NULL OR to_plan IS NULL OR from_plan = to_plan THEN
            CONTINUE;
        END IF;
        FOR w IN SELECT ws.id FROM workspaces ws
                 WHERE ws.organization_id = org AND ws.plan_id = from_plan
                 AND ws.status NOT IN ('deleting', 'deleted')
                 ORDER BY ws.id FOR UPDATE
        LOOP
            UPDATE workspaces SET plan_id = to_plan WHERE id = w.id;
            PERFORM hxb_ws_request(w.id, 'update_workspace',
                jsonb_build_object('plan_id', to_plan,
                                   'previous_plan_id', from_plan,
                                   'source', 'stripe'));
            INSERT INTO audit_log (organization_id, workspace_id, action,
                                   resource, result, before, after)
                VALUES (org, w.id, 'workspace.plan_changed',
                        'workspaces/' || w.id, 'success',
                        jsonb_build_object('plan_id', from_plan),
                        jsonb_build_object('plan_id', to_plan,
                                           'source', 'stripe'));
            n := n + 1;
        END LOOP;
    END LOOP;
    RETURN n;
END $$;

-- An invoice as reported at `seen`, kept unless a newer report is.
CREATE FUNCTION hxb_billing_invoice(org text, inv jsonb, seen timestamptz)
    RETURNS void
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF inv->>'id' IS NULL OR inv->>'id' !~ '^in_[A-Za-z0-9_]{1,200}$' THEN
        RETURN;
    END IF;
    INSERT INTO invoices AS i (id, organization_id, subscription_id, number,
        status, currency, amount_due, amount_paid, total, attempt_count,
        hosted_invoice_url, invoice_pdf, period_start, period_end, created,
        reported_at)
    VALUES (inv->>'id', org, coalesce(hxb_stripe_id(inv->'subscription'),
                inv #>> '{parent,subscription_details,subscription}'),
        left(inv->>'number', 100), inv->>'status', inv->>'currency',
        (inv->>'amount_due')::bigint, (inv->>'amount_paid')::bigint,
        (inv->>'total')::bigint, (inv->>'attempt_count')::integer,
        CASE WHEN inv->>'hosted_invoice_url' ~ '^https://'
             THEN inv->>'hosted_invoice_url' END,
        CASE WHEN inv->>'invoice_pdf' ~ '^https://'
             THEN inv->>'invoice_pdf' END,
        hxb_unix_ts(inv->'period_start'), hxb_unix_ts(inv->'period_end'),
        coalesce(hxb_unix_ts(inv->'created'), seen), seen)
    ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
        number = EXCLUDED.number, amount_due = EXCLUDED.amount_due,
        amount_paid = EXCLUDED.amount_paid, total = EXCLUDED.total,
        attempt_count = EXCLUDED.attempt_count,
        hosted_invoice_url = EXCLUDED.hosted_invoice_url,
        invoice_pdf = EXCLUDED.invoice_pdf, reported_at = EXCLUDED.reported_at
        WHERE i.organization_id = EXCLUDED.organization_id
        AND i.reported_at <= EXCLUDED.reported_at;
END $$;

-- A payment method's summary: never more of a card than this.
CREATE FUNCTION hxb_billing_pm(pm jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'id', pm->>'id', 'type', pm->>'type',
        'brand', pm #>> '{card,brand}', 'last4', pm #>> '{card,last4}',
        'exp_month', (pm #>> '{card,exp_month}')::integer,
        'exp_year', (pm #>> '{card,exp_year}')::integer));

/*
 * Record `cus` as the customer of organization `org` if it has none yet
 * (a Checkout's events name the organization they were made for).  The
 * organization, or NULL if it does not exist or has another customer.
 */
CREATE FUNCTION hxb_billing_link(org text, cus text) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF org IS NULL OR cus IS NULL OR cus !~ '^cus_[A-Za-z0-9_]{1,200}$'
       OR NOT EXISTS (SELECT FROM organizations o WHERE o.id = org) THEN
        RETURN NULL;
    END IF;
    INSERT INTO billing_accounts (organization_id, stripe_customer_id)
        VALUES (org, cus)
        ON CONFLICT (organization_id) DO UPDATE
        SET stripe_customer_id = EXCLUDED.stripe_customer_id
        WHERE billing_accounts.stripe_customer_id IS NULL;
    RETURN CASE WHEN FOUND THEN org END;
END $$;

/*
 * A verified Stripe event (the webhook has checked its signature), in the
 * transaction that stores it: stored once by its id, its effect applied,
 * and republished as stripe.webhook.<type> through the outbox.
 *
 *   checkout.session.completed	     the organization (client_reference_id)
 *				     gets its customer and subscription,
 *				     and a billing sync is requested
 *   customer.subscription.*	     status and period
 *				     (hxb_billing_subscription); a price
 *				     changed in Stripe moves the workspaces
 *				     (hxb_billing_replan); deleted while
 *				     paid workspaces run: past due, as a
 *				     failed payment
 *   invoice.paid		     paid up: held workspaces resumed
 *   invoice.payment_failed	     past due since then; past grace_s,
 *				     paid workspaces suspended
 *   customer.updated		     e-mail, name, default payment method
 *   payment_method.attached/.detached
 *				     the payment method's summary
 *
 * Anything else is stored and republished, and changes nothing.  Returns
 * 'duplicate' (seen before: nothing done), 'applied', 'stale' (older
 * than what was applied) or 'ignored'.
 */
CREATE FUNCTION hxb_stripe_event(ev jsonb, grace_s integer) RETURNS text
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    typ text := ev->>'type';
    obj jsonb := ev #> '{data,object}';
    seen timestamptz := hxb_unix_ts(ev->'created');
    cus text;
    org text;
    a billing_accounts;
    verdict text := 'ignored';
    pm jsonb;
BEGIN
    INSERT INTO stripe_events (id, type, created, livemode, payload)
        VALUES (ev->>'id', typ, seen,
                coalesce((ev->>'livemode')::boolean, false), ev)
        ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;

    cus := CASE WHEN obj->>'object' = 'customer' THEN obj->>'id'
                ELSE coalesce(hxb_stripe_id(obj->'customer'),
                              ev #>> '{data,previous_attributes,customer}') END;
    SELECT b.organization_id INTO org FROM billing_accounts b
        WHERE b.stripe_customer_id = cus;

    -- A customer we have not recorded yet (the Checkout's events may
    -- arrive in any order): the organization the session or the
    -- subscription names, if it has no customer of its own.
    IF org IS NULL AND cus IS NOT NULL THEN
        org := hxb_billing_link(coalesce(obj->>'client_reference_id',
                                         obj #>> '{metadata,organization_id}'),
                                cus);
    END IF;

    IF typ = 'checkout.session.completed' THEN
        IF org IS NOT NULL AND obj->>'mode' = 'subscription'
           AND hxb_stripe_id(obj->'subscription') ~ '^sub_[A-Za-z0-9_]{1,200}$'
        THEN
            SELECT * INTO a FROM billing_accounts WHERE organization_id = org
                FOR UPDATE;
            IF a.subscription_id IS NULL
               OR a.subscription_status IN ('canceled', 'incomplete_expired')
            THEN
                UPDATE billing_accounts SET
                    subscription_id = hxb_stripe_id(obj->'subscription'),
                    subscription_status = CASE WHEN a.subscription_id IS
                        DISTINCT FROM hxb_stripe_id(obj->'subscription')
                        THEN NULL ELSE subscription_status END
                    WHERE organization_id = org;
                verdict := 'applied';
            END IF;
            INSERT INTO outbox (organization_id, subject, payload)
                VALUES (org, 'hexabase.cp.billing.sync',
                        jsonb_build_object('organization_id', org,
                                           'reason', typ));
        END IF;
    ELSIF org IS NULL THEN
        verdict := 'ignored';
    ELSIF typ IN ('customer.subscription.created',
                  'customer.subscription.updated',
                  'customer.subscription.deleted') THEN
        verdict := hxb_billing_subscription(org, obj, seen);
        IF verdict = 'applied' AND typ = 'customer.subscription.updated' THEN
            PERFORM hxb_billing_replan(org, obj,
                                       ev #> '{data,previous_attributes}');
        END IF;
        IF verdict = 'applied' AND typ = 'customer.subscription.created' THEN
            INSERT INTO outbox (organization_id, subject, payload)
                VALUES (org, 'hexabase.cp.billing.sync',
                        jsonb_build_object('organization_id', org,
                                           'reason', typ));
        END IF;
        -- The subscription ended (Stripe cancels one whose payments
        -- failed to the end of its retries) while paid workspaces run:
        -- nothing pays for them, as after a failed payment.
        IF verdict = 'applied' AND typ = 'customer.subscription.deleted'
           AND EXISTS (SELECT FROM workspaces w JOIN plans p ON p.id = w.plan_id
                       WHERE w.organization_id = org AND p.price_cents > 0
                       AND w.status NOT IN ('deleting', 'deleted')) THEN
            UPDATE billing_accounts SET
                past_due_since = coalesce(past_due_since, seen)
                WHERE organization_id = org;
            PERFORM hxb_billing_enforce(org, grace_s);
        END IF;
    ELSIF typ IN ('invoice.paid', 'invoice.payment_failed') THEN
        PERFORM hxb_billing_invoice(org, obj, seen);
        SELECT * INTO a FROM billing_accounts WHERE organization_id = org
            FOR UPDATE;
        IF a.payment_at IS NOT NULL AND seen < a.payment_at THEN
            verdict := 'stale';
        ELSE
            UPDATE billing_accounts SET payment_at = seen,
                past_due_since = CASE WHEN typ = 'invoice.paid' THEN NULL
                                      ELSE coalesce(past_due_since, seen) END
                WHERE organization_id = org;
            PERFORM hxb_billing_enforce(org, grace_s);
            verdict := 'applied';
        END IF;
    ELSIF typ = 'customer.updated' THEN
        SELECT * INTO a FROM billing_accounts WHERE organization_id = org
            FOR UPDATE;
        IF a.customer_at IS NOT NULL AND seen < a.customer_at THEN
            verdict := 'stale';
        ELSE
            pm := obj #> '{invoice_settings,default_payment_method}';
            UPDATE billing_accounts SET customer_at = seen,
                customer_email = left(obj->>'email', 254),
                customer_name = left(obj->>'name', 200),
                default_payment_method_id = hxb_stripe_id(pm),
                payment_method = CASE
                    WHEN jsonb_typeof(pm) = 'object' THEN hxb_billing_pm(pm)
                    WHEN hxb_stripe_id(pm) IS NULL THEN payment_method
                    WHEN payment_method->>'id' = hxb_stripe_id(pm)
                        THEN payment_method
                    ELSE jsonb_build_object('id', hxb_stripe_id(pm)) END
                WHERE organization_id = org;
            verdict := 'applied';
        END IF;
    ELSIF typ IN ('payment_method.attached', 'payment_method.detached') THEN
        SELECT * INTO a FROM billing_accounts WHERE organization_id = org
            FOR UPDATE;
        IF a.payment_method_at IS NOT NULL AND seen < a.payment_method_at THEN
            verdict := 'stale';
        ELSIF typ = 'payment_method.attached' THEN
            UPDATE billing_accounts SET payment_method_at = seen,
                payment_method = hxb_billing_pm(obj)
                WHERE organization_id = org AND (payment_method IS NULL
                    OR payment_method->>'id' = obj->>'id'
                    OR default_payment_method_id = obj->>'id'
                    OR default_payment_method_id IS NULL);
            verdict := 'applied';
        ELSE
            UPDATE billing_accounts SET payment_method_at = seen,
                payment_method = NULL
                WHERE organization_id = org
                AND payment_method->>'id' = obj->>'id';
            verdict := 'applied';
        END IF;
    END IF;

    UPDATE stripe_events SET organization_id = org, outcome = verdict
        WHERE id = ev->>'id';
    INSERT INTO outbox (organization_id, subject, payload)
        VALUES (org, 'stripe.webhook.' || typ, ev);
    UPDATE outbox SET stripe_event_id = ev->>'id'
        WHERE created_xact = pg_current_xact_id() AND published_at IS NULL
        AND stripe_event_id IS NULL;
    RETURN verdict;
END $$;

-- What the webhook published for an event, marked (it acts for nobody,
-- so the outbox's policy would show it nothing).
CREATE FUNCTION hxb_stripe_published(event_id text, ids bigint[])
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
BEGIN ATOMIC
    UPDATE outbox SET published_at = now()
        WHERE stripe_event_id = event_id AND id = ANY (ids)
        AND published_at IS NULL;
END;

-- A workspace added, removed or moved to another plan changes the
-- organization's subscription: billing-sync is asked to look, if the
-- organization has a subscription to change.
CREATE FUNCTION hxb_billing_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT FROM billing_accounts b
               WHERE b.organization_id = NEW.organization_id
               AND b.subscription_id IS NOT NULL) THEN
        INSERT INTO outbox (organization_id, subject, payload)
            VALUES (NEW.organization_id, 'hexabase.cp.billing.sync',
                    jsonb_build_object('organization_id', NEW.organization_id,
                                       'workspace_id', NEW.id,
                                       'reason', 'workspace.' ||
                                       lower(TG_OP)));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER workspaces_billing_ins AFTER INSERT ON workspaces
    FOR EACH ROW EXECUTE FUNCTION hxb_billing_changed();
CREATE TRIGGER workspaces_billing_upd AFTER UPDATE ON workspaces
    FOR EACH ROW WHEN (OLD.plan_id IS DISTINCT FROM NEW.plan_id
                       OR (OLD.status IN ('deleting', 'deleted'))
                          IS DISTINCT FROM
                          (NEW.status IN ('deleting', 'deleted')))
    EXECUTE FUNCTION hxb_billing_changed();

REVOKE ALL ON FUNCTION hxb_billing_enforce(text, integer),
    hxb_billing_subscription(text, jsonb, timestamptz),
    hxb_billing_replan(text, jsonb, jsonb),
    hxb_billing_invoice(text, jsonb, timestamptz),
    hxb_billing_link(text, text),
    hxb_stripe_event(jsonb, integer),
    hxb_stripe_published(text, bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_stripe_event(jsonb, integer),
    hxb_stripe_published(text, bigint[]) TO hxb_app;
