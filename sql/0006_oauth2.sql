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
