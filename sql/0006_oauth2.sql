-- OAuth 2.0 clients of the OpenID Provider, and where a workspace's
-- cluster answers.

/*
 * The client a session was opened for, by /oauth2/authorize: NULL for a
 * sign-in to the platform itself (the web UI), 'hexabase-cli' for the
 * kubectl credential plugin (a first-party client: its refresh token is a
 * platform refresh token), or a workspace id for an off-the-shelf OIDC
 * client such as kubelogin, whose refresh token is good only at
 * /oauth2/token for that workspace.
 */
ALTER TABLE sessions ADD COLUMN client_id text
    CHECK (client_id IS NULL OR client_id = 'hexabase-cli' OR
           hxb_id_ok(client_id, 'ws-'));

/*
 * A running workspace's vCluster API server: its https URL (0003) and the
 * PEM CA that signs its certificate, written by the provisioning job,
 * handed out in kubeconfigs.  Never its admin credentials: those stay in
 * the host cluster's Secret.
 */
ALTER TABLE workspaces
    ADD COLUMN api_ca_pem text
        CHECK (api_ca_pem IS NULL OR (length(api_ca_pem) <= 65536 AND
               api_ca_pem LIKE '-----BEGIN CERTIFICATE-----%'));

/*
 * A workspace token's claims in one call, for the token endpoints: the
 * caller's effective groups there by name (hxb_my_group_names(), the one
 * definition), and only when there is one, the workspace's status and
 * the caller's email.  Definer's rights: a member with a group sees the
 * workspace anyway, so the status says nothing row-level security would
 * not; without a group nothing at all is said, and the caller asks
 * through row-level security whether the workspace is visible (403) or
 * not (404).  The token path reads the workspace once, not twice.
 */
CREATE FUNCTION hxb_ws_token_claims(ws text, OUT status text,
                                    OUT groups text[], OUT email text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path = public, pg_temp
AS $$
BEGIN
    groups := hxb_my_group_names(ws);
    IF cardinality(groups) > 0 THEN
        SELECT w.status INTO status FROM workspaces w WHERE w.id = ws;
        SELECT u.email INTO email FROM users u WHERE u.id = hxb_actor();
    END IF;
END $$;
REVOKE ALL ON FUNCTION hxb_ws_token_claims(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hxb_ws_token_claims(text) TO hxb_app;
