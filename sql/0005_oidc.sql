-- The OpenID Provider's part of the schema.

/*
 * A user's effective groups are a handful (a few dozen at most), not the
 * 1 000 rows the planner assumes of a set-returning function.  With that
 * guess, joining them to groups hashed every group in the table: 2.2 ms
 * with 10 000 groups in another workspace, against 0.04 ms by primary
 * key once the estimate is right.  This is for every query that joins
 * them, not only the one below.
 */
ALTER FUNCTION hxb_effective_groups(text, text) ROWS 10;
ALTER FUNCTION hxb_my_groups(text) ROWS 10;

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
    -- half the time of a SQL function, planned at every call).
    RETURN (SELECT coalesce(array_agg(g.name ORDER BY g.name), '{}')
            FROM hxb_my_groups(ws) m JOIN groups g ON g.id = m.group_id);
END $$;
REVOKE ALL ON FUNCTION hxb_my_group_names(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_my_group_names(text) TO hxb_app;
