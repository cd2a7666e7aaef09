-- 0007_lifecycle: what the lifecycle jobs need.  Tasks get a lease, so
-- that one worker at a time runs one; requests carry their tier; the
-- jobs read a workspace's desired state in one call; and the answers of
-- the application plane (hexabase.app.workspace.*) are the one thing that
-- moves a workspace's state, through hxb_ws_answer().
--
-- The jobs connect as the owner (like jobs/migrate and jobs/rotate-keys):
-- they act for every tenant.  Nothing here is granted to hxb_app.

-- How long a plan's vCluster may take to become ready before its
-- onboarding fails.
ALTER TABLE plans ADD COLUMN provision_timeout_s integer NOT NULL
    DEFAULT 900 CHECK (provision_timeout_s BETWEEN 30 AND 86400);

/*
 * Whether a project's namespace takes ingress only from itself (the
 * default: a default-deny NetworkPolicy between projects), or from any
 * namespace.  What the vCluster is told, so a change enqueues the RBAC
 * sync like the other columns of 0004's trigger.
 */
ALTER TABLE projects ADD COLUMN network_isolated boolean NOT NULL
    DEFAULT true;
DROP TRIGGER projects_rbac_upd ON projects;
CREATE TRIGGER projects_rbac_upd AFTER UPDATE ON projects
    FOR EACH ROW WHEN ((OLD.workspace_id, OLD.name, OLD.parent_project_id,
                        OLD.quota, OLD.network_isolated)
                       IS DISTINCT FROM
                       (NEW.workspace_id, NEW.name, NEW.parent_project_id,
                        NEW.quota, NEW.network_isolated))
    EXECUTE FUNCTION hxb_rbac_changed();

-- The worker running a task, until when (renewed with every step and
-- in-progress ack).  A redelivered or republished request finds a live
-- lease of another worker and leaves the task to it.
ALTER TABLE tasks
    ADD COLUMN lease_owner text CHECK (length(lease_owner) <= 200),
    ADD COLUMN lease_until timestamptz;
CREATE INDEX tasks_stuck_idx ON tasks (updated_at)
    WHERE status IN ('pending', 'running');

/*
 * The subject of a request for a task type, and back.  The one table of
 * the control plane's requests (docs/EVENTS.md).
 */
CREATE FUNCTION hxb_task_subject(type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE type
        WHEN 'create_workspace' THEN 'hexabase.cp.workspace.onboarding'
        WHEN 'delete_workspace' THEN 'hexabase.cp.workspace.offboarding'
        WHEN 'update_workspace' THEN 'hexabase.cp.workspace.update'
        WHEN 'rbac_sync' THEN 'hexabase.cp.workspace.rbac_sync'
        WHEN 'suspend_workspace' THEN 'hexabase.cp.workspace.suspend'
        WHEN 'resume_workspace' THEN 'hexabase.cp.workspace.resume'
    END;

/*
 * Every request names its tier (seed 003's onboarding event): the plan
 * and its isolation (pool, bridge or silo), as they are when the request
 * is written.  Filled here, so that the handlers, the RBAC-sync trigger
 * and hxb_ws_request() need not each remember it.
 */
CREATE FUNCTION hxb_request_tier() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    tier jsonb;
BEGIN
    IF NEW.workspace_id IS NULL OR NEW.payload ? 'tier'
       OR NOT NEW.payload ? 'task_id' THEN
        RETURN NEW;
    END IF;
    SELECT jsonb_build_object('tier', p.id, 'isolation', p.isolation)
        INTO tier
        FROM workspaces w JOIN plans p ON p.id = w.plan_id
        WHERE w.id = NEW.workspace_id;
    IF tier IS NOT NULL THEN
        NEW.payload := NEW.payload || tier;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tasks_tier BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION hxb_request_tier();
CREATE TRIGGER outbox_tier BEFORE INSERT ON outbox
    FOR EACH ROW WHEN (NEW.subject LIKE 'hexabase.cp.%')
    EXECUTE FUNCTION hxb_request_tier();

/*
 * A request made by the platform rather than a person (billing's suspend
 * and resume, an operator): its task and outbox row, as a handler writes
 * them.  Returns the task id (for an RBAC sync, the workspace's one
 * pending sync, or NULL if the workspace takes none).  Not granted to
 * hxb_app.
 */
CREATE FUNCTION hxb_ws_request(ws text, kind text, spec jsonb DEFAULT '{}')
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    org text;
    task text := hxb_new_id('task-');
    rid text := coalesce(current_setting('hxb.request_id', true), '');
    payload jsonb;
BEGIN
    IF hxb_task_subject(kind) IS NULL THEN
        RAISE EXCEPTION 'unknown task type %', kind;
    END IF;
    SELECT w.organization_id INTO org FROM workspaces w WHERE w.id = ws;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no workspace %', ws;
    END IF;
    IF kind = 'rbac_sync' THEN
        -- One pending sync per workspace: join it.
        PERFORM hxb_rbac_sync(ws);
        SELECT t.id INTO task FROM tasks t WHERE t.workspace_id = ws
            AND t.type = 'rbac_sync' AND t.status = 'pending';
        RETURN task;
    END IF;
    payload := jsonb_build_object('task_id', task, 'type', kind,
        'organization_id', org, 'workspace_id', ws, 'request_id', rid,
        'spec', spec);
    INSERT INTO tasks (id, type, organization_id, workspace_id, payload,
                       request_id)
        VALUES (task, kind, org, ws, payload, rid);
    INSERT INTO outbox (organization_id, workspace_id, subject, payload)
        VALUES (org, ws, hxb_task_subject(kind), payload);
    RETURN task;
END $$;
REVOKE ALL ON FUNCTION hxb_ws_request(text, text, jsonb) FROM PUBLIC;

/*
 * A worker takes a task for one delivery of its request:
 *   'claimed'	  it is the worker's now (attempts counted, lease set);
 *   'exhausted'  claimed, but past max_attempts: the worker answers with
 *		  the failure and last_error;
 *   'busy'	  another worker's lease is live: leave it to that one;
 *   'done'	  finished already: a duplicate, acknowledge it;
 *   'unknown'	  no such task (its workspace is gone).
 */
CREATE FUNCTION hxb_task_claim(t text, worker text, lease_s integer,
    OUT outcome text, OUT attempts integer, OUT max_attempts integer,
    OUT last_error text)
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    k tasks;
BEGIN
    SELECT * INTO k FROM tasks WHERE id = t FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN;
    END IF;
    attempts := k.attempts;
    max_attempts := k.max_attempts;
    last_error := k.last_error;
    IF k.status NOT IN ('pending', 'running') THEN
        outcome := 'done';
        RETURN;
    END IF;
    IF k.lease_until > now() AND k.lease_owner IS DISTINCT FROM worker THEN
        outcome := 'busy';
        RETURN;
    END IF;
    attempts := k.attempts + 1;
    UPDATE tasks SET status = 'running', attempts = hxb_task_claim.attempts,
        started_at = coalesce(started_at, now()), lease_owner = worker,
        lease_until = now() + make_interval(secs => lease_s)
        WHERE id = t;
    outcome := CASE WHEN attempts > max_attempts THEN 'exhausted'
                    ELSE 'claimed' END;
END $$;

/*
 * Progress of the worker holding the lease: the step it is in, a
 * percentage, a renewed lease and, if given, a note for last_error (what
 * it is waiting out).  False if the lease is no longer its own (it ran
 * out and another worker took the task): stop.
 */
CREATE FUNCTION hxb_task_progress(t text, worker text, step text,
    progress integer, lease_s integer, note text DEFAULT NULL)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE tasks SET step = left(hxb_task_progress.step, 100),
        progress = greatest(0, least(99, hxb_task_progress.progress)),
        lease_until = now() + make_interval(secs => lease_s),
        last_error = coalesce(left(note, 2000), last_error)
        WHERE id = t AND status = 'running' AND lease_owner = worker;
    RETURN FOUND;
END $$;

/*
 * A failed attempt that will be retried: its error, and the lease given
 * up so that the redelivery may take it at once.
 */
CREATE FUNCTION hxb_task_retry(t text, worker text, err text)
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
BEGIN
    UPDATE tasks SET last_error = left(err, 2000), lease_until = now()
        WHERE id = t AND status = 'running' AND lease_owner = worker;
    RETURN FOUND;
END $$;

/*
 * The state a workspace's vCluster should hold, in one document:
 *
 *   {"workspace": {id, organization_id, name, status, api_endpoint,
 *		    plan: {id, isolation, cpu_millicores, memory_mib,
 *			   storage_gib, max_pods, max_services, max_pvcs,
 *			   provision_timeout_s}},
 *    "cluster_roles": {"hexabase:workspace-admin": [group, ...], ...},
 *    "projects": [{id, name, parent_id, parent_name, quota,
 *		    network_isolated,
 *		    "roles": [{name, rules, from}],
 *		    "bindings": [{id, kind, role, groups, from}]}]}
 *
 * Group names are sorted.  A project holds its own roles and role
 * assignments and, as HNC did, those of its ancestors ("from" names the
 * project they come from, null for its own): a role of an ancestor is
 * named "<ancestor>.<role>", which no role's own name (a DNS label) can
 * be.  NULL if there is no such workspace.
 */
CREATE FUNCTION hxb_ws_desired(ws text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path = public, pg_temp
BEGIN ATOMIC
    WITH RECURSIVE anc(project_id, ancestor_id, depth) AS (
        SELECT p.id, p.id, 0 FROM projects p WHERE p.workspace_id = ws
        UNION ALL
        SELECT a.project_id, p.parent_project_id, a.depth + 1
        FROM anc a JOIN projects p ON p.id = a.ancestor_id
        WHERE p.parent_project_id IS NOT NULL AND a.depth < 64
    )
    SELECT jsonb_build_object(
        'workspace', jsonb_build_object(
            'id', w.id, 'organization_id', w.organization_id,
            'name', w.name, 'status', w.status,
            'api_endpoint', w.api_endpoint,
            'plan', jsonb_build_object(
                'id', pl.id, 'isolation', pl.isolation,
                'cpu_millicores', pl.cpu_millicores,
                'memory_mib', pl.memory_mib,
                'storage_gib', pl.storage_gib, 'max_pods', pl.max_pods,
                'max_services', pl.max_services, 'max_pvcs', pl.max_pvcs,
                'provision_timeout_s', pl.provision_timeout_s)),
        'cluster_roles', coalesce((
            SELECT jsonb_object_agg(c.cluster_role, c.names)
            FROM (SELECT cra.cluster_role,
                         jsonb_agg(DISTINCT g.name ORDER BY g.name) AS names
                  FROM cluster_role_assignments cra
                  JOIN groups g ON g.id = cra.group_id
                  WHERE cra.workspace_id = ws
                  GROUP BY cra.cluster_role) c), '{}'::jsonb),
        'projects', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'id', p.id, 'name', p.name,
                'parent_id', p.parent_project_id,
                'parent_name', pp.name, 'quota', p.quota,
                'network_isolated', p.network_isolated,
                'roles', coalesce((
                    SELECT jsonb_agg(jsonb_build_object(
                        'name', CASE WHEN a.depth = 0 THEN r.name
                                     ELSE ap.name || '.' || r.name END,
                        'rules', r.rules,
                        'from', CASE WHEN a.depth = 0 THEN NULL
                                     ELSE ap.id END)
                        ORDER BY a.depth, r.name)
                    FROM anc a JOIN roles r ON r.project_id = a.ancestor_id
                    JOIN projects ap ON ap.id = a.ancestor_id
                    WHERE a.project_id = p.id), '[]'::jsonb),
                'bindings', coalesce((
                    SELECT jsonb_agg(jsonb_build_object(
                        'id', ra.id,
                        'kind', CASE WHEN ra.preset IS NULL THEN 'Role'
                                     ELSE 'ClusterRole' END,
                        'role', CASE WHEN ra.preset IS NOT NULL
                                     THEN ra.preset
                                     WHEN a.depth = 0 THEN r.name
                                     ELSE ap.name || '.' || r.name END,
                        'groups', jsonb_build_array(g.name),
                        'from', CASE WHEN a.depth = 0 THEN NULL
                                     ELSE ap.id END)
                        ORDER BY ra.id)
                    FROM anc a
                    JOIN role_assignments ra ON ra.project_id = a.ancestor_id
                    JOIN groups g ON g.id = ra.group_id
                    JOIN projects ap ON ap.id = a.ancestor_id
                    LEFT JOIN roles r ON r.id = ra.role_id
                    WHERE a.project_id = p.id), '[]'::jsonb))
                ORDER BY p.name)
            FROM projects p
            LEFT JOIN projects pp ON pp.id = p.parent_project_id
            WHERE p.workspace_id = ws), '[]'::jsonb))
    FROM workspaces w JOIN plans pl ON pl.id = w.plan_id
    WHERE w.id = ws;
END;

/*
 * An answer of the application plane, applied: the one way a
 * workspace's state moves.  `ev` is the answer's payload:
 *
 *   {"event": "provisioned", "task_id", "workspace_id",
 *    "api_endpoint"?, "api_ca_pem"?, "error"?}
 *
 * Events and what they move (only from the states named; anything else
 * leaves the workspace as it is):
 *
 *   provisioning	    workspace pending -> provisioning
 *   provisioned	    task succeeded; pending|provisioning -> running,
 *			    with its API endpoint and CA
 *   provision_failed	    task failed; pending|provisioning -> failed
 *   deprovisioned	    task succeeded; deleting -> deleted
 *   suspended, resumed	    task succeeded; running <-> suspended
 *   updated, synced	    task succeeded
 *   *_failed		    task failed, with the error; the workspace keeps
 *			    its state and takes the error as its reason
 *
 * Returns 'applied', 'duplicate' (the task had finished: an answer seen
 * before) or 'unknown' (no such task, or not of that workspace); an
 * event not in the list above is an error.  Each
 * state change writes its audit row in the same transaction.
 */
CREATE FUNCTION hxb_ws_answer(ev jsonb) RETURNS text
    LANGUAGE plpgsql VOLATILE
    SET search_path = public, pg_temp
AS $$
DECLARE
    e text := ev->>'event';
    k tasks;
    w workspaces;
    err text := left(coalesce(ev->>'error', ''), 1000);
    ok boolean;
    next text;
BEGIN
    ok := e IN ('provisioned', 'deprovisioned', 'updated', 'synced',
                'suspended', 'resumed');
    IF NOT ok AND e NOT IN ('provisioning', 'provision_failed',
        'deprovision_failed', 'update_failed', 'sync_failed',
        'suspend_failed', 'resume_failed') OR e IS NULL THEN
        RAISE EXCEPTION 'unknown answer %', e;
    END IF;
    SELECT * INTO k FROM tasks WHERE id = ev->>'task_id' FOR UPDATE;
    IF NOT FOUND OR k.workspace_id IS DISTINCT FROM ev->>'workspace_id' THEN
        RETURN 'unknown';
    END IF;
    SELECT * INTO w FROM workspaces WHERE id = k.workspace_id FOR UPDATE;
    IF e = 'provisioning' THEN
        IF k.status NOT IN ('pending', 'running') THEN
            RETURN 'duplicate';
        END IF;
        UPDATE workspaces SET status = 'provisioning', status_reason = ''
            WHERE id = w.id AND status = 'pending';
        RETURN 'applied';
    END IF;
    IF k.status NOT IN ('pending', 'running') THEN
        RETURN 'duplicate';
    END IF;
    UPDATE tasks SET status = CASE WHEN ok THEN 'succeeded' ELSE 'failed' END,
        progress = CASE WHEN ok THEN 100 ELSE progress END,
        step = CASE WHEN ok THEN 'done' ELSE step END,
        last_error = CASE WHEN ok THEN last_error ELSE err END,
        finished_at = now(), lease_owner = NULL, lease_until = NULL
        WHERE id = k.id;
    next := CASE
        WHEN e = 'provisioned' AND w.status IN ('pending', 'provisioning')
            THEN 'running'
        WHEN e = 'provision_failed' AND w.status IN ('pending', 'provisioning')
            THEN 'failed'
        WHEN e = 'deprovisioned' AND w.status = 'deleting' THEN 'deleted'
        WHEN e = 'suspended' AND w.status = 'running' THEN 'suspended'
        WHEN e = 'resumed' AND w.status = 'suspended' THEN 'running'
    END;
    IF next IS NOT NULL THEN
        UPDATE workspaces SET status = next,
            status_reason = CASE WHEN ok THEN '' ELSE err END,
            api_endpoint = CASE WHEN e = 'provisioned'
                                THEN ev->>'api_endpoint'
                                ELSE api_endpoint END,
            api_ca_pem = CASE WHEN e = 'provisioned'
                              THEN ev->>'api_ca_pem'
                              ELSE api_ca_pem END,
            deleted_at = CASE WHEN next = 'deleted' THEN now()
                              ELSE deleted_at END
            WHERE id = w.id;
        INSERT INTO audit_log (organization_id, workspace_id, action,
                               resource, result, before, after, request_id)
            VALUES (w.organization_id, w.id, 'workspace.' || e,
                    'workspaces/' || w.id,
                    CASE WHEN ok THEN 'success' ELSE 'failure' END,
                    jsonb_build_object('status', w.status),
                    jsonb_strip_nulls(jsonb_build_object('status', next,
                        'task_id', k.id, 'error', nullif(err, ''))),
                    k.request_id);
    ELSIF NOT ok THEN
        UPDATE workspaces SET status_reason = err WHERE id = w.id;
    END IF;
    RETURN 'applied';
END $$;
