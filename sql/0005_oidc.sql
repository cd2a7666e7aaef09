-- The OpenID Provider's part of the schema.

/*
 * The acting user's effective groups in a workspace, by name, sorted: the
 * "groups" claim of a workspace token.  Definer's rights, as
 * hxb_my_groups(), which it reads through hxb_effective_groups(), the one
 * definition: only the caller's own groups, and only in a workspace of an
 * organization they belong to (else an empty array).  Row-level security
 * would otherwise be judged again for every group of the hierarchy, five
 * times the work for a chain of ten.
 */
CREATE FUNCTION hxb_my_group_names(ws text) RETURNS text[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: its plan is kept for the session (less than
    -- half the time of a SQL function, planned at every call).  The ids
    -- go in as an array, so each is one probe of the primary key: joined
    -- to the function (estimated at 1 000 rows), the planner would hash
    -- all groups, 1.8 ms with 10 000 of them against 0.1.
    RETURN (SELECT coalesce(array_agg(g.name ORDER BY g.name), '{}')
            FROM groups g
            WHERE g.id = ANY (ARRAY(SELECT m.group_id
                                    FROM hxb_my_groups(ws) m)));
END $$;
REVOKE ALL ON FUNCTION hxb_my_group_names(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_my_group_names(text) TO hxb_app;
