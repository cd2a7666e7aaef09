/*
 * orgs: organizations, their members and invitations.
 *
 *   POST   /api/v1/organizations			create; the caller is its admin
 *   GET    /api/v1/organizations			mine
 *   GET    /api/v1/organizations/{orgId}
 *   PATCH  /api/v1/organizations/{orgId}		admins
 *   DELETE /api/v1/organizations/{orgId}		admins; 409 while workspaces exist
 *   GET    /api/v1/organizations/{orgId}/users	members
 *   POST   /api/v1/organizations/{orgId}/users	admins: invite {email, role}
 *   PATCH  /api/v1/organizations/{orgId}/users/{userId}	admins: {role}
 *   DELETE /api/v1/organizations/{orgId}/users/{userId}	admins, or oneself
 *   POST   /api/v1/invitations/{token}/accept	the invited, signed in
 *
 * Every request is one transaction acting as the caller (tenant.h), so
 * row-level security holds whatever a route forgets.  A stranger to an
 * organization gets 404 for it, whatever the route.  The last admin can
 * be neither demoted nor removed: the admins' rows are locked first, so
 * two admins demoting each other at once cannot both succeed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit.h"
#include "auth.h"
#include "crypto.h"
#include "id.h"
#include "page.h"
#include "tenant.h"

#define DNS_LABEL	"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
#define INV_PREFIX	"hxbinv_"
#define INV_TOKEN	INV_PREFIX "[A-Za-z0-9_-]{43}"
#define INV_TTL		"7 days"

#define ORG_COLS \
	"o.id, o.name, o.display_name, o.is_personal, m.role, " \
	"o.created_at, o.updated_at"
#define ORG_FROM \
	" FROM organizations o JOIN organization_users m " \
	"ON m.organization_id = o.id AND m.user_id = hxb_actor() "

static const struct db_stmt st_org_insert = { "orgs_insert",
    "INSERT INTO organizations (id, name, display_name) VALUES ($1, $2, $3)",
    3 };
static const struct db_stmt st_org_claim = { "orgs_claim",
    "INSERT INTO organization_users (organization_id, user_id, role) "
    "VALUES ($1, hxb_actor(), 'admin')", 1 };
static const struct db_stmt st_org_get = { "orgs_get",
    "SELECT " ORG_COLS ORG_FROM "WHERE o.id = $1", 1 };
static const struct db_stmt st_org_list = { "orgs_list",
    "SELECT " ORG_COLS ORG_FROM "WHERE o.id > $1 ORDER BY o.id "
    "LIMIT $2::int", 2 };
static const struct db_stmt st_org_update = { "orgs_update",
    "UPDATE organizations SET name = coalesce($2, name), "
    "display_name = coalesce($3, display_name) WHERE id = $1", 3 };
static const struct db_stmt st_org_live_ws = { "orgs_live_ws",
    "SELECT count(*) FROM workspaces WHERE organization_id = $1 "
    "AND status <> 'deleted'", 1 };
static const struct db_stmt st_org_purge_ws = { "orgs_purge_ws",
    "DELETE FROM workspaces WHERE organization_id = $1 "
    "AND status = 'deleted'", 1 };
static const struct db_stmt st_org_delete = { "orgs_delete",
    "DELETE FROM organizations WHERE id = $1", 1 };
static const struct db_stmt st_org_member_ids = { "orgs_member_ids",
    "SELECT user_id FROM organization_users WHERE organization_id = $1 "
    "LIMIT 100000", 1 };

static const struct db_stmt st_members = { "orgs_members",
    "SELECT u.id, u.email, u.display_name, m.role, m.created_at "
    "FROM organization_users m JOIN users u ON u.id = m.user_id "
    "WHERE m.organization_id = $1 AND u.id > $2 ORDER BY u.id "
    "LIMIT $3::int", 3 };
static const struct db_stmt st_admins_lock = { "orgs_admins_lock",
    "SELECT pg_advisory_xact_lock(hashtextextended('admins ' || $1, 7))", 1 };
static const struct db_stmt st_admins = { "orgs_admins",
    "SELECT count(*) FROM organization_users WHERE organization_id = $1 "
    "AND role = 'admin'", 1 };
static const struct db_stmt st_member_role = { "orgs_member_role",
    "SELECT role FROM organization_users WHERE organization_id = $1 "
    "AND user_id = $2", 2 };
static const struct db_stmt st_member_set = { "orgs_member_set",
    "UPDATE organization_users SET role = $3 WHERE organization_id = $1 "
    "AND user_id = $2", 3 };
static const struct db_stmt st_member_groups_drop = { "orgs_member_groups",
    "DELETE FROM group_memberships g USING workspaces w "
    "WHERE w.id = g.workspace_id AND w.organization_id = $1 "
    "AND g.user_id = $2", 2 };
static const struct db_stmt st_member_drop = { "orgs_member_drop",
    "DELETE FROM organization_users WHERE organization_id = $1 "
    "AND user_id = $2", 2 };

static const struct db_stmt st_member_by_email = { "orgs_member_by_email",
    "SELECT 1 FROM organization_users m JOIN users u ON u.id = m.user_id "
    "WHERE m.organization_id = $1 AND lower(u.email) = lower($2)", 2 };
static const struct db_stmt st_inv_expire = { "orgs_inv_expire",
    "DELETE FROM invitations WHERE organization_id = $1 "
    "AND lower(email) = lower($2) AND accepted_at IS NULL "
    "AND expires_at <= now()", 2 };
static const struct db_stmt st_inv_insert = { "orgs_inv_insert",
    "INSERT INTO invitations (id, organization_id, email, role, token_hash, "
    "invited_by, expires_at) VALUES ($1, $2, $3, $4, decode($5, 'hex'), "
    "hxb_actor(), now() + interval '" INV_TTL "') "
    "RETURNING created_at, expires_at", 5 };
static const struct db_stmt st_inv_accept = { "orgs_inv_accept",
    "SELECT result, organization_id, role "
    "FROM hxb_invitation_accept(decode($1, 'hex'))", 1 };

enum org_field { ORG_NAME, ORG_DISPLAY };
static const struct field org_create_body[] = {
	[ORG_NAME] = { "name", FIELD_STRING, true, false, 1, 63, DNS_LABEL,
	    "a DNS label: lowercase letters, digits and '-', starting with "
	    "a letter" },
	[ORG_DISPLAY] = { "display_name", FIELD_STRING, false, true, 0, 200,
	    NULL, NULL },
	{ NULL },
};
static const struct field org_patch_body[] = {
	[ORG_NAME] = { "name", FIELD_STRING, false, false, 1, 63, DNS_LABEL,
	    "a DNS label: lowercase letters, digits and '-', starting with "
	    "a letter" },
	/* null, as on create: no display name. */
	[ORG_DISPLAY] = { "display_name", FIELD_STRING, false, true, 0, 200,
	    NULL, NULL },
	{ NULL },
};

enum invite_field { INV_EMAIL, INV_ROLE };
static const struct field invite_body[] = {
	[INV_EMAIL] = { "email", FIELD_STRING, true, false, 3, 254,
	    "[^@[:space:]]+@[^@[:space:]]+", "an email address" },
	[INV_ROLE] = { "role", FIELD_STRING, true, false, 1, 16,
	    "admin|member", "admin or member" },
	{ NULL },
};

static const struct field role_body[] = {
	{ "role", FIELD_STRING, true, false, 1, 16, "admin|member",
	    "admin or member" },
	{ NULL },
};

static void	 create_org(struct req *);
static void	 list_orgs(struct req *);
static void	 get_org(struct req *);
static void	 patch_org(struct req *);
static void	 delete_org(struct req *);
static void	 list_members(struct req *);
static void	 invite(struct req *);
static void	 patch_member(struct req *);
static void	 remove_member(struct req *);
static void	 accept_invitation(struct req *);

static const struct route routes[] = {
	{ HTTP_POST, "/api/v1/organizations", create_org, PERM_SIGNED_IN,
	    "create_org", org_create_body, NULL },
	{ HTTP_GET, "/api/v1/organizations", list_orgs, PERM_SIGNED_IN,
	    "list_orgs", NULL, page_query },
	{ HTTP_GET, "/api/v1/organizations/{orgId}", get_org, PERM_ORG_READ,
	    "get_org", NULL, NULL },
	{ HTTP_PATCH, "/api/v1/organizations/{orgId}", patch_org,
	    PERM_ORG_ADMIN, "patch_org", org_patch_body, NULL },
	{ HTTP_DELETE, "/api/v1/organizations/{orgId}", delete_org,
	    PERM_ORG_ADMIN, "delete_org", NULL, NULL },
	{ HTTP_GET, "/api/v1/organizations/{orgId}/users", list_members,
	    PERM_ORG_READ, "list_members", NULL, page_query },
	{ HTTP_POST, "/api/v1/organizations/{orgId}/users", invite,
	    PERM_ORG_ADMIN, "invite_member", invite_body, NULL },
	{ HTTP_PATCH, "/api/v1/organizations/{orgId}/users/{userId}",
	    patch_member, PERM_ORG_ADMIN, "patch_member", role_body, NULL },
	{ HTTP_DELETE, "/api/v1/organizations/{orgId}/users/{userId}",
	    remove_member, PERM_ORG_SELF, "remove_member", NULL, NULL },
	{ HTTP_POST, "/api/v1/invitations/{token}/accept", accept_invitation,
	    PERM_SIGNED_IN, "accept_invitation", NULL, NULL },
};

int
main(int argc, char **argv)
{
	return app_main("orgs", routes, sizeof(routes) / sizeof(routes[0]),
	    argc, argv);
}

/* ---- helpers ---------------------------------------------------------- */

static json_t *
org_json(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:o}",
	    "id", PQgetvalue(res, i, 0),
	    "name", PQgetvalue(res, i, 1),
	    "display_name", PQgetvalue(res, i, 2),
	    "is_personal", strcmp(PQgetvalue(res, i, 3), "t") == 0,
	    "role", PQgetvalue(res, i, 4),
	    "created_at", tenant_ts(res, i, 5),
	    "updated_at", tenant_ts(res, i, 6));
}

/* The organization as the caller sees it, or NULL (answered). */
static json_t *
org_read(struct req *r, const char *org_id)
{
	const char	*params[1] = { org_id };
	PGresult	*res;
	json_t		*o;

	if ((res = db_exec(&r->app->db, &st_org_get, params)) == NULL) {
		tenant_db_problem(r);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such organization");
		return NULL;
	}
	o = org_json(res, 0);
	PQclear(res);
	return o;
}

/*
 * Begin a request about {orgId}: authenticated, in the transaction, the
 * caller allowed by the route's permission.  A malformed id cannot
 * exist: 404.
 */
static const char *
org_begin(struct req *r, struct principal *p, enum org_role *role)
{
	const char	*org = http_param(r, "orgId");

	if (tenant_begin(r, p) != 0)
		return NULL;
	if (org == NULL || !id_valid(org, ID_ORG)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such organization");
		return NULL;
	}
	if ((*role = tenant_org(r, org)) == ORG_NONE) {
		tenant_end(r);
		return NULL;
	}
	return org;
}

/* ---- organizations ---------------------------------------------------- */

static void
create_org(struct req *r)
{
	struct principal	 p;
	char			 id[ID_BUFSZ];
	const char		*params[3];
	json_t			*o;
	int			 rc;

	if (tenant_begin(r, &p) != 0)
		return;
	if ((rc = tenant_idem_begin(r, p.user_id)) != 0) {
		tenant_end(r);
		return;
	}
	if (id_new(&r->app->ids, ID_ORG, id) != 0) {
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return;
	}
	params[0] = id;
	params[1] = r->body.str[ORG_NAME];
	params[2] = r->body.present[ORG_DISPLAY] ? r->body.str[ORG_DISPLAY] :
	    "";
	if (tenant_run(r, &st_org_insert, params) != 0 ||
	    tenant_run(r, &st_org_claim, params) != 0)
		return;
	http_set_resource(r, "organizations/%s", id);
	if ((o = org_read(r, id)) == NULL)
		return;
	if (tenant_audit(r, id, NULL, p.user_id, "organization.create", NULL,
	    o) != 0) {
		json_decref(o);
		return;
	}
	tenant_answer(r, 201, o);
	auth_user_changed(r->app, p.user_id);
}

static void
list_orgs(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	const char		*params[2];

	if (page_read(r, 50, &pg) != 0 || tenant_begin(r, &p) != 0)
		return;
	params[0] = pg.after;
	params[1] = pg.limit_str;
	tenant_list(r, &pg, &st_org_list, params, org_json);
}

static void
get_org(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org;
	json_t			*o;

	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	if ((o = org_read(r, org)) != NULL)
		tenant_answer(r, 200, o);
}

static void
patch_org(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org, *params[3];
	json_t			*before, *after;

	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	if (!r->body.present[ORG_NAME] && json_object_get(r->body_json,
	    "display_name") == NULL) {
		tenant_invalid(r, "", "give name or display_name",
		    "nothing to change");
		return;
	}
	if ((before = org_read(r, org)) == NULL)
		return;
	params[0] = org;
	params[1] = valid_str(&r->body, ORG_NAME);
	if (r->body.present[ORG_DISPLAY])
		params[2] = r->body.str[ORG_DISPLAY];
	else if (json_is_null(json_object_get(r->body_json, "display_name")))
		params[2] = "";
	else
		params[2] = NULL;
	if (tenant_run(r, &st_org_update, params) != 0 ||
	    (after = org_read(r, org)) == NULL) {
		json_decref(before);
		return;
	}
	if (tenant_audit(r, org, NULL, p.user_id, "organization.update",
	    before, after) != 0) {
		json_decref(before);
		json_decref(after);
		return;
	}
	json_decref(before);
	tenant_answer(r, 200, after);
}

static void
delete_org(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org, *params[1];
	PGresult		*res, *members;
	json_t			*before;
	int			 i;

	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	params[0] = org;
	if ((res = db_exec(&r->app->db, &st_org_live_ws, params)) == NULL) {
		tenant_db_problem(r);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
		http_problemf(r, PROBLEM_CONFLICT, "the organization still has "
		    "%s workspace(s); delete them first", PQgetvalue(res, 0, 0));
		PQclear(res);
		tenant_end(r);
		return;
	}
	PQclear(res);
	if ((before = org_read(r, org)) == NULL)
		return;
	if ((members = db_exec(&r->app->db, &st_org_member_ids, params)) ==
	    NULL) {
		json_decref(before);
		tenant_db_problem(r);
		return;
	}
	/* The record first: once the organization is gone, so is its admin. */
	if (tenant_audit(r, org, NULL, p.user_id, "organization.delete",
	    before, NULL) != 0 ||
	    tenant_run(r, &st_org_purge_ws, params) != 0 ||
	    tenant_run(r, &st_org_delete, params) != 0) {
		json_decref(before);
		PQclear(members);
		return;
	}
	json_decref(before);
	tenant_no_content(r);
	if (r->status == 204)
		for (i = 0; i < PQntuples(members); i++)
			auth_user_changed(r->app, PQgetvalue(members, i, 0));
	PQclear(members);
}

/* ---- members ---------------------------------------------------------- */

static json_t *
member_json(const PGresult *res, int i)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o}",
	    "user_id", PQgetvalue(res, i, 0),
	    "email", PQgetvalue(res, i, 1),
	    "name", PQgetvalue(res, i, 2),
	    "role", PQgetvalue(res, i, 3),
	    "joined_at", tenant_ts(res, i, 4));
}

static void
list_members(struct req *r)
{
	struct principal	 p;
	struct page		 pg;
	enum org_role		 role;
	const char		*org, *params[3];

	if (page_read(r, 50, &pg) != 0 ||
	    (org = org_begin(r, &p, &role)) == NULL)
		return;
	params[0] = org;
	params[1] = pg.after;
	params[2] = pg.limit_str;
	tenant_list(r, &pg, &st_members, params, member_json);
}

/*
 * Serialize changes to the organization's admins (a transaction-scoped
 * lock on it), count them and read the member's role.  Returns the number
 * of admins, with the role in *current, or -1 (answered: 404 for anybody
 * who is no member).
 */
static int
member_lock(struct req *r, const char *org, const char *user,
    char current[16])
{
	const char	*params[2] = { org, user };
	PGresult	*res;
	int		 admins;

	if (user == NULL || !id_valid(user, ID_USR)) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such member");
		return -1;
	}
	if ((res = db_exec(&r->app->db, &st_admins_lock, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	PQclear(res);
	if ((res = db_exec(&r->app->db, &st_admins, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	admins = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((res = db_exec(&r->app->db, &st_member_role, params)) == NULL) {
		tenant_db_problem(r);
		return -1;
	}
	snprintf(current, 16, "%s", PQntuples(res) == 1 ?
	    PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	if (*current == '\0') {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such member");
		return -1;
	}
	http_set_resource(r, "organizations/%s/users/%s", org, user);
	return admins;
}

static void
patch_member(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org, *user = http_param(r, "userId");
	const char		*want = r->body.str[0], *params[3];
	char			 current[16];
	json_t			*before, *after;
	int			 admins, rc;

	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	if ((admins = member_lock(r, org, user, current)) < 0)
		return;
	if (strcmp(current, "admin") == 0 && strcmp(want, "admin") != 0 &&
	    admins <= 1) {
		tenant_fail(r, PROBLEM_CONFLICT, "the organization's last "
		    "admin cannot be demoted; make another admin first");
		return;
	}
	params[0] = org;
	params[1] = user;
	params[2] = want;
	if (tenant_run(r, &st_member_set, params) != 0)
		return;
	before = json_pack("{s:s}", "role", current);
	after = json_pack("{s:s}", "role", want);
	rc = tenant_audit(r, org, NULL, p.user_id, "member.role", before,
	    after);
	json_decref(before);
	json_decref(after);
	if (rc != 0)
		return;
	tenant_answer(r, 200, json_pack("{s:s, s:s}", "user_id", user, "role",
	    want));
	auth_user_changed(r->app, user);
}

static void
remove_member(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org, *user = http_param(r, "userId");
	const char		*params[2];
	char			 current[16];
	json_t			*before;
	int			 admins, rc;

	/* Anyone may leave; only admins remove others. */
	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	if (role != ORG_ADMIN && (user == NULL || strcmp(user, p.user_id) != 0)) {
		tenant_fail(r, PROBLEM_FORBIDDEN, "only an organization admin "
		    "may remove others");
		return;
	}
	if ((admins = member_lock(r, org, user, current)) < 0)
		return;
	if (strcmp(current, "admin") == 0 && admins <= 1) {
		tenant_fail(r, PROBLEM_CONFLICT, "the organization's last "
		    "admin cannot be removed");
		return;
	}
	params[0] = org;
	params[1] = user;
	/* The record while the caller is still a member. */
	before = json_pack("{s:s}", "role", current);
	rc = tenant_audit(r, org, NULL, p.user_id, "member.remove", before,
	    NULL);
	json_decref(before);
	if (rc != 0 || tenant_run(r, &st_member_groups_drop, params) != 0 ||
	    tenant_run(r, &st_member_drop, params) != 0)
		return;
	tenant_no_content(r);
	if (r->status == 204)
		auth_user_changed(r->app, user);
}

/* ---- invitations ------------------------------------------------------ */

static void
invite(struct req *r)
{
	struct principal	 p;
	enum org_role		 role;
	const char		*org, *params[5];
	char			 id[ID_BUFSZ], token[64], hash[65];
	unsigned char		 rnd[32], md[CRYPTO_SHA256_LEN];
	struct buf		 b = BUF_INIT(128), hx = BUF_INIT(128);
	PGresult		*res;
	json_t			*o;
	int			 rc;

	if ((org = org_begin(r, &p, &role)) == NULL)
		return;
	if ((rc = tenant_idem_begin(r, p.user_id)) != 0) {
		tenant_end(r);
		return;
	}
	params[0] = org;
	params[1] = r->body.str[INV_EMAIL];
	if ((res = db_exec(&r->app->db, &st_member_by_email, params)) ==
	    NULL) {
		tenant_db_problem(r);
		return;
	}
	rc = PQntuples(res);
	PQclear(res);
	if (rc > 0) {
		tenant_fail(r, PROBLEM_CONFLICT, "that address is already a "
		    "member");
		return;
	}
	if (tenant_run(r, &st_inv_expire, params) != 0)
		return;
	if (id_new(&r->app->ids, ID_INV, id) != 0 ||
	    crypto_random(rnd, sizeof(rnd)) != 0) {
		tenant_fail(r, PROBLEM_INTERNAL, "no entropy");
		return;
	}
	buf_addstr(&b, INV_PREFIX);
	b64url_encode(&b, rnd, sizeof(rnd));
	snprintf(token, sizeof(token), "%s", buf_cstr(&b));
	buf_release(&b);
	crypto_sha256(token, strlen(token), md);
	crypto_hex(&hx, md, sizeof(md));
	snprintf(hash, sizeof(hash), "%s", buf_cstr(&hx));
	buf_release(&hx);
	params[0] = id;
	params[1] = org;
	params[2] = r->body.str[INV_EMAIL];
	params[3] = r->body.str[INV_ROLE];
	params[4] = hash;
	if ((res = db_exec(&r->app->db, &st_inv_insert, params)) == NULL) {
		if (db_is_sqlstate(&r->app->db, "23505")) {
			tenant_fail(r, PROBLEM_CONFLICT, "that address already "
			    "has a pending invitation");
		} else
			tenant_db_problem(r);
		return;
	}
	http_set_resource(r, "organizations/%s/invitations/%s", org, id);
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", id,
	    "organization_id", org, "email", r->body.str[INV_EMAIL],
	    "role", r->body.str[INV_ROLE], "created_at", tenant_ts(res, 0, 0),
	    "expires_at", tenant_ts(res, 0, 1));
	PQclear(res);
	/* The token is in the answer once; the record never holds it. */
	if (tenant_audit(r, org, NULL, p.user_id, "invitation.create", NULL,
	    o) != 0) {
		json_decref(o);
		return;
	}
	json_object_set_new(o, "token", json_string(token));
	tenant_answer(r, 201, o);
}

static void
accept_invitation(struct req *r)
{
	struct principal	 p;
	const char		*token = http_param(r, "token"), *params[1];
	unsigned char		 md[CRYPTO_SHA256_LEN];
	struct buf		 hx = BUF_INIT(128);
	PGresult		*res;
	const char		*result;
	char			 org[ID_BUFSZ], role[16];
	json_t			*after;
	int			 rc;
	size_t			 i, n = strlen(token);
	bool			 shaped = n == strlen(INV_PREFIX) + 43 &&
				    strncmp(token, INV_PREFIX,
				    strlen(INV_PREFIX)) == 0;

	for (i = strlen(INV_PREFIX); shaped && i < n; i++)
		if (!isalnum((unsigned char)token[i]) && token[i] != '-' &&
		    token[i] != '_')
			shaped = false;
	if (tenant_begin(r, &p) != 0)
		return;
	if (!shaped) {
		tenant_fail(r, PROBLEM_NOT_FOUND, "no such invitation");
		return;
	}
	crypto_sha256(token, n, md);
	crypto_hex(&hx, md, sizeof(md));
	params[0] = buf_cstr(&hx);
	res = db_exec(&r->app->db, &st_inv_accept, params);
	buf_release(&hx);
	if (res == NULL) {
		tenant_db_problem(r);
		return;
	}
	result = PQgetvalue(res, 0, 0);
	snprintf(org, sizeof(org), "%s", PQgetvalue(res, 0, 1));
	snprintf(role, sizeof(role), "%s", PQgetvalue(res, 0, 2));
	if (strcmp(result, "accepted") != 0) {
		if (strcmp(result, "used") == 0 || strcmp(result, "expired") ==
		    0)
			http_problemf(r, PROBLEM_GONE, "the invitation was "
			    "already %s", strcmp(result, "used") == 0 ?
			    "used" : "past its expiry");
		else if (strcmp(result, "mismatch") == 0)
			http_problem(r, PROBLEM_FORBIDDEN, "the invitation is "
			    "for another verified email address", NULL);
		else
			http_problem(r, PROBLEM_NOT_FOUND, "no such invitation",
			    NULL);
		PQclear(res);
		tenant_end(r);
		return;
	}
	PQclear(res);
	http_set_resource(r, "organizations/%s/users/%s", org, p.user_id);
	after = json_pack("{s:s}", "role", role);
	rc = tenant_audit(r, org, NULL, p.user_id, "invitation.accept", NULL,
	    after);
	json_decref(after);
	if (rc != 0)
		return;
	tenant_answer(r, 200, json_pack("{s:s, s:s, s:s}", "organization_id",
	    org, "user_id", p.user_id, "role", role));
	auth_user_changed(r->app, p.user_id);
}
